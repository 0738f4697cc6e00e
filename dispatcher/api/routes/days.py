"""Service days, their requests (batch JSON or CSV), plan jobs, plans and scenarios."""

from __future__ import annotations

import json
import re
import tempfile
from datetime import date
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from dispatcher.api.auth import OperatorKey, PlannerKey
from dispatcher.api.deps import ServiceDep
from dispatcher.api.errors import validation_error
from dispatcher.api.routes import (
    AUTH_ERRORS,
    NO_PERSONAL_DATA,
    NOT_FOUND,
    ReturnTripChoice,
    json_errors,
    personal,
)
from dispatcher.api.schemas import (
    GEOJSON_EXAMPLE,
    PLAN_EXAMPLE,
    REQUEST_BATCH_EXAMPLE,
    CancelledOut,
    CheckOut,
    DayIn,
    DayOut,
    ErrorOut,
    JobOut,
    PlanJobIn,
    RequestBatchIn,
    RequestOut,
    ScenarioIn,
    SubmittedOut,
)
from dispatcher.errors import InputError
from dispatcher.service.privacy import View

router = APIRouter(prefix="/v1", responses={**AUTH_ERRORS, **NOT_FOUND})
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "Conflicts with what is stored"}
}
CSV_EXAMPLE = (
    "id,pickup,dropoff,seats,pickup_from,pickup_to,arrive_by\n"
    "r1,Méaulte,Albert,1,08:00,08:15,\n"
    "r2,Acheux-en-Amiénois,Albert,2,,,09:30\n"
)


# ---- service days ---------------------------------------------------------------------------


@router.get(
    "/days",
    response_model=list[DayOut],
    tags=["days"],
    summary="The service calendar",
    openapi_extra=personal(NO_PERSONAL_DATA),
)
def list_days(service: ServiceDep, _: PlannerKey) -> list[dict[str, Any]]:
    return service.days.calendar()


@router.put(
    "/days/{day}",
    response_model=DayOut,
    tags=["days"],
    summary="Open (or close) a service day",
    responses={201: {"model": DayOut, "description": "Day opened"}},
)
def put_day(
    day: date, body: DayIn, service: ServiceDep, response: Response, _: OperatorKey
) -> dict[str, Any]:
    out, created = service.days.put(day, body.status, body.note)
    response.status_code = 201 if created else 200
    return out


@router.get(
    "/days/{day}",
    response_model=DayOut,
    tags=["days"],
    summary="A service day: status, version, request counts",
    openapi_extra=personal(NO_PERSONAL_DATA),
)
def get_day(day: date, service: ServiceDep, _: PlannerKey) -> dict[str, Any]:
    return service.days.get(day)


# ---- requests -------------------------------------------------------------------------------


def _parse_batch(raw: bytes, content_type: str) -> list[dict[str, Any]]:
    if content_type.startswith("text/csv") or content_type.startswith("application/csv"):
        from dispatcher.io.tables import requests_from_csv, strip_lines

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "requests.csv"
            path.write_bytes(raw)
            try:
                rows = strip_lines(requests_from_csv(path))
            except InputError as e:
                raise InputError(e.message, e.where.replace(str(path), "body")) from None
        for row in rows:
            w = row.get("pickup_window")
            if isinstance(w, list) and len(w) == 2:
                row["pickup_window"] = {"start": w[0], "end": w[1]}
        try:
            batch = RequestBatchIn.model_validate({"requests": rows})
        except ValidationError as e:
            raise validation_error(e, ("body",)) from None
        return [r.model_dump(exclude_none=True) for r in batch.requests]
    if content_type and not content_type.startswith("application/json"):
        raise InputError(
            f"unsupported content type {content_type!r}; send application/json or text/csv",
            "header Content-Type",
        )
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"invalid JSON: {e}", "body") from None
    if isinstance(data, list):
        data = {"requests": data}
    try:
        batch = RequestBatchIn.model_validate(data)
    except ValidationError as e:
        raise validation_error(e, ("body",)) from None
    return [r.model_dump(exclude_none=True) for r in batch.requests]


@router.post(
    "/days/{day}/requests",
    status_code=201,
    response_model=SubmittedOut,
    tags=["requests"],
    responses=CONFLICT,
    summary="Submit a batch of requests (JSON or CSV), all or nothing",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/RequestBatchIn"},
                    "example": REQUEST_BATCH_EXAMPLE,
                },
                "text/csv": {"schema": {"type": "string"}, "example": CSV_EXAMPLE},
            },
        }
    },
)
async def submit_requests(
    day: date, request: Request, service: ServiceDep, key: OperatorKey
) -> dict[str, Any]:
    raw = await request.body()
    dicts = _parse_batch(raw, request.headers.get("content-type", "application/json").lower())
    ids = await run_in_threadpool(service.days.submit_requests, day, dicts, key)
    return {"day": day.isoformat(), "created": len(ids), "ids": ids}


@router.get(
    "/days/{day}/requests",
    response_model=list[RequestOut],
    tags=["requests"],
    summary="The requests of a day",
    openapi_extra=personal(View.REQUEST),
)
def list_requests(
    day: date,
    service: ServiceDep,
    key: OperatorKey,
    status: Literal["pending", "accepted", "refused", "cancelled", "no_show"] | None = Query(
        None, description="Only requests with this status"
    ),
) -> list[dict[str, Any]]:
    return service.days.list_requests(day, key, status=status)


