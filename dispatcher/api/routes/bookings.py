"""Real-time bookings: a promise (201) or a refusal with its reason (409); cancel; read your own."""

from __future__ import annotations

import secrets
from datetime import date
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from dispatcher.api.auth import PortalKey
from dispatcher.api.deps import ServiceDep
from dispatcher.api.routes import AUTH_ERRORS, NOT_FOUND, ReturnTripChoice, personal
from dispatcher.api.schemas import (
    BookingIn,
    CancelledOut,
    ErrorOut,
    PromiseOut,
    RefusalOut,
    RequestOut,
)
from dispatcher.service.privacy import View

router = APIRouter(prefix="/v1", tags=["bookings"], responses={**AUTH_ERRORS, **NOT_FOUND})


@router.post(
    "/days/{day}/bookings",
    status_code=201,
    response_model=PromiseOut,
    summary="Book a trip now: a promise (vehicle, planned times, promised windows) or a refusal "
    "with its reason",
    responses={
        200: {
            "model": PromiseOut,
            "description": "The same booking was already accepted (a replayed request): its "
            "promise",
        },
        409: {
            "model": RefusalOut | ErrorOut,
            "description": "Refused, with the reason and alternatives (RefusalOut); or the id is "
            "taken by another request (ErrorOut)",
        },
    },
    openapi_extra=personal(View.BOOKING_ANSWER),
)
def create_booking(day: date, body: BookingIn, service: ServiceDep, key: PortalKey) -> JSONResponse:
    d = body.model_dump(exclude_none=True)
    d["id"] = d.get("id") or f"b-{secrets.token_hex(6)}"
    status, out = service.bookings.book(day, d, key)
    return JSONResponse(out, status_code=status)


@router.get(
    "/days/{day}/bookings",
    response_model=list[RequestOut],
    summary="Bookings of a day (a portal key sees its own)",
    openapi_extra=personal(View.REQUEST),
)
def list_bookings(day: date, service: ServiceDep, key: PortalKey) -> list[dict[str, Any]]:
    return service.bookings.list_bookings(day, key)


@router.get(
    "/days/{day}/bookings/{booking_id}",
    response_model=RequestOut,
    summary="One booking, with its promise or refusal",
    openapi_extra=personal(View.REQUEST),
)
def get_booking(day: date, booking_id: str, service: ServiceDep, key: PortalKey) -> dict[str, Any]:
    return service.bookings.get(day, booking_id, key)


@router.delete(
    "/days/{day}/bookings/{booking_id}",
    response_model=CancelledOut,
    summary="Cancel a booking (it leaves the day's plan); its return trip is kept or cancelled",
)
def cancel_booking(
    day: date,
    booking_id: str,
    service: ServiceDep,
    key: PortalKey,
    return_trip: ReturnTripChoice = "keep",
) -> dict[str, Any]:
    return service.bookings.cancel(day, booking_id, key, return_trip)
