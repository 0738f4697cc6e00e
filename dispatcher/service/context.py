"""What every use case depends on, made explicit: the settings, the store, the clock, the
territory and the road network, and what this process keeps in memory between calls.

The territory and the road network load on first use (a few seconds); tests and other hosts
may pass their own. Nothing here knows HTTP.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from dispatcher.fares import FareRules
from dispatcher.fares.plan import ZoneOf
from dispatcher.fares.zones import territory_zones
from dispatcher.graph import RoadNetwork
from dispatcher.graph.geocode import CachedGeocoder, Geocoder, geocoder_from_spec
from dispatcher.io.memo import Memo
from dispatcher.model import Plan, Problem
from dispatcher.service.settings import Settings
from dispatcher.solver.insertion import ScreenCache
from dispatcher.solver.live import BookingRules
from dispatcher.store import Store
from dispatcher.territory import Territory

DAYS_KEPT = 14  # days whose live state, write memo and route screens a process keeps in memory


class Clock(Protocol):
    """The current local time of the service (its time zone)."""

    def now(self) -> datetime: ...


@dataclass(frozen=True)
class SystemClock:
    timezone: str = "Europe/Paris"

    def now(self) -> datetime:
        return datetime.now(ZoneInfo(self.timezone))


@dataclass(frozen=True)
class FixedClock:
    """A clock that says ``at`` (timezone-aware): for tests and replays."""

    at: datetime

    def now(self) -> datetime:
        return self.at


@dataclass(frozen=True)
class Held:
    """A day's live state as committed at ``version``, held in this process's memory: the plan,
    the live problem, and the accepted request dicts in the store's order (None: read them)."""

    version: int
    plan: Plan
    problem: Problem
    accepted: list[dict[str, Any]] | None = None


def per_day(held: dict[date, Any], day: date, make: Callable[[], Any]) -> Any:
    """``held[day]``, made on first use; the oldest day is let go beyond ``DAYS_KEPT`` (a server
    runs for months: what helps the next booking of a day need not outlive the day)."""
    got = held.get(day)
    if got is None:
        got = held[day] = make()
        while len(held) > DAYS_KEPT:
            del held[next(iter(held))]
    return got


Drawn = tuple[int, dict[str, Any], dict[str, str], dict[str, Any]]
"""A day's GeoJSON as built: (version, GeoJSON, private drivers' ids -> kind, request id ->
phone number, for the access log)."""


@dataclass
class Memory:
    """What this process holds between calls, per day: the live (plan, problem) at the version
    that stored it, the write memo, the route screens and the GeoJSON view. Safe to lose: every
    entry is checked against the stored version before use."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    days: dict[date, Held] = field(default_factory=dict)
    memos: dict[date, Memo] = field(default_factory=dict)
    screens: dict[date, ScreenCache] = field(default_factory=dict)
    # the GeoJSON drawn to the door, and drawn between communes (for who may not see places)
    geojson: dict[date, Drawn] = field(default_factory=dict)
    geojson_coarse: dict[date, Drawn] = field(default_factory=dict)
    geojson_build: threading.Lock = field(default_factory=threading.Lock)

    def held(self, day: date, version: int) -> Held | None:
        with self.lock:
            got = self.days.get(day)
        return got if got is not None and got.version == version else None

    def recall(self, day: date, version: int) -> tuple[Plan, Problem] | None:
        """The day's live (plan, problem) held in memory, if it is the one stored at ``version``."""
        got = self.held(day, version)
        return None if got is None else (got.plan, got.problem)

    def remember(self, held: Held, day: date) -> None:
        """Hold the day's live state committed at ``held.version`` (call after the commit)."""
        with self.lock:
            got = self.days.get(day)
            if got is None or got.version < held.version:
                self.days.pop(day, None)  # re-inserted last: the most recently used day
                self.days[day] = held
                while len(self.days) > DAYS_KEPT:
                    del self.days[next(iter(self.days))]

    def forget(self, day: date) -> None:
        """Let go of everything held about ``day`` (its stored personal data was rewritten)."""
        with self.lock:
            for held in (self.days, self.memos, self.screens, self.geojson, self.geojson_coarse):
                held.pop(day, None)

    def screens_of(self, day: date) -> ScreenCache:
        """The day's route screens, reused by its next booking (under the day's lock)."""
        with self.lock:
            return per_day(self.screens, day, ScreenCache)  # type: ignore[no-any-return]  # per_day keeps what make() gives

    def memo_of(self, day: date) -> Memo:
        """What writing the day's live plan and problem reuses from the last write."""
        with self.lock:
            return per_day(self.memos, day, Memo)  # type: ignore[no-any-return]  # per_day keeps what make() gives


class Context:
    """The explicit dependencies of the use cases. ``territory`` and ``network`` load on first
    use unless given."""

    def __init__(
        self,
        settings: Settings,
        store: Store | None = None,
        clock: Clock | None = None,
        territory: Territory | None = None,
        network: RoadNetwork | None = None,
    ) -> None:
        self.settings = settings
        self.service = settings.service_config()  # read and checked now: a bad file stops here
        self.tz = settings.timezone or self.service.timezone
        self.store = (
            store
            if store is not None
            else Store(settings.resolved_database_url(), migrate=settings.migrate_on_start)
        )
        self.clock: Clock = clock if clock is not None else SystemClock(self.tz)
        self.memory = Memory()
        if territory is not None:
            self.__dict__["territory"] = territory
        if network is not None:
            self.__dict__["network"] = network

    @cached_property
    def territory(self) -> Territory:
        """The settings' intercommunalities if given, else the service configuration's."""
        if self.settings.territory:
            return Territory.load([k.strip() for k in self.settings.territory.split(",")])
        return Territory.load(self.service.territory)

    @cached_property
    def geocoder(self) -> Geocoder:
        """Postal addresses as places (``Settings.geocoder``: offline by default), each address
        asked once."""
        spec = self.settings.geocoder
        return CachedGeocoder(geocoder_from_spec(spec or "offline", self.network, self.territory))

    @cached_property
    def booking_rules(self) -> BookingRules:
        return self.settings.booking_rules(self.service)

    @cached_property
    def network(self) -> RoadNetwork:
        return RoadNetwork.default()

    @property
    def fares(self) -> FareRules:
        """The fare rules: the service configuration's ``[fares]`` (docs/fares.md)."""
        return self.service.fares

    @cached_property
    def ticket_key(self) -> bytes:
        """The key that signs tickets (``Settings.ticket_secret``)."""
        return self.settings.ticket_secret()

    @cached_property
    def zone_of(self) -> ZoneOf:
        """A location id -> its fare zone (intercommunality) on the server's territory."""
        return territory_zones(self.territory)

    def now_local(self) -> datetime:
        return self.clock.now()

    def now_s(self, day: date) -> int | None:
        """The clock in seconds since midnight of ``day`` (service time zone) when ``day`` is
        today; None for a future day (nothing is done yet)."""
        now = self.now_local()
        if day != now.date():
            return None
        return now.hour * 3600 + now.minute * 60 + now.second
