"""The search options around the OR-Tools model: a portfolio of first-solution heuristics, the
re-insertion of refused requests after the search, and the model variants measured in the
benchmarks. Every plan is judged by the independent checker."""

from __future__ import annotations

import pytest

from dispatcher.model import Plan, Problem, Request, SolverParams, SolveStatus, TimeWindow, Vehicle
from dispatcher.solver.checker import check_plan
from dispatcher.solver.routing import OrToolsSolver, SearchOptions, _reinsert
from tests.solver.test_routing import BUS, H, problem, pw

THREE = ("PARALLEL_CHEAPEST_INSERTION", "LOCAL_CHEAPEST_INSERTION", "PATH_CHEAPEST_ARC")


def day() -> Problem:
    """Six trips along the line for two buses: every one can be served."""
    reqs = [
        Request("r1", "A", "C", pickup_window=pw(8)),
        Request("r2", "B", "E", pickup_window=pw(8)),
        Request("r3", "E", "A", pickup_window=pw(9)),
        Request("r4", "C", "B", pickup_window=pw(9)),
        Request("r5", "F", "D", pickup_window=pw(10)),
        Request("r6", "A", "F", pickup_window=pw(8, 30)),
    ]
    bus2 = Vehicle("bus2", "D", "D", TimeWindow(7 * H, 12 * H), seats=8)
    return problem(reqs, [BUS, bus2])


def served(plan: Plan) -> set[str]:
    return {v.request_id for r in plan.routes for v in r.visits}


def test_portfolio_runs_every_heuristic_and_keeps_a_valid_plan() -> None:
    p = day()
    opts = SearchOptions(portfolio=THREE, portfolio_min_s=0.0)
    plan = OrToolsSolver(SolverParams(time_limit_s=1.5), opts).solve(p)
    report = check_plan(p, plan)
    assert report.ok, report.summary()
    assert served(plan) == {r.id for r in p.requests}
    # the status names the heuristic whose plan won
    assert plan.stats.status is SolveStatus.SOLVED
    assert any(plan.stats.status_detail.endswith(name) for name in THREE), plan.stats.status_detail


def test_portfolio_is_skipped_for_short_limits() -> None:
    p = day()
    plan = OrToolsSolver(SolverParams(time_limit_s=1.0, solution_limit=100), SearchOptions(portfolio_min_s=5.0)).solve(p)
    assert check_plan(p, plan).ok
    assert not any(plan.stats.status_detail.endswith(name) for name in THREE)


def test_portfolio_never_worse_than_its_first_heuristic_alone() -> None:
    # the first heuristic's search is part of the portfolio; with a solution limit each search
    # is deterministic, so the portfolio's objective is at most the single search's
    p = day()
    params = SolverParams(time_limit_s=30.0, solution_limit=30)
    alone = OrToolsSolver(params, SearchOptions(portfolio=())).solve(p)
    both = OrToolsSolver(params, SearchOptions(portfolio=THREE, portfolio_min_s=0.0)).solve(p)
    assert both.stats.objective <= alone.stats.objective + 1e-9


def test_reinsert_puts_a_left_out_request_back_into_the_plan() -> None:
    p = day()
    plan = OrToolsSolver(SolverParams(time_limit_s=1.0, solution_limit=100), SearchOptions(reinsert=False)).solve(p)
    assert served(plan) == {r.id for r in p.requests}
    # take r3 out of its route (re-timed by removing it), as if the search had left it out
    from dispatcher.solver.insertion import remove_from_plan

    without = remove_from_plan(p, plan, "r3")
    assert "r3" not in served(without)
    routes, left, objective = _reinsert(p, list(without.routes), ["r3"], 100.0 + p.weights.refusal_penalty)
    assert left == []
    back = Plan(routes=tuple(routes))
    assert "r3" in served(back)
    assert check_plan(p, back).ok
    assert objective < p.weights.refusal_penalty  # the refusal penalty is gone from the objective


def test_reinsert_leaves_what_cannot_fit() -> None:
    # one bus, two trips at the same time in opposite directions 20 km apart: only one fits
    reqs = [Request("a", "A", "G", pickup_window=pw(8, 5)), Request("b", "G", "A", pickup_window=pw(8, 5))]
    p = problem(reqs, [BUS])
    plan = OrToolsSolver(SolverParams(time_limit_s=1.0, solution_limit=100)).solve(p)
    assert check_plan(p, plan).ok
    assert len(served(plan)) == 1
    assert len(plan.rejections) == 1


@pytest.mark.parametrize(
    "opts",
    [
        SearchOptions(pair_disjunction=True),
        SearchOptions(hard_ride=False),
        SearchOptions(hard_pairs=False),
        SearchOptions(gls_lambda=0.3, full_propagation=True, lns=True),
        SearchOptions(first_solution="LOCAL_CHEAPEST_INSERTION", neighbors_ratio=0.5, min_neighbors=3),
    ],
)
def test_model_variants_give_valid_plans(opts: SearchOptions) -> None:
    p = day()
    plan = OrToolsSolver(SolverParams(time_limit_s=1.0, solution_limit=100), opts).solve(p)
    report = check_plan(p, plan)
    assert report.ok, report.summary()
    assert served(plan) == {r.id for r in p.requests}


def test_eliminate_routes_moves_a_lone_request_onto_another_bus() -> None:
    from dispatcher.solver.improve import eliminate_routes, plan_cost_eur
    from dispatcher.solver.schedule import schedule_route

    r1 = Request("r1", "A", "C", pickup_window=pw(8))
    r2 = Request("r2", "B", "E", pickup_window=pw(8))
    a = Vehicle("a", "D", "D", TimeWindow(7 * H, 12 * H), seats=8, fixed_cost=50.0)
    b = Vehicle("b", "D", "D", TimeWindow(7 * H, 12 * H), seats=8, fixed_cost=50.0)
    p = problem([r1, r2], [a, b])
    ra = schedule_route(p, a, [(r1, "pickup"), (r1, "dropoff")])
    rb = schedule_route(p, b, [(r2, "pickup"), (r2, "dropoff")])
    assert ra is not None and rb is not None
    routes, gone = eliminate_routes(p, [ra, rb])
    assert gone == 1
    assert len([r for r in routes if r.visits]) == 1
    plan = Plan(routes=tuple(routes))
    assert check_plan(p, plan).ok
    assert served(plan) == {"r1", "r2"}
    assert plan_cost_eur(p, routes) < plan_cost_eur(p, [ra, rb])


def test_eliminate_routes_keeps_routes_whose_requests_fit_nowhere_else() -> None:
    from dispatcher.solver.improve import eliminate_routes
    from dispatcher.solver.schedule import schedule_route

    ra_req = Request("a", "A", "G", pickup_window=pw(8, 5))
    rb_req = Request("b", "G", "A", pickup_window=pw(8, 5))
    va = Vehicle("va", "D", "D", TimeWindow(7 * H, 12 * H), seats=8, fixed_cost=50.0)
    vb = Vehicle("vb", "D", "D", TimeWindow(7 * H, 12 * H), seats=8, fixed_cost=50.0)
    p = problem([ra_req, rb_req], [va, vb])
    ra = schedule_route(p, va, [(ra_req, "pickup"), (ra_req, "dropoff")])
    rb = schedule_route(p, vb, [(rb_req, "pickup"), (rb_req, "dropoff")])
    assert ra is not None and rb is not None
    routes, gone = eliminate_routes(p, [ra, rb])
    assert gone == 0
    assert served(Plan(routes=tuple(routes))) == {"a", "b"}
