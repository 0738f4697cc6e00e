"""The service configuration: one TOML file that says what the on-demand service is.

Territory (the intercommunalities served), service hours per weekday, calendar (French public
holidays, computed, and closures listed in the file), booking rules (cut-off the day before,
same-day notice, days ahead), the width of a promised pickup window, the agency's name and
contact, the time zone, and the fare rules (``[fares]``: the rules, or ``file = "..."`` naming
a fare file beside it; none: the embedded Pays du Coquelicot rules). ``dispatcher plan``,
``demo``, ``scenario run``, the reports (``report gtfs-flex``, its GTFS-Fares too) and the API
all read the same one: the file
given with ``--service FILE`` (the API: setting ``service``), else ``$DISPATCHER_SERVICE``, else
the embedded default of the Pays du Coquelicot (``dispatcher/data/service/coquelicot.toml``).

>>> svc = load_service()
>>> svc.territory
('coquelicot',)
>>> svc.closed_reason(date(2027, 3, 29))      # Easter Monday 2027
('public_holiday', 'lundi de Pâques')

Every error names the file, the line and the key, e.g.
``service.toml, line 12, hours.monday: must be HH:MM-HH:MM, got '7h-19h'``. A day outside the
calendar raises :class:`~dispatcher.errors.NoServiceError` naming the day and why.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dispatcher.errors import InputError, NoServiceError
from dispatcher.fares.rules import FareRules, fare_rules_from_table, load_fare_rules
from dispatcher.model import ServiceRules, TimeWindow

SERVICE_ENV = "DISPATCHER_SERVICE"
DEFAULT_SERVICE = Path(__file__).resolve().parent / "data" / "service" / "coquelicot.toml"
WEEKDAY_KEYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEEKDAYS_FR = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")

# table -> its keys (every key is optional unless listed in _REQUIRED)
KEYS: dict[str, tuple[str, ...]] = {
    "service": ("name", "short_name", "timezone", "territory", "promise_width_min"),
    "agency": ("name", "url", "phone", "email", "lang"),
    "hours": WEEKDAY_KEYS,
    "calendar": ("public_holidays", "closures"),
    "booking": ("cutoff_day_before", "same_day_notice_min", "max_days_ahead"),
    "fares": (),  # the fare rules (dispatcher.fares): checked by the fares module
}
_REQUIRED = {
    "service": ("name", "territory"),
    "agency": ("name", "url", "phone"),
    "hours": (),
}
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_URL = re.compile(r"^https?://[^\s/]+\.[^\s]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.I)


# --------------------------------------------------------------------------------------------
# Public holidays of France
# --------------------------------------------------------------------------------------------


def easter(year: int) -> date:
    """Easter Sunday of ``year`` (Gregorian calendar; the anonymous algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    ll = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ll) // 451
    month, day = divmod(h + ll - 7 * m + 114, 31)
    return date(year, month, day + 1)


def french_public_holidays(year: int) -> dict[date, str]:
    """The eleven public holidays of France (code du travail, art. L3133-1), in French."""
    e = easter(year)
    return dict(
        sorted(
            {
                date(year, 1, 1): "jour de l'An",
                e + timedelta(days=1): "lundi de Pâques",
                date(year, 5, 1): "fête du Travail",
                date(year, 5, 8): "Victoire 1945",
                e + timedelta(days=39): "Ascension",
                e + timedelta(days=50): "lundi de Pentecôte",
                date(year, 7, 14): "fête nationale",
                date(year, 8, 15): "Assomption",
                date(year, 11, 1): "Toussaint",
                date(year, 11, 11): "Armistice 1918",
                date(year, 12, 25): "Noël",
            }.items()
        )
    )


# --------------------------------------------------------------------------------------------
# The configuration
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Agency:
    name: str
    url: str
    phone: str
    email: str = ""
    lang: str = "fr"


