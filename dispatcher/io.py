"""The edges: JSON, CSV and GeoJSON in and out, local times in ISO 8601, places resolved.

Inside the model every time is integer seconds since midnight of the service day. Here, and
only here, they become local times: ISO 8601 with the offset of the service's time zone
(``2026-12-01T08:30:00+01:00``) when the problem has a day, plain integer seconds otherwise
(benchmark instances). On input a time may be given as ISO 8601 (on the service day), as
``HH:MM`` or ``HH:MM:SS``, or as integer seconds.

Documented schemas: ``docs/schema.md`` (problem, plan, requests CSV, fleet CSV).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, fields
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from dispatcher.errors import InputError, PointError
from dispatcher.model import (
    WEEKDAYS,
    Break,
    BreakTaken,
    CarpoolOffer,
    KPIs,
    Location,
    ObjectiveWeights,
    Plan,
    Problem,
    Reason,
    Rejection,
    Request,
    Route,
    ServiceRules,
    SolverParams,
    SolverStats,
    TimeWindow,
    Vehicle,
    Visit,
    VolunteerDriver,
    status_from_text,
)
from dispatcher.solver.ortools_names import check_names

PROBLEM_SCHEMA = "dispatcher/problem/1"
PLAN_SCHEMA = "dispatcher/plan/1"

# --------------------------------------------------------------------------------------------
# Times
# --------------------------------------------------------------------------------------------

_HHMM = re.compile(r"^\s*(\d{1,2})[:hH](\d{2})(?::(\d{2}))?\s*$")


def format_time(seconds: int, day: date | None, tz: str = "Europe/Paris") -> str | int:
    """Seconds since midnight -> ISO 8601 local time with offset (or the int itself without a day)."""
    if day is None:
        return int(seconds)
    midnight = datetime.combine(day, time(0), tzinfo=ZoneInfo(tz))
    # Wall-clock arithmetic: seconds since local midnight, as operators read them.
    local = (midnight.replace(tzinfo=None) + timedelta(seconds=int(seconds))).replace(tzinfo=ZoneInfo(tz))
    return local.isoformat()


def parse_time(value: Any, where: str, day: date | None = None, tz: str = "Europe/Paris") -> int:
    """Parse a time given as int seconds, ``HH:MM[:SS]`` or ISO 8601 into seconds since midnight."""
    if isinstance(value, bool) or value is None:
        raise InputError(f"expected a time, got {value!r}", where)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise InputError(f"expected whole seconds, got {value!r}", where)
        return int(value)
    if not isinstance(value, str):
        raise InputError(f"expected a time, got {value!r}", where)
    s = value.strip()
    if s.isascii() and s.isdigit():
        return int(s)
    m = _HHMM.match(s)
    if m:
        h, mi, se = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
        if h > 47 or mi > 59 or se > 59:
            raise InputError(f"not a valid time of day: {value!r}", where)
        return h * 3600 + mi * 60 + se
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        raise InputError(f"not a time (use HH:MM or ISO 8601 such as 2026-12-01T08:30:00+01:00): {value!r}", where) from None
    zone = ZoneInfo(tz)
    dt = dt.replace(tzinfo=zone) if dt.tzinfo is None else dt.astimezone(zone)
    if day is None:
        raise InputError("a date-time needs a service day; give the problem a 'day' or use HH:MM", where)
    offset_days = (dt.date() - day).days
    if offset_days not in (0, 1):
        raise InputError(f"{value!r} is not on the service day {day.isoformat()}", where)
    return offset_days * 86400 + dt.hour * 3600 + dt.minute * 60 + dt.second


def parse_day(value: Any, where: str = "day") -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InputError(f"not a date (YYYY-MM-DD): {value!r}", where) from None


def _window(value: Any, where: str, day: date | None, tz: str) -> TimeWindow:
    if isinstance(value, Mapping):
        if "start" not in value or "end" not in value:
            raise InputError("a window needs 'start' and 'end'", where)
        a, b = value["start"], value["end"]
    elif isinstance(value, (list, tuple)) and len(value) == 2:
        a, b = value
    else:
        raise InputError(f"a window is {{'start': .., 'end': ..}} or [start, end], got {value!r}", where)
    w = TimeWindow(parse_time(a, f"{where}.start", day, tz), parse_time(b, f"{where}.end", day, tz))
    w.validate(where)
    return w


def _window_out(w: TimeWindow, day: date | None, tz: str) -> dict[str, Any]:
    return {"start": format_time(w.start_s, day, tz), "end": format_time(w.end_s, day, tz)}


# --------------------------------------------------------------------------------------------
# Small typed readers for dict fields (each error names its field)
# --------------------------------------------------------------------------------------------


def _get(d: Mapping[str, Any], key: str, where: str, default: Any = ..., kind: type | tuple[type, ...] | None = None) -> Any:
    if key not in d or d[key] is None or d[key] == "":
        if default is ...:
            raise InputError("is required", f"{where}.{key}")
        return default
    v = d[key]
    if kind is int:
        if isinstance(v, bool):
            raise InputError(f"must be an integer, got {v!r}", f"{where}.{key}")
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if isinstance(v, str):
            try:
                v = int(v.strip())
            except ValueError:
                raise InputError(f"must be an integer, got {v!r}", f"{where}.{key}") from None
        if not isinstance(v, int):
            raise InputError(f"must be an integer, got {v!r}", f"{where}.{key}")
    elif kind is float:
        if isinstance(v, bool):
            raise InputError(f"must be a number, got {v!r}", f"{where}.{key}")
        try:
            v = float(v)
        except (TypeError, ValueError):
            raise InputError(f"must be a number, got {v!r}", f"{where}.{key}") from None
        if not math.isfinite(v):
            raise InputError(f"must be a finite number, got {v!r}", f"{where}.{key}")
    elif kind is str:
        v = str(v)
    return v


def _check_keys(d: Any, allowed: Iterable[str], where: str) -> None:
    if not isinstance(d, Mapping):
        raise InputError(f"must be an object, got {type(d).__name__}", where)
    unknown = sorted(set(d) - set(allowed))
    if unknown:
        raise InputError(f"unknown field(s) {', '.join(unknown)}; expected some of {', '.join(sorted(allowed))}", where)


# --------------------------------------------------------------------------------------------
# Requests and vehicles from dicts (the input vocabulary shared by JSON, CSV, API and demo)
# --------------------------------------------------------------------------------------------

REQUEST_FIELDS = (
    "id", "pickup", "dropoff", "seats", "wheelchairs", "pickup_window", "arrive_by", "arrive_by_s",
    "not_before", "not_before_s", "boarding_s", "alighting_s", "max_ride_s", "priority", "return_of",
    "name", "phone", "accepts_carpool",
)
VEHICLE_FIELDS = (
    "id", "start", "end", "shift", "seats", "wheelchairs", "breaks", "cost_per_km", "cost_per_hour",
    "fixed_cost", "kind", "name", "phone", "max_duration_s", "start_window", "end_window",
    "allowed_stops", "home", "max_km_from_home", "cost_per_passenger_km",
)


def request_from_dict(d: Mapping[str, Any], where: str, day: date | None = None, tz: str = "Europe/Paris") -> Request:
    """Build a Request whose pickup/dropoff are place keys (resolved to Location ids later)."""
    _check_keys(d, REQUEST_FIELDS, where)
    pw = d.get("pickup_window")
    arrive = d.get("arrive_by", d.get("arrive_by_s"))
    not_before = d.get("not_before", d.get("not_before_s"))
    return Request(
        id=str(_get(d, "id", where)),
        pickup=_place_key(_get(d, "pickup", where)),
        dropoff=_place_key(_get(d, "dropoff", where)),
        seats=_get(d, "seats", where, 1, int),
        wheelchairs=_get(d, "wheelchairs", where, 0, int),
        pickup_window=None if pw in (None, "") else _window(pw, f"{where}.pickup_window", day, tz),
        arrive_by_s=None if arrive in (None, "") else parse_time(arrive, f"{where}.arrive_by", day, tz),
        not_before_s=None if not_before in (None, "") else parse_time(not_before, f"{where}.not_before", day, tz),
        boarding_s=_get(d, "boarding_s", where, None, int),
        alighting_s=_get(d, "alighting_s", where, None, int),
        max_ride_s=_get(d, "max_ride_s", where, None, int),
        priority=_get(d, "priority", where, 1, int),
        return_of=_get(d, "return_of", where, None, str),
        name=_get(d, "name", where, "", str),
        phone=_get(d, "phone", where, "", str),
        accepts_carpool=_get(d, "accepts_carpool", where, True, bool),
    )


def vehicle_from_dict(d: Mapping[str, Any], where: str, day: date | None = None, tz: str = "Europe/Paris") -> Vehicle:
    _check_keys(d, VEHICLE_FIELDS, where)
    breaks = []
    for k, b in enumerate(d.get("breaks") or ()):
        bw = f"{where}.breaks[{k}]"
        _check_keys(b, ("window", "duration_s"), bw)
        breaks.append(Break(_window(_get(b, "window", bw), f"{bw}.window", day, tz), _get(b, "duration_s", bw, kind=int)))
    start = _place_key(_get(d, "start", where))
    shift = _get(d, "shift", where)
    if isinstance(shift, Mapping):
        a, b2 = shift.get("start"), shift.get("end")
    elif isinstance(shift, (list, tuple)) and len(shift) == 2:
        a, b2 = shift
    else:
        raise InputError(f"a shift is {{'start': .., 'end': ..}} or [start, end], got {shift!r}", f"{where}.shift")
    shift_w = TimeWindow(parse_time(a, f"{where}.shift.start", day, tz), parse_time(b2, f"{where}.shift.end", day, tz))
    return Vehicle(
        id=str(_get(d, "id", where)),
        start=start,
        end=_place_key(d["end"]) if d.get("end") not in (None, "") else start,
        shift=shift_w,
        seats=_get(d, "seats", where, 8, int),
        wheelchairs=_get(d, "wheelchairs", where, 0, int),
        breaks=tuple(breaks),
        cost_per_km=_get(d, "cost_per_km", where, 0.5, float),
        cost_per_hour=_get(d, "cost_per_hour", where, 25.0, float),
        fixed_cost=_get(d, "fixed_cost", where, 0.0, float),
        kind=_get(d, "kind", where, "minibus", str),
        name=_get(d, "name", where, "", str),
        phone=_get(d, "phone", where, "", str),
        max_duration_s=_get(d, "max_duration_s", where, None, int),
        start_window=None if d.get("start_window") in (None, "") else _window(d["start_window"], f"{where}.start_window", day, tz),
        end_window=None if d.get("end_window") in (None, "") else _window(d["end_window"], f"{where}.end_window", day, tz),
        allowed_stops=tuple(_place_key(x) for x in (d.get("allowed_stops") or ())),
        home=None if d.get("home") in (None, "") else _place_key(d["home"]),
        max_km_from_home=_get(d, "max_km_from_home", where, None, float),
        cost_per_passenger_km=_get(d, "cost_per_passenger_km", where, 0.0, float),
    )


def _place_key(value: Any) -> str:
    """A place is a stop id or commune name (str), or a point {lon, lat} / [lon, lat] -> 'lon,lat'."""
    if isinstance(value, Mapping):
        return f"{value.get('lon')},{value.get('lat')}"
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return f"{value[0]},{value[1]}"
    return str(value).strip()


_POINT = re.compile(r"^\s*(-?\d+(?:\.\d+)?|nan|-?inf)\s*,\s*(-?\d+(?:\.\d+)?|nan|-?inf)\s*$", re.IGNORECASE)


class PlaceResolver(Protocol):
    def stop(self, key: str) -> Any: ...


class MatrixSource(Protocol):
    def matrices(self, points: Sequence[tuple[float, float]], labels: Sequence[str] | None = None) -> tuple[Any, Any]: ...


def resolve_place(key: str, territory: PlaceResolver | None, where: str) -> Location:
    """A place key -> Location: 'lon,lat' is a free point, anything else a stop of the territory."""
    m = _POINT.match(key)
    if m:
        lon, lat = float(m.group(1)), float(m.group(2))
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise InputError(f"point {key!r} is not a number", where)
        return Location(id=f"{lon:.6f},{lat:.6f}", lon=lon, lat=lat, name=f"{lat:.5f} N, {lon:.5f} E")
    if territory is None:
        raise InputError(f"unknown place {key!r} (no territory to look it up in)", where)
    try:
        stop = territory.stop(key)
    except InputError as e:
        raise type(e)(e.message, where) from None
    return Location(id=stop.id, lon=stop.lon, lat=stop.lat, name=stop.name)


def problem_from_dicts(
    requests: Sequence[Mapping[str, Any]],
    vehicles: Sequence[Mapping[str, Any]],
    territory: PlaceResolver | None,
    network: MatrixSource,
    *,
    day: date | None = None,
    timezone: str = "Europe/Paris",
    rules: ServiceRules | None = None,
    weights: ObjectiveWeights | None = None,
    params: SolverParams | None = None,
    name: str = "",
) -> Problem:
    """The friendly builder: request and vehicle dicts with place names -> a compiled Problem.

    Places are resolved on the territory (stop ids, commune names, or ``lon,lat`` points),
    placed on the road network, and the travel-time and distance matrices computed once.
    """
    reqs = [request_from_dict(d, f"requests[{k}]", day, timezone) for k, d in enumerate(requests)]
    vehs = [vehicle_from_dict(d, f"vehicles[{k}]", day, timezone) for k, d in enumerate(vehicles)]
    locations: dict[str, Location] = {}

    def place(key: str, where: str) -> str:
        loc = resolve_place(key, territory, where)
        locations.setdefault(loc.id, loc)
        return loc.id

    reqs = [
        _replace(r, pickup=place(r.pickup, f"requests[{k}].pickup"), dropoff=place(r.dropoff, f"requests[{k}].dropoff"))
        for k, r in enumerate(reqs)
    ]
    vehs = [
        _replace(
            v,
            start=place(v.start, f"vehicles[{k}].start"),
            end=place(v.end, f"vehicles[{k}].end"),
            home=None if v.home is None else place(v.home, f"vehicles[{k}].home"),
            allowed_stops=tuple(place(x, f"vehicles[{k}].allowed_stops[{j}]") for j, x in enumerate(v.allowed_stops)),
        )
        for k, v in enumerate(vehs)
    ]
    locs = tuple(locations.values())
    duration, distance = network.matrices([(loc.lon, loc.lat) for loc in locs], labels=[loc.id for loc in locs])
    return Problem(
        locations=locs,
        duration_s=duration,
        distance_m=distance,
        requests=tuple(reqs),
        vehicles=tuple(vehs),
        rules=rules or ServiceRules(),
        weights=weights or ObjectiveWeights(),
        params=params or SolverParams(),
        day=day,
        timezone=timezone,
        name=name,
    )


def _replace(obj: Any, **changes: Any) -> Any:
    from dataclasses import replace

    return replace(obj, **changes)


# --------------------------------------------------------------------------------------------
# Problem JSON
# --------------------------------------------------------------------------------------------


def _dataclass_from(cls: type, d: Any, where: str, convert: Mapping[str, Callable[[Any, str], Any]] | None = None) -> Any:
    names = {f.name for f in fields(cls)}
    _check_keys(d, names, where)
    kwargs = {}
    for k, v in d.items():
        kwargs[k] = convert[k](v, f"{where}.{k}") if convert and k in convert else v
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise InputError(str(e), where) from None


class Memo:
    """Serialised pieces (requests, vehicles, routes, matrices) of frozen objects, by identity.

    A live day is written after every booking, and all but one request and one route are the
    very objects written the time before: with a memo, writing it costs what changed. The
    pieces are shared between the dicts returned: never mutate them. Holds the objects it has
    seen (so their ids stay theirs) up to ``limit`` pieces, then starts afresh."""

    def __init__(self, limit: int = 50_000) -> None:
        self.limit = limit
        self._pieces: dict[tuple[int, str], tuple[object, Any]] = {}

    def get(self, obj: object, tag: str, make: Callable[[], Any]) -> Any:
        key = (id(obj), tag)
        got = self._pieces.get(key)
        if got is not None and got[0] is obj:
            return got[1]
        if len(self._pieces) >= self.limit:
            self._pieces.clear()
        value = make()
        self._pieces[key] = (obj, value)
        return value


def _pieces(memo: Memo | None, tag: str) -> Callable[[Any, Callable[[Any], Any]], Any]:
    """``piece(obj, fn)``: ``fn(obj)``, through ``memo`` when there is one."""
    if memo is None:
        return lambda obj, fn: fn(obj)
    return lambda obj, fn: memo.get(obj, tag, lambda: fn(obj))


def _int_rows(m: Any) -> list[list[int]]:
    if hasattr(m, "tolist"):
        return [[int(x) for x in row] for row in m.tolist()]
    return [[int(x) for x in row] for row in m]


def problem_to_dict(p: Problem, memo: Memo | None = None) -> dict[str, Any]:
    """The problem as JSON (schema ``dispatcher/problem/1``); ``memo`` reuses the pieces of
    requests, vehicles and matrices already written (see :class:`Memo`)."""
    day, tz = p.day, p.timezone
    piece = _pieces(memo, f"problem:{day}:{tz}")

    def req(r: Request) -> dict[str, Any]:
        out: dict[str, Any] = {"id": r.id, "pickup": r.pickup, "dropoff": r.dropoff, "seats": r.seats, "wheelchairs": r.wheelchairs}
        if r.pickup_window is not None:
            out["pickup_window"] = _window_out(r.pickup_window, day, tz)
        if r.arrive_by_s is not None:
            out["arrive_by"] = format_time(r.arrive_by_s, day, tz)
        if r.not_before_s is not None:
            out["not_before"] = format_time(r.not_before_s, day, tz)
        for k in ("boarding_s", "alighting_s", "max_ride_s", "return_of"):
            if getattr(r, k) is not None:
                out[k] = getattr(r, k)
        if r.priority != 1:
            out["priority"] = r.priority
        for k in ("name", "phone"):
            if getattr(r, k):
                out[k] = getattr(r, k)
        return out

    def veh(v: Vehicle) -> dict[str, Any]:
        return {
            "id": v.id, "start": v.start, "end": v.end, "shift": _window_out(v.shift, day, tz),
            "seats": v.seats, "wheelchairs": v.wheelchairs,
            "breaks": [{"window": _window_out(b.window, day, tz), "duration_s": b.duration_s} for b in v.breaks],
            "cost_per_km": v.cost_per_km, "cost_per_hour": v.cost_per_hour, "fixed_cost": v.fixed_cost,
            "kind": v.kind, "name": v.name, "phone": v.phone,
            **({"max_duration_s": v.max_duration_s} if v.max_duration_s is not None else {}),
            **({"start_window": _window_out(v.start_window, day, tz)} if v.start_window is not None else {}),
            **({"end_window": _window_out(v.end_window, day, tz)} if v.end_window is not None else {}),
            **({"allowed_stops": list(v.allowed_stops)} if v.allowed_stops else {}),
            **({"home": v.home} if v.home is not None else {}),
            **({"max_km_from_home": v.max_km_from_home} if v.max_km_from_home is not None else {}),
            **({"cost_per_passenger_km": v.cost_per_passenger_km} if v.cost_per_passenger_km else {}),
        }

    rules = asdict(p.rules)
    rules["service_hours"] = _window_out(p.rules.service_hours, day, tz)
    rules["co2_g_per_km"] = dict(p.rules.co2_g_per_km)
    return {
        "schema": PROBLEM_SCHEMA,
        "name": p.name,
        "day": p.day.isoformat() if p.day else None,
        "timezone": p.timezone,
        "rules": rules,
        "weights": asdict(p.weights),
        "params": asdict(p.params),
        "locations": [piece(loc, asdict) for loc in p.locations],
        "duration_s": piece(p.duration_s, _int_rows),
        "distance_m": piece(p.distance_m, _int_rows),
        "requests": [piece(r, req) for r in p.requests],
        "vehicles": [piece(v, veh) for v in p.vehicles],
    }


def problem_from_dict(d: Mapping[str, Any]) -> Problem:
    _check_keys(
        d,
        ("schema", "name", "day", "timezone", "rules", "weights", "params", "locations", "duration_s", "distance_m", "requests", "vehicles"),
        "problem",
    )
    if d.get("schema", PROBLEM_SCHEMA) != PROBLEM_SCHEMA:
        raise InputError(f"unsupported schema {d.get('schema')!r}, expected {PROBLEM_SCHEMA}", "schema")
    day = parse_day(d.get("day"))
    tz = str(d.get("timezone") or "Europe/Paris")
    rules_d = dict(d.get("rules") or {})
    if "service_hours" in rules_d:
        rules_d["service_hours"] = _window(rules_d["service_hours"], "rules.service_hours", day, tz)
    rules = _dataclass_from(ServiceRules, rules_d, "rules")
    weights = _dataclass_from(ObjectiveWeights, d.get("weights") or {}, "weights")
    params = _dataclass_from(SolverParams, d.get("params") or {}, "params")
    check_names(params, "params")
    locations = tuple(_dataclass_from(Location, loc, f"locations[{k}]") for k, loc in enumerate(_get(d, "locations", "problem")))
    return Problem(
        locations=locations,
        duration_s=_matrix(d, "duration_s"),
        distance_m=_matrix(d, "distance_m"),
        requests=tuple(request_from_dict(r, f"requests[{k}]", day, tz) for k, r in enumerate(d.get("requests") or [])),
        vehicles=tuple(vehicle_from_dict(v, f"vehicles[{k}]", day, tz) for k, v in enumerate(d.get("vehicles") or [])),
        rules=rules,
        weights=weights,
        params=params,
        day=day,
        timezone=tz,
        name=str(d.get("name") or ""),
    )


def _matrix(d: Mapping[str, Any], key: str) -> list[list[int]]:
    m = _get(d, key, "problem")
    if not isinstance(m, list):
        raise InputError("must be a list of rows", key)
    out = []
    for i, row in enumerate(m):
        if not isinstance(row, list):
            raise InputError("must be a list of integers", f"{key}[{i}]")
        for j, x in enumerate(row):
            if isinstance(x, bool) or not isinstance(x, int) or x < 0:
                raise InputError(f"must be a non-negative integer, got {x!r}", f"{key}[{i}][{j}]")
        out.append(row)
    return out


# --------------------------------------------------------------------------------------------
# Plan JSON
# --------------------------------------------------------------------------------------------


def plan_to_dict(plan: Plan, problem: Problem | None = None, memo: Memo | None = None) -> dict[str, Any]:
    """The plan as JSON (schema ``dispatcher/plan/1``), times local to the problem's day;
    ``memo`` reuses the routes already written (see :class:`Memo`)."""
    day = problem.day if problem else None
    tz = problem.timezone if problem else "Europe/Paris"
    piece = _pieces(memo, f"plan:{day}:{tz}")

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
            "breaks": [{"start": t(b.start_s), "duration_s": b.duration_s, "after": b.after} for b in r.breaks],
        }

    return {
        "schema": PLAN_SCHEMA,
        "day": day.isoformat() if day else None,
        "timezone": tz,
        "routes": [piece(r, route) for r in plan.routes],
        "rejections": [
            {"request_id": j.request_id, "reason": j.reason.value, "message": j.message, "message_en": j.message_en, "details": dict(j.details)}
            for j in plan.rejections
        ],
        "kpis": asdict(plan.kpis),
        "stats": asdict(plan.stats),
    }


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
    if not isinstance(d, Mapping):
        raise InputError("a plan must be a JSON object", "plan")
    if d.get("schema", PLAN_SCHEMA) != PLAN_SCHEMA:
        raise InputError(f"unsupported schema {d.get('schema')!r}, expected {PLAN_SCHEMA}", "schema")
    day = problem.day if problem else parse_day(d.get("day"))
    tz = problem.timezone if problem else str(d.get("timezone") or "Europe/Paris")

    def t(v: Any, where: str) -> int:
        return parse_time(v, where, day, tz)

    routes = []
    for i, r in enumerate(d.get("routes") or []):
        w = f"routes[{i}]"
        visits = []
        for k, v in enumerate(_get(r, "visits", w, [])):
            vw = f"{w}.visits[{k}]"
            kind = _get(v, "kind", vw)
            if kind not in ("pickup", "dropoff"):
                raise InputError(f"must be 'pickup' or 'dropoff', got {kind!r}", f"{vw}.kind")
            load = v.get("load") or {}
            visits.append(
                Visit(
                    request_id=str(_get(v, "request_id", vw)),
                    kind=kind,
                    location_id=str(_get(v, "location_id", vw)),
                    arrival_s=t(_get(v, "arrival", vw), f"{vw}.arrival"),
                    start_s=t(_get(v, "start", vw), f"{vw}.start"),
                    departure_s=t(_get(v, "departure", vw), f"{vw}.departure"),
                    seats=_get(load, "seats", f"{vw}.load", 0, int),
                    wheelchairs=_get(load, "wheelchairs", f"{vw}.load", 0, int),
                    ride_time_s=_get(v, "ride_time_s", vw, None, int),
                )
            )
        breaks = tuple(
            BreakTaken(t(_get(b, "start", f"{w}.breaks[{k}]"), f"{w}.breaks[{k}].start"), _get(b, "duration_s", f"{w}.breaks[{k}]", kind=int), _get(b, "after", f"{w}.breaks[{k}]", kind=int))
            for k, b in enumerate(r.get("breaks") or [])
        )
        routes.append(
            Route(
                vehicle_id=str(_get(r, "vehicle_id", w)),
                start_s=t(_get(r, "start", w), f"{w}.start"),
                end_s=t(_get(r, "end", w), f"{w}.end"),
                visits=tuple(visits),
                breaks=breaks,
                distance_m=_get(r, "distance_m", w, 0, int),
                mode=_get(r, "mode", w, "", str),
            )
        )
    rejections = []
    for k, j in enumerate(d.get("rejections") or []):
        w = f"rejections[{k}]"
        try:
            reason = Reason(_get(j, "reason", w))
        except ValueError:
            raise InputError(f"unknown reason {j.get('reason')!r}", f"{w}.reason") from None
        rejections.append(Rejection(str(_get(j, "request_id", w)), reason, _get(j, "message", w, "", str), _get(j, "message_en", w, "", str), dict(j.get("details") or {})))
    kpis = _dataclass_from(KPIs, d.get("kpis") or {}, "kpis")
    stats = _dataclass_from(SolverStats, _stats_fields(d.get("stats") or {}), "stats")
    return Plan(routes=tuple(routes), rejections=tuple(rejections), kpis=kpis, stats=stats)


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------


def read_json(path: str | Path) -> Any:
    p = Path(path)
    try:
        with p.open(encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise InputError("file not found", str(p)) from None
    except json.JSONDecodeError as e:
        raise InputError(f"invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}", str(p)) from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read: {e}", str(p)) from None


def write_json(path: str | Path, data: Any) -> None:
    """Write atomically: a temp file in the same folder, then rename."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    tmp.replace(p)


