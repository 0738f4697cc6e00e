"""Who sees which personal field: the table (``TABLE``, as data), and the one function that
redacts a record for a viewer (``redact``), called by every read use case (plans as JSON,
GeoJSON and manifest; requests, bookings, volunteers, vehicles, carpool offers, matchings,
jobs). ``docs/privacy.md`` shows the table (``markdown_table``; a test holds the two equal).

A field a role may not see is *hidden* as the table says: removed (names, phone numbers),
replaced by a pseudonym (ids: a keyed HMAC-SHA256, stable for one key, useless without it), or
replaced by its commune (places: a free point is an address). The same lenses rewrite what is
stored when a service day's retention period ends and when a person's data is erased
(``dispatcher.service.personal_data``): every field hidden, free points only made communes
(stops are public places), with a random key thrown away afterwards.

Rider ids: ``rider_id(phone)`` is ``rdr-`` and the keyed hash of the phone number (digits only,
``+33`` read as ``0``), under the service's own secret; the same person gets the same id on
every day and in the access log, and nobody without the secret can tell the number from it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from dispatcher.errors import DispatcherError
from dispatcher.graph.geocode import split_address
from dispatcher.io.problem import is_point, looks_like_address, place_key
from dispatcher.model import Problem
from dispatcher.service.context import Context
from dispatcher.store import KeyInfo
from dispatcher.store.privacy import PrivacyStore
from dispatcher.territory import Commune, Territory

ROLES = ("operator", "driver", "portal", "planner")
"""The roles of the table; ``driver``: a key tied to one vehicle of one day (``dispatcher keys
create --role driver --vehicle V --day D``), which reads what the manifest of its vehicle needs
(its own riders of that day: names, phone numbers, places, needs) and nothing of the others."""


class Access(StrEnum):
    ALL = "all"  # every record the role reads
    OWN = "own"  # its own records only (see OWN below); hidden on the others
    NONE = "none"  # hidden


class Treatment(StrEnum):
    """What a hidden field becomes."""

    REMOVED = "removed"
    PSEUDONYM = "pseudonym"
    COMMUNE = "commune"
    KEPT = "kept"  # never hidden: what the service's statistics are made of


class Subject(StrEnum):
    RIDER = "rider"
    PRIVATE_DRIVER = "private driver"  # a volunteer driver, a carpool driver
    FLEET_DRIVER = "fleet driver"  # the driver of a vehicle of the fleet (the operator's staff)


class Kind(StrEnum):
    IDENTITY = "identity"
    ID = "id"
    PLACES = "places"
    NEEDS = "needs and times"
    FARE = "fare category"


@dataclass(frozen=True)
class Rule:
    subject: Subject
    kind: Kind
    fields: str
    hidden_as: Treatment
    access: Mapping[str, Access]


def _access(operator: Access, driver: Access, portal: Access, planner: Access) -> dict[str, Access]:
    return dict(zip(ROLES, (operator, driver, portal, planner), strict=True))


A, OW, N = Access.ALL, Access.OWN, Access.NONE
TABLE: tuple[Rule, ...] = (
    Rule(Subject.RIDER, Kind.IDENTITY, "name, phone", Treatment.REMOVED, _access(A, OW, OW, N)),
    Rule(
        Subject.RIDER,
        Kind.ID,
        "request and booking id, return_of",
        Treatment.PSEUDONYM,
        _access(A, OW, OW, N),
    ),
    Rule(
        Subject.RIDER,
        Kind.PLACES,
        "pickup, dropoff (a free point is an address; a postal address, a free point named by "
        "it), coordinates",
        Treatment.COMMUNE,
        _access(A, OW, OW, N),
    ),
    Rule(
        Subject.RIDER,
        Kind.NEEDS,
        "seats, wheelchairs, times, status, reasons of a refusal",
        Treatment.KEPT,
        _access(A, A, A, A),
    ),
    Rule(
        Subject.RIDER,
        Kind.FARE,
        "rider_category (a solidarity fare is granted on social criteria), a trip's fare "
        "(its category and amount tell it); totals stay in the KPIs",
        Treatment.REMOVED,
        _access(A, OW, OW, N),
    ),
    Rule(
        Subject.PRIVATE_DRIVER,
        Kind.IDENTITY,
        "name, phone",
        Treatment.REMOVED,
        _access(A, OW, N, N),
    ),
    Rule(
        Subject.PRIVATE_DRIVER,
        Kind.ID,
        "volunteer id, carpool driver id (the vehicle id of their routes)",
        Treatment.PSEUDONYM,
        _access(A, OW, N, N),
    ),
    Rule(
        Subject.PRIVATE_DRIVER,
        Kind.PLACES,
        "home, origin, destination, meeting points",
        Treatment.COMMUNE,
        _access(A, OW, N, N),
    ),
    Rule(
        Subject.FLEET_DRIVER,
        Kind.IDENTITY,
        "a vehicle's name, phone",
        Treatment.REMOVED,
        _access(A, OW, N, N),
    ),
)

OWN: Mapping[str, str] = {
    "operator": "every record (the day's work)",
    "driver": "the riders on its own vehicle's route on its key's day, its own vehicle's record",
    "portal": "the bookings it made (it reads no other record)",
    "planner": "none",
}

Hidden = frozenset[Kind]
NOTHING: Hidden = frozenset()
EVERYTHING: Hidden = frozenset({Kind.IDENTITY, Kind.ID, Kind.PLACES})


def hidden(subject: Subject, role: str, own: bool) -> Hidden:
    """What of ``subject``'s fields ``role`` may not see on a record (its own or not). A role the
    table does not know sees nothing."""
    out = set()
    for rule in TABLE:
        if rule.subject != subject or rule.hidden_as is Treatment.KEPT:
            continue
        access = rule.access.get(role, Access.NONE)
        if access is Access.NONE or (access is Access.OWN and not own):
            out.add(rule.kind)
    return frozenset(out)


def markdown_table() -> str:
    """The table as Markdown, as ``docs/privacy.md`` shows it."""
    head = ["Whose", "What", "Fields", *ROLES, "Hidden as"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in TABLE:
        cells = [r.subject.value, r.kind.value, r.fields, *(r.access[x].value for x in ROLES)]
        lines.append("| " + " | ".join([*cells, r.hidden_as.value]) + " |")
    lines.append("")
    lines.append("*own* means: " + "; ".join(f"{role}: {OWN[role]}" for role in ROLES) + ".")
    return "\n".join(lines)


# ---- who reads ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Viewer:
    """Who reads: a role of the table, the key (None: the command line, the server itself), the
    driver's vehicle (the driver role), and how the access log names it."""

    role: str
    key_id: int | None = None
    vehicle_id: str | None = None
    label: str = ""

    @classmethod
    def of(cls, key: KeyInfo | Viewer) -> Viewer:
        if isinstance(key, Viewer):
            return key
        return cls(role=key.role, key_id=key.id, vehicle_id=key.vehicle_id, label=key.role)

    @property
    def actor(self) -> str:
        return self.label or self.role


