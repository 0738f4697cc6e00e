"""Problems at the edges: requests and vehicles from dicts, places resolved, the builder that
compiles a :class:`~dispatcher.model.Problem`, and the problem as JSON (schema
``dispatcher/problem/1``, documented in ``docs/schema.md``).

The request and vehicle dicts are the input vocabulary shared by JSON, CSV, the API and the
demo: places are keys (stop ids, commune names, or points), times as :mod:`dispatcher.io.times`
reads them. A field left out takes the model's default (``Vehicle.seats``, the dataclass's).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, replace
from datetime import date
from typing import Any

from dispatcher.errors import InputError, NotFoundError, PointError
from dispatcher.io.fields import (
    check_keys,
    dataclass_from,
    get_field,
    notices_at,
    relocated,
    split_origins,
)
from dispatcher.io.memo import Memo, memo_pieces
from dispatcher.io.protocols import Geocoder, MatrixSource, PlaceResolver
from dispatcher.io.times import format_time, format_window, parse_day, parse_time, parse_window
from dispatcher.model import (
    DEFAULT_TIMEZONE,
    Break,
    Location,
    ObjectiveWeights,
    Problem,
    Request,
    ServiceRules,
    SolverParams,
    TimeWindow,
    Vehicle,
)
from dispatcher.solver.ortools_names import check_names

PROBLEM_SCHEMA = "dispatcher/problem/1"

# --------------------------------------------------------------------------------------------
# Requests and vehicles from dicts
# --------------------------------------------------------------------------------------------

REQUEST_FIELDS = (
    "id",
    "pickup",
    "dropoff",
    "seats",
    "wheelchairs",
    "pickup_window",
    "arrive_by",
    "arrive_by_s",
    "not_before",
    "not_before_s",
    "boarding_s",
    "alighting_s",
    "max_ride_s",
    "priority",
    "return_of",
    "min_stay_s",
    "name",
    "phone",
    "accepts_carpool",
    "rider_category",
    "fare_product",
)
VEHICLE_FIELDS = (
    "id",
    "start",
    "end",
    "shift",
    "seats",
    "wheelchairs",
    "breaks",
    "cost_per_km",
    "cost_per_hour",
    "fixed_cost",
    "kind",
    "name",
    "phone",
    "max_duration_s",
    "start_window",
    "end_window",
    "allowed_stops",
    "home",
    "max_km_from_home",
    "cost_per_passenger_km",
    "max_driving_s",
    "driving_break_s",
)


def request_from_dict(
    d: Mapping[str, Any], where: str, day: date | None = None, tz: str = DEFAULT_TIMEZONE
) -> Request:
    """Build a Request whose pickup/dropoff are place keys (resolved to Location ids later)."""
    check_keys(d, REQUEST_FIELDS, where)
    pw = d.get("pickup_window")
    arrive = d.get("arrive_by", d.get("arrive_by_s"))
    not_before = d.get("not_before", d.get("not_before_s"))
    return Request(
        id=get_field(d, "id", where, kind=str),
        pickup=place_key(get_field(d, "pickup", where)),
        dropoff=place_key(get_field(d, "dropoff", where)),
        seats=get_field(d, "seats", where, Request.seats, int),
        wheelchairs=get_field(d, "wheelchairs", where, 0, int),
        pickup_window=(
            None if pw in (None, "") else parse_window(pw, f"{where}.pickup_window", day, tz)
        ),
        arrive_by_s=(
            None if arrive in (None, "") else parse_time(arrive, f"{where}.arrive_by", day, tz)
        ),
        not_before_s=(
            None
            if not_before in (None, "")
            else parse_time(not_before, f"{where}.not_before", day, tz)
        ),
        boarding_s=get_field(d, "boarding_s", where, None, int),
        alighting_s=get_field(d, "alighting_s", where, None, int),
        max_ride_s=get_field(d, "max_ride_s", where, None, int),
        priority=get_field(d, "priority", where, Request.priority, int),
        return_of=get_field(d, "return_of", where, None, str),
        min_stay_s=get_field(d, "min_stay_s", where, Request.min_stay_s, int),
        name=get_field(d, "name", where, "", str),
        phone=get_field(d, "phone", where, "", str),
        accepts_carpool=get_field(d, "accepts_carpool", where, Request.accepts_carpool, bool),
        rider_category=get_field(d, "rider_category", where, "", str),
        fare_product=get_field(d, "fare_product", where, "", str),
    )


def vehicle_from_dict(
    d: Mapping[str, Any], where: str, day: date | None = None, tz: str = DEFAULT_TIMEZONE
) -> Vehicle:
    """Build a Vehicle whose places are keys (resolved to Location ids later)."""
    check_keys(d, VEHICLE_FIELDS, where)
    breaks = []
    for k, b in enumerate(d.get("breaks") or ()):
        bw = f"{where}.breaks[{k}]"
        check_keys(b, ("window", "duration_s"), bw)
        b_window = parse_window(get_field(b, "window", bw), f"{bw}.window", day, tz)
        breaks.append(Break(b_window, get_field(b, "duration_s", bw, kind=int)))
    start = place_key(get_field(d, "start", where))
    shift = get_field(d, "shift", where)
    if isinstance(shift, Mapping):
        a, b2 = shift.get("start"), shift.get("end")
    elif isinstance(shift, (list, tuple)) and len(shift) == 2:
        a, b2 = shift
    else:
        raise InputError(
            f"a shift is {{'start': .., 'end': ..}} or [start, end], got {shift!r}",
            f"{where}.shift",
        )
    shift_w = TimeWindow(
        parse_time(a, f"{where}.shift.start", day, tz),
        parse_time(b2, f"{where}.shift.end", day, tz),
    )

    def window(key: str) -> TimeWindow | None:
        return None if d.get(key) in (None, "") else parse_window(d[key], f"{where}.{key}", day, tz)

    return Vehicle(
        id=get_field(d, "id", where, kind=str),
        start=start,
        end=place_key(d["end"]) if d.get("end") not in (None, "") else start,
        shift=shift_w,
        seats=get_field(d, "seats", where, Vehicle.seats, int),
        wheelchairs=get_field(d, "wheelchairs", where, 0, int),
        breaks=tuple(breaks),
        cost_per_km=get_field(d, "cost_per_km", where, Vehicle.cost_per_km, float),
        cost_per_hour=get_field(d, "cost_per_hour", where, Vehicle.cost_per_hour, float),
        fixed_cost=get_field(d, "fixed_cost", where, Vehicle.fixed_cost, float),
        kind=get_field(d, "kind", where, Vehicle.kind, str),
        name=get_field(d, "name", where, "", str),
        phone=get_field(d, "phone", where, "", str),
        max_duration_s=get_field(d, "max_duration_s", where, None, int),
        start_window=window("start_window"),
        end_window=window("end_window"),
        allowed_stops=tuple(place_key(x) for x in (d.get("allowed_stops") or ())),
        home=None if d.get("home") in (None, "") else place_key(d["home"]),
        max_km_from_home=get_field(d, "max_km_from_home", where, None, float),
        cost_per_passenger_km=get_field(
            d, "cost_per_passenger_km", where, Vehicle.cost_per_passenger_km, float
        ),
        max_driving_s=get_field(d, "max_driving_s", where, None, int),
        driving_break_s=get_field(d, "driving_break_s", where, Vehicle.driving_break_s, int),
    )


# --------------------------------------------------------------------------------------------
# Places
# --------------------------------------------------------------------------------------------

_POINT = re.compile(
    r"^\s*(-?\d+(?:\.\d+)?|nan|-?inf)\s*,\s*(-?\d+(?:\.\d+)?|nan|-?inf)\s*$", re.IGNORECASE
)


def place_key(value: Any) -> str:
    """A place is a stop id or commune name (str), or a point {lon, lat} / [lon, lat] ->
    'lon,lat'."""
    if isinstance(value, Mapping):
        return f"{value.get('lon')},{value.get('lat')}"
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return f"{value[0]},{value[1]}"
    return str(value).strip()


def is_point(key: str) -> bool:
    """Whether a place key is a free point ``lon,lat`` (not a stop of the territory)."""
    return _POINT.match(key) is not None


_ADDRESS = re.compile(r"^\s*\d|,")


def looks_like_address(key: str) -> bool:
    """Whether a place that is no stop nor commune reads as a postal address: it starts with a
    house number or holds a comma before its commune (``12 rue de Corbie, Albert``)."""
    return _ADDRESS.search(key) is not None


def point_name(lon: float, lat: float) -> str:
    """How a free point given as ``lon,lat`` is named (for the driver: its coordinates)."""
    return f"{lat:.5f} N, {lon:.5f} E"


def place_of(loc: Location) -> str:
    """The place key that resolves to ``loc`` again: a point named by a postal address is the
    address (so that the driver keeps it), anything else its id."""
    if is_point(loc.id) and loc.name and loc.name != point_name(loc.lon, loc.lat):
        return loc.name
    return loc.id


def resolve_place(
    key: str, territory: PlaceResolver | None, where: str, geocoder: Geocoder | None = None
) -> Location:
    """A place key -> Location: 'lon,lat' is a free point, anything else a stop of the
    territory, else (with a ``geocoder``) a postal address: a free point named by the address,
    which the driver's manifest shows."""
    m = _POINT.match(key)
    if m:
        lon, lat = float(m.group(1)), float(m.group(2))
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise InputError(f"point {key!r} is not a number", where)
        return Location(id=f"{lon:.6f},{lat:.6f}", lon=lon, lat=lat, name=point_name(lon, lat))
    if territory is None:
        raise InputError(f"unknown place {key!r} (no territory to look it up in)", where)
    try:
        stop = territory.stop(key)
    except NotFoundError as e:
        if geocoder is None or not looks_like_address(key):
            raise NotFoundError(e.message, where) from None
        found = geocoder.locate(key, where)
        address = " ".join(key.split())
        return Location(
            id=f"{found.lon:.6f},{found.lat:.6f}",
            lon=found.lon,
            lat=found.lat,
            name=address,
            placed=found.precision,
        )
    except InputError as e:
        raise type(e)(e.message, where) from None
    return Location(id=stop.id, lon=stop.lon, lat=stop.lat, name=stop.name)


