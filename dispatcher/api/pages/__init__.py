"""The browser pages served by the API: the driver's page (``/driver``) and the operator's console
(``/console``), with their scripts and styles under ``/static`` (Leaflet from the vendored copy
in ``dispatcher/reports/vendor``; no CDN).

The pages hold no data: a key typed in their login form is kept in the tab's sessionStorage and
sent as ``X-API-Key`` to the JSON API, whose roles and privacy rules decide what they show.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

HERE = Path(str(files("dispatcher.api.pages")))
STATIC = HERE / "static"
LEAFLET = Path(str(files("dispatcher.reports"))) / "vendor" / "leaflet"

# Everything from the server itself; Leaflet sets element styles from its script.
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


def _page(name: str) -> HTMLResponse:
    return HTMLResponse((HERE / name).read_text(encoding="utf-8"), headers=HEADERS)


@router.get("/driver", response_class=HTMLResponse)
def driver_page() -> HTMLResponse:
    return _page("driver.html")


@router.get("/console", response_class=HTMLResponse)
def console_page() -> HTMLResponse:
    return _page("console.html")


def install(app: FastAPI) -> None:
    """The two pages and their static files on ``app``."""
    app.include_router(router)
    app.mount("/static/leaflet", StaticFiles(directory=LEAFLET), name="leaflet")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
