"""A day's current plan and its live problem, stored in pieces (table ``day_pieces``): one per
route of the plan, one per location, request and vehicle of the problem, one per matrix, and a
head for the rest of each document. A booking changes a route or two, adds a request and
sometimes a place: it writes only those pieces (one ``INSERT ... ON CONFLICT DO UPDATE``,
whatever their number, and a ``DELETE`` of the pieces gone if any), not the day's whole plan
and problem (about 300 kB at 300 requests).

What is written is found by comparing the new pieces with those stored at the day's version,
held in this process after its last read or write of the day (or read from the database
when another worker wrote since). The pieces are checked against the day's ``version``, read
in the same statement, so a worker never diffs against a stale day.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from dispatcher.store.models import DayPiece, ServiceDay, utcnow

DOCS = ("plan", "problem")
# the fields of each document stored a piece per element, and those stored whole on their own
LISTS = {"plan": ("routes",), "problem": ("locations", "requests", "vehicles")}
WHOLE = {"plan": (), "problem": ("duration_s", "distance_m")}
DAYS_HELD = 14  # days whose stored pieces a process holds (the most recently written)

Pieces = dict[str, Any]


def split(doc: str, d: Mapping[str, Any]) -> Pieces:
    """The pieces of document ``doc`` (``plan`` or ``problem``) by key."""
    lists = [k for k in LISTS[doc] if isinstance(d.get(k), list)]
    whole = [k for k in WHOLE[doc] if k in d]
    out: Pieces = {
        doc: {
            "head": {k: v for k, v in d.items() if k not in lists and k not in whole},
            "order": list(d),
            "lists": lists,
        }
    }
    for k in lists:
        for i, x in enumerate(d[k]):
            out[f"{doc}/{k}/{i:06d}"] = x
    for k in whole:
        out[f"{doc}/{k}"] = d[k]
    return out


def join(doc: str, pieces: Mapping[str, Any]) -> dict[str, Any] | None:
    """Document ``doc`` from its pieces (any others are ignored); None when it is not stored."""
    head = pieces.get(doc)
    if head is None:
        return None
    got: dict[str, Any] = dict(head["head"])
    for k in head["lists"]:
        prefix = f"{doc}/{k}/"
        got[k] = [pieces[p] for p in sorted(p for p in pieces if p.startswith(prefix))]
    for k in WHOLE[doc]:
        if f"{doc}/{k}" in pieces:
            got[k] = pieces[f"{doc}/{k}"]
    return {k: got[k] for k in head["order"] if k in got}


class Live:
    """The days' plans and problems in pieces (``Store.live``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[date, tuple[int, Pieces]] = {}  # day -> (version, its stored pieces)

    # ---- reading ------------------------------------------------------------------------------
    @staticmethod
    def read_pieces(s: Session, day: date, doc: str | None = None) -> tuple[int, Pieces] | None:
        """The day's version and its stored pieces (of ``doc`` only, if given), read in one
        statement (one snapshot); None when ``day`` is not a service day."""
        on = DayPiece.day == ServiceDay.day
        if doc is not None:
            on = on & ((DayPiece.key == doc) | DayPiece.key.startswith(f"{doc}/"))
        q = (
            select(ServiceDay.version, DayPiece.key, DayPiece.data)
            .select_from(ServiceDay)
            .outerjoin(DayPiece, on)
            .where(ServiceDay.day == day)
        )
        rows = s.execute(q).all()
        if not rows:
            return None
        return int(rows[0][0]), {k: v for _, k, v in rows if k is not None}

    def read(
        self, s: Session, day: date, doc: str | None = None
    ) -> tuple[int, dict[str, Any] | None, dict[str, Any] | None] | None:
        """The day's version, plan and problem (None when not stored, or not asked for with
        ``doc``); None when ``day`` is not a service day."""
        got = self.read_pieces(s, day, doc)
        if got is None:
            return None
        version, pieces = got
        return version, join("plan", pieces), join("problem", pieces)

    def read_locked(
        self, s: Session, row: ServiceDay
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """The plan and problem of the day whose row ``s`` holds locked (``Store.lock_day``); its
        pieces are held for the diff of the next write (the lock makes them the version's)."""
        got = self.read_pieces(s, row.day)
        if got is None:
            return None, None
        self._hold(row.day, row.version, got[1])
        return join("plan", got[1]), join("problem", got[1])

    # ---- writing ------------------------------------------------------------------------------
    def write(
        self, s: Session, row: ServiceDay, plan: Mapping[str, Any], problem: Mapping[str, Any]
    ) -> int:
        """Store the day's new plan and problem in the transaction of ``s``, which holds the day's
        row locked (``Store.lock_day``; the caller bumps its version): only the pieces that
        changed; the row's ``plan_updated_at`` says when. Returns how many pieces were written."""
        day = row.day
        with self._lock:
            held = self._held.get(day)
        if held is not None and held[0] == row.version:
            before = held[1]
        else:
            got = self.read_pieces(s, day)
            before = {} if got is None else got[1]
        new = {**split("plan", plan), **split("problem", problem)}
        changed = [k for k, v in new.items() if k not in before or not _same(before[k], v)]
        gone = [k for k in before if k not in new]
        stale = [k for k in changed if k in before] + gone
        rows = [{"day": day, "key": k, "data": new[k]} for k in changed]
        if len(stale) > 100 and 2 * len(stale) > len(before):  # most of the day: all of it
            s.execute(delete(DayPiece).where(DayPiece.day == day), **_PLAIN)
            rows = [{"day": day, "key": k, "data": v} for k, v in new.items()]
            changed = list(new)
            if rows:
                s.execute(insert(DayPiece), rows)
        else:
            if gone:
                s.execute(
                    delete(DayPiece).where(DayPiece.day == day, DayPiece.key.in_(gone)), **_PLAIN
                )
            if rows:  # the pieces replaced and the new ones: one statement
                s.execute(_upsert(s), rows)
        row.plan_updated_at = utcnow()  # after the statements above: flushed with the version
        # held once committed, at the version the caller gives the row
        after: list[Any] = s.info.setdefault("after_commit", [])
        after.append(lambda: self._hold(day, row.version, new))
        return len(changed)

    def unchanged(self, s: Session, row: ServiceDay) -> None:
        """The day's plan and problem stay as they are while the caller bumps its version (a
        refusal, a new pending request): the pieces held at this version stay held at the next,
        once committed (else the next write reads them again)."""
        with self._lock:
            held = self._held.get(row.day)
        if held is None or held[0] != row.version:
            return
        after: list[Any] = s.info.setdefault("after_commit", [])
        after.append(lambda: self._hold(row.day, row.version, held[1]))

    def forget(self, day: date) -> None:
        with self._lock:
            self._held.pop(day, None)

    def _hold(self, day: date, version: int, pieces: Pieces) -> None:
        with self._lock:
            got = self._held.get(day)
            if got is not None and got[0] > version:
                return
            self._held.pop(day, None)  # re-inserted last: the most recently used day
            self._held[day] = (version, pieces)
            while len(self._held) > DAYS_HELD:
                del self._held[next(iter(self._held))]


_PLAIN: dict[str, Any] = {"execution_options": {"synchronize_session": False}}
"""Bulk deletes of pieces: no ORM object of ``DayPiece`` is ever loaded to keep in step."""


_UPSERTS: dict[str, Any] = {}


def _upsert(s: Session) -> Any:
    """``INSERT`` of pieces that replaces those of the same (day, key), in the session's dialect
    (PostgreSQL and SQLite say it the same way); built once per dialect."""
    dialect = s.get_bind().dialect.name
    got = _UPSERTS.get(dialect)
    if got is None:
        ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(DayPiece)
        got = _UPSERTS[dialect] = ins.on_conflict_do_update(
            index_elements=[DayPiece.day, DayPiece.key], set_={"data": ins.excluded.data}
        )
    return got


def _same(a: Any, b: Any) -> bool:
    return a is b or bool(a == b)
