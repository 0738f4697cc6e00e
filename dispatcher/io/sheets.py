"""Spreadsheet files: CSV read whatever a spreadsheet saved, written for whoever opens it.

Reading: UTF-8 (with or without the BOM Excel adds) or Windows-1252 (what French Excel saves as
"CSV (séparateur : point-virgule)"), detected; the separator (``;``, ``,`` or tab) is the one
the header line holds most of. A decimal comma in a number (``0,45``) reads as a decimal point
(see :func:`dispatcher.io.fields.get_field`).

Writing, in one of two styles (``--csv excel|machine`` on every command that writes a CSV):

* ``excel`` (the default, for a person): what French Excel opens in columns with its accents:
  ``;`` separated, UTF-8 with a BOM, headers in the reader's language, decimal comma;
* ``machine`` (for a program): ``,`` separated, UTF-8 without BOM, the field names as headers,
  decimal point.

The two styles hold the same values in the same units: a CSV is a file people type or read, so
its durations are minutes (a ``_min`` column, ``(min)`` in a French header), where the JSON
files hold seconds (``_s`` fields). See ``docs/schema.md``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from dispatcher.errors import InputError

CsvStyle = Literal["excel", "machine"]
CSV_STYLES: tuple[str, ...] = ("excel", "machine")
BOM = "\ufeff"
SEPARATORS = (";", ",", "\t")


def decode(raw: bytes, where: str) -> str:
    """The text of a spreadsheet's bytes: UTF-8 (BOM or not), else Windows-1252."""
    if raw.startswith(BOM.encode("utf-8")):
        try:
            return raw[3:].decode("utf-8")
        except UnicodeDecodeError as e:
            raise InputError(f"starts as UTF-8 but is not UTF-8 at byte {e.start}", where) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError as e:
        raise InputError(
            f"neither UTF-8 nor Windows-1252 (byte 0x{raw[e.start]:02x} at {e.start}); "
            "save it from the spreadsheet as CSV UTF-8",
            where,
        ) from None


def read_csv_text(path: str | Path) -> str:
    """A CSV file's text (encoding detected), or an InputError naming the file."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise InputError("file not found", str(p)) from None
    except OSError as e:
        raise InputError(f"cannot read: {e}", str(p)) from None
    return decode(raw, str(p))


def separator(text: str) -> str:
    """The separator the header line (outside quotes) holds most of; ``,`` when it holds none."""
    first = text.split("\n", 1)[0]
    counts = dict.fromkeys(SEPARATORS, 0)
    quoted = False
    for ch in first:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(SEPARATORS, key=lambda s: counts[s])
    return best if counts[best] else ","


def check_style(style: str, where: str = "--csv") -> CsvStyle:
    if style not in CSV_STYLES:
        raise InputError(f"must be {' or '.join(CSV_STYLES)}, got {style!r}", where)
    return style  # type: ignore[return-value]


def _cell(value: Any, style: CsvStyle) -> Any:
    if isinstance(value, float):  # numpy's too
        text = repr(round(float(value), 6))
        return text.replace(".", ",").removesuffix(",0") if style == "excel" else text
    if isinstance(value, bool):
        return ("oui" if value else "non") if style == "excel" else str(value).lower()
    return value


def table_text(
    header: Sequence[str], rows: Sequence[Sequence[Any]], style: CsvStyle = "excel"
) -> str:
    """A header and rows of cells as CSV text in ``style`` (the Excel text starts with the BOM)."""
    buf = io.StringIO()
    excel = style == "excel"
    w = csv.writer(buf, delimiter=";" if excel else ",", lineterminator="\r\n" if excel else "\n")
    w.writerow(header)
    for row in rows:
        w.writerow([_cell(v, style) for v in row])
    return (BOM if excel else "") + buf.getvalue()


def csv_text(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    style: CsvStyle = "excel",
    headers: Mapping[str, str] | None = None,
) -> str:
    """Rows (dicts by column key) as CSV text in ``style``; ``headers`` names the columns in
    the Excel style (a key without a name keeps its key)."""
    names = headers or {}
    header = [names.get(c, c) if style == "excel" else c for c in columns]
    return table_text(header, [[row.get(c, "") for c in columns] for row in rows], style)


def write_csv(
    path: str | Path,
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    style: CsvStyle = "excel",
    headers: Mapping[str, str] | None = None,
) -> Path:
    """Write :func:`csv_text` to ``path`` (folders made), atomically."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_bytes(csv_text(rows, columns, style, headers).encode("utf-8"))
    tmp.replace(p)
    return p
