"""JSON files: read with errors naming the file and the place in it, written atomically;
problems and plans loaded from them."""

from __future__ import annotations

import json
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
    text = read_text(path)
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


def load_problem(path: str | Path) -> Problem:
    data = read_json(path)
    try:
        return problem_from_dict(data)
    except InputError as e:
        raise InputError(e.message, f"{path}: {e.where}") from None


def load_plan(path: str | Path, problem: Problem | None = None) -> Plan:
    data = read_json(path)
    try:
        return plan_from_dict(data, problem)
    except InputError as e:
        raise InputError(e.message, f"{path}: {e.where}") from None
