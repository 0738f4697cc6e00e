"""The tickets the service issued and the log of their checks (``TicketRow``,
``TicketCheckRow``). Writes run in the caller's transaction when given one (a booking issues its
ticket in the booking's own transaction, so that an acknowledged booking always has its ticket),
else in one of their own."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dispatcher.store.db import Store
from dispatcher.store.models import TicketCheckRow, TicketRow, utcnow

PAYMENTS = ("unpaid", "paid", "on_board")


class TicketStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    @staticmethod
    def add(s: Session, **fields: Any) -> TicketRow:
        row = TicketRow(**fields)
        s.add(row)
        return row

    @staticmethod
    def void(s: Session, day: date, request_ids: Iterable[str]) -> int:
        """Cancel the valid tickets of these requests of ``day``; how many."""
        ids = list(request_ids)
        if not ids:
            return 0
        res = s.execute(
            update(TicketRow)
            .where(
                TicketRow.day == day,
                TicketRow.request_id.in_(ids),
                TicketRow.status == "valid",
            )
            .values(status="cancelled")
        )
        return int(getattr(res, "rowcount", 0) or 0)

    @staticmethod
    def rename(s: Session, day: date, old: str, new: str) -> None:
        """The tickets of request ``old`` of ``day`` now of ``new`` (its pseudonym)."""
        s.execute(
            update(TicketRow)
            .where(TicketRow.day == day, TicketRow.request_id == old)
            .values(request_id=new)
        )

    @staticmethod
    def for_update(s: Session, serial: str) -> TicketRow | None:
        q = select(TicketRow).where(TicketRow.serial == serial).with_for_update()
        return s.execute(q).scalar_one_or_none()

    @staticmethod
    def latest_for_update(s: Session, day: date, request_id: str) -> TicketRow | None:
        q = (
            select(TicketRow)
            .where(TicketRow.day == day, TicketRow.request_id == request_id)
            .order_by(TicketRow.created_at.desc())
            .limit(1)
            .with_for_update()
        )
        return s.execute(q).scalar_one_or_none()

    @staticmethod
    def record(s: Session, **fields: Any) -> None:
        s.add(TicketCheckRow(at=utcnow(), **fields))

    def of_request(self, day: date, request_id: str) -> TicketRow | None:
        """The request's ticket (the last issued)."""
        with self.store.read() as s:
            q = (
                select(TicketRow)
                .where(TicketRow.day == day, TicketRow.request_id == request_id)
                .order_by(TicketRow.created_at.desc())
                .limit(1)
            )
            return s.execute(q).scalar_one_or_none()

    def of_day(self, day: date) -> list[TicketRow]:
        """The day's valid trip tickets."""
        with self.store.read() as s:
            q = select(TicketRow).where(TicketRow.day == day, TicketRow.status == "valid")
            return list(s.execute(q).scalars())

    def checks(self, serial: str | None = None, limit: int = 100) -> list[TicketCheckRow]:
        with self.store.read() as s:
            q = select(TicketCheckRow).order_by(TicketCheckRow.id.desc()).limit(limit)
            if serial is not None:
                q = q.where(TicketCheckRow.serial == serial)
            return list(s.execute(q).scalars())
