"""The domain, pure: places, requests, vehicles, the compiled Problem and the Plan.

Conventions (see the README's architecture section):

* Inside the model every time is an integer number of seconds since midnight of the service
  day (local time, Europe/Paris by default); every distance is integer metres; durations end
  in ``_s`` and distances in ``_m``. Conversion to ISO 8601 with offset happens at the edges
  (``dispatcher.io``), never here.
* A ``Problem`` carries its own matrices (``duration_s[i][j]``, ``distance_m[i][j]``) aligned
  with ``Problem.locations``; requests and vehicles name their places by ``Location.id``.
* Ride time of a passenger = start of service at the drop-off minus the end of service
  (boarding) at the pickup, as in the dial-a-ride literature (Cordeau 2006).
* No I/O, no OR-Tools, no HTTP: every other module imports this one, it imports nothing of the
  project but ``dispatcher.errors``.
"""

from __future__ import annotations

import copy
import enum
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Literal, TypeAlias

from dispatcher.errors import InputError

if TYPE_CHECKING:
    import numpy as np

VehicleKind = Literal["minibus", "car", "volunteer", "carpool"]
VEHICLE_KINDS: tuple[str, ...] = ("minibus", "car", "volunteer", "carpool")
MODES: tuple[str, ...] = (
    "minibus",
    "volunteer",
    "carpool",
)  # how a request is carried ("car" counts as minibus)
DIMENSIONS: tuple[str, ...] = ("seats", "wheelchairs")
DAY_S = 24 * 3600
DEFAULT_MIN_STAY_S = 900  # a return's pickup starts this long after its outbound's drop-off
DEFAULT_TIMEZONE = "Europe/Paris"  # of a Problem without one, and of the edges' local times

Matrix: TypeAlias = "Sequence[Sequence[int]] | np.ndarray"
"""A square integer matrix over a Problem's locations: lists of lists or a numpy array."""
_Links: TypeAlias = (
    "tuple[tuple[Request, ...], tuple[tuple[Request, Request], ...], dict[str, str]]"
)
"""A problem's linked trips, held for its tuple of requests: (requests, pairs, partners)."""


def _check(cond: bool, where: str, message: str) -> None:
    if not cond:
        raise InputError(message, where)


def hhmm(seconds: int, *, with_seconds: bool = False) -> str:
    """Seconds since midnight as ``HH:MM``, ``HH:MM:SS`` when not on a whole minute (or always,
    ``with_seconds``). Hours go on past 24 (the next day); a negative time keeps its sign."""
    sign = "-" if seconds < 0 else ""
    h, rest = divmod(abs(int(seconds)), 3600)
    m, s = divmod(rest, 60)
    return f"{sign}{h:02d}:{m:02d}" + (f":{s:02d}" if s or with_seconds else "")


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


# --------------------------------------------------------------------------------------------
# Places
# --------------------------------------------------------------------------------------------


PLACED = ("", "house", "street", "commune")  # how an address became a point (Location.placed)


@dataclass(frozen=True)
class Location:
    """A place: a stop of the territory, a depot, or any lon/lat point.

    ``id`` is unique within a Problem (for a stop, its stop id; for a free point, any string).
    For benchmark instances with given matrices, lon/lat may hold plain x/y coordinates.
    ``placed``: for a postal address, how precisely the geocoder placed it (``house``, ``street``,
    or ``commune``: at the commune's main stop); empty for a stop or a point.
    """

    id: str
    lon: float
    lat: float
    name: str = ""
    placed: str = ""

    def __post_init__(self) -> None:
        _check(bool(self.id), "location.id", "must be a non-empty string")
        _check(
            self.placed in PLACED,
            f"location[{self.id}].placed",
            f"must be one of {', '.join(repr(x) for x in PLACED)}, got {self.placed!r}",
        )
        for attr in ("lon", "lat"):
            v = getattr(self, attr)
            _check(
                isinstance(v, (int, float)) and math.isfinite(v),
                f"location[{self.id}].{attr}",
                f"must be a finite number, got {v!r}",
            )


@dataclass(frozen=True)
class TimeWindow:
    """A closed interval of seconds since midnight of the service day."""

    start_s: int
    end_s: int

    def validate(self, where: str) -> None:
        _check(
            _is_int(self.start_s) and _is_int(self.end_s), where, "bounds must be integer seconds"
        )
        _check(
            self.start_s <= self.end_s,
            where,
            f"starts after it ends ({hhmm(self.start_s)} > {hhmm(self.end_s)})",
        )
        _check(self.start_s >= 0, where, f"starts before the service day ({hhmm(self.start_s)})")

    def contains(self, t: int) -> bool:
        return self.start_s <= t <= self.end_s


# --------------------------------------------------------------------------------------------
# Service rules, requests, vehicles
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceRules:
    """Rules of a service, the defaults for every request.

    The max ride time of a request with direct drive time ``t`` is
    ``min(ride_alpha * t + ride_beta_s, t + max_detour_s)`` (MATSim's rule, capped by a max
    detour), unless the request sets ``max_ride_s`` itself.
    """

    ride_alpha: float = 1.5
    ride_beta_s: int = 600
    max_detour_s: int = 1800
    boarding_s: int = 60
    alighting_s: int = 60
    pickup_window_s: int = 900
    appointment_window_s: int = (
        1800  # arrive within this long before an appointment, unless not_before says otherwise
    )
    service_hours: TimeWindow = TimeWindow(6 * 3600, 20 * 3600)
    co2_g_per_km: Mapping[str, float] = field(
        default_factory=lambda: {"minibus": 250.0, "car": 193.0, "volunteer": 193.0}
    )

    def __post_init__(self) -> None:
        _check(self.ride_alpha >= 1.0, "rules.ride_alpha", f"must be >= 1, got {self.ride_alpha}")
        for name in (
            "ride_beta_s",
            "max_detour_s",
            "boarding_s",
            "alighting_s",
            "pickup_window_s",
            "appointment_window_s",
        ):
            v = getattr(self, name)
            _check(
                _is_int(v) and v >= 0, f"rules.{name}", f"must be a non-negative integer, got {v!r}"
            )
        self.service_hours.validate("rules.service_hours")

    def max_ride_s(self, direct_s: int) -> int:
        return min(int(self.ride_alpha * direct_s + self.ride_beta_s), direct_s + self.max_detour_s)


