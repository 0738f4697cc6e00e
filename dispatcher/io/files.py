"""JSON files: read with errors naming the file and the place in it, written atomically;
problems and plans loaded from them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from dispatcher.errors import InputError
from dispatcher.io.plan import plan_from_dict
from dispatcher.io.problem import problem_from_dict
from dispatcher.model import Plan, Problem


def read_text(path: str | Path, encoding: str = "utf-8") -> str:
    """The file's text, or an InputError naming the file (not found, unreadable, not text)."""
    p = Path(path)
    try:
        return p.read_text(encoding=encoding)
    except FileNotFoundError:
        raise InputError("file not found", str(p)) from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read: {e}", str(p)) from None


def read_json(path: str | Path) -> Any:
    text = read_text(path, encoding="utf-8-sig")  # a BOM some editors add is no error
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(
            f"invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}", str(Path(path))
        ) from None


def write_json(path: str | Path, data: Any) -> None:
    """Write atomically: a temp file in the same folder, then rename."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    tmp.replace(p)


_PART = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")


def json_line(text: str, where: str) -> int | None:
    """The line (1-based) where the value at a path such as ``requests[2].pickup_window``
    starts in a JSON text: the deepest part of the path found (None when not even the first)."""
    parts: list[str | int] = [
        int(m.group(2)) if m.group(2) is not None else m.group(1) for m in _PART.finditer(where)
    ]
    dec = json.JSONDecoder()
    n = len(text)

    def ws(i: int) -> int:
        while i < n and text[i] in " \t\r\n":
            i += 1
        return i

    def child(i: int, part: str | int) -> int | None:
        """Where the value of ``part`` starts in the object or array at ``i``."""
        opening, k = text[i], 0
        i = ws(i + 1)
        while i < n and text[i] not in "]}":
            if opening == "{":
                key, i = dec.raw_decode(text, i)
                i = ws(ws(i) + 1)  # past the colon
                if key == part:
                    return i
            elif k == part:
                return i
            _, i = dec.raw_decode(text, i)
            i, k = ws(i), k + 1
            if i < n and text[i] == ",":
                i = ws(i + 1)
        return None

    line, i = None, ws(1 if text.startswith("\ufeff") else 0)
    try:
        for part in parts:
            if i >= n or text[i] not in "[{" or (text[i] == "[") != isinstance(part, int):
                break
            found = child(i, part)
            if found is None:
                break
            i, line = found, text.count("\n", 0, found) + 1
    except json.JSONDecodeError:
        return line
    return line


_TOML_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?")
_TOML_KEY = re.compile(r"^\s*([A-Za-z0-9_.\- ]+?)\s*=")


def toml_line(text: str, where: str) -> int | None:
    """The line (1-based) of a TOML key such as ``variants[1].fleet.vehicles``: the line that
    sets it (``fleet = {...}``, ``fleet.vehicles = 2``) in the (k+1)-th ``[[variants]]`` table,
    else that table's header; None when not found."""
    parts: list[str | int] = [
        int(m.group(2)) if m.group(2) is not None else m.group(1) for m in _PART.finditer(where)
    ]
    if not parts or not isinstance(parts[0], str):
        return None
    table, rest = parts[0], parts[1:]
    index = rest.pop(0) if rest and isinstance(rest[0], int) else None
    keys = [p for p in rest if isinstance(p, str)]
    seen, current, best = -1, "", None
    for n, line in enumerate(text.splitlines(), start=1):
        header = _TOML_HEADER.match(line)
        if header:
            current = header.group(1)
            if current == table:
                seen += 1
                if index is None or seen == index:
                    best = n
            continue
        key = _TOML_KEY.match(line)
        if not key:
            continue
        name = key.group(1).replace(" ", "")
        inside = current == table and (index is None or seen == index)
        full = name if inside else f"{current}.{name}".lstrip(".")
        wanted = ".".join(keys) if inside else ".".join([table, *keys])
        usable = inside or index is None or full == table
        if full and usable and (wanted == full or wanted.startswith(full + ".")):
            return n
    return best


def _at_line(path: str | Path, e: InputError) -> InputError:
    """``e`` naming the file and the line of its JSON path (``plan.json: line 12: routes[0]``)."""
    line = json_line(read_text(path, encoding="utf-8-sig"), e.where)
    where = f"{path}: line {line}: {e.where}" if line else f"{path}: {e.where}"
    return type(e)(e.message, where)


def load_problem(path: str | Path) -> Problem:
    data = read_json(path)
    try:
        return problem_from_dict(data)
    except InputError as e:
        raise _at_line(path, e) from None


def load_plan(path: str | Path, problem: Problem | None = None) -> Plan:
    data = read_json(path)
    try:
        return plan_from_dict(data, problem)
    except InputError as e:
        raise _at_line(path, e) from None
