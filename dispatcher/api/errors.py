"""Every error as the project's JSON body ``{error, where, message}``; never a traceback."""

from __future__ import annotations

import logging
import re
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


BODY_PARSE_ERROR = "There was an error parsing the body"  # FastAPI's words for an undecodable body


def allowed_methods(request: Request) -> list[str]:
    """Every method the API documents on this path (a 405's ``Allow``), read from the OpenAPI
    paths, which list every route whatever the router that holds it."""
    methods: set[str] = set()
    for template, ops in request.app.openapi().get("paths", {}).items():
        pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, request.url.path):
            methods |= {m.upper() for m in ops if m.lower() in HTTP_METHODS}
    return sorted(methods)


HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


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
        if exc.status_code == 400 and exc.detail == BODY_PARSE_ERROR:
            # a body FastAPI could not decode (not UTF-8): bad input, like invalid JSON
            body = {"error": "InputError", "where": "body", "message": "the body is not UTF-8 JSON"}
            return JSONResponse(body, status_code=422)
        names = {404: "NotFound", 405: "MethodNotAllowed", 413: "TooLarge"}
        where = f"{request.method} {request.url.path}"
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
        return JSONResponse(
            {
                "error": names.get(exc.status_code, "HTTPError"),
                "where": where,
                "message": str(exc.detail),
            },
            status_code=exc.status_code,
            headers=headers or None,
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
