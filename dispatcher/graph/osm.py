"""Read OpenStreetMap data: local ``.osm`` / ``.osm.pbf`` files (pyosmium) and the Overpass API
(osmnx).

Both paths end in the same raw osmnx MultiDiGraph (``length`` in metres, crs EPSG:4326, one edge
per OSM segment, not yet simplified); :mod:`dispatcher.graph.loader` then adds speeds and travel
times, simplifies and keeps the largest strongly connected component.

A local file is read once with pyosmium (node locations resolved on the fly), filtered with the
same rule as osmnx's ``network_type="drive"`` Overpass query, written as a small OSM XML file in
a temporary folder and handed to :func:`osmnx.graph_from_xml`, so that oneway handling and edge
attributes are exactly osmnx's.
"""

from __future__ import annotations

import contextlib
import json
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import networkx as nx

from dispatcher.errors import DataError

# osmnx 2.1 "drive" filter (osmnx/_overpass.py), as Overpass applies it: unanchored regexes.
_EXCLUDED_HIGHWAY = re.compile(
    "abandoned|bridleway|bus_guideway|construction|corridor|cycleway|elevator|escalator|"
    "footway|no|path|pedestrian|planned|platform|proposed|raceway|razed|rest_area|service|"
    "services|steps|track"
)
_EXCLUDED_SERVICE = re.compile("alley|driveway|emergency_access|parking|parking_aisle|private")
_NO = re.compile("no")
_PRIVATE = re.compile("private")
_YES = re.compile("yes")

#: Way tags kept as edge attributes (osmnx's defaults plus the project's own).
WAY_TAGS = [
    "access",
    "highway",
    "junction",
    "lanes",
    "maxspeed",
    "name",
    "oneway",
    "ref",
    "dispatcher:access",
    "dispatcher:circuity",
    "dispatcher:source",
]
#: Node tags kept as node attributes.
NODE_TAGS = ["highway", "junction", "ref", "name", "dispatcher:stop"]
#: The ``addr:*`` tags of an address (a node, or a building way at the mean of its nodes) kept
#: for the offline geocoder (:mod:`dispatcher.graph.geocode`), in ``G.graph["addresses"]``.
ADDRESS_TAGS = ("addr:housenumber", "addr:street", "addr:place", "addr:postcode", "addr:city")


def _address(tags: dict[str, str], lon: float, lat: float) -> list[Any] | None:
    """[housenumber, street, postcode, city, lon, lat] of an element with an address."""
    number = tags.get("addr:housenumber", "")
    street = tags.get("addr:street") or tags.get("addr:place") or ""
    if not (number and street):
        return None
    return [number, street, tags.get("addr:postcode", ""), tags.get("addr:city", ""), lon, lat]


def _way_address(way: Any) -> list[Any] | None:
    tags = {t.k: t.v for t in way.tags if t.k in ADDRESS_TAGS}
    if "addr:housenumber" not in tags:
        return None
    points = [(n.location.lon, n.location.lat) for n in way.nodes if n.location.valid()]
    if not points:
        return None
    lon = sum(p[0] for p in points) / len(points)
    lat = sum(p[1] for p in points) / len(points)
    return _address(tags, lon, lat)


def is_drivable(tags: dict[str, str]) -> bool:
    """True for a way that osmnx's ``network_type="drive"`` would download."""
    highway = tags.get("highway")
    if not highway:
        return False
    checks = (
        ("area", _YES),
        ("access", _PRIVATE),
        ("highway", _EXCLUDED_HIGHWAY),
        ("motor_vehicle", _NO),
        ("motorcar", _NO),
        ("service", _EXCLUDED_SERVICE),
    )
    return not any(key in tags and rx.search(tags[key]) for key, rx in checks)


def _kept_node_tags(node: Any) -> dict[str, str]:
    """The tags of an osmium node that are kept (:data:`NODE_TAGS`)."""
    if not len(node.tags):
        return {}
    return {t.k: t.v for t in node.tags if t.k in NODE_TAGS}


def _drivable_way(way: Any, nodes: dict[int, dict[str, Any]]) -> dict[str, Any] | None:
    """An osmium way as an Overpass way element, or None when it is not drivable or has fewer
    than 2 nodes inside the extract. Its nodes inside the extract are added to ``nodes``."""
    tags = {t.k: t.v for t in way.tags}
    if not is_drivable(tags):
        return None
    refs: list[int] = []
    for n in way.nodes:
        loc = n.location
        if not loc.valid():
            continue  # node outside the extract: osmnx drops it too
        refs.append(n.ref)
        if n.ref not in nodes:
            nodes[n.ref] = {"type": "node", "id": n.ref, "lat": loc.lat, "lon": loc.lon}
    if len(refs) < 2:
        return None
    return {"type": "way", "id": way.id, "nodes": refs, "tags": tags}