@dataclass(frozen=True)
class Request:
    """One trip asked for by one party (``seats`` seated passengers, ``wheelchairs`` wheelchair
    places).

    At least one of ``pickup_window`` (desired pickup time) or ``arrive_by_s`` (appointment:
    arrive at the drop-off by then, and not before ``not_before_s`` if given) is set; with
    both, the pickup window and the appointment hold together.
    ``boarding_s``/``alighting_s``/``max_ride_s`` default to the service rules when None.

    A return trip names its outbound in ``return_of``: the two are one need, served both or
    neither, and the return's pickup starts no earlier than the outbound's drop-off ends
    (start of alighting plus alighting) plus ``min_stay_s`` (ignored on other requests).
    """

    id: str
    pickup: str  # Location.id
    dropoff: str  # Location.id
    seats: int = 1
    wheelchairs: int = 0
    pickup_window: TimeWindow | None = None
    arrive_by_s: int | None = None
    not_before_s: int | None = None
    boarding_s: int | None = None
    alighting_s: int | None = None
    max_ride_s: int | None = None
    priority: int = 1
    return_of: str | None = None  # id of the outbound request this one is the return of
    name: str = ""
    phone: str = ""
    accepts_carpool: bool = True  # may ride with a carpool driver (vehicle kind "carpool")
    min_stay_s: int = DEFAULT_MIN_STAY_S  # a return: least stay between outbound and return
    rider_category: str = ""  # fare category (docs/fares.md); empty: the rules' default, full
    fare_product: str = ""  # fare product; empty: the rules' default, a single ticket

    @property
    def is_appointment(self) -> bool:
        return self.arrive_by_s is not None

    def validate(self, where: str) -> None:
        _check(bool(self.id), f"{where}.id", "must be a non-empty string")
        _check(
            _is_int(self.seats) and self.seats >= 0,
            f"{where}.seats",
            f"must be a non-negative integer, got {self.seats!r}",
        )
        _check(
            _is_int(self.wheelchairs) and self.wheelchairs >= 0,
            f"{where}.wheelchairs",
            f"must be a non-negative integer, got {self.wheelchairs!r}",
        )
        _check(
            self.seats + self.wheelchairs > 0,
            f"{where}.seats",
            "a request carries at least one passenger",
        )
        _check(
            self.pickup != self.dropoff,
            f"{where}.dropoff",
            "drop-off is the same place as the pickup",
        )
        _check(
            self.pickup_window is not None or self.arrive_by_s is not None,
            f"{where}.pickup_window",
            "give a pickup window, an appointment time (arrive_by), or both",
        )
        if self.pickup_window is not None:
            self.pickup_window.validate(f"{where}.pickup_window")
        if self.arrive_by_s is None:
            _check(
                self.not_before_s is None, f"{where}.not_before", "only meaningful with arrive_by"
            )
        if self.arrive_by_s is not None:
            _check(
                _is_int(self.arrive_by_s) and self.arrive_by_s >= 0,
                f"{where}.arrive_by",
                "must be a non-negative integer time",
            )
            if self.not_before_s is not None:
                _check(
                    _is_int(self.not_before_s) and 0 <= self.not_before_s <= self.arrive_by_s,
                    f"{where}.not_before",
                    "must be a time before arrive_by",
                )
        for name in ("boarding_s", "alighting_s", "max_ride_s"):
            v = getattr(self, name)
            if v is not None:
                _check(
                    _is_int(v) and v >= 0,
                    f"{where}.{name}",
                    f"must be a non-negative integer, got {v!r}",
                )
        _check(
            _is_int(self.priority) and self.priority >= 1,
            f"{where}.priority",
            "must be an integer >= 1",
        )
        _check(
            isinstance(self.accepts_carpool, bool),
            f"{where}.accepts_carpool",
            "must be true or false",
        )
        _check(
            _is_int(self.min_stay_s) and self.min_stay_s >= 0,
            f"{where}.min_stay_s",
            f"must be a non-negative integer number of seconds, got {self.min_stay_s!r}",
        )
        for name in ("rider_category", "fare_product"):
            _check(
                isinstance(getattr(self, name), str),
                f"{where}.{name}",
                f"must be a string, got {getattr(self, name)!r}",
            )
        _check(
            self.return_of != self.id,
            f"{where}.return_of",
            f"request {self.id!r} cannot be the return of itself",
        )


@dataclass(frozen=True)
class Break:
    """A driver's break of ``duration_s`` taken entirely inside ``window``."""

    window: TimeWindow
    duration_s: int

    def validate(self, where: str) -> None:
        self.window.validate(f"{where}.window")
        _check(
            _is_int(self.duration_s) and self.duration_s > 0,
            f"{where}.duration_s",
            "must be a positive integer",
        )
        _check(
            self.window.end_s - self.window.start_s >= self.duration_s,
            f"{where}.window",
            "is shorter than the break",
        )


