"""The FastAPI application: ``create_app(settings)``. Served by ``dispatcher serve`` (uvicorn).

Thin: routes, schemas and one typed dependency (``dispatcher.api.deps``) that hands each route
the application layer (``dispatcher.service``), which does the work. Errors are the project's
JSON body ``{error, where, message}`` (``dispatcher.api.errors``).
"""

from __future__ import annotations

import gc
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dispatcher import __version__
from dispatcher.api import errors, pages
from dispatcher.api.routes import (
    bookings,
    days,
    events,
    fleet,
    mobility,
    privacy,
    system,
    tickets,
)
from dispatcher.api.schemas import RequestBatchIn
from dispatcher.service.app import Service
from dispatcher.service.settings import Settings

log = logging.getLogger("dispatcher.api")

DESCRIPTION = """\
Dial-a-ride dispatch for the Pays du Coquelicot and its neighbours: service days, trip
requests (batch JSON or CSV), plan jobs, plans as JSON, GeoJSON and drivers' manifests,
real-time bookings (a promise or a refusal with its reason), the fleet; carpool offers of a day
and their matching to riders, volunteer drivers (a plan job plans minibuses, volunteers and the
day's carpools together when there are any).

**Keys.** Send an API key as `X-API-Key` (or `Authorization: Bearer`). Roles: `operator`
(everything), `portal` (create, cancel and read its own bookings), `planner` (read days, the
fleet, offers, volunteers and plans; run scenarios and carpool matchings). Create one with
`dispatcher keys create --role portal`.

**Personal data.** Each read answers what the key's role may see (docs/privacy.md): a planner
reads no name or phone number, pseudonyms for the riders' and private drivers' ids, communes
for their places; a portal its own bookings. Every GET route says which view it answers in
`x-personal-data`. Reads that show personal data are logged (`/v1/privacy/access-log`).

**Units.** Durations in seconds, distances in metres; times are local (Europe/Paris): `HH:MM`,
ISO 8601 with offset, or seconds since midnight. Places are stop ids, commune names or INSEE
codes, or `{lon, lat}` points; an unknown name is answered with the nearest names.

**Errors.** `{"error", "where", "message"}`: `where` is the path of the offending field.
"""


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.limit
                except ValueError:
                    too_big = False
                if too_big:
                    await self._refuse(send)
                    return
        seen = 0
        started = exceeded = False

        async def limited_receive() -> Message:
            nonlocal seen, exceeded
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.limit:
                    exceeded = True
                    raise _TooLarge()
            return msg

        async def tracking_send(msg: Message) -> None:
            nonlocal started
            if exceeded:  # the app's answer to a body cut short (FastAPI says 400) becomes 413
                return
            if msg["type"] == "http.response.start":
                started = True
            await send(msg)

        with suppress(_TooLarge):
            await self.app(scope, limited_receive, tracking_send)
        if exceeded and not started:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {
                "error": "TooLarge",
                "where": "body",
                "message": f"request body over the limit of {self.limit} bytes",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


def purge_at_start(svc: Service) -> None:
    """The retention period's purge, at server start (the counts are logged by the service). A
    failure is logged and the server serves: the next start, or ``dispatcher privacy purge``,
    tries again."""
    try:
        svc.personal_data.purge()
    except Exception:
        log.exception("the purge of personal data past the retention period failed")


def create_app(settings: Settings | None = None) -> FastAPI:
    """The application. Builds the ``Service`` (opens and migrates the store) at startup, closes
    it at shutdown. Tests may hand the routes another one through
    ``app.dependency_overrides[dispatcher.api.deps.get_service]``."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = Service(settings)
        if svc.jobs.interrupted:
            log.warning(
                "%d job(s) interrupted by the last stop were marked failed", svc.jobs.interrupted
            )
        svc.warm_up()
        purge_at_start(svc)
        # The territory and the road graph are millions of long-lived objects: moved out of the
        # collector's sight, a full collection no longer stalls a booking by 100 ms and more.
        gc.collect()
        gc.freeze()
        app.state.service = svc
        try:
            yield
        finally:
            svc.close()

    app = FastAPI(
        title="Dispatcher API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        license_info={"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"},
    )
    app.state.settings = settings
    errors.install(app)
    routers = (system, days, bookings, fleet, mobility, privacy, events, tickets)
    for r in routers:
        app.include_router(r.router)
    pages.install(app)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            license_info=app.license_info,
        )
        comps = schema.setdefault("components", {}).setdefault("schemas", {})
        extra = RequestBatchIn.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in extra.pop("$defs", {}).items():
            comps.setdefault(name, sub)
        comps.setdefault("RequestBatchIn", extra)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI documents this override
    return app


def app_from_env() -> FastAPI:
    """Factory for uvicorn (``uvicorn --factory dispatcher.api.app:app_from_env``): settings
    from the environment."""
    return create_app(Settings())
