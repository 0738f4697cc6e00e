"""Property tests of following the day (``dispatcher.solver.tracking``) over generated event
streams, in order, out of order, replayed and contradictory: the live plan from the current
state on always passes the independent checker, positions and done visits never move back,
nobody is carried beyond the seats, and a contradiction is refused, never applied."""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from dispatcher.model import Plan, Problem
from dispatcher.solver.insertion import locked_prefix
from dispatcher.solver.live import build_day
from dispatcher.solver.tracking import (
    Event,
    EventRejected,
    FleetState,
    apply_event,
    as_lived,
    settle,
    vehicle_live,
)

from .strategies import problems


def candidate_events(problem: Problem, plan: Plan, draw: st.DrawFn) -> list[Event]:
    """Events a day could send: each visit's boarding, no-show or drop-off near its planned
    time (noise of up to 20 minutes either way), pings (near the visits, and anywhere at any
    time), delays, the odd breakdown, and contradictions (a drop-off or a boarding on the wrong
    vehicle)."""
    out: list[Event] = []
    noise = st.integers(-1200, 1200)
    ids = [r.id for r in problem.requests]
    for rt in plan.routes:
        for v in rt.visits:
            t = max(0, v.start_s + draw(noise))
            if v.kind == "pickup":
                kind = draw(st.sampled_from(["boarded", "boarded", "boarded", "no_show"]))
                extra = draw(st.sampled_from([None, 1, 2, 3]))
                out.append(Event(rt.vehicle_id, kind, t, v.request_id, passengers=extra))
            else:
                out.append(Event(rt.vehicle_id, "dropped_off", t, v.request_id))
            loc = problem.location(v.location_id)
            out.append(Event(rt.vehicle_id, "position", t + 30, lon=loc.lon, lat=loc.lat))
        for _ in range(draw(st.integers(0, 3))):  # a ping anywhere, at any time of the route
            loc = draw(st.sampled_from(problem.locations))
            t = draw(st.integers(rt.start_s, max(rt.start_s, rt.end_s + 3600)))
            out.append(Event(rt.vehicle_id, "position", t, lon=loc.lon, lat=loc.lat))
        if draw(st.booleans()):
            t = draw(st.integers(rt.start_s, max(rt.start_s, rt.end_s)))
            out.append(Event(rt.vehicle_id, "delayed", t, delay_s=draw(st.integers(0, 3600))))
        if draw(st.integers(0, 5)) == 0:
            t = draw(st.integers(rt.start_s, max(rt.start_s, rt.end_s)))
            out.append(Event(rt.vehicle_id, "unavailable", t))
        if ids:
            other = draw(st.sampled_from(ids))
            t = draw(st.integers(rt.start_s, max(rt.start_s, rt.end_s)))
            out.append(
                Event(rt.vehicle_id, draw(st.sampled_from(["dropped_off", "boarded"])), t, other)
            )
    return out


@st.composite
def days_and_streams(draw: st.DrawFn) -> tuple[Problem, Plan, list[Event]]:
    problem = draw(problems(max_requests=7, max_vehicles=3))
    day, _ = build_day(problem, problem.requests, window_s=600, reaction_s=300)
    events = candidate_events(day.problem, day.plan, draw)
    order = draw(st.sampled_from(["in order", "shuffled", "replayed"]))
    if order == "in order":
        events.sort(key=lambda e: e.time_s)
    else:
        events = draw(st.permutations(events))
    if order == "replayed" and events:
        events = events + draw(st.lists(st.sampled_from(events), max_size=6))
    return day.problem, day.plan, events


def assert_lived_from_events(problem: Problem, plan: Plan, state: FleetState, now: int) -> None:
    """What a booking inserts from (``as_lived``): routes in time order, and what is done for
    the insertion (started before now) is what the events say, not the clock."""
    lived = as_lived(problem, plan, state, now)
    for rt, rl in zip(plan.routes, lived.routes, strict=True):
        vs = state.of(rt.vehicle_id)
        done = [vs.done(x.request_id, x.kind) for x in rt.visits]
        starts = [x.start_s for x in rl.visits]
        assert starts == sorted(starts), "a re-stamped route out of time order"
        if vs.has_events and vs.unavailable_from is None and done == sorted(done)[::-1]:
            assert locked_prefix(rl, now) == sum(done), (done, starts, now)


@settings(
    max_examples=60,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # shrinking these takes minutes
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(days_and_streams())
def test_any_event_stream_keeps_the_live_plan_valid(
    day: tuple[Problem, Plan, list[Event]],
) -> None:
    problem, plan, events = day
    state = FleetState()
    now = 0
    handed_on: set[str] = set()
    for ev in events:
        before = state.copy()
        try:
            state = apply_event(state, problem, plan, ev)
        except EventRejected as e:
            assert e.message
            assert state.to_dict() == before.to_dict(), "a refused event changed the state"
            continue
        now = max(now, ev.time_s)
        # what the vehicle can no longer hold is taken off it (the service hands it on or
        # refuses it): never a rider on board, never a visit done. A position ping takes the
        # service's light path: settled only when the vehicle's live plan from where it now
        # stands fails the checker (Operations._ping_held)
        removed: list[str] = []
        if (
            ev.type != "position"
            or not vehicle_live(problem, plan, state, ev.vehicle_id, now).holds
        ):
            problem, plan, removed = settle(problem, plan, state, ev.vehicle_id, now)
        for rid in removed:
            assert all(rid not in vs.boarded for vs in state.vehicles.values())
        handed_on |= set(removed)
        for vid, old in before.vehicles.items():
            new = state.of(vid)
            # done visits are never moved back
            assert set(old.boarded) <= set(new.boarded)
            assert set(old.dropped) <= set(new.dropped)
            assert set(old.no_shows) <= set(new.no_shows)
            assert all(new.boarded[r] == old.boarded[r] for r in old.boarded)
            # nor positions, nor the last stop
            if old.position is not None:
                assert new.position is not None and new.position[2] >= old.position[2]
            if old.stop is not None:
                assert new.stop is not None and new.stop[1] >= old.stop[1]
        for vid, vs in state.vehicles.items():
            v = problem.vehicle(vid)
            seated = sum(max(0, n - problem.request(r).wheelchairs) for r, n in vs.on_board.items())
            assert seated <= v.seats
            assert not set(vs.no_shows) & set(vs.boarded)
            assert set(vs.dropped) <= set(vs.boarded)
        assert_lived_from_events(problem, plan, state, now)
        for rt in plan.routes:
            lv = vehicle_live(problem, plan, state, rt.vehicle_id, now)
            vs = state.of(rt.vehicle_id)
            todo = [x for x in rt.visits if not vs.done(x.request_id, x.kind)]
            if lv.status == "unavailable":
                assert lv.residual is None
                continue
            if todo:
                assert lv.residual is not None, "the rest of a route could not be timed"
            report = lv.check()
            if report is not None:
                assert report.ok, report.summary()
            for s in lv.stops:
                if not s.done and s.eta_s is not None and s.kind in ("pickup", "dropoff"):
                    assert s.eta_s >= now or not vs.has_events, "an ETA in the past"
