"""Plans at the edges: the plan as JSON (schema ``dispatcher/plan/1``, documented in
``docs/schema.md``), times local to the problem's day."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from dispatcher.errors import InputError
from dispatcher.io.fields import dataclass_from, get_field
from dispatcher.io.memo import Memo, memo_pieces
from dispatcher.io.times import format_time, parse_day, parse_time
from dispatcher.model import (
    DEFAULT_TIMEZONE,
    BreakTaken,
    KPIs,
    Plan,
    Problem,
    Reason,
    Rejection,
    Route,
    SolverStats,
    Visit,
    status_from_text,
)

PLAN_SCHEMA = "dispatcher/plan/1"


def plan_to_dict(
    plan: Plan,
    problem: Problem | None = None,
    memo: Memo | None = None,
    fares: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The plan as JSON (schema ``dispatcher/plan/1``), times local to the problem's day;
    ``memo`` reuses the routes already written (see :class:`~dispatcher.io.memo.Memo`);
    ``fares``: the trips' fares and their KPIs (``dispatcher.fares.plan.fares_section``)."""
    day = problem.day if problem else None
    tz = problem.timezone if problem else DEFAULT_TIMEZONE
    piece = memo_pieces(memo, f"plan:{day}:{tz}")

    def t(s: int) -> str | int:
        return format_time(s, day, tz)

    def route(r: Route) -> dict[str, Any]:
        return {
            "vehicle_id": r.vehicle_id,
            "start": t(r.start_s),
            "end": t(r.end_s),
            "distance_m": r.distance_m,
            **({"mode": r.mode} if r.mode else {}),
            "visits": [
                {
                    "request_id": v.request_id,
                    "kind": v.kind,
                    "location_id": v.location_id,
                    "arrival": t(v.arrival_s),
                    "start": t(v.start_s),
                    "departure": t(v.departure_s),
                    "load": {"seats": v.seats, "wheelchairs": v.wheelchairs},
                    "ride_time_s": v.ride_time_s,
                }
                for v in r.visits
            ],
            "breaks": [
                {"start": t(b.start_s), "duration_s": b.duration_s, "after": b.after}
                for b in r.breaks
            ],
        }

    out = {
        "schema": PLAN_SCHEMA,
        "day": day.isoformat() if day else None,
        "timezone": tz,
        "routes": [piece(r, route) for r in plan.routes],
        "rejections": [
            {
                "request_id": j.request_id,
                "reason": j.reason.value,
                "message": j.message,
                "message_en": j.message_en,
                "details": dict(j.details),
            }
            for j in plan.rejections
        ],
        "kpis": asdict(plan.kpis),
        "stats": asdict(plan.stats),
    }
    if fares is not None:
        out["fares"] = dict(fares)
    return out


def _stats_fields(d: Any) -> Any:
    """The plan's stats with their status as :class:`SolveStatus`: a status written before it
    was an enum (one concatenated string) gives the outcome and, as ``status_detail``, the
    string itself."""
    if not isinstance(d, Mapping) or "status" not in d:
        return d
    raw = d["status"]
    if not isinstance(raw, str):
        raise InputError(f"must be a string, got {raw!r}", "stats.status")
    status, legacy_detail = status_from_text(raw)
    return {**d, "status": status, "status_detail": d.get("status_detail", legacy_detail)}


def plan_from_dict(d: Mapping[str, Any], problem: Problem | None = None) -> Plan:
    """A plan from its JSON (schema ``dispatcher/plan/1``), times read on the problem's day."""
    if not isinstance(d, Mapping):
        raise InputError("a plan must be a JSON object", "plan")
    if d.get("schema", PLAN_SCHEMA) != PLAN_SCHEMA:
        raise InputError(
            f"unsupported schema {d.get('schema')!r}, expected {PLAN_SCHEMA}", "schema"
        )
    day = problem.day if problem else parse_day(d.get("day"))
    tz = problem.timezone if problem else str(d.get("timezone") or DEFAULT_TIMEZONE)

    def t(v: Any, where: str) -> int:
        return parse_time(v, where, day, tz)

    routes = []
    for i, r in enumerate(d.get("routes") or []):
        w = f"routes[{i}]"
        visits = []
        for k, v in enumerate(get_field(r, "visits", w, [])):
            vw = f"{w}.visits[{k}]"
            kind = get_field(v, "kind", vw)
            if kind not in ("pickup", "dropoff"):
                raise InputError(f"must be 'pickup' or 'dropoff', got {kind!r}", f"{vw}.kind")
            load = v.get("load") or {}
            visits.append(
                Visit(
                    request_id=str(get_field(v, "request_id", vw)),
                    kind=kind,
                    location_id=str(get_field(v, "location_id", vw)),
                    arrival_s=t(get_field(v, "arrival", vw), f"{vw}.arrival"),
                    start_s=t(get_field(v, "start", vw), f"{vw}.start"),
                    departure_s=t(get_field(v, "departure", vw), f"{vw}.departure"),
                    seats=get_field(load, "seats", f"{vw}.load", 0, int),
                    wheelchairs=get_field(load, "wheelchairs", f"{vw}.load", 0, int),
                    ride_time_s=get_field(v, "ride_time_s", vw, None, int),
                )
            )
        breaks = []
        for k, b in enumerate(r.get("breaks") or []):
            bw = f"{w}.breaks[{k}]"
            breaks.append(
                BreakTaken(
                    t(get_field(b, "start", bw), f"{bw}.start"),
                    get_field(b, "duration_s", bw, kind=int),
                    get_field(b, "after", bw, kind=int),
                )
            )
        routes.append(
            Route(
                vehicle_id=str(get_field(r, "vehicle_id", w)),
                start_s=t(get_field(r, "start", w), f"{w}.start"),
                end_s=t(get_field(r, "end", w), f"{w}.end"),
                visits=tuple(visits),
                breaks=tuple(breaks),
                distance_m=get_field(r, "distance_m", w, 0, int),
                mode=get_field(r, "mode", w, "", str),
            )
        )
    rejections = []
    for k, j in enumerate(d.get("rejections") or []):
        w = f"rejections[{k}]"
        try:
            reason = Reason(get_field(j, "reason", w))
        except ValueError:
            raise InputError(f"unknown reason {j.get('reason')!r}", f"{w}.reason") from None
        rejections.append(
            Rejection(
                str(get_field(j, "request_id", w)),
                reason,
                get_field(j, "message", w, "", str),
                get_field(j, "message_en", w, "", str),
                dict(j.get("details") or {}),
            )
        )
    kpis = dataclass_from(KPIs, d.get("kpis") or {}, "kpis")
    stats = dataclass_from(SolverStats, _stats_fields(d.get("stats") or {}), "stats")
    return Plan(routes=tuple(routes), rejections=tuple(rejections), kpis=kpis, stats=stats)