def load_problem(path: str | Path) -> Problem:
    data = read_json(path)
    try:
        return problem_from_dict(data)
    except InputError as e:
        raise InputError(e.message, f"{path}: {e.where}") from None


def load_plan(path: str | Path, problem: Problem | None = None) -> Plan:
    data = read_json(path)
    try:
        return plan_from_dict(data, problem)
    except InputError as e:
        raise InputError(e.message, f"{path}: {e.where}") from None


# --------------------------------------------------------------------------------------------
# CSV: requests and fleet (operators live in spreadsheets)
# --------------------------------------------------------------------------------------------

REQUEST_CSV_COLUMNS = (
    "id", "pickup", "dropoff", "seats", "wheelchairs", "pickup_from", "pickup_to", "arrive_by",
    "not_before", "priority", "return_of", "name", "phone",
)
FLEET_CSV_COLUMNS = (
    "id", "start", "end", "shift_start", "shift_end", "seats", "wheelchairs", "break_from", "break_to",
    "break_min", "cost_per_km", "cost_per_hour", "fixed_cost", "kind", "name", "phone",
)


def _read_csv(path: str | Path, known: Sequence[str], required: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError("file not found", str(p)) from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read: {e}", str(p)) from None
    first = text.splitlines()[0] if text else ""
    delimiter = max(",;\t", key=first.count) if first else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}; columns are {', '.join(known)}", str(p))
    unknown = [c for c in header if c not in known]
    if unknown:
        raise InputError(f"unknown column(s) {', '.join(unknown)}; columns are {', '.join(known)}", str(p))
    rows = []
    for line, row in enumerate(reader, start=2):
        clean = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
        if any(clean.values()):
            rows.append((line, clean))
    return rows