@dataclass(frozen=True)
class ServiceConfig:
    """One on-demand service, as its configuration file says (see the module doc)."""

    name: str
    territory: tuple[str, ...]
    agency: Agency
    hours: Mapping[int, TimeWindow]  # weekday (0 = Monday) -> service hours; absent: no service
    short_name: str = ""
    timezone: str = "Europe/Paris"
    promise_width_s: int = 900
    public_holidays: str | None = "FR"
    closures: Mapping[date, str] = field(default_factory=dict)
    cutoff_day_before_s: int | None = 17 * 3600
    same_day_notice_s: int | None = None
    max_days_ahead: int = 14
    fares: FareRules = field(default_factory=lambda: load_fare_rules())
    source: str = ""

    # ---- the calendar ---------------------------------------------------------------------
    def holidays(self, year: int) -> dict[date, str]:
        return french_public_holidays(year) if self.public_holidays == "FR" else {}

    def closed_reason(self, day: date) -> tuple[str, str] | None:
        """Why ``day`` has no service: ("weekday" | "public_holiday" | "closure", label), or
        None when it is a service day."""
        if day in self.closures:
            return "closure", self.closures[day] or "fermeture"
        holiday = self.holidays(day.year).get(day)
        if holiday is not None:
            return "public_holiday", holiday
        if day.weekday() not in self.hours:
            return "weekday", f"pas de service le {WEEKDAYS_FR[day.weekday()]}"
        return None

    def check_day(self, day: date, where: str = "day") -> TimeWindow:
        """The service hours of ``day``; NoServiceError naming the day and why if it has none."""
        why = self.closed_reason(day)
        if why is None:
            return self.hours[day.weekday()]
        reason, label = why
        text = {
            "weekday": f"no service on {WEEKDAY_KEYS[day.weekday()].capitalize()}s ({label})",
            "public_holiday": f"a public holiday ({label}): no service",
            "closure": f"a closure of the service ({label})",
        }[reason]
        raise NoServiceError(
            f"{day.isoformat()} ({WEEKDAYS_FR[day.weekday()]}) is not a service day: {text} "
            f"(service configuration {Path(self.source).name if self.source else 'default'})",
            where,
            day=day.isoformat(),
            reason=reason,
        )

    def service_days(self, start: date, end: date) -> Iterator[date]:
        """Every service day from ``start`` to ``end`` (both included)."""
        d = start
        while d <= end:
            if self.closed_reason(d) is None:
                yield d
            d += timedelta(days=1)

    def no_service_days(self, start: date, end: date) -> dict[date, str]:
        """The days of an open weekday from ``start`` to ``end`` that have no service anyway
        (public holidays and closures), with their label."""
        out: dict[date, str] = {}
        d = start
        while d <= end:
            why = self.closed_reason(d)
            if why is not None and why[0] != "weekday":
                out[d] = why[1]
            d += timedelta(days=1)
        return out

    # ---- what the other parts read --------------------------------------------------------
    @property
    def hours_span(self) -> TimeWindow:
        """From the earliest opening to the latest closing over the week (for an undated plan)."""
        return TimeWindow(
            min(w.start_s for w in self.hours.values()), max(w.end_s for w in self.hours.values())
        )

    def hours_on(self, day: date | None, where: str = "day") -> TimeWindow:
        """The service hours of ``day`` (checked: NoServiceError on a closed day), or the
        week's span without a day."""
        return self.hours_span if day is None else self.check_day(day, where)

    def service_rules(
        self, day: date | None, base: ServiceRules | None = None, where: str = "day"
    ) -> ServiceRules:
        """``base`` (default rules) with the service hours of ``day`` (see :meth:`hours_on`)."""
        return replace(base or ServiceRules(), service_hours=self.hours_on(day, where))

    def booking_rules(
        self,
        cutoff_day_before_s: int | None | str = "config",
        same_day_notice_s: int | None | str = "config",
        max_days_ahead: int | None = None,
    ) -> Any:
        """The booking rules (``dispatcher.solver.live.BookingRules``) of the service, with the
        given values instead of the file's where they are not ``"config"`` / None."""
        from dispatcher.solver.live import BookingRules

        return BookingRules(
            cutoff_day_before_s=self.cutoff_day_before_s
            if cutoff_day_before_s == "config"
            else cutoff_day_before_s,  # type: ignore[arg-type]  # "config" handled above
            same_day_notice_s=self.same_day_notice_s
            if same_day_notice_s == "config"
            else same_day_notice_s,  # type: ignore[arg-type]  # "config" handled above
            weekdays=frozenset(self.hours),
            hours_by_weekday=dict(self.hours),
            max_days_ahead=self.max_days_ahead if max_days_ahead is None else max_days_ahead,
        )

    def booking_message(self) -> str:
        """How to book, in French, for riders (the GTFS-Flex booking message)."""
        parts = []
        if self.cutoff_day_before_s is not None:
            parts.append(f"la veille avant {_heure(self.cutoff_day_before_s)}")
        if self.same_day_notice_s is not None:
            parts.append(f"le jour même au moins {self.same_day_notice_s // 60} min avant")
        when = " ou ".join(parts) or "à l'avance"
        return (
            f"Réservation au {self.agency.phone} {when}, au plus {self.max_days_ahead} jours "
            "à l'avance."
        )


