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
        if isinstance(details.get("nearest_pickup_s"), int):
            details["nearest_pickup"] = format_time(int(details["nearest_pickup_s"]), day, tz)
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


def book(day_state: DayState, request: Mapping[str, Any]) -> Promise | Refusal:
    """Accept ``request`` (a request dict with an ``id``) into the day, or refuse it with a reason."""
    from dispatcher.solver.checker import check_plan
    from dispatcher.solver.routing import OrToolsSolver

    rid = str(request["id"])
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
