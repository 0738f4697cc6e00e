"""API keys with roles. A key is sent as ``X-API-Key: <key>`` or ``Authorization: Bearer <key>``.

Roles: ``operator`` (everything), ``portal`` (create, cancel and read its own bookings),
``planner`` (read days, the fleet and plans; run scenarios), ``driver`` (a key tied to one
vehicle of one day: its events and its live view; the service refuses it any other vehicle or
day with 403). No key or an unknown key: 401; a role that does not allow the call: 403; in both
cases before anything is read or written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader

from dispatcher.api.deps import ServiceDep
from dispatcher.errors import DispatcherError
from dispatcher.store import KeyInfo

api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="An API key created by `dispatcher keys create --role ...`.",
)


class Unauthorized(DispatcherError):
    http_status = 401


class Forbidden(DispatcherError):
    http_status = 403


def current_key(
    request: Request,
    service: ServiceDep,
    x_api_key: Annotated[str | None, Depends(api_key_header)] = None,
) -> KeyInfo:
    token = x_api_key
    if not token:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            token = auth[7:].strip()
    if not token:
        raise Unauthorized(
            "no API key; send it as the X-API-Key header (or Authorization: Bearer)",
            "header X-API-Key",
        )
    key = service.store.authenticate(token)
    if key is None:
        raise Unauthorized("unknown or revoked API key", "header X-API-Key")
    return key


def require(*roles: str) -> Callable[..., KeyInfo]:
    """A dependency: the caller's key, if its role is one of ``roles`` (operator always is)."""
    allowed = set(roles) | {"operator"}

    def dependency(key: Annotated[KeyInfo, Depends(current_key)]) -> KeyInfo:
        if key.role not in allowed:
            raise Forbidden(
                f"the {key.role} role may not do this (allowed: {', '.join(sorted(allowed))})",
                "role",
            )
        return key

    return dependency


OperatorKey = Annotated[KeyInfo, Depends(require())]
PlannerKey = Annotated[KeyInfo, Depends(require("planner"))]
PortalKey = Annotated[KeyInfo, Depends(require("portal"))]
DriverKey = Annotated[KeyInfo, Depends(require("driver"))]
LiveKey = Annotated[KeyInfo, Depends(require("driver", "planner"))]
AnyKey = Annotated[KeyInfo, Depends(current_key)]
