"""A GTFS-Flex description of the on-demand service, for journey planners, and a reader that
validates it.

The feed is made from the service configuration (:mod:`dispatcher.service_config`): the agency
and its contact, the service hours of each weekday, the calendar (public holidays and closures
as ``calendar_dates.txt`` exceptions), the booking rules (the day before until the cut-off, or
the same day with notice; at most so many days ahead) and the territory. It describes the
service, not one day's plan: riders book by phone and are picked up anywhere in a zone within
the service hours. Zones are the outlines of the intercommunalities (``zones="epci"``, one
zone each) or of the whole territory (``zones="territory"``); there is one trip for every
ordered pair of zones and every set of weekdays with the same hours, each with two stop_times
on ``location_id`` (pickup window, then drop-off window), as the GTFS-Flex "zone-based
demand-responsive service" pattern has it. ``stops.txt`` lists only the stops that
stop_times use (none in this pattern: the file is there, with its header, for the consumers
that need it).

Files: agency.txt, feed_info.txt, routes.txt, trips.txt, calendar.txt, calendar_dates.txt
(when a public holiday or closure falls in the feed's dates), stops.txt, stop_times.txt,
booking_rules.txt, locations.geojson, in one zip. Each file is made by one function of
:data:`PARTS` from a :class:`Feed` (the service, territory, dates and the ids shared between
files); with fare rules, the GTFS-Fares v2 files (``dispatcher.reports.gtfs_fares``) are one
more part.

:func:`read_gtfs_flex` reads a zip back and checks required files and columns, unique ids, the
cross references (trips -> routes and calendar, stop_times -> trips, zones, stops and booking
rules), times, and the GTFS-Flex rules (no arrival/departure time with a window, no regular
pickup or drop-off with a window). Every problem raises ``DataError`` naming the file, line and
column. The tests also run two independent validators on the feed (``gtfs-validator``, the
canonical rule set, and ``gtfs-guru``): no error, no warning.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from dispatcher.errors import DataError, InputError
from dispatcher.fares.rules import FareRules
from dispatcher.model import TimeWindow, hhmm
from dispatcher.reports.gtfs_csv import table_text
from dispatcher.reports.gtfs_fares import check_gtfs_fares, fares_for_feed, read_fare_tables
from dispatcher.service_config import ServiceConfig

# file -> (required columns, optional columns we write or accept)
SCHEMA: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "agency.txt": (
        ("agency_name", "agency_url", "agency_timezone"),
        ("agency_id", "agency_lang", "agency_phone", "agency_email"),
    ),
    "feed_info.txt": (
        ("feed_publisher_name", "feed_publisher_url", "feed_lang"),
        (
            "feed_start_date",
            "feed_end_date",
            "feed_version",
            "feed_contact_email",
            "feed_contact_url",
        ),
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
OPTIONAL_SCHEMA: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "calendar_dates.txt": (("service_id", "date", "exception_type"), ()),
}
REQUIRED_FILES: tuple[str, ...] = tuple(SCHEMA) + ("locations.geojson",)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_TIME = re.compile(r"^(\d{1,2}):([0-5]\d):([0-5]\d)$")
_DATE = re.compile(r"^\d{8}$")
AGENCY_ID, ROUTE_ID, RULE_ID = "tad", "tad", "reservation"


def gtfs_time(seconds: int) -> str:
    """Seconds since midnight -> GTFS ``HH:MM:SS`` (hours may pass 24)."""
    return hhmm(seconds, with_seconds=True)


def parse_gtfs_time(text: str) -> int | None:
    m = _TIME.match(text)
    if not m:
        return None
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + int(m.group(3))


def _ymd(d: date) -> str:
    return d.strftime("%Y%m%d")


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


@dataclass(frozen=True)
class Feed:
    """What every file of the feed is made from."""

    service: ServiceConfig
    territory: Any
    start: date
    end: date
    zones: list[tuple[str, str, Any]]  # (zone id, name, WGS84 geometry)
    version: str = ""
    fares: FareRules | None = None  # the fare rules, for the GTFS-Fares v2 files (None: none)

    @property
    def calendars(self) -> dict[str, tuple[TimeWindow, tuple[int, ...]]]:
        """service_id -> (hours, weekdays with those hours), one per distinct hours."""
        by_hours: dict[TimeWindow, list[int]] = {}
        for wd, hours in sorted(self.service.hours.items()):
            by_hours.setdefault(hours, []).append(wd)
        return {
            f"tad_{hhmm(h.start_s).replace(':', '')}_{hhmm(h.end_s).replace(':', '')}": (
                h,
                tuple(wds),
            )
            for h, wds in by_hours.items()
        }


def _agency(feed: Feed) -> dict[str, str]:
    a = feed.service.agency
    row = {
        "agency_id": AGENCY_ID,
        "agency_name": a.name,
        "agency_url": a.url,
        "agency_timezone": feed.service.timezone,
        "agency_lang": a.lang,
        "agency_phone": a.phone,
        "agency_email": a.email,
    }
    return {"agency.txt": table_text(tuple(row), [row])}


def _feed_info(feed: Feed) -> dict[str, str]:
    a = feed.service.agency
    row = {
        "feed_publisher_name": a.name,
        "feed_publisher_url": a.url,
        "feed_lang": a.lang,
        "feed_start_date": _ymd(feed.start),
        "feed_end_date": _ymd(feed.end),
        "feed_version": feed.version or feed.start.isoformat(),
        "feed_contact_email": a.email,
        "feed_contact_url": a.url,
    }
    return {"feed_info.txt": table_text(tuple(row), [row])}


def _routes(feed: Feed) -> dict[str, str]:
    svc = feed.service
    row = {
        "route_id": ROUTE_ID,
        "agency_id": AGENCY_ID,
        "route_short_name": svc.short_name,
        "route_long_name": svc.name,
        "route_desc": f"Transport à la demande · {feed.territory.name}",
        "route_type": 3,
    }
    return {"routes.txt": table_text(tuple(row), [row])}


def _calendar(feed: Feed) -> dict[str, str]:
    rows, exceptions = [], []
    closed = feed.service.no_service_days(feed.start, feed.end)
    for service_id, (_, wds) in feed.calendars.items():
        rows.append(
            {
                "service_id": service_id,
                **{d: int(k in wds) for k, d in enumerate(WEEKDAYS)},
                "start_date": _ymd(feed.start),
                "end_date": _ymd(feed.end),
            }
        )
        exceptions += [
            {"service_id": service_id, "date": _ymd(d), "exception_type": 2}
            for d in closed
            if d.weekday() in wds
        ]
    files = {"calendar.txt": table_text(SCHEMA["calendar.txt"][0], rows)}
    if exceptions:
        files["calendar_dates.txt"] = table_text(
            OPTIONAL_SCHEMA["calendar_dates.txt"][0], exceptions
        )
    return files


def _booking_rules(feed: Feed) -> dict[str, str]:
    svc = feed.service
    rule: dict[str, Any] = {
        "booking_rule_id": RULE_ID,
        "message": svc.booking_message(),
        "phone_number": svc.agency.phone,
        "info_url": svc.agency.url,
    }
    if svc.same_day_notice_s is not None:  # same day, with notice
        rule |= {
            "booking_type": 1,
            "prior_notice_duration_min": svc.same_day_notice_s // 60,
            "prior_notice_duration_max": svc.max_days_ahead * 24 * 60,
        }
    else:  # up to the day before, by the cut-off
        rule |= {
            "booking_type": 2,
            "prior_notice_last_day": 1,
            "prior_notice_last_time": gtfs_time(svc.cutoff_day_before_s or 0),
            "prior_notice_start_day": svc.max_days_ahead,
            "prior_notice_start_time": "00:00:00",
        }
    columns = [c for c in SCHEMA["booking_rules.txt"][0] + SCHEMA["booking_rules.txt"][1]]
    return {"booking_rules.txt": table_text([c for c in columns if c in rule], [rule])}


def _locations(feed: Feed) -> dict[str, str]:
    features = [
        {
            "type": "Feature",
            "id": zid,
            "properties": {"stop_name": name},
            "geometry": json.loads(json.dumps(geom.__geo_interface__)),
        }
        for zid, name, geom in feed.zones
    ]
    return {
        "locations.geojson": json.dumps(
            {"type": "FeatureCollection", "features": features}, ensure_ascii=False
        )
    }


STOP_TIME_COLUMNS = (
    "trip_id",
    "stop_id",
    "location_id",
    "stop_sequence",
    "start_pickup_drop_off_window",
    "end_pickup_drop_off_window",
    "pickup_type",
    "drop_off_type",
    "pickup_booking_rule_id",
    "drop_off_booking_rule_id",
)


def _trips(feed: Feed) -> dict[str, str]:
    """A trip per ordered pair of zones and per calendar; stop_times on the zones (a stop_id
    column, empty, says so to the readers that look for it); stops.txt: the stops used."""
    trips, stop_times = [], []
    for service_id, (hours, _) in feed.calendars.items():
        window = (gtfs_time(hours.start_s), gtfs_time(hours.end_s))
        for a, a_name, _ in feed.zones:
            for b, b_name, _ in feed.zones:
                trip_id = f"{service_id}_{a}_{b}"
                trips.append(
                    {
                        "route_id": ROUTE_ID,
                        "service_id": service_id,
                        "trip_id": trip_id,
                        "trip_headsign": b_name if a != b else a_name,
                        "wheelchair_accessible": 1,
                    }
                )
                for seq, zone, pick, drop in ((1, a, 2, 1), (2, b, 1, 2)):
                    stop_times.append(
                        {
                            "trip_id": trip_id,
                            "location_id": zone,
                            "stop_sequence": seq,
                            "start_pickup_drop_off_window": window[0],
                            "end_pickup_drop_off_window": window[1],
                            "pickup_type": pick,
                            "drop_off_type": drop,
                            "pickup_booking_rule_id": RULE_ID if pick == 2 else "",
                            "drop_off_booking_rule_id": RULE_ID if drop == 2 else "",
                        }
                    )
    used = {st["stop_id"] for st in stop_times if st.get("stop_id")}
    stops = [
        {
            "stop_id": s.id,
            "stop_name": s.name,
            "stop_lat": f"{s.lat:.6f}",
            "stop_lon": f"{s.lon:.6f}",
            "location_type": 0,
        }
        for s in feed.territory.stops
        if s.id in used
    ]
    return {
        "trips.txt": table_text(
            ("route_id", "service_id", "trip_id", "trip_headsign", "wheelchair_accessible"), trips
        ),
        "stop_times.txt": table_text(STOP_TIME_COLUMNS, stop_times),
        "stops.txt": table_text(
            ("stop_id", "stop_name", "stop_lat", "stop_lon", "location_type"), stops
        ),
    }


def _fares(feed: Feed) -> dict[str, str]:
    """The GTFS-Fares v2 files (``dispatcher.reports.gtfs_fares``), with fare rules; the stop
    areas hold the stops of stops.txt."""
    if feed.fares is None:
        return {}
    stops = [r["stop_id"] for r in csv.DictReader(io.StringIO(_trips(feed)["stops.txt"]))]
    zone_names = [(z, name) for z, name, _ in feed.zones]
    return fares_for_feed(feed.fares, feed.territory, ROUTE_ID, zone_names, stops)


PARTS: tuple[Callable[[Feed], dict[str, str]], ...] = (
    _agency,
    _feed_info,
    _routes,
    _calendar,
    _booking_rules,
    _locations,
    _trips,
    _fares,
)
"""The functions that make the feed's files, in order; each returns file name -> text."""


