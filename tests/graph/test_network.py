"""The default network (data/osm/coquelicot.osm) and RoadNetwork: snapping, matrices, cache."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatcher.errors import DispatcherError, PointError
from dispatcher.graph import RoadNetwork, graph_summary, matrix_cache_dir
from dispatcher.territory import Territory


@pytest.fixture(scope="module")
def net() -> RoadNetwork:
    return RoadNetwork.default()


@pytest.fixture(scope="module")
def territory() -> Territory:
    return Territory.load("all")


def test_default_graph_summary(net: RoadNetwork) -> None:
    s = graph_summary(net.G)
    assert s["stop_nodes"] >= 197
    assert s["dropped"]["components"] >= 0
    assert {"motorway", "secondary", "tertiary", "unclassified"} <= set(s["km_by_highway"])
    assert 1.8 < s["bbox"][0] < 2.3 and 3.0 < s["bbox"][2] < 3.5


def test_every_commune_reachable_from_albert_and_back(
    net: RoadNetwork, territory: Territory
) -> None:
    stops = [territory.main_stop(c.insee) for c in territory.communes]
    assert len(stops) == 197
    dur, dist = net.matrices([(s.lon, s.lat) for s in stops], [s.id for s in stops], cache=False)
    a = [s.insee for s in stops].index("80016")
    assert (dur[a] >= 0).all() and (dur[:, a] >= 0).all()
    others = np.arange(len(stops)) != a
    assert (dur[a, others] > 0).all() and (dur[others, a] > 0).all()
    assert dur.max() < 2 * 3600  # nothing in the four intercommunalities is 2 h away
    assert (dist[others][:, others] >= 0).all()


# documented in data/osm/README.md: (min, max) minutes from Albert, road km range
PLAUSIBLE = {
    "Méaulte": ((4, 9), (3, 7)),
    "Bray-sur-Somme": ((9, 20), (9, 15)),
    "Acheux-en-Amiénois": ((10, 20), (11, 17)),
    "Amiens": ((25, 50), (26, 42)),
}


@pytest.mark.parametrize("name", sorted(PLAUSIBLE))
def test_albert_to_poles_plausible(net: RoadNetwork, territory: Territory, name: str) -> None:
    albert = territory.main_stop(territory.commune("Albert").insee)
    dest = territory.main_stop(territory.commune(name).insee)
    dur, dist = net.matrices([(albert.lon, albert.lat), (dest.lon, dest.lat)], cache=False)
    (tmin, tmax), (kmin, kmax) = PLAUSIBLE[name]
    assert tmin * 60 <= dur[0, 1] <= tmax * 60, dur[0, 1] / 60
    assert tmin * 60 <= dur[1, 0] <= tmax * 60
    assert kmin * 1000 <= dist[0, 1] <= kmax * 1000, dist[0, 1]


def test_path_coords_follow_roads(net: RoadNetwork, territory: Territory) -> None:
    a = territory.main_stop("80016")
    b = territory.main_stop("80021")
    line = net.path_coords((a.lon, a.lat), (b.lon, b.lat))
    assert line[0] == (a.lon, a.lat) and line[-1] == (b.lon, b.lat)
    assert len(line) > 10
    assert all(1.9 < x < 3.4 and 49.6 < y < 50.3 for x, y in line)


@pytest.mark.parametrize(
    ("point", "match"),
    [
        ((1.2, 50.3), "from the nearest road"),  # in the Channel
        ((2.35, 48.85), "from the nearest road"),  # Paris
        ((float("nan"), 50.0), "not a valid"),
        ((2.6, float("inf")), "not a valid"),
        (("x", 50.0), "not a"),
    ],
)
def test_bad_points_are_named(net: RoadNetwork, point: tuple[float, float], match: str) -> None:
    with pytest.raises(PointError, match=match) as err:
        net.snap([(2.648, 50.003), point], labels=["albert", "bad one"])
    assert err.value.where == "point 'bad one'"
    assert isinstance(err.value, DispatcherError) and err.value.exit_code == 2


def test_outside_territory_is_refused(net: RoadNetwork) -> None:
    pilot = Territory.load()  # Pays du Coquelicot alone
    amiens = (2.2957, 49.8942)
    net.snap([amiens])  # on a road of the default graph
    with pytest.raises(PointError, match=r"outside the territory") as err:
        net.snap([(2.648, 50.003), amiens], territory=pilot, territory_buffer_m=1000)
    assert err.value.where == "point #1"
    assert "2.295700" in err.value.message


def test_max_distance_is_configurable(net: RoadNetwork) -> None:
    p = (2.60, 50.06)
    nid = net.snap([p], max_distance_m=5000)[0]
    assert nid in net.G
    with pytest.raises(PointError):
        net.snap([p], max_distance_m=1.0)


def test_duplicate_points_share_a_node(net: RoadNetwork, territory: Territory) -> None:
    a = territory.main_stop("80016")
    dur, dist = net.matrices([(a.lon, a.lat), (a.lon, a.lat)], cache=False)
    assert dur.tolist() == [[0, 0], [0, 0]] and dist.dtype == np.int32


_lon = st.floats(2.45, 2.95)
_lat = st.floats(49.88, 50.12)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(_lon, _lat), min_size=2, max_size=12))
def test_matrix_properties(net: RoadNetwork, points: list[tuple[float, float]]) -> None:
    dur, dist = net.matrices(points, max_distance_m=10_000)
    n = len(points)
    assert dur.shape == dist.shape == (n, n)
    assert (np.diag(dur) == 0).all() and (np.diag(dist) == 0).all()
    assert (dur >= 0).all() and (dist >= 0).all()
    # triangle inequality on times (the metric Dijkstra minimises), 1 s rounding per leg
    lhs = dur[:, None, :]
    rhs = dur[:, :, None] + dur[None, :, :]
    assert (lhs <= rhs + 2).all()
    again = net.matrices(points, max_distance_m=10_000)
    assert np.array_equal(again[0], dur) and np.array_equal(again[1], dist)


def test_cache_is_written_atomically_and_reused(net: RoadNetwork, territory: Territory) -> None:
    pts = [(s.lon, s.lat) for s in territory.stops[:30]]
    first = net.matrices(pts)
    folder = matrix_cache_dir()
    entries = list(folder.glob("*.npz"))
    assert entries and not list(folder.glob("*.tmp"))
    second = net.matrices(pts)
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


def test_corrupt_cache_entry_is_dropped_with_a_warning(
    net: RoadNetwork, territory: Territory
) -> None:
    pts = [(s.lon, s.lat) for s in territory.stops[30:45]]
    ref = net.matrices(pts, cache=False)
    net.matrices(pts)  # writes the entry
    uniq = np.unique(net._snap_indices(pts, None, 2000.0, None, 0.0))
    path: Path = net._cache_path(uniq)
    assert path.exists()
    path.write_bytes(b"PK\x03\x04 garbage")
    with pytest.warns(UserWarning, match="corrupt matrix cache entry"):
        got = net.matrices(pts)
    assert all(np.array_equal(a, b) for a, b in zip(ref, got, strict=True))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net.matrices(pts)  # rewritten: no warning now
    assert path.exists()


def test_corrupt_processed_graph_cache_is_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dispatcher.graph import load_graph

    monkeypatch.setenv("DISPATCHER_CACHE_DIR", str(tmp_path))
    G = load_graph("default")
    (entry,) = (tmp_path / "graphs").glob("*.pickle")
    entry.write_bytes(b"\x80\x05 not a graph")
    with pytest.warns(UserWarning, match="corrupt graph cache entry"):
        G2 = load_graph("default")
    assert G2.graph["digest"] == G.graph["digest"]
    assert math.isfinite(sum(d["travel_time"] for *_, d in G2.edges(data=True)))


def test_another_territory_is_one_setting(
    helsinki_pbf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DISPATCHER_GRAPH points every command (plan, API, scenarios) at another road network."""
    from dispatcher.errors import DataError
    from dispatcher.graph import load_graph

    default = RoadNetwork.default()
    monkeypatch.setenv("DISPATCHER_GRAPH", str(helsinki_pbf))
    other = RoadNetwork.default()
    assert other.digest == load_graph("osm-file", helsinki_pbf).graph["digest"] != default.digest
    dur, _ = other.matrices([(24.93, 60.17), (24.95, 60.17)])
    assert dur[0][1] > 0
    monkeypatch.setenv("DISPATCHER_GRAPH", str(helsinki_pbf.with_name("nowhere.osm.pbf")))
    with pytest.raises(DataError):
        RoadNetwork.default()
    monkeypatch.delenv("DISPATCHER_GRAPH")
    assert RoadNetwork.default() is default
