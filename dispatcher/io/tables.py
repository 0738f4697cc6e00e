"""Lists of requests, vehicles, carpool offers and volunteers from files: CSV (operators live in
spreadsheets; see :mod:`dispatcher.io.sheets` for encodings and separators) or JSON. Rows become
dicts of the input vocabulary of :mod:`dispatcher.io.problem` and :mod:`dispatcher.io.mobility`,
each with its :class:`~dispatcher.io.fields.Origin` (file, line, column) for the errors.

Units: durations people type in a CSV are whole minutes (``*_min`` columns); the JSON files,
written and read by programs, hold seconds (``*_s`` fields).
"""

from __future__ import annotations

import csv
import io
import json
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from dispatcher.errors import InputError, Notice
from dispatcher.io.fields import ORIGIN, Origin, to_float
from dispatcher.io.files import read_json, read_text
from dispatcher.io.sheets import read_csv_text, separator

REQUEST_CSV_COLUMNS = (
    "id",
    "pickup",
    "dropoff",
    "seats",
    "wheelchairs",
    "pickup_from",
    "pickup_to",
    "arrive_by",
    "not_before",
    "priority",
    "return_of",
    "min_stay_min",
    "boarding_min",
    "alighting_min",
    "max_ride_min",
    "name",
    "phone",
    "rider_category",
    "fare_product",
)
REQUEST_MINUTES = {  # CSV columns in whole minutes -> the request's fields in seconds
    "min_stay_min": "min_stay_s",
    "boarding_min": "boarding_s",
    "alighting_min": "alighting_s",
    "max_ride_min": "max_ride_s",
}
# Columns of older files, in seconds: still read, with a note to rename them
REQUEST_SECONDS_DEPRECATED = {
    "boarding_s": "boarding_min",
    "alighting_s": "alighting_min",
    "max_ride_s": "max_ride_min",
    "min_stay_s": "min_stay_min",
}
# The CSV column of each field of a request or vehicle dict (for the errors)
REQUEST_COLUMNS_OF = {
    "pickup_window.start": "pickup_from",
    "pickup_window.end": "pickup_to",
    "pickup_window": "pickup_from",
    **{v: k for k, v in REQUEST_MINUTES.items()},
}
VEHICLE_COLUMNS_OF = {
    "shift.start": "shift_start",
    "shift.end": "shift_end",
    "shift": "shift_start",
    "breaks[0].window.start": "break_from",
    "breaks[0].window.end": "break_to",
    "breaks[0].window": "break_from",
    "breaks[0].duration_s": "break_min",
    "breaks[0]": "break_min",
    "max_duration_s": "max_duration_min",
    "max_driving_s": "max_driving_min",
    "driving_break_s": "driving_break_min",
}
FLEET_CSV_COLUMNS = (
    "id",
    "start",
    "end",
    "shift_start",
    "shift_end",
    "seats",
    "wheelchairs",
    "break_from",
    "break_to",
    "break_min",
    "cost_per_km",
    "cost_per_hour",
    "fixed_cost",
    "kind",
    "name",
    "phone",
    "max_duration_min",
    "max_driving_min",
    "driving_break_min",
)
FLEET_MINUTES = {  # CSV columns in whole minutes -> the vehicle's fields in seconds
    "max_duration_min": "max_duration_s",
    "max_driving_min": "max_driving_s",
    "driving_break_min": "driving_break_s",
}


def _minutes(row: Mapping[str, str], column: str, where: str) -> int:
    """A CSV duration in whole minutes (people type minutes), as seconds."""
    try:
        minutes = int(row[column])
    except ValueError:
        raise InputError(f"must be whole minutes, got {row[column]!r}", where) from None
    if minutes < 0:
        raise InputError(f"must be whole minutes, 0 or more, got {minutes}", where)
    return minutes * 60


def _read_csv(
    path: str | Path, known: Sequence[str] | None, required: Sequence[str]
) -> list[tuple[int, dict[str, str]]]:
    """(line, row) for each non-empty row; ``known`` None accepts any column."""
    p = Path(path)
    text = read_csv_text(p)
    reader = csv.DictReader(io.StringIO(text), delimiter=separator(text), strict=True)
    header = [h.strip() for h in (reader.fieldnames or [])]
    columns = ", ".join(known or header)
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(
            f"missing column(s) {', '.join(missing)}; columns are {columns}", f"{p}: line 1"
        )
    unknown = [c for c in header if known is not None and c not in known]
    if unknown:
        raise InputError(
            f"unknown column(s) {', '.join(unknown)}; columns are {columns}", f"{p}: line 1"
        )
    rows = []
    while True:
        line = reader.line_num + 1  # where the next record starts, as a spreadsheet counts
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            raise InputError(f"{e} (an unbalanced quote?)", f"{p}: line {line}") from None
        extra = row.get(None)  # DictReader files surplus cells under the key None
        if extra and any(str(x).strip() for x in extra):
            raise InputError(
                f"{len(extra)} cell(s) more than the {len(header)} columns of the header",
                f"{p}: line {line}",
            )
        clean = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
        if any(clean.values()):
            rows.append((line, clean))
    if not rows:
        raise InputError("no rows under the header", str(p))
    return rows


