"""The OR-Tools model on tiny instances whose answer can be worked out by hand.

Every plan is judged by the independent checker, never by the solver itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatcher.model import (
    Break,
    Location,
    Plan,
    Problem,
    Reason,
    Request,
    ServiceRules,
    SolverParams,
    SolveStatus,
    TimeWindow,
    Vehicle,
)
from dispatcher.solver.checker import check_plan
from dispatcher.solver.repair import reinsert
from dispatcher.solver.routing import OrToolsSolver, SearchOptions, solve
from dispatcher.solver.schedule import feasible_alone, feasible_alone_on_any, schedule_route

H = 3600
KM_S = 60  # 60 km/h: one kilometre takes a minute
FAST = SolverParams(time_limit_s=1.0, solution_limit=200)
RULES = ServiceRules()


def line(points: dict[str, float]) -> tuple[tuple[Location, ...], list[list[int]], list[list[int]]]:
    """Places on a straight road, at the given kilometre marks."""
    locs = tuple(Location(name, float(x), 0.0) for name, x in points.items())
    xs = list(points.values())
    dur = [[int(round(abs(a - b) * KM_S)) for b in xs] for a in xs]
    dist = [[int(round(abs(a - b) * 1000)) for b in xs] for a in xs]
    return locs, dur, dist


def problem(
    requests: Sequence[Request],
    vehicles: Sequence[Vehicle],
    points: dict[str, float] | None = None,
    rules: ServiceRules = RULES,
    params: SolverParams = FAST,
) -> Problem:
    locs, dur, dist = line(points or {"D": 0, "A": 1, "B": 2, "C": 3, "E": 4, "F": 10, "G": 30})
    return Problem(locs, dur, dist, tuple(requests), tuple(vehicles), rules=rules, params=params)


def assert_valid(p: Problem, plan: Plan) -> None:
    report = check_plan(p, plan)
    assert report.ok, report.summary()


def order(plan: Plan, vehicle_id: str) -> list[tuple[str, str]]:
    route = plan.route(vehicle_id)
    assert route is not None
    return [(v.request_id, v.kind) for v in route.visits]


def pw(start_h: float, minutes: int = 15) -> TimeWindow:
    s = int(start_h * H)
    return TimeWindow(s, s + minutes * 60)


BUS = Vehicle("bus", "D", "D", TimeWindow(7 * H, 12 * H), seats=8)


def test_two_requests_on_a_line_share_the_ride() -> None:
    # r1 A(1 km) -> C(3 km), r2 B(2 km) -> E(4 km), both asked for 08:00-08:15. The only 8 km
    # tour is D A B C E D. Nobody waits on board (every leg 1 minute, every service 1 minute)
    # and, all else equal, the first pickup is on time at 08:00.
    p = problem(
        [
            Request("r1", "A", "C", pickup_window=pw(8)),
            Request("r2", "B", "E", pickup_window=pw(8)),
        ],
        [BUS],
    )
    plan = solve(p)
    assert_valid(p, plan)
    assert order(plan, "bus") == [
        ("r1", "pickup"),
        ("r2", "pickup"),
        ("r1", "dropoff"),
        ("r2", "dropoff"),
    ]
    route = plan.route("bus")
    assert route is not None
    assert [v.start_s for v in route.visits] == [28800, 28920, 29040, 29160]
    assert route.start_s == 28800 - 60 and route.end_s == 29160 + 60 + 240
    assert [v.ride_time_s for v in route.visits if v.kind == "dropoff"] == [180, 180]
    assert route.distance_m == 8000
    assert plan.rejections == () and plan.kpis.served == 2 and plan.kpis.vehicle_km == 8.0


def test_pickup_is_delayed_rather_than_waiting_with_a_passenger_on_board() -> None:
    # r1 may be picked up at A from 08:00 to 08:30, r2 at B (1 km further) only from 08:30.
    # Picking r1 up at 08:00 would keep them waiting on board for half an hour: the pickup
    # is delayed to 08:28 so that the bus reaches B at 08:30 exactly.
    reqs = [
        Request("r1", "A", "C", pickup_window=pw(8, 30)),
        Request("r2", "B", "E", pickup_window=pw(8.5, 15)),
    ]
    p = problem(reqs, [BUS])
    plan = solve(p)
    assert_valid(p, plan)
    assert order(plan, "bus") == [
        ("r1", "pickup"),
        ("r2", "pickup"),
        ("r1", "dropoff"),
        ("r2", "dropoff"),
    ]
    route = plan.route("bus")
    assert route is not None
    assert [v.start_s for v in route.visits[:2]] == [int(8.5 * H) - 120, int(8.5 * H)]
    assert [v.ride_time_s for v in route.visits if v.kind == "dropoff"] == [180, 180]


def test_wheelchair_request_goes_to_the_wheelchair_vehicle_even_if_farther() -> None:
    car = Vehicle("car", "A", "A", TimeWindow(7 * H, 12 * H), seats=4, wheelchairs=0, kind="car")
    tpmr = Vehicle("tpmr", "G", "G", TimeWindow(7 * H, 12 * H), seats=4, wheelchairs=1)
    reqs = [
        Request("wc", "B", "C", seats=0, wheelchairs=1, pickup_window=pw(9, 30)),
        Request("seated", "A", "B", pickup_window=pw(8, 10)),
    ]
    p = problem(reqs, [car, tpmr])
    plan = solve(p)
    assert_valid(p, plan)
    assert order(plan, "tpmr") == [
        ("wc", "pickup"),
        ("wc", "dropoff"),
    ]  # 28 km away, the only one fit
    assert order(plan, "car") == [
        ("seated", "pickup"),
        ("seated", "dropoff"),
    ]  # the car is next door
    # without the TPMR the wheelchair user is refused, for the right reason
    p2 = problem(reqs, [car])
    plan2 = solve(p2)
    assert_valid(p2, plan2)
    assert [(j.request_id, j.reason) for j in plan2.rejections] == [
        ("wc", Reason.NO_COMPATIBLE_VEHICLE)
    ]


def test_group_larger_than_any_vehicle_is_refused_and_the_others_served() -> None:
    buses = [Vehicle(f"bus{k}", "D", "D", TimeWindow(7 * H, 12 * H), seats=8) for k in range(2)]
    reqs = [
        Request("big", "A", "C", seats=9, pickup_window=pw(8)),
        Request("r1", "A", "C", seats=3, pickup_window=pw(8)),
        Request("r2", "B", "E", seats=5, pickup_window=pw(8)),
    ]
    p = problem(reqs, buses)
    plan = solve(p)
    assert_valid(p, plan)
    assert sorted(plan.served_ids) == ["r1", "r2"]
    assert [(j.request_id, j.reason) for j in plan.rejections] == [("big", Reason.GROUP_TOO_LARGE)]
    assert plan.rejections[0].message  # French message for operators


def test_a_break_that_must_be_taken_between_two_trips() -> None:
    # 30 min break in 09:00-09:45; trips at 08:30 and 09:45 with a 1 km hop: the break can only
    # sit between the two trips (or the route would overflow a window).
    bus = Vehicle(
        "bus",
        "D",
        "D",
        TimeWindow(8 * H, 11 * H),
        breaks=(Break(TimeWindow(9 * H, int(9.75 * H)), 1800),),
    )
    reqs = [
        Request("am", "A", "F", pickup_window=pw(8.5, 10)),
        Request("late", "F", "A", pickup_window=pw(9.75, 5)),
    ]
    p = problem(reqs, [bus])
    plan = solve(p)
    assert_valid(p, plan)
    route = plan.route("bus")
    assert route is not None and len(route.breaks) == 1
    b = route.breaks[0]
    assert b.start_s >= 9 * H and b.start_s + 1800 <= int(9.75 * H)
    assert b.after == 1  # after the drop-off of "am", before the pickup of "late"
    assert order(plan, "bus") == [
        ("am", "pickup"),
        ("am", "dropoff"),
        ("late", "pickup"),
        ("late", "dropoff"),
    ]


def test_breaks_are_taken_even_on_short_days() -> None:
    bus = Vehicle(
        "bus",
        "D",
        "D",
        TimeWindow(7 * H, 14 * H),
        breaks=(Break(TimeWindow(12 * H, 13 * H), 1800),),
    )
    p = problem([Request("r", "A", "C", pickup_window=pw(8))], [bus])
    plan = solve(p)
    assert_valid(p, plan)
    route = plan.route("bus")
    assert route is not None and len(route.breaks) == 1 and route.end_s >= 12 * H + 1800


def test_appointment_is_kept_and_the_passenger_not_dropped_needlessly_early() -> None:
    # Appointment at F (10 km) at 10:00 from B (2 km): 8 min drive.
    p = problem([Request("appt", "B", "F", arrive_by_s=10 * H)], [BUS])
    plan = solve(p)
    assert_valid(p, plan)
    route = plan.route("bus")
    assert route is not None
    pick, drop = route.visits
    assert drop.start_s == 10 * H  # no reason to arrive earlier than the appointment
    assert drop.ride_time_s == 8 * 60  # and no reason to ride longer than direct
    assert pick.start_s == 10 * H - 8 * 60 - 60


def test_ride_time_limit_holds_when_sharing_would_be_cheaper() -> None:
    # r1 A->B is a 1 min trip (max ride 11 min); r2 G->A 29 min away, same times. Sharing the
    # ride (A, G, ..., B) would be absurd for r1; the plan must never exceed max ride.
    rules = ServiceRules(ride_alpha=1.0, ride_beta_s=120, max_detour_s=120)
    reqs = [
        Request("r1", "A", "C", pickup_window=pw(8, 60)),
        Request("r2", "B", "E", pickup_window=pw(8, 60)),
        Request("r3", "E", "A", pickup_window=pw(8, 60)),
    ]
    p = problem(reqs, [BUS], rules=rules)
    plan = solve(p)
    assert_valid(p, plan)
    assert sorted(plan.served_ids) == ["r1", "r2", "r3"]
    for route in plan.routes:
        for v in route.visits:
            if v.kind == "dropoff":
                r = p.request(v.request_id)
                assert v.ride_time_s is not None and v.ride_time_s <= p.max_ride_s(r)


def test_impossible_request_is_refused_with_a_reason_and_the_others_are_served() -> None:
    reqs = [
        Request(
            "night", "A", "C", pickup_window=TimeWindow(22 * H, 22 * H + 900)
        ),  # outside 06:00-20:00
        Request(
            "early", "G", "A", pickup_window=TimeWindow(7 * H, 7 * H + 60)
        ),  # G is 30 min from the 07:00 depot
        Request("ok", "A", "C", pickup_window=pw(9)),
    ]
    p = problem(reqs, [BUS])
    plan = solve(p)
    assert_valid(p, plan)
    assert plan.served_ids == ["ok"]
    reasons = {j.request_id: j.reason for j in plan.rejections}
    assert reasons["night"] == Reason.OUTSIDE_SERVICE_HOURS
    assert reasons["early"] == Reason.PICKUP_UNREACHABLE


def test_too_many_requests_for_one_vehicle_refuses_some_as_displaced() -> None:
    # Three trips at the same quarter hour to places 30 km apart: one bus serves one of them.
    reqs = [
        Request("x", "D", "G", pickup_window=pw(8)),
        Request("y", "G", "D", pickup_window=pw(8)),
        Request("z", "F", "G", pickup_window=pw(8), priority=3),
    ]
    p = problem(reqs, [BUS])
    plan = solve(p)
    assert_valid(p, plan)
    assert "z" in plan.served_ids  # the priority request wins
    assert len(plan.rejections) >= 1
    assert all(j.reason == Reason.DISPLACED for j in plan.rejections)


def test_no_vehicle_and_no_request_give_valid_plans() -> None:
    p = problem([Request("r", "A", "C", pickup_window=pw(8))], [])
    plan = solve(p)
    assert_valid(p, plan)
    assert plan.routes == () and plan.refused_ids == ["r"]
    p2 = problem([], [BUS])
    plan2 = solve(p2)
    assert_valid(p2, plan2)
    assert plan2.routes == () and plan2.rejections == ()
    assert plan2.stats.status is SolveStatus.NO_REQUESTS


def test_vehicle_whose_break_does_not_fit_its_shift_is_not_used() -> None:
    tired = Vehicle(
        "tired",
        "A",
        "A",
        TimeWindow(7 * H, 9 * H),
        breaks=(Break(TimeWindow(12 * H, 13 * H), 1800),),
    )
    p = problem([Request("r", "A", "C", pickup_window=pw(8))], [tired, BUS])
    plan = solve(p)
    assert_valid(p, plan)
    assert plan.route("tired") is None and plan.served_ids == ["r"]


def test_same_parameters_and_solution_limit_give_the_same_plan() -> None:
    reqs = [
        Request(f"r{k}", a, b, pickup_window=pw(8 + 0.25 * (k % 4), 20))
        for k, (a, b) in enumerate(
            [("A", "F"), ("B", "G"), ("C", "D"), ("F", "A"), ("G", "B"), ("E", "C"), ("D", "F")]
        )
    ]
    fleet = [Vehicle(f"v{k}", "D", "D", TimeWindow(7 * H, 12 * H), seats=4) for k in range(2)]
    params = SolverParams(time_limit_s=30.0, solution_limit=60, seed=7)
    p = problem(reqs, fleet, params=params)
    a, b = solve(p), solve(p)
    assert_valid(p, a)
    assert a.routes == b.routes and a.rejections == b.rejections
    assert a.stats.objective == b.stats.objective


def test_effort_zero_returns_the_first_plan() -> None:
    params = SolverParams(time_limit_s=None, effort=0)
    reqs = [
        Request("r1", "A", "C", pickup_window=pw(8)),
        Request("r2", "B", "E", pickup_window=pw(8)),
    ]
    p = problem(reqs, [BUS], params=params)
    solver = OrToolsSolver()
    plan = solver.solve(p)
    assert_valid(p, plan)
    assert len(solver.trace.solutions) == 1
    assert (
        plan.stats.first_solution_s is not None
        and plan.stats.first_solution_s <= plan.stats.total_s
    )


def test_explicit_params_override_the_problem_params() -> None:
    p = problem(
        [Request("r1", "A", "C", pickup_window=pw(8))],
        [BUS],
        params=SolverParams(time_limit_s=60.0),
    )
    solver = OrToolsSolver(SolverParams(time_limit_s=0.0))
    plan = solver.solve(p)
    assert_valid(p, plan)
    assert plan.stats.total_s < 30  # a 60 s search would not have stopped after one solution
    assert len(solver.trace.solutions) == 1


def test_schedule_route_refuses_an_order_that_breaks_the_ride_rule() -> None:
    rules = ServiceRules(ride_alpha=1.0, ride_beta_s=60, max_detour_s=60)
    r1 = Request("r1", "A", "B", pickup_window=pw(8, 60))
    r2 = Request("r2", "G", "E", pickup_window=pw(8, 60))
    p = problem([r1, r2], [BUS], rules=rules)
    bad = [(r1, "pickup"), (r2, "pickup"), (r1, "dropoff"), (r2, "dropoff")]
    assert schedule_route(p, BUS, bad) is None  # r1 would ride 30 km around
    good = [(r1, "pickup"), (r1, "dropoff"), (r2, "pickup"), (r2, "dropoff")]
    assert schedule_route(p, BUS, good) is not None
    assert feasible_alone(p, r1, BUS) and feasible_alone(p, r2, BUS)
    assert not feasible_alone(p, Request("g", "A", "B", seats=9, pickup_window=pw(8)), BUS)


# --------------------------------------------------------------------------------------------
# Random tiny instances: whatever the solver returns, the checker accepts it, and every
# request is either served or refused with a reason.
# --------------------------------------------------------------------------------------------

PLACES = {"D": 0, "A": 1, "B": 2, "C": 3, "E": 4, "F": 10, "G": 30}


@st.composite
def tiny_problems(draw: st.DrawFn) -> Problem:
    names = list(PLACES)
    n_req = draw(st.integers(1, 6))
    reqs = []
    for k in range(n_req):
        a = draw(st.sampled_from(names))
        b = draw(st.sampled_from([x for x in names if x != a]))
        wc = draw(st.integers(0, 1))
        seats = draw(st.integers(0 if wc else 1, 3))
        start = draw(st.integers(6 * 4, 19 * 4)) * 900
        if draw(st.booleans()):
            reqs.append(
                Request(
                    f"r{k}",
                    a,
                    b,
                    seats=seats,
                    wheelchairs=wc,
                    pickup_window=TimeWindow(start, start + 900),
                )
            )
        else:
            reqs.append(
                Request(f"r{k}", a, b, seats=seats, wheelchairs=wc, arrive_by_s=start + 1800)
            )
    vehicles = []
    for k in range(draw(st.integers(1, 3))):
        s = draw(st.integers(6, 12)) * H
        e = s + draw(st.integers(2, 8)) * H
        brk: tuple[Break, ...] = ()
        if draw(st.booleans()):
            bs = draw(st.integers(s // 900, e // 900 - 2)) * 900
            brk = (Break(TimeWindow(bs, bs + 3600), 1200),)
        vehicles.append(
            Vehicle(
                f"v{k}",
                draw(st.sampled_from(names)),
                draw(st.sampled_from(names)),
                TimeWindow(s, e),
                seats=draw(st.integers(2, 8)),
                wheelchairs=draw(st.integers(0, 1)),
                breaks=brk,
            )
        )
    return problem(reqs, vehicles, params=SolverParams(time_limit_s=1.0, solution_limit=30))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_problems())
def test_random_tiny_problems_give_checked_plans(p: Problem) -> None:
    plan = solve(p)
    assert_valid(p, plan)
    assert sorted(plan.served_ids + plan.refused_ids) == sorted(r.id for r in p.requests)
    # a request refused as displaced was feasible alone: some vehicle can take it on its own
    for j in plan.rejections:
        alone = feasible_alone_on_any(p, p.request(j.request_id))
        assert alone == (j.reason == Reason.DISPLACED), (j, alone)


@pytest.mark.parametrize("strategy", ["PATH_CHEAPEST_ARC", "LOCAL_CHEAPEST_INSERTION", "SAVINGS"])
def test_first_solution_strategies_all_give_checked_plans(strategy: str) -> None:
    reqs = [
        Request("r1", "A", "C", pickup_window=pw(8)),
        Request("r2", "B", "E", pickup_window=pw(8)),
    ]
    p = problem(
        reqs,
        [BUS],
        params=SolverParams(time_limit_s=0.5, first_solution=strategy, solution_limit=20),
    )
    plan = solve(p)
    assert_valid(p, plan)
    assert sorted(plan.served_ids) == ["r1", "r2"]


# ---- the search options around the model: a portfolio of first-solution heuristics, the
# re-insertion of refused requests after the search, and the model variants measured in the
# benchmarks ------------------------------------------------------------------------------------

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
    plan = OrToolsSolver(
        SolverParams(time_limit_s=1.0, solution_limit=100), SearchOptions(portfolio_min_s=5.0)
    ).solve(p)
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
    plan = OrToolsSolver(
        SolverParams(time_limit_s=1.0, solution_limit=100), SearchOptions(reinsert=False)
    ).solve(p)
    assert served(plan) == {r.id for r in p.requests}
    # take r3 out of its route (re-timed by removing it), as if the search had left it out
    from dispatcher.solver.insertion import remove_from_plan

    without = remove_from_plan(p, plan, "r3")
    assert "r3" not in served(without)
    routes, left, objective = reinsert(
        p, list(without.routes), ["r3"], 100.0 + p.weights.refusal_penalty
    )
    assert left == []
    back = Plan(routes=tuple(routes))
    assert "r3" in served(back)
    assert check_plan(p, back).ok
    assert objective < p.weights.refusal_penalty  # the refusal penalty is gone from the objective


def test_reinsert_leaves_what_cannot_fit() -> None:
    # one bus, two trips at the same time in opposite directions 20 km apart: only one fits
    reqs = [
        Request("a", "A", "G", pickup_window=pw(8, 5)),
        Request("b", "G", "A", pickup_window=pw(8, 5)),
    ]
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
        SearchOptions(
            first_solution="LOCAL_CHEAPEST_INSERTION", neighbors_ratio=0.5, min_neighbors=3
        ),
    ],
)
def test_model_variants_give_valid_plans(opts: SearchOptions) -> None:
    p = day()
    plan = OrToolsSolver(SolverParams(time_limit_s=1.0, solution_limit=100), opts).solve(p)
    report = check_plan(p, plan)
    assert report.ok, report.summary()
    assert served(plan) == {r.id for r in p.requests}