# --------------------------------------------------------------------------------------------
# The builder
# --------------------------------------------------------------------------------------------


def problem_from_dicts(
    requests: Sequence[Mapping[str, Any]],
    vehicles: Sequence[Mapping[str, Any]],
    territory: PlaceResolver | None,
    network: MatrixSource,
    *,
    day: date | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    rules: ServiceRules | None = None,
    weights: ObjectiveWeights | None = None,
    params: SolverParams | None = None,
    name: str = "",
    geocoder: Geocoder | None = None,
) -> Problem:
    """The friendly builder: request and vehicle dicts with place names -> a compiled Problem.

    Places are resolved on the territory (stop ids, commune names, or ``lon,lat`` points),
    placed on the road network, and the travel-time and distance matrices computed once. Rows
    read from files carry their :class:`~dispatcher.io.fields.Origin`: an error then names the
    file, the line and the column rather than ``requests[2]``.
    """
    requests, req_origins = split_origins(requests)
    vehicles, veh_origins = split_origins(vehicles)
    origins = {"requests": req_origins, "vehicles": veh_origins}
    try:
        with notices_at(origins):
            return _build(
                requests,
                vehicles,
                territory,
                network,
                day=day,
                timezone=timezone,
                rules=rules,
                weights=weights,
                params=params,
                name=name,
                geocoder=geocoder,
            )
    except InputError as e:
        raise relocated(e, origins) from None