def read_drivable(path: str | Path) -> dict[str, Any]:
    """Drivable ways of an OSM file (``.osm``, ``.osm.pbf``, ``.osm.bz2``) as Overpass JSON.

    Returns ``{"elements": [nodes..., ways...]}`` in the shape the Overpass API answers
    ``out body; >; out skel qt;`` (node: id, lat, lon, tags; way: id, nodes, tags), and
    ``"addresses"``: the file's ``addr:*`` addresses (see :data:`ADDRESS_TAGS`).
    Raises DataError naming the file when it is missing, unreadable or has no drivable way.
    """
    import osmium

    path = Path(path)
    if not path.is_file():
        raise DataError("OSM file not found", where=str(path))
    nodes: dict[int, dict[str, Any]] = {}
    ways: list[dict[str, Any]] = []
    node_tags: dict[int, dict[str, str]] = {}
    addresses: list[list[Any]] = []
    try:
        for obj in osmium.FileProcessor(str(path)).with_locations():
            if isinstance(obj, osmium.osm.Node):
                tags = _kept_node_tags(obj)
                if tags:
                    node_tags[obj.id] = tags
                if "addr:housenumber" in obj.tags and obj.location.valid():
                    addr_tags = {t.k: t.v for t in obj.tags if t.k in ADDRESS_TAGS}
                    found = _address(addr_tags, obj.location.lon, obj.location.lat)
                    if found:
                        addresses.append(found)
            elif isinstance(obj, osmium.osm.Way):
                way = _drivable_way(obj, nodes)
                if way is not None:
                    ways.append(way)
                else:
                    found = _way_address(obj)
                    if found:
                        addresses.append(found)
    except (RuntimeError, ValueError, OSError) as exc:
        raise DataError(f"cannot read OSM data ({exc})", where=str(path)) from exc
    if not ways:
        raise DataError("no drivable road in this OSM file", where=str(path))
    for nid, tags in node_tags.items():
        if nid in nodes:
            nodes[nid]["tags"] = tags
    return {"elements": [*nodes.values(), *ways], "addresses": addresses}


def write_osm_xml(data: dict[str, Any], out: Path) -> None:
    """Write Overpass-style JSON elements as an OSM XML file."""
    with open(out, "w", encoding="utf-8") as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n')
        for el in data["elements"]:
            if el["type"] == "node":
                head = (
                    f' <node id="{el["id"]}" version="1" '
                    f'lat="{el["lat"]:.7f}" lon="{el["lon"]:.7f}"'
                )
                tags = el.get("tags") or {}
                if not tags:
                    fh.write(head + "/>\n")
                    continue
                fh.write(head + ">\n")
                fh.writelines(
                    f"  <tag k={quoteattr(k)} v={quoteattr(v)}/>\n" for k, v in tags.items()
                )
                fh.write(" </node>\n")
        for el in data["elements"]:
            if el["type"] == "way":
                fh.write(f' <way id="{el["id"]}" version="1">\n')
                fh.writelines(f'  <nd ref="{n}"/>\n' for n in el["nodes"])
                fh.writelines(
                    f"  <tag k={quoteattr(k)} v={quoteattr(v)}/>\n" for k, v in el["tags"].items()
                )
                fh.write(" </way>\n")
        fh.write("</osm>\n")


@contextlib.contextmanager
def _osmnx_settings(**values: Any) -> Iterator[None]:
    import osmnx as ox

    old = {k: getattr(ox.settings, k) for k in values}
    try:
        for k, v in values.items():
            setattr(ox.settings, k, v)
        yield
    finally:
        for k, v in old.items():
            setattr(ox.settings, k, v)


def raw_graph_from_file(path: str | Path) -> nx.MultiDiGraph:
    """Unsimplified drivable osmnx graph of a local OSM file."""
    import osmnx as ox

    data = read_drivable(path)
    with tempfile.TemporaryDirectory(prefix="dispatcher-osm-") as tmp:
        xml = Path(tmp) / "drive.osm"
        write_osm_xml(data, xml)
        with _osmnx_settings(
            useful_tags_way=WAY_TAGS, useful_tags_node=NODE_TAGS, log_console=False
        ):
            try:
                G = ox.graph_from_xml(xml, simplify=False, retain_all=True)
            except Exception as exc:  # osmnx raises several kinds on bad data
                raise DataError(
                    f"cannot build a graph from OSM data ({exc})", where=str(path)
                ) from exc
    G.graph["source"] = f"osm-file:{Path(path).name}"
    G.graph["addresses"] = json.dumps(data["addresses"], ensure_ascii=False)  # GraphML-safe
    return G


def raw_graph_from_overpass(
    polygon: Any, *, overpass_url: str | None = None, timeout_s: float = 180.0
) -> nx.MultiDiGraph:
    """Unsimplified drivable graph inside ``polygon`` (shapely, EPSG:4326) from an Overpass API.

    ``overpass_url`` defaults to osmnx's setting (the public server). osmnx's own response cache
    and its ``/status`` rate-limit probe are turned off: the project caches the processed graph
    itself (see :func:`dispatcher.graph.loader.load_graph`).
    """
    import osmnx as ox

    settings: dict[str, Any] = {
        "useful_tags_way": WAY_TAGS,
        "useful_tags_node": NODE_TAGS,
        "use_cache": False,
        "overpass_rate_limit": False,
        "requests_timeout": timeout_s,
        "doh_url_template": None,
        "log_console": False,
    }
    if overpass_url:
        settings["overpass_url"] = overpass_url.rstrip("/")
    with _osmnx_settings(**settings):
        try:
            G = ox.graph_from_polygon(
                polygon,
                network_type="drive",
                simplify=False,
                retain_all=True,
                truncate_by_edge=True,
            )
        except Exception as exc:
            url = settings.get("overpass_url") or ox.settings.overpass_url
            raise DataError(
                f"Overpass download failed ({type(exc).__name__}: {exc})", where=url
            ) from exc
    G.graph["source"] = "overpass"
    return G
