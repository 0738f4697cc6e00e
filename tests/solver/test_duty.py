"""Drivers' duty limits: the maximum duty time (``max_duration_s``) and the maximum continuous
driving time (``max_driving_s`` between breaks of at least ``driving_break_s``, in elapsed
time), held alike by the model, the route timing, both searches and the checker."""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatcher.errors import InputError
from dispatcher.io.problem import problem_from_dict, problem_to_dict, vehicle_from_dict
from dispatcher.io.tables import fleet_from_csv
from dispatcher.model import (
    Break,
    BreakTaken,
    Location,
    Plan,
    Problem,
    Reason,
    Rejection,
    Request,
    SolverParams,
    TimeWindow,
    Vehicle,
)
from dispatcher.solver import alns
from dispatcher.solver.alns_kernels import HAVE_NUMBA
from dispatcher.solver.checker import check_plan
from dispatcher.solver.explain import alone_report, explain_rejections
from dispatcher.solver.routing import OrToolsSolver, SearchOptions, solve
from dispatcher.solver.schedule import RouteTimer, Stop, feasible_alone, schedule_route
from dispatcher.tuning.instances import DEFAULT_SCALE, extra_violations, read_cordeau
from tests.solver.conftest import hm, tiny_problem
from tests.solver.strategies import problems
from tests.solver.test_alns import _loads_ok, _modelled, _no_breaks

R = dataclasses.replace
H = 3600
M = 60
FAST = SolverParams(time_limit_s=1.0, solution_limit=100)
SETTINGS = settings(
    max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)


def codes(problem: Problem, plan: Plan) -> set[str]:
    return {v.code for v in check_plan(problem, plan).violations}


# ---- the model and the input ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["max_duration_s", "max_driving_s", "driving_break_s"])
@pytest.mark.parametrize("value", [0, -60, 1.5])
def test_non_positive_limits_are_input_errors_naming_the_field(name: str, value: object) -> None:
    with pytest.raises(InputError) as e:
        tiny_problem(bus={name: value})
    assert e.value.where == f"vehicles[0].{name}"


def test_a_limit_shorter_than_any_trip_is_not_an_input_error_but_a_refusal() -> None:
    """One second of duty: valid input; every request is refused, saying why."""
    p = tiny_problem(bus={"max_duration_s": 1}, van={"max_driving_s": 1})
    plan = solve(p, FAST)
    assert check_plan(p, plan).ok
    assert {j.reason for j in plan.rejections} == {Reason.DUTY_LIMIT}
    assert len(plan.rejections) == 2
    assert "service" in plan.rejections[0].message and "min" in plan.rejections[0].message_en


def test_route_duration_limit_folds_continuous_driving_without_resting_breaks() -> None:
    shift = TimeWindow(hm(7, 0), hm(12, 0))
    lunch = Break(TimeWindow(hm(9, 0), hm(11, 0)), 30 * M)
    v = Vehicle("v", "D", "D", shift, max_driving_s=2 * H)
    assert v.route_duration_limit_s() == 2 * H  # no break: the whole route is one stretch
    assert R(v, max_duration_s=H).route_duration_limit_s() == H
    assert R(v, breaks=(lunch,)).route_duration_limit_s() == 2 * H  # 30 min is too short a rest
    rested = R(v, breaks=(lunch,), driving_break_s=30 * M)
    assert rested.route_duration_limit_s() is None and rested.resting_breaks() == (lunch,)
    assert Vehicle("w", "D", "D", shift).route_duration_limit_s() is None


