"""Pins and drivers' breaks together in the ALNS layer: a live day whose vehicles have breaks
runs through the layer, and what it re-inserts exactly afterwards keeps each pinned request on
its vehicle (as the OR-Tools model's pins do)."""

from __future__ import annotations

import dataclasses
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatcher.model import Plan, Problem, SolverParams, TimeWindow
from dispatcher.solver import alns
from dispatcher.solver.alns_kernels import HAVE_NUMBA
from dispatcher.solver.checker import check_plan
from dispatcher.solver.insertion import find_insertion
from dispatcher.solver.reoptimise import reoptimise
from dispatcher.solver.repair import reinsert
from dispatcher.solver.routing import OrToolsSolver, SearchOptions
from tests.solver.strategies import linked_problems, problems
from tests.solver.test_node_model import _day

needs_numba = pytest.mark.skipif(not HAVE_NUMBA, reason="the ALNS layer only runs with numba")
H = 3600


def _live(problem: Problem, rnd: random.Random) -> tuple[Problem, Plan, dict[str, str]] | None:
    """A first plan of the day, its served requests made as good as mandatory, and some of them
    pinned to the vehicle that serves them (None if nothing is served)."""
    first = OrToolsSolver(SolverParams(time_limit_s=0.0)).solve(problem)
    served = sorted({(v.request_id, rt.vehicle_id) for rt in first.routes for v in rt.visits})
    if not served:
        return None
    ids = {rid for rid, _ in served}
    problem = dataclasses.replace(
        problem,
        requests=tuple(
            dataclasses.replace(r, priority=1000) for r in problem.requests if r.id in ids
        ),
    )
    pinned = dict(rnd.sample(served, rnd.randint(1, len(served))))
    return problem, first, pinned


def _on(plan: Plan) -> dict[str, str]:
    return {v.request_id: rt.vehicle_id for rt in plan.routes for v in rt.visits}


def _kept(plan: Plan, pinned: dict[str, str]) -> bool:
    """Every pinned request that the plan serves is on its vehicle."""
    on = _on(plan)
    return all(on[rid] == vid for rid, vid in pinned.items() if rid in on)


@needs_numba
@given(
    st.one_of(problems(max_requests=7, max_vehicles=3), linked_problems(max_outbounds=3)),
    st.randoms(use_true_random=False),
    st.booleans(),
)
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_a_live_day_with_breaks_and_pins_runs_through_the_layer_and_keeps_the_pins(
    problem: Problem, rnd: random.Random, by_count: bool
) -> None:
    """Initial routes and pins on a day whose vehicles have breaks: the ALNS layer runs (it did
    not before: the re-insertion after it knew no pins), the plan passes the checker, and every
    pinned request that is served is on its vehicle."""
    if not any(v.breaks for v in problem.vehicles):
        return
    alns.warm_up()
    live = _live(problem, rnd)
    if live is None:
        return
    problem, first, pinned = live
    initial = {rt.vehicle_id: [(v.request_id, v.kind) for v in rt.visits] for rt in first.routes}
    if by_count:
        params = SolverParams(time_limit_s=30.0, solution_limit=20, seed=rnd.randint(0, 3))
        options = SearchOptions(alns_min_s=0.0, alns_iterations=40)
    else:
        params, options = SolverParams(time_limit_s=0.5), SearchOptions(alns_min_s=0.0)
    solver = OrToolsSolver(params, options)
    plan = solver.solve(problem, initial_routes=initial, pinned=pinned)
    report = check_plan(problem, plan)
    assert report.ok, report.summary()
    assert _kept(plan, pinned), (pinned, _on(plan))
    if plan.routes and "ALNS_NOT_READY" not in plan.stats.status_detail:
        assert solver.trace.alns_iterations > 0