def _build(
    requests: Sequence[Mapping[str, Any]],
    vehicles: Sequence[Mapping[str, Any]],
    territory: PlaceResolver | None,
    network: MatrixSource,
    *,
    day: date | None,
    timezone: str,
    rules: ServiceRules | None,
    weights: ObjectiveWeights | None,
    params: SolverParams | None,
    name: str,
    geocoder: Geocoder | None,
) -> Problem:
    reqs = [request_from_dict(d, f"requests[{k}]", day, timezone) for k, d in enumerate(requests)]
    vehs = [vehicle_from_dict(d, f"vehicles[{k}]", day, timezone) for k, d in enumerate(vehicles)]
    locations: dict[str, Location] = {}
    first_use: dict[str, str] = {}  # location id -> the first field that named it

    def place(key: str, where: str) -> str:
        loc = resolve_place(key, territory, where, geocoder)
        while loc.id in locations and locations[loc.id].name != loc.name and is_point(loc.id):
            # two addresses placed on one point (at a commune's main stop): each keeps its own
            # name for the driver, 0.1 m apart
            lon = loc.lon + 1e-6
            loc = replace(loc, id=f"{lon:.6f},{loc.lat:.6f}", lon=lon)
        locations.setdefault(loc.id, loc)
        first_use.setdefault(loc.id, where)
        return loc.id

    reqs = [
        replace(
            r,
            pickup=place(r.pickup, f"requests[{k}].pickup"),
            dropoff=place(r.dropoff, f"requests[{k}].dropoff"),
        )
        for k, r in enumerate(reqs)
    ]
    vehs = [
        replace(
            v,
            start=place(v.start, f"vehicles[{k}].start"),
            end=place(v.end, f"vehicles[{k}].end"),
            home=None if v.home is None else place(v.home, f"vehicles[{k}].home"),
            allowed_stops=tuple(
                place(x, f"vehicles[{k}].allowed_stops[{j}]") for j, x in enumerate(v.allowed_stops)
            ),
        )
        for k, v in enumerate(vehs)
    ]
    locs = tuple(locations.values())
    try:
        duration, distance = network.matrices(
            [(loc.lon, loc.lat) for loc in locs], labels=[loc.id for loc in locs]
        )
    except PointError as e:  # name the row that gave the point, not only the point
        for loc_id, where in first_use.items():
            if e.where == f"point {loc_id!r}":
                raise PointError(e.message, where) from None
        raise
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


