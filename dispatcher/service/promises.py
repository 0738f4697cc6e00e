"""Promises: one function, ``book(day_state, request) -> Promise | Refusal``, that accepts a
request into a day with a promise or refuses it with a reason; and what promises are made of.

The day's stored live plan and problem (``DayState.plan``/``problem``, read by
``dispatcher.service.bookings`` under the day's lock, ``Store.lock_day``) are the truth: every
accepted request is in them with its promise (the promised pickup window and latest arrival)
written into its windows, so the real-time insertion of ``dispatcher.solver.live`` keeps every
promise made by any process before, and what is done at ``DayState.now_s`` (same-day
bookings) stays as it was. The answer's plan and problem are committed by the caller before the
next booking of the day starts.

The fallback (no stored plan holding the accepted requests, e.g. a vehicle removed since):
re-plan the accepted requests plus the new one, with the stored promises as hard windows, and
accept only if every previously accepted request is still served, nothing done has moved, and
the independent checker passes the new plan.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from dispatcher.errors import DispatcherError, InputError
from dispatcher.io.times import format_time
from dispatcher.model import REASON_MESSAGES, Plan, Problem, Reason, SolverParams, TimeWindow
from dispatcher.solver import default_solver
from dispatcher.solver.checker import check_plan
from dispatcher.solver.explain import linked_rejection
from dispatcher.solver.insertion import ScreenCache, remove_from_plan
from dispatcher.solver.kpis import compute_kpis
from dispatcher.solver.live import LiveDay, bookable_from, live_problem
from dispatcher.solver.reoptimise import PROMISE_PRIORITY
from dispatcher.solver.tracking import FleetState, as_lived
from dispatcher.store import ConflictError

log = logging.getLogger("dispatcher.service.promises")


@dataclass(frozen=True)
class DayState:
    """What a booking sees of a day, read under the day's lock.

    ``accepted``: request dicts (``dispatcher.io`` vocabulary) of the requests already promised,
    in booking order; ``vehicles``: vehicle dicts of the fleet; ``plan``/``problem``: the day's
    current plan and the live problem it answers (promises in its windows; None before the first
    plan); ``now_s``: the current time when the day is today; ``compile``: turns
    request and vehicle dicts into a Problem on the territory and road network of the server.
    """

    day: date
    accepted: Sequence[Mapping[str, Any]]
    vehicles: Sequence[Mapping[str, Any]]
    compile: Callable[
        [Sequence[Mapping[str, Any]], Sequence[Mapping[str, Any]], SolverParams], Problem
    ]
    params: SolverParams = SolverParams(time_limit_s=1.0)
    plan: Plan | None = None
    problem: Problem | None = None
    timezone: str = "Europe/Paris"
    now_s: int | None = (
        None  # the server's clock (seconds since the day's midnight) on the day itself; None before
    )
    reaction_s: int = 600  # nothing new is planned before now_s + reaction_s
    window_s: int = 900  # width of a promised pickup window
    screens: ScreenCache | None = (
        None  # the routes' screen arrays of the day's last booking (reused where unchanged)
    )
    live: FleetState | None = None  # what the vehicles' events say (a live day), see _book_live
    refused: Mapping[str, Reason] = field(
        default_factory=dict
    )  # requests of the day refused, with their reason (a return of one is refused too)


@dataclass(frozen=True)
class Promise:
    """An accepted booking: the vehicle, the planned times, and the promised windows (what no
    later booking may break)."""

    request_id: str
    vehicle_id: str
    pickup_s: int
    dropoff_s: int
    pickup_window: TimeWindow
    dropoff_window: TimeWindow
    plan: Plan
    problem: Problem

    def to_dict(self) -> dict[str, Any]:
        p = self.problem
        r = p.request(self.request_id)

        def t(s: int) -> Any:
            return format_time(s, p.day, p.timezone)

        return {
            "status": "accepted",
            "request_id": self.request_id,
            "vehicle_id": self.vehicle_id,
            "pickup": _stop_promise(p, r.pickup, t(self.pickup_s), self.pickup_window, t),
            "dropoff": _stop_promise(p, r.dropoff, t(self.dropoff_s), self.dropoff_window, t),
        }


# what the rider is told when the geocoder placed an address less precisely than its house
PLACED_NOTICES = {
    "street": (
        "Numéro introuvable : le point retenu est dans la rue, au plus près du centre de la "
        "commune.",
        "House number not found: the point used is on the street, nearest the commune's centre.",
    ),
    "commune": (
        "Adresse introuvable : le point retenu est l'arrêt principal de la commune.",
        "Address not found: the point used is the commune's main stop.",
    ),
}


def _stop_promise(
    p: Problem, location_id: str, planned: Any, window: TimeWindow, t: Callable[[int], Any]
) -> dict[str, Any]:
    """One stop of a promise; a postal address placed less precisely than its house says how
    (``placed``) and tells the rider (``notice``, ``notice_en``)."""
    loc = p.location(location_id)
    out: dict[str, Any] = {
        "place": loc.name or location_id,
        "location_id": location_id,
        "planned": planned,
        "window": {"start": t(window.start_s), "end": t(window.end_s)},
    }
    if loc.placed in PLACED_NOTICES:
        out["placed"] = loc.placed
        out["notice"], out["notice_en"] = PLACED_NOTICES[loc.placed]
    return out


@dataclass(frozen=True)
class Refusal:
    """A refused booking: a reason from the fixed list, messages, and details (alternatives)."""

    request_id: str
    reason: Reason
    message: str
    message_en: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self, day: date | None = None, tz: str = "Europe/Paris") -> dict[str, Any]:
        details = dict(self.details)
        for key in ("nearest_pickup", "earlier_pickup", "later_pickup"):
            if isinstance(details.get(f"{key}_s"), int):
                details[key] = format_time(int(details[f"{key}_s"]), day, tz)
        return {
            "error": "Refused",
            "where": "booking",
            "status": "refused",
            "request_id": self.request_id,
            "reason": self.reason.value,
            "message": self.message,
            "message_en": self.message_en,
            "details": jsonable(details),
        }


def jsonable(x: Any) -> Any:
    """``x`` with mappings, sequences and sets made JSON values (anything else as its string)."""
    if isinstance(x, Mapping):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in x]
    if isinstance(x, (str, int, float, bool)) or x is None:
        return x
    return str(x)


def with_priority(d: Mapping[str, Any], priority: int) -> dict[str, Any]:
    out = dict(d)
    try:
        given = int(out.get("priority") or 1)
    except (TypeError, ValueError):
        given = 1
    out["priority"] = max(given, priority)
    return out


def keep_promises(
    problem: Problem, promised: Problem | None, ids: Iterable[str] | None = None
) -> Problem:
    """``problem`` (compiled from the stored request dicts, i.e. the windows the passengers asked
    for) with the binding times of the requests ``ids`` (default: all) taken from ``promised``
    (the stored live problem): the promised pickup window and latest arrival, what is done
    pinned. Requests ``promised`` does not hold keep their asked windows (which is what they were
    promised when a re-plan accepted them)."""
    if promised is None:
        return problem
    want = None if ids is None else set(ids)
    held = {r.id: r for r in promised.requests if want is None or r.id in want}
    if not held:
        return problem
    reqs = tuple(
        replace(
            r,
            pickup_window=held[r.id].pickup_window,
            arrive_by_s=held[r.id].arrive_by_s,
            not_before_s=held[r.id].not_before_s,
            priority=max(r.priority, held[r.id].priority),
        )
        if r.id in held
        else r
        for r in problem.requests
    )
    return replace(problem, requests=reqs)


def book(day_state: DayState, request: Mapping[str, Any]) -> Promise | Refusal:
    """Accept ``request`` (a request dict with an ``id``) into the day, or refuse it with a reason.

    The real-time insertion (``dispatcher.solver.live``) into the day's stored live plan
    (``day_state.plan``/``problem``: every accepted request in it with its promise as hard
    windows, what is done at ``day_state.now_s`` pinned, nothing new before now + the reaction
    margin); the promise (window, latest arrival) is written into the problem returned, which the
    caller stores. Only when the stored plan does not hold the accepted requests (no plan yet with
    accepted requests, a vehicle removed since) the correct slow path below re-plans the day,
    still with every promise as hard windows."""
    rid = str(request["id"])
    link = request.get("return_of")
    if link not in (None, "") and str(link) in day_state.refused:
        # one need: the return of a refused outbound is refused with it
        rej = linked_rejection(rid, str(link), "outbound", day_state.refused[str(link)])
        return Refusal(rid, rej.reason, rej.message, rej.message_en, dict(rej.details))
    known: tuple[Problem, Plan] | None = None
    if day_state.plan is not None and day_state.problem is not None:
        known = (day_state.problem, day_state.plan)
    if known is not None or not day_state.accepted:
        try:
            out = _book_live(day_state, request, known)
        except DispatcherError:
            raise
        except Exception:  # the live path could not use the stored day: re-plan it
            log.exception("booking %s: the live insertion failed; re-planning the day", rid)
            out = None
        if out is not None:
            return out
    return _book_replan(day_state, request, rid)


def _book_live(
    day_state: DayState, request: Mapping[str, Any], known: tuple[Problem, Plan] | None
) -> Promise | Refusal | None:
    rid = str(request["id"])
    accepted_ids = {str(d["id"]) for d in day_state.accepted}
    try:
        compiled = day_state.compile(
            [*day_state.accepted, dict(request)], day_state.vehicles, day_state.params
        )
    except InputError as e:  # the new request against the day's (e.g. a second return trip)
        new_at = f"requests[{len(day_state.accepted)}]"
        if e.where.startswith(new_at):
            raise InputError(e.message, "body" + e.where[len(new_at) :]) from None
        raise
    new = compiled.request(rid)
    if known is None:
        base, plan = replace(compiled, requests=()), Plan(routes=())
    else:
        kproblem, plan = known
        served = set(plan.served_ids)
        fleet = {v.id for v in compiled.vehicles}
        if not accepted_ids <= served or any(
            rt.vehicle_id not in fleet for rt in plan.routes if rt.visits
        ):
            return None  # the stored plan does not hold the accepted requests on the current fleet
        stored = {r.id: r for r in kproblem.requests}
        if not served <= set(stored):
            return None
        if (
            served != accepted_ids
        ):  # served but no longer accepted (cancelled elsewhere): take it out
            for gone in sorted(served - accepted_ids):
                kproblem = without_request(kproblem, gone)
                plan = remove_from_plan(kproblem, plan, gone, day_state.now_s)
            stored = {r.id: r for r in kproblem.requests}
        # the accepted requests as stored (their promises and pins), on the current places and fleet
        keep = [stored[r.id] for r in compiled.requests if r.id in accepted_ids]
        base = compiled.with_requests(keep)  # the stored requests, validated when they were booked
    as_stored = plan
    if day_state.live is not None and day_state.now_s is not None and plan.routes:
        # a live day: what is done is what the vehicles' events say, the rest not before its
        # ETA from where each vehicle stands (tracking.as_lived), not the clock alone
        plan = as_lived(base, plan, day_state.live, day_state.now_s)
    day = LiveDay(
        base,
        plan,
        now_s=day_state.now_s,
        reaction_s=day_state.reaction_s,
        window_s=day_state.window_s,
        promise_existing=False,
        screens=day_state.screens,
    )
    out = day.book(new)
    if out.accepted:
        assert out.promise is not None
        p = out.promise
        r = day.problem.request(rid)
        new_plan = day.plan
        if plan is not as_stored:  # the other routes as stored (their plan, not their ETAs)
            was = {rt.vehicle_id: rt for rt in as_stored.routes}
            routes = tuple(
                rt if rt.vehicle_id == p.vehicle_id else was.get(rt.vehicle_id, rt)
                for rt in new_plan.routes
            )
            new_plan = replace(
                new_plan,
                routes=routes,
                kpis=compute_kpis(day.problem, routes, new_plan.rejections),
            )
        return Promise(
            rid,
            p.vehicle_id,
            p.planned_pickup_s,
            p.planned_dropoff_s,
            day.problem.pickup_tw(r),
            day.problem.dropoff_tw(r),
            new_plan,
            day.problem,
        )
    assert out.reason is not None
    return Refusal(rid, out.reason, out.message, out.message_en, dict(out.details))


def without_request(problem: Problem, rid: str) -> Problem:
    """``problem`` without request ``rid``; a return trip of ``rid`` stays, unlinked."""
    reqs = tuple(
        replace(r, return_of=None) if r.return_of == rid else r
        for r in problem.requests
        if r.id != rid
    )
    return replace(problem, requests=reqs)


def remove_request(
    problem: Problem, plan: Plan, rid: str, now_s: int | None = None
) -> tuple[Problem, Plan]:
    """The problem and plan without request ``rid``: its visits leave their route, which is re-timed
    with what is done at ``now_s`` kept as it was (or keeps its times, with loads recomputed, if it
    cannot be re-timed); a return trip of ``rid`` stays, unlinked. A request already picked up
    cannot be cancelled (ConflictError)."""
    if now_s is not None:
        for route in plan.routes:
            for v in route.visits:
                if v.request_id == rid and v.kind == "pickup" and v.start_s < now_s:
                    raise ConflictError(
                        f"request {rid!r} was picked up at "
                        f"{format_time(v.start_s, problem.day, problem.timezone)}; "
                        "it can no longer be cancelled",
                        "request_id",
                    )
    problem2 = without_request(problem, rid)
    return problem2, remove_from_plan(problem2, plan, rid, now_s)


def promise_in(problem: Problem, plan: Plan, rid: str) -> Promise | None:
    """The promise ``plan`` makes to request ``rid``, or None when it does not serve it."""
    for route in plan.routes:
        pick = next((v for v in route.visits if v.request_id == rid and v.kind == "pickup"), None)
        drop = next((v for v in route.visits if v.request_id == rid and v.kind == "dropoff"), None)
        if pick and drop:
            r = problem.request(rid)
            return Promise(
                rid,
                route.vehicle_id,
                pick.start_s,
                drop.start_s,
                problem.pickup_tw(r),
                problem.dropoff_tw(r),
                plan,
                problem,
            )
    return None


def promise_from_plan(problem: Problem, plan: Plan, rid: str) -> dict[str, Any] | None:
    """The promise ``plan`` makes to request ``rid`` (as a booking's answer), or None."""
    promise = promise_in(problem, plan, rid)
    return None if promise is None else promise.to_dict()


def _book_replan(day_state: DayState, request: Mapping[str, Any], rid: str) -> Promise | Refusal:
    accepted_ids = [str(d["id"]) for d in day_state.accepted]
    dicts = [with_priority(d, PROMISE_PRIORITY) for d in day_state.accepted] + [dict(request)]
    problem = day_state.compile(dicts, day_state.vehicles, day_state.params)
    problem = keep_promises(problem, day_state.problem, accepted_ids)
    done: dict[tuple[str, str], tuple[str, int]] = {}
    now_s = day_state.now_s
    if now_s is not None:
        new = bookable_from(problem.request(rid), now_s + day_state.reaction_s)
        if new is None:
            msg = REASON_MESSAGES[Reason.BOOKING_CLOSED]
            return Refusal(
                rid,
                Reason.BOOKING_CLOSED,
                f"{msg['fr']} Trop tard pour ce trajet.",
                f"{msg['en']} Too late for this trip.",
                {"rule": "too_late", "earliest_pickup_s": now_s + day_state.reaction_s},
            )
        problem = replace(
            problem, requests=tuple(new if r.id == rid else r for r in problem.requests)
        )
        if day_state.plan is not None:
            ids = {r.id for r in problem.requests}
            old = Plan(
                routes=tuple(
                    replace(rt, visits=tuple(v for v in rt.visits if v.request_id in ids))
                    for rt in day_state.plan.routes
                )
            )
            problem = live_problem(problem, old, now_s, day_state.reaction_s)
            done = {
                (v.request_id, v.kind): (rt.vehicle_id, v.start_s)
                for rt in old.routes
                for v in rt.visits
                if v.start_s < now_s
            }
    plan = default_solver(day_state.params).solve(problem)
    served = set(plan.served_ids)
    if rid not in served:
        for j in plan.rejections:
            if j.request_id == rid:
                return Refusal(rid, j.reason, j.message, j.message_en, dict(j.details))
        msg = REASON_MESSAGES[Reason.DISPLACED]
        return Refusal(rid, Reason.DISPLACED, msg["fr"], msg["en"])
    broken = [a for a in accepted_ids if a not in served]
    if broken:
        msg = REASON_MESSAGES[Reason.DISPLACED]
        return Refusal(
            rid,
            Reason.DISPLACED,
            msg["fr"],
            msg["en"],
            {"would_displace": broken, "note": "accepting it would break a promise already made"},
        )
    moved = [
        f"{r}:{k}"
        for (r, k), (vid, t) in done.items()
        if not any(
            rt.vehicle_id == vid
            and any(v.request_id == r and v.kind == k and v.start_s == t for v in rt.visits)
            for rt in plan.routes
        )
    ]
    if moved:
        msg = REASON_MESSAGES[Reason.DISPLACED]
        return Refusal(
            rid,
            Reason.DISPLACED,
            msg["fr"],
            msg["en"],
            {
                "note": "re-planning the day would change what is already done",
                "would_move": moved[:10],
            },
        )
    report = check_plan(problem, plan)
    if not report.ok:
        msg = REASON_MESSAGES[Reason.DISPLACED]
        return Refusal(
            rid,
            Reason.DISPLACED,
            msg["fr"],
            msg["en"],
            {
                "note": "the re-planned day failed the independent check",
                "violations": [str(v) for v in report.violations[:5]],
            },
        )
    promise = promise_in(problem, plan, rid)
    if promise is None:  # pragma: no cover
        raise AssertionError(f"request {rid} served but not found on a route")
    return promise
