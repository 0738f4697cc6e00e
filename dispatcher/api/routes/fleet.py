"""The fleet: vehicles and volunteer drivers' cars (kind minibus, car or volunteer)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from dispatcher.api.auth import OperatorKey, PlannerKey
from dispatcher.api.deps import ServiceDep
from dispatcher.api.routes import AUTH_ERRORS, NOT_FOUND, personal, same_id
from dispatcher.api.schemas import ErrorOut, VehicleIn
from dispatcher.service.privacy import View

router = APIRouter(prefix="/v1", tags=["fleet"], responses={**AUTH_ERRORS, **NOT_FOUND})


@router.get(
    "/vehicles",
    response_model=list[VehicleIn],
    summary="The fleet (a planner reads it without the drivers' names and phone numbers)",
    openapi_extra=personal(View.VEHICLE),
)
def list_vehicles(service: ServiceDep, key: PlannerKey) -> list[dict[str, Any]]:
    return service.fleet.listed(key)


@router.post(
    "/vehicles",
    status_code=201,
    response_model=VehicleIn,
    summary="Add a vehicle",
    responses={409: {"model": ErrorOut, "description": "The id is taken"}},
)
def create_vehicle(body: VehicleIn, service: ServiceDep, _: OperatorKey) -> dict[str, Any]:
    d = body.model_dump(exclude_none=True)
    service.fleet.put(d, create_only=True)
    return d


@router.get(
    "/vehicles/{vehicle_id}",
    response_model=VehicleIn,
    summary="One vehicle",
    openapi_extra=personal(View.VEHICLE),
)
def get_vehicle(vehicle_id: str, service: ServiceDep, key: PlannerKey) -> dict[str, Any]:
    return service.fleet.get(vehicle_id, key)


@router.put(
    "/vehicles/{vehicle_id}",
    response_model=VehicleIn,
    summary="Create or replace a vehicle",
    responses={201: {"model": VehicleIn, "description": "Created"}},
)
def put_vehicle(
    vehicle_id: str, body: VehicleIn, service: ServiceDep, response: Response, _: OperatorKey
) -> dict[str, Any]:
    same_id(vehicle_id, body.id)
    d = body.model_dump(exclude_none=True)
    created = service.fleet.put(d)
    response.status_code = 201 if created else 200
    return d


@router.delete(
    "/vehicles/{vehicle_id}",
    status_code=204,
    summary="Remove a vehicle (plans already made keep it)",
)
def delete_vehicle(vehicle_id: str, service: ServiceDep, _: OperatorKey) -> Response:
    service.fleet.delete(vehicle_id)
    return Response(status_code=204)