# --------------------------------------------------------------------------------------------
# Problem JSON
# --------------------------------------------------------------------------------------------


def _int_rows(m: Any) -> list[list[int]]:
    if hasattr(m, "tolist"):
        return [[int(x) for x in row] for row in m.tolist()]
    return [[int(x) for x in row] for row in m]


def vehicle_to_dict(
    v: Vehicle, day: date | None = None, tz: str = "Europe/Paris"
) -> dict[str, Any]:
    """A vehicle in the input vocabulary (times local on ``day``, or seconds without a day): what
    compiles to ``v`` again (places as location ids, which resolve to themselves)."""
    out: dict[str, Any] = {
        "id": v.id,
        "start": v.start,
        "end": v.end,
        "shift": format_window(v.shift, day, tz),
        "seats": v.seats,
        "wheelchairs": v.wheelchairs,
        "breaks": [
            {"window": format_window(b.window, day, tz), "duration_s": b.duration_s}
            for b in v.breaks
        ],
        "cost_per_km": v.cost_per_km,
        "cost_per_hour": v.cost_per_hour,
        "fixed_cost": v.fixed_cost,
        "kind": v.kind,
        "name": v.name,
        "phone": v.phone,
    }
    if v.max_duration_s is not None:
        out["max_duration_s"] = v.max_duration_s
    if v.start_window is not None:
        out["start_window"] = format_window(v.start_window, day, tz)
    if v.end_window is not None:
        out["end_window"] = format_window(v.end_window, day, tz)
    if v.allowed_stops:
        out["allowed_stops"] = list(v.allowed_stops)
    if v.home is not None:
        out["home"] = v.home
    if v.max_km_from_home is not None:
        out["max_km_from_home"] = v.max_km_from_home
    if v.cost_per_passenger_km:
        out["cost_per_passenger_km"] = v.cost_per_passenger_km
    if v.max_driving_s is not None:
        out["max_driving_s"] = v.max_driving_s
    if v.driving_break_s != Vehicle.driving_break_s:
        out["driving_break_s"] = v.driving_break_s
    return out


