#!/usr/bin/env python
"""Build the embedded default road network ``data/osm/coquelicot.osm`` from Travel Mapping data.

Input (read-only reference data, see ``../shared/data/README.md``):

- ``../shared/data/roads/travelmapping/<system>/*.wpt``: waypoints of the motorways (fraa),
  national roads (fran) and departmental roads (frahdfd80/62/02/60/59) around the Somme.
  The first label of a line is the waypoint's name, a ``+`` label is a shaping point, and two
  routes meet where they share a coordinate.
- ``../shared/data/territory/communes.geojson`` and ``communes.csv``: the 197 communes of the four
  intercommunalities (area filter, village built-up zones).
- ``data/territory/stops.csv`` (the project's own stops): each stop joins the network by an
  access link (skipped with a warning when the file does not exist yet).

Output: an OSM XML file whose ways carry ``highway``, ``ref``, ``maxspeed``, ``oneway=no``,
``dispatcher:source`` and ``dispatcher:circuity``; stops are nodes tagged ``dispatcher:stop``.
The loader (:mod:`dispatcher.graph.loader`) multiplies each way's straight-line length by its
``dispatcher:circuity`` tag. Calibration (see data/osm/README.md): D929 Amiens–Albert measures
26.2 km along straight lines between waypoints and about 28.5–29 km by road, so classified
roads get 1.10; access links (a village centre to its road, through streets) get 1.30.

Speeds: French legal defaults, 130 on motorways, 110 on dual-carriageway national roads (A-like
N roads are still tagged trunk), 80 on two-lane rural roads, and 50 inside built-up areas (Code
de la route R413-2/3). Built-up areas are not in the data, so each commune of the territory gets
a disc around its centre whose radius grows with its population (``village_radius_m``); the parts
of roads inside a disc are tagged ``maxspeed=50``.

Run: ``python scripts/build_default_osm.py`` (about 10 s). Deterministic: same input, same bytes.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import numpy as np
import shapely
from pyproj import Transformer
from scipy.spatial import cKDTree
from shapely.geometry import LineString, Point, shape
from shapely.ops import unary_union
from shapely.prepared import prep
from shapely.strtree import STRtree

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO / ".." / "shared" / "data"
SYSTEMS = {
    "fraa": "motorway",
    "fran": "trunk",
    "frahdfd80": "departmental",
    "frahdfd62": "departmental",
    "frahdfd02": "departmental",
    "frahdfd60": "departmental",
    "frahdfd59": "departmental",
}
MARGIN_M = 10_000.0
PIECE_M = 150.0  # resolution of the built-up-zone classification
CIRCUITY_ROAD = 1.10
CIRCUITY_ACCESS = 1.30
SECOND_ROAD_MAX_M = 1_500.0  # link a stop to a second/third road when it is this close
MAX_ACCESS_M = 6_000.0

TO_L93 = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
TO_WGS = Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True)


def village_radius_m(population: int) -> float:
    """Radius of the built-up disc of a commune: 300 m + 10 m per sqrt(inhabitant), at most 3.5 km.

    100 inhabitants -> 400 m, 1,000 -> 616 m, Albert (9,500) -> 1,275 m, Amiens -> 3,500 m.
    """
    return min(300.0 + 10.0 * math.sqrt(max(population, 0)), 3_500.0)


@dataclass
class Way:
    nodes: list[int]
    tags: dict[str, str]
    inserts: dict[int, list[tuple[float, int]]] = field(default_factory=dict)  # seg -> (t, node)


class Builder:
    def __init__(self) -> None:
        self.coords: dict[int, tuple[float, float]] = {}  # id -> (lon, lat)
        self.by_key: dict[tuple[float, float], int] = {}
        self.node_tags: dict[int, dict[str, str]] = {}
        self.ways: list[Way] = []

    def node(self, lon: float, lat: float) -> int:
        key = (round(lon, 6), round(lat, 6))
        nid = self.by_key.get(key)
        if nid is None:
            nid = len(self.coords) + 1
            self.by_key[key] = nid
            self.coords[nid] = key
        return nid

    def xy(self, nid: int) -> tuple[float, float]:
        lon, lat = self.coords[nid]
        x, y = TO_L93.transform(lon, lat)
        return float(x), float(y)


def read_wpt(path: Path) -> list[tuple[float, float]]:
    pts: list[tuple[float, float]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if not parts or "lat=" not in parts[-1]:
            continue
        query = parts[-1].split("?", 1)[1]
        kv = dict(p.split("=", 1) for p in query.split("&"))
        pts.append((round(float(kv["lon"]), 6), round(float(kv["lat"]), 6)))
    return pts


def road_class(system: str, route: str) -> tuple[str, int]:
    """(highway, maxspeed) of a Travel Mapping route outside built-up areas."""
    kind = SYSTEMS[system]
    if kind == "motorway":
        return "motorway", 130
    if kind == "trunk":
        return "trunk", 110 if route in {"N25", "N31"} else 80
    digits = "".join(ch for ch in route if ch.isdigit())
    number = int(digits) if digits else 9999
    # D10xx are former national roads, D9xx the department's main axes (D929, D938)
    if number < 100 or 900 <= number < 1100:
        return "secondary", 80
    return "tertiary", 80


def load_area() -> tuple[object, list[tuple[float, float, float]], dict[str, float]]:
    gj = json.loads((SHARED / "territory" / "communes.geojson").read_text(encoding="utf-8"))
    polys = []
    for feat in gj["features"]:
        geom = shape(feat["geometry"])
        polys.append(
            shapely.transform(geom, lambda a: np.column_stack(TO_L93.transform(a[:, 0], a[:, 1])))
        )
    area = unary_union(polys).buffer(MARGIN_M)
    villages: list[tuple[float, float, float]] = []
    radius: dict[str, float] = {}
    with open(SHARED / "territory" / "communes.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            x, y = TO_L93.transform(float(row["inner_lon"]), float(row["inner_lat"]))
            radius[row["insee"]] = village_radius_m(int(row["population"]))
            villages.append((float(x), float(y), radius[row["insee"]]))
    return area, villages, radius


@dataclass(frozen=True)
class Road:
    """One Travel Mapping route: its class, ref and speed outside built-up areas, and its
    waypoints (lon, lat) with their projected points."""

    highway: str
    ref: str
    rural_speed: int
    pts: list[tuple[float, float]]
    xy: list[tuple[float, float]]


def village_test(villages: list[tuple[float, float, float]]) -> Callable[[float, float], bool]:
    """Whether a projected point lies inside a village disc (x, y, radius)."""
    vxy = np.array([(v[0], v[1]) for v in villages])
    vr = np.array([v[2] for v in villages])
    vtree = cKDTree(vxy)
    rmax = float(vr.max())

    def in_village(x: float, y: float) -> bool:
        idx = vtree.query_ball_point((x, y), rmax)
        return any(math.hypot(vxy[i, 0] - x, vxy[i, 1] - y) < vr[i] for i in idx)

    return in_village


def runs_in_area(parea: Any, xy: list[tuple[float, float]]) -> list[list[tuple[int, int]]]:
    """Runs of consecutive segments (index pairs of ``xy``) that touch the area."""
    run: list[tuple[int, int]] = []
    runs: list[list[tuple[int, int]]] = []
    for i in range(len(xy) - 1):
        if parea.intersects(LineString([xy[i], xy[i + 1]])):
            run.append((i, i + 1))
        else:
            if run:
                runs.append(run)
            run = []
    if run:
        runs.append(run)
    return runs


def add_run(
    b: Builder, road: Road, run: list[tuple[int, int]], in_village: Callable[[float, float], bool]
) -> list[float]:
    """Add a run of a road as ways, walking it piece by piece and cutting a new way whenever the
    speed class changes. Returns the straight-line lengths of its segments."""
    current: list[int] = [b.node(*road.pts[run[0][0]])]
    current_speed: int | None = None
    seg_lengths: list[float] = []
    for i, j in run:
        (x0, y0), (x1, y1) = road.xy[i], road.xy[j]
        seg_len = math.hypot(x1 - x0, y1 - y0)
        seg_lengths.append(seg_len)
        n_pieces = max(1, math.ceil(seg_len / PIECE_M))
        for k in range(n_pieces):
            t0, t1 = k / n_pieces, (k + 1) / n_pieces
            tm_ = (t0 + t1) / 2
            mx, my = x0 + (x1 - x0) * tm_, y0 + (y1 - y0) * tm_
            speed = 50 if (road.highway != "motorway" and in_village(mx, my)) else road.rural_speed
            if current_speed is None:
                current_speed = speed
            elif speed != current_speed:
                # cut at the start of this piece
                bx, by = x0 + (x1 - x0) * t0, y0 + (y1 - y0) * t0
                lon, lat = TO_WGS.transform(bx, by)
                nid = b.node(lon, lat)
                if current[-1] != nid:
                    current.append(nid)
                add_way(b, current, road.highway, road.ref, current_speed)
                current = [nid]
                current_speed = speed
        nid = b.node(*road.pts[j])
        if current[-1] != nid:
            current.append(nid)
    add_way(b, current, road.highway, road.ref, current_speed or road.rural_speed)
    return seg_lengths


def build_roads(b: Builder, area: object, villages: list[tuple[float, float, float]]) -> dict:
    parea = prep(area)
    in_village = village_test(villages)
    stats: dict[str, float] = defaultdict(float)

    tm = SHARED / "roads" / "travelmapping"
    for system in SYSTEMS:
        with open(tm / f"{system}.csv", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh, delimiter=";"))
        for row in rows:
            path = tm / system / f"{row['fileNameRoot']}.wpt"
            if not path.exists():
                continue
            route = row["route"]
            highway, rural_speed = road_class(system, route)
            pts = read_wpt(path)
            xy = [TO_L93.transform(lon, lat) for lon, lat in pts]
            road = Road(highway, route, rural_speed, pts, xy)
            for run in runs_in_area(parea, xy):
                seg_lengths = add_run(b, road, run, in_village)
                if route == "D929" and system == "frahdfd80":
                    for seg_len in seg_lengths:
                        stats["d929_straight_m"] += seg_len
    return dict(stats)


def add_way(b: Builder, nodes: list[int], highway: str, ref: str, maxspeed: int) -> None:
    if len(nodes) < 2:
        return
    b.ways.append(
        Way(
            nodes=list(nodes),
            tags={
                "highway": highway,
                "ref": ref,
                "maxspeed": str(maxspeed),
                "oneway": "no",
                "dispatcher:source": "travelmapping",
                "dispatcher:circuity": f"{CIRCUITY_ROAD:.2f}",
            },
        )
    )


class SegmentIndex:
    """Road segments (projected) for nearest-point queries; motorways are excluded (no access)."""

    def __init__(self, b: Builder) -> None:
        self.b = b
        self.segs: list[LineString] = []
        self.owners: list[tuple[int, int]] = []  # (way index, segment index)
        for wi, way in enumerate(b.ways):
            if (
                way.tags["highway"] == "motorway"
                or way.tags.get("dispatcher:source") != "travelmapping"
            ):
                continue
            for si in range(len(way.nodes) - 1):
                self.segs.append(LineString([b.xy(way.nodes[si]), b.xy(way.nodes[si + 1])]))
                self.owners.append((wi, si))
        self.tree = STRtree(self.segs)

    def link(
        self,
        from_node: int,
        *,
        max_roads: int,
        second_max_m: float,
        tags: dict[str, str],
        exclude_refs: frozenset[str] = frozenset(),
        max_m: float = MAX_ACCESS_M,
    ) -> list[float]:
        """Link ``from_node`` to the nearest point of up to ``max_roads`` distinct roads.

        The nearest road is always linked (if within ``max_m``); the next ones only when closer
        than ``second_max_m``. A node is inserted on the road segment unless the nearest point
        is one of its ends. Returns the straight-line lengths of the links made.
        """
        b = self.b
        p = Point(*b.xy(from_node))
        cand = self.tree.query(p.buffer(max_m))
        dists = sorted((self.segs[int(c)].distance(p), int(c)) for c in cand)
        made: list[float] = []
        seen: set[str] = set(exclude_refs)
        for d, c in dists:
            wi, si = self.owners[c]
            way = b.ways[wi]
            ref = way.tags["ref"]
            if ref in seen or from_node in (way.nodes[si], way.nodes[si + 1]):
                continue
            if made and d > second_max_m:
                break
            seen.add(ref)
            seg = self.segs[c]
            t = seg.project(p, normalized=True)
            q = seg.interpolate(t, normalized=True)
            qlon, qlat = TO_WGS.transform(q.x, q.y)
            target = b.node(qlon, qlat)
            if target not in (way.nodes[si], way.nodes[si + 1]):
                way.inserts.setdefault(si, []).append((t, target))
            link_tags = dict(tags)
            if "maxspeed" not in link_tags:
                link_tags["maxspeed"] = "30" if d < 300 else "50"
            b.ways.append(Way(nodes=[from_node, target], tags=link_tags))
            made.append(d)
            if len(made) == max_roads:
                break
        return made


def add_connectors(b: Builder) -> int:
    """Join dead ends of classified roads (cut in towns, where streets are not in the data).

    Travel Mapping routes that enter a town stop at a boulevard (D929 ends at Boulevard de
    Beauvillé in Amiens); each such end is joined to the nearest other road within 3 km by a
    50 km/h link standing for the unmapped town streets. Motorway ends are left alone.
    """
    degree: dict[int, int] = defaultdict(int)
    for way in b.ways:
        for n in (way.nodes[0], way.nodes[-1]):
            degree[n] += 1
        for n in way.nodes[1:-1]:
            degree[n] += 2
    index = SegmentIndex(b)
    made = 0
    for way in list(b.ways):
        if way.tags["highway"] == "motorway":
            continue
        for end in (way.nodes[0], way.nodes[-1]):
            if degree[end] != 1:
                continue
            links = index.link(
                end,
                max_roads=1,
                second_max_m=0.0,
                max_m=3_000.0,
                exclude_refs=frozenset({way.tags["ref"]}),
                tags={
                    "highway": "unclassified",
                    "maxspeed": "50",
                    "oneway": "no",
                    "dispatcher:source": "connector",
                    "dispatcher:circuity": f"{CIRCUITY_ACCESS:.2f}",
                },
            )
            made += len(links)
            degree[end] += len(links)
    return made


def add_access_links(b: Builder, stops_csv: Path, radius: dict[str, float]) -> dict[str, int]:
    """Join every stop to the nearest road, and to up to two more roads when they are close.

    "Close" is 1.5 km or 1.5 times the commune's built-up radius (so a town like Albert joins the
    roads that leave it in every direction and a village at a junction is no dead end).
    """
    index = SegmentIndex(b)
    counts = {"stops": 0, "links": 0, "unlinked": 0}
    with open(stops_csv, encoding="utf-8") as fh:
        stops = list(csv.DictReader(fh))
    next_id = 10_000_000
    for stop in stops:
        lon, lat = round(float(stop["lon"]), 6), round(float(stop["lat"]), 6)
        counts["stops"] += 1
        stop_node = next_id
        next_id += 1
        b.coords[stop_node] = (lon, lat)
        b.node_tags[stop_node] = {"dispatcher:stop": stop["id"], "name": stop.get("name", "")}
        second = max(SECOND_ROAD_MAX_M, 1.5 * radius.get(stop.get("insee", ""), 0.0))
        made = index.link(
            stop_node,
            max_roads=3,
            second_max_m=second,
            tags={
                "highway": "unclassified",
                "oneway": "no",
                "dispatcher:access": "yes",
                "dispatcher:source": "access",
                "dispatcher:circuity": f"{CIRCUITY_ACCESS:.2f}",
            },
        )
        counts["links"] += len(made)
        counts["unlinked"] += not made
    return counts


def write_osm(b: Builder, out: Path) -> None:
    used: set[int] = set()
    final_ways: list[tuple[list[int], dict[str, str]]] = []
    for way in b.ways:
        nodes: list[int] = []
        for si, nid in enumerate(way.nodes):
            nodes.append(nid)
            for _, ins in sorted(way.inserts.get(si, [])):
                if nodes[-1] != ins:
                    nodes.append(ins)
        final_ways.append((nodes, way.tags))
        used.update(nodes)
    tmp = out.with_suffix(".osm.tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        fh.write(
            '<osm version="0.6" generator="dispatcher scripts/build_default_osm.py" '
            'copyright="Travel Mapping HighwayData; coordinates (c) OpenStreetMap contributors" '
            'license="http://opendatacommons.org/licenses/odbl/1-0/">\n'
        )
        for nid in sorted(used):
            lon, lat = b.coords[nid]
            tags = b.node_tags.get(nid)
            if tags:
                fh.write(f' <node id="{nid}" version="1" lat="{lat:.6f}" lon="{lon:.6f}">\n')
                for k, v in tags.items():
                    fh.write(f"  <tag k={quoteattr(k)} v={quoteattr(v)}/>\n")
                fh.write(" </node>\n")
            else:
                fh.write(f' <node id="{nid}" version="1" lat="{lat:.6f}" lon="{lon:.6f}"/>\n')
        for i, (nodes, tags) in enumerate(final_ways, start=1):
            fh.write(f' <way id="{i}" version="1">\n')
            fh.writelines(f'  <nd ref="{n}"/>\n' for n in nodes)
            fh.writelines(f"  <tag k={quoteattr(k)} v={quoteattr(v)}/>\n" for k, v in tags.items())
            fh.write(" </way>\n")
        fh.write("</osm>\n")
    tmp.replace(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "data" / "osm" / "coquelicot.osm")
    ap.add_argument("--stops", type=Path, default=REPO / "data" / "territory" / "stops.csv")
    args = ap.parse_args(argv)
    if not (SHARED / "roads" / "travelmapping").is_dir():
        print(f"error: {SHARED / 'roads' / 'travelmapping'} not found", file=sys.stderr)
        return 2
    area, villages, radius = load_area()
    b = Builder()
    stats = build_roads(b, area, villages)
    print(f"roads: {len(b.ways)} ways, {len(b.coords)} nodes")
    print(f"D929 straight-line length in the area: {stats.get('d929_straight_m', 0) / 1000:.1f} km")
    print(f"connectors joining dead ends in towns: {add_connectors(b)}")
    if args.stops.exists():
        counts = add_access_links(b, args.stops, radius)
        print(f"access links: {counts}")
    else:
        print(f"warning: {args.stops} not found, no access links", file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_osm(b, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