@dataclass(frozen=True)
class Vehicle:
    """A vehicle and its driver's day. Costs are in euros.

    Optional limits (None / empty: no limit), valid for any vehicle:

    * drivers' duty limits: ``max_duration_s`` bounds the duty time, the route from leaving its
      start to reaching its end (waiting and breaks included), whatever the shift allows (a
      carpool driver's direct drive plus detour uses it too). ``max_driving_s`` bounds
      continuous driving: every stretch of the route not interrupted by one of the vehicle's
      ``breaks`` lasting at least ``driving_break_s`` (default 45 min, as in EU rules) lasts at
      most ``max_driving_s`` (4 h 30 in EU rules). A stretch runs from leaving the start, or from
      the end of such a break, to the start of the next such break, or to reaching the end; it
      counts ELAPSED time: driving, boarding and alighting, waiting and shorter breaks all count.
      That is stricter than the EU rule, which counts driving only: a plan that keeps it keeps
      the EU rule too. Without such a break, it bounds the whole route like ``max_duration_s``
      (see :meth:`route_duration_limit_s`);
    * ``start_window``/``end_window`` bound when it leaves its start / reaches its end (inside
      the shift); ``allowed_stops`` lists the only places it may pick up or drop off at (a
      carpool driver's meeting points); ``home`` with ``max_km_from_home`` keeps every visit
      within that road distance of home (a volunteer).

    ``cost_per_passenger_km`` is paid per passenger per km of each served request's direct trip
    (a carpool incentive).
    """

    id: str
    start: str  # Location.id of the start depot
    end: str  # Location.id of the end depot (may differ)
    shift: TimeWindow
    seats: int = 8
    wheelchairs: int = 0
    breaks: tuple[Break, ...] = ()
    cost_per_km: float = 0.5
    cost_per_hour: float = 25.0
    fixed_cost: float = 0.0
    kind: str = "minibus"
    name: str = ""
    phone: str = ""
    max_duration_s: int | None = None
    start_window: TimeWindow | None = None
    end_window: TimeWindow | None = None
    allowed_stops: tuple[str, ...] = ()
    home: str | None = None
    max_km_from_home: float | None = None
    cost_per_passenger_km: float = 0.0
    max_driving_s: int | None = None
    driving_break_s: int = 2700

    def capacity(self, dim: str) -> int:
        return int(getattr(self, dim))

    def resting_breaks(self) -> tuple[Break, ...]:
        """The breaks long enough to end a stretch of continuous driving (``driving_break_s``)."""
        return tuple(b for b in self.breaks if b.duration_s >= self.driving_break_s)

    def route_duration_limit_s(self) -> int | None:
        """The longest the route may last (leaving its start to reaching its end) by the duty
        limits alone: ``max_duration_s``, and ``max_driving_s`` too when no break of the vehicle
        ends a stretch of driving (the whole route is then one stretch). None: no such limit."""
        limits = [self.max_duration_s] if self.max_duration_s is not None else []
        if self.max_driving_s is not None and not self.resting_breaks():
            limits.append(self.max_driving_s)
        return min(limits) if limits else None

    def validate(self, where: str) -> None:
        _check(bool(self.id), f"{where}.id", "must be a non-empty string")
        _check(
            self.shift.end_s > self.shift.start_s,
            f"{where}.shift",
            f"ends before it starts ({hhmm(self.shift.start_s)} >= {hhmm(self.shift.end_s)})",
        )
        self.shift.validate(f"{where}.shift")
        for dim in DIMENSIONS:
            v = getattr(self, dim)
            _check(
                _is_int(v) and v >= 0,
                f"{where}.{dim}",
                f"must be a non-negative integer, got {v!r}",
            )
        _check(
            self.seats + self.wheelchairs > 0,
            f"{where}.seats",
            "a vehicle carries at least one passenger (seats or wheelchair places)",
        )
        for name in ("cost_per_km", "cost_per_hour", "fixed_cost", "cost_per_passenger_km"):
            v = getattr(self, name)
            _check(
                isinstance(v, (int, float)) and math.isfinite(v) and v >= 0,
                f"{where}.{name}",
                "must be a non-negative number",
            )
        _check(
            self.kind in VEHICLE_KINDS,
            f"{where}.kind",
            f"must be one of {', '.join(VEHICLE_KINDS)}",
        )
        for k, b in enumerate(self.breaks):
            b.validate(f"{where}.breaks[{k}]")
        for name in ("max_duration_s", "max_driving_s"):
            v = getattr(self, name)
            if v is not None:
                _check(
                    _is_int(v) and v > 0,
                    f"{where}.{name}",
                    f"must be a positive integer number of seconds, got {v!r}",
                )
        _check(
            _is_int(self.driving_break_s) and self.driving_break_s > 0,
            f"{where}.driving_break_s",
            f"must be a positive integer number of seconds, got {self.driving_break_s!r}",
        )
        for name in ("start_window", "end_window"):
            w = getattr(self, name)
            if w is not None:
                w.validate(f"{where}.{name}")
                _check(
                    w.end_s >= self.shift.start_s and w.start_s <= self.shift.end_s,
                    f"{where}.{name}",
                    f"{hhmm(w.start_s)}-{hhmm(w.end_s)} is outside the shift "
                    f"{hhmm(self.shift.start_s)}-{hhmm(self.shift.end_s)}",
                )
        if self.start_window is not None and self.end_window is not None:
            _check(
                self.start_window.start_s <= self.end_window.end_s,
                f"{where}.end_window",
                "must arrive after departing: the arrival window ends at "
                f"{hhmm(self.end_window.end_s)}, "
                f"the departure window starts at {hhmm(self.start_window.start_s)}",
            )
        if self.max_km_from_home is not None:
            v = self.max_km_from_home
            _check(
                isinstance(v, (int, float)) and math.isfinite(v) and v >= 0,
                f"{where}.max_km_from_home",
                "must be a non-negative number",
            )
            _check(self.home is not None, f"{where}.home", "max_km_from_home needs a home place")


WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class CarpoolOffer:
    """A private driver's trip that riders may share: from ``origin`` to ``destination`` (Location
    ids), leaving within ``departure_window`` and/or arriving within ``arrival_window``, with
    ``seats`` free seats. The driver accepts a detour of at most ``max_detour_share`` of the
    direct drive time, capped at ``max_detour_cap_s``; with ``meeting_points`` riders board and
    alight only there (else door to door). ``days`` are the weekdays (0 = Monday) the trip recurs
    on (empty: the service day only)."""

    driver_id: str
    origin: str
    destination: str
    seats: int = 3
    departure_window: TimeWindow | None = None
    arrival_window: TimeWindow | None = None
    max_detour_share: float = 0.25
    max_detour_cap_s: int = 900
    meeting_points: tuple[str, ...] = ()
    days: tuple[int, ...] = ()
    name: str = ""
    phone: str = ""

    def max_detour_s(self, direct_s: int) -> int:
        """Extra time the driver accepts over the direct drive of ``direct_s`` seconds."""
        return min(int(self.max_detour_share * direct_s), self.max_detour_cap_s)

    def runs_on(self, day: date | None) -> bool:
        return day is None or not self.days or day.weekday() in self.days

    def validate(self, where: str) -> None:
        _check(bool(self.driver_id), f"{where}.driver_id", "must be a non-empty string")
        _check(
            self.origin != self.destination,
            f"{where}.destination",
            "is the same place as the origin",
        )
        _check(
            _is_int(self.seats) and self.seats >= 1,
            f"{where}.seats",
            f"a carpool offer needs at least one free seat, got {self.seats!r}",
        )
        _check(
            self.departure_window is not None or self.arrival_window is not None,
            f"{where}.departure_window",
            "give a departure window, an arrival window, or both",
        )
        if self.departure_window is not None:
            self.departure_window.validate(f"{where}.departure_window")
        if self.arrival_window is not None:
            self.arrival_window.validate(f"{where}.arrival_window")
        if self.departure_window is not None and self.arrival_window is not None:
            _check(
                self.departure_window.start_s < self.arrival_window.end_s,
                f"{where}.arrival_window",
                f"departure {hhmm(self.departure_window.start_s)} is after the arrival "
                f"{hhmm(self.arrival_window.end_s)}",
            )
        _check(
            isinstance(self.max_detour_share, (int, float))
            and math.isfinite(self.max_detour_share)
            and 0 <= self.max_detour_share <= 5,
            f"{where}.max_detour_share",
            f"must be a number from 0 to 5, got {self.max_detour_share!r}",
        )
        _check(
            _is_int(self.max_detour_cap_s) and self.max_detour_cap_s >= 0,
            f"{where}.max_detour_cap_s",
            f"must be a non-negative integer, got {self.max_detour_cap_s!r}",
        )
        for k, d in enumerate(self.days):
            _check(
                _is_int(d) and 0 <= d <= 6,
                f"{where}.days[{k}]",
                f"must be a weekday 0 (Monday) to 6, got {d!r}",
            )


