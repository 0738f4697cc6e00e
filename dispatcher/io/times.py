"""Times at the edges: seconds since midnight in, local ISO 8601 (or plain seconds) out.

Inside the model every time is integer seconds since midnight of the service day. Here they
become local times: ISO 8601 with the offset of the service's time zone
(``2026-12-01T08:30:00+01:00``) when the problem has a day, plain integer seconds otherwise
(benchmark instances). On input a time may be given as ISO 8601 (on the service day), as
``HH:MM`` or ``HH:MM:SS``, or as integer seconds.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dispatcher.errors import InputError
from dispatcher.model import DAY_S, DEFAULT_TIMEZONE, TimeWindow

_HHMM = re.compile(r"^\s*(\d{1,2})[:hH](\d{2})(?::(\d{2}))?\s*$")


@functools.lru_cache(maxsize=1 << 16)
def format_time(seconds: int, day: date | None, tz: str = DEFAULT_TIMEZONE) -> str | int:
    """Seconds since midnight -> ISO 8601 local time with offset (the int itself without a day).
    Remembered: a day's plan is written again after every booking, with mostly the same times."""
    if day is None:
        return int(seconds)
    midnight = datetime.combine(day, time(0), tzinfo=ZoneInfo(tz))
    # Wall-clock arithmetic: seconds since local midnight, as operators read them.
    wall = midnight.replace(tzinfo=None) + timedelta(seconds=int(seconds))
    return wall.replace(tzinfo=ZoneInfo(tz)).isoformat()


def parse_time(value: Any, where: str, day: date | None = None, tz: str = DEFAULT_TIMEZONE) -> int:
    """A time given as int seconds, ``HH:MM[:SS]`` or ISO 8601 -> seconds since midnight."""
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
        raise InputError(
            f"not a time (use HH:MM or ISO 8601 such as 2026-12-01T08:30:00+01:00): {value!r}",
            where,
        ) from None
    zone = ZoneInfo(tz)
    if dt.tzinfo is None:  # a local time without its offset is ambiguous twice a year
        hint = dt.replace(tzinfo=zone).isoformat()
        raise InputError(f"{value!r} has no UTC offset; write {hint!r}, or HH:MM", where)
    dt = dt.astimezone(zone)
    if day is None:
        raise InputError(
            "a date-time needs a service day; give the problem a 'day' or use HH:MM", where
        )
    offset_days = (dt.date() - day).days
    if offset_days not in (0, 1):
        raise InputError(f"{value!r} is not on the service day {day.isoformat()}", where)
    return offset_days * DAY_S + dt.hour * 3600 + dt.minute * 60 + dt.second


def parse_day(value: Any, where: str = "day") -> date | None:
    """A service day as ``YYYY-MM-DD`` (None or empty: no day)."""
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InputError(f"not a date (YYYY-MM-DD): {value!r}", where) from None


def parse_window(value: Any, where: str, day: date | None, tz: str) -> TimeWindow:
    """A window given as ``{"start": .., "end": ..}`` or ``[start, end]``, validated."""
    if isinstance(value, Mapping):
        if "start" not in value or "end" not in value:
            raise InputError("a window needs 'start' and 'end'", where)
        a, b = value["start"], value["end"]
    elif isinstance(value, (list, tuple)) and len(value) == 2:
        a, b = value
    else:
        raise InputError(
            f"a window is {{'start': .., 'end': ..}} or [start, end], got {value!r}", where
        )
    w = TimeWindow(parse_time(a, f"{where}.start", day, tz), parse_time(b, f"{where}.end", day, tz))
    w.validate(where)
    return w


def format_window(w: TimeWindow, day: date | None, tz: str) -> dict[str, Any]:
    """A window as ``{"start": .., "end": ..}`` in local times."""
    return {"start": format_time(w.start_s, day, tz), "end": format_time(w.end_s, day, tz)}
