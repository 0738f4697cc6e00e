"""What the store keeps for personal data's sake: the append-only access log, the service's
secrets, and the scans of what is stored about a person.

Same patterns as ``dispatcher.store.db``: one transaction per write, committed before the
caller answers. The rewriting of a day's personal data itself runs in the application layer
(``dispatcher.service.personal_data``) under the day's lock, like a booking.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import String, cast, select
from sqlalchemy.exc import IntegrityError

from dispatcher.store.db import Store, iso_time
from dispatcher.store.models import (
    AccessLogRow,
    CarpoolOfferRow,
    RequestRow,
    SecretRow,
    ServiceDay,
    VolunteerRow,
)


def access_out(row: AccessLogRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": iso_time(row.at),
        "key_id": row.key_id,
        "role": row.role,
        "action": row.action,
        "day": row.day.isoformat() if row.day else None,
        "records": row.records,
        "rider_ids": list(row.rider_ids or []),
    }


class PrivacyStore:
    """The access log, the secrets and the scans of personal data in ``store`` (cheap to build)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # ---- secrets --------------------------------------------------------------------------
    def secret(self, name: str) -> bytes:
        """The secret ``name``, made at random on first use; several workers asking at once get
        the same one (the first insert wins)."""
        with self.store.read() as s:
            row = s.get(SecretRow, name)
            if row is not None:
                return bytes.fromhex(row.value)
        try:
            with self.store.write() as s:
                s.add(SecretRow(name=name, value=secrets.token_hex(32)))
        except IntegrityError:
            pass  # another worker made it first
        with self.store.read() as s:
            row = s.get(SecretRow, name)
            assert row is not None
            return bytes.fromhex(row.value)

    # ---- the access log -------------------------------------------------------------------
    def append(
        self,
        key_id: int | None,
        role: str,
        action: str,
        day: date | None = None,
        records: int = 0,
        rider_ids: Sequence[str] = (),
    ) -> None:
        with self.store.write() as s:
            s.add(
                AccessLogRow(
                    key_id=key_id,
                    role=role,
                    action=action,
                    day=day,
                    records=records,
                    rider_ids=sorted(set(rider_ids)),
                )
            )

    def entries(
        self,
        since: datetime | None = None,
        rider_id: str | None = None,
        limit: int = 1000,
    ) -> list[dict[str, Any]]:
        """The newest ``limit`` entries (newest first), from ``since``, naming ``rider_id``."""
        with self.store.read() as s:
            q = select(AccessLogRow)
            if since is not None:
                q = q.where(AccessLogRow.at >= since)
            if rider_id is not None:
                q = q.where(cast(AccessLogRow.rider_ids, String).contains(f'"{rider_id}"'))
            q = q.order_by(AccessLogRow.id.desc()).limit(limit)
            return [access_out(r) for r in s.execute(q).scalars()]

    # ---- scans ----------------------------------------------------------------------------
    def request_data(self, day: date | None = None) -> list[tuple[date, str, dict[str, Any]]]:
        """(day, request id, request dict) of every stored request (of ``day`` only, if given),
        oldest day first."""
        with self.store.read() as s:
            q = select(RequestRow.day, RequestRow.request_id, RequestRow.data)
            if day is not None:
                q = q.where(RequestRow.day == day)
            return [(d, i, data) for d, i, data in s.execute(q.order_by(RequestRow.pk))]

    def offer_data(self, day: date | None = None) -> list[tuple[date, str, dict[str, Any]]]:
        """(day, driver id, offer dict) of every stored carpool offer (of ``day`` only)."""
        with self.store.read() as s:
            q = select(CarpoolOfferRow.day, CarpoolOfferRow.driver_id, CarpoolOfferRow.data)
            if day is not None:
                q = q.where(CarpoolOfferRow.day == day)
            return [(d, i, data) for d, i, data in s.execute(q.order_by(CarpoolOfferRow.pk))]

    def volunteer_data(self) -> list[dict[str, Any]]:
        with self.store.read() as s:
            return [r.data for r in s.execute(select(VolunteerRow)).scalars()]

    def days_before(self, day: date) -> list[date]:
        """The service days before ``day`` not purged yet."""
        with self.store.read() as s:
            q = select(ServiceDay.day).where(ServiceDay.day < day, ServiceDay.purged_at.is_(None))
            return list(s.execute(q.order_by(ServiceDay.day)).scalars())
