"""Tickets: the check of a code on board, cards and passes, a booking's payment state."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter

from dispatcher.api.auth import DriverKey, OperatorKey
from dispatcher.api.deps import ServiceDep
from dispatcher.api.routes import AUTH_ERRORS, NOT_FOUND
from dispatcher.api.schemas import CardIn, PaymentIn, TicketCheckIn, TicketCheckOut

router = APIRouter(prefix="/v1", tags=["tickets"], responses={**AUTH_ERRORS, **NOT_FOUND})


@router.post(
    "/tickets/check",
    response_model=TicketCheckOut,
    summary="Check a ticket's code on board: valid, already used, wrong day, cancelled or forged "
    "(recorded; a valid trip ticket is then used, a card loses a trip); an operator, or a "
    "driver for its own day and vehicle",
)
def check_ticket(body: TicketCheckIn, service: ServiceDep, key: DriverKey) -> dict[str, Any]:
    return service.tickets.check(body.code, body.day, key, body.vehicle_id)


@router.post(
    "/cards",
    status_code=201,
    summary="Issue a card of trips or a pass of the fare rules (its signed code and QR code)",
)
def issue_card(body: CardIn, service: ServiceDep, key: OperatorKey) -> dict[str, Any]:
    return service.tickets.issue_card(body.product, body.valid_from)


@router.put(
    "/days/{day}/bookings/{booking_id}/payment",
    summary="Set a booking's payment state (what a payment integration says; no provider is "
    "called)",
)
def set_payment(
    day: date, booking_id: str, body: PaymentIn, service: ServiceDep, key: OperatorKey
) -> dict[str, Any]:
    return service.tickets.set_payment(day, booking_id, body.payment)