def build_gtfs_flex(
    territory: Any,
    service: ServiceConfig,
    *,
    start: date | None = None,
    end: date | None = None,
    zones: str = "epci",
    version: str = "",
    fares: FareRules | None = None,
) -> dict[str, str]:
    """The feed's files as texts (file name -> content), from ``start`` (default: today) to
    ``end`` (default: a year on); with ``fares``, their GTFS-Fares v2 files too
    (``dispatcher.reports.gtfs_fares``)."""
    first = start or date.today()
    last = end or first + timedelta(days=364)
    if last < first:
        raise InputError("the feed ends before it starts", "end")
    feed = Feed(service, territory, first, last, _zones(territory, zones), version, fares)
    files: dict[str, str] = {}
    for part in PARTS:
        files.update(part(feed))
    return files


def write_gtfs_flex(path: str | Path, territory: Any, service: ServiceConfig, **kw: Any) -> Path:
    """Write the feed as a zip (atomically) and return its path (``kw``: as
    :func:`build_gtfs_flex`)."""
    files = build_gtfs_flex(territory, service, **kw)
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
    required, optional = columns or SCHEMA.get(name) or OPTIONAL_SCHEMA[name]
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
        for name in OPTIONAL_SCHEMA:
            tables[name] = _read_table(z, name, where) if name in names else []
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
    _check_calendar_dates(tables["calendar_dates.txt"], services, f"{where}:calendar_dates.txt")
    trips = _trip_ids(tables["trips.txt"], routes, services, f"{where}:trips.txt")
    stops = _unique(tables["stops.txt"], "stop_id", f"{where}:stops.txt")
    rules = _booking_rule_ids(tables["booking_rules.txt"], f"{where}:booking_rules.txt")
    ids = _FeedIds(trips=trips, stops=stops, zones=zone_ids, rules=rules)
    _check_stop_times(tables["stop_times.txt"], ids, f"{where}:stop_times.txt")
    used = {r.get("stop_id") for r in tables["stop_times.txt"]}
    for k, r in enumerate(tables["stops.txt"], start=2):
        if r["stop_id"] not in used:
            raise DataError(
                f"stop {r['stop_id']!r} is used by no stop_time", f"{where}:stops.txt:line {k}"
            )
    if "fare_products.txt" in tables:
        check_gtfs_fares(tables, routes, stops, where)
    return GtfsFeed(tables=tables, locations=locations)


def _check_calendar_dates(rows: list[dict[str, str]], services: set[str], fw: str) -> None:
    """calendar_dates.txt: known services, dates YYYYMMDD, exception_type 1 or 2, no repeats."""
    seen: set[tuple[str, str]] = set()
    for k, r in enumerate(rows, start=2):
        if r["service_id"] not in services:
            raise DataError(f"unknown service {r['service_id']!r}", f"{fw}:line {k}.service_id")
        if not _DATE.match(r["date"]):
            raise DataError(f"must be YYYYMMDD, got {r['date']!r}", f"{fw}:line {k}.date")
        if r["exception_type"] not in ("1", "2"):
            raise DataError(
                f"must be 1 or 2, got {r['exception_type']!r}", f"{fw}:line {k}.exception_type"
            )
        if (r["service_id"], r["date"]) in seen:
            raise DataError("repeats a service and date", f"{fw}:line {k}")
        seen.add((r["service_id"], r["date"]))
