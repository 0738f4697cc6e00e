"""Every error as the project's JSON body ``{error, where, message}``; never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from dispatcher.errors import DispatcherError

log = logging.getLogger("dispatcher.api")


def _where(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("function-after", "function-before") or (
            isinstance(part, str) and "[" in part and part.endswith("]")
        ):
            continue  # pydantic's union branch labels (e.g. 'str', 'int', 'constrained-str')
        else:
            out += ("." if out else "") + str(part)
    return out


_BRANCHES = {
    "str",
    "int",
    "float",
    "bool",
    "Point",
    "Window",
    "constrained-str",
    "constrained-int",
    "list[float]",
    "none",
}


def _clean_loc(loc: Sequence[Any]) -> list[Any]:
    return [
        p
        for p in loc
        if not (isinstance(p, str) and (p in _BRANCHES or p.startswith("constrained-")))
    ]


def error_body(errors: Sequence[Any]) -> dict[str, Any]:
    first = errors[0] if errors else {"loc": ("body",), "msg": "invalid input"}
    loc = _clean_loc(first.get("loc", ()))
    msg = str(first.get("msg", "invalid input"))
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    inp = first.get("input")
    if (
        first.get("type") not in ("missing",)
        and isinstance(inp, (int, float, str, bool))
        and len(repr(inp)) < 60
    ):
        msg = f"{msg} (got {inp!r})"
    return {
        "error": "InputError",
        "where": _where(loc),
        "message": msg[:1].upper() + msg[1:] if msg else msg,
        "errors": [
            {"where": _where(_clean_loc(e.get("loc", ()))), "message": str(e.get("msg", ""))}
            for e in list(errors)[:20]
        ],
    }


def validation_error(
    e: ValidationError, prefix: Sequence[Any] = ("body",)
) -> RequestValidationError:
    errs = [{**err, "loc": (*prefix, *err.get("loc", ()))} for err in e.errors(include_url=False)]
    return RequestValidationError(errs)


def install(app: FastAPI) -> None:
    @app.exception_handler(DispatcherError)
    async def _dispatcher_error(_: Request, exc: DispatcherError) -> JSONResponse:
        if exc.http_status >= 500:
            log.error("%s: %s", type(exc).__name__, exc)
        return JSONResponse(exc.to_dict(), status_code=exc.http_status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body(exc.errors()), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        names = {404: "NotFound", 405: "MethodNotAllowed", 413: "TooLarge"}
        where = f"{request.method} {request.url.path}"
        return JSONResponse(
            {
                "error": names.get(exc.status_code, "HTTPError"),
                "where": where,
                "message": str(exc.detail),
            },
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(
            {
                "error": "InternalError",
                "where": request.url.path,
                "message": "unexpected error; the server log has the details",
            },
            status_code=500,
        )
