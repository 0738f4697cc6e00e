"""The ALNS layer: its compiled route check against the timing network of
RouteTimer, its plans against the independent checker, and a short run on a Cordeau instance."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatcher.model import Break, Problem, Request, SolverParams, TimeWindow, Vehicle
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


def _with_duration_limit(model: alns.AlnsModel, s: int, limit: int) -> alns.AlnsModel:
    maxdur = model.M[8].copy()  # type: ignore[attr-defined]
    maxdur[s] = limit
    return alns.AlnsModel((*model.M[:8], maxdur, *model.M[9:]), model.nv, model.nr)


def _random_order(rnd, reqs: list[Request], nv: int) -> list[int]:  # type: ignore[no-untyped-def]
    order: list[int] = []
    for q in rnd.sample(range(len(reqs)), rnd.randint(1, len(reqs))):
        i = rnd.randint(0, len(order))
        order.insert(i, 2 * nv + 2 * q)
        order.insert(rnd.randint(i + 1, len(order)), 2 * nv + 2 * q + 1)
    return order


@given(
    problems(max_requests=6, max_vehicles=2), st.randoms(use_true_random=False), st.integers(0, 1)
)
@SETTINGS
def test_route_span_is_the_shortest_duration(problem: Problem, rnd, which: int) -> None:  # type: ignore[no-untyped-def]
    """The span the layer charges is the shortest one a timing of the route can have: the route
    can be served within that duration and not within one second less (the compiled check with
    a route duration limit, itself held to RouteTimer above)."""
    problem = _no_breaks(problem)
    reqs, vehicles, model = _modelled(problem)
    if not reqs:
        return
    s = which % len(vehicles)
    for _ in range(8):
        order = _random_order(rnd, reqs, model.nv)
        span = alns.route_span(model, s, order)
        if span is None:
            assert not alns.route_feasible(model, s, order)
            continue
        assert alns.route_feasible(_with_duration_limit(model, s, span), s, order)
        assert not alns.route_feasible(_with_duration_limit(model, s, span - 1), s, order)


def _route_costs(problem: Problem, model: alns.AlnsModel, routes: list[list[int]]) -> int:
    """The layer's objective recomputed from scratch: km, fixed costs and hours on the shortest
    span per used route, plus the refusal penalties (model units)."""
    nv = model.nv
    total = 0
    served: set[int] = set()
    for s, nodes in enumerate(routes):
        if not nodes:
            continue
        v = problem.vehicles[s]
        path = [s, *nodes, nv + s]
        dist = np.asarray(model.M[1])[np.asarray(model.M[2])[s]]
        total += int(sum(dist[a, b] for a, b in zip(path, path[1:], strict=False)))
        total += round(v.fixed_cost * alns.COST_SCALE)
        span = alns.route_span(model, s, nodes)
        assert span is not None
        total += int(math.floor(v.cost_per_hour * alns.COST_SCALE / 3600.0 * span + 0.5))
        served.update((nd - 2 * nv) // 2 for nd in nodes)
    pen = np.asarray(model.M[10])
    return total + sum(int(pen[q]) for q in range(model.nr) if q not in served)


@given(problems(max_requests=6, max_vehicles=3), st.integers(0, 3))
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_objective_charges_the_hours_on_the_span(problem: Problem, seed: int) -> None:
    """The objective the search keeps up move by move is the plan's km, fixed costs, hours on
    each route's shortest span (waiting included) and refusals, recomputed from scratch."""
    problem = _no_breaks(problem)
    reqs, vehicles, model = _modelled(problem)
    if not reqs:
        return
    res = alns.refine_routes(model, [[] for _ in vehicles], 0.0, seed=seed, max_iterations=40)
    assert res.objective == _route_costs(problem, model, res.routes)


@given(problems(max_requests=6, max_vehicles=3), st.integers(0, 3))
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_without_an_hourly_cost_the_span_term_changes_nothing(problem: Problem, seed: int) -> None:
    """On a cost model of distance only without a balance cost (the literature's instances),
    the search with the span term is the search without it, move for move; so is the search
    with a balance weight that rounds to nothing per second (the balance term computed, zero)."""
    problem = _no_breaks(problem)
    problem = dataclasses.replace(
        problem,
        vehicles=tuple(dataclasses.replace(v, cost_per_hour=0.0) for v in problem.vehicles),
    )
    reqs, vehicles, _ = _modelled(problem)
    if not reqs:
        return
    allowed = [[s for s, v in enumerate(vehicles) if feasible_alone(problem, r, v)] for r in reqs]
    tiny = _with_balance(problem, 0.01)  # 0.28 model units per second: rounds to 0
    runs = [
        alns.refine_routes(
            alns.build_model(day, reqs, vehicles, allowed, span_cost=flag),
            [[] for _ in vehicles],
            0.0,
            seed=seed,
            max_iterations=40,
        )
        for day, flag in ((problem, True), (problem, False), (tiny, True))
    ]
    assert alns.build_model(problem, reqs, vehicles, allowed).M[18] == 0
    for other in runs[1:]:
        assert runs[0].routes == other.routes and runs[0].objective == other.objective