HALF_DAYS: dict[str, TimeWindow] = {
    "am": TimeWindow(7 * 3600, 12 * 3600 + 1800),
    "pm": TimeWindow(13 * 3600 + 1800, 19 * 3600),
}


@dataclass(frozen=True)
class VolunteerDriver:
    """A volunteer driver of a solidarity transport association with their own car: available
    on the ``half_days`` (keys of ``HALF_DAYS``, "am"/"pm"), starting and ending at ``home``,
    serving only places within ``max_km_from_home`` km by road of home, reimbursed per km."""

    id: str
    home: str  # Location.id
    half_days: tuple[str, ...] = ("am",)
    seats: int = 3
    wheelchairs: int = 0
    max_km_from_home: float = 30.0
    cost_per_km: float | None = None  # None: the mode's cost per km
    name: str = ""
    phone: str = ""

    def validate(self, where: str) -> None:
        _check(bool(self.id), f"{where}.id", "must be a non-empty string")
        _check(bool(self.half_days), f"{where}.half_days", "give at least one half-day (am, pm)")
        for k, h in enumerate(self.half_days):
            _check(
                h in HALF_DAYS,
                f"{where}.half_days[{k}]",
                f"must be one of {', '.join(HALF_DAYS)}, got {h!r}",
            )
        _check(
            _is_int(self.seats) and self.seats >= 1,
            f"{where}.seats",
            f"must be an integer >= 1, got {self.seats!r}",
        )
        _check(
            _is_int(self.wheelchairs) and self.wheelchairs >= 0,
            f"{where}.wheelchairs",
            "must be a non-negative integer",
        )
        v = self.max_km_from_home
        _check(
            isinstance(v, (int, float)) and math.isfinite(v) and v > 0,
            f"{where}.max_km_from_home",
            f"must be a positive number, got {v!r}",
        )
        if self.cost_per_km is not None:
            c = self.cost_per_km
            _check(
                isinstance(c, (int, float)) and math.isfinite(c) and c >= 0,
                f"{where}.cost_per_km",
                "must be a non-negative number",
            )


# --------------------------------------------------------------------------------------------
# Objective, solver parameters, the compiled problem
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectiveWeights:
    """Weights of the objective: travel cost (euros, from the vehicles' costs) plus refusals.

    A refused request costs ``refusal_penalty * priority`` euros; ``balance_per_hour`` > 0 adds a
    cost on the longest route (balanced work across drivers).
    """

    refusal_penalty: float = 1000.0
    balance_per_hour: float = 0.0

    def __post_init__(self) -> None:
        _check(self.refusal_penalty > 0, "weights.refusal_penalty", "must be positive")
        _check(self.balance_per_hour >= 0, "weights.balance_per_hour", "must be non-negative")


REFINEMENTS = ("alns", "none")  # what refines OR-Tools' plan: the ALNS layer, or nothing


@dataclass(frozen=True)
class SolverParams:
    """Validated solver parameters. ``effort`` (0..5) is the one knob for people who don't tune:
    it sets the time limit when ``time_limit_s`` is None (0: first plan only, 5: 120 s).
    ``first_solution`` and ``metaheuristic`` name OR-Tools strategies; the names are checked on
    the solver's side (:mod:`dispatcher.solver.ortools_names`), not here.
    ``refinement``: "alns" hands OR-Tools' plan to the ALNS layer for ``alns_share`` of the time
    (the split between the two searches), where the layer applies; "none": OR-Tools alone."""

    time_limit_s: float | None = 10.0
    first_solution: str = "PARALLEL_CHEAPEST_INSERTION"
    metaheuristic: str = "GUIDED_LOCAL_SEARCH"
    effort: int = 2
    seed: int = 0
    solution_limit: int | None = None
    log_search: bool = False
    refinement: str = "alns"
    alns_share: float = 0.8

    EFFORT_TIME_S = (0.0, 2.0, 10.0, 30.0, 60.0, 120.0)

    def __post_init__(self) -> None:
        _check(
            _is_int(self.effort) and 0 <= self.effort <= 5,
            "params.effort",
            "must be an integer from 0 to 5",
        )
        if self.time_limit_s is not None:
            _check(
                isinstance(self.time_limit_s, (int, float))
                and math.isfinite(self.time_limit_s)
                and self.time_limit_s >= 0,
                "params.time_limit_s",
                "must be a non-negative number of seconds",
            )
        # which strategy names exist is the engine's business: dispatcher.solver.ortools_names
        _check(isinstance(self.first_solution, str), "params.first_solution", "must be a string")
        _check(isinstance(self.metaheuristic, str), "params.metaheuristic", "must be a string")
        _check(
            _is_int(self.seed) and self.seed >= 0, "params.seed", "must be a non-negative integer"
        )
        if self.solution_limit is not None:
            _check(
                _is_int(self.solution_limit) and self.solution_limit >= 1,
                "params.solution_limit",
                "must be an integer >= 1",
            )
        refinements = ", ".join(REFINEMENTS)
        _check(self.refinement in REFINEMENTS, "params.refinement", f"must be one of {refinements}")
        _check(
            isinstance(self.alns_share, (int, float))
            and not isinstance(self.alns_share, bool)
            and 0.0 <= self.alns_share < 1.0,
            "params.alns_share",
            "must be a number from 0 to below 1 (the ALNS layer's share of the time)",
        )

    @property
    def effective_time_limit_s(self) -> float:
        return (
            float(self.time_limit_s)
            if self.time_limit_s is not None
            else self.EFFORT_TIME_S[self.effort]
        )


