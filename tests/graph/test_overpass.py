"""The Overpass source against a local fake Overpass server on 127.0.0.1 (no network)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import networkx as nx
import pytest

from dispatcher.errors import DataError
from dispatcher.graph import load_graph
from dispatcher.graph.loader import DEFAULT_OSM
from dispatcher.graph.osm import read_drivable
from dispatcher.territory import Territory

MAX_REQUESTS = 20


@pytest.fixture(scope="module")
def fake_overpass() -> Iterator[tuple[str, list[str]]]:
    """A loopback server answering /api/interpreter like Overpass, from the default OSM file."""
    body = json.dumps(
        {"version": 0.6, "generator": "dispatcher test fake Overpass", **read_drivable(DEFAULT_OSM)}
    ).encode()
    queries: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length", 0))
            queries.append(self.rfile.read(length).decode())
            if len(queries) > MAX_REQUESTS or not self.path.endswith("/interpreter"):
                self.send_response(400)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/api", queries
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_overpass_download_is_processed_and_cached(
    fake_overpass: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, queries = fake_overpass
    pilot = Territory.load()
    target = tmp_path / "overpass-test.graphml"
    G = load_graph("overpass", target, territory=pilot, overpass_url=url)
    assert queries and "highway" in queries[0] and "poly" in queries[0]
    assert target.exists() and not list(tmp_path.glob("*.tmp"))
    assert nx.is_strongly_connected(G)
    assert all(d["travel_time"] > 0 for *_, d in G.edges(data=True))
    # truncated to the pilot territory + 5 km: Albert is in it, Amiens (20 km away) is not
    stops = {d.get("dispatcher:stop") for _, d in G.nodes(data=True)}
    assert "80016" in stops and "80523" in stops
    assert "80021" not in stops and "80021-gare" not in stops
    # second call: served from the cache, no request
    n = len(queries)
    G2 = load_graph("overpass", target, territory=pilot, overpass_url=url)
    assert len(queries) == n and G2.graph["digest"] == G.graph["digest"]


def test_overpass_failure_names_the_server(tmp_path: Path) -> None:
    # a port nobody listens on (bound then closed): connection refused, immediately
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(DataError, match="Overpass download failed") as err:
        load_graph(
            "overpass",
            tmp_path / "x.graphml",
            territory=Territory.load(),
            overpass_url=f"http://127.0.0.1:{port}/api",
        )
    assert "127.0.0.1" in err.value.where
    assert not (tmp_path / "x.graphml").exists()


def test_corrupt_overpass_cache_is_a_data_error(tmp_path: Path) -> None:
    bad = tmp_path / "overpass-bad.graphml"
    bad.write_text("<graphml><broken", encoding="utf-8")
    with pytest.raises(DataError, match="overpass-bad.graphml"):
        load_graph("overpass", bad, territory=Territory.load())
