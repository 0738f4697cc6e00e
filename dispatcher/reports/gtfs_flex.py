"""A GTFS-Flex description of the on-demand service, for journey planners, and a reader that
validates it.

The feed describes the service, not one day's plan: riders book by phone before a deadline
(by default the day before, until 17:00) and are picked up anywhere in a zone within the
service hours. Zones are the outlines of the intercommunalities (``zones="epci"``, one zone
each) or of the whole territory (``zones="territory"``); there is one trip for every ordered
pair of zones (inside a zone, and from each zone to each other), each with two stop_times on
``location_id`` (pickup window, then drop-off window), as the GTFS-Flex "zone-based
demand-responsive service" pattern has it. The stops of the territory are listed in
``stops.txt`` as the usual meeting points.

Files: agency.txt, feed_info.txt, routes.txt, trips.txt, calendar.txt, stops.txt,
stop_times.txt, booking_rules.txt, locations.geojson, in one zip.

:func:`read_gtfs_flex` reads a zip back and checks required files and columns, unique ids, the
cross references (trips -> routes and calendar, stop_times -> trips, zones, stops and booking
rules), times, and the GTFS-Flex rules (no arrival/departure time with a window, no regular
pickup or drop-off with a window). Every problem raises ``DataError`` naming the file, line and
column.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from dispatcher.errors import DataError, InputError
from dispatcher.fares.rules import FareRules
from dispatcher.model import DAY_S, TimeWindow, hhmm
from dispatcher.reports.gtfs_fares import check_gtfs_fares, fares_for_feed, read_fare_tables

# file -> (required columns, optional columns we write or accept)
SCHEMA: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "agency.txt": (
        ("agency_name", "agency_url", "agency_timezone"),
        ("agency_id", "agency_lang", "agency_phone", "agency_email"),
    ),
    "feed_info.txt": (
        ("feed_publisher_name", "feed_publisher_url", "feed_lang"),
        ("feed_start_date", "feed_end_date", "feed_version", "feed_contact_email"),
    ),
    "routes.txt": (
        ("route_id", "route_type"),
        (
            "agency_id",
            "route_short_name",
            "route_long_name",
            "route_desc",
            "route_color",
            "route_text_color",
        ),
    ),
    "trips.txt": (
        ("route_id", "service_id", "trip_id"),
        ("trip_headsign", "trip_short_name", "wheelchair_accessible"),
    ),
    "calendar.txt": (
        (
            "service_id",
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
            "sunday",
            "start_date",
            "end_date",
        ),
        (),
    ),
    "stops.txt": (
        ("stop_id",),
        ("stop_name", "stop_lat", "stop_lon", "location_type", "wheelchair_boarding", "stop_desc"),
    ),
    "stop_times.txt": (
        ("trip_id", "stop_sequence"),
        (
            "arrival_time",
            "departure_time",
            "stop_id",
            "location_group_id",
            "location_id",
            "start_pickup_drop_off_window",
            "end_pickup_drop_off_window",
            "pickup_type",
            "drop_off_type",
            "pickup_booking_rule_id",
            "drop_off_booking_rule_id",
            "timepoint",
        ),
    ),
    "booking_rules.txt": (
        ("booking_rule_id", "booking_type"),
        (
            "prior_notice_duration_min",
            "prior_notice_duration_max",
            "prior_notice_last_day",
            "prior_notice_last_time",
            "prior_notice_start_day",
            "prior_notice_start_time",
            "prior_notice_service_id",
            "message",
            "pickup_message",
            "drop_off_message",
            "phone_number",
            "info_url",
            "booking_url",
        ),
    ),
}
REQUIRED_FILES: tuple[str, ...] = tuple(SCHEMA) + ("locations.geojson",)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_TIME = re.compile(r"^(\d{1,2}):([0-5]\d):([0-5]\d)$")
_DATE = re.compile(r"^\d{8}$")


@dataclass(frozen=True)
class FlexService:
    """What the feed says about the service. Defaults: the pilot's on-demand service, Monday to
    Saturday 07:00-19:00, booking the day before until 17:00 at the latest, up to 14 days ahead."""

    agency_name: str = "Transport à la demande du Pays du Coquelicot"
    agency_url: str = (
        "https://www.example.org/transport-a-la-demande"  # replace with the operator's page
    )
    agency_phone: str = ""
    agency_timezone: str = "Europe/Paris"
    lang: str = "fr"
    route_name: str = "Transport à la demande"
    service_hours: TimeWindow = TimeWindow(7 * 3600, 19 * 3600)
    weekdays: tuple[bool, ...] = (True, True, True, True, True, True, False)
    start_date: date | None = None  # default: today
    end_date: date | None = None  # default: start_date + 364 days
    booking_last_day: int = 1  # book at the latest this many days before the trip ...
    booking_last_time_s: int = 17 * 3600  # ... by this time
    booking_start_day: int | None = 14  # and at the earliest this many days before (None: no limit)
    booking_message: str = "Réservation par téléphone la veille avant 17 h."
    booking_phone: str = ""
    booking_url: str = ""
    publisher_name: str = "dispatcher"
    publisher_url: str = "https://www.example.org/dispatcher"
    version: str = ""
    extra_stops: Sequence[Mapping[str, Any]] = field(default_factory=tuple)

    def validate(self) -> None:
        self.service_hours.validate("service.service_hours")
        if self.service_hours.end_s <= self.service_hours.start_s:
            raise InputError("the service hours are empty", "service.service_hours")
        if len(self.weekdays) != 7 or not any(self.weekdays):
            raise InputError(
                "give 7 days (Monday first) with at least one served", "service.weekdays"
            )
        if not (isinstance(self.booking_last_day, int) and self.booking_last_day >= 0):
            raise InputError("must be an integer >= 0", "service.booking_last_day")
        if not (0 <= self.booking_last_time_s < DAY_S):
            raise InputError("must be a time of day", "service.booking_last_time_s")
        if self.booking_start_day is not None and self.booking_start_day < self.booking_last_day:
            raise InputError("booking opens after it closes", "service.booking_start_day")
        if not self.agency_url.startswith(("http://", "https://")):
            raise InputError(f"must be a full URL, got {self.agency_url!r}", "service.agency_url")
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise InputError("ends before it starts", "service.end_date")


def gtfs_time(seconds: int) -> str:
    """Seconds since midnight -> GTFS ``HH:MM:SS`` (hours may pass 24)."""
    return hhmm(seconds, with_seconds=True)


def parse_gtfs_time(text: str) -> int | None:
    m = _TIME.match(text)
    if not m:
        return None
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + int(m.group(3))


def _csv(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\r\n", extrasaction="raise")
    w.writeheader()
    for row in rows:
        w.writerow({k: "" if row.get(k) is None else row.get(k) for k in columns})
    return buf.getvalue()


def _zones(territory: Any, zones: str) -> list[tuple[str, str, Any]]:
    """(zone id, name, WGS84 geometry) per zone."""
    from dispatcher.territory import Territory

    if zones == "territory":
        return [("zone_" + "_".join(territory.epcis), territory.name, territory.boundary)]
    if zones == "epci":
        out = []
        for siren in territory.epcis:
            part = Territory.load([siren])
            out.append((f"zone_{siren}", part.name, part.boundary))
        return out
    raise InputError(f"must be 'epci' or 'territory', got {zones!r}", "zones")


def build_gtfs_flex(
    territory: Any,
    service: FlexService | None = None,
    *,
    zones: str = "epci",
    fares: FareRules | None = None,
) -> dict[str, str]:
    """The feed's files as texts (file name -> content); with ``fares``, their GTFS-Fares v2
    files too (``dispatcher.reports.gtfs_fares``)."""
    svc = service or FlexService()
    svc.validate()
    start = svc.start_date or date.today()
    end = svc.end_date or start + timedelta(days=364)
    zone_list = _zones(territory, zones)
    agency_id, route_id, service_id, rule_id = "tad", "tad", "service", "veille_17h"

    files: dict[str, str] = {}
    files["agency.txt"] = _csv(
        (
            "agency_id",
            "agency_name",
            "agency_url",
            "agency_timezone",
            "agency_lang",
            "agency_phone",
        ),
        [
            {
                "agency_id": agency_id,
                "agency_name": svc.agency_name,
                "agency_url": svc.agency_url,
                "agency_timezone": svc.agency_timezone,
                "agency_lang": svc.lang,
                "agency_phone": svc.agency_phone,
            }
        ],
    )
    files["feed_info.txt"] = _csv(
        (
            "feed_publisher_name",
            "feed_publisher_url",
            "feed_lang",
            "feed_start_date",
            "feed_end_date",
            "feed_version",
        ),
        [
            {
                "feed_publisher_name": svc.publisher_name,
                "feed_publisher_url": svc.publisher_url,
                "feed_lang": svc.lang,
                "feed_start_date": start.strftime("%Y%m%d"),
                "feed_end_date": end.strftime("%Y%m%d"),
                "feed_version": svc.version or start.isoformat(),
            }
        ],
    )
    files["routes.txt"] = _csv(
        (
            "route_id",
            "agency_id",
            "route_short_name",
            "route_long_name",
            "route_desc",
            "route_type",
        ),
        [
            {
                "route_id": route_id,
                "agency_id": agency_id,
                "route_short_name": "TAD",
                "route_long_name": svc.route_name,
                "route_desc": f"{svc.route_name} · {territory.name}",
                "route_type": 3,
            }
        ],
    )
    files["calendar.txt"] = _csv(
        SCHEMA["calendar.txt"][0],
        [
            {
                "service_id": service_id,
                **{d: int(on) for d, on in zip(WEEKDAYS, svc.weekdays, strict=True)},
                "start_date": start.strftime("%Y%m%d"),
                "end_date": end.strftime("%Y%m%d"),
            }
        ],
    )
    rule: dict[str, Any] = {
        "booking_rule_id": rule_id,
        "booking_type": 2,
        "prior_notice_last_day": svc.booking_last_day,
        "prior_notice_last_time": gtfs_time(svc.booking_last_time_s),
        "message": svc.booking_message,
        "phone_number": svc.booking_phone or svc.agency_phone,
        "booking_url": svc.booking_url,
    }
    if svc.booking_start_day is not None:
        rule["prior_notice_start_day"] = svc.booking_start_day
        rule["prior_notice_start_time"] = "00:00:00"
    files["booking_rules.txt"] = _csv(
        (
            "booking_rule_id",
            "booking_type",
            "prior_notice_last_day",
            "prior_notice_last_time",
            "prior_notice_start_day",
            "prior_notice_start_time",
            "message",
            "phone_number",
            "booking_url",
        ),
        [rule],
    )
    stops = [
        {
            "stop_id": s.id,
            "stop_name": s.name,
            "stop_lat": f"{s.lat:.6f}",
            "stop_lon": f"{s.lon:.6f}",
            "location_type": 0,
        }
        for s in territory.stops
    ] + [dict(s) for s in svc.extra_stops]
    files["stops.txt"] = _csv(
        ("stop_id", "stop_name", "stop_lat", "stop_lon", "location_type"), stops
    )

    features = []
    for zid, name, geom in zone_list:
        features.append(
            {
                "type": "Feature",
                "id": zid,
                "properties": {"stop_name": name},
                "geometry": json.loads(json.dumps(geom.__geo_interface__)),
            }
        )
    files["locations.geojson"] = json.dumps(
        {"type": "FeatureCollection", "features": features}, ensure_ascii=False
    )

    trips, stop_times = [], []
    window = (gtfs_time(svc.service_hours.start_s), gtfs_time(svc.service_hours.end_s))
    for a, a_name, _ in zone_list:
        for b, b_name, _ in zone_list:
            trip_id = f"tad_{a}_{b}"
            trips.append(
                {
                    "route_id": route_id,
                    "service_id": service_id,
                    "trip_id": trip_id,
                    "trip_headsign": b_name if a != b else a_name,
                    "wheelchair_accessible": 1,
                }
            )
            stop_times.append(
                {
                    "trip_id": trip_id,
                    "location_id": a,
                    "stop_sequence": 1,
                    "start_pickup_drop_off_window": window[0],
                    "end_pickup_drop_off_window": window[1],
                    "pickup_type": 2,
                    "drop_off_type": 1,
                    "pickup_booking_rule_id": rule_id,
                }
            )
            stop_times.append(
                {
                    "trip_id": trip_id,
                    "location_id": b,
                    "stop_sequence": 2,
                    "start_pickup_drop_off_window": window[0],
                    "end_pickup_drop_off_window": window[1],
                    "pickup_type": 1,
                    "drop_off_type": 2,
                    "drop_off_booking_rule_id": rule_id,
                }
            )
    files["trips.txt"] = _csv(
        ("route_id", "service_id", "trip_id", "trip_headsign", "wheelchair_accessible"), trips
    )
    files["stop_times.txt"] = _csv(
        (
            "trip_id",
            "location_id",
            "stop_sequence",
            "start_pickup_drop_off_window",
            "end_pickup_drop_off_window",
            "pickup_type",
            "drop_off_type",
            "pickup_booking_rule_id",
            "drop_off_booking_rule_id",
        ),
        stop_times,
    )
    if fares is not None:
        zone_names = [(z, name) for z, name, _ in zone_list]
        stop_ids = [str(s["stop_id"]) for s in stops]
        files.update(fares_for_feed(fares, territory, route_id, zone_names, stop_ids))
    return files


def write_gtfs_flex(
    path: str | Path,
    territory: Any,
    service: FlexService | None = None,
    *,
    zones: str = "epci",
    fares: FareRules | None = None,
) -> Path:
    """Write the feed as a zip (atomically) and return its path."""
    files = build_gtfs_flex(territory, service, zones=zones, fares=fares)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            z.writestr(name, text.encode("utf-8"))
    tmp.replace(p)
    return p


# --------------------------------------------------------------------------------------------
# Reading back
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GtfsFeed:
    tables: dict[str, list[dict[str, str]]]
    locations: dict[str, Any]  # the GeoJSON FeatureCollection

    @property
    def zone_ids(self) -> list[str]:
        return [str(f["id"]) for f in self.locations["features"]]


def _read_table(
    z: zipfile.ZipFile,
    name: str,
    where: str,
    columns: tuple[tuple[str, ...], tuple[str, ...]] | None = None,
) -> list[dict[str, str]]:
    try:
        text = z.read(name).decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"not UTF-8: {e}", f"{where}:{name}") from None
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    required, optional = columns or SCHEMA[name]
    missing = [c for c in required if c not in header]
    if missing:
        raise DataError(f"missing required column(s) {', '.join(missing)}", f"{where}:{name}")
    unknown = [c for c in header if c not in required + optional]
    if unknown:
        raise DataError(f"unknown column(s) {', '.join(unknown)}", f"{where}:{name}")
    rows = [dict(r) for r in reader]
    for k, r in enumerate(rows, start=2):
        for c in required:
            if not (r.get(c) or "").strip():
                raise DataError("is required", f"{where}:{name}:line {k}.{c}")
    return rows


def _unique(rows: list[dict[str, str]], key: str, where: str) -> set[str]:
    seen: set[str] = set()
    for k, r in enumerate(rows, start=2):
        if r[key] in seen:
            raise DataError(f"duplicate {key} {r[key]!r}", f"{where}:line {k}.{key}")
        seen.add(r[key])
    return seen


def _read_zip(p: Path, where: str) -> tuple[dict[str, list[dict[str, str]]], Any]:
    """The tables (with their columns checked) and the parsed locations.geojson of the zip."""
    try:
        z = zipfile.ZipFile(p)
    except FileNotFoundError:
        raise InputError("file not found", where) from None
    except (zipfile.BadZipFile, OSError) as e:
        raise DataError(f"not a zip file: {e}", where) from None
    with z:
        names = set(z.namelist())
        missing = [f for f in REQUIRED_FILES if f not in names]
        if missing:
            raise DataError(f"missing file(s) {', '.join(missing)}", where)
        tables = {name: _read_table(z, name, where) for name in SCHEMA}
        tables.update(read_fare_tables(lambda n, cols: _read_table(z, n, where, cols), names))
        try:
            locations = json.loads(z.read("locations.geojson").decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise DataError(f"invalid JSON: {e}", f"{where}:locations.geojson") from None
    return tables, locations


def _zone_ids(locations: Any, lw: str) -> set[str]:
    """Check locations.geojson (a FeatureCollection of polygons with unique ids); its zone ids."""
    if (
        not isinstance(locations, dict)
        or locations.get("type") != "FeatureCollection"
        or not isinstance(locations.get("features"), list)
    ):
        raise DataError("must be a GeoJSON FeatureCollection", lw)
    zone_ids: set[str] = set()
    for k, f in enumerate(locations["features"]):
        fid = f.get("id") if isinstance(f, dict) else None
        if not fid:
            raise DataError("every feature needs an id", f"{lw}:features[{k}]")
        if fid in zone_ids:
            raise DataError(f"duplicate id {fid!r}", f"{lw}:features[{k}]")
        geom = f.get("geometry") or {}
        if geom.get("type") not in ("Polygon", "MultiPolygon") or not geom.get("coordinates"):
            raise DataError(
                "geometry must be a non-empty Polygon or MultiPolygon", f"{lw}:features[{k}]"
            )
        zone_ids.add(str(fid))
    return zone_ids


def _agency_ids(rows: list[dict[str, str]], fw: str) -> set[str]:
    """Check agency.txt (at least one agency, full URLs); its agency ids ("" when not given)."""
    if len(rows) < 1:
        raise DataError("needs at least one agency", fw)
    agencies = {r.get("agency_id") or "" for r in rows}
    for k, r in enumerate(rows, start=2):
        if not r["agency_url"].startswith(("http://", "https://")):
            raise DataError("must be a full URL", f"{fw}:line {k}.agency_url")
    return agencies


def _route_ids(rows: list[dict[str, str]], agencies: set[str], fw: str) -> set[str]:
    """Check routes.txt (unique ids, known agencies when there are several); its route ids."""
    routes = _unique(rows, "route_id", fw)
    for k, r in enumerate(rows, start=2):
        if len(agencies) > 1 and r.get("agency_id", "") not in agencies:
            raise DataError(f"unknown agency {r.get('agency_id')!r}", f"{fw}:line {k}.agency_id")
    return routes


def _service_ids(rows: list[dict[str, str]], fw: str) -> set[str]:
    """Check calendar.txt (unique ids, 0/1 weekdays, dates in order); its service ids."""
    services = _unique(rows, "service_id", fw)
    for k, r in enumerate(rows, start=2):
        for d in WEEKDAYS:
            if r[d] not in ("0", "1"):
                raise DataError(f"must be 0 or 1, got {r[d]!r}", f"{fw}:line {k}.{d}")
        for c in ("start_date", "end_date"):
            if not _DATE.match(r[c]):
                raise DataError(f"must be YYYYMMDD, got {r[c]!r}", f"{fw}:line {k}.{c}")
        if r["end_date"] < r["start_date"]:
            raise DataError("ends before it starts", f"{fw}:line {k}.end_date")
    return services


def _trip_ids(
    rows: list[dict[str, str]], routes: set[str], services: set[str], fw: str
) -> set[str]:
    """Check trips.txt (unique ids, known routes and services); its trip ids."""
    trips = _unique(rows, "trip_id", fw)
    for k, r in enumerate(rows, start=2):
        if r["route_id"] not in routes:
            raise DataError(f"unknown route {r['route_id']!r}", f"{fw}:line {k}.route_id")
        if r["service_id"] not in services:
            raise DataError(f"unknown service {r['service_id']!r}", f"{fw}:line {k}.service_id")
    return trips


def _booking_rule_ids(rows: list[dict[str, str]], fw: str) -> set[str]:
    """Check booking_rules.txt (unique ids, each rule consistent); its booking rule ids."""
    rules = _unique(rows, "booking_rule_id", fw)
    for k, r in enumerate(rows, start=2):
        _check_booking_rule(r, f"{fw}:line {k}")
    return rules


def _check_booking_rule(r: dict[str, str], bw: str) -> None:
    """One booking rule: its type, and the prior notice fields that type needs or forbids."""
    if r["booking_type"] not in ("0", "1", "2"):
        raise DataError(f"must be 0, 1 or 2, got {r['booking_type']!r}", f"{bw}.booking_type")
    if r["booking_type"] == "2":
        if not (r.get("prior_notice_last_day") or "").isdigit():
            raise DataError(
                "is required (a whole number of days) when booking_type is 2",
                f"{bw}.prior_notice_last_day",
            )
        if parse_gtfs_time(r.get("prior_notice_last_time") or "") is None:
            raise DataError(
                "is required (HH:MM:SS) with prior_notice_last_day",
                f"{bw}.prior_notice_last_time",
            )
        if r.get("prior_notice_duration_min") or r.get("prior_notice_duration_max"):
            raise DataError(
                "is forbidden when booking_type is 2", f"{bw}.prior_notice_duration_min"
            )
    if (
        r.get("prior_notice_start_day")
        and parse_gtfs_time(r.get("prior_notice_start_time") or "") is None
    ):
        raise DataError("is required with prior_notice_start_day", f"{bw}.prior_notice_start_time")


@dataclass(frozen=True)
class _FeedIds:
    """The ids that stop_times.txt may refer to."""

    trips: set[str]
    stops: set[str]
    zones: set[str]
    rules: set[str]


def _check_stop_times(rows: list[dict[str, str]], ids: _FeedIds, fw: str) -> None:
    """Check stop_times.txt row by row, then that every trip has 2 or more distinct sequences."""
    seqs: dict[str, list[int]] = {}
    for k, r in enumerate(rows, start=2):
        sw = f"{fw}:line {k}"
        if r["trip_id"] not in ids.trips:
            raise DataError(f"unknown trip {r['trip_id']!r}", f"{sw}.trip_id")
        ref = _stop_time_place(r, sw, ids)
        try:
            seqs.setdefault(r["trip_id"], []).append(int(r["stop_sequence"]))
        except ValueError:
            raise DataError(
                f"must be an integer, got {r['stop_sequence']!r}", f"{sw}.stop_sequence"
            ) from None
        _check_stop_time_window(r, sw, ref)
        for c in ("pickup_booking_rule_id", "drop_off_booking_rule_id"):
            if r.get(c) and r[c] not in ids.rules:
                raise DataError(f"unknown booking rule {r[c]!r}", f"{sw}.{c}")
        if r.get("pickup_type") == "2" and not r.get("pickup_booking_rule_id"):
            raise DataError(
                "a phone-booked pickup needs a booking rule", f"{sw}.pickup_booking_rule_id"
            )
    for trip_id in ids.trips:
        s = seqs.get(trip_id, [])
        if len(s) < 2:
            raise DataError(f"trip {trip_id!r} has {len(s)} stop_times; at least 2 are needed", fw)
        if len(set(s)) != len(s):
            raise DataError(f"trip {trip_id!r} repeats a stop_sequence", fw)


def _stop_time_place(r: dict[str, str], sw: str, ids: _FeedIds) -> str:
    """The one column naming the stop_time's place (a known stop or zone), checked."""
    refs = [c for c in ("stop_id", "location_group_id", "location_id") if (r.get(c) or "").strip()]
    if len(refs) != 1:
        raise DataError("give exactly one of stop_id, location_group_id, location_id", sw)
    ref = refs[0]
    if ref == "stop_id" and r["stop_id"] not in ids.stops:
        raise DataError(f"unknown stop {r['stop_id']!r}", f"{sw}.stop_id")
    if ref == "location_id" and r["location_id"] not in ids.zones:
        raise DataError(
            f"unknown zone {r['location_id']!r} (not in locations.geojson)", f"{sw}.location_id"
        )
    if ref == "location_group_id":
        raise DataError(
            "location groups are not part of this feed (no location_groups.txt)",
            f"{sw}.location_group_id",
        )
    return ref


