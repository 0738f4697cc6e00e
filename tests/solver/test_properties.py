"""Property tests on generated instances (synthetic Euclidean matrix, 30 km square, 50 km/h).

1. every plan the solver returns passes the checker (which accounts for each request exactly once);
2. "infeasible alone" is confirmed by the solver on the request alone, and "feasible alone"
   (DISPLACED) by a witness route that passes the checker and by the solver serving it alone;
3. perturbing one visit time: the checker flags the plan unless an independent, simple
   recomputation finds it still valid.
"""

from __future__ import annotations

import dataclasses
import importlib.util

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dispatcher.model import Plan, Problem, Reason, Rejection, Route, SolverParams
from dispatcher.solver.checker import check_plan
from dispatcher.solver.explain import alone_report, alone_route, explain_rejections
from tests.solver.strategies import problems

HAS_SOLVER = importlib.util.find_spec("dispatcher.solver.routing") is not None
needs_solver = pytest.mark.skipif(
    not HAS_SOLVER, reason="dispatcher.solver.routing not available yet"
)
FAST = SolverParams(time_limit_s=1.0, solution_limit=50)
SETTINGS = settings(
    max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)


def _solve(problem: Problem) -> Plan:
    from dispatcher.solver.routing import solve

    return solve(problem, FAST)


def only(problem: Problem, rid: str) -> Problem:
    return dataclasses.replace(problem, requests=(problem.request(rid),))


# ---- 1. solver plans pass the checker ----------------------------------------------------------


@needs_solver
@SETTINGS
@given(problems())
def test_solver_plans_pass_the_checker(problem: Problem) -> None:
    plan = _solve(problem)
    report = check_plan(problem, plan)
    assert report.ok, report.summary()
    ids = plan.served_ids + plan.refused_ids
    assert sorted(ids) == sorted(r.id for r in problem.requests)
    # the solver's reasons are the explainer's
    expected = {j.request_id: j.reason for j in explain_rejections(problem, plan.refused_ids, plan)}
    assert {j.request_id: j.reason for j in plan.rejections} == expected


# ---- 2. explanations are correct -----------------------------------------------------------------


@SETTINGS
@given(problems(max_requests=4))
def test_feasible_alone_has_a_witness_the_checker_accepts(problem: Problem) -> None:
    for r in problem.requests:
        rep = alone_report(problem, r)
        if not rep.feasible:
            # no vehicle gives a witness either (same timing; the real cross-check is the solver
            # below)
            assert all(alone_route(problem, r, v) is None for v in problem.vehicles)
            continue
        alone = only(problem, r.id)
        for vid in rep.vehicles:
            by_vehicle = rep.details["by_vehicle"]
            assert isinstance(by_vehicle, dict)
            lo, hi = by_vehicle[vid]
            for p in {lo, hi}:
                route = alone_route(problem, r, problem.vehicle(vid), p)
                assert route is not None, (r.id, vid, p)
                report = check_plan(alone, Plan((route,)))
                assert report.ok, report.summary()


@needs_solver
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(problems(max_requests=3))
def test_explanations_agree_with_the_solver_alone(problem: Problem) -> None:
    for r in problem.requests:
        rep = alone_report(problem, r)
        alone = only(problem, r.id)
        plan = _solve(alone)
        assert check_plan(alone, plan).ok
        if rep.feasible:
            assert plan.served_ids == [r.id], (
                f"{r.id} is feasible alone on {rep.vehicles} but the solver refused it"
            )
        else:
            assert plan.refused_ids == [r.id], (
                f"{r.id} explained as {rep.reason} but the solver served it"
            )


# ---- 3. mutation property ---------------------------------------------------------------------


def simple_valid(problem: Problem, route: Route) -> bool:
    """An independent, simple recomputation of the timing of one route without breaks."""
    v = problem.vehicle(route.vehicle_id)
    sh = problem.rules.service_hours
    reqs = {r.id: r for r in problem.requests}
    t, loc = route.start_s, v.start
    if t < v.shift.start_s:
        return False
    pick_end: dict[str, int] = {}
    for vis in route.visits:
        r = reqs[vis.request_id]
        if (
            vis.arrival_s < t + problem.travel_s(loc, vis.location_id)
            or vis.start_s < vis.arrival_s
        ):
            return False
        tw = problem.pickup_tw(r) if vis.kind == "pickup" else problem.dropoff_tw(r)
        if not (tw.contains(vis.start_s) and sh.contains(vis.start_s)):
            return False
        svc = problem.boarding_s(r) if vis.kind == "pickup" else problem.alighting_s(r)
        if vis.departure_s != vis.start_s + svc:
            return False
        if vis.kind == "pickup":
            pick_end[r.id] = vis.departure_s
        else:
            ride = vis.start_s - pick_end[r.id]
            if ride > problem.max_ride_s(r) or vis.ride_time_s != ride:
                return False
        t, loc = vis.departure_s, vis.location_id
    return route.end_s >= t + problem.travel_s(loc, v.end) and route.end_s <= v.shift.end_s


def perturb(route: Route, i: int, k: int) -> Route:
    """Move visit i's service (start and departure) by k seconds, keeping the reported ride
    times consistent with the new times (so that only real constraints can break)."""
    visits = list(route.visits)
    vis = visits[i]
    visits[i] = dataclasses.replace(vis, start_s=vis.start_s + k, departure_s=vis.departure_s + k)
    pick_end = {v.request_id: v.departure_s for v in visits if v.kind == "pickup"}
    visits = [
        dataclasses.replace(v, ride_time_s=v.start_s - pick_end[v.request_id])
        if v.kind == "dropoff"
        else v
        for v in visits
    ]
    return dataclasses.replace(route, visits=tuple(visits))


def _check_mutations(problem: Problem, plan: Plan, data: st.DataObject) -> None:
    routes = [r for r in plan.routes if r.visits and not r.breaks]
    assume(routes)
    route = data.draw(st.sampled_from(routes))
    k_route = plan.routes.index(route)
    i = data.draw(st.integers(0, len(route.visits) - 1))
    k = data.draw(st.sampled_from([-600, -60, -1, 1, 60, 600]))
    mutated = perturb(route, i, k)
    new_plan = dataclasses.replace(
        plan, routes=plan.routes[:k_route] + (mutated,) + plan.routes[k_route + 1 :]
    )
    assert simple_valid(problem, route)
    report = check_plan(problem, new_plan)
    assert report.ok == simple_valid(problem, mutated), report.summary()


@SETTINGS
@given(problems(max_requests=4), st.data())
def test_checker_flags_perturbed_witness_routes(problem: Problem, data: st.DataObject) -> None:
    routes = []
    refused = []
    for r in problem.requests:
        rep = alone_report(problem, r)
        v = next((problem.vehicle(x) for x in rep.vehicles if not problem.vehicle(x).breaks), None)
        route = (
            alone_route(problem, r, v)
            if v is not None and v.id not in {x.vehicle_id for x in routes}
            else None
        )
        if route is None:
            refused.append(Rejection(r.id, rep.refusal_reason, ""))
        else:
            routes.append(route)
    plan = Plan(tuple(routes), tuple(refused))
    assert check_plan(problem, plan).ok
    _check_mutations(problem, plan, data)


@needs_solver
@SETTINGS
@given(problems(), st.data())
def test_checker_flags_perturbed_solver_plans(problem: Problem, data: st.DataObject) -> None:
    plan = _solve(problem)
    assert check_plan(problem, plan).ok
    _check_mutations(problem, plan, data)


def test_reason_values_are_the_models() -> None:
    assert {r.value for r in Reason} >= {"displaced", "shift_too_short"}
