"""Real-time booking: one function, ``book(day_state, request) -> Promise | Refusal``.

This is the correct but slow fallback: re-plan the day's accepted requests plus the new one
and accept only if every previously accepted request is still served (its windows are the
promise) and the independent checker passes the new plan. Previously accepted requests get a
high priority so the solver keeps them. The real-time insertion engine replaces this function
(same signature); the API holds the day's lock around the call (``Store.lock_day``), so the
function sees a consistent day and its answer is committed before the next booking starts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from dispatcher.io import format_time
from dispatcher.model import REASON_MESSAGES, Plan, Problem, Reason, SolverParams, TimeWindow

PROMISE_PRIORITY = 1000  # priority given to accepted requests when the day is re-planned


@dataclass(frozen=True)
class DayState:
    """What a booking sees of a day, read under the day's lock.

    ``accepted``: request dicts (``dispatcher.io`` vocabulary) of the requests already promised,
    in booking order; ``vehicles``: vehicle dicts of the fleet; ``plan``/``problem``: the day's
    current plan and the problem it answers (None before the first plan); ``compile``: turns
    request and vehicle dicts into a Problem on the territory and road network of the server.
    """

    day: date
    accepted: Sequence[Mapping[str, Any]]
    vehicles: Sequence[Mapping[str, Any]]
    compile: Callable[[Sequence[Mapping[str, Any]], Sequence[Mapping[str, Any]], SolverParams], Problem]
    params: SolverParams = SolverParams(time_limit_s=1.0)
    plan: Plan | None = None
    problem: Problem | None = None
    timezone: str = "Europe/Paris"


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
            "pickup": {
                "place": p.location(r.pickup).name or r.pickup,
                "location_id": r.pickup,
                "planned": t(self.pickup_s),
                "window": {"start": t(self.pickup_window.start_s), "end": t(self.pickup_window.end_s)},
            },
            "dropoff": {
                "place": p.location(r.dropoff).name or r.dropoff,
                "location_id": r.dropoff,
                "planned": t(self.dropoff_s),
                "window": {"start": t(self.dropoff_window.start_s), "end": t(self.dropoff_window.end_s)},
            },
        }


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
            "details": _jsonable(details),
        }


def _jsonable(x: Any) -> Any:
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in x]
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


_LIVE_CACHE: dict[str, tuple[Problem, Plan]] = {}
"""The last live day per service day (its problem holds the promises), keyed by the content of
the accepted requests and the fleet: a booking that follows it in this process inserts into it."""


def _day_key(day_state: DayState, accepted: Sequence[Mapping[str, Any]]) -> str:
    import hashlib
    import json

    blob = json.dumps([str(day_state.day), list(accepted), list(day_state.vehicles)], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def book(day_state: DayState, request: Mapping[str, Any]) -> Promise | Refusal:
    """Accept ``request`` (a request dict with an ``id``) into the day, or refuse it with a reason.

    Fast path: the real-time insertion (``dispatcher.solver.live``) into the day's current plan,
    given in ``day_state.plan``/``problem`` or remembered from the previous booking of this day in
    this process; the promise (window, latest arrival) is written into the problem returned.
    Otherwise (first booking of a day, or the day changed elsewhere) the correct slow path below
    re-plans the day."""
    rid = str(request["id"])
    accepted = list(day_state.accepted)
    known: tuple[Problem, Plan] | None = None
    if day_state.plan is not None and day_state.problem is not None:
        known = (day_state.problem, day_state.plan)
    else:
        known = _LIVE_CACHE.get(_day_key(day_state, accepted))
    if known is not None or not accepted:
        try:
            out = _book_live(day_state, request, known)
        except Exception:  # the live path could not use the known day: re-plan it
            out = None
        if out is not None:
            if isinstance(out, Promise):
                if len(_LIVE_CACHE) > 64:
                    _LIVE_CACHE.clear()
                _LIVE_CACHE[_day_key(day_state, [*accepted, dict(request)])] = (out.problem, out.plan)
            return out
    return _book_replan(day_state, request, rid)


def _book_live(day_state: DayState, request: Mapping[str, Any], known: tuple[Problem, Plan] | None) -> Promise | Refusal | None:
    from dataclasses import replace

    from dispatcher.solver.live import LiveDay

    rid = str(request["id"])
    compiled = day_state.compile([*day_state.accepted, dict(request)], day_state.vehicles, day_state.params)
    new = compiled.request(rid)
    if known is None:
        base, plan = replace(compiled, requests=()), Plan(routes=())
    else:
        kproblem, plan = known
        ids = {r.id for r in kproblem.requests}
        if ids != {str(d["id"]) for d in day_state.accepted} or set(plan.served_ids) != ids:
            return None
        base = replace(compiled, requests=kproblem.requests)
    day = LiveDay(base, plan, promise_existing=False)
    out = day.book(new)
    if out.accepted:
        assert out.promise is not None
        p = out.promise
        r = day.problem.request(rid)
        return Promise(rid, p.vehicle_id, p.planned_pickup_s, p.planned_dropoff_s, day.problem.pickup_tw(r),
                       day.problem.dropoff_tw(r), day.plan, day.problem)
    assert out.reason is not None
    return Refusal(rid, out.reason, out.message, out.message_en, dict(out.details))


def _book_replan(day_state: DayState, request: Mapping[str, Any], rid: str) -> Promise | Refusal:
    from dispatcher.solver.checker import check_plan
    from dispatcher.solver.routing import OrToolsSolver

    accepted_ids = [str(d["id"]) for d in day_state.accepted]
    dicts = [with_priority(d, PROMISE_PRIORITY) for d in day_state.accepted] + [dict(request)]
    problem = day_state.compile(dicts, day_state.vehicles, day_state.params)
    plan = OrToolsSolver(day_state.params).solve(problem)
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
            rid, Reason.DISPLACED, msg["fr"], msg["en"],
            {"would_displace": broken, "note": "accepting it would break a promise already made"},
        )
    report = check_plan(problem, plan)
    if not report.ok:
        msg = REASON_MESSAGES[Reason.DISPLACED]
        return Refusal(
            rid, Reason.DISPLACED, msg["fr"], msg["en"],
            {"note": "the re-planned day failed the independent check", "violations": [str(v) for v in report.violations[:5]]},
        )
    for route in plan.routes:
        pick = next((v for v in route.visits if v.request_id == rid and v.kind == "pickup"), None)
        drop = next((v for v in route.visits if v.request_id == rid and v.kind == "dropoff"), None)
        if pick and drop:
            r = problem.request(rid)
            return Promise(rid, route.vehicle_id, pick.start_s, drop.start_s, problem.pickup_tw(r), problem.dropoff_tw(r), plan, problem)
    raise AssertionError(f"request {rid} served but not found on a route")  # pragma: no cover
