"""The live day: promises written into the problem, the clock, cancellations, booking rules,
refusals with reasons and alternatives, warm-started re-optimisation."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pytest

from dispatcher.model import Plan, Reason, Request, TimeWindow
from dispatcher.solver.live import BookingRules, LiveDay, check_booking_rules, promise_window

from .conftest import hm, tiny_plan, tiny_problem


def _day(**kw: object) -> LiveDay:
    return LiveDay(replace(tiny_problem(), requests=()), Plan(routes=()), **kw)  # type: ignore[arg-type]


def test_promise_window_contains_the_planned_pickup() -> None:
    allowed = TimeWindow(hm(8, 0), hm(9, 0))
    for planned in (hm(8, 0), hm(8, 3, 7), hm(8, 30), hm(9, 0)):
        w = promise_window(planned, allowed, 600)
        assert w.contains(planned) and allowed.start_s <= w.start_s and w.end_s <= allowed.end_s
        assert w.end_s - w.start_s <= 600 + 60


def test_booking_writes_the_promise_into_the_problem() -> None:
    day = _day(window_s=600)
    r = Request("x", "A", "C", arrive_by_s=hm(10, 0))  # an appointment: wide pickup window
    out = day.book(r)
    assert out.accepted and out.promise is not None
    p = out.promise
    assert p.pickup_window.contains(p.planned_pickup_s)
    assert p.pickup_window.end_s - p.pickup_window.start_s <= 660
    assert p.planned_dropoff_s <= p.latest_arrival_s <= hm(10, 0)
    live = day.problem.request("x")
    assert live.pickup_window == p.pickup_window and live.arrive_by_s == p.latest_arrival_s
    assert day.check().ok


def test_later_bookings_never_break_a_promise() -> None:
    day = _day(window_s=600)
    first = day.book(Request("a", "A", "C", pickup_window=TimeWindow(hm(8, 0), hm(9, 0))))
    assert first.accepted and first.promise is not None
    for k in range(8):
        day.book(
            Request(
                f"b{k}",
                "B",
                "A" if k % 2 else "C",
                pickup_window=TimeWindow(hm(8, 0) + 300 * k, hm(8, 15) + 300 * k),
            )
        )
        assert day.check().ok, day.check().summary()
        pick = next(
            v
            for rt in day.plan.routes
            for v in rt.visits
            if v.request_id == "a" and v.kind == "pickup"
        )
        drop = next(
            v
            for rt in day.plan.routes
            for v in rt.visits
            if v.request_id == "a" and v.kind == "dropoff"
        )
        assert first.promise.pickup_window.contains(pick.start_s)
        assert drop.start_s <= first.promise.latest_arrival_s


def test_refusal_reasons_and_alternatives() -> None:
    day = _day()
    too_big = day.book(
        Request("big", "A", "C", seats=5, pickup_window=TimeWindow(hm(8, 0), hm(8, 15)))
    )
    assert not too_big.accepted and too_big.reason is Reason.GROUP_TOO_LARGE
    # fill bus-1 and van-2 around 08:00 with 3- and 2-seat parties, then ask for one more
    assert day.book(
        Request("f1", "A", "C", seats=3, pickup_window=TimeWindow(hm(8, 0), hm(8, 5)))
    ).accepted
    assert day.book(
        Request("f2", "A", "C", seats=2, pickup_window=TimeWindow(hm(8, 0), hm(8, 5)))
    ).accepted
    out = day.book(Request("late", "A", "C", seats=2, pickup_window=TimeWindow(hm(8, 0), hm(8, 5))))
    assert not out.accepted and out.reason is Reason.DISPLACED
    assert "later_pickup_s" in out.details and out.details["later_pickup_s"] > hm(8, 5)
    assert day.check().ok


def test_advancing_time_pins_the_past_and_new_trips_come_after_now() -> None:
    day = LiveDay(tiny_problem(), tiny_plan(), window_s=900)
    before = day.plan.route("bus-1")
    assert before is not None
    day.advance(hm(8, 12))
    assert day.check().ok, day.check().summary()
    out = day.book(Request("n", "C", "A", pickup_window=TimeWindow(hm(8, 0), hm(9, 0))))
    assert out.accepted and out.promise is not None
    assert out.promise.planned_pickup_s >= hm(8, 12) + day.reaction_s
    after = day.plan.route("bus-1") if out.promise.vehicle_id == "bus-1" else before
    assert after is not None
    assert after.visits[:2] == before.visits[:2]  # the two pickups before 08:12 are untouched
    too_late = day.book(Request("t", "A", "B", pickup_window=TimeWindow(hm(8, 0), hm(8, 15))))
    assert not too_late.accepted and too_late.reason is Reason.BOOKING_CLOSED
    with pytest.raises(ValueError):
        day.cancel("r1")  # already on board
    with pytest.raises(ValueError):
        day.advance(hm(8, 0))
    assert day.check().ok


def test_cancellation_keeps_a_valid_plan() -> None:
    day = LiveDay(tiny_problem(), tiny_plan())
    assert day.cancel("r2")
    assert day.check().ok
    assert day.served == ["r1"]
    assert not day.cancel("nope")


def test_reoptimise_keeps_every_promise() -> None:
    day = _day(window_s=900)
    for k, (a, b) in enumerate([("A", "C"), ("B", "C"), ("C", "A"), ("A", "B"), ("B", "A")]):
        day.book(
            Request(
                f"q{k}", a, b, pickup_window=TimeWindow(hm(8, 0) + 600 * k, hm(8, 30) + 600 * k)
            )
        )
    served = set(day.served)
    cost = day.cost()
    day.reoptimise(time_limit_s=1.0)
    assert set(day.served) == served
    assert day.check().ok
    assert day.cost() <= cost + 1e-6


def test_booking_rules() -> None:
    rules = BookingRules(
        service_days=frozenset({date(2026, 3, 2), date(2026, 3, 3)}), same_day_notice_s=None
    )
    r = Request("x", "A", "C", pickup_window=TimeWindow(hm(9, 0), hm(9, 15)))
    assert check_booking_rules(rules, date(2026, 3, 3), r, datetime(2026, 3, 2, 16, 59)).ok
    late = check_booking_rules(rules, date(2026, 3, 3), r, datetime(2026, 3, 2, 17, 1))
    assert not late.ok and late.rule == "cutoff"
    assert (
        check_booking_rules(rules, date(2026, 3, 4), r, datetime(2026, 3, 1, 9, 0)).rule
        == "calendar"
    )
    assert (
        check_booking_rules(rules, date(2026, 3, 2), r, datetime(2026, 3, 2, 6, 0)).rule
        == "no_same_day"
    )
    same_day = BookingRules(same_day_notice_s=2 * 3600)
    assert check_booking_rules(same_day, date(2026, 3, 2), r, datetime(2026, 3, 2, 6, 59)).ok
    assert (
        check_booking_rules(same_day, date(2026, 3, 2), r, datetime(2026, 3, 2, 7, 30)).rule
        == "notice"
    )
    hours = BookingRules(
        hours_by_weekday={0: TimeWindow(hm(13, 0), hm(18, 0))}
    )  # Mondays: afternoons
    assert (
        check_booking_rules(hours, date(2026, 3, 2), r, datetime(2026, 3, 1, 9, 0)).rule
        == "service_hours"
    )
    day = LiveDay(
        replace(tiny_problem(), requests=(), day=date(2026, 3, 3)), Plan(routes=()), rules=rules
    )
    out = day.book(r, booked_at=datetime(2026, 3, 2, 18, 0))
    assert (
        not out.accepted and out.reason is Reason.BOOKING_CLOSED and out.details["rule"] == "cutoff"
    )
    assert out.message and out.message_en
