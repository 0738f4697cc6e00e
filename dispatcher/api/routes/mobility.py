"""Carpool offers of a day and their matching to riders; volunteer drivers.

Offers are day-bound (a driver's trip on that day); volunteers are not (like the fleet's
vehicles, they give the half-days they drive). A plan job of a day plans the minibuses, the
volunteers and the day's offers together when there are any (``dispatcher.solver.mixed``).
Roles: the operator creates, replaces, withdraws and deletes; the planner reads and runs
matchings (a matching is advice: it changes no request, it is kept as the day's last one),
with pseudonyms and communes for the drivers and riders (``docs/privacy.md``).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Query, Response
from starlette.concurrency import run_in_threadpool

from dispatcher.api.auth import OperatorKey, PlannerKey
from dispatcher.api.deps import ServiceDep
from dispatcher.api.routes import AUTH_ERRORS, NOT_FOUND, personal, same_id
from dispatcher.api.schemas import (
    MATCHING_EXAMPLE,
    CarpoolMatchIn,
    CarpoolMatchingOut,
    CarpoolOfferBatchIn,
    CarpoolOfferOut,
    ErrorOut,
    OffersSubmittedOut,
    VolunteerIn,
)
from dispatcher.service.privacy import View

router = APIRouter(prefix="/v1", responses={**AUTH_ERRORS, **NOT_FOUND})
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "The id is taken"}
}


# ---- carpool offers -------------------------------------------------------------------------


@router.post(
    "/days/{day}/carpool-offers",
    status_code=201,
    response_model=OffersSubmittedOut,
    tags=["carpool"],
    responses=CONFLICT,
    summary='Add a batch of carpool offers to a day ({"offers": [...]} or the bare list), '
    "all or nothing",
)
async def submit_offers(
    day: date, body: CarpoolOfferBatchIn, service: ServiceDep, key: OperatorKey
) -> dict[str, Any]:
    dicts = [o.model_dump(exclude_none=True) for o in body.offers]
    ids = await run_in_threadpool(service.carpooling.submit_offers, day, dicts, key)
    return {"day": day.isoformat(), "created": len(ids), "ids": ids}


@router.get(
    "/days/{day}/carpool-offers",
    response_model=list[CarpoolOfferOut],
    tags=["carpool"],
    summary="The carpool offers of a day (a planner reads pseudonyms and communes)",
    openapi_extra=personal(View.OFFER),
)
def list_offers(
    day: date,
    service: ServiceDep,
    key: PlannerKey,
    status: Literal["active", "withdrawn"] | None = Query(
        None, description="Only offers with this status"
    ),
) -> list[dict[str, Any]]:
    return service.carpooling.list_offers(day, key, status)


@router.get(
    "/days/{day}/carpool-offers/{driver_id}",
    response_model=CarpoolOfferOut,
    tags=["carpool"],
    summary="One carpool offer (a planner names it by its pseudonym)",
    openapi_extra=personal(View.OFFER),
)
def get_offer(day: date, driver_id: str, service: ServiceDep, key: PlannerKey) -> dict[str, Any]:
    return service.carpooling.get_offer(day, driver_id, key)


@router.delete(
    "/days/{day}/carpool-offers/{driver_id}",
    response_model=CarpoolOfferOut,
    tags=["carpool"],
    summary="Withdraw a carpool offer (it leaves the day's next matchings and plans; the row is "
    "kept as withdrawn)",
)
def withdraw_offer(
    day: date, driver_id: str, service: ServiceDep, key: OperatorKey
) -> dict[str, Any]:
    return service.carpooling.withdraw_offer(day, driver_id, key)


# ---- matchings ------------------------------------------------------------------------------


@router.post(
    "/days/{day}/carpool-matches",
    response_model=CarpoolMatchingOut,
    tags=["carpool"],
    summary="Match the day's riders who accept carpools to the day's offers (most riders, then "
    "least detour)",
    responses={200: {"content": {"application/json": {"example": MATCHING_EXAMPLE}}}},
    openapi_extra=personal(View.MATCHING),
)
async def run_matching(
    day: date, service: ServiceDep, key: PlannerKey, body: CarpoolMatchIn | None = None
) -> dict[str, Any]:
    b = body or CarpoolMatchIn()
    return await run_in_threadpool(
        service.carpooling.run_matching, day, b.max_group, b.time_limit_s, b.statuses, key
    )


@router.get(
    "/days/{day}/carpool-matches",
    response_model=CarpoolMatchingOut,
    tags=["carpool"],
    summary="The day's last carpool matching (stale when requests or offers changed since)",
    responses={200: {"content": {"application/json": {"example": MATCHING_EXAMPLE}}}},
    openapi_extra=personal(View.MATCHING),
)
def get_matching(day: date, service: ServiceDep, key: PlannerKey) -> dict[str, Any]:
    return service.carpooling.get_matching(day, key)


# ---- volunteers -----------------------------------------------------------------------------


@router.get(
    "/volunteers",
    response_model=list[VolunteerIn],
    tags=["volunteers"],
    summary="The volunteer drivers (a planner reads pseudonyms and communes)",
    openapi_extra=personal(View.VOLUNTEER),
)
def list_volunteers(service: ServiceDep, key: PlannerKey) -> list[dict[str, Any]]:
    return service.carpooling.list_volunteers(key)


@router.post(
    "/volunteers",
    status_code=201,
    response_model=VolunteerIn,
    tags=["volunteers"],
    responses=CONFLICT,
    summary="Add a volunteer driver",
)
def create_volunteer(body: VolunteerIn, service: ServiceDep, _: OperatorKey) -> dict[str, Any]:
    d = body.model_dump(exclude_none=True)
    service.carpooling.put_volunteer(d, create_only=True)
    return d


@router.get(
    "/volunteers/{volunteer_id}",
    response_model=VolunteerIn,
    tags=["volunteers"],
    summary="One volunteer driver (a planner names it by its pseudonym)",
    openapi_extra=personal(View.VOLUNTEER),
)
def get_volunteer(volunteer_id: str, service: ServiceDep, key: PlannerKey) -> dict[str, Any]:
    return service.carpooling.get_volunteer(volunteer_id, key)


@router.put(
    "/volunteers/{volunteer_id}",
    response_model=VolunteerIn,
    tags=["volunteers"],
    summary="Create or replace a volunteer driver",
    responses={201: {"model": VolunteerIn, "description": "Created"}},
)
def put_volunteer(
    volunteer_id: str, body: VolunteerIn, service: ServiceDep, response: Response, _: OperatorKey
) -> dict[str, Any]:
    same_id(volunteer_id, body.id)
    d = body.model_dump(exclude_none=True)
    created = service.carpooling.put_volunteer(d)
    response.status_code = 201 if created else 200
    return d


@router.delete(
    "/volunteers/{volunteer_id}",
    status_code=204,
    tags=["volunteers"],
    summary="Remove a volunteer driver (plans already made keep their routes)",
)
def delete_volunteer(volunteer_id: str, service: ServiceDep, _: OperatorKey) -> Response:
    service.carpooling.delete_volunteer(volunteer_id)
    return Response(status_code=204)