@router.get(
    "/days/{day}/requests/{request_id}",
    response_model=RequestOut,
    tags=["requests"],
    summary="One request, with its promise or refusal",
    openapi_extra=personal(View.REQUEST),
)
def get_request(
    day: date, request_id: str, service: ServiceDep, key: OperatorKey
) -> dict[str, Any]:
    return service.days.get_request(day, request_id, key)


@router.delete(
    "/days/{day}/requests/{request_id}",
    response_model=CancelledOut,
    tags=["requests"],
    summary="Cancel a request (it leaves the day's plan; the row is kept as cancelled); its "
    "return trip is kept or cancelled",
)
def cancel_request(
    day: date,
    request_id: str,
    service: ServiceDep,
    key: OperatorKey,
    return_trip: ReturnTripChoice = "keep",
) -> dict[str, Any]:
    return service.days.cancel_request(day, request_id, key, return_trip=return_trip)


# ---- plans ----------------------------------------------------------------------------------


@router.post(
    "/days/{day}/plans",
    status_code=202,
    response_model=JobOut,
    tags=["plans"],
    summary="Plan the day's requests within a time limit, as a job to poll at /v1/jobs/{id}",
)
def plan_day(
    day: date, body: PlanJobIn, service: ServiceDep, response: Response, key: OperatorKey
) -> dict[str, Any]:
    limit = service.jobs.time_limit(body.time_limit_s)
    job = service.jobs.start_job("plan", day, {"time_limit_s": limit, "seed": body.seed}, key)
    response.headers["Location"] = f"/v1/jobs/{job['id']}"
    return job


@router.post(
    "/scenarios",
    status_code=202,
    response_model=JobOut,
    tags=["plans"],
    summary="Run a what-if plan of a day (another fleet, time limit, seed); the day's plan is "
    "untouched",
)
def run_scenario(
    body: ScenarioIn, service: ServiceDep, response: Response, key: PlannerKey
) -> dict[str, Any]:
    limit = service.jobs.time_limit(body.time_limit_s)
    params: dict[str, Any] = {"time_limit_s": limit, "seed": body.seed}
    if body.vehicles is not None:
        vehicles = [v.model_dump(exclude_none=True) for v in body.vehicles]
        for k, v in enumerate(vehicles):
            service.fleet.validate(v, f"body.vehicles[{k}]")
        params["vehicles"] = vehicles
    job = service.jobs.start_job("scenario", body.day, params, key)
    response.headers["Location"] = f"/v1/jobs/{job['id']}"
    return job


@router.get(
    "/jobs/{job_id}",
    response_model=JobOut,
    tags=["plans"],
    summary="A plan or scenario job: queued, running, done or failed",
    openapi_extra=personal(View.JOB),
)
def get_job(job_id: str, service: ServiceDep, key: PlannerKey) -> dict[str, Any]:
    return service.jobs.get(job_id, key)


@router.get(
    "/days/{day}/plan",
    tags=["plans"],
    summary="The day's current plan (schema dispatcher/plan/1)",
    responses={200: {"content": {"application/json": {"example": PLAN_EXAMPLE}}}},
    openapi_extra=personal(View.PLAN),
)
def get_plan(day: date, service: ServiceDep, key: PlannerKey) -> JSONResponse:
    return JSONResponse(service.plans.plan_json(day, key))


@router.get(
    "/days/{day}/plan/geojson",
    tags=["plans"],
    summary="The day's routes along the roads, visits and refusals, as GeoJSON",
    responses={200: {"content": {"application/geo+json": {"example": GEOJSON_EXAMPLE}}}},
    openapi_extra=personal(View.GEOJSON),
)
def get_plan_geojson(day: date, service: ServiceDep, key: PlannerKey) -> JSONResponse:
    return JSONResponse(service.plans.geojson(day, key), media_type="application/geo+json")


@router.get(
    "/days/{day}/plan/manifest",
    tags=["plans"],
    response_class=PlainTextResponse,
    summary="Drivers' manifests as CSV (one row per visit; all vehicles, or one); a planner reads "
    "it without names and phone numbers, with pseudonyms and communes",
    responses={
        **json_errors({**AUTH_ERRORS, **NOT_FOUND}),
        200: {
            "content": {
                "text/csv": {
                    "example": "vehicle_id,order,kind,time,place,location_id,request_id,name,phone,"
                    "party_seats,"
                    "party_wheelchairs,load_seats,load_wheelchairs\nbus-1,1,pickup,2030-01-07T08:00:00+01:00,"
                    "Méaulte,80523,r1,Mme Martin,0322000000,1,0,1,0\n"
                }
            }
        },
    },
    openapi_extra=personal(View.MANIFEST_ROW),
)
def get_manifest(
    day: date,
    service: ServiceDep,
    key: PlannerKey,
    vehicle_id: str | None = Query(None, max_length=100, description="Only this vehicle"),
) -> PlainTextResponse:
    text = service.plans.manifest_csv(day, key, vehicle_id)
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", vehicle_id or "")
    name = f"manifest-{day.isoformat()}{'-' + safe if safe else ''}.csv"
    return PlainTextResponse(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/days/{day}/plan/check",
    response_model=CheckOut,
    tags=["plans"],
    summary="Check the day's plan independently of the solver",
    openapi_extra=personal(View.CHECK),
)
def check_plan(day: date, service: ServiceDep, key: PlannerKey) -> dict[str, Any]:
    return service.plans.check(day, key)
