"""One small error hierarchy, mapped once to CLI exit codes and HTTP status codes.

Every message says what is wrong and where (a field path, a file, a point), so that the CLI can
print it as one readable line and the API can return it as a JSON body.
"""

from __future__ import annotations


class DispatcherError(Exception):
    """Base class. ``where`` names the offending field, file or point (may be empty)."""

    exit_code = 1
    http_status = 400

    def __init__(self, message: str, where: str = "") -> None:
        self.message = message
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)

    def to_dict(self) -> dict[str, str]:
        return {"error": type(self).__name__, "where": self.where, "message": self.message}


class InputError(DispatcherError):
    """Bad input from a user: a field out of range, an unknown stop, a malformed file."""

    exit_code = 2
    http_status = 422


class ForbiddenError(DispatcherError):
    """A caller whose key does not reach this record (a driver key and another vehicle or day)."""

    exit_code = 2
    http_status = 403


class NotFoundError(InputError):
    """A name or id that does not exist (a commune, a stop, a vehicle)."""

    http_status = 404


class PointError(InputError):
    """A point that cannot be placed on the road graph (NaN, outside the territory, too far from
    a road)."""


class DataError(DispatcherError):
    """A data file (graph, OSM extract, cache entry) that is corrupt or unreadable."""

    exit_code = 3
    http_status = 500


class UnreachableError(DispatcherError):
    """Pairs of points with no road between them."""

    exit_code = 4
    http_status = 422


class SolverError(DispatcherError):
    """The solver failed for a reason that is not the input's fault."""

    exit_code = 5
    http_status = 500
