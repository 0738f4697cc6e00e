"""Opening a CSV as French Excel does (Windows, French locale), for the tests of every output CSV.

French Excel opens a ``.csv`` by double click with the locale's list separator (``;``) and
decimal mark (``,``), and reads it as UTF-8 only when the file starts with the BOM (else as
Windows-1252: "Méaulte" becomes "MÃ©aulte"). A number written with a decimal point is read as
text (or as a date: "1.5" becomes 1 May)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

_POINT_NUMBER = re.compile(r"^-?\d+\.\d+$")


def open_as_french_excel(data: bytes | Path) -> list[dict[str, str]]:
    """The rows (by header) of a CSV as French Excel shows them; fails where Excel would show
    one column, broken accents or numbers as text."""
    raw = data.read_bytes() if isinstance(data, Path) else data
    assert raw.startswith(b"\xef\xbb\xbf"), "no BOM: French Excel would read it as Windows-1252"
    text = raw[3:].decode("utf-8")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    assert rows and len(rows[0]) > 1, f"French Excel would show one column: {rows[:1]}"
    width = len(rows[0])
    for k, row in enumerate(rows[1:], start=2):
        assert len(row) == width, f"line {k}: {len(row)} cells under {width} headers"
        for cell in row:
            assert not _POINT_NUMBER.match(cell), f"line {k}: {cell!r} has a decimal point"
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
