"""Tickets: an accepted booking's trip ticket (issued in the booking's transaction), cards and
passes, their check on board (offline verdict of ``dispatcher.fares.tickets``, then recorded:
the trip ticket marked used, a trip taken off the card), their voiding with their booking, and
the payment state a payment integration sets. No payment provider is called.

The signing key: ``Settings.ticket_secret()``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from dispatcher.errors import ForbiddenError, InputError, NotFoundError
from dispatcher.fares.pricing import Fare
from dispatcher.fares.tickets import (
    Claim,
    TicketState,
    check_code,
    make_code,
    new_serial,
    qr_svg,
    read_code,
)
from dispatcher.service.context import Context
from dispatcher.store import KeyInfo
from dispatcher.store.models import TicketRow, utcnow
from dispatcher.store.tickets import PAYMENTS, TicketStore


def _state(row: TicketRow | None) -> TicketState | None:
    if row is None:
        return None
    return TicketState(
        cancelled=row.status == "cancelled",
        used=row.used_at is not None,
        trips_left=row.trips_left,
        valid_to=row.valid_to,
    )


class Tickets:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.store = TicketStore(ctx.store)

    @property
    def key(self) -> bytes:
        return self.ctx.ticket_key

    def code_of(self, row: TicketRow) -> str:
        day = row.day if row.kind == "T" else row.valid_from
        return make_code(self.key, Claim(row.kind, row.serial, day, row.passengers))

    def view(self, row: TicketRow, qr: bool = False) -> dict[str, Any]:
        """A ticket as its holder reads it (with its QR code as SVG when ``qr``)."""
        code = self.code_of(row)
        out: dict[str, Any] = {
            "code": code,
            "kind": {"T": "trip", "C": "card", "P": "pass"}[row.kind],
            "product": row.product,
            "passengers": row.passengers,
            "payment": row.payment,
            "status": row.status,
        }
        if row.kind == "C":
            out["trips_left"] = row.trips_left
        if row.kind == "P":
            out["valid_from"] = row.valid_from.isoformat() if row.valid_from else None
            out["valid_to"] = row.valid_to.isoformat() if row.valid_to else None
        if qr:
            out["qr_svg"] = qr_svg(code)
        return out

    # ---- issuing ------------------------------------------------------------------------
    def issue(
        self, s: Any, day: date, rid: str, fare: Fare, owner: int | None, fresh: bool = False
    ) -> dict[str, Any]:
        """The trip ticket of an accepted request, in the transaction ``s`` that accepts it: the
        one it holds if still valid for as many passengers (a plan job re-planning the day keeps
        the riders' codes), else a new one (the others voided). ``fresh``: the request is new to
        the day (its row is being added in ``s``; request rows are never deleted), so it has no
        ticket to look for or to void."""
        row = None if fresh else self.store.latest_for_update(s, day, rid)
        if row is not None and row.status == "valid" and row.passengers == fare.passengers:
            row.product, row.category, row.amount_cents = (
                fare.product,
                fare.category,
                fare.amount_cents,
            )
            return {"code": self.code_of(row), "payment": row.payment, "status": row.status}
        if not fresh:
            self.store.void(s, day, [rid])
        row = self.store.add(
            s,
            serial=new_serial(),
            kind="T",
            day=day,
            request_id=rid,
            owner_key_id=owner,
            product=fare.product,
            category=fare.category,
            passengers=fare.passengers,
            amount_cents=fare.amount_cents,
            payment="unpaid",
            status="valid",
            created_at=utcnow(),
        )
        return {"code": self.code_of(row), "payment": row.payment, "status": row.status}

    def issue_card(self, product: str, valid_from: date | None = None) -> dict[str, Any]:
        """A card of trips or a pass of the fare rules' ``product`` (a pass from ``valid_from``,
        default today, for its days of validity)."""
        p = self.ctx.fares.product(product, "product")
        if p.kind not in ("card", "pass"):
            raise InputError(f"{product!r} is a {p.kind} ticket, not a card or a pass", "product")
        start = valid_from or self.ctx.now_local().date()
        with self.ctx.store.write() as s:
            row = self.store.add(
                s,
                serial=new_serial(),
                kind="C" if p.kind == "card" else "P",
                product=p.id,
                category="",
                passengers=1,
                amount_cents=p.price_cents,
                payment="unpaid",
                status="valid",
                trips_left=p.trips if p.kind == "card" else None,
                valid_from=start if p.kind == "pass" else None,
                valid_to=start + timedelta(days=p.valid_days - 1) if p.kind == "pass" else None,
                created_at=utcnow(),
            )
        return self.view(row, qr=True)

    def void(self, s: Any, day: date, request_ids: list[str]) -> int:
        return self.store.void(s, day, request_ids)

    # ---- reading ------------------------------------------------------------------------
    def of_request(self, day: date, rid: str, qr: bool = False) -> dict[str, Any] | None:
        row = self.store.of_request(day, rid)
        return None if row is None else self.view(row, qr)

    def codes_of_day(self, day: date) -> dict[str, str]:
        """Request id -> the code expected on board (the day's valid trip tickets)."""
        return {str(r.request_id): self.code_of(r) for r in self.store.of_day(day) if r.request_id}

    # ---- on board -----------------------------------------------------------------------
    def check(
        self,
        code: str,
        day: date | None = None,
        key: KeyInfo | None = None,
        vehicle_id: str | None = None,
    ) -> dict[str, Any]:
        """The verdict on ``code`` for ``day`` (default today), recorded; a valid trip ticket is
        marked used, a valid card loses a trip. A driver's key checks for its own day and
        vehicle only."""
        if key is not None and key.role == "driver":
            if day is not None and day != key.day:
                raise ForbiddenError(
                    f"this driver key is for {key.day}, not {day.isoformat()}", "body.day"
                )
            day, vehicle_id = key.day, key.vehicle_id
        on = day or self.ctx.now_local().date()
        claim = read_code(self.key, code)
        with self.ctx.store.write() as s:
            row = self.store.for_update(s, claim.serial) if claim is not None else None
            verdict = check_code(self.key, code, on, lambda _serial: _state(row))
            if verdict.ok and row is not None:
                if row.kind == "T":
                    row.used_at = utcnow()
                elif row.kind == "C":
                    row.trips_left = (row.trips_left or 0) - 1
            self.store.record(
                s,
                day=on,
                serial=claim.serial if claim is not None else None,
                result=verdict.result,
                key_id=key.id if key is not None else None,
                role=key.role if key is not None else "cli",
                vehicle_id=vehicle_id,
            )
            out: dict[str, Any] = {
                "result": verdict.result,
                "ok": verdict.ok,
                "message": verdict.message,
                "message_en": verdict.message_en,
                "day": on.isoformat(),
            }
            if row is not None and verdict.result != "forged":
                out["ticket"] = {
                    k: v for k, v in self.view(row).items() if k not in ("code", "qr_svg")
                }
        return out

    # ---- payment ------------------------------------------------------------------------
    def set_payment(self, day: date, rid: str, payment: str) -> dict[str, Any]:
        """The payment state of a booking's ticket, as a payment integration says it."""
        if payment not in PAYMENTS:
            raise InputError(f"must be one of {', '.join(PAYMENTS)}, got {payment!r}", "payment")
        with self.ctx.store.write() as s:
            row = self.store.latest_for_update(s, day, rid)
            if row is None:
                raise NotFoundError(
                    f"no ticket for booking {rid!r} on {day.isoformat()}", "booking_id"
                )
            row.payment = payment
        return self.view(row)