def test_json_and_csv_carry_the_limits(tmp_path: Path) -> None:
    d = {
        "id": "bus",
        "start": "D",
        "shift": [hm(7, 0), hm(12, 0)],
        "max_duration_s": 4 * H,
        "max_driving_s": 16200,
        "driving_break_s": 1800,
    }
    v = vehicle_from_dict(d, "vehicles[0]")
    assert (v.max_duration_s, v.max_driving_s, v.driving_break_s) == (4 * H, 16200, 1800)
    p = tiny_problem(bus={"max_duration_s": 4 * H, "max_driving_s": 16200, "driving_break_s": 900})
    back = problem_from_dict(json.loads(json.dumps(problem_to_dict(p))))
    assert back.vehicles == p.vehicles
    with pytest.raises(InputError) as e:
        vehicle_from_dict({**d, "max_driving_s": "soon"}, "vehicles[3]")
    assert e.value.where == "vehicles[3].max_driving_s"
    f = tmp_path / "fleet.csv"
    f.write_text(
        "id,start,shift_start,shift_end,max_duration_min,max_driving_min,driving_break_min\n"
        "bus,Albert,07:00,19:00,540,270,45\n"
        "car,Albert,07:00,19:00,,,\n"
    )
    rows = fleet_from_csv(f)
    assert rows[0]["max_duration_s"] == 540 * M and rows[0]["max_driving_s"] == 270 * M
    assert rows[0]["driving_break_s"] == 45 * M
    assert "max_driving_s" not in rows[1]
    f.write_text("id,start,shift_start,shift_end,max_driving_min\nbus,Albert,07:00,19:00,4h\n")
    with pytest.raises(InputError) as e:
        fleet_from_csv(f)
    assert "max_driving_min" in e.value.where and "line 2" in e.value.where


# ---- the checker ------------------------------------------------------------------------------


def with_bus(problem: Problem, **changes: object) -> Problem:
    return R(problem, vehicles=(R(problem.vehicles[0], **changes), *problem.vehicles[1:]))


def test_checker_catches_too_much_continuous_driving(problem: Problem, plan: Plan) -> None:
    """The hand plan: bus-1 leaves at 07:50, breaks 09:00-09:20, is back at 09:20."""
    assert check_plan(with_bus(problem, max_driving_s=70 * M, driving_break_s=20 * M), plan).ok
    report = check_plan(with_bus(problem, max_driving_s=70 * M - 1, driving_break_s=20 * M), plan)
    assert report.codes == {"max_driving"}  # 07:50 to 09:00 is 70 min
    assert "07:50" in report.violations[0].message and "09:00" in report.violations[0].message
    # a break shorter than driving_break_s does not end the stretch: the whole route counts
    short = with_bus(problem, max_driving_s=90 * M - 1, driving_break_s=21 * M)
    assert codes(short, plan) == {"max_driving"}
    assert check_plan(with_bus(short, max_driving_s=90 * M), plan).ok


def test_checker_counts_the_stretch_after_the_last_break(problem: Problem, plan: Plan) -> None:
    """The break taken right after the last drop-off (08:24-08:44): the stretches are
    07:50-08:24 (34 min) and 08:44-09:20 (36 min, back at the depot)."""
    lunch = Break(TimeWindow(hm(8, 0), hm(10, 30)), 20 * M)
    p = with_bus(problem, breaks=(lunch,), max_driving_s=36 * M, driving_break_s=20 * M)
    early = R(plan.routes[0], breaks=(BreakTaken(hm(8, 24), 20 * M, 3),))
    assert check_plan(p, Plan((early,))).ok
    report = check_plan(with_bus(p, max_driving_s=36 * M - 1), Plan((early,)))
    assert report.codes == {"max_driving"}
    assert "08:44" in report.violations[0].message and "09:20" in report.violations[0].message


def test_checker_catches_a_route_longer_than_the_max_duty(problem: Problem, plan: Plan) -> None:
    bus = R(problem.vehicles[0], max_duration_s=90 * M)  # 07:50 to 09:20
    assert check_plan(R(problem, vehicles=(bus, problem.vehicles[1])), plan).ok
    bus = R(bus, max_duration_s=90 * M - 1)
    assert codes(R(problem, vehicles=(bus, problem.vehicles[1])), plan) == {"max_duration"}


# ---- the route timing and the searches --------------------------------------------------------


