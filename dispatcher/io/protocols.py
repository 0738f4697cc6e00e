"""What the edges need of the territory and the road network, as Protocols.

:class:`dispatcher.territory.Territory` is a :class:`TerritoryLike` (hence a
:class:`PlaceResolver`); :class:`dispatcher.graph.network.RoadNetwork` is a
:class:`MatrixSource` and a :class:`PathSource`. Tests may pass any object with the same
methods (e.g. matrices given directly).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from dispatcher.model import Matrix
    from dispatcher.territory import Stop

LonLat = tuple[float, float]
"""A point as (longitude, latitude) in degrees, WGS84."""


class PlaceResolver(Protocol):
    def stop(self, key: str) -> Stop:
        """The stop of a key: a stop id or name, or a commune's name or INSEE code."""
        ...


class TerritoryLike(PlaceResolver, Protocol):
    def contains(self, lon: float, lat: float, buffer_m: float = 0.0) -> bool:
        """Whether the point lies in the territory or within ``buffer_m`` of it."""
        ...


class Located(Protocol):
    @property
    def lon(self) -> float: ...

    @property
    def lat(self) -> float: ...

    @property
    def precision(self) -> str:
        """house, street or commune (its main stop)."""
        ...


class Geocoder(Protocol):
    def locate(self, address: str, where: str) -> Located:
        """The point of a postal address (``dispatcher.graph.geocode``); NotFoundError naming
        ``where`` when there is none."""
        ...


class MatrixSource(Protocol):
    def matrices(
        self, points: Sequence[LonLat], labels: Sequence[str] | None = None
    ) -> tuple[Matrix, Matrix]:
        """Travel-time (s) and distance (m) matrices between the points, integers, N x N
        (``RoadNetwork`` gives int32 numpy arrays)."""
        ...


class PathSource(Protocol):
    def path_coords(self, a: LonLat, b: LonLat) -> list[LonLat]:
        """The (lon, lat) polyline along the roads from ``a`` to ``b``."""
        ...