@dataclass(frozen=True, eq=False)
class Problem:
    """Everything the solver needs, compiled: places with their matrices, requests, fleet, rules.

    ``duration_s`` and ``distance_m`` are square integer matrices (lists of lists or numpy
    arrays) aligned with ``locations``. Construction validates everything and raises
    ``InputError`` naming the offending field.
    """

    locations: tuple[Location, ...]
    duration_s: Matrix
    distance_m: Matrix
    requests: tuple[Request, ...]
    vehicles: tuple[Vehicle, ...]
    rules: ServiceRules = ServiceRules()
    weights: ObjectiveWeights = ObjectiveWeights()
    params: SolverParams = SolverParams()
    day: date | None = None
    timezone: str = DEFAULT_TIMEZONE
    name: str = ""

    def __post_init__(self) -> None:
        n = len(self.locations)
        index: dict[str, int] = {}
        for i, loc in enumerate(self.locations):
            _check(loc.id not in index, f"locations[{i}].id", f"duplicate location id {loc.id!r}")
            index[loc.id] = i
        object.__setattr__(self, "_index", index)
        for mname in ("duration_s", "distance_m"):
            m = getattr(self, mname)
            _check(len(m) == n, mname, f"has {len(m)} rows for {n} locations")
            for i in range(n):
                row = m[i]
                _check(len(row) == n, f"{mname}[{i}]", f"has {len(row)} columns for {n} locations")
        ids: set[str] = set()
        for k, r in enumerate(self.requests):
            where = f"requests[{k}]"
            self.check_request(r, where)
            _check(r.id not in ids, f"{where}.id", f"duplicate request id {r.id!r}")
            ids.add(r.id)
        self._check_links(self.requests)
        vids: set[str] = set()
        for k, v in enumerate(self.vehicles):
            where = f"vehicles[{k}]"
            v.validate(where)
            _check(v.id not in vids, f"{where}.id", f"duplicate vehicle id {v.id!r}")
            vids.add(v.id)
            _check(v.start in index, f"{where}.start", f"unknown location {v.start!r}")
            _check(v.end in index, f"{where}.end", f"unknown location {v.end!r}")
            if v.home is not None:
                _check(v.home in index, f"{where}.home", f"unknown location {v.home!r}")
            for j, stop in enumerate(v.allowed_stops):
                _check(stop in index, f"{where}.allowed_stops[{j}]", f"unknown location {stop!r}")

    def check_request(self, r: Request, where: str) -> None:
        """Validate one request against this problem's places and rules (InputError naming the
        field), as construction does for each request: the real-time paths add requests to a
        validated problem one at a time and check only the new one."""
        index = self._index  # type: ignore[attr-defined]
        r.validate(where)
        _check(r.pickup in index, f"{where}.pickup", f"unknown location {r.pickup!r}")
        _check(r.dropoff in index, f"{where}.dropoff", f"unknown location {r.dropoff!r}")
        if r.pickup_window is not None and r.arrive_by_s is not None:
            earliest = r.pickup_window.start_s + self.boarding_s(r) + self.direct_s(r)
            _check(
                r.arrive_by_s >= earliest,
                f"{where}.arrive_by",
                f"drop-off deadline {hhmm(r.arrive_by_s)} comes before the earliest arrival "
                f"{hhmm(earliest)} allowed by the pickup window",
            )
            latest = r.pickup_window.end_s + self.boarding_s(r) + self.max_ride_s(r)
            _check(
                self.not_before_s(r) <= latest,
                f"{where}.not_before",
                f"comes after the latest arrival {hhmm(latest)} allowed by the pickup window",
            )

    def _check_links(self, requests: Sequence[Request], fresh: set[str] | None = None) -> None:
        """Every return link of ``requests`` (:meth:`check_link`); the return's window only for
        the pairs with a request in ``fresh`` (every pair when None)."""
        pos = {r.id: k for k, r in enumerate(requests)}
        returns: dict[str, str] = {}  # outbound id -> its return's id
        for k, r in enumerate(requests):
            if r.return_of is None:
                continue
            where = f"requests[{k}]"
            _check(
                r.return_of != r.id,
                f"{where}.return_of",
                f"request {r.id!r} cannot be the return of itself",
            )
            _check(r.return_of in pos, f"{where}.return_of", f"unknown request {r.return_of!r}")
            o = requests[pos[r.return_of]]
            _check(
                o.return_of is None,
                f"{where}.return_of",
                f"request {o.id!r} is itself the return of {o.return_of!r}: "
                "a return names its outbound trip",
            )
            _check(
                o.id not in returns,
                f"{where}.return_of",
                f"request {o.id!r} already has a return trip ({returns.get(o.id)!r})",
            )
            returns[o.id] = r.id
            if fresh is None or r.id in fresh or o.id in fresh:
                self.check_return_window(o, r, where)

    def check_link(self, r: Request, where: str) -> None:
        """Validate the return link of ``r`` (a request of this problem, new or replaced) against
        the problem's other requests, as construction does: a return names another request of
        the problem, that is not a return itself and has no other return, and the return's
        pickup window does not end before its outbound can arrive plus the minimum stay; an
        outbound's windows still leave its return that time."""
        if r.return_of is not None:
            _check(
                r.return_of != r.id,
                f"{where}.return_of",
                f"request {r.id!r} cannot be the return of itself",
            )
            try:
                o = self.request(r.return_of)
            except KeyError:
                raise InputError(f"unknown request {r.return_of!r}", f"{where}.return_of") from None
            _check(
                o.return_of is None,
                f"{where}.return_of",
                f"request {o.id!r} is itself the return of {o.return_of!r}: "
                "a return names its outbound trip",
            )
            other = self.partner_id(o.id)
            _check(
                other in (None, r.id),
                f"{where}.return_of",
                f"request {o.id!r} already has a return trip ({other!r})",
            )
            self.check_return_window(o, r, where)
            return
        back = self.partner_id(r.id)
        if back is not None and back != r.id:
            self.check_return_window(r, self.request(back), where)

    def check_return_window(self, outbound: Request, ret: Request, where: str) -> None:
        """The return's pickup can start after its outbound's earliest arrival, alighting and the
        minimum stay (InputError on the return's pickup window, or its appointment)."""
        arrive = self.dropoff_tw(outbound).start_s
        earliest = arrive + self.alighting_s(outbound) + ret.min_stay_s
        last = self.pickup_tw(ret).end_s
        field_name = "pickup_window" if ret.pickup_window is not None else "arrive_by"
        _check(
            last >= earliest,
            f"{where}.{field_name}",
            f"the return's pickup must start by {hhmm(last)}, before its outbound trip "
            f"{outbound.id!r} can arrive ({hhmm(arrive)} at the earliest) plus the minimum stay "
            f"of {ret.min_stay_s / 60:g} min ({hhmm(earliest)})",
        )

    # ---- look-ups -----------------------------------------------------------------------
    def index(self, location_id: str) -> int:
        index: dict[str, int] = self._index  # type: ignore[attr-defined]
        return index[location_id]

    def location(self, location_id: str) -> Location:
        return self.locations[self.index(location_id)]

    def request(self, request_id: str) -> Request:
        # by id, from an index built on first use for this very tuple of requests (copies of a
        # problem with other requests rebuild it)
        held = self.__dict__.get("_requests_by_id")
        if held is None or held[0] is not self.requests:
            held = (self.requests, {r.id: r for r in self.requests})
            object.__setattr__(self, "_requests_by_id", held)
        try:
            return held[1][request_id]
        except KeyError:
            raise KeyError(request_id) from None

    def _links(self) -> tuple[tuple[tuple[Request, Request], ...], dict[str, str]]:
        """(outbound, return) pairs in the order of the returns, and each half's partner id;
        built on first use for this very tuple of requests."""
        held: _Links | None = self.__dict__.get("_links_held")
        if held is None or held[0] is not self.requests:
            byid = {r.id: r for r in self.requests}
            pairs = tuple(
                (byid[r.return_of], r)
                for r in self.requests
                if r.return_of is not None and r.return_of in byid
            )
            partner = {o.id: r.id for o, r in pairs}
            partner.update({r.id: o.id for o, r in pairs})
            held = (self.requests, pairs, partner)
            object.__setattr__(self, "_links_held", held)
        return held[1], held[2]

    def linked_pairs(self) -> tuple[tuple[Request, Request], ...]:
        """The linked trips of the problem: (outbound, return) for each return trip."""
        return self._links()[0]

    def partner_id(self, request_id: str) -> str | None:
        """The other half of a linked trip (the return of an outbound, the outbound of a
        return), or None."""
        return self._links()[1].get(request_id)

    def with_requests(self, requests: Sequence[Request], new: Iterable[str] = ()) -> Problem:
        """This problem with ``requests`` instead of its own. Only the requests whose id is in
        ``new`` are validated in full (the others come from a problem with the same places and
        rules); ids must be unique and return links hold (:meth:`check_link`; the return's window
        is checked for the pairs with a request in ``new``)."""
        requests = tuple(requests)
        ids: set[str] = set()
        for k, r in enumerate(requests):
            _check(r.id not in ids, f"requests[{k}].id", f"duplicate request id {r.id!r}")
            ids.add(r.id)
        check = set(new)
        for k, r in enumerate(requests):
            if r.id in check:
                self.check_request(r, f"requests[{k}]")
        self._check_links(requests, check)
        out = copy.copy(self)
        object.__setattr__(out, "requests", requests)
        return out

    def vehicle(self, vehicle_id: str) -> Vehicle:
        for v in self.vehicles:
            if v.id == vehicle_id:
                return v
        raise KeyError(vehicle_id)

    def travel_s(self, a: str, b: str) -> int:
        return int(self.duration_s[self.index(a)][self.index(b)])

    def travel_m(self, a: str, b: str) -> int:
        return int(self.distance_m[self.index(a)][self.index(b)])

    # ---- per-request rules (one place for the defaults) -----------------------------------
    def boarding_s(self, r: Request) -> int:
        return self.rules.boarding_s if r.boarding_s is None else r.boarding_s

    def alighting_s(self, r: Request) -> int:
        return self.rules.alighting_s if r.alighting_s is None else r.alighting_s

    def direct_s(self, r: Request) -> int:
        return self.travel_s(r.pickup, r.dropoff)

    def max_ride_s(self, r: Request) -> int:
        """Longest allowed ride (end of boarding to start of alighting)."""
        return self.rules.max_ride_s(self.direct_s(r)) if r.max_ride_s is None else r.max_ride_s

    def may_carry(self, v: Vehicle, r: Request) -> str | None:
        """Why vehicle ``v`` may not carry request ``r`` whatever the times (None if it may):
        a rider refusing carpools on a carpool driver, a place outside the driver's meeting
        points, or a place farther than ``max_km_from_home`` by road from a volunteer's home."""
        if v.kind == "carpool" and not r.accepts_carpool:
            return "the rider does not accept a carpool"
        for kind, place in (("pickup", r.pickup), ("dropoff", r.dropoff)):
            if v.allowed_stops and place not in v.allowed_stops:
                return f"the {kind} {place} is not one of the driver's meeting points"
            if v.home is not None and v.max_km_from_home is not None:
                km = max(self.travel_m(v.home, place), self.travel_m(place, v.home)) / 1000.0
                if km > v.max_km_from_home:
                    limit = f"max {v.max_km_from_home:g} km"
                    return f"the {kind} {place} is {km:.1f} km from the driver's home ({limit})"
        return None

    def not_before_s(self, r: Request) -> int:
        """Earliest arrival for an appointment: its own ``not_before``, else the service's
        window."""
        assert r.arrive_by_s is not None
        if r.not_before_s is not None:
            return r.not_before_s
        return max(0, r.arrive_by_s - self.rules.appointment_window_s)

    def pickup_tw(self, r: Request) -> TimeWindow:
        """Window for the start of service at the pickup: the desired window, narrowed by the
        appointment if there is one (derived from it alone otherwise)."""
        direct, board, ride = self.direct_s(r), self.boarding_s(r), self.max_ride_s(r)
        lo, hi = (
            (r.pickup_window.start_s, r.pickup_window.end_s) if r.pickup_window else (0, DAY_S * 2)
        )
        if r.arrive_by_s is not None:
            lo = max(lo, self.not_before_s(r) - board - ride)
            hi = min(hi, r.arrive_by_s - board - direct)
        return TimeWindow(max(0, lo), max(0, hi))

    def dropoff_tw(self, r: Request) -> TimeWindow:
        """Window for the start of service at the drop-off: the appointment, narrowed by the
        pickup window and the ride-time rule if there is one (derived from them otherwise)."""
        board = self.boarding_s(r)
        lo, hi = (
            (self.not_before_s(r), r.arrive_by_s) if r.arrive_by_s is not None else (0, DAY_S * 2)
        )
        if r.pickup_window is not None:
            lo = max(lo, r.pickup_window.start_s + board + self.direct_s(r))
            hi = min(hi, r.pickup_window.end_s + board + self.max_ride_s(r))
        return TimeWindow(lo, hi)


