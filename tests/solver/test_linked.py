"""Linked trips (an outbound and its return) on every path: OR-Tools alone, with the ALNS layer,
real-time insertion. Every plan passes the checker, both halves are served or neither, and the
return is picked up after its outbound's drop-off, alighting and stay."""

from __future__ import annotations

import dataclasses
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatcher.model import (
    Location,
    Plan,
    Problem,
    Reason,
    Request,
    SolverParams,
    TimeWindow,
    Vehicle,
)
from dispatcher.solver import alns
from dispatcher.solver.alns_kernels import HAVE_NUMBA
from dispatcher.solver.checker import check_plan
from dispatcher.solver.explain import explain_rejections
from dispatcher.solver.linked import settle_pair, split_s
from dispatcher.solver.live import LiveDay, build_day
from dispatcher.solver.repair import drop_orphans
from dispatcher.solver.routing import OrToolsSolver, SearchOptions
from dispatcher.solver.schedule import RouteTimer, feasible_alone, stop_window
from tests.solver.strategies import build_route, linked_problems

H, M = 3600, 60
SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)


def assert_linked(problem: Problem, plan: Plan) -> None:
    """The rule restated: both or neither, and the return after the outbound and the stay."""
    at = {(v.request_id, v.kind): v.start_s for rt in plan.routes for v in rt.visits}
    served = set(plan.served_ids)
    for o, r in problem.linked_pairs():
        assert (o.id in served) == (r.id in served), (o.id, r.id, sorted(served))
        if o.id in served:
            ready = at[(o.id, "dropoff")] + problem.alighting_s(o) + r.min_stay_s
            assert at[(r.id, "pickup")] >= ready, (o.id, r.id)


# ---- a hand-checked day: A and B 20 min apart ------------------------------------------------


def _day(*requests: Request, vehicles: tuple[Vehicle, ...] | None = None) -> Problem:
    locs = (Location("D", 0.0, 0.0), Location("A", 1.0, 0.0), Location("B", 2.0, 0.0))
    dur = [[0, 600, 1200], [600, 0, 1200], [1200, 1200, 0]]
    dist = [[10 * x for x in row] for row in dur]
    fleet = vehicles or (
        Vehicle("bus", "D", "D", TimeWindow(7 * H, 19 * H)),
        Vehicle("van", "D", "D", TimeWindow(7 * H, 19 * H)),
    )
    return Problem(locs, dur, dist, requests, fleet)


OUT = Request("out", "A", "B", pickup_window=TimeWindow(8 * H, 8 * H + 15 * M))
# the outbound arrives 08:21 at the earliest, 09:06 at the latest (15 min window, 50 min ride)


def test_the_split_narrows_nothing_when_the_return_is_later() -> None:
    back = Request("back", "B", "A", pickup_window=TimeWindow(11 * H, 11 * H + 15 * M))
    p = _day(OUT, dataclasses.replace(back, return_of="out"))
    o, r = p.request("out"), p.request("back")
    assert split_s(p, o, r) == p.dropoff_tw(o).end_s
    assert stop_window(p, o, "dropoff") == p.dropoff_tw(o)
    assert stop_window(p, r, "pickup") == p.pickup_tw(r)


def test_the_split_keeps_the_return_window_when_they_overlap() -> None:
    # a return asked for 08:50-09:05: the outbound must arrive by 08:34 (08:50 - 1 - 15 min)
    back = Request(
        "back", "B", "A", pickup_window=TimeWindow(8 * H + 50 * M, 9 * H + 5 * M), return_of="out"
    )
    p = _day(OUT, back)
    o, r = p.request("out"), p.request("back")
    assert split_s(p, o, r) == 8 * H + 34 * M
    assert stop_window(p, o, "dropoff") == TimeWindow(8 * H + 21 * M, 8 * H + 34 * M)
    assert stop_window(p, r, "pickup") == p.pickup_tw(r)
    plan = OrToolsSolver(SolverParams(time_limit_s=1.0, refinement="none")).solve(p)
    assert check_plan(p, plan).ok and sorted(plan.served_ids) == ["back", "out"]
    assert_linked(p, plan)


def test_settling_a_pair_keeps_the_planned_times_inside() -> None:
    back = Request(
        "back", "B", "A", pickup_window=TimeWindow(8 * H + 30 * M, 9 * H + 30 * M), return_of="out"
    )
    p = _day(OUT, back)
    drop, pick = 8 * H + 40 * M, 9 * H + 20 * M
    got = settle_pair(p, p.request("out"), p.request("back"), drop, pick)
    assert got is not None
    o2, r2 = got
    q = p.with_requests([o2, r2], ["out", "back"])
    assert q.dropoff_tw(o2).contains(drop) and q.pickup_tw(r2).contains(pick)
    # the split is now in the requests' own windows: the solvers' windows are theirs
    assert stop_window(q, o2, "dropoff") == q.dropoff_tw(o2)
    assert stop_window(q, r2, "pickup") == q.pickup_tw(r2)
    assert q.pickup_tw(r2).start_s >= q.dropoff_tw(o2).end_s + 60 + 900
    # a return asked for before the planned arrival and the stay cannot be settled
    assert settle_pair(p, p.request("out"), p.request("back"), 9 * H + 20 * M) is None


