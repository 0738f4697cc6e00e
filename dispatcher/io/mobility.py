"""Carpool offers and volunteer drivers from dicts (places as keys, resolved on the territory),
and the builder of a problem with them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date
from typing import Any

from dispatcher.errors import InputError, PointError
from dispatcher.io.fields import check_keys, get_field, relocated, split_origins
from dispatcher.io.problem import is_point, place_key, problem_from_dicts, resolve_place
from dispatcher.io.protocols import Geocoder, MatrixSource, PlaceResolver
from dispatcher.io.times import parse_window
from dispatcher.model import (
    DEFAULT_TIMEZONE,
    WEEKDAYS,
    CarpoolOffer,
    Location,
    Problem,
    VolunteerDriver,
)
from dispatcher.territory import TERRITORY_BUFFER_M

OFFER_FIELDS = (
    "driver_id",
    "origin",
    "destination",
    "seats",
    "departure_window",
    "arrival_window",
    "max_detour_share",
    "max_detour_cap_s",
    "meeting_points",
    "days",
    "name",
    "phone",
)
VOLUNTEER_FIELDS = (
    "id",
    "home",
    "half_days",
    "seats",
    "wheelchairs",
    "max_km_from_home",
    "cost_per_km",
    "name",
    "phone",
)


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


def offer_from_dict(
    d: Mapping[str, Any], where: str, day: date | None = None, tz: str = DEFAULT_TIMEZONE
) -> CarpoolOffer:
    """A carpool offer whose places are keys (stop ids, commune names, 'lon,lat')."""
    check_keys(d, OFFER_FIELDS, where)
    dep, arr = d.get("departure_window"), d.get("arrival_window")
    mp = d.get("meeting_points") or ()
    if isinstance(mp, str):
        mp = [x for x in mp.split(";") if x.strip()]
    offer = CarpoolOffer(
        driver_id=get_field(d, "driver_id", where, kind=str),
        origin=place_key(get_field(d, "origin", where)),
        destination=place_key(get_field(d, "destination", where)),
        seats=get_field(d, "seats", where, CarpoolOffer.seats, int),
        departure_window=(
            None if dep in (None, "") else parse_window(dep, f"{where}.departure_window", day, tz)
        ),
        arrival_window=(
            None if arr in (None, "") else parse_window(arr, f"{where}.arrival_window", day, tz)
        ),
        max_detour_share=get_field(
            d, "max_detour_share", where, CarpoolOffer.max_detour_share, float
        ),
        max_detour_cap_s=get_field(
            d, "max_detour_cap_s", where, CarpoolOffer.max_detour_cap_s, int
        ),
        meeting_points=tuple(place_key(x) for x in mp),
        days=_days(d.get("days"), f"{where}.days"),
        name=get_field(d, "name", where, "", str),
        phone=get_field(d, "phone", where, "", str),
    )
    offer.validate(where)
    return offer


def volunteer_from_dict(d: Mapping[str, Any], where: str) -> VolunteerDriver:
    """A volunteer driver whose home is a key (stop id, commune name, 'lon,lat')."""
    check_keys(d, VOLUNTEER_FIELDS, where)
    hd = d.get("half_days", VolunteerDriver.half_days)
    if isinstance(hd, str):
        hd = hd.replace(",", " ").split()
    v = VolunteerDriver(
        id=get_field(d, "id", where, kind=str),
        home=place_key(get_field(d, "home", where)),
        half_days=tuple(str(x).strip().lower() for x in hd),
        seats=get_field(d, "seats", where, VolunteerDriver.seats, int),
        wheelchairs=get_field(d, "wheelchairs", where, 0, int),
        max_km_from_home=get_field(
            d, "max_km_from_home", where, VolunteerDriver.max_km_from_home, float
        ),
        cost_per_km=get_field(d, "cost_per_km", where, None, float),
        name=get_field(d, "name", where, "", str),
        phone=get_field(d, "phone", where, "", str),
    )
    v.validate(where)
    return v


class _Places:
    """Resolves the offers' and volunteers' places (postal addresses too, with a geocoder) and
    keeps the Locations resolved, so that an address keeps its name for the driver."""

    def __init__(self, territory: PlaceResolver | None, geocoder: Geocoder | None) -> None:
        self.territory, self.geocoder = territory, geocoder
        self.seen: dict[str, Location] = {}

    def inside(self, key: str, where: str) -> str:
        loc = _resolve_inside(key, self.territory, where, self.geocoder)
        self.seen.setdefault(loc.id, loc)
        return loc.id


def _resolve_inside(
    key: str, territory: PlaceResolver | None, where: str, geocoder: Geocoder | None = None
) -> Location:
    loc = resolve_place(key, territory, where, geocoder)
    contains = getattr(territory, "contains", None)
    outside = contains is not None and not contains(loc.lon, loc.lat, TERRITORY_BUFFER_M)
    if is_point(key) and outside and contains is not None:
        swapped = abs(loc.lon) <= 90 and bool(contains(loc.lat, loc.lon, TERRITORY_BUFFER_M))
        raise PointError(
            f"{loc.lon:.5f},{loc.lat:.5f} is outside the territory "
            f"(and its {TERRITORY_BUFFER_M / 1000:g} km margin)"
            + ("; longitude and latitude look swapped: a point is lon,lat" if swapped else ""),
            where,
        )
    return loc


def offers_from_dicts(
    rows: Sequence[Mapping[str, Any]],
    territory: PlaceResolver | None,
    day: date | None = None,
    tz: str = DEFAULT_TIMEZONE,
    geocoder: Geocoder | None = None,
    places: _Places | None = None,
) -> list[CarpoolOffer]:
    """Offer dicts -> offers whose places are Location ids of the territory (points must lie
    in it; postal addresses with a ``geocoder``)."""
    rows, origins = split_origins(rows)
    places = places or _Places(territory, geocoder)
    try:
        return _offers(rows, places, day, tz)
    except InputError as e:
        raise relocated(e, {"offers": origins}) from None


def _offers(
    rows: Sequence[Mapping[str, Any]], places: _Places, day: date | None, tz: str
) -> list[CarpoolOffer]:
    out = []
    for k, d in enumerate(rows):
        w = f"offers[{k}]"
        o = offer_from_dict(d, w, day, tz)
        out.append(
            replace(
                o,
                origin=places.inside(o.origin, f"{w}.origin"),
                destination=places.inside(o.destination, f"{w}.destination"),
                meeting_points=tuple(
                    places.inside(m, f"{w}.meeting_points[{j}]")
                    for j, m in enumerate(o.meeting_points)
                ),
            )
        )
    return out


def volunteers_from_dicts(
    rows: Sequence[Mapping[str, Any]],
    territory: PlaceResolver | None,
    geocoder: Geocoder | None = None,
    places: _Places | None = None,
) -> list[VolunteerDriver]:
    """Volunteer dicts -> volunteers whose home is a Location id of the territory (a postal
    address with a ``geocoder``)."""
    rows, origins = split_origins(rows)
    places = places or _Places(territory, geocoder)
    out = []
    try:
        for k, d in enumerate(rows):
            v = volunteer_from_dict(d, f"volunteers[{k}]")
            out.append(replace(v, home=places.inside(v.home, f"volunteers[{k}].home")))
    except InputError as e:
        raise relocated(e, {"volunteers": origins}) from None
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
    """Like :func:`dispatcher.io.problem.problem_from_dicts`, with carpool offers and
    volunteers whose places join the Problem's locations (one matrix for all). Pass the three
    to ``dispatcher.solver.mixed.plan_mixed``."""
    day, tz = kwargs.get("day"), kwargs.get("timezone", DEFAULT_TIMEZONE)
    places = _Places(territory, kwargs.get("geocoder"))
    offs = offers_from_dicts(offers, territory, day, tz, places=places)
    vols = volunteers_from_dicts(volunteers, territory, places=places)
    problem = problem_from_dicts(requests, vehicles, territory, network, **kwargs)
    extra = {loc.id: loc for loc in problem.locations}
    for k, loc in places.seen.items():
        extra.setdefault(k, loc)
    if len(extra) > len(problem.locations):
        locs = tuple(extra.values())
        dur, dist = network.matrices(
            [(loc.lon, loc.lat) for loc in locs], labels=[loc.id for loc in locs]
        )
        problem = replace(problem, locations=locs, duration_s=dur, distance_m=dist)
    return problem, offs, vols