# --------------------------------------------------------------------------------------------
# The plan
# --------------------------------------------------------------------------------------------


class Reason(enum.StrEnum):
    """Why a request was refused. Each is established by checking the request alone against
    every vehicle (``dispatcher.solver.explain``), except DISPLACED, which means it was
    feasible alone but not together with the others, and LINKED_TRIP_REFUSED: one half of a
    linked trip (an outbound and its return), feasible alone, refused because the other half
    is not."""

    OUTSIDE_SERVICE_HOURS = "outside_service_hours"
    GROUP_TOO_LARGE = "group_too_large"
    NO_COMPATIBLE_VEHICLE = "no_compatible_vehicle"
    NO_ROAD = "no_road"
    RIDE_TIME_RULE = "ride_time_rule"
    PICKUP_UNREACHABLE = "pickup_unreachable"
    SHIFT_TOO_SHORT = "shift_too_short"
    DUTY_LIMIT = "duty_limit"  # the drivers' duty limits (max duty, continuous driving)
    DISPLACED = "displaced"
    BOOKING_CLOSED = (
        "booking_closed"  # the service's booking rules refuse it (cut-off, calendar, hours)
    )
    LINKED_TRIP_REFUSED = "linked_trip_refused"  # its outbound (or return) is refused


REASON_MESSAGES: dict[Reason, dict[str, str]] = {
    Reason.OUTSIDE_SERVICE_HOURS: {
        "fr": "Demande en dehors des heures de service.",
        "en": "Request outside the service hours.",
    },
    Reason.GROUP_TOO_LARGE: {
        "fr": "Groupe plus grand que la capacité de tout véhicule.",
        "en": "Group larger than the capacity of any vehicle.",
    },
    Reason.NO_COMPATIBLE_VEHICLE: {
        "fr": "Aucun véhicule adapté (fauteuil roulant) en service à cette heure.",
        "en": "No compatible vehicle (wheelchair) on duty at that time.",
    },
    Reason.NO_ROAD: {
        "fr": "Aucun itinéraire routier entre ces lieux.",
        "en": "No road route between these places.",
    },
    Reason.RIDE_TIME_RULE: {
        "fr": "La règle de durée maximale de trajet ne peut pas être tenue, même seul à bord.",
        "en": "The maximum ride time rule cannot hold, even riding alone.",
    },
    Reason.PICKUP_UNREACHABLE: {
        "fr": "Aucun véhicule ne peut atteindre le lieu de prise en charge dans le créneau "
        "demandé.",
        "en": "No vehicle can reach the pickup within the requested window.",
    },
    Reason.SHIFT_TOO_SHORT: {
        "fr": "Aucun service de conducteur ne couvre ce trajet (fin de service trop tôt).",
        "en": "No driver's shift covers this trip (shift ends too early).",
    },
    Reason.DUTY_LIMIT: {
        "fr": "La durée maximale de service ou de conduite continue des conducteurs ne permet pas "
        "ce trajet, même seul à bord.",
        "en": "The drivers' maximum duty or continuous driving time does not allow this trip, "
        "even riding alone.",
    },
    Reason.DISPLACED: {
        "fr": "Réalisable seul, mais pas avec les autres réservations de la journée.",
        "en": "Feasible alone, but not together with the other bookings of the day.",
    },
    Reason.BOOKING_CLOSED: {
        "fr": "Réservation impossible selon les règles du service (délai, calendrier ou horaires).",
        "en": "Booking not allowed by the service's rules (notice, calendar or hours).",
    },
    Reason.LINKED_TRIP_REFUSED: {
        "fr": "Réalisable seul, mais le trajet lié (aller ou retour) ne peut pas être assuré.",
        "en": "Feasible alone, but its linked trip (outbound or return) cannot be served.",
    },
}


