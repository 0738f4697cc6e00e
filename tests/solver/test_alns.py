"""The ALNS layer: its compiled route check against the timing network of
RouteTimer, its plans against the independent checker, and a short run on a Cordeau instance."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatcher.model import Problem, Request, SolverParams, Vehicle
from dispatcher.solver import alns
from dispatcher.solver.alns_kernels import HAVE_NUMBA
from dispatcher.solver.checker import check_plan
from dispatcher.solver.routing import OrToolsSolver, SearchOptions
from dispatcher.solver.schedule import RouteTimer, feasible_alone, stop_window
from tests.solver.strategies import problems

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "benchmarks"
needs_shared = pytest.mark.skipif(
    not (SHARED / "bks.csv").exists(), reason=f"shared benchmark data not found under {SHARED}"
)


def _no_breaks(problem: Problem) -> Problem:
    """The ALNS model has no drivers' breaks: the same day without them."""
    return dataclasses.replace(
        problem, vehicles=tuple(dataclasses.replace(v, breaks=()) for v in problem.vehicles)
    )


def _modelled(problem: Problem) -> tuple[list[Request], list[Vehicle], alns.AlnsModel]:
    reqs = [
        r
        for r in problem.requests
        if stop_window(problem, r, "pickup") and stop_window(problem, r, "dropoff")
    ]
    vehicles = list(problem.vehicles)
    allowed = [[s for s, v in enumerate(vehicles) if feasible_alone(problem, r, v)] for r in reqs]
    return reqs, vehicles, alns.build_model(problem, reqs, vehicles, allowed)


def _loads_ok(vehicle: Vehicle, stops: list[tuple[Request, str]]) -> bool:
    seats = wheel = 0
    for r, kind in stops:
        sign = 1 if kind == "pickup" else -1
        seats += sign * r.seats
        wheel += sign * r.wheelchairs
        if seats > vehicle.seats or wheel > vehicle.wheelchairs:
            return False
    return True


