"""The domain module: the one seconds -> HH:MM formatter."""

from __future__ import annotations

from dispatcher.model import hhmm


def test_hhmm() -> None:
    assert hhmm(8 * 3600 + 5 * 60) == "08:05"
    assert hhmm(8 * 3600 + 5 * 60 + 7) == "08:05:07"
    assert hhmm(8 * 3600, with_seconds=True) == "08:00:00"
    assert hhmm(25 * 3600 + 30 * 60) == "25:30"  # the next day, hours go on
    assert hhmm(-61) == "-00:01:01"
