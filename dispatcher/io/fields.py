"""Small typed readers for the fields of input dicts: each error names its field."""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Any

from dispatcher.errors import InputError, Notice

# characters no name, phone, id or place should hold (tab is tolerated as text)
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


_DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d*,\d+\s*$")


def to_float(v: Any) -> float:
    """A number, a decimal comma forgiven (``"0,45"``, as French spreadsheets write it)."""
    if isinstance(v, str) and _DECIMAL_COMMA.match(v):
        v = v.replace(",", ".")
    return float(v)


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
            v = to_float(v)
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


# --------------------------------------------------------------------------------------------
# Where a row came from: errors point at the file, the line and the column
# --------------------------------------------------------------------------------------------

ORIGIN = "_origin"  # the key under which a file reader leaves a row's Origin
_INDEXED = re.compile(r"^(\w+)\[(\d+)\](.*)$")


@dataclass(frozen=True)
class Origin:
    """Where a row of a list stands in its file: the line as a spreadsheet or an editor counts
    (the header is line 1), and for a JSON list the row's path in it (``requests[2]``).
    ``columns`` names the CSV column of a field (``pickup_window.start`` -> ``pickup_from``)."""

    file: str
    line: int
    path: str = ""
    columns: Mapping[str, str] = field(default_factory=dict)

    def where(self, rest: str = "") -> str:
        """``file: line 4, column pickup_from`` (CSV) or ``file: line 4: requests[2].pickup``."""
        rest = rest.lstrip(".")
        if self.path:  # JSON: the path in the document
            return f"{self.file}: line {self.line}: {self.path}{'.' if rest else ''}{rest}"
        if not rest:
            return f"{self.file}: line {self.line}"
        return f"{self.file}: line {self.line}, column {self._column(rest)}"

    def _column(self, rest: str) -> str:
        key = rest
        while key:
            if key in self.columns:
                return self.columns[key]
            key = key.rpartition(".")[0]
        return re.split(r"[.\[]", rest, maxsplit=1)[0]


def split_origins(
    rows: Sequence[Mapping[str, Any]],
) -> tuple[list[dict[str, Any]], list[Origin | None]]:
    """The rows without their ``_origin`` key, and the origins (None where a row has none)."""
    clean, origins = [], []
    for r in rows:
        o = r.get(ORIGIN) if isinstance(r, Mapping) else None
        origins.append(o if isinstance(o, Origin) else None)
        clean.append({k: v for k, v in r.items() if k != ORIGIN} if isinstance(r, Mapping) else r)
    return clean, origins


def relocated_where(where: str, origins: Mapping[str, Sequence[Origin | None]]) -> str:
    """A ``where`` such as ``requests[2].pickup`` made the file, line and column of that row
    (``origins`` by list name); ``where`` itself when its row has no origin."""
    m = _INDEXED.match(where)
    if not m:
        return where
    rows = origins.get(m.group(1)) or ()
    k = int(m.group(2))
    o = rows[k] if k < len(rows) else None
    return where if o is None else o.where(m.group(3))


def relocated(e: InputError, origins: Mapping[str, Sequence[Origin | None]]) -> InputError:
    """``e`` naming the file, line and column of its row (see :func:`relocated_where`)."""
    where = relocated_where(e.where, origins)
    return e if where == e.where else type(e)(e.message, where)


@contextmanager
def notices_at(origins: Mapping[str, Sequence[Origin | None]]) -> Iterator[None]:
    """The :class:`~dispatcher.errors.Notice` warnings issued inside, naming the file, line
    and column of their row (other warnings pass unchanged)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            pending = list(caught)
    for w in pending:
        if isinstance(w.message, Notice):
            where = relocated_where(w.message.where, origins)
            warnings.warn(Notice(w.message.message, where), stacklevel=3)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
