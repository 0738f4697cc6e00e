"""Vehicles' events (append-only), the live state they built per day, and the outbox of rider
notifications, behind a few functions.

Same patterns as ``dispatcher.store.db``: the writes run inside the day's lock taken by the
caller (``Store.lock_day``), so that an event, the state it changes and the notifications it
causes are committed together or not at all; reads open their own session.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatcher.errors import NotFoundError
from dispatcher.store.db import Store, iso_time
from dispatcher.store.models import LiveDayRow, NotificationRow, VehicleEventRow, utcnow


def event_out(row: VehicleEventRow) -> dict[str, Any]:
    return {
        **row.data,
        "seq": row.seq,
        "vehicle_id": row.vehicle_id,
        "sent_by": {"key_id": row.key_id, "role": row.role},
        "received_at": iso_time(row.received_at),
    }


def notification_out(row: NotificationRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "day": row.day.isoformat(),
        "request_id": row.request_id,
        "rider_ref": row.rider_ref,
        "kind": row.kind,
        "message": row.message,
        **{k: v for k, v in row.data.items() if k not in ("id", "day")},
        "created_at": iso_time(row.created_at),
        "sent_at": iso_time(row.sent_at),
    }


class Events:
    """Events, live states and notifications in ``store`` (cheap to build)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # ---- inside the day's lock ---------------------------------------------------------------
    @staticmethod
    def event_in(s: Session, day: date, event_id: str) -> VehicleEventRow | None:
        q = select(VehicleEventRow).where(
            VehicleEventRow.day == day, VehicleEventRow.event_id == event_id
        )
        return s.execute(q).scalar_one_or_none()

    @staticmethod
    def append(
        s: Session,
        day: date,
        vehicle_id: str,
        data: Mapping[str, Any],
        time_s: int,
        key_id: int | None,
        role: str,
    ) -> VehicleEventRow:
        row = VehicleEventRow(
            day=day,
            vehicle_id=vehicle_id,
            event_id=str(data["event_id"]),
            type=str(data["type"]),
            time_s=time_s,
            data=dict(data),
            key_id=key_id,
            role=role,
            received_at=utcnow(),
        )
        s.add(row)
        s.flush()
        return row

    @staticmethod
    def state_in(s: Session, day: date) -> dict[str, Any] | None:
        row = s.get(LiveDayRow, day)
        return None if row is None else dict(row.state)

    @staticmethod
    def save_state(s: Session, day: date, state: Mapping[str, Any]) -> None:
        row = s.get(LiveDayRow, day)
        if row is None:
            s.add(LiveDayRow(day=day, state=dict(state), updated_at=utcnow()))
        else:
            row.state, row.updated_at = dict(state), utcnow()

    @staticmethod
    def notify(
        s: Session,
        day: date,
        request_id: str,
        rider_ref: str,
        kind: str,
        message: str,
        data: Mapping[str, Any],
    ) -> None:
        s.add(
            NotificationRow(
                day=day,
                request_id=request_id,
                rider_ref=rider_ref,
                kind=kind,
                message=message,
                data=dict(data),
                created_at=utcnow(),
            )
        )

    @staticmethod
    def last_notified_in(s: Session, day: date) -> dict[str, dict[str, Any]]:
        """The last notification of each request of the day (request id -> its data)."""
        q = select(NotificationRow).where(NotificationRow.day == day).order_by(NotificationRow.id)
        return {r.request_id: {**r.data, "kind": r.kind} for r in s.execute(q).scalars()}

    # ---- reads and small writes ----------------------------------------------------------------
    def list_events(
        self, day: date, vehicle_id: str | None = None, after_seq: int = 0, limit: int = 5000
    ) -> list[dict[str, Any]]:
        with self.store.read() as s:
            self.store.day_row(s, day)
            q = select(VehicleEventRow).where(
                VehicleEventRow.day == day, VehicleEventRow.seq > after_seq
            )
            if vehicle_id:
                q = q.where(VehicleEventRow.vehicle_id == vehicle_id)
            q = q.order_by(VehicleEventRow.seq).limit(limit)
            return [event_out(r) for r in s.execute(q).scalars()]

    def state(self, day: date) -> dict[str, Any] | None:
        with self.store.read() as s:
            return self.state_in(s, day)

    def list_notifications(self, day: date, pending: bool = False) -> list[dict[str, Any]]:
        with self.store.read() as s:
            self.store.day_row(s, day)
            q = select(NotificationRow).where(NotificationRow.day == day)
            if pending:
                q = q.where(NotificationRow.sent_at.is_(None))
            return [
                notification_out(r) for r in s.execute(q.order_by(NotificationRow.id)).scalars()
            ]

    def mark_sent(self, day: date, notification_id: int) -> dict[str, Any]:
        """Mark a notification drained by a gateway (a second time keeps the first time)."""
        with self.store.write() as s:
            row = s.get(NotificationRow, notification_id)
            if row is None or row.day != day:
                raise NotFoundError(
                    f"no notification {notification_id} on {day.isoformat()}", "notification_id"
                )
            row.sent_at = row.sent_at or utcnow()
            s.flush()
            return notification_out(row)