@dataclass(frozen=True)
class Visit:
    """One stop of a route. ``seats``/``wheelchairs`` are the load after the visit;
    ``ride_time_s`` is set on drop-offs."""

    request_id: str
    kind: Literal["pickup", "dropoff"]
    location_id: str
    arrival_s: int
    start_s: int
    departure_s: int
    seats: int
    wheelchairs: int
    ride_time_s: int | None = None


@dataclass(frozen=True)
class BreakTaken:
    """A break taken on a route: it starts at ``start_s`` after visit number ``after`` of the
    route (-1: before the first visit, i.e. at or after leaving the start depot)."""

    start_s: int
    duration_s: int
    after: int


@dataclass(frozen=True)
class Route:
    """The day of one vehicle: leaves its start depot at ``start_s``, visits, returns at
    ``end_s``."""

    vehicle_id: str
    start_s: int
    end_s: int
    visits: tuple[Visit, ...]
    breaks: tuple[BreakTaken, ...] = ()
    distance_m: int = 0
    mode: str = (
        ""  # "minibus", "volunteer" or "carpool" when the planner states it (empty: not stated)
    )


@dataclass(frozen=True)
class Rejection:
    request_id: str
    reason: Reason
    message: str  # French, for operators
    message_en: str = ""
    details: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class KPIs:
    requests: int = 0
    served: int = 0
    refused: int = 0
    passengers_served: int = 0
    vehicles_used: int = 0
    vehicle_km: float = 0.0
    vehicle_hours: float = 0.0
    empty_km: float = 0.0
    mean_occupancy: float = 0.0  # passenger-km / vehicle-km
    mean_ride_min: float = 0.0
    max_ride_min: float = 0.0
    mean_detour: float = 0.0  # mean of ride time / direct time
    co2_kg: float = 0.0
    cost_eur: float = 0.0
    mode_share: Mapping[str, float] = field(
        default_factory=dict
    )  # share of served requests per mode
    car_km_avoided: float = (
        0.0  # riders' direct km (each driving alone) minus the km driven for them
    )
    co2_saved_kg: float = (
        0.0  # CO2 of each rider driving alone minus the CO2 of the km driven for them
    )
    linked_pairs_served: int = 0  # linked trips (outbound and return) served both
    linked_pairs_refused: int = 0  # linked trips refused both


