"""Road graph in, travel-time and distance matrices out.

Knows OSM, osmnx, networkx and scipy; knows nothing of requests or solvers.

- :func:`load_graph` / :func:`build_graph` / :func:`graph_summary`: one loader for the embedded
  default network, OSM files (.osm, .osm.pbf) and the Overpass API.
- :class:`RoadNetwork`: snapping (lon, lat) points, N x N matrices (int seconds, int metres,
  cached on disk by content), fastest-path polylines.
"""

from dispatcher.graph.loader import (
    DEFAULT_OSM,
    DEFAULT_SPEED_FACTOR,
    build_graph,
    cache_dir,
    graph_digest,
    graph_summary,
    load_graph,
)
from dispatcher.graph.network import RoadNetwork, matrix_cache_dir

__all__ = [
    "DEFAULT_OSM",
    "DEFAULT_SPEED_FACTOR",
    "RoadNetwork",
    "build_graph",
    "cache_dir",
    "graph_digest",
    "graph_summary",
    "load_graph",
    "matrix_cache_dir",
]