def _morning_and_noon(max_driving_s: int, **bus: object) -> Problem:
    """One bus, two trips 4 h apart, one 30 min break that may go anywhere in 08:00-13:00:
    continuous driving decides where it goes (and whether both trips fit at all)."""
    return tiny_problem(
        r1={"pickup_window": TimeWindow(hm(7, 30), hm(7, 45))},
        r2={"pickup_window": TimeWindow(hm(11, 30), hm(11, 45))},
        bus={
            "shift": TimeWindow(hm(7, 0), hm(14, 0)),
            "breaks": (Break(TimeWindow(hm(8, 0), hm(13, 0)), 30 * M),),
            "max_driving_s": max_driving_s,
            "driving_break_s": 30 * M,
            **bus,
        },
        with_van=False,
    )


def test_route_timer_places_the_break_where_continuous_driving_needs_it() -> None:
    p = _morning_and_noon(150 * M)
    stops = [
        (p.request("r1"), "pickup"),
        (p.request("r1"), "dropoff"),
        (p.request("r2"), "pickup"),
        (p.request("r2"), "dropoff"),
    ]
    route = schedule_route(p, p.vehicles[0], stops)  # type: ignore[arg-type]
    assert route is not None
    (b,) = route.breaks
    assert b.start_s - route.start_s <= 150 * M
    assert route.end_s - (b.start_s + b.duration_s) <= 150 * M
    assert check_plan(p, Plan((route,))).ok
    # with 110 min the two stretches cannot both hold (the day is at least 4 h 27)
    tight = _morning_and_noon(110 * M)
    assert schedule_route(tight, tight.vehicles[0], stops) is None  # type: ignore[arg-type]
    # without a long enough break, continuous driving bounds the whole route
    no_rest = _morning_and_noon(6 * H, driving_break_s=31 * M)
    assert schedule_route(no_rest, no_rest.vehicles[0], stops) is not None  # type: ignore[arg-type]
    no_rest = _morning_and_noon(4 * H, driving_break_s=31 * M)
    assert schedule_route(no_rest, no_rest.vehicles[0], stops) is None  # type: ignore[arg-type]


@pytest.mark.parametrize("refinement", ["none", "alns"])
def test_solver_serves_both_trips_within_the_driving_limit(refinement: str) -> None:
    p = _morning_and_noon(150 * M)
    params = SolverParams(time_limit_s=2.0, solution_limit=100, refinement=refinement)
    plan = solve(p, params)
    assert check_plan(p, plan).ok
    assert sorted(plan.served_ids) == ["r1", "r2"]
    tight = _morning_and_noon(110 * M)
    plan = solve(tight, params)
    assert check_plan(tight, plan).ok
    assert len(plan.served_ids) == 1  # the two trips cannot share one driver's day
    assert [j.reason for j in plan.rejections] == [Reason.DISPLACED]


def test_continuous_driving_without_breaks_runs_in_the_alns_layer() -> None:
    """No breaks: the limit is a route duration, which the ALNS model holds; its compiled route
    check agrees with the route timing."""
    p = R(
        _morning_and_noon(6 * H),
        vehicles=(R(_morning_and_noon(6 * H).vehicles[0], breaks=()),),
    )
    v = p.vehicles[0]
    assert alns.applicable(p, p.vehicles)
    reqs, vehicles, model = _modelled(p)
    nv = model.nv
    both = [2 * nv, 2 * nv + 1, 2 * nv + 2, 2 * nv + 3]
    assert alns.route_feasible(model, 0, both)
    stops = [(r, k) for r in reqs for k in ("pickup", "dropoff")]
    assert RouteTimer(p, v, stops).feasible()  # type: ignore[arg-type]
    short = R(p, vehicles=(R(v, max_driving_s=4 * H),))
    _, _, model = _modelled(short)
    assert not alns.route_feasible(model, 0, both)
    assert not RouteTimer(short, short.vehicles[0], stops).feasible()  # type: ignore[arg-type]


