"""A memo of serialised pieces, so that writing a day again costs what changed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Memo:
    """Serialised pieces (requests, vehicles, routes, matrices) of frozen objects, by identity.

    A live day is written after every booking, and all but one request and one route are the
    very objects written the time before: with a memo, writing it costs what changed. The
    pieces are shared between the dicts returned: never mutate them. Holds the objects it has
    seen (so their ids stay theirs) up to ``limit`` pieces, then starts afresh; ``sweep`` lets
    go of those not used since the last sweep (the objects of a day's earlier versions)."""

    def __init__(self, limit: int = 50_000) -> None:
        self.limit = limit
        self._pieces: dict[tuple[int, str], tuple[object, Any]] = {}
        self._used: set[tuple[int, str]] = set()

    def get(self, obj: object, tag: str, make: Callable[[], Any]) -> Any:
        key = (id(obj), tag)
        self._used.add(key)
        got = self._pieces.get(key)
        if got is not None and got[0] is obj:
            return got[1]
        if len(self._pieces) >= self.limit:
            self._pieces.clear()
            self._used = {key}
        value = make()
        self._pieces[key] = (obj, value)
        return value

    def sweep(self) -> None:
        """Keep only the pieces used since the last sweep: a write of the day's new version
        holds what the next write reuses, not every route and matrix the day ever had (which
        the garbage collector would otherwise walk through on every full collection)."""
        self._pieces = {k: v for k, v in self._pieces.items() if k in self._used}
        self._used = set()


def memo_pieces(memo: Memo | None, tag: str) -> Callable[[Any, Callable[[Any], Any]], Any]:
    """``piece(obj, fn)``: ``fn(obj)``, through ``memo`` when there is one."""
    if memo is None:
        return lambda obj, fn: fn(obj)
    return lambda obj, fn: memo.get(obj, tag, lambda: fn(obj))
