"""Solver parameter files: TOML or JSON in, :class:`~dispatcher.model.SolverParams` out.

A file holds the keys of ``SolverParams`` (``time_limit_s``, ``first_solution``,
``metaheuristic``, ``effort``, ``seed``, ``solution_limit``, ``log_search``), either at the top
level or in a ``[params]`` table; with a ``[params]`` table, a ``[tune]`` table may record how
the values were found (``dispatcher tune`` writes one) and is not read. Keys the file leaves out
keep the values of ``base`` (the defaults unless given)::

    # found by: dispatcher tune --family darp --instances a2-20,a3-24 --trials 8
    [params]
    first_solution = "LOCAL_CHEAPEST_INSERTION"
    metaheuristic = "GUIDED_LOCAL_SEARCH"

    [tune]
    best_gap_pct = 1.2

TOML has no null: a file that gives ``effort`` without ``time_limit_s`` lets the effort set the
time limit (``time_limit_s`` None); ``solution_limit`` left out means no limit. In JSON both may
be ``null``. Strategy names are case-insensitive. Every error names the file and the key, e.g.
``tune.toml: params.metaheuristic: must be one of ...``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from dispatcher.errors import InputError
from dispatcher.model import SolverParams
from dispatcher.solver.ortools_names import check_names

PARAM_KEYS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(SolverParams))
META_TABLES = ("tune",)  # tables beside [params] that describe the file and are not read
_UPPER = ("first_solution", "metaheuristic")
_TYPES: dict[str, str] = {
    "time_limit_s": "a number of seconds",
    "first_solution": "a string",
    "metaheuristic": "a string",
    "effort": "an integer",
    "seed": "an integer",
    "solution_limit": "an integer",
    "log_search": "true or false",
    "refinement": "a string",
    "alns_share": "a number",
}


def _type_ok(key: str, value: Any) -> bool:
    if value is None:
        return key in ("time_limit_s", "solution_limit")
    if key in ("first_solution", "metaheuristic"):
        return isinstance(value, str)
    if key == "refinement":
        return isinstance(value, str)
    if key == "alns_share":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if key == "log_search":
        return isinstance(value, bool)
    if key == "time_limit_s":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, int) and not isinstance(value, bool)


def params_from_mapping(
    data: Mapping[str, Any], base: SolverParams | None = None, where: str = "params"
) -> SolverParams:
    """SolverParams from a mapping of its keys (missing keys from ``base``); errors name
    ``where.key``."""
    if not isinstance(data, Mapping):
        raise InputError("must be a table of parameters", where)
    values: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{where}.{key}"
        if key not in PARAM_KEYS:
            raise InputError(f"unknown key (known: {', '.join(PARAM_KEYS)})", path)
        if not _type_ok(key, value):
            raise InputError(f"must be {_TYPES[key]}, got {value!r}", path)
        if key in _UPPER:
            value = value.strip().upper()
        if key == "time_limit_s" and value is not None and not math.isfinite(value):
            raise InputError("must be a finite number of seconds", path)
        values[key] = value
    if "effort" in values and "time_limit_s" not in values:
        values["time_limit_s"] = None  # the effort sets the time limit
    merged = {**dataclasses.asdict(base or SolverParams()), **values}
    try:
        params = SolverParams(**merged)
    except InputError as e:
        # SolverParams names its fields "params.<key>": keep the key, put our prefix in front
        key = e.where.rsplit(".", 1)[-1] if e.where else ""
        raise InputError(e.message, f"{where}.{key}" if key else where) from None
    check_names(params, where)  # the OR-Tools strategy names, known on the solver's side
    return params


def params_to_mapping(params: SolverParams, keys: Iterable[str] | None = None) -> dict[str, Any]:
    """The parameters as a plain mapping (``keys``: only those; None values are left out)."""
    d = dataclasses.asdict(params)
    wanted = list(keys) if keys is not None else list(PARAM_KEYS)
    for k in wanted:
        if k not in PARAM_KEYS:
            raise InputError(f"unknown key (known: {', '.join(PARAM_KEYS)})", f"params.{k}")
    return {k: d[k] for k in wanted if d[k] is not None}


def _read(path: Path) -> Any:
    where = str(path)
    if not path.exists():
        raise InputError("no such parameter file", where)
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".json"):
        raise InputError("a parameter file must end in .toml or .json", where)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read: {e}", where) from None
    try:
        return tomllib.loads(text) if suffix == ".toml" else json.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"not valid TOML: {e}", where) from None
    except json.JSONDecodeError as e:
        raise InputError(
            f"not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})", where
        ) from None


def load_params(path: str | Path, base: SolverParams | None = None) -> SolverParams:
    """Read a TOML or JSON parameter file; keys it leaves out keep ``base``'s values (defaults).

    Raises :class:`~dispatcher.errors.InputError` naming the file and the key
    (``where="tune.toml: params.metaheuristic"``) for a missing or malformed file, an unknown
    key, a value of the wrong type or out of range.
    """
    path = Path(path)
    doc = _read(path)
    if not isinstance(doc, dict):
        raise InputError("must hold a table of parameters", str(path))
    if "params" in doc:
        for key in doc:
            if key != "params" and key not in META_TABLES:
                raise InputError(
                    f"unknown key beside [params] (allowed: params, {', '.join(META_TABLES)})",
                    f"{path}: {key}",
                )
        table = doc["params"]
    else:
        table = doc
    return params_from_mapping(table, base, where=f"{path}: params")


def _toml_value(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputError("cannot write a non-finite number to TOML", where)
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a valid TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v, where) for v in value) + "]"
    raise InputError(f"cannot write {type(value).__name__} to TOML", where)


def dumps_params(
    params: SolverParams,
    keys: Iterable[str] | None = None,
    meta: Mapping[str, Any] | None = None,
    comment: str = "",
    fmt: str = "toml",
) -> str:
    """The text of a parameter file (``fmt`` "toml" or "json"); ``meta`` becomes the ``[tune]``
    table, ``comment`` the leading ``#`` lines (TOML only)."""
    values = params_to_mapping(params, keys)
    if fmt == "json":
        doc: dict[str, Any] = {"params": values}
        if meta:
            doc["tune"] = dict(meta)
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if fmt != "toml":
        raise InputError("must be toml or json", "format")
    lines = [f"# {ln}".rstrip() for ln in comment.splitlines()]
    if lines:
        lines.append("")
    lines.append("[params]")
    lines += [f"{k} = {_toml_value(v, f'params.{k}')}" for k, v in values.items()]
    if meta:
        lines += ["", "[tune]"]
        for k, v in meta.items():
            if v is not None:
                lines.append(f"{k} = {_toml_value(v, f'tune.{k}')}")
    return "\n".join(lines) + "\n"


def save_params(
    params: SolverParams,
    path: str | Path,
    keys: Iterable[str] | None = None,
    meta: Mapping[str, Any] | None = None,
    comment: str = "",
) -> Path:
    """Write a parameter file that :func:`load_params` reads back (TOML, or JSON by suffix)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".json"):
        raise InputError("a parameter file must end in .toml or .json", str(path))
    text = dumps_params(params, keys, meta, comment, fmt=suffix[1:])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


__all__ = [
    "PARAM_KEYS",
    "dumps_params",
    "load_params",
    "params_from_mapping",
    "params_to_mapping",
    "save_params",
]