def test_a_request_longer_than_the_duty_alone_is_refused_for_the_duty_limit() -> None:
    # r1 alone: D -> A (10 min), board, A -> C (15 min), alight, C -> D (20 min): 47 min
    p = tiny_problem(bus={"max_duration_s": 46 * M, "breaks": ()}, van={"max_duration_s": 46 * M})
    rep = alone_report(p, p.request("r1"))
    assert rep.reason is Reason.DUTY_LIMIT and rep.details["max_duration_s"] == 46 * M
    (rej,) = explain_rejections(p, ["r1"])
    assert rej.reason is Reason.DUTY_LIMIT and "46 min" in rej.message
    ok = tiny_problem(bus={"max_duration_s": 47 * M, "breaks": ()}, van={"max_duration_s": 46 * M})
    assert alone_report(ok, ok.request("r1")).vehicles == ("bus-1",)
    # what the shift forbids stays SHIFT_TOO_SHORT even with a duty limit
    short_shift = tiny_problem(
        bus={"shift": TimeWindow(hm(7, 0), hm(8, 20)), "breaks": (), "max_duration_s": 9 * H},
        with_van=False,
    )
    assert alone_report(short_shift, short_shift.request("r1")).reason is Reason.SHIFT_TOO_SHORT


# ---- the pr layout of the Cordeau instances -----------------------------------------------------

PR_ONE_VEHICLE = """1 4 480 6 90
0 0.0 0.0 0 0 0 1440
1 3.0 4.0 10 1 60 90
2 -3.0 0.0 10 1 600 700
3 6.0 8.0 10 -1 0 1440
4 0.0 0.0 10 -1 0 1440
"""


def test_pr_route_duration_limit_is_on_the_vehicles(tmp_path: Path) -> None:
    """T=480 within a [0, 1440] depot window: both requests fit the window, but not one route
    of 480 (the second pickup is 540 after the first): one is refused, and no plan exceeds T."""
    f = tmp_path / "pr00.txt"
    f.write_text(PR_ONE_VEHICLE)
    inst = read_cordeau(f)
    assert [v.max_duration_s for v in inst.problem.vehicles] == [480 * DEFAULT_SCALE]
    plan = solve(inst.problem, FAST)
    assert check_plan(inst.problem, plan).ok and not extra_violations(inst, plan)
    assert len(plan.served_ids) == 1
    for r in plan.routes:
        assert r.end_s - r.start_s <= 480 * DEFAULT_SCALE
    loose = tmp_path / "pr01.txt"
    loose.write_text(PR_ONE_VEHICLE.replace("1 4 480", "1 4 900", 1))
    inst = read_cordeau(loose)
    plan = solve(inst.problem, FAST)
    assert check_plan(inst.problem, plan).ok and len(plan.served_ids) == 2


# ---- properties over generated days with duty limits ------------------------------------------


@SETTINGS
@given(problems(duty_limits=True))
def test_solver_plans_with_duty_limits_pass_the_checker(problem: Problem) -> None:
    plan = solve(problem, FAST)
    report = check_plan(problem, plan)
    assert report.ok, report.summary()
    expected = {j.request_id: j.reason for j in explain_rejections(problem, plan.refused_ids, plan)}
    assert {j.request_id: j.reason for j in plan.rejections} == expected


@SETTINGS
@given(problems(max_requests=4, duty_limits=True), st.randoms(use_true_random=False))
def test_route_timings_with_duty_limits_pass_the_checker(
    problem: Problem, rnd: random.Random
) -> None:
    """Whatever order RouteTimer can time, the checker accepts; and a request it finds
    infeasible alone on every vehicle is not served by the solver either."""
    reqs = list(problem.requests)
    for v in problem.vehicles:
        order: list[tuple[Request, str]] = []
        for r in rnd.sample(reqs, rnd.randint(1, len(reqs))):
            i = rnd.randint(0, len(order))
            order.insert(i, (r, "pickup"))
            order.insert(rnd.randint(i + 1, len(order)), (r, "dropoff"))
        if not _loads_ok(v, order) or any(problem.may_carry(v, r) for r, _ in order):
            continue
        route = schedule_route(problem, v, order)  # type: ignore[arg-type]
        if route is None:
            continue
        served = {r.id for r, _ in order}
        plan = Plan(
            (route,),
            tuple(Rejection(r.id, Reason.DISPLACED, "") for r in reqs if r.id not in served),
        )
        report = check_plan(problem, plan)
        assert report.ok, report.summary()
    for r in reqs:
        if not any(feasible_alone(problem, r, v) for v in problem.vehicles):
            alone = R(problem, requests=(r,))
            assert not solve(alone, FAST).served_ids