def read_rows(path: str | Path, required: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    """(line, row) of any CSV with the ``required`` columns (encoding and separator detected)."""
    return _read_csv(path, None, required)


def _deprecated_seconds(rows: Sequence[tuple[int, Mapping[str, str]]], path: str | Path) -> None:
    """Old files gave some durations in seconds: still read, with one note per column."""
    for column, instead in REQUEST_SECONDS_DEPRECATED.items():
        if any(row.get(column) for _, row in rows):
            message = f"column {column} (seconds) is deprecated: write {instead} (minutes)"
            warnings.warn(Notice(message, f"{path}: line 1"), stacklevel=3)


def requests_from_csv(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a requests CSV -> request dicts (the same vocabulary as JSON)."""
    out = []
    known = (*REQUEST_CSV_COLUMNS, *REQUEST_SECONDS_DEPRECATED)
    rows = _read_csv(path, known, ("id", "pickup", "dropoff"))
    _deprecated_seconds(rows, path)
    for line, row in rows:
        origin = Origin(str(path), line, columns=REQUEST_COLUMNS_OF)
        where = origin.where()
        d: dict[str, Any] = {k: row[k] for k in ("id", "pickup", "dropoff")}
        for k in (
            "seats",
            "wheelchairs",
            "priority",
            "return_of",
            "name",
            "phone",
            "arrive_by",
            "not_before",
            "rider_category",
            "fare_product",
        ):
            if row.get(k):
                d[k] = row[k]
        if row.get("pickup_from") or row.get("pickup_to"):
            if not (row.get("pickup_from") and row.get("pickup_to")):
                raise InputError("give both pickup_from and pickup_to", where)
            d["pickup_window"] = [row["pickup_from"], row["pickup_to"]]
        for column, name in REQUEST_MINUTES.items():
            if row.get(column):
                d[name] = _minutes(row, column, origin.where(name))
        for column, instead in REQUEST_SECONDS_DEPRECATED.items():
            if row.get(column):
                if row.get(instead):
                    message = f"give {instead} or the older {column}, not both"
                    raise InputError(message, origin.where(REQUEST_MINUTES[instead]))
                try:
                    d[REQUEST_MINUTES[instead]] = int(row[column])
                except ValueError:
                    message = f"{column} must be whole seconds, got {row[column]!r}"
                    raise InputError(message, f"{where}, column {column}") from None
        d[ORIGIN] = origin
        out.append(d)
    return out


def fleet_from_csv(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a fleet CSV -> vehicle dicts (the same vocabulary as JSON)."""
    out = []
    required = ("id", "start", "shift_start", "shift_end")
    for line, row in _read_csv(path, FLEET_CSV_COLUMNS, required):
        origin = Origin(str(path), line, columns=VEHICLE_COLUMNS_OF)
        where = origin.where()
        d: dict[str, Any] = {
            "id": row["id"],
            "start": row["start"],
            "shift": [row["shift_start"], row["shift_end"]],
        }
        for k in (
            "end",
            "seats",
            "wheelchairs",
            "cost_per_km",
            "cost_per_hour",
            "fixed_cost",
            "kind",
            "name",
            "phone",
        ):
            if row.get(k):
                d[k] = row[k]
        if row.get("break_from") or row.get("break_to") or row.get("break_min"):
            if not (row.get("break_from") and row.get("break_to") and row.get("break_min")):
                raise InputError("a break needs break_from, break_to and break_min", where)
            d["breaks"] = [
                {
                    "window": [row["break_from"], row["break_to"]],
                    "duration_s": _minutes(row, "break_min", origin.where("breaks[0].duration_s")),
                }
            ]
        for column, name in FLEET_MINUTES.items():
            if row.get(column):
                d[name] = _minutes(row, column, origin.where(name))
        d[ORIGIN] = origin
        out.append(d)
    return out


def strip_lines(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The rows without the ``_origin`` (file and line) the readers add."""
    return [{k: v for k, v in r.items() if k != ORIGIN} for r in rows]


def json_list_lines(text: str, key: str) -> list[int]:
    """The line (1-based) where each element of the document's list starts: the top-level
    list, or the list under ``key`` of the top-level object ([] when there is none)."""
    dec = json.JSONDecoder()
    n = len(text)

    def ws(i: int) -> int:
        while i < n and text[i] in " \t\r\n":
            i += 1
        return i

    def array(i: int) -> list[int]:
        out: list[int] = []
        i = ws(i + 1)
        while i < n and text[i] != "]":
            out.append(text.count("\n", 0, i) + 1)
            _, i = dec.raw_decode(text, i)
            i = ws(i)
            if i < n and text[i] == ",":
                i = ws(i + 1)
        return out

    i = ws(1 if text.startswith("\ufeff") else 0)
    if i < n and text[i] == "[":
        return array(i)
    if i >= n or text[i] != "{":
        return []
    i = ws(i + 1)
    while i < n and text[i] == '"':
        name, i = dec.raw_decode(text, i)
        i = ws(ws(i) + 1)  # the colon
        if name == key and i < n and text[i] == "[":
            return array(i)
        _, i = dec.raw_decode(text, i)
        i = ws(i)
        if i < n and text[i] == ",":
            i = ws(i + 1)
    return []


def _json_rows(path: str | Path, key: str) -> list[Any]:
    """A JSON list, or an object holding the list under ``key``, each row with its Origin."""
    data = read_json(path)
    listed = data.get(key) if isinstance(data, Mapping) else data
    if not isinstance(listed, list):
        raise InputError(f"expected a list of {key} (or an object with a '{key}' list)", str(path))
    lines = json_list_lines(read_text(path, encoding="utf-8-sig"), key)
    if len(lines) != len(listed):
        return listed
    return [
        {**row, ORIGIN: Origin(str(path), line, f"{key}[{k}]")} if isinstance(row, dict) else row
        for k, (row, line) in enumerate(zip(listed, lines, strict=True))
    ]


def _load_rows(
    path: str | Path, key: str, from_csv: Callable[[str | Path], list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """A CSV (through ``from_csv``) or a JSON list, or an object holding the list under ``key``:
    rows with their Origin (``_origin``), which the builders turn into file, line and column."""
    if str(path).lower().endswith(".csv"):
        return from_csv(path)
    return _json_rows(path, key)


def load_requests(path: str | Path) -> list[dict[str, Any]]:
    """A requests file, CSV or JSON (a list, or {"requests": [...]})."""
    return _load_rows(path, "requests", requests_from_csv)


def load_fleet(path: str | Path) -> list[dict[str, Any]]:
    """A fleet file, CSV or JSON (a list, or {"vehicles": [...]})."""
    return _load_rows(path, "vehicles", fleet_from_csv)


def load_list(path: str | Path, key: str) -> list[dict[str, Any]]:
    """A JSON list (or an object with a ``key`` list), or a CSV with one column per field
    (windows as ``departure_from``/``departure_to``, ``arrival_from``/``arrival_to``): carpool
    offers and volunteers."""
    if str(path).lower().endswith(".csv"):
        columns = {
            f"{w}_window{e}": f"{w}_{'to' if e == '.end' else 'from'}"
            for w in ("departure", "arrival")
            for e in ("", ".start", ".end")
        }
        rows = []
        for line, row in _read_csv(path, None, ()):
            origin = Origin(str(path), line, columns=columns)
            rows.append({**_mobility_row(row, origin.where()), ORIGIN: origin})
        return rows
    return _json_rows(path, key)


def _mobility_row(row: Mapping[str, str], where: str) -> dict[str, Any]:
    d: dict[str, Any] = {k.strip(): v.strip() for k, v in row.items() if k and v and v.strip()}
    for w in ("departure", "arrival"):
        a, b = d.pop(f"{w}_from", None), d.pop(f"{w}_to", None)
        if a or b:
            if not (a and b):
                raise InputError(f"give both {w}_from and {w}_to", where)
            d[f"{w}_window"] = [a, b]
    numbers: tuple[tuple[tuple[str, ...], type[int] | type[float], str], ...] = (
        (("seats", "wheelchairs", "max_detour_cap_s"), int, "an integer"),
        (("max_detour_share", "max_km_from_home", "cost_per_km"), float, "a number"),
    )
    for keys, kind, what in numbers:
        for k in keys:
            if k in d:
                try:
                    d[k] = to_float(d[k]) if kind is float else kind(d[k])
                except ValueError:
                    raise InputError(f"{k} must be {what}, got {d[k]!r}", where) from None
    return d