def _with_balance(problem: Problem, per_hour: float) -> Problem:
    return dataclasses.replace(
        problem, weights=dataclasses.replace(problem.weights, balance_per_hour=per_hour)
    )


def _timed(
    problem: Problem, v: Vehicle, stops: list[tuple[Request, str]], which: str, a: int, b: int
) -> bool:
    """Whether RouteTimer can time ``stops`` on ``v`` with its start (or end) window cut to
    [a, b] (``which``: "start_window" or "end_window")."""
    w = getattr(v, which)
    if w is not None:
        a, b = max(a, w.start_s), min(b, w.end_s)
    if a > b:
        return False
    cut = dataclasses.replace(v, **{which: TimeWindow(a, b)})
    return RouteTimer(problem, cut, stops).feasible()  # type: ignore[arg-type]


def _shortest_span_times(
    problem: Problem, v: Vehicle, stops: list[tuple[Request, str]]
) -> tuple[int, int]:
    """The route's earliest end, and its latest start given that end, found by bisection on
    its vehicle's windows with RouteTimer (independent of the layer's kernels)."""
    lo_t, hi_t = v.shift.start_s, v.shift.end_s
    a, b = lo_t, hi_t  # the earliest end: the least E the route can end by
    while a < b:
        mid = (a + b) // 2
        if _timed(problem, v, stops, "end_window", lo_t, mid):
            b = mid
        else:
            a = mid + 1
    end = a
    ended = dataclasses.replace(v, end_window=TimeWindow(lo_t, end))
    if v.end_window is not None:
        ended = dataclasses.replace(
            v, end_window=TimeWindow(max(lo_t, v.end_window.start_s), min(end, v.end_window.end_s))
        )
    a, b = lo_t, end  # the latest start given that end
    while a < b:
        mid = (a + b + 1) // 2
        if _timed(problem, ended, stops, "start_window", mid, hi_t):
            a = mid
        else:
            b = mid - 1
    return a, end


