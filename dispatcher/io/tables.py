"""Lists of requests, vehicles, carpool offers and volunteers from files: CSV (operators live in
spreadsheets) or JSON. Rows become dicts of the input vocabulary of
:mod:`dispatcher.io.problem` and :mod:`dispatcher.io.mobility`."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from dispatcher.errors import InputError
from dispatcher.io.files import read_json, read_text

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
    "name",
    "phone",
    "rider_category",
    "fare_product",
)
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
        return int(row[column]) * 60
    except ValueError:
        raise InputError(f"{column} must be whole minutes, got {row[column]!r}", where) from None


def _read_csv(
    path: str | Path, known: Sequence[str], required: Sequence[str]
) -> list[tuple[int, dict[str, str]]]:
    p = Path(path)
    text = read_text(p, encoding="utf-8-sig")
    first = text.splitlines()[0] if text else ""
    delimiter = max(",;\t", key=first.count) if first else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter, strict=True)
    header = [h.strip() for h in (reader.fieldnames or [])]
    columns = ", ".join(known)
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}; columns are {columns}", str(p))
    unknown = [c for c in header if c not in known]
    if unknown:
        raise InputError(f"unknown column(s) {', '.join(unknown)}; columns are {columns}", str(p))
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


def requests_from_csv(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a requests CSV -> request dicts (the same vocabulary as JSON)."""
    out = []
    for line, row in _read_csv(path, REQUEST_CSV_COLUMNS, ("id", "pickup", "dropoff")):
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
                raise InputError("give both pickup_from and pickup_to", f"{path}: line {line}")
            d["pickup_window"] = [row["pickup_from"], row["pickup_to"]]
        if row.get("min_stay_min"):
            d["min_stay_s"] = _minutes(row, "min_stay_min", f"{path}: line {line}")
        d["_line"] = line
        out.append(d)
    return out


def fleet_from_csv(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a fleet CSV -> vehicle dicts (the same vocabulary as JSON)."""
    out = []
    required = ("id", "start", "shift_start", "shift_end")
    for line, row in _read_csv(path, FLEET_CSV_COLUMNS, required):
        where = f"{path}: line {line}"
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
                    "duration_s": _minutes(row, "break_min", where),
                }
            ]
        for column, name in FLEET_MINUTES.items():
            if row.get(column):
                d[name] = _minutes(row, column, where)
        d["_line"] = line
        out.append(d)
    return out


def strip_lines(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The rows without the ``_line`` (CSV line number) the CSV readers add."""
    return [{k: v for k, v in r.items() if k != "_line"} for r in rows]


def _load_rows(
    path: str | Path, key: str, from_csv: Callable[[str | Path], list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """A CSV (through ``from_csv``) or a JSON list, or an object holding the list under ``key``."""
    if str(path).lower().endswith(".csv"):
        return strip_lines(from_csv(path))
    data = read_json(path)
    data = data.get(key) if isinstance(data, Mapping) else data
    if not isinstance(data, list):
        raise InputError(f"expected a list of {key} (or an object with a '{key}' list)", str(path))
    return data


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
        rows = []
        with open(path, newline="", encoding="utf-8-sig") as f:
            for line, row in enumerate(csv.DictReader(f), start=2):
                rows.append(_mobility_row(row, f"{path}: line {line}"))
        return rows
    data = read_json(path)
    data = data.get(key) if isinstance(data, Mapping) else data
    if not isinstance(data, list):
        raise InputError(f"expected a list (or an object with a {key!r} list)", str(path))
    return data


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
                    d[k] = kind(d[k])
                except ValueError:
                    raise InputError(f"{k} must be {what}, got {d[k]!r}", where) from None
    return d