def requests_from_csv(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a requests CSV -> request dicts (the same vocabulary as JSON)."""
    out = []
    for line, row in _read_csv(path, REQUEST_CSV_COLUMNS, ("id", "pickup", "dropoff")):
        d: dict[str, Any] = {k: row[k] for k in ("id", "pickup", "dropoff") }
        for k in ("seats", "wheelchairs", "priority", "return_of", "name", "phone", "arrive_by", "not_before"):
            if row.get(k):
                d[k] = row[k]
        if row.get("pickup_from") or row.get("pickup_to"):
            if not (row.get("pickup_from") and row.get("pickup_to")):
                raise InputError("give both pickup_from and pickup_to", f"{path}: line {line}")
            d["pickup_window"] = [row["pickup_from"], row["pickup_to"]]
        d["_line"] = line
        out.append(d)
    return out


def fleet_from_csv(path: str | Path) -> list[dict[str, Any]]:
    out = []
    for line, row in _read_csv(path, FLEET_CSV_COLUMNS, ("id", "start", "shift_start", "shift_end")):
        d: dict[str, Any] = {"id": row["id"], "start": row["start"], "shift": [row["shift_start"], row["shift_end"]]}
        for k in ("end", "seats", "wheelchairs", "cost_per_km", "cost_per_hour", "fixed_cost", "kind", "name", "phone"):
            if row.get(k):
                d[k] = row[k]
        if row.get("break_from") or row.get("break_to") or row.get("break_min"):
            if not (row.get("break_from") and row.get("break_to") and row.get("break_min")):
                raise InputError("a break needs break_from, break_to and break_min", f"{path}: line {line}")
            try:
                minutes = int(row["break_min"])
            except ValueError:
                raise InputError(f"break_min must be whole minutes, got {row['break_min']!r}", f"{path}: line {line}") from None
            d["breaks"] = [{"window": [row["break_from"], row["break_to"]], "duration_s": minutes * 60}]
        d["_line"] = line
        out.append(d)
    return out


def strip_lines(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "_line"} for r in rows]


def _load_rows(path: str | Path, key: str, from_csv: Callable[[str | Path], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """A CSV (through ``from_csv``) or a JSON list, or an object holding the list under ``key``."""
    if str(path).lower().endswith(".csv"):
        return strip_lines(from_csv(path))
    data = read_json(path)
    data = data.get(key) if isinstance(data, Mapping) else data
    if not isinstance(data, list):
        raise InputError(f"expected a list of {key} (or an object with a '{key}' list)", str(path))
    return data


def load_requests(path: str | Path) -> list[dict[str, Any]]:
    """A requests file, CSV or JSON (a list, or {"requests": [...]})."""
    return _load_rows(path, "requests", requests_from_csv)


def load_fleet(path: str | Path) -> list[dict[str, Any]]:
    """A fleet file, CSV or JSON (a list, or {"vehicles": [...]})."""
    return _load_rows(path, "vehicles", fleet_from_csv)


# --------------------------------------------------------------------------------------------
# Carpool offers and volunteer drivers (places as keys, resolved on the territory)
# --------------------------------------------------------------------------------------------

OFFER_FIELDS = (
    "driver_id", "origin", "destination", "seats", "departure_window", "arrival_window", "max_detour_share",
    "max_detour_cap_s", "meeting_points", "days", "name", "phone",
)
VOLUNTEER_FIELDS = ("id", "home", "half_days", "seats", "wheelchairs", "max_km_from_home", "cost_per_km", "name", "phone")


def _days(value: Any, where: str) -> tuple[int, ...]:
    items = value.replace(",", " ").split() if isinstance(value, str) else list(value or ())
    out = []
    for k, d in enumerate(items):
        key = str(d).strip().lower()[:3]
        if key in WEEKDAYS:
            out.append(WEEKDAYS.index(key))
        elif isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 6:
            out.append(d)
        else:
            raise InputError(f"a weekday is mon..sun or 0 (Monday)..6, got {d!r}", f"{where}[{k}]")
    return tuple(out)


def offer_from_dict(d: Mapping[str, Any], where: str, day: date | None = None, tz: str = "Europe/Paris") -> CarpoolOffer:
    """A carpool offer whose places are keys (stop ids, commune names, 'lon,lat')."""
    _check_keys(d, OFFER_FIELDS, where)
    dep, arr = d.get("departure_window"), d.get("arrival_window")
    mp = d.get("meeting_points") or ()
    if isinstance(mp, str):
        mp = [x for x in mp.split(";") if x.strip()]
    offer = CarpoolOffer(
        driver_id=str(_get(d, "driver_id", where)),
        origin=_place_key(_get(d, "origin", where)),
        destination=_place_key(_get(d, "destination", where)),
        seats=_get(d, "seats", where, 3, int),
        departure_window=None if dep in (None, "") else _window(dep, f"{where}.departure_window", day, tz),
        arrival_window=None if arr in (None, "") else _window(arr, f"{where}.arrival_window", day, tz),
        max_detour_share=_get(d, "max_detour_share", where, 0.25, float),
        max_detour_cap_s=_get(d, "max_detour_cap_s", where, 900, int),
        meeting_points=tuple(_place_key(x) for x in mp),
        days=_days(d.get("days"), f"{where}.days"),
        name=_get(d, "name", where, "", str),
        phone=_get(d, "phone", where, "", str),
    )
    offer.validate(where)
    return offer


def volunteer_from_dict(d: Mapping[str, Any], where: str) -> VolunteerDriver:
    _check_keys(d, VOLUNTEER_FIELDS, where)
    hd = d.get("half_days", ("am",))
    if isinstance(hd, str):
        hd = hd.replace(",", " ").split()
    v = VolunteerDriver(
        id=str(_get(d, "id", where)),
        home=_place_key(_get(d, "home", where)),
        half_days=tuple(str(x).strip().lower() for x in hd),
        seats=_get(d, "seats", where, 3, int),
        wheelchairs=_get(d, "wheelchairs", where, 0, int),
        max_km_from_home=_get(d, "max_km_from_home", where, 30.0, float),
        cost_per_km=_get(d, "cost_per_km", where, None, float),
        name=_get(d, "name", where, "", str),
        phone=_get(d, "phone", where, "", str),
    )
    v.validate(where)
    return v


class TerritoryLike(PlaceResolver, Protocol):
    def contains(self, lon: float, lat: float, buffer_m: float = 0.0) -> bool: ...


TERRITORY_BUFFER_M = 5_000.0  # a point this close to the territory is still served (as the graph's)


def _resolve_inside(key: str, territory: PlaceResolver | None, where: str) -> Location:
    loc = resolve_place(key, territory, where)
    contains = getattr(territory, "contains", None)
    if contains is not None and _POINT.match(key) and not contains(loc.lon, loc.lat, TERRITORY_BUFFER_M):
        raise PointError(f"{loc.lon:.5f},{loc.lat:.5f} is outside the territory (and its {TERRITORY_BUFFER_M / 1000:g} km margin)", where)
    return loc


def offers_from_dicts(
    rows: Sequence[Mapping[str, Any]], territory: PlaceResolver | None, day: date | None = None, tz: str = "Europe/Paris"
) -> list[CarpoolOffer]:
    """Offer dicts -> offers whose places are Location ids of the territory (points must lie in it)."""
    out = []
    for k, d in enumerate(rows):
        w = f"offers[{k}]"
        o = offer_from_dict(d, w, day, tz)
        out.append(
            _replace(
                o,
                origin=_resolve_inside(o.origin, territory, f"{w}.origin").id,
                destination=_resolve_inside(o.destination, territory, f"{w}.destination").id,
                meeting_points=tuple(
                    _resolve_inside(m, territory, f"{w}.meeting_points[{j}]").id for j, m in enumerate(o.meeting_points)
                ),
            )
        )
    return out


def volunteers_from_dicts(rows: Sequence[Mapping[str, Any]], territory: PlaceResolver | None) -> list[VolunteerDriver]:
    out = []
    for k, d in enumerate(rows):
        v = volunteer_from_dict(d, f"volunteers[{k}]")
        out.append(_replace(v, home=_resolve_inside(v.home, territory, f"volunteers[{k}].home").id))
    return out


def mixed_from_dicts(
    requests: Sequence[Mapping[str, Any]],
    vehicles: Sequence[Mapping[str, Any]],
    offers: Sequence[Mapping[str, Any]],
    volunteers: Sequence[Mapping[str, Any]],
    territory: PlaceResolver | None,
    network: MatrixSource,
    **kwargs: Any,
) -> tuple[Problem, list[CarpoolOffer], list[VolunteerDriver]]:
    """Like :func:`problem_from_dicts`, with carpool offers and volunteers whose places join the
    Problem's locations (one matrix for all). Pass the three to ``dispatcher.solver.mixed.plan_mixed``."""
    day, tz = kwargs.get("day"), kwargs.get("timezone", "Europe/Paris")
    offs = offers_from_dicts(offers, territory, day, tz)
    vols = volunteers_from_dicts(volunteers, territory)
    problem = problem_from_dicts(requests, vehicles, territory, network, **kwargs)
    extra = {loc.id: loc for loc in problem.locations}
    for k in (*(p for o in offs for p in (o.origin, o.destination, *o.meeting_points)), *(v.home for v in vols)):
        if k not in extra:
            extra[k] = resolve_place(k, territory, "offers")
    if len(extra) > len(problem.locations):
        locs = tuple(extra.values())
        dur, dist = network.matrices([(loc.lon, loc.lat) for loc in locs], labels=[loc.id for loc in locs])
        problem = _replace(problem, locations=locs, duration_s=dur, distance_m=dist)
    return problem, offs, vols


def load_list(path: str | Path, key: str) -> list[dict[str, Any]]:
    """A JSON list (or an object with a ``key`` list), or a CSV with one column per field
    (windows as ``departure_from``/``departure_to``, ``arrival_from``/``arrival_to``)."""
    if str(path).lower().endswith(".csv"):
        rows = []
        with open(path, newline="", encoding="utf-8-sig") as f:
            for line, row in enumerate(csv.DictReader(f), start=2):
                d: dict[str, Any] = {k.strip(): v.strip() for k, v in row.items() if k and v and v.strip()}
                for w in ("departure", "arrival"):
                    a, b = d.pop(f"{w}_from", None), d.pop(f"{w}_to", None)
                    if a or b:
                        if not (a and b):
                            raise InputError(f"give both {w}_from and {w}_to", f"{path}: line {line}")
                        d[f"{w}_window"] = [a, b]
                for k in ("seats", "wheelchairs", "max_detour_cap_s"):
                    if k in d:
                        try:
                            d[k] = int(d[k])
                        except ValueError:
                            raise InputError(f"{k} must be an integer, got {d[k]!r}", f"{path}: line {line}") from None
                for k in ("max_detour_share", "max_km_from_home", "cost_per_km"):
                    if k in d:
                        try:
                            d[k] = float(d[k])
                        except ValueError:
                            raise InputError(f"{k} must be a number, got {d[k]!r}", f"{path}: line {line}") from None
                rows.append(d)
        return rows
    data = read_json(path)
    data = data.get(key) if isinstance(data, Mapping) else data
    if not isinstance(data, list):
        raise InputError(f"expected a list (or an object with a {key!r} list)", str(path))
    return data


# --------------------------------------------------------------------------------------------
# GeoJSON of routes, following the roads of the graph
# --------------------------------------------------------------------------------------------


class PathSource(Protocol):
    def path_coords(self, a: tuple[float, float], b: tuple[float, float]) -> list[tuple[float, float]]: ...


def plan_to_geojson(plan: Plan, problem: Problem, network: PathSource | None = None) -> dict[str, Any]:
    """Routes as LineStrings along the roads (straight legs without a network), visits and refusals as Points."""
    day, tz = problem.day, problem.timezone
    features: list[dict[str, Any]] = []
    for r in plan.routes:
        v = problem.vehicle(r.vehicle_id)
        stops = [v.start] + [x.location_id for x in r.visits] + [v.end]
        coords: list[tuple[float, float]] = []
        for a, b in zip(stops, stops[1:], strict=False):
            la, lb = problem.location(a), problem.location(b)
            leg = network.path_coords((la.lon, la.lat), (lb.lon, lb.lat)) if network else [(la.lon, la.lat), (lb.lon, lb.lat)]
            coords.extend(leg if not coords else leg[1:])
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [list(c) for c in coords]},
                "properties": {
                    "kind": "route", "vehicle_id": r.vehicle_id, "start": format_time(r.start_s, day, tz),
                    "end": format_time(r.end_s, day, tz), "distance_m": r.distance_m, "visits": len(r.visits),
                },
            }
        )
        for k, x in enumerate(r.visits):
            loc = problem.location(x.location_id)
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [loc.lon, loc.lat]},
                    "properties": {
                        "kind": x.kind, "vehicle_id": r.vehicle_id, "order": k, "request_id": x.request_id,
                        "place": loc.name or loc.id, "start": format_time(x.start_s, day, tz),
                        "seats": x.seats, "wheelchairs": x.wheelchairs,
                    },
                }
            )
    for j in plan.rejections:
        req = problem.request(j.request_id)
        loc = problem.location(req.pickup)
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [loc.lon, loc.lat]},
                "properties": {"kind": "refused", "request_id": j.request_id, "reason": j.reason.value, "message": j.message},
            }
        )
    return {
        "type": "FeatureCollection",
        "features": features,
        "attribution": "Road data © OpenStreetMap contributors (ODbL), via the Travel Mapping project",
    }


