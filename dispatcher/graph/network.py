"""Snapping points to a road graph and travel-time / distance matrices.

:class:`RoadNetwork` wraps a processed graph (see :mod:`dispatcher.graph.loader`) with what
routing needs, built once: integer node indices, projected node coordinates, a KD-tree over
points sampled every 50 m along the roads, and one CSR matrix of travel times plus the length of
the same (fastest) edge for each pair of nodes.

Matrices run :func:`scipy.sparse.csgraph.dijkstra` from the unique snapped nodes only.
Distances follow the fastest path: the shortest-path tree of the time run (predecessors) is
summed with pointer jumping (each node adds its parent's partial sum, then points to its
grand-parent, log2(depth) rounds, vectorised over all sources of a chunk).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import os
import tempfile
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from dispatcher.errors import DataError, InputError, PointError, UnreachableError
from dispatcher.graph.loader import cache_dir, load_graph
from dispatcher.territory import TERRITORY_BUFFER_M

log = logging.getLogger(__name__)

EARTH_R = 6_371_008.8
SAMPLE_M = 50.0
_CHUNK = 256
_MAX_LISTED = 10

Point = tuple[float, float]


def matrix_cache_dir() -> Path:
    """Folder of cached matrices: ``$DISPATCHER_CACHE_DIR/matrices`` or
    ``~/.cache/dispatcher/matrices``."""
    return cache_dir() / "matrices"


_SWAPPED = (
    "; longitude and latitude look swapped: a point is lon,lat (longitude first, about 2.6,50.0 "
    "at Albert)"
)


class RoadNetwork:
    """A road graph ready for routing: snapping, matrices, paths. Build once, reuse."""

    def __init__(self, G: nx.MultiDiGraph) -> None:
        if len(G) == 0:
            raise DataError("the road graph is empty", where=str(G.graph.get("path", "graph")))
        self.G = G
        self.digest: str = str(G.graph.get("digest") or "")
        if not self.digest:
            from dispatcher.graph.loader import graph_digest

            self.digest = graph_digest(G)
        self.node_ids = np.array(list(G.nodes), dtype=np.int64)
        self.index = {int(n): i for i, n in enumerate(self.node_ids)}
        self.lon = np.array([float(G.nodes[n]["x"]) for n in self.node_ids])
        self.lat = np.array([float(G.nodes[n]["y"]) for n in self.node_ids])
        self.lat0 = float(np.mean(self.lat))
        self.lon0 = float(np.mean(self.lon))
        self._build_csr()
        self._build_samples()

    # ---- construction ----------------------------------------------------------------------
    @classmethod
    def from_source(
        cls, source: str = "default", path: str | Path | None = None, **kwargs: Any
    ) -> RoadNetwork:
        """``RoadNetwork(load_graph(source, path, **kwargs))``."""
        return cls(load_graph(source, path, **kwargs))

    @classmethod
    def default(cls) -> RoadNetwork:
        """The territory's network, built once per process: the file named by
        ``$DISPATCHER_GRAPH`` (an OSM extract ``.osm``/``.osm.pbf``, or a graph written by
        ``dispatcher graph build --out``) when set, else the embedded Pays du Coquelicot network."""
        return _default_network(os.environ.get(GRAPH_ENV) or None)

    def _xy(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Local equirectangular projection (metres), accurate to ~0.1 % over 100 km."""
        x = np.radians(lon - self.lon0) * EARTH_R * math.cos(math.radians(self.lat0))
        y = np.radians(lat - self.lat0) * EARTH_R
        return np.column_stack([x, y])

    def _build_csr(self) -> None:
        n = len(self.node_ids)
        rows, cols, times, lengths = [], [], [], []
        for u, v, d in self.G.edges(data=True):
            rows.append(self.index[int(u)])
            cols.append(self.index[int(v)])
            times.append(float(d["travel_time"]))
            lengths.append(float(d["length"]))
        r = np.array(rows, dtype=np.int64)
        c = np.array(cols, dtype=np.int64)
        t = np.maximum(np.array(times), 1e-3)  # csgraph ignores explicit zeros
        length = np.array(lengths)
        # parallel edges: keep the fastest one (and its length)
        order = np.lexsort((t, c, r))
        r, c, t, length = r[order], c[order], t[order], length[order]
        keep = np.ones(len(r), dtype=bool)
        keep[1:] = (r[1:] != r[:-1]) | (c[1:] != c[:-1])
        r, c, t, length = r[keep], c[keep], t[keep], length[keep]
        self.csr_time = csr_matrix((t, (r, c)), shape=(n, n))
        self.csr_time.sort_indices()
        self._edge_keys = r * n + c  # sorted, for length look-ups along predecessor trees
        self._edge_len = length
        self._edge_time = t

    def _build_samples(self) -> None:
        """Points every <= 50 m along every edge geometry, each tagged with its nearer end node."""
        xs: list[np.ndarray] = []
        ys: list[np.ndarray] = []
        nodes: list[np.ndarray] = []
        for u, v, d in self.G.edges(data=True):
            geom = d.get("geometry")
            if geom is not None:
                coords = np.asarray(geom.coords, dtype=float)
            else:
                coords = np.array(
                    [
                        [self.G.nodes[u]["x"], self.G.nodes[u]["y"]],
                        [self.G.nodes[v]["x"], self.G.nodes[v]["y"]],
                    ],
                    dtype=float,
                )
            xy = self._xy(coords[:, 0], coords[:, 1])
            seg = np.hypot(*np.diff(xy, axis=0).T)
            cum = np.concatenate([[0.0], np.cumsum(seg)])
            total = cum[-1]
            k = max(2, int(math.ceil(total / SAMPLE_M)) + 1)
            s = np.linspace(0.0, total, k)
            sx = np.interp(s, cum, xy[:, 0])
            sy = np.interp(s, cum, xy[:, 1])
            xs.append(sx)
            ys.append(sy)
            ui, vi = self.index[int(u)], self.index[int(v)]
            nodes.append(np.where(s <= total / 2, ui, vi))
        self._sample_xy = np.column_stack([np.concatenate(xs), np.concatenate(ys)])
        self._sample_node = np.concatenate(nodes).astype(np.int64)
        self._sample_tree = cKDTree(self._sample_xy)

    # ---- snapping ---------------------------------------------------------------------------
    def snap(
        self,
        points: Sequence[Point],
        labels: Sequence[str] | None = None,
        max_distance_m: float = 2_000.0,
        territory: Any = None,
        territory_buffer_m: float = TERRITORY_BUFFER_M,
    ) -> np.ndarray:
        """Graph node ids of (lon, lat) points (the nearer end of the nearest road).

        Raises PointError naming the point (label or index, and coordinates) when a coordinate
        is not a finite number or out of range, when the point is farther than
        ``max_distance_m`` from any road, or outside ``territory`` plus ``territory_buffer_m``.
        """
        idx = self._snap_indices(points, labels, max_distance_m, territory, territory_buffer_m)
        return np.asarray(self.node_ids[idx])

    def _snap_indices(
        self,
        points: Sequence[Point],
        labels: Sequence[str] | None,
        max_distance_m: float,
        territory: Any,
        territory_buffer_m: float,
    ) -> np.ndarray:
        pts = list(points)
        if labels is not None and len(labels) != len(pts):
            raise InputError(f"{len(labels)} labels for {len(pts)} points", "labels")
        if not pts:
            return np.zeros(0, dtype=np.int64)

        def name(i: int) -> str:
            return f"point {labels[i]!r}" if labels is not None else f"point #{i}"

        lon = np.empty(len(pts))
        lat = np.empty(len(pts))
        for i, p in enumerate(pts):
            try:
                x, y = (float(p[0]), float(p[1]))
            except (TypeError, ValueError, IndexError) as exc:
                raise PointError(f"not a (lon, lat) pair: {p!r}", name(i)) from exc
            if not (math.isfinite(x) and math.isfinite(y) and -180 <= x <= 180 and -90 <= y <= 90):
                raise PointError(f"({x}, {y}) is not a valid lon/lat position", name(i))
            lon[i], lat[i] = x, y
        if territory is not None:
            for i in range(len(pts)):
                if not territory.contains(lon[i], lat[i], territory_buffer_m):
                    swapped = -90 <= lon[i] <= 90 and territory.contains(
                        lat[i], lon[i], territory_buffer_m
                    )
                    raise PointError(
                        f"({lon[i]:.6f}, {lat[i]:.6f}) is outside the territory "
                        f"({territory_buffer_m / 1000:g} km margin)"
                        + (_SWAPPED if swapped else ""),
                        name(i),
                    )
        dist, k = self._sample_tree.query(self._xy(lon, lat))
        far = np.flatnonzero(dist > max_distance_m)
        if len(far):
            i = int(far[0])
            more = f" (and {len(far) - 1} more points)" if len(far) > 1 else ""
            raise PointError(
                f"({lon[i]:.6f}, {lat[i]:.6f}) is {dist[i] / 1000:.1f} km from the nearest road, "
                f"more than {max_distance_m / 1000:g} km{more}"
                + (_SWAPPED if self._near_road(lat[i], lon[i], max_distance_m) else ""),
                name(i),
            )
        return np.asarray(self._sample_node[k])

    def _near_road(self, lon: float, lat: float, max_distance_m: float) -> bool:
        """Whether (lon, lat) is a valid position within ``max_distance_m`` of a road."""
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            return False
        d, _ = self._sample_tree.query(self._xy(np.array([lon]), np.array([lat])))
        return bool(d[0] <= max_distance_m)

    # ---- matrices ---------------------------------------------------------------------------
    def _matrices_from(self, src: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Float time (s) and distance (m) matrices between node indices ``src`` (unique)."""
        n = self.csr_time.shape[0]
        m = len(src)
        durations = np.empty((m, m))
        distances = np.empty((m, m))
        for start in range(0, m, _CHUNK):
            chunk = src[start : start + _CHUNK]
            t, pred = dijkstra(
                self.csr_time, directed=True, indices=chunk, return_predecessors=True
            )
            durations[start : start + len(chunk)] = t[:, src]
            distances[start : start + len(chunk)] = self._tree_lengths(pred, n)[:, src]
        return durations, distances

    def _tree_lengths(self, pred: np.ndarray, n: int) -> np.ndarray:
        """Length of the path from each tree root to every node, by pointer jumping."""
        rows = pred.shape[0]
        node = np.broadcast_to(np.arange(n), pred.shape)
        has = pred >= 0
        keys = np.where(has, pred.astype(np.int64) * n + node, 0)
        pos = np.searchsorted(self._edge_keys, keys)
        pos = np.minimum(pos, len(self._edge_keys) - 1)
        acc = np.where(has, self._edge_len[pos], 0.0)
        # parent pointer; roots and unreachable nodes point to themselves (adding 0)
        parent = np.where(has, pred, node).astype(np.int64)
        offset = (np.arange(rows) * n)[:, None]
        flat_parent = (parent + offset).ravel()
        acc = acc.ravel()
        # invariant: acc[v] = length from parent[v] to v; stops when every parent is a root
        while True:
            grand = flat_parent[flat_parent]
            if np.array_equal(grand, flat_parent):
                break
            acc = acc + acc[flat_parent]
            flat_parent = grand
        return acc.reshape(rows, n)

    def matrices(
        self,
        points: Sequence[Point],
        labels: Sequence[str] | None = None,
        cache: bool = True,
        *,
        max_distance_m: float = 2_000.0,
        territory: Any = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Travel-time (s) and distance (m, along the fastest path) matrices, int32, N x N.

        Points are snapped first (see :meth:`snap`). Raises UnreachableError listing pairs with
        no path (cannot happen on a graph from the loader, which is strongly connected, but a
        hand-made graph may have them). With ``cache``, results are stored under
        :func:`matrix_cache_dir`, keyed by the graph digest and the snapped nodes.
        """
        idx = self._snap_indices(points, labels, max_distance_m, territory, TERRITORY_BUFFER_M)
        uniq, inverse = np.unique(idx, return_inverse=True)
        result = self._load_cached(uniq) if cache else None
        if result is None:
            dur_f, dist_f = self._matrices_from(uniq)
            bad = ~np.isfinite(dur_f)
            if bad.any():
                raise self._unreachable(bad, uniq, idx, labels)
            result = (np.rint(dur_f).astype(np.int32), np.rint(dist_f).astype(np.int32))
            if cache:
                self._store_cached(uniq, *result)
        dur_u, dist_u = result
        return dur_u[np.ix_(inverse, inverse)], dist_u[np.ix_(inverse, inverse)]

    def _unreachable(
        self, bad: np.ndarray, uniq: np.ndarray, idx: np.ndarray, labels: Sequence[str] | None
    ) -> UnreachableError:
        first_point = {int(node): i for i, node in reversed(list(enumerate(idx)))}
        pairs = []
        for a, b in zip(*np.nonzero(bad), strict=True):
            pa, pb = first_point[int(uniq[a])], first_point[int(uniq[b])]
            la = labels[pa] if labels is not None else f"#{pa}"
            lb = labels[pb] if labels is not None else f"#{pb}"
            pairs.append(f"{la}->{lb}")
        listed = ", ".join(pairs[:_MAX_LISTED]) + (
            f" and {len(pairs) - _MAX_LISTED} more" if len(pairs) > _MAX_LISTED else ""
        )
        err = UnreachableError(f"no road between {len(pairs)} pairs of points: {listed}", "matrix")
        err.pairs = pairs  # type: ignore[attr-defined]
        return err

    def _cache_path(self, uniq: np.ndarray) -> Path:
        h = hashlib.sha256(self.digest.encode())
        h.update(self.node_ids[uniq].astype("<i8").tobytes())
        return matrix_cache_dir() / f"{h.hexdigest()[:40]}.npz"

    def _load_cached(self, uniq: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        path = self._cache_path(uniq)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                dur, dist, nodes = z["duration_s"], z["distance_m"], z["nodes"]
            m = len(uniq)
            if (
                dur.shape != (m, m)
                or dist.shape != (m, m)
                or dur.dtype != np.int32
                or dist.dtype != np.int32
                or not np.array_equal(nodes, self.node_ids[uniq])
            ):
                raise ValueError("shape, type or node list does not match")
            return dur, dist
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            err = DataError(
                f"corrupt matrix cache entry ({exc}); dropped and recomputed", str(path)
            )
            warnings.warn(str(err), stacklevel=3)
            path.unlink(missing_ok=True)
            return None

    def _store_cached(self, uniq: np.ndarray, dur: np.ndarray, dist: np.ndarray) -> None:
        path = self._cache_path(uniq)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as fh:
                    np.savez(fh, duration_s=dur, distance_m=dist, nodes=self.node_ids[uniq])
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:  # a read-only cache must not break routing
            log.warning("cannot write matrix cache %s: %s", path, exc)

    # ---- paths ------------------------------------------------------------------------------
    def path_coords(self, a_point: Point, b_point: Point) -> list[tuple[float, float]]:
        """(lon, lat) polyline along the fastest path between two points (for GeoJSON routes)."""
        a, b = self._snap_indices([a_point, b_point], ["a", "b"], 2_000.0, None, 0.0)
        _, pred = dijkstra(self.csr_time, directed=True, indices=int(a), return_predecessors=True)
        if a != b and pred[b] < 0:
            raise UnreachableError("no road between these points", f"{a_point}->{b_point}")
        chain = [int(b)]
        while chain[-1] != a:
            chain.append(int(pred[chain[-1]]))
        chain.reverse()
        coords: list[tuple[float, float]] = [(float(a_point[0]), float(a_point[1]))]
        coords.append((float(self.lon[a]), float(self.lat[a])))
        for u, v in zip(chain, chain[1:], strict=False):
            nu, nv = int(self.node_ids[u]), int(self.node_ids[v])
            d = min(self.G[nu][nv].values(), key=lambda e: float(e["travel_time"]))
            geom = d.get("geometry")
            pts = list(geom.coords)[1:] if geom is not None else [(self.lon[v], self.lat[v])]
            coords.extend((float(x), float(y)) for x, y in pts)
        coords.append((float(b_point[0]), float(b_point[1])))
        # drop consecutive duplicates
        out = [coords[0]]
        for c in coords[1:]:
            if c != out[-1]:
                out.append(c)
        return out


GRAPH_ENV = "DISPATCHER_GRAPH"


@functools.lru_cache(maxsize=2)
def _default_network(path: str | None) -> RoadNetwork:
    if path is None:
        return RoadNetwork(load_graph("default"))
    is_osm = path.lower().endswith((".osm", ".pbf", ".xml"))
    return RoadNetwork(load_graph("osm-file" if is_osm else "graph", path))
