"""Small typed readers for the fields of input dicts: each error names its field."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields
from typing import Any

from dispatcher.errors import InputError

# characters no name, phone, id or place should hold (tab is tolerated as text)
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def get_field(
    d: Mapping[str, Any],
    key: str,
    where: str,
    default: Any = ...,
    kind: type | tuple[type, ...] | None = None,
) -> Any:
    """``d[key]`` read as ``kind`` (int, float or str; other kinds as given); missing, None or
    empty gives ``default``, and without a default the field is required."""
    if key not in d or d[key] is None or d[key] == "":
        if default is ...:
            raise InputError("is required", f"{where}.{key}")
        return default
    v = d[key]
    if kind is int:
        if isinstance(v, bool):
            raise InputError(f"must be an integer, got {v!r}", f"{where}.{key}")
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if isinstance(v, str):
            try:
                v = int(v.strip())
            except ValueError:
                raise InputError(f"must be an integer, got {v!r}", f"{where}.{key}") from None
        if not isinstance(v, int):
            raise InputError(f"must be an integer, got {v!r}", f"{where}.{key}")
    elif kind is float:
        if isinstance(v, bool):
            raise InputError(f"must be a number, got {v!r}", f"{where}.{key}")
        try:
            v = float(v)
        except (TypeError, ValueError):
            raise InputError(f"must be a number, got {v!r}", f"{where}.{key}") from None
        if not math.isfinite(v):
            raise InputError(f"must be a finite number, got {v!r}", f"{where}.{key}")
    elif kind is str:
        v = str(v)
        bad = CONTROL.search(v)
        if bad:
            message = f"holds a control character ({bad.group()!r}); only printable text"
            raise InputError(message, f"{where}.{key}")
    return v


def check_keys(d: Any, allowed: Iterable[str], where: str) -> None:
    """``d`` is an object whose keys are all in ``allowed``."""
    if not isinstance(d, Mapping):
        raise InputError(f"must be an object, got {type(d).__name__}", where)
    unknown = sorted(set(d) - set(allowed))
    if unknown:
        raise InputError(
            f"unknown field(s) {', '.join(unknown)}; expected some of {', '.join(sorted(allowed))}",
            where,
        )


def dataclass_from(
    cls: type,
    d: Any,
    where: str,
    convert: Mapping[str, Callable[[Any, str], Any]] | None = None,
) -> Any:
    """An instance of dataclass ``cls`` from an object of its fields (``convert`` by field)."""
    names = {f.name for f in fields(cls)}
    check_keys(d, names, where)
    kwargs = {}
    for k, v in d.items():
        kwargs[k] = convert[k](v, f"{where}.{k}") if convert and k in convert else v
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise InputError(str(e), where) from None