@pytest.mark.skipif(not HAVE_NUMBA, reason="the ALNS layer only runs with numba")
@SETTINGS
@given(
    problems(max_requests=6, max_vehicles=2, duty_limits=True), st.randoms(use_true_random=False)
)
def test_alns_route_check_agrees_with_route_timer_under_duty_limits(
    problem: Problem, rnd: random.Random
) -> None:
    problem = _no_breaks(problem)
    reqs, vehicles, model = _modelled(problem)
    if not reqs:
        return
    nv = model.nv
    for s in range(len(vehicles)):
        chosen = rnd.sample(range(len(reqs)), rnd.randint(1, len(reqs)))
        order: list[int] = []
        for q in chosen:
            i = rnd.randint(0, len(order))
            order.insert(i, 2 * nv + 2 * q)
            order.insert(rnd.randint(i + 1, len(order)), 2 * nv + 2 * q + 1)
        stops: list[Stop] = [
            (reqs[(nd - 2 * nv) // 2], "dropoff" if (nd - 2 * nv) % 2 else "pickup") for nd in order
        ]
        timer = RouteTimer(problem, vehicles[s], stops)
        expected = _loads_ok(vehicles[s], stops) and timer.feasible()  # type: ignore[arg-type]
        assert alns.route_feasible(model, s, order) == expected, (s, order)


@pytest.mark.skipif(not HAVE_NUMBA, reason="the ALNS layer only runs with numba")
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(problems(max_requests=6, max_vehicles=3, duty_limits=True))
def test_solver_with_alns_and_duty_limits_passes_the_checker(problem: Problem) -> None:
    problem = _no_breaks(problem)
    solver = OrToolsSolver(SolverParams(time_limit_s=0.5), SearchOptions(alns_min_s=0.0))
    plan = solver.solve(problem)
    report = check_plan(problem, plan)
    assert report.ok, report.summary()


def test_a_vehicle_no_trip_fits_stays_unused() -> None:
    """Ten minutes of continuous driving and no break: no trip fits; the plan is still valid."""
    locs = (Location("D", 0.0, 0.0), Location("A", 1.0, 0.0), Location("B", 2.0, 0.0))
    dur = [[0, 600, 900], [600, 0, 600], [900, 600, 0]]
    v = Vehicle("v", "D", "D", TimeWindow(hm(7, 0), hm(9, 0)), max_driving_s=600)
    r = Request("r", "A", "B", pickup_window=TimeWindow(hm(8, 0), hm(8, 10)))
    p = Problem(locs, dur, dur, (r,), (v,))
    plan = solve(p, FAST)
    assert check_plan(p, plan).ok and plan.rejections[0].reason is Reason.DUTY_LIMIT


def test_a_vehicle_whose_breaks_break_its_driving_rule_does_not_sink_the_day() -> None:
    """The van's two breaks are 7 h apart with 4 h 30 of continuous driving allowed: it can do
    nothing, and the bus still serves the day."""
    p = tiny_problem(
        van={
            "shift": TimeWindow(hm(7, 0), hm(18, 0)),
            "breaks": (
                Break(TimeWindow(hm(8, 0), hm(8, 45)), 45 * M),
                Break(TimeWindow(hm(16, 0), hm(16, 45)), 45 * M),
            ),
            "max_driving_s": 270 * M,
        }
    )
    plan = solve(p, SolverParams(time_limit_s=1.0, solution_limit=50, refinement="none"))
    assert check_plan(p, plan).ok
    assert sorted(plan.served_ids) == ["r1", "r2"] and plan.stats.status.value == "solved"
    assert {r.vehicle_id for r in plan.routes} == {"bus-1"}
