"""The day as it happens: vehicles' events (a driver key for its own vehicle and day, or an
operator), the live day, the outbox of rider notifications, a manual move of a request."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from dispatcher.api.auth import DriverKey, LiveKey, OperatorKey
from dispatcher.api.deps import ServiceDep
from dispatcher.api.event_schemas import (
    EventAnswerOut,
    EventIn,
    LiveOut,
    MoveIn,
    NotificationOut,
    StoredEventOut,
)
from dispatcher.api.routes import AUTH_ERRORS, NOT_FOUND, personal
from dispatcher.api.schemas import ErrorOut, PromiseOut
from dispatcher.service.privacy import View

router = APIRouter(prefix="/v1", tags=["live day"], responses={**AUTH_ERRORS, **NOT_FOUND})
CONFLICT: dict[int | str, dict[str, object]] = {
    409: {
        "model": ErrorOut,
        "description": "The plan contradicts it (e.g. a drop-off of someone not on board), the "
        "day has no plan, or the event_id is another event's",
    }
}


@router.post(
    "/days/{day}/vehicles/{vehicle_id}/events",
    status_code=201,
    response_model=EventAnswerOut,
    summary="A vehicle's event (position, arrived, departed, boarded, no_show, dropped_off, "
    "unavailable, delayed): stored, applied, and the vehicle's live schedule",
    responses={
        200: {"model": EventAnswerOut, "description": "A replay of a stored event"},
        **CONFLICT,
    },
)
def post_event(
    day: date, vehicle_id: str, body: EventIn, service: ServiceDep, key: DriverKey
) -> JSONResponse:
    status, out = service.operations.post(day, vehicle_id, body.model_dump(exclude_none=True), key)
    return JSONResponse(out, status_code=status)


@router.get(
    "/days/{day}/events",
    response_model=list[StoredEventOut],
    summary="The day's events in the order accepted (a driver key: its vehicle's)",
    openapi_extra=personal(View.EVENT),
)
def list_events(
    day: date,
    service: ServiceDep,
    key: DriverKey,
    vehicle_id: Annotated[str | None, Query(description="Only this vehicle's")] = None,
    after_seq: Annotated[int, Query(ge=0, description="Only events after this seq")] = 0,
) -> list[dict[str, Any]]:
    return service.operations.list_events(day, key, vehicle_id, after_seq)


@router.get(
    "/days/{day}/live",
    response_model=LiveOut,
    summary="The live day: vehicles (position, status, next stops with ETAs), alerts, bookings' "
    "states (a driver key: its vehicle's)",
    responses=CONFLICT,
    openapi_extra=personal(View.LIVE),
)
def get_live(day: date, service: ServiceDep, key: LiveKey) -> dict[str, Any]:
    return service.operations.live(day, key)


@router.get(
    "/days/{day}/notifications",
    response_model=list[NotificationOut],
    summary="The outbox of rider notifications (changed promised times, refusals after a "
    "promise); no gateway is called",
    openapi_extra=personal(View.NOTIFICATION),
)
def list_notifications(
    day: date,
    service: ServiceDep,
    key: OperatorKey,
    pending: Annotated[bool, Query(description="Only those not marked sent")] = False,
) -> list[dict[str, Any]]:
    return service.operations.notifications(day, key, pending)


@router.post(
    "/days/{day}/notifications/{notification_id}/sent",
    response_model=NotificationOut,
    summary="Mark a notification drained (sent by a gateway)",
)
def mark_sent(
    day: date, notification_id: int, service: ServiceDep, key: OperatorKey
) -> dict[str, Any]:
    return service.operations.mark_sent(day, notification_id, key)


@router.post(
    "/days/{day}/requests/{request_id}/move",
    response_model=PromiseOut,
    summary="Move a request not yet picked up to another vehicle (the same insertion and "
    "checker; 409 with the reason when it cannot be done)",
    responses=CONFLICT,
)
def move_request(
    day: date, request_id: str, body: MoveIn, service: ServiceDep, key: OperatorKey
) -> dict[str, Any]:
    return service.operations.move(day, request_id, body.vehicle_id, key)
