"""Personal data (operator only): a person's data exported or erased, by phone number or rider
id, and the access log of reads of personal data. See ``docs/privacy.md``.

The phone number travels in the body, never in the URL (addresses end up in logs).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from dispatcher.api.auth import OperatorKey
from dispatcher.api.deps import ServiceDep
from dispatcher.api.routes import AUTH_ERRORS, personal
from dispatcher.api.schemas import AccessEntryOut, ErasureOut, PersonalDataOut, RiderIn

router = APIRouter(prefix="/v1/privacy", tags=["personal data"], responses=AUTH_ERRORS)


@router.post(
    "/export",
    response_model=PersonalDataOut,
    response_model_by_alias=True,
    summary="Everything stored about a person, by phone number or rider id (right of access)",
    openapi_extra=personal("personal data"),
)
async def export(body: RiderIn, service: ServiceDep, key: OperatorKey) -> dict[str, Any]:
    return await run_in_threadpool(service.personal_data.export, key, body.phone, body.rider_id)


@router.post(
    "/erase",
    response_model=ErasureOut,
    summary="Forget a person, by phone number or rider id: trips to come cancelled, every "
    "stored copy pseudonymised (right to erasure)",
    openapi_extra=personal("none"),
)
async def erase(body: RiderIn, service: ServiceDep, key: OperatorKey) -> dict[str, Any]:
    return await run_in_threadpool(service.personal_data.erase, key, body.phone, body.rider_id)


@router.get(
    "/access-log",
    response_model=list[AccessEntryOut],
    summary="The reads of personal data (newest first): who, what, when; persons by rider id",
    openapi_extra=personal("access log"),
)
def access_log(
    service: ServiceDep,
    _: OperatorKey,
    since: Annotated[datetime | None, Query(description="From this time on (ISO 8601)")] = None,
    rider_id: str | None = Query(
        None, pattern=r"^rdr-[0-9a-f]{16}$", description="Only the reads of this person's data"
    ),
    limit: int = Query(1000, ge=1, le=10000),
) -> list[dict[str, Any]]:
    return service.privacy.access_log(since, rider_id, limit)
