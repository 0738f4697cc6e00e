"""Health, version, and who am I."""

from __future__ import annotations

from fastapi import APIRouter

from dispatcher import __version__
from dispatcher.api.auth import AnyKey
from dispatcher.api.deps import ServiceDep
from dispatcher.api.routes import AUTH_ERRORS, NO_PERSONAL_DATA, personal
from dispatcher.api.schemas import HealthOut, VersionOut, WhoAmIOut
from dispatcher.store import current_revision

router = APIRouter(tags=["system"])


@router.get(
    "/health",
    response_model=HealthOut,
    summary="Liveness and database check (no key needed)",
    openapi_extra=personal(NO_PERSONAL_DATA),
)
def health(service: ServiceDep) -> HealthOut:
    service.store.ping()
    return HealthOut(status="ok", database="ok")


@router.get(
    "/version",
    response_model=VersionOut,
    summary="Versions of the engine, the API and the database schema (no key needed)",
    openapi_extra=personal(NO_PERSONAL_DATA),
)
def version(service: ServiceDep) -> VersionOut:
    store = service.store
    return VersionOut(
        version=__version__,
        api="v1",
        database_revision=current_revision(store.engine),
        database=store.engine.dialect.name,
    )


@router.get(
    "/v1/me",
    response_model=WhoAmIOut,
    responses=AUTH_ERRORS,
    summary="The calling key's role (and a driver key's vehicle and day)",
    openapi_extra=personal(NO_PERSONAL_DATA),
)
def me(key: AnyKey) -> WhoAmIOut:
    return WhoAmIOut(
        id=key.id,
        role=key.role,
        name=key.name,
        prefix=key.prefix,
        vehicle_id=key.vehicle_id,
        day=key.day,
    )
