"""Real-time bookings: a promise (201) or a refusal with its reason (409); cancel; read your own."""

from __future__ import annotations

import secrets
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from dispatcher.api.auth import PortalKey
from dispatcher.api.routes import AUTH_ERRORS, NOT_FOUND
from dispatcher.api.schemas import BookingIn, PromiseOut, RefusalOut, RequestOut
from dispatcher.store import KeyInfo

router = APIRouter(prefix="/v1", tags=["bookings"], responses={**AUTH_ERRORS, **NOT_FOUND})


def _owner(key: KeyInfo) -> int | None:
    return key.id if key.role == "portal" else None


@router.post(
    "/days/{day}/bookings", status_code=201, response_model=PromiseOut,
    summary="Book a trip now: a promise (vehicle, planned times, promised windows) or a refusal with its reason",
    responses={
        200: {"model": PromiseOut, "description": "The same booking was already accepted (a replayed request): its promise"},
        409: {"model": RefusalOut, "description": "Refused, with the reason and alternatives; or the id is taken"},
    },
)
def create_booking(day: date, body: BookingIn, request: Request, key: PortalKey) -> JSONResponse:
    d = body.model_dump(exclude_none=True)
    d["id"] = d.get("id") or f"b-{secrets.token_hex(6)}"
    status, out = request.app.state.dispatch.book(day, d, key)
    return JSONResponse(out, status_code=status)


@router.get("/days/{day}/bookings", response_model=list[RequestOut], summary="Bookings of a day (a portal key sees its own)")
def list_bookings(day: date, request: Request, key: PortalKey) -> list[dict[str, Any]]:
    return request.app.state.dispatch.store.list_requests(day, source="booking", owner=_owner(key))


@router.get("/days/{day}/bookings/{booking_id}", response_model=RequestOut, summary="One booking, with its promise or refusal")
def get_booking(day: date, booking_id: str, request: Request, key: PortalKey) -> dict[str, Any]:
    return request.app.state.dispatch.store.get_request(day, booking_id, source="booking", owner=_owner(key))


@router.delete("/days/{day}/bookings/{booking_id}", response_model=RequestOut, summary="Cancel a booking (it leaves the day's plan)")
def cancel_booking(day: date, booking_id: str, request: Request, key: PortalKey) -> dict[str, Any]:
    return request.app.state.dispatch.cancel_request(day, booking_id, key, source="booking")