class SolveStatus(enum.StrEnum):
    """The outcome of a search, one of a handful. How the engine got there, in its own words
    (OR-Tools' status, the heuristic whose plan won, the ALNS layer, ...), is
    ``SolverStats.status_detail``."""

    SOLVED = "solved"  # a plan, not proven optimal (the usual outcome under a time limit)
    OPTIMAL = "optimal"  # a plan the engine proved optimal for its model
    INFEASIBLE = "infeasible"  # the engine's best plan breaks a constraint of its model
    NO_PLAN = "no_plan"  # the search found no plan: every request it modelled is refused
    NO_REQUESTS = "no_requests"  # nothing to plan
    NO_VEHICLES = "no_vehicles"  # no vehicle can work (its breaks do not fit in its shift)
    NOTHING_FEASIBLE = "nothing_feasible"  # no request can be served, even alone
    UNKNOWN = "unknown"  # no search stated an outcome (a plan built booking by booking)


# How the statuses written before SolveStatus began (one string: the engine's status with what
# happened around it glued on, e.g. "ALNS_ROUTING_SUCCESS_PATH_CHEAPEST_ARC_RETIMED") map to it.
_LEGACY_STATUS: tuple[tuple[str, SolveStatus], ...] = (
    ("ROUTING_OPTIMAL", SolveStatus.OPTIMAL),
    ("ROUTING_SUCCESS", SolveStatus.SOLVED),
    ("ROUTING_PARTIAL_SUCCESS", SolveStatus.SOLVED),
    ("ROUTING_", SolveStatus.NO_PLAN),  # NOT_SOLVED, FAIL, FAIL_TIMEOUT, INVALID, INFEASIBLE
    ("STATUS_", SolveStatus.NO_PLAN),  # a code OR-Tools had no name for
    ("OPTIMAL", SolveStatus.OPTIMAL),  # the carpool matcher's integer programme
    ("FEASIBLE", SolveStatus.SOLVED),
    ("INFEASIBLE", SolveStatus.INFEASIBLE),  # PyVRP
    ("SOLVED", SolveStatus.SOLVED),  # VROOM
    ("UNASSIGNED_", SolveStatus.SOLVED),
    ("NO_REQUESTS", SolveStatus.NO_REQUESTS),
    ("NO_VEHICLES", SolveStatus.NO_VEHICLES),
    ("NOTHING_FEASIBLE", SolveStatus.NOTHING_FEASIBLE),
)


def status_from_text(text: str) -> tuple[SolveStatus, str]:
    """``(status, status_detail)`` from a status as a plan file holds it: a value of
    :class:`SolveStatus` (detail empty), or a status string written before the enum (mapped by
    the engine status inside it; the whole string becomes the detail, except for the plain
    names "NO_REQUESTS", "NO_VEHICLES" and "NOTHING_FEASIBLE"). Empty or unknown: UNKNOWN."""
    text = text.strip()
    try:
        return SolveStatus(text), ""
    except ValueError:
        pass
    if text in ("NO_REQUESTS", "NO_VEHICLES", "NOTHING_FEASIBLE"):
        return SolveStatus[text], ""
    core = text
    if core.startswith("CARPOOL_") and "+" in core:
        # the staged mixed dispatch: "CARPOOL_<matcher>+<the routing of the rest>"
        rest, _ = status_from_text(core.split("+", 1)[1])
        done = (SolveStatus.SOLVED, SolveStatus.OPTIMAL, SolveStatus.NO_REQUESTS)
        return (SolveStatus.SOLVED if rest in done else rest), text
    refined = core.startswith("ALNS_")
    core = core.removeprefix("ALNS_")
    for prefix, status in _LEGACY_STATUS:
        if core.startswith(prefix):
            if refined and status is SolveStatus.OPTIMAL:
                status = SolveStatus.SOLVED
            return status, text
    return SolveStatus.UNKNOWN, text


@dataclass(frozen=True)
class SolverStats:
    """What the search did: its outcome (``status``), the same in the engine's words
    (``status_detail``, free text), the objective in euros and the times."""

    status: SolveStatus = SolveStatus.UNKNOWN
    status_detail: str = ""
    objective: float = 0.0
    first_solution_s: float | None = None
    total_s: float = 0.0
    solver: str = "ortools"

    def __post_init__(self) -> None:
        if not isinstance(self.status, SolveStatus):
            try:
                object.__setattr__(self, "status", SolveStatus(self.status))
            except ValueError:
                known = ", ".join(s.value for s in SolveStatus)
                message = f"must be one of {known}, got {self.status!r}"
                raise InputError(message, "stats.status") from None
        _check(isinstance(self.status_detail, str), "stats.status_detail", "must be a string")


@dataclass(frozen=True)
class Plan:
    routes: tuple[Route, ...]
    rejections: tuple[Rejection, ...] = ()
    kpis: KPIs = KPIs()
    stats: SolverStats = SolverStats()

    def route(self, vehicle_id: str) -> Route | None:
        for r in self.routes:
            if r.vehicle_id == vehicle_id:
                return r
        return None

    @property
    def served_ids(self) -> list[str]:
        return [v.request_id for r in self.routes for v in r.visits if v.kind == "pickup"]

    @property
    def refused_ids(self) -> list[str]:
        return [j.request_id for j in self.rejections]