@needs_numba
@pytest.mark.parametrize("seed", range(4))
def test_the_layer_runs_on_a_live_day_with_breaks(seed: int) -> None:
    """A day with breaks, its first plan's routes as initial routes and each route's first
    request pinned: the ALNS layer runs its 60 iterations (before, a day with pins and breaks
    skipped it: 0), and the plan keeps the pins and passes the checker."""
    alns.warm_up()
    problem = _day(seed, breaks=True)
    live = _live(problem, random.Random(seed))
    assert live is not None
    problem, first, _ = live
    pinned = {rt.visits[0].request_id: rt.vehicle_id for rt in first.routes}
    initial = {rt.vehicle_id: [(v.request_id, v.kind) for v in rt.visits] for rt in first.routes}
    solver = OrToolsSolver(
        SolverParams(time_limit_s=30.0, solution_limit=30, seed=seed),
        SearchOptions(alns_min_s=0.0, alns_iterations=60),
    )
    plan = solver.solve(problem, initial_routes=initial, pinned=pinned)
    assert solver.trace.alns_iterations == 60
    assert check_plan(problem, plan).ok
    assert _kept(plan, pinned)
    assert set(plan.served_ids) >= set(pinned)


@needs_numba
@given(problems(max_requests=7, max_vehicles=3), st.randoms(use_true_random=False))
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_reoptimising_a_started_day_with_breaks_keeps_the_pins(
    problem: Problem, rnd: random.Random
) -> None:
    """A day with breaks re-optimised in the middle of it (what is done pinned to its vehicle):
    the plan that comes back passes the checker and keeps every started request on its
    vehicle."""
    if not any(v.breaks for v in problem.vehicles):
        return
    alns.warm_up()
    plan = OrToolsSolver(SolverParams(time_limit_s=0.0)).solve(problem)
    starts = sorted(v.start_s for rt in plan.routes for v in rt.visits)
    if not starts:
        return
    now_s = starts[rnd.randint(0, len(starts) - 1)] + 1
    started = {
        v.request_id: rt.vehicle_id for rt in plan.routes for v in rt.visits if v.start_s < now_s
    }
    res = reoptimise(problem, plan, now_s=now_s, time_limit_s=2.5)
    report = check_plan(problem, res.plan)
    assert report.ok, report.summary()
    assert set(res.plan.served_ids) == set(plan.served_ids)
    assert _kept(res.plan, started)


def test_the_reinsertion_puts_a_pinned_request_back_on_its_vehicle_only() -> None:
    """Two vehicles, one of them the cheaper place for a refused request: pinned to the other,
    the re-insertion puts it there; pinned to a vehicle that cannot take it, it stays refused."""
    problem = _day(0, breaks=True)
    empty = Plan(routes=())
    r, able = next(
        (r, able)
        for r in problem.requests
        if r.return_of is None and r.id != "r0"
        for able in [
            [
                v.id
                for v in problem.vehicles
                if find_insertion(problem, empty, r, vehicle_ids={v.id})
            ]
        ]
        if len(able) >= 2
    )
    free = find_insertion(problem, empty, r)
    assert free is not None
    other = next(v for v in able if v != free.vehicle_id)
    routes, left, _ = reinsert(problem, [], [r.id], 0.0)
    assert left == [] and [rt.vehicle_id for rt in routes] == [free.vehicle_id]
    routes, left, _ = reinsert(problem, [], [r.id], 0.0, pinned={r.id: other})
    assert left == [] and [rt.vehicle_id for rt in routes] == [other]
    assert _on(Plan(routes=tuple(routes)))[r.id] == other
    # a vehicle whose shift is over before the request's window: nowhere to go
    late = dataclasses.replace(
        problem,
        vehicles=tuple(
            dataclasses.replace(v, shift=TimeWindow(5 * H, 6 * H), breaks=())
            if v.id == other
            else v
            for v in problem.vehicles
        ),
    )
    routes, left, _ = reinsert(late, [], [r.id], 0.0, pinned={r.id: other})
    assert left == [r.id] and routes == []
