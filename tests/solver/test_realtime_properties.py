"""Property tests of real-time booking: after any sequence of bookings, cancellations, clock
moves and re-optimisations, the plan passes the independent checker, every promise holds on
the plan itself (not only in the problem), the past never changes, no accepted booking is
silently dropped, and every refusal's reason is right by the day planner's standard (a
refusal for a reason other than DISPLACED: no vehicle can serve the request alone; DISPLACED:
some vehicle can, with a witness route the checker accepts)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatcher.model import Plan, Problem, Reason, Visit
from dispatcher.solver.checker import check_plan
from dispatcher.solver.explain import alone_route
from dispatcher.solver.live import LiveDay

from .strategies import problems

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("book"), st.integers(0, 20)),
        st.tuples(st.just("cancel"), st.integers(0, 20)),
        st.tuples(st.just("advance"), st.integers(0, 3 * 3600)),
        st.tuples(st.just("reopt"), st.just(0)),
    ),
    min_size=1,
    max_size=14,
)


def _visit(plan: Plan, rid: str, kind: str) -> Visit | None:
    for rt in plan.routes:
        for v in rt.visits:
            if v.request_id == rid and v.kind == kind:
                return v
    return None


def _refusal_is_right(day: LiveDay, problem: Problem, rid: str, reason: Reason) -> None:
    r = problem.request(rid)
    got = day._prepare(r)
    if isinstance(got, str):
        assert reason is Reason.BOOKING_CLOSED
        return
    prepared, _ = got
    # alone, as the day stands now: the vehicles as the live day sees them (breaks and shifts not
    # before the clock), not as they were at the start of the day
    one = replace(day.problem, requests=(replace(prepared, return_of=None),))
    witnesses = [alone_route(one, one.requests[0], v) for v in one.vehicles]
    found = [w for w in witnesses if w is not None]
    if reason is Reason.DISPLACED:
        assert found, "DISPLACED but no vehicle can serve it alone"
        assert check_plan(one, Plan(routes=(found[0],))).ok
    else:
        assert not found, f"{reason} but {found[0].vehicle_id} can serve it alone"


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(problems(max_requests=8, max_vehicles=3), OPS)
def test_any_sequence_keeps_the_day_valid_and_every_promise(
    problem: Problem, ops: list[tuple[str, int]]
) -> None:
    # the live problem starts empty; requests come from the generated problem, with the
    # vehicles' availability as the live day sees it (clock)
    day = LiveDay(replace(problem, requests=()), Plan(routes=()), window_s=600, reaction_s=300)
    accepted: set[str] = set()
    asked: set[str] = set()
    past: dict[str, tuple[Visit, ...]] = {}
    clock = 5 * 3600
    for op, arg in ops:
        if op == "book":
            pending = [r for r in problem.requests if r.id not in asked]
            if not pending:
                continue
            r = pending[arg % len(pending)]
            asked.add(r.id)
            out = day.book(replace(r, return_of=None), alternatives=arg % 3 == 0)
            if out.accepted:
                accepted.add(r.id)
                assert out.promise is not None and out.promise.pickup_window.contains(
                    out.promise.planned_pickup_s
                )
            else:
                assert out.reason is not None
                _refusal_is_right(day, problem, r.id, out.reason)
        elif op == "cancel":
            if not accepted:
                continue
            rid = sorted(accepted)[arg % len(accepted)]
            try:
                day.cancel(rid)
                accepted.discard(rid)
            except ValueError:
                v = _visit(day.plan, rid, "pickup")
                assert v is not None and day.now_s is not None and v.start_s < day.now_s
        elif op == "advance":
            clock += arg
            day.advance(clock)
        else:
            day.reoptimise(time_limit_s=0.2)
        # invariants
        rep = day.check()
        assert rep.ok, rep.summary()
        assert set(day.served) == accepted, "an accepted booking was dropped (or a stranger served)"
        for rid, p in day.promises.items():
            pick, drop = _visit(day.plan, rid, "pickup"), _visit(day.plan, rid, "dropoff")
            assert pick is not None and drop is not None
            assert p.pickup_window.contains(pick.start_s), (
                f"{rid}: pickup {pick.start_s} outside {p.pickup_window}"
            )
            assert drop.start_s <= p.latest_arrival_s
        if day.now_s is not None:
            for rt in day.plan.routes:
                done = tuple(v for v in rt.visits if v.start_s < day.now_s)
                before = past.get(rt.vehicle_id, ())
                # what was done stays done, identically (cancellations only remove future trips)
                assert done[: len(before)] == before, f"{rt.vehicle_id}: the past changed"
                past[rt.vehicle_id] = done


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(problems(max_requests=8))
def test_a_screen_cache_kept_across_bookings_changes_no_decision(problem: Problem) -> None:
    """The API keeps a day's route screens from one booking to the next (a new LiveDay each
    time, from the stored plan): every answer and the final plan are the same as with screens
    made afresh for each booking."""
    from dispatcher.solver.insertion import ScreenCache

    shared = ScreenCache()
    results = {}
    for label, screens in (("kept", lambda: shared), ("fresh", ScreenCache)):
        prob, plan = problem.with_requests(()), Plan(routes=())
        answers = []
        for r in problem.requests:
            day = LiveDay(prob, plan, promise_existing=False, screens=screens())
            out = day.book(replace(r, return_of=None))
            answers.append((out.accepted, out.reason, dict(out.details), out.promise))
            prob, plan = day.problem, day.plan
        results[label] = (answers, plan.routes)
    assert results["kept"] == results["fresh"]