def _check_stop_time_window(r: dict[str, str], sw: str, ref: str) -> None:
    """The pickup/drop-off window: both ends or none, needed for a zone, and the GTFS-Flex rules
    with a window (no arrival/departure time, no regular pickup or drop-off)."""
    start, end = (
        r.get("start_pickup_drop_off_window") or "",
        r.get("end_pickup_drop_off_window") or "",
    )
    if bool(start) != bool(end):
        raise DataError("give both start_ and end_pickup_drop_off_window", sw)
    if not start:
        if ref != "stop_id":
            raise DataError(
                "a zone needs a pickup/drop-off window", f"{sw}.start_pickup_drop_off_window"
            )
        return
    a, b = parse_gtfs_time(start), parse_gtfs_time(end)
    if a is None or b is None:
        raise DataError("windows must be HH:MM:SS", f"{sw}.start_pickup_drop_off_window")
    if a >= b:
        raise DataError("the window ends before it starts", f"{sw}.end_pickup_drop_off_window")
    for c in ("arrival_time", "departure_time"):
        if r.get(c):
            raise DataError("is forbidden with a pickup/drop-off window", f"{sw}.{c}")
    if (r.get("pickup_type") or "0") in ("0", "3"):
        raise DataError("regular pickup (0 or 3) is forbidden with a window", f"{sw}.pickup_type")
    if (r.get("drop_off_type") or "0") == "0":
        raise DataError("regular drop-off (0) is forbidden with a window", f"{sw}.drop_off_type")


def read_gtfs_flex(path: str | Path) -> GtfsFeed:
    """Read a GTFS-Flex zip and validate it (see the module doc); raise DataError on the first
    fault."""
    p = Path(path)
    where = str(p)
    tables, locations = _read_zip(p, where)
    zone_ids = _zone_ids(locations, f"{where}:locations.geojson")
    agencies = _agency_ids(tables["agency.txt"], f"{where}:agency.txt")
    routes = _route_ids(tables["routes.txt"], agencies, f"{where}:routes.txt")
    services = _service_ids(tables["calendar.txt"], f"{where}:calendar.txt")
    trips = _trip_ids(tables["trips.txt"], routes, services, f"{where}:trips.txt")
    stops = _unique(tables["stops.txt"], "stop_id", f"{where}:stops.txt")
    rules = _booking_rule_ids(tables["booking_rules.txt"], f"{where}:booking_rules.txt")
    ids = _FeedIds(trips=trips, stops=stops, zones=zone_ids, rules=rules)
    _check_stop_times(tables["stop_times.txt"], ids, f"{where}:stop_times.txt")
    if "fare_products.txt" in tables:
        check_gtfs_fares(tables, routes, stops, where)
    return GtfsFeed(tables=tables, locations=locations)