def _heure(s: int) -> str:
    h, m = divmod(s // 60, 60)
    return f"{h} h" if m == 0 else f"{h} h {m:02d}"


# --------------------------------------------------------------------------------------------
# Loading and validation
# --------------------------------------------------------------------------------------------


class _Where:
    """Names a key as the file, its line and the key (``file, line 12, hours.monday``)."""

    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.lines = text.splitlines()

    def line_of(self, table: str, key: str | None = None) -> int | None:
        table_at = None
        for n, raw in enumerate(self.lines, start=1):
            line = raw.strip()
            if re.match(rf"^\[\s*{re.escape(table)}\s*\]", line):
                table_at = n
                if key is None:
                    return n
                continue
            if line.startswith("["):
                if table_at is not None:
                    break
                continue
            if key is None:
                continue
            if table_at is not None and re.match(rf"^{re.escape(key)}\s*=", line):
                return n
            if re.match(rf"^{re.escape(table)}\s*\.\s*{re.escape(key)}\s*=", line):
                return n
        return table_at

    def __call__(self, table: str, key: str | None = None) -> str:
        n = self.line_of(table, key)
        at = f", line {n}" if n else ""
        return f"{self.source}{at}, {table}.{key}" if key else f"{self.source}{at}, [{table}]"


def _str(v: Any, where: str, *, empty: bool = False) -> str:
    if not isinstance(v, str) or (not empty and not v.strip()):
        raise InputError(f"must be a non-empty string, got {v!r}", where)
    return v.strip()


def _hhmm(v: Any, where: str) -> int:
    m = re.match(r"^\s*(\d{1,2}):(\d{2})\s*$", v) if isinstance(v, str) else None
    if m is None or int(m[1]) > 23 or int(m[2]) > 59:
        raise InputError(f"must be a time HH:MM, got {v!r}", where)
    return int(m[1]) * 3600 + int(m[2]) * 60


def _hours(v: Any, where: str) -> TimeWindow | None:
    if v is False or v == "":
        return None
    m = _HOURS.match(v) if isinstance(v, str) else None
    if m is None:
        raise InputError(f'must be HH:MM-HH:MM such as "07:00-19:00", or false, got {v!r}', where)
    a, b = int(m[1]) * 3600 + int(m[2]) * 60, int(m[3]) * 3600 + int(m[4]) * 60
    if int(m[2]) > 59 or int(m[4]) > 59 or a >= b or b > 24 * 3600:
        raise InputError(f"must start before it ends, within the day, got {v!r}", where)
    return TimeWindow(a, b)


def _int(v: Any, where: str, low: int = 0) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or v < low:
        raise InputError(f"must be an integer >= {low}, got {v!r}", where)
    return v


def _closures(v: Any, where: str) -> dict[date, str]:
    if not isinstance(v, list):
        raise InputError('must be a list of "YYYY-MM-DD" or "YYYY-MM-DD: reason"', where)
    out: dict[date, str] = {}
    for k, item in enumerate(v):
        w = f"{where}[{k}]"
        if isinstance(item, date):
            out[item] = ""
            continue
        if not isinstance(item, str):
            raise InputError(f'must be "YYYY-MM-DD" or "YYYY-MM-DD: reason", got {item!r}', w)
        day, _, why = item.partition(":")
        try:
            out[date.fromisoformat(day.strip())] = why.strip()
        except ValueError:
            raise InputError(f"not a date YYYY-MM-DD: {day.strip()!r}", w) from None
    return out


def _check_tables(data: Mapping[str, Any], at: _Where) -> None:
    for table, value in data.items():
        if table not in KEYS:
            raise InputError(f"unknown table (known: {', '.join(KEYS)})", at(table))
        if not isinstance(value, Mapping):
            raise InputError("must be a table", at(table))
        if table == "fares":
            continue
        for key in value:
            if key not in KEYS[table]:
                raise InputError(f"unknown key (known: {', '.join(KEYS[table])})", at(table, key))
    for table, keys in _REQUIRED.items():
        if table not in data:
            raise InputError(f"the table [{table}] is required", at.source)
        for key in keys:
            if key not in data[table]:
                raise InputError("is required", at(table, key))


def _territory(v: Any, where: str) -> tuple[str, ...]:
    from dispatcher.territory import Territory

    items = [v] if isinstance(v, str) else v
    if not isinstance(items, list) or not items:
        raise InputError(
            f'must be a list of intercommunality keys such as ["coquelicot"], got {v!r}', where
        )
    keys = tuple(_str(x, f"{where}[{k}]") for k, x in enumerate(items))
    try:
        Territory.load(keys)
    except InputError as e:
        raise InputError(e.message, where) from None
    return keys


def _agency(a: Mapping[str, Any], at: _Where) -> Agency:
    url = _str(a["url"], at("agency", "url"))
    if not _URL.match(url):
        raise InputError(f"must be a full URL (https://...), got {url!r}", at("agency", "url"))
    phone = _str(a["phone"], at("agency", "phone"))
    if not re.match(r"^\+?[\d\s.()-]{6,}$", phone):
        raise InputError(f"must be a phone number, got {phone!r}", at("agency", "phone"))
    email = _str(a.get("email", ""), at("agency", "email"), empty=True)
    if email and not _EMAIL.match(email):
        raise InputError(f"must be an e-mail address, got {email!r}", at("agency", "email"))
    lang = _str(a.get("lang", "fr"), at("agency", "lang"))
    return Agency(_str(a["name"], at("agency", "name")), url, phone, email, lang)


def _booking(b: Mapping[str, Any], at: _Where) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "cutoff_day_before" in b:
        v = b["cutoff_day_before"]
        out["cutoff_day_before_s"] = (
            None if v is False else _hhmm(v, at("booking", "cutoff_day_before"))
        )
    if "same_day_notice_min" in b:
        v = b["same_day_notice_min"]
        where = at("booking", "same_day_notice_min")
        out["same_day_notice_s"] = None if v is False else _int(v, where) * 60
    if "max_days_ahead" in b:
        out["max_days_ahead"] = _int(b["max_days_ahead"], at("booking", "max_days_ahead"))
    if out.get("cutoff_day_before_s", 17 * 3600) is None and out.get("same_day_notice_s") is None:
        raise InputError(
            "no way to book: give cutoff_day_before or same_day_notice_min", at("booking")
        )
    return out


def _fares(f: Mapping[str, Any], text: str, source: str) -> FareRules:
    """The fare rules of the ``[fares]`` table: none given, the embedded Pays du Coquelicot
    rules; ``file = "fares.toml"`` (beside the configuration), that file's; else the rules
    themselves, written as in a fare file (docs/fares.md)."""
    if not f:
        return load_fare_rules()
    if "file" in f:
        at = _Where(text, source)
        if len(f) > 1:
            raise InputError(
                'give either file = "fares.toml" or the fare rules, not both', at("fares")
            )
        name = _str(f["file"], at("fares", "file"))
        path = Path(name) if Path(name).is_absolute() else Path(source).parent / name
        return load_fare_rules(path)
    return fare_rules_from_table(f, text, source, prefix="fares")


def service_from_toml(text: str, source: str = "service.toml") -> ServiceConfig:
    """A ServiceConfig from the text of a configuration file (``source`` names it in errors)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"invalid TOML: {e}", source) from None
    at = _Where(text, source)
    _check_tables(data, at)
    s, cal = data["service"], data.get("calendar", {})
    tz = _str(s.get("timezone", "Europe/Paris"), at("service", "timezone"))
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"unknown time zone {tz!r}", at("service", "timezone")) from None
    hours = {}
    for k, key in enumerate(WEEKDAY_KEYS):
        if key in data["hours"]:
            w = _hours(data["hours"][key], at("hours", key))
            if w is not None:
                hours[k] = w
    if not hours:
        raise InputError("no service on any day: give the hours of at least one", at("hours"))
    holidays = cal.get("public_holidays", "FR")
    if holidays not in ("FR", False):
        raise InputError(
            f'must be "FR" (French public holidays) or false, got {holidays!r}',
            at("calendar", "public_holidays"),
        )
    width = _int(s.get("promise_width_min", 15), at("service", "promise_width_min"), 1)
    return ServiceConfig(
        name=_str(s["name"], at("service", "name")),
        short_name=_str(s.get("short_name", s["name"]), at("service", "short_name")),
        territory=_territory(s["territory"], at("service", "territory")),
        agency=_agency(data["agency"], at),
        hours=hours,
        timezone=tz,
        promise_width_s=width * 60,
        public_holidays=holidays or None,
        closures=_closures(cal.get("closures", []), at("calendar", "closures")),
        fares=_fares(data.get("fares", {}), text, source),
        source=source,
        **_booking(data.get("booking", {}), at),
    )


@lru_cache(maxsize=16)
def _load(path: Path, stamp: float) -> ServiceConfig:
    del stamp  # part of the cache key only: an edited file is read again
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read the service configuration: {e}", str(path)) from None
    return service_from_toml(text, str(path))


def service_path(path: str | Path | None = None) -> Path:
    """The configuration file: ``path``, else ``$DISPATCHER_SERVICE``, else the default."""
    if path is None or str(path) == "":
        env = os.environ.get(SERVICE_ENV)
        return Path(env) if env else DEFAULT_SERVICE
    return Path(path)


FARES_ENV = "DISPATCHER_FARES"  # no longer read: the fare rules are the configuration's


def load_service(path: str | Path | None = None) -> ServiceConfig:
    """The service configuration (see :func:`service_path`), read and validated."""
    if os.environ.get(FARES_ENV):
        raise InputError(
            "is no longer read: the fare rules are in the service configuration "
            '([fares] file = "fares.toml", or the rules themselves; docs/fares.md)',
            f"${FARES_ENV}",
        )
    p = service_path(path)
    try:
        stamp = p.stat().st_mtime
    except OSError:
        where = f"{p} (from ${SERVICE_ENV})" if path is None and os.environ.get(SERVICE_ENV) else p
        raise InputError("service configuration file not found", str(where)) from None
    return _load(p.resolve(), stamp)


__all__ = [
    "DEFAULT_SERVICE",
    "SERVICE_ENV",
    "Agency",
    "ServiceConfig",
    "easter",
    "french_public_holidays",
    "load_service",
    "service_from_toml",
    "service_path",
]
