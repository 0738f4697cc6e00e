"""The fleet: vehicles and volunteer drivers' cars (kind minibus, car or volunteer)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from dispatcher.api.auth import OperatorKey, PlannerKey
from dispatcher.api.routes import AUTH_ERRORS, NOT_FOUND
from dispatcher.api.schemas import ErrorOut, VehicleIn
from dispatcher.errors import InputError

router = APIRouter(prefix="/v1", tags=["fleet"], responses={**AUTH_ERRORS, **NOT_FOUND})


def _validated(request: Request, body: VehicleIn, where: str = "body") -> dict[str, Any]:
    d = body.model_dump(exclude_none=True)
    request.app.state.dispatch.validate_vehicle(d, where)
    return d


@router.get("/vehicles", response_model=list[VehicleIn], summary="The fleet")
def list_vehicles(request: Request, _: PlannerKey) -> list[dict[str, Any]]:
    return request.app.state.dispatch.store.list_vehicles()


@router.post("/vehicles", status_code=201, response_model=VehicleIn, summary="Add a vehicle",
             responses={409: {"model": ErrorOut, "description": "The id is taken"}})
def create_vehicle(body: VehicleIn, request: Request, _: OperatorKey) -> dict[str, Any]:
    d = _validated(request, body)
    request.app.state.dispatch.store.put_vehicle(d, create_only=True)
    return d


@router.get("/vehicles/{vehicle_id}", response_model=VehicleIn, summary="One vehicle")
def get_vehicle(vehicle_id: str, request: Request, _: PlannerKey) -> dict[str, Any]:
    return request.app.state.dispatch.store.get_vehicle(vehicle_id)


@router.put("/vehicles/{vehicle_id}", response_model=VehicleIn, summary="Create or replace a vehicle",
            responses={201: {"model": VehicleIn, "description": "Created"}})
def put_vehicle(vehicle_id: str, body: VehicleIn, request: Request, response: Response, _: OperatorKey) -> dict[str, Any]:
    if body.id != vehicle_id:
        raise InputError(f"the body's id {body.id!r} differs from the path's {vehicle_id!r}", "body.id")
    d = _validated(request, body)
    created = request.app.state.dispatch.store.put_vehicle(d)
    response.status_code = 201 if created else 200
    return d


@router.delete("/vehicles/{vehicle_id}", status_code=204, summary="Remove a vehicle (plans already made keep it)")
def delete_vehicle(vehicle_id: str, request: Request, _: OperatorKey) -> Response:
    request.app.state.dispatch.store.delete_vehicle(vehicle_id)
    return Response(status_code=204)
