"""Refusal reasons on crafted variants of the tiny instance (see conftest), their order, and
the witnesses behind "feasible alone" checked by the independent checker."""

from __future__ import annotations

import json

import pytest

from dispatcher.errors import NotFoundError
from dispatcher.model import Break, Plan, Problem, Reason, Rejection, ServiceRules, TimeWindow
from dispatcher.solver.checker import check_plan
from dispatcher.solver.explain import (
    UNREACHABLE_S,
    alone_report,
    alone_route,
    explain_rejections,
)
from dispatcher.solver.schedule import feasible_alone_on_any
from tests.solver.conftest import DURATIONS, hm, tiny_problem


def reason(problem: Problem, rid: str = "r1") -> Reason | None:
    return alone_report(problem, problem.request(rid)).reason


def witness_ok(problem: Problem, rid: str, vid: str, pickup_s: int | None = None) -> bool:
    """The alone route for (rid, vid) passes the checker, the other requests refused."""
    route = alone_route(problem, problem.request(rid), problem.vehicle(vid), pickup_s)
    if route is None:
        return False
    others = tuple(Rejection(r.id, Reason.DISPLACED, "") for r in problem.requests if r.id != rid)
    report = check_plan(problem, Plan((route,), others))
    assert report.ok, report.summary()
    return True


def test_displaced_when_feasible_alone(problem: Problem) -> None:
    rep = alone_report(problem, problem.request("r1"))
    assert rep.feasible and rep.reason is None and rep.refusal_reason is Reason.DISPLACED
    assert rep.vehicles == ("bus-1", "van-2")
    assert rep.details["earliest_pickup_s"] == hm(8, 0)
    assert rep.details["latest_pickup_s"] == hm(8, 15)
    assert feasible_alone_on_any(problem, problem.request("r1"))
    for vid in rep.vehicles:
        assert witness_ok(problem, "r1", vid)
        assert witness_ok(problem, "r1", vid, hm(8, 15))


def test_outside_service_hours() -> None:
    assert (
        reason(tiny_problem(r1={"pickup_window": TimeWindow(hm(5, 0), hm(5, 15))}))
        is Reason.OUTSIDE_SERVICE_HOURS
    )
    # the pickup is in the hours but the drop-off can only be after 20:00
    late = tiny_problem(
        r1={"pickup_window": TimeWindow(hm(19, 50), hm(19, 59))},
        bus={"shift": TimeWindow(hm(7, 0), hm(23, 0))},
    )
    assert reason(late) is Reason.OUTSIDE_SERVICE_HOURS
    rules = ServiceRules(service_hours=TimeWindow(hm(6, 0), hm(21, 0)))
    assert (
        reason(
            tiny_problem(
                r1={"pickup_window": TimeWindow(hm(19, 50), hm(19, 59))},
                bus={"shift": TimeWindow(hm(7, 0), hm(23, 0))},
                rules=rules,
            )
        )
        is None
    )


def test_group_too_large() -> None:
    assert reason(tiny_problem(r1={"seats": 4})) is Reason.GROUP_TOO_LARGE
    assert reason(tiny_problem(r1={"seats": 3})) is None  # the bus has 3 seats
    assert reason(tiny_problem(r1={"seats": 0, "wheelchairs": 2})) is Reason.GROUP_TOO_LARGE


def test_no_compatible_vehicle() -> None:
    # the van (the only vehicle with a wheelchair place) is off duty in the afternoon
    p = tiny_problem(
        r1={"wheelchairs": 1, "pickup_window": TimeWindow(hm(14, 0), hm(14, 15))},
        bus={"shift": TimeWindow(hm(7, 0), hm(18, 0))},
    )
    assert reason(p) is Reason.NO_COMPATIBLE_VEHICLE
    # in the morning it is on duty
    assert reason(tiny_problem(r1={"wheelchairs": 1})) is None
    # no vehicle has a wheelchair place at all
    assert (
        reason(tiny_problem(r1={"wheelchairs": 1}, with_van=False)) is Reason.NO_COMPATIBLE_VEHICLE
    )
    # 3 seats and a wheelchair: the bus has the seats, the van the place, none both
    assert reason(tiny_problem(r1={"seats": 3, "wheelchairs": 1})) is Reason.NO_COMPATIBLE_VEHICLE


def test_no_road() -> None:
    cut = [row[:] for row in DURATIONS]
    cut[1][3] = UNREACHABLE_S  # A -> C
    assert reason(tiny_problem(durations=cut)) is Reason.NO_ROAD
    depot_cut = [row[:] for row in DURATIONS]
    depot_cut[0][1] = -1  # D -> A
    assert reason(tiny_problem(durations=depot_cut)) is Reason.NO_ROAD


def test_ride_time_rule() -> None:
    assert reason(tiny_problem(r1={"max_ride_s": 899})) is Reason.RIDE_TIME_RULE
    assert reason(tiny_problem(r1={"max_ride_s": 900})) is None