def test_a_half_whose_other_half_is_out_of_reach_is_linked_trip_refused() -> None:
    # the return leaves B at 19:30, after every shift: the outbound, feasible alone, goes too
    back = Request("back", "B", "A", pickup_window=TimeWindow(19 * H + 30 * M, 20 * H))
    p = _day(OUT, dataclasses.replace(back, return_of="out"))
    plan = OrToolsSolver(SolverParams(time_limit_s=1.0, refinement="none")).solve(p)
    assert check_plan(p, plan).ok and plan.served_ids == []
    why = {j.request_id: j for j in plan.rejections}
    assert why["back"].reason is not Reason.LINKED_TRIP_REFUSED
    assert why["out"].reason is Reason.LINKED_TRIP_REFUSED
    assert why["out"].details["linked_trip"] == "back"
    assert why["out"].details["linked_reason"] == why["back"].reason.value
    assert "back" in why["out"].message and "back" in why["out"].message_en
    assert why["back"].details["linked_trip"] == "out"  # the refused half names the other
    assert plan.kpis.linked_pairs_refused == 1 and plan.kpis.linked_pairs_served == 0


def test_both_feasible_alone_but_not_together_are_displaced() -> None:
    # refused together while each half is feasible alone (the explanation's counterfactual):
    # displaced, not linked_trip_refused
    back = Request("back", "B", "A", pickup_window=TimeWindow(11 * H, 11 * H + 15 * M))
    p = _day(OUT, dataclasses.replace(back, return_of="out"))
    rej = {j.request_id: j for j in explain_rejections(p, ["out", "back"])}
    assert {j.reason for j in rej.values()} == {Reason.DISPLACED}
    assert rej["out"].details["linked_trip"] == "back"


def test_drop_orphans_takes_the_lone_half_off_its_route() -> None:
    back = Request("back", "B", "A", pickup_window=TimeWindow(11 * H, 11 * H + 15 * M))
    other = Request("x", "A", "B", pickup_window=TimeWindow(9 * H, 9 * H + 15 * M))
    p = _day(OUT, dataclasses.replace(back, return_of="out"), other)
    route = build_route(
        p, "bus", [("out", "pickup"), ("out", "dropoff"), ("x", "pickup"), ("x", "dropoff")]
    )
    routes, gone = drop_orphans(p, [route])
    assert gone == ["out"]
    assert [v.request_id for v in routes[0].visits] == ["x", "x"]


# ---- every path, on generated days -----------------------------------------------------------


@SETTINGS
@given(linked_problems())
def test_ortools_alone_keeps_linked_trips(problem: Problem) -> None:
    solver = OrToolsSolver(SolverParams(time_limit_s=1.0, solution_limit=50, refinement="none"))
    plan = solver.solve(problem)
    report = check_plan(problem, plan)
    assert report.ok, report.summary()
    assert_linked(problem, plan)
    assert sorted(plan.served_ids + plan.refused_ids) == sorted(r.id for r in problem.requests)
    # the reasons are the explainer's, linked_trip_refused included
    expected = {j.request_id: j.reason for j in explain_rejections(problem, plan.refused_ids)}
    assert {j.request_id: j.reason for j in plan.rejections} == expected
    k = plan.kpis
    assert k.linked_pairs_served + k.linked_pairs_refused == len(problem.linked_pairs())


@SETTINGS
@given(linked_problems())
def test_with_the_activity_constraint_too(problem: Problem) -> None:
    """The CP tie of the two pickups' activity (off by default, measured) keeps them as well."""
    solver = OrToolsSolver(
        SolverParams(time_limit_s=1.0, solution_limit=50, refinement="none"),
        SearchOptions(link_activity=True),
    )
    plan = solver.solve(problem)
    assert check_plan(problem, plan).ok
    assert_linked(problem, plan)


@pytest.mark.skipif(not HAVE_NUMBA, reason="the ALNS layer only runs with numba")
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(linked_problems(breaks=False))
def test_the_alns_layer_keeps_linked_trips(problem: Problem) -> None:
    solver = OrToolsSolver(SolverParams(time_limit_s=0.5), SearchOptions(alns_min_s=0.0))
    plan = solver.solve(problem)
    report = check_plan(problem, plan)
    assert report.ok, report.summary()
    assert_linked(problem, plan)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(linked_problems(breaks=False), st.integers(0, 3), st.randoms(use_true_random=False))