COMMAND_LINE = Viewer("operator", label="cli")
SERVER = Viewer("operator", label="system")


# ---- pseudonyms, rider ids, communes ------------------------------------------------------

PREFIXES = {"request": "rq", "volunteer": "vo", "carpool": "cp", "rider": "rdr"}
PRIVATE_KINDS = ("volunteer", "carpool")  # vehicle kinds driven by a private person


class Pseudonyms:
    """Keyed pseudonyms (HMAC-SHA256): stable for one key, useless without it. ``fresh()``: a
    random key of its own (an export, a purge, an erasure)."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def fresh(cls) -> Pseudonyms:
        return cls(secrets.token_bytes(32))

    def of(self, kind: str, raw: str, scope: str = "") -> str:
        msg = "\x1f".join((kind, scope, raw)).encode()
        digest = hmac.new(self._key, msg, hashlib.sha256).hexdigest()[:16]
        return f"{PREFIXES[kind]}-{digest}"

    def rider_id(self, phone: str) -> str | None:
        """The rider id of a phone number (None without one)."""
        norm = normalise_phone(phone)
        return self.of("rider", norm) if norm else None


def normalise_phone(phone: Any) -> str:
    """Digits only; ``+33``/``0033`` read as the leading 0 of a French number."""
    digits = re.sub(r"\D", "", str(phone or ""))
    if digits.startswith("00"):
        digits = digits[2:]
    if digits.startswith("33") and len(digits) == 11:
        digits = "0" + digits[2:]
    return digits


_POINT = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$")
_POINT_IN_TEXT = re.compile(r"(?<![\w.])-?\d{1,3}\.\d{3,},\s?-?\d{1,2}\.\d{3,}(?![\w.])")


class Communes:
    """The commune of a place: a stop's (its INSEE code), a commune's own, a free point's (the
    commune of the nearest stop)."""

    def __init__(self, territory: Territory | Callable[[], Territory]) -> None:
        self._territory = territory
        self._cache: dict[str, Commune | None] = {}

    @property
    def territory(self) -> Territory:
        """The territory (loaded on first use when given as a callable)."""
        if not isinstance(self._territory, Territory):
            self._territory = self._territory()
        return self._territory

    def of(self, key: str) -> Commune | None:
        """The commune of a place key (a postal address: the commune it names), None when
        there is none on the territory."""
        if key in self._cache:
            return self._cache[key]
        t = self.territory
        got: Commune | None
        try:
            m = _POINT.match(key)
            stop = t.nearest_stop(float(m[1]), float(m[2])) if m else t.stop(key)
            got = t.commune(stop.insee)
        except (DispatcherError, ValueError):
            got = self._of_address(key)
        self._cache[key] = got
        return got

    def _of_address(self, key: str) -> Commune | None:
        if not looks_like_address(key):
            return None
        commune = split_address(key)[2]
        try:
            return self.territory.commune(commune) if commune else None
        except DispatcherError:
            return None

    def is_address(self, key: str) -> bool:
        """Whether a place key is a postal address (no stop nor commune of the territory): a
        rider's or a driver's door, private like a free point."""
        if is_point(key) or not looks_like_address(key):
            return False
        try:
            self.territory.stop(key)
        except DispatcherError:
            return True
        return False


# ---- the lens -----------------------------------------------------------------------------


def _fare_withheld(fare: Mapping[str, Any]) -> dict[str, Any]:
    """A trip's fare as a reader who may not see the rider's category reads it."""
    return {"product": fare.get("product"), "mode": fare.get("mode"), "category": "withheld"}


TEXT_KEYS = frozenset({"message", "message_en", "details", "violations", "summary", "error"})
UNKNOWN_PLACE = "unknown"


def _never(_: str) -> Hidden:
    return NOTHING


@dataclass
class Lens:
    """What one reader (or one rewrite) may see of one service day's records: for a rider's
    request id, a private driver's id and a fleet vehicle's id, which kinds of field are hidden.
    Its methods take a record in the vocabulary it is stored or answered in and give it back
    with those fields hidden; ``redact`` is the one entry point. It remembers the ids it
    replaced (free texts are rewritten with them) and what it showed (for the access log)."""

    pseudonyms: Pseudonyms
    communes: Communes | None = None
    day: str = ""
    rider: Callable[[str], Hidden] = _never
    driver: Callable[[str], Hidden] = _never
    fleet: Callable[[str], Hidden] = _never
    points_only: bool = False  # rewrites: only free points become their commune
    kinds: dict[str, str] = field(default_factory=dict)  # private driver id -> volunteer | carpool
    kind_of: Callable[[str], str | None] | None = None  # asked for an id ``kinds`` lacks
    locations: dict[str, dict[str, Any]] | None = None  # a rewritten problem's new locations
    shown_requests: set[str] = field(default_factory=set)
    shown_drivers: set[str] = field(default_factory=set)
    shown_phones: set[str] = field(default_factory=set)
    records: int = 0
    _ids: dict[str, str] = field(default_factory=dict)

    # ---- building blocks ---------------------------------------------------------------
    @property
    def showed(self) -> bool:
        """Whether a record it went through showed a personal field (for the access log)."""
        return bool(self.shown_requests or self.shown_drivers or self.shown_phones)

    def know(self, requests: Iterable[str] = (), drivers: Mapping[str, str] | None = None) -> None:
        """Ids that free texts may name (a job's error, a check's violations) before any record
        shows them."""
        self.kinds.update(drivers or {})
        for rid in requests:
            self.rid(rid, shown=False)
        for base in drivers or {}:
            self.vid(base)

    def rid(self, x: Any, shown: bool = True) -> Any:
        """A request id, pseudonymised when the rider's ids are hidden."""
        if not isinstance(x, str) or not x:
            return x
        if Kind.ID not in self.rider(x):
            if shown:
                self.shown_requests.add(x)
            return x
        got = self._ids.get(x)
        if got is None:
            got = self._ids[x] = self.pseudonyms.of("request", x, self.day)
        return got

    def vid(self, x: Any) -> Any:
        """A vehicle id: a private driver's (``id`` or ``id/half-day``) pseudonymised when hidden,
        the fleet's as it is."""
        if not isinstance(x, str) or not x:
            return x
        if self.driver is _never:
            return x
        base, sep, rest = x.partition("/")
        kind = self._kind(base)
        if kind is None:
            return x
        if Kind.ID not in self.driver(base):
            self.shown_drivers.add(base)
            return x
        new = self._ids.get(base)
        if new is None:
            scope = self.day if kind == "carpool" else ""
            new = self._ids[base] = self.pseudonyms.of(kind, base, scope)
        if sep:
            self._ids[x] = f"{new}{sep}{rest}"
        return f"{new}{sep}{rest}"

    def _kind(self, base: str) -> str | None:
        """``volunteer`` or ``carpool`` for a private driver's id, None for the fleet's."""
        if base in self.kinds:
            return self.kinds[base]
        got = self.kind_of(base) if self.kind_of is not None else None
        if got is not None:
            self.kinds[base] = got
        return got

    def _commune(self, key: str) -> Commune | None:
        if self.communes is None:
            raise RuntimeError("a lens that hides places needs the territory's communes")
        return self.communes.of(key)

    def _coarsens(self, key: str, hide: Hidden) -> bool:
        return Kind.PLACES in hide and (not self.points_only or self._door(key))

    def _door(self, key: str) -> bool:
        """Whether a place is someone's door (a free point or a postal address), which even a
        rewrite that keeps the stops makes its commune."""
        return is_point(key) or (self.communes is not None and self.communes.is_address(key))

    def place(self, x: Any, hide: Hidden) -> Any:
        """A place of the input vocabulary (stop id, commune, point) -> its commune's INSEE code."""
        if x is None:
            return x
        key = place_key(x)
        if not self._coarsens(key, hide):
            return x
        c = self._commune(key)
        return c.insee if c is not None else UNKNOWN_PLACE

    def loc(self, x: Any, hide: Hidden) -> Any:
        """A location id of a plan or a problem -> the rewritten location's, or its commune's."""
        if not isinstance(x, str) or not self._coarsens(x, hide):
            return x
        if self.locations is not None:
            got = self.locations.get(x)
            return x if got is None else got["id"]
        c = self._commune(x)
        new = c.insee if c is not None else UNKNOWN_PLACE
        if new != x:
            self._ids[x] = new
        return new

    def loc_name(self, loc_id: Any, name: Any, hide: Hidden) -> Any:
        if not isinstance(loc_id, str) or not self._coarsens(loc_id, hide):
            return name
        if self.locations is not None:
            got = self.locations.get(loc_id)
            return name if got is None else got["name"]
        c = self._commune(loc_id)
        return c.name if c is not None else UNKNOWN_PLACE

    def _person(self, d: Mapping[str, Any], hide: Hidden, out: dict[str, Any]) -> None:
        """Name and phone removed when hidden; remembered as shown otherwise."""
        if Kind.IDENTITY in hide:
            for k in ("name", "phone"):
                if out.get(k):
                    out[k] = ""
        elif d.get("phone"):
            self.shown_phones.add(str(d["phone"]))

    @staticmethod
    def _fare_data(hide: Hidden, out: dict[str, Any]) -> None:
        """A rider's category removed, and a trip's fare made its product and mode alone, when
        hidden."""
        if Kind.FARE not in hide:
            return
        out.pop("rider_category", None)
        fare = out.get("fare")
        if isinstance(fare, Mapping):
            out["fare"] = _fare_withheld(fare)

    def _vehicle_hidden(self, vehicle_id: str, kind: str | None = None) -> Hidden:
        base = vehicle_id.partition("/")[0]
        if kind in PRIVATE_KINDS and base not in self.kinds:
            self.kinds[base] = str(kind)
        return self.driver(base) if self._kind(base) else self.fleet(vehicle_id)

    # ---- requests, promises, refusals ----------------------------------------------------
    def request_data(self, d: Mapping[str, Any]) -> dict[str, Any]:
        """A request as stored (the input vocabulary)."""
        rid = str(d.get("id", ""))
        hide = self.rider(rid)
        out = dict(d)
        self._person(d, hide, out)
        if "id" in d:
            out["id"] = self.rid(rid)
        if d.get("return_of"):
            out["return_of"] = self.rid(str(d["return_of"]))
        for k in ("pickup", "dropoff"):
            if k in d:
                out[k] = self.place(d[k], hide)
        self._fare_data(hide, out)
        return out

    def promise(self, p: Mapping[str, Any] | None) -> dict[str, Any] | None:
        if p is None:
            return None
        rid = str(p.get("request_id", ""))
        hide = self.rider(rid)
        out = dict(p)
        out["request_id"] = self.rid(rid)
        if "vehicle_id" in p:
            out["vehicle_id"] = self.vid(p["vehicle_id"])
        for k in ("pickup", "dropoff"):
            stop = p.get(k)
            if isinstance(stop, Mapping):
                loc = stop.get("location_id")
                out[k] = {
                    **stop,
                    "place": self.loc_name(loc, stop.get("place"), hide),
                    "location_id": self.loc(loc, hide),
                }
        self._fare_data(hide, out)
        if Kind.ID in hide:  # a ticket's code is the rider's to show
            out.pop("ticket", None)
        return out

    def refusal(self, r: Mapping[str, Any] | None) -> dict[str, Any] | None:
        if r is None:
            return None
        return {**r, "request_id": self.rid(r.get("request_id"))}

    def booking_answer(self, a: Mapping[str, Any]) -> dict[str, Any] | None:
        """A booking's answer: its promise, or its refusal."""
        return self.promise(a) if a.get("status") == "accepted" else self.refusal(a)

    def request_out(self, o: Mapping[str, Any]) -> dict[str, Any]:
        """A stored request as the API answers it (``RequestOut``)."""
        self.records += 1
        return {
            **o,
            "id": self.rid(o.get("id")),
            "request": self.request_data(o.get("request") or {}),
            "promise": self.promise(o.get("promise")),
            "refusal": self.refusal(o.get("refusal")),
        }

    # ---- plans and problems --------------------------------------------------------------
    def plan(self, d: Mapping[str, Any]) -> dict[str, Any]:
        """A plan (schema ``dispatcher/plan/1``): routes, visits, refusals; KPIs as they are."""
        self.records += 1

        def visit(v: Mapping[str, Any]) -> dict[str, Any]:
            rid = str(v.get("request_id", ""))
            return {
                **v,
                "request_id": self.rid(rid),
                "location_id": self.loc(v.get("location_id"), self.rider(rid)),
            }

        out = {
            **d,
            "routes": [
                {
                    **r,
                    "vehicle_id": self.vid(r.get("vehicle_id")),
                    "visits": [visit(v) for v in r.get("visits") or []],
                }
                for r in d.get("routes") or []
            ],
            "rejections": [
                {**j, "request_id": self.rid(j.get("request_id"))}
                for j in d.get("rejections") or []
            ],
        }
        fares = d.get("fares")
        if isinstance(fares, Mapping):
            trips = fares.get("trips") or {}
            out["fares"] = {
                **fares,
                "trips": {
                    self.rid(rid, shown=False): _fare_withheld(f)
                    if Kind.FARE in self.rider(rid)
                    else f
                    for rid, f in trips.items()
                },
            }
        return out

    def _chosen(
        self,
        requests: Iterable[tuple[str, Sequence[str]]],
        vehicles: Iterable[tuple[str, str | None, Sequence[str]]],
        keep_depots: bool = True,
    ) -> list[str]:
        """The locations that become their commune: used by a record whose places are hidden
        and by none whose places are shown (free points only, for a rewrite), in first use order.
        The fleet's depots count as shown places unless ``keep_depots`` is false (a map for a
        reader who sees no rider's place moves them too)."""
        hidden_use: dict[str, None] = {}
        shown_use: set[str] = set()
        for rid, places in requests:
            target = hidden_use if Kind.PLACES in self.rider(rid) else None
            for p in places:
                if target is None:
                    shown_use.add(p)
                else:
                    target.setdefault(p)
        for vid, kind, places in vehicles:
            hide = self._vehicle_hidden(vid, kind)
            if not keep_depots and not self._kind(vid.partition("/")[0]):
                continue
            for p in places:
                if Kind.PLACES in hide:
                    hidden_use.setdefault(p)
                else:
                    shown_use.add(p)
        return [
            p for p in hidden_use if p not in shown_use and (not self.points_only or self._door(p))
        ]

    def problem(self, d: Mapping[str, Any]) -> dict[str, Any]:
        """A stored problem (schema ``dispatcher/problem/1``) rewritten: the chosen locations
        become their commune under ids of their own (the matrices stay: times and distances, and
        so the KPIs, are unchanged); the plan of the same problem is then rewritten with
        ``plan`` on this same lens."""
        reqs = list(d.get("requests") or [])
        vehs = list(d.get("vehicles") or [])

        def vehicle_places(v: Mapping[str, Any]) -> list[str]:
            out = [v.get("start"), v.get("end"), v.get("home"), *(v.get("allowed_stops") or [])]
            return [str(x) for x in out if x]

        chosen = self._chosen(
            ((str(r.get("id")), [str(r.get("pickup")), str(r.get("dropoff"))]) for r in reqs),
            ((str(v.get("id")), v.get("kind"), vehicle_places(v)) for v in vehs),
            keep_depots=self.points_only,  # a rewrite keeps the depots; a planner's copy moves all
        )
        taken = {str(loc.get("id")) for loc in d.get("locations") or []} - set(chosen)
        by_id = {str(loc.get("id")): loc for loc in d.get("locations") or []}
        self.locations = {}
        for old in chosen:
            loc = by_id.get(old)
            c = self._commune(old)
            if loc is None or c is None:
                continue
            new, k = c.insee, 2
            while new in taken:
                new, k = f"{c.insee}.{k}", k + 1
            taken.add(new)
            self.locations[old] = {**loc, "id": new, "name": c.name, "lon": c.lon, "lat": c.lat}
            self._ids[old] = new

        def req(r: Mapping[str, Any]) -> dict[str, Any]:
            rid = str(r.get("id"))
            hide = self.rider(rid)
            out = dict(r)
            self._person(r, hide, out)
            out["id"] = self.rid(rid, shown=False)
            if r.get("return_of"):
                out["return_of"] = self.rid(str(r["return_of"]), shown=False)
            for k in ("pickup", "dropoff"):
                out[k] = self.loc(r.get(k), hide)
            self._fare_data(hide, out)
            return out

        def veh(v: Mapping[str, Any]) -> dict[str, Any]:
            vid = str(v.get("id"))
            hide = self._vehicle_hidden(vid, v.get("kind"))
            out = dict(v)
            self._person(v, hide, out)
            out["id"] = self.vid(vid)
            for k in ("start", "end", "home"):
                if v.get(k):
                    out[k] = self.loc(v[k], hide)
            if v.get("allowed_stops"):
                out["allowed_stops"] = [self.loc(x, hide) for x in v["allowed_stops"]]
            return out

        return {
            **d,
            "locations": [
                self.locations.get(str(loc.get("id")), loc) for loc in d.get("locations") or []
            ],
            "requests": [req(r) for r in reqs],
            "vehicles": [veh(v) for v in vehs],
        }

    def coarse_problem(self, problem: Problem) -> Problem:
        """``problem`` with the locations of hidden places moved to their commune (point, name),
        ids as they are: what a map of the day is drawn from (routes then run along the roads
        between communes, never to a door)."""
        chosen = set(
            self._chosen(
                ((r.id, [r.pickup, r.dropoff]) for r in problem.requests),
                (
                    (v.id, v.kind, [v.start, v.end, *([v.home] if v.home else [])])
                    for v in problem.vehicles
                ),
                keep_depots=False,
            )
        )
        if not chosen:
            return problem
        locs = []
        for loc in problem.locations:
            c = self._commune(loc.id) if loc.id in chosen else None
            locs.append(loc if c is None else replace(loc, lon=c.lon, lat=c.lat, name=c.name))
        return replace(problem, locations=tuple(locs))

    def geojson(self, g: Mapping[str, Any]) -> dict[str, Any]:
        """The GeoJSON of a plan drawn from ``coarse_problem``: ids of its features."""
        self.records += 1
        feats = []
        for f in g.get("features") or []:
            props = dict(f.get("properties") or {})
            if "vehicle_id" in props:
                props["vehicle_id"] = self.vid(props["vehicle_id"])
            if "request_id" in props:
                props["request_id"] = self.rid(props["request_id"])
            feats.append({**f, "properties": props})
        return {**g, "features": feats}

    def manifest_row(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """One row of the drivers' manifest (one visit)."""
        self.records += 1
        rid = str(row.get("request_id", ""))
        hide = self.rider(rid)
        out = dict(row)
        self._person(row, hide, out)
        out["vehicle_id"] = self.vid(row.get("vehicle_id"))
        out["request_id"] = self.rid(rid)
        loc = row.get("location_id")
        out["place"] = self.loc_name(loc, row.get("place"), hide)
        out["location_id"] = self.loc(loc, hide)
        if Kind.ID in hide and "ticket" in out:
            out["ticket"] = ""
        if Kind.FARE in hide:
            for k in ("fare", "fare_cents"):
                if k in out:
                    out[k] = ""
        return out

    # ---- mobility ------------------------------------------------------------------------
    def offer_data(self, d: Mapping[str, Any]) -> dict[str, Any]:
        """A carpool offer as stored (the input vocabulary)."""
        base = str(d.get("driver_id", ""))
        self.kinds.setdefault(base, "carpool")
        hide = self.driver(base)
        out = dict(d)
        self._person(d, hide, out)
        out["driver_id"] = self.vid(base)
        for k in ("origin", "destination"):
            if k in d:
                out[k] = self.place(d[k], hide)
        if d.get("meeting_points"):
            out["meeting_points"] = [self.place(x, hide) for x in d["meeting_points"]]
        return out

    def offer_out(self, o: Mapping[str, Any]) -> dict[str, Any]:
        self.records += 1
        offer = self.offer_data(o.get("offer") or {"driver_id": o.get("driver_id")})
        return {**o, "driver_id": offer["driver_id"], "offer": offer}

    def volunteer(self, d: Mapping[str, Any]) -> dict[str, Any]:
        self.records += 1
        base = str(d.get("id", ""))
        self.kinds.setdefault(base, "volunteer")
        hide = self.driver(base)
        out = dict(d)
        self._person(d, hide, out)
        out["id"] = self.vid(base)
        if "home" in d:
            out["home"] = self.place(d["home"], hide)
        return out

    def vehicle(self, d: Mapping[str, Any]) -> dict[str, Any]:
        """A vehicle dict (the fleet's, a scenario's): a volunteer's or a carpool driver's car is
        a private driver's record."""
        self.records += 1
        vid = str(d.get("id", ""))
        hide = self._vehicle_hidden(vid, d.get("kind"))
        out = dict(d)
        self._person(d, hide, out)
        out["id"] = self.vid(vid)
        for k in ("start", "end", "home"):
            if d.get(k) is not None:
                out[k] = self.place(d[k], hide)
        if d.get("allowed_stops"):
            out["allowed_stops"] = [self.place(x, hide) for x in d["allowed_stops"]]
        return out

    def matching(self, m: Mapping[str, Any]) -> dict[str, Any]:
        """A carpool matching as stored and answered."""
        self.records += 1

        def at(p: Any, hide: Hidden) -> Any:
            if not isinstance(p, Mapping):
                return p
            loc = p.get("location_id")
            return {
                **p,
                "place": self.loc_name(loc, p.get("place"), hide),
                "location_id": self.loc(loc, hide),
            }

        def rider(x: Mapping[str, Any]) -> dict[str, Any]:
            rid = str(x.get("request_id", ""))
            hide = self.rider(rid)
            out = {**x, "request_id": self.rid(rid)}
            for k in ("pickup", "dropoff"):
                if k in x:
                    out[k] = at(x[k], hide)
            if "place" in x:
                seen = at(x, hide)
                out["place"], out["location_id"] = seen["place"], seen["location_id"]
            return out

        def match(x: Mapping[str, Any]) -> dict[str, Any]:
            base = str(x.get("driver_id", ""))
            self.kinds.setdefault(base, "carpool")
            hide = self.driver(base)
            out = dict(x)
            if Kind.IDENTITY in hide and out.get("name"):
                out["name"] = ""
            out["driver_id"] = self.vid(base)
            for k in ("origin", "destination"):
                if k in x:
                    out[k] = at(x[k], hide)
            out["riders"] = [rider(r) for r in x.get("riders") or []]
            out["stops"] = [rider(s) for s in x.get("stops") or []]
            return out

        return {
            **m,
            "matches": [match(x) for x in m.get("matches") or []],
            "declined_carpool": [self.rid(x) for x in m.get("declined_carpool") or []],
            "unmatched": [
                {**u, "request_id": self.rid(u.get("request_id"))} for u in m.get("unmatched") or []
            ],
        }

    def job(self, j: Mapping[str, Any]) -> dict[str, Any]:
        """A plan or scenario job: its vehicles, and its result's plan."""
        self.records += 1
        out = dict(j)
        params = j.get("params")
        if isinstance(params, Mapping) and params.get("vehicles"):
            out["params"] = {**params, "vehicles": [self.vehicle(v) for v in params["vehicles"]]}
        result = j.get("result")
        if isinstance(result, Mapping) and isinstance(result.get("plan"), Mapping):
            for r in result["plan"].get("routes") or []:
                if r.get("mode") in PRIVATE_KINDS:
                    self.kinds.setdefault(str(r["vehicle_id"]).partition("/")[0], r["mode"])
            out["result"] = {**result, "plan": self.plan(result["plan"])}
        return out

    # ---- the day as it happens ---------------------------------------------------------
    def _stop(self, st: Mapping[str, Any], vehicle_hide: Hidden) -> dict[str, Any]:
        """A stop of a live route: a rider's (its request), or the vehicle's own (its depot, a
        break), hidden as the vehicle's driver is."""
        rid = st.get("request_id")
        out = dict(st)
        hide = self.rider(str(rid)) if rid else vehicle_hide
        if rid:
            self._person(st, hide, out)
            out["request_id"] = self.rid(rid)
        loc = st.get("location_id")
        out["place_name"] = self.loc_name(loc, st.get("place_name"), hide)
        out["location_id"] = self.loc(loc, hide)
        if Kind.PLACES in hide:
            out["lon"] = out["lat"] = None
        return out

    def live(self, d: Mapping[str, Any]) -> dict[str, Any]:
        """The live day (``GET /v1/days/{day}/live``): vehicles with their next stops, alerts,
        the bookings' states."""
        self.records += 1

        def vehicle(v: Mapping[str, Any]) -> dict[str, Any]:
            vid = str(v.get("vehicle_id", ""))
            hide = self._vehicle_hidden(vid)
            out = {**v, "vehicle_id": self.vid(vid)}
            if Kind.IDENTITY in hide:
                out["name"] = ""
            if Kind.PLACES in hide and self._kind(vid.partition("/")[0]):
                out["position"] = None
            private = self._kind(vid.partition("/")[0]) is not None
            own = hide if private else NOTHING
            out["next_stops"] = [self._stop(x, own) for x in v.get("next_stops") or []]
            return out

        def ids(x: Mapping[str, Any]) -> dict[str, Any]:
            out = dict(x)
            if x.get("request_id"):
                out["request_id"] = self.rid(x["request_id"])
            if x.get("vehicle_id"):
                out["vehicle_id"] = self.vid(x["vehicle_id"])
            return out

        return {
            **d,
            "vehicles": [vehicle(v) for v in d.get("vehicles") or []],
            "alerts": [ids(a) for a in d.get("alerts") or []],
            "bookings": [ids(b) for b in d.get("bookings") or []],
        }

    def event(self, e: Mapping[str, Any]) -> dict[str, Any]:
        """A vehicle's event as stored."""
        self.records += 1
        out = dict(e)
        if e.get("request_id"):
            out["request_id"] = self.rid(e["request_id"])
        if e.get("vehicle_id"):
            out["vehicle_id"] = self.vid(e["vehicle_id"])
        return out

    def notification(self, n: Mapping[str, Any]) -> dict[str, Any]:
        """An entry of the outbox of rider notifications (a rider id, never a phone number)."""
        self.records += 1
        return {**n, "request_id": self.rid(n.get("request_id"))}

    # ---- free texts ----------------------------------------------------------------------
    def texts(self, x: Any, inside: bool = False) -> Any:
        """``x`` with the ids this lens replaced replaced in its free texts too (messages,
        details, violations, errors); and, for a reader who sees no other rider's place, any
        free point they name (a refusal's leg) made its commune."""
        points = not self.points_only and Kind.PLACES in self.rider("")
        if not self._ids and not points:
            return x
        if isinstance(x, Mapping):
            return {k: self.texts(v, inside or k in TEXT_KEYS) for k, v in x.items()}
        if isinstance(x, list):
            return [self.texts(v, inside) for v in x]
        if inside and isinstance(x, str):
            if self._ids:
                x = self._pattern().sub(lambda m: self._ids[m.group(0)], x)
            if points:
                x = _POINT_IN_TEXT.sub(lambda m: self.place(m.group(0), EVERYTHING), x)
            return x
        return x

    def _pattern(self) -> re.Pattern[str]:
        keys = sorted(self._ids, key=len, reverse=True)
        body = "|".join(re.escape(k) for k in keys)
        return re.compile(rf"(?<![\w.@+:-])(?:{body})(?![\w.@+:-])")


# ---- the one function ---------------------------------------------------------------------


class View(StrEnum):
    """The records read use cases answer, each in its vocabulary."""

    REQUEST = "request"  # a request or a booking as answered (RequestOut)
    BOOKING_ANSWER = "booking answer"  # a booking's promise or refusal
    PLAN = "plan"
    GEOJSON = "geojson"
    MANIFEST_ROW = "manifest row"
    CHECK = "check"
    VEHICLE = "vehicle"
    VOLUNTEER = "volunteer"
    OFFER = "offer"
    MATCHING = "matching"
    JOB = "job"
    REQUEST_DATA = "request data"  # stored forms, rewritten by a purge or an erasure
    OFFER_DATA = "offer data"
    PROBLEM = "problem"
    LIVE = "live"  # the live day: vehicles, next stops, alerts, bookings' states
    EVENT = "event"  # a vehicle's event
    NOTIFICATION = "notification"  # the outbox of rider notifications


_VIEWS: dict[View, Callable[[Lens, Any], Any]] = {
    View.REQUEST: Lens.request_out,
    View.BOOKING_ANSWER: Lens.booking_answer,
    View.PLAN: Lens.plan,
    View.GEOJSON: Lens.geojson,
    View.MANIFEST_ROW: Lens.manifest_row,
    View.CHECK: lambda lens, c: c,
    View.VEHICLE: Lens.vehicle,
    View.VOLUNTEER: Lens.volunteer,
    View.OFFER: Lens.offer_out,
    View.MATCHING: Lens.matching,
    View.JOB: Lens.job,
    View.REQUEST_DATA: Lens.request_data,
    View.OFFER_DATA: Lens.offer_data,
    View.PROBLEM: Lens.problem,
    View.LIVE: Lens.live,
    View.EVENT: Lens.event,
    View.NOTIFICATION: Lens.notification,
}


def redact(view: View, record: Any, lens: Lens) -> Any:
    """``record`` (one, or a list of them) as ``lens`` may see it: every field the table hides
    from its reader removed, pseudonymised or made its commune, free texts included."""
    fn = _VIEWS[view]
    out = [fn(lens, r) for r in record] if isinstance(record, list) else fn(lens, record)
    return lens.texts(out)


def lens_for(
    viewer: Viewer,
    pseudonyms: Pseudonyms,
    communes: Communes | None,
    day: str = "",
    own_requests: Iterable[str] = (),
    own_drivers: Iterable[str] = (),
    kinds: Mapping[str, str] | None = None,
) -> Lens:
    """The lens of ``viewer`` on a day's records: the table read for its role, ``own_requests``
    (a portal's bookings, a driver's riders) and ``own_drivers`` (a driver's own record) being
    its own."""
    role = viewer.role
    own_r, own_d = frozenset(own_requests), frozenset(own_drivers)
    if viewer.vehicle_id:
        own_d |= {viewer.vehicle_id.partition("/")[0]}
    rules = {
        s: (hidden(s, role, True), hidden(s, role, False))
        for s in (Subject.RIDER, Subject.PRIVATE_DRIVER, Subject.FLEET_DRIVER)
    }

    def pick(subject: Subject, own: frozenset[str]) -> Callable[[str], Hidden]:
        mine, others = rules[subject]
        if not mine and not others:
            return _never
        if mine == others:
            return lambda _x: mine
        return lambda x: mine if x in own else others

    own_v = frozenset({viewer.vehicle_id} if viewer.vehicle_id else ())
    lens = Lens(
        pseudonyms,
        communes,
        day=day,
        rider=pick(Subject.RIDER, own_r),
        driver=pick(Subject.PRIVATE_DRIVER, own_d),
        fleet=pick(Subject.FLEET_DRIVER, own_v),
        kinds=dict(kinds or {}),
    )
    return lens


def forgetting(
    communes: Communes | None,
    day: str = "",
    riders: Iterable[str] | None = None,
    drivers: Iterable[str] | None = None,
    kinds: Mapping[str, str] | None = None,
) -> Lens:
    """The lens of a rewrite of what is stored, with a random key thrown away afterwards: every
    personal field of the day (``riders``/``drivers`` None, the end of a retention period), or
    of the given request ids and private drivers (an erasure); free points become their commune
    (stops are public places); the fleet's drivers' names and phones go too in a purge."""
    rset = None if riders is None else frozenset(riders)
    dset = None if drivers is None else frozenset(drivers)
    purge = rset is None and dset is None

    def rider(x: str) -> Hidden:
        return EVERYTHING if rset is None or x in rset else NOTHING

    def driver(x: str) -> Hidden:
        return EVERYTHING if dset is None or x in dset else NOTHING

    identity: Hidden = frozenset({Kind.IDENTITY})
    return Lens(
        Pseudonyms.fresh(),
        communes,
        day=day,
        rider=rider if rset is None or rset else _never,
        driver=driver if dset is None or dset else _never,
        fleet=(lambda _x: identity) if purge else _never,
        points_only=True,
        kinds=dict(kinds or {}),
    )


# ---- the use case: lenses for the read use cases, and the access log ----------------------


class Privacy:
    """The lenses the read use cases look through, and the access log they write: a read that
    showed a personal field is logged (who, what, when, how many records, the rider ids of the
    persons shown), one that showed none is not."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.store = PrivacyStore(ctx.store)
        self.communes = Communes(lambda: ctx.territory)
        self._pseudonyms: Pseudonyms | None = None
        # a screen's polls (see ``show``): (key id, action, day) -> (what it showed, when logged)
        self._polls: dict[tuple[Any, str, date | None], tuple[Any, float]] = {}
        self._polls_lock = threading.Lock()

    @property
    def pseudonyms(self) -> Pseudonyms:
        """The service's own pseudonyms (planners' ids, rider ids), under its stored secret."""
        if self._pseudonyms is None:
            self._pseudonyms = Pseudonyms(self.store.secret("pseudonyms"))
        return self._pseudonyms

    def rider_id(self, phone: Any) -> str | None:
        return self.pseudonyms.rider_id(str(phone or ""))

    def lens(
        self,
        key: KeyInfo | Viewer,
        day: date | None = None,
        own_requests: Iterable[str] = (),
        kinds: Mapping[str, str] | None = None,
        drivers: Mapping[str, str] | None = None,
    ) -> Lens:
        """``key``'s lens on ``day``; the private drivers it meets are read from the store when
        first named, unless ``drivers`` gives them all (id -> kind, as ``drivers_of`` would)."""
        lens = lens_for(
            Viewer.of(key),
            self.pseudonyms,
            self.communes,
            day.isoformat() if day else "",
            own_requests,
            kinds=kinds,
        )
        known: list[dict[str, str]] = []

        def kind_of(base: str) -> str | None:  # read once, when a record names a vehicle
            if not known:
                known.append(self.drivers_of(day))
            return known[0].get(base)

        lens.kind_of = kind_of if drivers is None else drivers.get
        return lens

    def drivers_of(
        self, day: date | None, problem: Mapping[str, Any] | None = None
    ) -> dict[str, str]:
        """The private drivers a day's records may name: volunteers, the day's carpool offers,
        and the volunteer and carpool vehicles of its stored problem (id -> kind)."""
        out = {str(v.get("id")): "volunteer" for v in self.store.volunteer_data()}
        if day is not None:
            out.update({i: "carpool" for _, i, _ in self.store.offer_data(day)})
        for v in (problem or {}).get("vehicles") or []:
            if v.get("kind") in PRIVATE_KINDS:
                out.setdefault(str(v.get("id")).partition("/")[0], str(v["kind"]))
        return out

    def resolve(
        self, key: KeyInfo | Viewer, day: date | None, given: str, ids: Iterable[str], kind: str
    ) -> str | None:
        """The private driver id that ``key`` reads as ``given`` among ``ids``: ``given`` itself
        when the reader sees these ids; else the one whose pseudonym it is, or None."""
        role = Viewer.of(key).role
        if Kind.ID not in hidden(Subject.PRIVATE_DRIVER, role, own=False):
            return given
        ids = list(ids)
        lens = self.lens(key, day, kinds=dict.fromkeys(ids, kind))
        return next((x for x in ids if lens.vid(x) == given), None)

    def show(
        self,
        view: View,
        record: Any,
        key: KeyInfo | Viewer,
        action: str,
        day: date | None = None,
        own_requests: Iterable[str] = (),
        kinds: Mapping[str, str] | None = None,
        know: Iterable[str] = (),
        phones: Mapping[str, Any] | None = None,
        log: bool = True,
        drivers: Mapping[str, str] | None = None,
        poll_s: float = 0,
    ) -> Any:
        """``record`` as ``key`` may see it (``redact`` through its lens), the read logged when
        it showed a personal field (``log``: false for the answer to a write, which shows the
        writer what it wrote; ``poll_s``: a screen's poll, logged again by this process only
        when it shows other riders than the same key's last logged read of the same day and
        action, or ``poll_s`` seconds after it). ``know``: request ids free texts may name;
        ``phones``: request id -> phone, for the rider ids of the log when the record holds none;
        ``drivers``: see ``lens``. Never call it inside a write transaction (it may read, and
        the log writes)."""
        lens = self.lens(key, day, own_requests, kinds, drivers)
        lens.know(know, kinds)
        lens.shown_requests.clear()
        lens.shown_drivers.clear()
        out = redact(view, record, lens)
        if log:
            self.log(key, action, day, lens, phones, poll_s)
        return out

    def log(
        self,
        key: KeyInfo | Viewer,
        action: str,
        day: date | None,
        lens: Lens,
        phones: Mapping[str, Any] | None = None,
        poll_s: float = 0,
    ) -> None:
        if not lens.showed:
            return
        found = set(lens.shown_phones)
        if lens.shown_requests:
            if phones is None and day is not None:
                phones = {rid: d.get("phone") for _, rid, d in self.store.request_data(day)}
            for rid in lens.shown_requests:
                if phones and phones.get(rid):
                    found.add(str(phones[rid]))
        rider_ids = [r for r in (self.rider_id(p) for p in found) if r]
        viewer = Viewer.of(key)
        if poll_s > 0:
            seen = (frozenset(rider_ids), frozenset(lens.shown_requests | lens.shown_drivers))
            at, now = (viewer.key_id, action, day), time.monotonic()
            with self._polls_lock:
                last = self._polls.get(at)
                if last is not None and last[0] == seen and now - last[1] < poll_s:
                    return  # the same riders shown to the same key a moment ago: logged then
                self._polls[at] = (seen, now)
        self.store.append(viewer.key_id, viewer.actor, action, day, max(lens.records, 1), rider_ids)

    def access_log(
        self, since: datetime | None = None, rider_id: str | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        return self.store.entries(since, rider_id, limit)
