"""The API's routes, one module per resource."""

from dispatcher.api.schemas import ErrorOut

AUTH_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorOut, "description": "No API key, or an unknown one"},
    403: {"model": ErrorOut, "description": "The key's role does not allow this"},
    413: {"model": ErrorOut, "description": "Body over the size limit"},
    422: {"model": ErrorOut, "description": "Bad input: the path of the offending field and a sentence"},
}
NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"model": ErrorOut, "description": "Unknown day, id, stop or commune (with the nearest names)"}}