def test_alns_repairs_and_destroys_pairs_as_units(
    problem: Problem, seed: int, rnd: random.Random
) -> None:
    """From a start that serves one half of every pair it can (a plan no search would give),
    the search never returns a route with one half alone, and every route it returns can be
    timed."""
    reqs = [
        r
        for r in problem.requests
        if stop_window(problem, r, "pickup") and stop_window(problem, r, "dropoff")
    ]
    vehicles = list(problem.vehicles)
    allowed = [[s for s, v in enumerate(vehicles) if feasible_alone(problem, r, v)] for r in reqs]
    model = alns.build_model(problem, reqs, vehicles, allowed)
    nv = model.nv
    q_of = {r.id: q for q, r in enumerate(reqs)}
    start: list[list[int]] = [[] for _ in vehicles]
    for q, r in enumerate(reqs):
        mate = problem.partner_id(r.id)
        if allowed[q] and (mate is None or rnd.random() < 0.5 or mate not in q_of):
            start[allowed[q][0]] += [2 * nv + 2 * q, 2 * nv + 2 * q + 1]
    res = alns.refine_routes(model, start, 0.0, seed=seed, max_iterations=40)
    on = {(nd - 2 * nv) // 2 for nodes in res.routes for nd in nodes}
    for o, r in problem.linked_pairs():
        if o.id in q_of and r.id in q_of:
            assert (q_of[o.id] in on) == (q_of[r.id] in on), (o.id, r.id)
    for s, nodes in enumerate(res.routes):
        stops = [
            (reqs[(nd - 2 * nv) // 2], "dropoff" if (nd - 2 * nv) % 2 else "pickup") for nd in nodes
        ]
        if stops:
            assert RouteTimer(problem, vehicles[s], stops).feasible()  # type: ignore[arg-type]


@SETTINGS
@given(linked_problems(), st.booleans())
def test_real_time_booking_keeps_linked_trips(problem: Problem, reoptimise: bool) -> None:
    """Booking the day's requests one by one (each outbound before its return): the live day
    passes the checker after every booking, a return is refused with linked_trip_refused when
    its outbound was, and served after its outbound otherwise."""
    day, outcomes = build_day(problem, problem.requests)
    refused = {o.request_id: o for o in outcomes if not o.accepted}
    for r in problem.requests:
        if r.return_of in refused:
            assert refused[r.id].reason is Reason.LINKED_TRIP_REFUSED, refused[r.id]
            assert refused[r.id].details["linked_trip"] == r.return_of
    report = day.check()
    assert report.ok, report.summary()
    assert_linked(day.problem, day.plan)
    if reoptimise and day.plan.routes:
        day.reoptimise(time_limit_s=0.5)
        assert day.check().ok
        assert_linked(day.problem, day.plan)
    # the clock moves on: what is done is pinned, the pairs keep their order
    day.advance(12 * H)
    assert day.check().ok
    assert_linked(day.problem, day.plan)


def test_a_return_booked_before_its_outbound_arrives_is_refused_with_a_later_time() -> None:
    day = LiveDay(_day())
    assert day.book(OUT).accepted
    drop = next(v.start_s for rt in day.plan.routes for v in rt.visits if v.kind == "dropoff")
    early = Request(
        "back",
        "B",
        "A",
        pickup_window=TimeWindow(drop - 10 * M, drop + 10 * M),
        return_of="out",
    )
    out = day.book(early)
    assert not out.accepted and out.reason is Reason.DISPLACED
    assert out.details["linked_trip"] == "out"
    assert out.details["earliest_pickup_s"] == drop + 60 + 900
    assert out.details.get("later_pickup_s", 0) >= drop + 60 + 900
    ok = day.book(dataclasses.replace(early, pickup_window=TimeWindow(drop, drop + 30 * M)))
    assert ok.accepted and day.check().ok
    assert_linked(day.problem, day.plan)
    assert ok.promise is not None and ok.promise.planned_pickup_s >= drop + 60 + 900


def test_cancelling_an_outbound_live_keeps_or_cancels_its_return() -> None:
    back = Request(
        "back", "B", "A", pickup_window=TimeWindow(11 * H, 11 * H + 15 * M), return_of="out"
    )
    for with_return, left in ((False, ["back"]), (True, [])):
        day, outcomes = build_day(_day(), [OUT, back])
        assert all(o.accepted for o in outcomes)
        assert day.cancel("out", with_return=with_return)
        assert sorted(set(day.served)) == left
        assert day.check().ok
        if left:
            assert day.problem.request("back").return_of is None  # a trip of its own
