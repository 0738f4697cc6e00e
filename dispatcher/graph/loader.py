"""One loader for every road source: speeds, travel times, simplification, strong connectivity.

Sources (``load_graph(source=...)``):

- ``"default"``: the embedded ``data/osm/coquelicot.osm`` (Travel Mapping roads around the Pays du
  Coquelicot, see data/osm/README.md);
- ``"osm-file"``: any ``.osm`` / ``.osm.pbf`` extract (``path=``);
- ``"overpass"``: the territory's boundary plus a buffer, downloaded once with osmnx and cached as
  ``data/osm/overpass-<digest>.graphml`` (or ``path=``);
- ``"graph"``: a graph written by :func:`build_graph` (``.graphml`` or ``.pickle``).

Processing, the same for all (:func:`finalize`):

1. ``length`` (m) is multiplied by the way's ``dispatcher:circuity`` tag where present (Travel
   Mapping ways are straight lines between waypoints; the figure is calibrated in
   scripts/build_default_osm.py and documented in data/osm/README.md);
2. ``speed_kph`` = the way's ``maxspeed`` when it parses, otherwise the French default of its
   class (:data:`FRENCH_DEFAULT_KPH`), times ``speed_factor``;
3. ``travel_time`` (s) = length / speed, per OSM segment, then the graph is simplified with
   osmnx (lengths and travel times summed, ``speed_kph`` re-derived) keeping stop nodes;
4. only the largest strongly connected component is kept; what was dropped is in
   ``G.graph["dropped"]`` and logged.

Processed graphs are cached (pickle, keyed by the input file's sha256, the speed factor and
:data:`LOADER_VERSION`) under ``<cache dir>/graphs`` so the default loads in milliseconds.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import pickle
import re
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import networkx as nx

from dispatcher.errors import DataError, InputError

log = logging.getLogger(__name__)

LOADER_VERSION = "2"  # 2: the addresses of the extract kept (G.graph["addresses"])
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OSM = REPO_ROOT / "data" / "osm" / "coquelicot.osm"
OSM_DATA_DIR = REPO_ROOT / "data" / "osm"
SOURCES = ("default", "osm-file", "overpass", "graph")
OVERPASS_BUFFER_M = 5_000.0
#: Speed factor used when ``speed_factor=None``. The default network's ways carry legal limits
#: (80 rural, 50 in villages); real cars average about 85 % of that on the Somme's departmental
#: roads (bends, junctions, farm traffic), which puts Albert->Amiens station at ~34 min (the usual
#: 30-35 min) and Albert->Acheux at ~14 min. Real OSM data keep 1.0 unless the user says otherwise.
DEFAULT_SPEED_FACTOR: dict[str, float] = {"default": 0.85}

#: French defaults (km/h) where ``maxspeed`` is missing: 130 on motorways, 110 on dual-carriageway
#: trunk roads (mapped as oneway ways) and 80 on two-lane ones, 80 on rural two-lane roads
#: (décret 2018-487), 50 in built-up areas, 30 in residential streets.
FRENCH_DEFAULT_KPH: dict[str, float] = {
    "motorway": 130.0,
    "motorway_link": 70.0,
    "trunk": 80.0,
    "trunk_link": 50.0,
    "primary": 80.0,
    "primary_link": 50.0,
    "secondary": 80.0,
    "secondary_link": 50.0,
    "tertiary": 80.0,
    "tertiary_link": 50.0,
    "unclassified": 50.0,
    "road": 50.0,
    "residential": 30.0,
    "living_street": 20.0,
    "service": 20.0,
}
_ZONE_KPH = {"urban": 50.0, "rural": 80.0, "motorway": 130.0, "trunk": 110.0, "zone30": 30.0}
_NUM = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph)?\s*$")


def cache_dir() -> Path:
    """Root of the project's caches: ``$DISPATCHER_CACHE_DIR`` or ``~/.cache/dispatcher``."""
    env = os.environ.get("DISPATCHER_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "dispatcher"


def parse_maxspeed(value: Any) -> float | None:
    """km/h from an OSM ``maxspeed`` value ("50", "30 mph", "FR:urban", a list: the mean)."""
    if value is None:
        return None
    if isinstance(value, list):
        speeds = [s for s in (parse_maxspeed(v) for v in value) if s is not None]
        return sum(speeds) / len(speeds) if speeds else None
    text = str(value).strip()
    if ";" in text:
        return parse_maxspeed(text.split(";"))
    m = _NUM.match(text)
    if m:
        kph = float(m.group(1)) * (1.609344 if m.group(2) == "mph" else 1.0)
        return kph if kph > 0 else None
    if ":" in text:
        return _ZONE_KPH.get(text.split(":", 1)[1].lower())
    return None


def default_speed_kph(data: dict[str, Any]) -> float:
    highway = data.get("highway")
    if isinstance(highway, list):
        highway = highway[0]
    if highway == "trunk" and _truthy(data.get("oneway")):
        return 110.0
    if data.get("dispatcher:access") == "yes":
        return 50.0
    return FRENCH_DEFAULT_KPH.get(str(highway), 50.0)


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in {"true", "yes", "1"}


def finalize(G: nx.MultiDiGraph, *, speed_factor: float = 1.0) -> nx.MultiDiGraph:
    """Apply circuity, speeds and travel times; simplify; keep the largest strongly connected
    part."""
    import osmnx as ox

    if not (math.isfinite(speed_factor) and 0.1 <= speed_factor <= 2.0):
        raise InputError(
            f"speed factor must be between 0.1 and 2.0, got {speed_factor}", "speed_factor"
        )
    if len(G) == 0:
        raise DataError("the road graph is empty", where=str(G.graph.get("source", "graph")))
    for _, _, data in G.edges(data=True):
        circuity = float(data.pop("dispatcher:circuity", 1.0) or 1.0)
        length = float(data["length"]) * circuity
        speed = parse_maxspeed(data.get("maxspeed")) or default_speed_kph(data)
        speed *= speed_factor
        data["length"] = length
        data["circuity"] = circuity
        data["speed_kph"] = speed
        data["travel_time"] = length / (speed / 3.6)
    if not G.graph.get("simplified"):
        G = ox.simplify_graph(
            G,
            node_attrs_include=["dispatcher:stop"],
            edge_attr_aggs={"length": sum, "travel_time": sum},
        )
    for _, _, data in G.edges(data=True):
        tt = float(data["travel_time"])
        data["speed_kph"] = (
            float(data["length"]) / tt * 3.6
            if tt > 0
            else float(parse_maxspeed(data.get("speed_kph")) or 50.0)
        )
    n0, e0 = len(G), G.number_of_edges()
    n_comp = nx.number_strongly_connected_components(G)
    G = ox.truncate.largest_component(G, strongly=True)
    dropped = {"components": n_comp - 1, "nodes": n0 - len(G), "edges": e0 - G.number_of_edges()}
    G.graph["dropped"] = dropped
    G.graph["speed_factor"] = speed_factor
    G.graph["crs"] = "epsg:4326"
    if dropped["nodes"]:
        log.info(
            "kept the largest strongly connected component: dropped %(components)d components, "
            "%(nodes)d nodes, %(edges)d edges",
            dropped,
        )
    G.graph["digest"] = graph_digest(G)
    return G


def graph_digest(G: nx.MultiDiGraph) -> str:
    """sha256 of the graph's content (node coordinates, edges with rounded time and length)."""
    h = hashlib.sha256()
    for n in sorted(G.nodes):
        d = G.nodes[n]
        h.update(f"{n}:{float(d['x']):.7f},{float(d['y']):.7f};".encode())
    for u, v, k, d in sorted(G.edges(keys=True, data=True), key=lambda e: (e[0], e[1], e[2])):
        h.update(f"{u}>{v}#{k}:{float(d['travel_time']):.3f},{float(d['length']):.2f};".encode())
    return h.hexdigest()[:32]


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _atomic_write(path: Path, write: Callable[[str], object]) -> None:
    """``write(tmp)`` fills a temporary file beside ``path``, renamed over ``path`` once complete
    (a reader never sees half a file; a failed write leaves no temporary file behind)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.close(fd)
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _atomic_write_bytes(path: Path, payload: bytes) -> None:
    _atomic_write(path, lambda tmp: Path(tmp).write_bytes(payload))


def _atomic_write_graphml(path: Path, G: nx.MultiDiGraph) -> None:
    import osmnx as ox

    _atomic_write(path, lambda tmp: ox.save_graphml(G, tmp))


def _processed_cache_path(key: str) -> Path:
    return cache_dir() / "graphs" / f"{key}.pickle"


def _load_osm_file(path: Path, speed_factor: float, use_cache: bool) -> nx.MultiDiGraph:
    from dispatcher.graph.osm import raw_graph_from_file

    if not path.is_file():
        raise DataError("OSM file not found", where=str(path))
    key = hashlib.sha256(
        f"{file_sha256(path)}|{speed_factor!r}|{LOADER_VERSION}".encode()
    ).hexdigest()[:32]
    cached = _processed_cache_path(key)
    if use_cache and cached.exists():
        try:
            G = _read_pickle(cached)
            G.graph["path"] = str(path)
            return G
        except DataError as exc:
            warnings.warn(
                f"dropping corrupt graph cache entry {cached}: {exc.message}", stacklevel=2
            )
            cached.unlink(missing_ok=True)
    G = finalize(raw_graph_from_file(path), speed_factor=speed_factor)
    G.graph["path"] = str(path)
    if use_cache:
        try:
            _atomic_write_bytes(cached, pickle.dumps(G, protocol=pickle.HIGHEST_PROTOCOL))
        except OSError as exc:  # a read-only home must not break loading
            log.warning("cannot write graph cache %s: %s", cached, exc)
    return G


def _read_pickle(path: Path) -> nx.MultiDiGraph:
    try:
        with open(path, "rb") as fh:
            G = pickle.load(fh)
    except Exception as exc:
        raise DataError(
            f"corrupt graph file ({type(exc).__name__}: {exc})", where=str(path)
        ) from exc
    if not isinstance(G, nx.MultiDiGraph) or "digest" not in G.graph:
        raise DataError("not a graph written by dispatcher", where=str(path))
    return G


def _read_graph_file(path: Path) -> nx.MultiDiGraph:
    """A graph written by :func:`build_graph` (.pickle) or any osmnx GraphML file."""
    import osmnx as ox

    if not path.is_file():
        raise DataError("graph file not found", where=str(path))
    if path.suffix in {".pickle", ".pkl"}:
        return _read_pickle(path)
    try:
        G = ox.load_graphml(path)
    except Exception as exc:
        raise DataError(
            f"corrupt graph file ({type(exc).__name__}: {exc})", where=str(path)
        ) from exc
    if "travel_time" in next(iter(G.edges(data=True)), (0, 0, {}))[2] and G.graph.get("digest"):
        for _, _, d in G.edges(data=True):
            for key in ("length", "travel_time", "speed_kph"):
                d[key] = float(d[key])
        G.graph["digest"] = graph_digest(G)
        return G
    # a raw osmnx graph (e.g. saved by someone else): process it like any source
    return finalize(G)


def _territory_polygon(territory: Any, buffer_m: float) -> Any:
    import numpy as np
    import shapely
    from pyproj import Transformer

    boundary = territory.boundary
    lat0 = boundary.centroid.y
    lon0 = boundary.centroid.x
    proj = f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +units=m"
    fwd = Transformer.from_crs("EPSG:4326", proj, always_xy=True)
    back = Transformer.from_crs(proj, "EPSG:4326", always_xy=True)

    def apply(tr: Any, geom: Any) -> Any:
        return shapely.transform(geom, lambda a: np.column_stack(tr.transform(a[:, 0], a[:, 1])))

    return apply(back, apply(fwd, boundary).buffer(buffer_m))


def overpass_cache_path(territory: Any, buffer_m: float = OVERPASS_BUFFER_M) -> Path:
    poly = _territory_polygon(territory, buffer_m)
    digest = hashlib.sha256(f"{poly.wkt}|{LOADER_VERSION}".encode()).hexdigest()[:16]
    return OSM_DATA_DIR / f"overpass-{digest}.graphml"


def _load_overpass(
    territory: Any, path: Path | None, speed_factor: float, overpass_url: str | None, refresh: bool
) -> nx.MultiDiGraph:
    import osmnx as ox

    from dispatcher.graph.osm import raw_graph_from_overpass

    if territory is None:
        from dispatcher.territory import Territory

        territory = Territory.load()
    target = Path(path) if path else overpass_cache_path(territory)
    if target.exists() and not refresh:
        try:
            raw = ox.load_graphml(target)
        except Exception as exc:
            raise DataError(
                f"corrupt Overpass cache ({type(exc).__name__}: {exc}); "
                "delete it to download again",
                where=str(target),
            ) from exc
    else:
        raw = raw_graph_from_overpass(
            _territory_polygon(territory, OVERPASS_BUFFER_M), overpass_url=overpass_url
        )
        _atomic_write_graphml(target, raw)
    raw.graph["source"] = "overpass"
    G = finalize(raw, speed_factor=speed_factor)
    G.graph["path"] = str(target)
    return G


def load_graph(
    source: str = "default",
    path: str | Path | None = None,
    *,
    speed_factor: float | None = None,
    territory: Any = None,
    overpass_url: str | None = None,
    refresh: bool = False,
    use_cache: bool = True,
) -> nx.MultiDiGraph:
    """Load a drivable road graph ready for routing.

    ``source``: ``"default"`` (embedded Pays du Coquelicot network), ``"osm-file"`` (``path`` to an
    ``.osm``/``.osm.pbf``), ``"overpass"`` (download the ``territory`` boundary + 5 km once; cached
    at ``path`` or ``data/osm/overpass-<digest>.graphml``; ``refresh`` downloads again), or
    ``"graph"`` (a file written by :func:`build_graph`). Returns an osmnx MultiDiGraph with
    ``length`` (m), ``speed_kph``, ``travel_time`` (s) on every edge, ``crs`` EPSG:4326, strongly
    connected, with ``G.graph["digest"]`` and ``G.graph["dropped"]``. ``speed_factor`` multiplies
    every speed; ``None`` means :data:`DEFAULT_SPEED_FACTOR` of the source (0.85 for the default
    network, else 1.0).
    """
    if speed_factor is None:
        speed_factor = DEFAULT_SPEED_FACTOR.get(source, 1.0)
    if source == "default":
        G = _load_osm_file(Path(path) if path else DEFAULT_OSM, speed_factor, use_cache)
    elif source == "osm-file":
        if path is None:
            raise InputError("the osm-file source needs a path to a .osm or .osm.pbf file", "path")
        G = _load_osm_file(Path(path), speed_factor, use_cache)
    elif source == "overpass":
        G = _load_overpass(
            territory, Path(path) if path else None, speed_factor, overpass_url, refresh
        )
    elif source == "graph":
        if path is None:
            raise InputError("the graph source needs a path to a .graphml or .pickle file", "path")
        G = _read_graph_file(Path(path))
    else:
        raise InputError(
            f"unknown graph source {source!r}; expected one of {', '.join(SOURCES)}", "source"
        )
    G.graph.setdefault("source", source)
    return G


def build_graph(
    source: str = "default",
    path: str | Path | None = None,
    out: str | Path | None = None,
    *,
    speed_factor: float | None = None,
    territory: Any = None,
    overpass_url: str | None = None,
) -> dict[str, Any]:
    """Load a source (see :func:`load_graph`) and write the processed graph to ``out``.

    ``out`` ending in ``.graphml`` is written with osmnx (portable), anything else as a pickle
    (fast). Default ``out``: ``<cache dir>/graphs/<source>-<digest>.pickle``. The write is atomic.
    Returns :func:`graph_summary` plus ``"out"``.
    """
    G = load_graph(
        source,
        path,
        speed_factor=speed_factor,
        territory=territory,
        overpass_url=overpass_url,
        refresh=False,
    )
    target = Path(out) if out else cache_dir() / "graphs" / f"{source}-{G.graph['digest']}.pickle"
    if target.suffix == ".graphml":
        _atomic_write_graphml(target, G)
    else:
        _atomic_write_bytes(target, pickle.dumps(G, protocol=pickle.HIGHEST_PROTOCOL))
    summary = graph_summary(G)
    summary["out"] = str(target)
    return summary


def graph_summary(G: nx.MultiDiGraph) -> dict[str, Any]:
    """Nodes, edges, km of road per highway class, dropped components, bbox, digest."""
    km: dict[str, float] = {}
    for u, v, d in G.edges(data=True):
        hw = d.get("highway", "unknown")
        hw = hw[0] if isinstance(hw, list) else str(hw)
        share = 0.5 if G.has_edge(v, u) else 1.0  # a two-way road is two edges: count it once
        km[hw] = km.get(hw, 0.0) + share * float(d["length"]) / 1000.0
    xs = [float(d["x"]) for _, d in G.nodes(data=True)]
    ys = [float(d["y"]) for _, d in G.nodes(data=True)]
    stops = sum(1 for _, d in G.nodes(data=True) if d.get("dispatcher:stop"))
    return {
        "source": G.graph.get("source", ""),
        "path": G.graph.get("path", ""),
        "digest": G.graph.get("digest", ""),
        "nodes": len(G),
        "edges": G.number_of_edges(),
        "stop_nodes": stops,
        "km_by_highway": {k: round(v, 1) for k, v in sorted(km.items(), key=lambda kv: -kv[1])},
        "km_total": round(sum(km.values()), 1),
        "dropped": dict(G.graph.get("dropped", {})),
        "speed_factor": G.graph.get("speed_factor", 1.0),
        "bbox": [round(min(xs), 6), round(min(ys), 6), round(max(xs), 6), round(max(ys), 6)]
        if xs
        else [],
    }
