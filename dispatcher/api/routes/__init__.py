"""The API's routes, one module per resource."""

from typing import Annotated, Any, Literal

from fastapi import Query

from dispatcher.api.schemas import ErrorOut
from dispatcher.errors import InputError
from dispatcher.service.privacy import View

NO_PERSONAL_DATA = "none"
PERSONAL_VIEWS = (*(v.value for v in View), NO_PERSONAL_DATA, "access log", "personal data")


def personal(view: View | str) -> dict[str, Any]:
    """A route's ``x-personal-data`` in the OpenAPI document: the view of ``docs/privacy.md`` it
    answers (``none``: it answers no personal field). Every GET route says it (a test calls each
    one with every role and checks nothing the table hides leaks)."""
    value = view.value if isinstance(view, View) else view
    assert value in PERSONAL_VIEWS, value
    return {"x-personal-data": value}


ReturnTripChoice = Annotated[
    Literal["keep", "cancel"],
    Query(
        alias="return",
        description="What becomes of the request's return trip, if it has one: keep (default; "
        "a trip of its own from now on) or cancel (cancelled with it)",
    ),
]

AUTH_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorOut, "description": "No API key, or an unknown one"},
    403: {"model": ErrorOut, "description": "The key's role does not allow this"},
    413: {"model": ErrorOut, "description": "Body over the size limit"},
    422: {
        "model": ErrorOut,
        "description": "Bad input: the path of the offending field and a sentence",
    },
}
NOT_FOUND: dict[int | str, dict[str, object]] = {
    404: {
        "model": ErrorOut,
        "description": "Unknown day, id, stop or commune (with the nearest names)",
    }
}


def same_id(path_id: str, body_id: str) -> None:
    """A PUT's body names the resource of its path, or the call is bad input."""
    if body_id != path_id:
        raise InputError(
            f"the body's id {body_id!r} differs from the path's {path_id!r}", "body.id"
        )


def json_errors(
    responses: dict[int | str, dict[str, object]],
) -> dict[int | str, dict[str, object]]:
    """``responses`` documented as JSON bodies (``ErrorOut``) whatever the route's own media type:
    a route answering text (the manifest) still answers its errors as JSON."""
    ref = {"schema": {"$ref": "#/components/schemas/ErrorOut"}}
    return {
        code: {"description": spec["description"], "content": {"application/json": ref}}
        for code, spec in responses.items()
    }