@given(
    problems(max_requests=6, max_vehicles=2), st.randoms(use_true_random=False), st.integers(0, 1)
)
@SETTINGS
def test_route_check_agrees_with_route_timer(problem: Problem, rnd, which: int) -> None:  # type: ignore[no-untyped-def]
    """For random visit orders (pickup before drop-off), the compiled check says feasible exactly
    when RouteTimer finds a timing and the loads fit (RouteTimer times, it does not count)."""
    problem = _no_breaks(problem)
    reqs, vehicles, model = _modelled(problem)
    if not reqs:
        return
    s = which % len(vehicles)
    nv = model.nv
    for _ in range(8):
        chosen = rnd.sample(range(len(reqs)), rnd.randint(1, len(reqs)))
        order: list[int] = []
        for q in chosen:
            i = rnd.randint(0, len(order))
            order.insert(i, 2 * nv + 2 * q)
            order.insert(rnd.randint(i + 1, len(order)), 2 * nv + 2 * q + 1)
        stops = [
            (reqs[(nd - 2 * nv) // 2], "dropoff" if (nd - 2 * nv) % 2 else "pickup") for nd in order
        ]
        expected = (
            _loads_ok(vehicles[s], stops) and RouteTimer(problem, vehicles[s], stops).feasible()
        )  # type: ignore[arg-type]
        assert alns.route_feasible(model, s, order) == expected, (s, order)


def test_route_check_rejects_dropoff_before_pickup() -> None:
    from dispatcher.model import Location, TimeWindow
    from tests.solver.strategies import euclidean_matrices

    pts = [(0, 0), (5000, 0), (10000, 0)]
    dur, dist = euclidean_matrices(pts)
    locs = tuple(Location(f"L{i}", float(x), float(y)) for i, (x, y) in enumerate(pts))
    r = Request("r", "L1", "L2", pickup_window=TimeWindow(8 * 3600, 9 * 3600))
    v = Vehicle("v", "L0", "L0", TimeWindow(7 * 3600, 12 * 3600), seats=4)
    problem = Problem(locs, dur, dist, (r,), (v,))
    _, _, model = _modelled(problem)
    assert alns.route_feasible(model, 0, [2, 3])
    assert not alns.route_feasible(model, 0, [3, 2])


@pytest.mark.skipif(not HAVE_NUMBA, reason="the ALNS layer only runs with numba")
@given(problems(max_requests=6, max_vehicles=3))
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_solver_with_alns_passes_the_checker(problem: Problem) -> None:
    problem = _no_breaks(problem)
    solver = OrToolsSolver(SolverParams(time_limit_s=0.5), SearchOptions(alns_min_s=0.0))
    plan = solver.solve(problem)
    report = check_plan(problem, plan)
    assert report.ok, report.summary()


@given(problems(max_requests=6, max_vehicles=3), st.integers(0, 3))
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_refine_routes_is_never_worse_and_deterministic(problem: Problem, seed: int) -> None:
    """From a greedy start, a fixed number of iterations never ends costlier, every route it
    returns can be timed by RouteTimer, and the same seed gives the same routes."""
    problem = _no_breaks(problem)
    reqs, vehicles, model = _modelled(problem)
    if not reqs:
        return
    start = alns.refine_routes(model, [[] for _ in vehicles], 0.0, seed=seed, max_iterations=1)
    a = alns.refine_routes(model, start.routes, 0.0, seed=seed, max_iterations=60)
    b = alns.refine_routes(model, start.routes, 0.0, seed=seed, max_iterations=60)
    assert a.start_objective == start.objective
    assert a.objective <= a.start_objective
    assert a.routes == b.routes and a.objective == b.objective
    nv = model.nv
    seen: list[int] = []
    for s, nodes in enumerate(a.routes):
        stops = [
            (reqs[(nd - 2 * nv) // 2], "dropoff" if (nd - 2 * nv) % 2 else "pickup") for nd in nodes
        ]
        if stops:
            assert RouteTimer(problem, vehicles[s], stops).feasible()  # type: ignore[arg-type]
            assert _loads_ok(vehicles[s], stops)  # type: ignore[arg-type]
        seen += [(nd - 2 * nv) // 2 for nd in nodes if (nd - 2 * nv) % 2 == 0]
    assert len(seen) == len(set(seen))


@pytest.mark.shared
@needs_shared
@pytest.mark.skipif(not HAVE_NUMBA, reason="the ALNS layer only runs with numba")
def test_short_run_on_a_cordeau_instance() -> None:
    from dispatcher.tuning.instances import judge, load_instance

    inst = load_instance("darp", "a2-16", SHARED)
    solver = OrToolsSolver(SolverParams(time_limit_s=2.0), SearchOptions())
    plan = solver.solve(inst.problem)
    verdict = judge(inst, plan)
    assert verdict.feasible and verdict.served == 16
    refined = "ALNS" in plan.stats.status_detail
    assert refined or verdict.gap_pct is not None and verdict.gap_pct < 0.01
    assert verdict.gap_pct is not None and verdict.gap_pct < 1.0
    assert solver.trace.alns_iterations > 0


@pytest.mark.skipif(not HAVE_NUMBA, reason="the ALNS layer only runs with numba")
@given(problems(max_requests=6, max_vehicles=3))
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_solver_with_alns_on_days_with_breaks_passes_the_checker(problem: Problem) -> None:
    """With drivers' breaks the layer searches the day without them; what it keeps is timed
    with the breaks (and duty limits), so every plan still passes the checker."""
    if not any(v.breaks for v in problem.vehicles):
        return
    alns.warm_up()
    solver = OrToolsSolver(SolverParams(time_limit_s=0.5), SearchOptions(alns_min_s=0.0))
    plan = solver.solve(problem)
    report = check_plan(problem, plan)
    assert report.ok, report.summary()
    assert "ALNS_NOT_READY" not in plan.stats.status_detail


def test_without_breaks_keeps_the_duty_and_drops_the_driving_limit_its_rests_end() -> None:
    from dispatcher.model import Break, TimeWindow
    from dispatcher.solver.routing import without_breaks

    lunch = Break(TimeWindow(12 * 3600, 14 * 3600), 2700)
    v = Vehicle(
        "v",
        "L0",
        "L0",
        TimeWindow(7 * 3600, 17 * 3600),
        breaks=(lunch,),
        max_duration_s=9 * 3600,
        max_driving_s=4 * 3600 + 1800,
        driving_break_s=2700,
    )
    relaxed = without_breaks(v)
    assert relaxed.breaks == () and relaxed.max_driving_s is None
    assert relaxed.max_duration_s == 9 * 3600
    assert relaxed.route_duration_limit_s() == 9 * 3600
    short = dataclasses.replace(v, breaks=(Break(TimeWindow(12 * 3600, 14 * 3600), 600),))
    assert without_breaks(short).max_driving_s == 4 * 3600 + 1800  # that rest ends nothing
    plain = dataclasses.replace(v, breaks=())
    assert without_breaks(plain) is plain
