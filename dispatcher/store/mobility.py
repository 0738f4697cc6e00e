"""Carpool offers (per service day), volunteer drivers (like the fleet, not day-bound) and the
last carpool matching of each day, behind a few functions.

Same patterns as ``dispatcher.store.db``: validated dicts in the ``dispatcher.io`` vocabulary,
one transaction per write committed before the API answers, ``NotFoundError``/``ConflictError``
naming the field. Offers change what a plan job of the day plans, so adding or withdrawing one
runs under the day's lock (``Store.lock_day``) and bumps the day's ``version``: a plan job that
started before fails with "the day changed" instead of storing a plan that ignores the change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dispatcher.errors import InputError, NotFoundError
from dispatcher.store.db import ConflictError, Documents, Store, batch_ids, documents_in, iso_time
from dispatcher.store.models import CarpoolMatchingRow, CarpoolOfferRow, VolunteerRow, utcnow

OFFER_STATUSES = ("active", "withdrawn")


def offer_out(row: CarpoolOfferRow) -> dict[str, Any]:
    return {
        "driver_id": row.driver_id,
        "day": row.day.isoformat(),
        "status": row.status,
        "offer": row.data,
        "created_at": iso_time(row.created_at),
        "updated_at": iso_time(row.updated_at),
    }


class Mobility:
    """Offers, volunteers and matchings in ``store`` (cheap to build: it holds only the store)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.volunteers = Documents(store, VolunteerRow, "volunteer", "/v1/volunteers")
        # the volunteers under the names the service calls them by (see Documents)
        self.list_volunteers, self.get_volunteer = self.volunteers.list, self.volunteers.get
        self.put_volunteer, self.delete_volunteer = self.volunteers.put, self.volunteers.delete

    # ---- carpool offers -------------------------------------------------------------------
    def add_offers(
        self,
        day: date,
        dicts: Sequence[Mapping[str, Any]],
        owner: int | None = None,
        where: str = "body.offers",
    ) -> list[str]:
        """Add validated offer dicts to an open day, all or nothing; returns their driver ids."""
        ids = batch_ids(dicts, "driver_id", "driver id", where)
        with self.store.lock_day(day) as (s, row):
            if row.status != "open":
                raise InputError(f"{day.isoformat()} is closed", "day")
            q = select(CarpoolOfferRow.driver_id).where(
                CarpoolOfferRow.day == day, CarpoolOfferRow.driver_id.in_(ids)
            )
            existing = set(s.execute(q).scalars())
            for k, oid in enumerate(ids):
                if oid in existing:
                    raise ConflictError(
                        f"carpool offer {oid!r} already exists on {day.isoformat()} "
                        "(a driver making two trips gives each its own id)",
                        f"{where}[{k}].driver_id",
                    )
            for d in dicts:
                s.add(
                    CarpoolOfferRow(
                        day=day,
                        driver_id=str(d["driver_id"]),
                        status="active",
                        data=dict(d),
                        owner_key_id=owner,
                    )
                )
            row.version += 1
            try:
                s.flush()
            except IntegrityError:
                raise ConflictError(
                    "an offer with one of these driver ids was added at the same time", where
                ) from None
        return ids

    def list_offers(self, day: date, status: str | None = None) -> list[dict[str, Any]]:
        with self.store.read() as s:
            self.store.day_row(s, day)
            q = select(CarpoolOfferRow).where(CarpoolOfferRow.day == day)
            if status:
                q = q.where(CarpoolOfferRow.status == status)
            return [offer_out(r) for r in s.execute(q.order_by(CarpoolOfferRow.pk)).scalars()]

    def get_offer(self, day: date, driver_id: str) -> dict[str, Any]:
        with self.store.read() as s:
            return offer_out(self._offer_row(s, day, driver_id))

    def withdraw_offer(self, day: date, driver_id: str) -> dict[str, Any]:
        """Withdraw an offer (the row stays, as withdrawn); withdrawing twice is a no-op."""
        with self.store.lock_day(day) as (s, row):
            offer = self._offer_row(s, day, driver_id)
            if offer.status != "withdrawn":
                offer.status, offer.updated_at = "withdrawn", utcnow()
                row.version += 1
            return offer_out(offer)

    @staticmethod
    def _offer_row(s: Session, day: date, driver_id: str) -> CarpoolOfferRow:
        q = select(CarpoolOfferRow).where(
            CarpoolOfferRow.day == day, CarpoolOfferRow.driver_id == driver_id
        )
        row = s.execute(q).scalar_one_or_none()
        if row is None:
            raise NotFoundError(f"no carpool offer {driver_id!r} on {day.isoformat()}", "driver_id")
        return row

    @staticmethod
    def active_offers_in(s: Session, day: date) -> list[dict[str, Any]]:
        """The day's active offer dicts, read inside an open session (a plan job's snapshot)."""
        q = (
            select(CarpoolOfferRow)
            .where(CarpoolOfferRow.day == day, CarpoolOfferRow.status == "active")
            .order_by(CarpoolOfferRow.pk)
        )
        return [r.data for r in s.execute(q).scalars()]

    # ---- volunteers (listed, read, written and deleted by self.volunteers: see __init__) ----
    @staticmethod
    def volunteers_in(s: Session) -> list[dict[str, Any]]:
        """Every volunteer dict, read inside an open session (a plan job's snapshot)."""
        return documents_in(s, VolunteerRow)

    # ---- matchings ------------------------------------------------------------------------
    def save_matching(
        self, day: date, version: int, result: Mapping[str, Any], created_by: int | None
    ) -> dict[str, Any]:
        """Store ``result`` as the day's last matching (computed at the day's ``version``). Two
        matchings of a day saved at once: the later commit wins (the first insert of the
        other is retried as an update)."""
        for attempt in range(2):
            try:
                with self.store.write() as s:
                    current = self.store.day_row(s, day).version
                    row = s.get(CarpoolMatchingRow, day)
                    if row is None:
                        row = CarpoolMatchingRow(day=day)
                        s.add(row)
                    row.version, row.result, row.created_by, row.created_at = (
                        version,
                        dict(result),
                        created_by,
                        utcnow(),
                    )
                    s.flush()
                    return {
                        **row.result,
                        "version": row.version,
                        "created_at": iso_time(row.created_at),
                        "stale": version != current,
                    }
            except IntegrityError:
                if attempt:
                    raise ConflictError(
                        "another matching of the day was saved at the same time; run it again",
                        "day",
                    ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def get_matching(self, day: date) -> dict[str, Any]:
        """The day's last matching, ``stale`` when the day changed since (requests or offers)."""
        with self.store.read() as s:
            current = self.store.day_row(s, day).version
            row = s.get(CarpoolMatchingRow, day)
            if row is None:
                raise NotFoundError(
                    f"no carpool matching yet on {day.isoformat()}; "
                    f"run one (POST /v1/days/{day.isoformat()}/carpool-matches)",
                    "carpool-matches",
                )
            return {
                **row.result,
                "version": row.version,
                "created_at": iso_time(row.created_at),
                "stale": row.version != current,
            }