def problem_to_dict(p: Problem, memo: Memo | None = None) -> dict[str, Any]:
    """The problem as JSON (schema ``dispatcher/problem/1``); ``memo`` reuses the pieces of
    requests, vehicles and matrices already written (see :class:`~dispatcher.io.memo.Memo`)."""
    day, tz = p.day, p.timezone
    piece = memo_pieces(memo, f"problem:{day}:{tz}")

    def req(r: Request) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": r.id,
            "pickup": r.pickup,
            "dropoff": r.dropoff,
            "seats": r.seats,
            "wheelchairs": r.wheelchairs,
        }
        if r.pickup_window is not None:
            out["pickup_window"] = format_window(r.pickup_window, day, tz)
        if r.arrive_by_s is not None:
            out["arrive_by"] = format_time(r.arrive_by_s, day, tz)
        if r.not_before_s is not None:
            out["not_before"] = format_time(r.not_before_s, day, tz)
        for k in ("boarding_s", "alighting_s", "max_ride_s", "return_of"):
            if getattr(r, k) is not None:
                out[k] = getattr(r, k)
        if r.priority != 1:
            out["priority"] = r.priority
        if r.return_of is not None and r.min_stay_s != Request.min_stay_s:
            out["min_stay_s"] = r.min_stay_s
        for k in ("name", "phone", "rider_category", "fare_product"):
            if getattr(r, k):
                out[k] = getattr(r, k)
        return out

    def veh(v: Vehicle) -> dict[str, Any]:
        return vehicle_to_dict(v, day, tz)

    rules = asdict(p.rules)
    rules["service_hours"] = format_window(p.rules.service_hours, day, tz)
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
    """A problem from its JSON (schema ``dispatcher/problem/1``), validated."""
    check_keys(
        d,
        (
            "schema",
            "name",
            "day",
            "timezone",
            "rules",
            "weights",
            "params",
            "locations",
            "duration_s",
            "distance_m",
            "requests",
            "vehicles",
        ),
        "problem",
    )
    if d.get("schema", PROBLEM_SCHEMA) != PROBLEM_SCHEMA:
        raise InputError(
            f"unsupported schema {d.get('schema')!r}, expected {PROBLEM_SCHEMA}", "schema"
        )
    day = parse_day(d.get("day"))
    tz = str(d.get("timezone") or DEFAULT_TIMEZONE)
    rules_d = dict(d.get("rules") or {})
    if "service_hours" in rules_d:
        rules_d["service_hours"] = parse_window(
            rules_d["service_hours"], "rules.service_hours", day, tz
        )
    rules = dataclass_from(ServiceRules, rules_d, "rules")
    weights = dataclass_from(ObjectiveWeights, d.get("weights") or {}, "weights")
    params = dataclass_from(SolverParams, d.get("params") or {}, "params")
    check_names(params, "params")
    locations = tuple(
        dataclass_from(Location, loc, f"locations[{k}]")
        for k, loc in enumerate(get_field(d, "locations", "problem"))
    )
    return Problem(
        locations=locations,
        duration_s=_matrix(d, "duration_s"),
        distance_m=_matrix(d, "distance_m"),
        requests=tuple(
            request_from_dict(r, f"requests[{k}]", day, tz)
            for k, r in enumerate(d.get("requests") or [])
        ),
        vehicles=tuple(
            vehicle_from_dict(v, f"vehicles[{k}]", day, tz)
            for k, v in enumerate(d.get("vehicles") or [])
        ),
        rules=rules,
        weights=weights,
        params=params,
        day=day,
        timezone=tz,
        name=str(d.get("name") or ""),
    )


def _matrix(d: Mapping[str, Any], key: str) -> list[list[int]]:
    m = get_field(d, key, "problem")
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