def test_pickup_unreachable() -> None:
    p = tiny_problem(r1={"pickup_window": TimeWindow(hm(7, 0), hm(7, 5))})
    rep = alone_report(p, p.request("r1"))
    assert rep.reason is Reason.PICKUP_UNREACHABLE
    assert rep.details["earliest_arrival_s"] == hm(7, 10)
    assert rep.details["nearest_pickup_s"] == hm(7, 10)
    # ten minutes later it is reachable
    assert reason(tiny_problem(r1={"pickup_window": TimeWindow(hm(7, 0), hm(7, 10))})) is None


def test_shift_too_short() -> None:
    # pickup 11:40 at the earliest: drop-off 11:56, alight, 20 min back: 12:17 > 12:00
    p = tiny_problem(r1={"pickup_window": TimeWindow(hm(11, 40), hm(11, 45))})
    rep = alone_report(p, p.request("r1"))
    assert rep.reason is Reason.SHIFT_TOO_SHORT
    # latest feasible alone: p + 60 + 900 + 60 + 1200 <= 12:00
    assert rep.details["nearest_pickup_s"] == hm(11, 23)
    rej = explain_rejections(p, ["r1"])[0]
    assert "11:23" in rej.message and "11:23" in rej.message_en


def test_breaks_decide_exactly() -> None:
    # a 30 min break that fills 08:00-08:30 leaves no room around a pickup at 08:00-08:15
    tight = tiny_problem(
        bus={"breaks": (Break(TimeWindow(hm(8, 0), hm(8, 30)), 1800),)}, with_van=False
    )
    assert reason(tight) is Reason.SHIFT_TOO_SHORT
    # with 08:00-09:00 it fits after the drop-off, if the drop-off ends by 08:30: pickup <= 08:13
    loose = tiny_problem(
        bus={"breaks": (Break(TimeWindow(hm(8, 0), hm(9, 0)), 1800),)}, with_van=False
    )
    rep = alone_report(loose, loose.request("r1"))
    assert rep.feasible and rep.details["latest_pickup_s"] == hm(8, 13)
    assert witness_ok(loose, "r1", "bus-1", hm(8, 13))
    assert alone_route(loose, loose.request("r1"), loose.vehicle("bus-1"), hm(8, 13, 1)) is None
    # a break during the ride would make it 45 min > 1950 s: not allowed
    route = alone_route(loose, loose.request("r1"), loose.vehicle("bus-1"))
    assert route is not None and [b.after for b in route.breaks] == [1]


def test_classification_order() -> None:
    # outside the hours AND too large: hours first
    assert (
        reason(tiny_problem(r1={"seats": 9, "pickup_window": TimeWindow(hm(5, 0), hm(5, 10))}))
        is Reason.OUTSIDE_SERVICE_HOURS
    )
    # too large AND wheelchair without vehicle: group first
    assert (
        reason(tiny_problem(r1={"seats": 9, "wheelchairs": 1}, with_van=False))
        is Reason.GROUP_TOO_LARGE
    )
    # no road AND ride rule: road first
    cut = [row[:] for row in DURATIONS]
    cut[1][3] = UNREACHABLE_S
    assert reason(tiny_problem(durations=cut, r1={"max_ride_s": 10})) is Reason.NO_ROAD
    # ride rule AND unreachable pickup: ride rule first
    assert (
        reason(
            tiny_problem(r1={"max_ride_s": 800, "pickup_window": TimeWindow(hm(7, 0), hm(7, 5))})
        )
        is Reason.RIDE_TIME_RULE
    )
    # unreachable pickup AND shift too short: pickup first
    p = tiny_problem(
        r1={"pickup_window": TimeWindow(hm(7, 0), hm(7, 5))},
        bus={"shift": TimeWindow(hm(7, 0), hm(7, 20))},
        with_van=False,
    )
    assert reason(p) is Reason.PICKUP_UNREACHABLE


def test_explain_rejections_messages(problem: Problem) -> None:
    p = tiny_problem(r2={"seats": 5})
    rejs = explain_rejections(p, ["r2", "r1"])
    assert [r.request_id for r in rejs] == ["r2", "r1"]
    assert rejs[0].reason is Reason.GROUP_TOO_LARGE
    assert rejs[0].message.startswith("Groupe plus grand") and "5 place(s)" in rejs[0].message
    assert rejs[0].message_en.startswith("Group larger")
    assert rejs[1].reason is Reason.DISPLACED
    assert "entre 08:00 et 08:15" in rejs[1].message
    assert "between 08:00 and 08:15" in rejs[1].message_en
    for r in rejs:
        json.dumps(dict(r.details))
    with pytest.raises(NotFoundError):
        explain_rejections(p, ["nope"])


def test_explain_with_a_plan_names_busy_vehicles(problem: Problem, plan: Plan) -> None:
    rej = explain_rejections(problem, ["r1"], plan)[0]
    assert rej.reason is Reason.DISPLACED
    assert rej.details["busy_vehicles"] == ["bus-1"]


def test_appointment(problem: Problem) -> None:
    p = tiny_problem(r1={"pickup_window": None, "arrive_by_s": hm(9, 0)})
    rep = alone_report(p, p.request("r1"))
    assert rep.feasible
    # arrive by 09:00 riding direct: pickup at 08:44 at the latest
    assert rep.details["latest_pickup_s"] == hm(8, 44)
    assert witness_ok(p, "r1", "van-2", hm(8, 44))