@given(
    problems(max_requests=6, max_vehicles=3),
    st.integers(0, 3),
    st.sampled_from([2.0, 30.0, 400.0]),
)
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_objective_charges_the_balance_on_the_global_span(
    problem: Problem, seed: int, per_hour: float
) -> None:
    """With a balance cost, the objective the search keeps is the plan's routes' costs and
    refusals (recomputed as above) plus the balance weight (rounded as OR-Tools' coefficient)
    times the latest end of a used route minus the earliest start of one, each route's times
    found independently with RouteTimer (earliest end, then latest start given it)."""
    problem = _with_balance(_no_breaks(problem), per_hour)
    reqs, vehicles, model = _modelled(problem)
    if not reqs:
        return
    res = alns.refine_routes(model, [[] for _ in vehicles], 0.0, seed=seed, max_iterations=40)
    nv = model.nv
    times = []
    for s, nodes in enumerate(res.routes):
        if nodes:
            stops = [
                (reqs[(nd - 2 * nv) // 2], "dropoff" if (nd - 2 * nv) % 2 else "pickup")
                for nd in nodes
            ]
            times.append(_shortest_span_times(problem, vehicles[s], stops))
    weight = round(per_hour * alns.COST_SCALE / 3600.0)
    assert weight > 0
    balance = weight * (max(e for _, e in times) - min(b for b, _ in times)) if times else 0
    assert res.objective == _route_costs(problem, model, res.routes) + balance
    assert alns.plan_objective(model, res.routes) == res.objective


@pytest.mark.skipif(not HAVE_NUMBA, reason="the ALNS layer only runs with numba")
@given(problems(max_requests=6, max_vehicles=3), st.sampled_from([5.0, 60.0, 500.0]))
@settings(max_examples=24, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_days_with_a_balance_cost_go_through_the_layer_and_pass_the_checker(
    problem: Problem, per_hour: float
) -> None:
    """A day with a balance cost (with or without drivers' breaks) is refined by the ALNS layer
    and its plan passes the checker."""
    problem = _with_balance(problem, per_hour)
    alns.warm_up()
    solver = OrToolsSolver(SolverParams(time_limit_s=0.5), SearchOptions(alns_min_s=0.0))
    assert solver._alns_applies(problem, solver.params, problem.vehicles, False, None, None)
    plan = solver.solve(problem)
    report = check_plan(problem, plan)
    assert report.ok, report.summary()
    assert "ALNS_NOT_READY" not in plan.stats.status_detail
    assert solver.trace.alns_iterations > 0 or not plan.routes


@pytest.mark.skipif(not HAVE_NUMBA, reason="the ALNS layer only runs with numba")
@given(problems(max_requests=6, max_vehicles=3), st.randoms(use_true_random=False))
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_alns_from_initial_routes_with_pins_passes_the_checker_and_keeps_the_pins(  # type: ignore[no-untyped-def]
    problem: Problem, rnd
) -> None:
    """A live re-optimisation (initial routes, some requests pinned to their vehicle, every
    served one as good as mandatory) runs through the ALNS layer; its plan passes the checker
    and every pinned request is served by its vehicle."""
    problem = _no_breaks(problem)
    alns.warm_up()
    first = OrToolsSolver(SolverParams(time_limit_s=0.0)).solve(problem)
    served = [(v.request_id, rt.vehicle_id) for rt in first.routes for v in rt.visits]
    if not served:
        return
    ids = {rid for rid, _ in served}
    problem = dataclasses.replace(
        problem,
        requests=tuple(
            dataclasses.replace(r, priority=1000) for r in problem.requests if r.id in ids
        ),
    )
    initial = {rt.vehicle_id: [(v.request_id, v.kind) for v in rt.visits] for rt in first.routes}
    pinned = dict(rnd.sample(sorted(set(served)), rnd.randint(1, len(set(served)))))
    solver = OrToolsSolver(SolverParams(time_limit_s=0.5), SearchOptions(alns_min_s=0.0))
    plan = solver.solve(problem, initial_routes=initial, pinned=pinned)
    report = check_plan(problem, plan)
    assert report.ok, report.summary()
    assert "ALNS_NOT_READY" not in plan.stats.status_detail
    assert solver.trace.alns_iterations > 0
    on = {v.request_id: rt.vehicle_id for rt in plan.routes for v in rt.visits}
    assert {rid: on.get(rid) for rid in pinned} == pinned


@pytest.mark.skipif(not HAVE_NUMBA, reason="the ALNS layer only runs with numba")
@given(problems(max_requests=10, max_vehicles=3), st.integers(0, 3), st.booleans())
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_a_seed_and_iteration_limits_give_the_same_plan_on_every_path(
    problem: Problem, seed: int, live: bool
) -> None:
    """With OR-Tools bounded by a solution count and the ALNS layer by an iteration count, the
    same seed gives the same plan, on days with or without breaks, and on a live day (initial
    routes and pins; breaks taken off, as the re-optimisation does)."""
    alns.warm_up()
    params = SolverParams(time_limit_s=30.0, solution_limit=40, seed=seed)
    options = SearchOptions(alns_min_s=0.0, alns_iterations=50)
    initial: dict[str, list[tuple[str, str]]] | None = None
    pinned: dict[str, str] | None = None
    if live:
        problem = _no_breaks(problem)
        first = OrToolsSolver(SolverParams(time_limit_s=0.0)).solve(problem)
        initial = {
            rt.vehicle_id: [(v.request_id, v.kind) for v in rt.visits] for rt in first.routes
        }
        pinned = {rt.visits[0].request_id: rt.vehicle_id for rt in first.routes[:1]}
    plans, traces = [], []
    for _ in range(2):
        solver = OrToolsSolver(params, options)
        plans.append(solver.solve(problem, initial_routes=initial, pinned=pinned))
        traces.append(solver.trace.alns_iterations)
    a, b = plans
    assert check_plan(problem, a).ok
    assert a.routes == b.routes and a.rejections == b.rejections
    assert a.stats.status_detail == b.stats.status_detail
    assert traces[0] == traces[1]
    if a.routes or b.routes:
        assert traces[0] in (0, 50)


@given(
    problems(max_requests=6, max_vehicles=2), st.randoms(use_true_random=False), st.integers(0, 1)
)
@settings(
    max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
def test_a_modelled_break_fits_where_route_timer_places_one(
    problem: Problem, rnd, which: int
) -> None:  # type: ignore[no-untyped-def]
    """With a vehicle's break as a floating stop of its routes, every order the compiled check
    accepts can be timed by RouteTimer with that break (and every order it refuses on timing
    grounds, RouteTimer refuses too, or needs a gap the check does not try); the shortest span
    it charges is one RouteTimer's network can have."""
    from dispatcher.solver.routing import _modelled_break, without_breaks

    s = which % len(problem.vehicles)
    brk = _modelled_break(problem.vehicles[s])
    if brk is None:
        return
    vehicles = [without_breaks(v) for v in problem.vehicles]
    timed = [
        dataclasses.replace(v, breaks=(brk,) if k == s else ()) for k, v in enumerate(vehicles)
    ]
    reqs = [
        r
        for r in problem.requests
        if stop_window(problem, r, "pickup") and stop_window(problem, r, "dropoff")
    ]
    if not reqs:
        return
    allowed = [list(range(len(vehicles))) for _ in reqs]
    model = alns.build_model(
        problem,
        reqs,
        vehicles,
        allowed,
        breaks=[brk if k == s else None for k in range(len(vehicles))],
    )
    relaxed = alns.build_model(problem, reqs, vehicles, allowed)
    nv = model.nv
    agree = 0
    for _ in range(8):
        order = _random_order(rnd, reqs, nv)
        stops = [
            (reqs[(nd - 2 * nv) // 2], "dropoff" if (nd - 2 * nv) % 2 else "pickup") for nd in order
        ]
        exact = _loads_ok(timed[s], stops) and RouteTimer(problem, timed[s], stops).feasible()  # type: ignore[arg-type]
        span = alns.route_span(model, s, order)
        if span is not None:
            assert exact, (s, order)
            free = alns.route_span(relaxed, s, order)
            assert free is not None and free <= span
        agree += (span is not None) == exact
    assert agree >= 6


@pytest.mark.skipif(not HAVE_NUMBA, reason="the ALNS layer only runs with numba")
@given(problems(max_requests=8, max_vehicles=3))
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_reoptimising_a_day_with_breaks_through_the_layer_keeps_every_promise(
    problem: Problem,
) -> None:
    """A day planned, then re-optimised before it starts (no pins: its breaks stay in the model
    and the ALNS layer searches from its routes): the plan that comes back serves the same
    requests, passes the checker with its breaks, and costs no more."""
    from dispatcher.solver.reoptimise import reoptimise

    if not any(v.breaks for v in problem.vehicles):
        return
    alns.warm_up()
    plan = OrToolsSolver(SolverParams(time_limit_s=0.0)).solve(problem)
    if not plan.served_ids:
        return
    res = reoptimise(problem, plan, time_limit_s=2.5)
    assert set(res.plan.served_ids) == set(plan.served_ids)
    report = check_plan(problem, res.plan)
    assert report.ok, report.summary()
    assert res.improved == (res.plan is not plan)
    if res.improved:
        assert res.new_cost is not None and res.new_cost < res.old_cost


def test_the_removal_bound_follows_what_the_time_affords() -> None:
    """Too slow for the iterations the run needs: the largest removal shrinks (about as the
    square root of the slowness, never below the smallest removal); fast again: it grows back,
    never past max_remove; in between it stays."""
    assert alns._removal_cap(80, 2, 80, 4.0) == 40
    assert alns._removal_cap(80, 2, 80, 1.2) == 73
    assert alns._removal_cap(3, 2, 80, 100.0) == 2
    assert alns._removal_cap(2, 2, 80, 100.0) == 2
    assert alns._removal_cap(40, 2, 80, 0.25) == 45
    assert alns._removal_cap(78, 2, 80, 0.1) == 80
    assert alns._removal_cap(40, 2, 80, 0.8) == 40


@pytest.mark.skipif(not HAVE_NUMBA, reason="the compiled check is numba's")
def test_a_break_that_only_fits_in_an_early_idle_gap_is_found() -> None:
    """A morning trip, an idle hour, then a tight afternoon of back-to-back trips: the lunch break
    (11:30-14:00, 45 min) fits only in the idle hour, far before the last gaps the route leaves
    within the break's latest start. The compiled check must find it, as RouteTimer does (a day
    booked trip by trip had such a route, and the layer dropped its requests from its start)."""
    from tests.solver.conftest import hm, tiny_problem

    morning = Request("m", "A", "B", pickup_window=TimeWindow(hm(11, 0), hm(11, 5)))
    afternoon = tuple(
        Request(
            f"p{k}", "B", "C", pickup_window=TimeWindow(hm(12, 20 + 25 * k), hm(12, 25 + 25 * k))
        )
        for k in range(7)
    )
    bus = {
        "shift": TimeWindow(hm(7, 0), hm(17, 0)),
        "breaks": (Break(TimeWindow(hm(11, 30), hm(14, 0)), 45 * 60),),
    }
    base = tiny_problem(bus=bus, with_van=False)
    problem = dataclasses.replace(base, requests=(morning, *afternoon))
    from dispatcher.solver.routing import _modelled_break, without_breaks

    v = problem.vehicles[0]
    reqs = list(problem.requests)
    model = alns.build_model(
        problem, reqs, [without_breaks(v)], [[0] for _ in reqs], breaks=[_modelled_break(v)]
    )
    order = [2, 3] + [n for k in range(1, len(reqs)) for n in (2 + 2 * k, 3 + 2 * k)]
    stops = [(reqs[(nd - 2) // 2], "dropoff" if nd % 2 else "pickup") for nd in order]
    assert RouteTimer(problem, v, stops).feasible()  # type: ignore[arg-type]
    assert alns.route_feasible(model, 0, order)
