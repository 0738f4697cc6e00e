#!/usr/bin/env python
"""Matrix benchmark: build the default road network, then N x N matrices vs plain networkx.

    python benchmarks/matrix.py [--sizes 65 197 500 2000] [--seed 1] [--nx-sample 40]

Points are random (seeded) inside the four intercommunalities, snapped to the default network.
The networkx baseline runs ``nx.single_source_dijkstra_path_length(G, s, weight="travel_time")``
per source; above ``--nx-sample`` sources it times a sample and extrapolates (marked ``*``).
The project's matrices run with the disk cache off (cold) so they are really computed.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import networkx as nx  # noqa: E402
from shapely.geometry import Point  # noqa: E402

from dispatcher.graph import RoadNetwork, graph_summary, load_graph  # noqa: E402
from dispatcher.territory import Territory  # noqa: E402


def random_points(territory: Territory, n: int, seed: int) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    x0, y0, x1, y1 = territory.bbox
    pts: list[tuple[float, float]] = []
    boundary = territory.boundary
    while len(pts) < n:
        p = (rng.uniform(x0, x1), rng.uniform(y0, y1))
        if boundary.contains(Point(p)):
            pts.append(p)
    return pts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[65, 197, 500, 2000])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--nx-sample", type=int, default=40)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="dispatcher-bench-") as tmp:
        os.environ["DISPATCHER_CACHE_DIR"] = str(Path(tmp) / "timed")  # cold: no graph cache
        t0 = time.perf_counter()
        G = load_graph("default")
        t_load = time.perf_counter() - t0
        net = RoadNetwork(G)
        t_build = time.perf_counter() - t0
        os.environ["DISPATCHER_CACHE_DIR"] = str(Path(tmp) / "memory")  # cold again, traced
        tracemalloc.start()
        RoadNetwork(load_graph("default"))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        os.environ["DISPATCHER_CACHE_DIR"] = str(Path(tmp) / "timed")
        t0 = time.perf_counter()
        load_graph("default")
        t_warm = time.perf_counter() - t0
        s = graph_summary(G)
        print(f"default graph: {s['nodes']} nodes, {s['edges']} edges, {s['km_total']} km")
        print(
            f"build (cold: parse OSM + process): {t_load:.2f} s; + RoadNetwork (CSR, KD-tree): "
            f"{t_build:.2f} s; peak {peak / 1e6:.0f} MB; warm load from cache {t_warm:.2f} s"
        )
        territory = Territory.load("all")
        rows = []
        for n in args.sizes:
            pts = random_points(territory, n, args.seed)
            nodes = net.snap(pts, max_distance_m=20_000)
            tracemalloc.start()
            t0 = time.perf_counter()
            net.matrices(pts, cache=False, max_distance_m=20_000)
            t_ours = time.perf_counter() - t0
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            sources = list(dict.fromkeys(int(x) for x in nodes))
            sample = (
                sources
                if len(sources) <= args.nx_sample
                else random.Random(args.seed).sample(sources, args.nx_sample)
            )
            t0 = time.perf_counter()
            for src in sample:
                nx.single_source_dijkstra_path_length(G, src, weight="travel_time")
            t_nx = (time.perf_counter() - t0) * len(sources) / len(sample)
            extrap = "*" if len(sample) < len(sources) else ""
            rows.append((n, len(sources), t_ours, peak / 1e6, t_nx, extrap, t_nx / t_ours))
        print()
        print(
            f"{'points':>7} {'unique nodes':>13} {'dispatcher s':>13} {'peak MB':>8} "
            f"{'networkx s':>11} {'ratio':>7}"
        )
        for n, u, t_ours, mb, t_nx, extrap, ratio in rows:
            print(
                f"{n:>7} {u:>13} {t_ours:>13.3f} {mb:>8.1f} "
                f"{t_nx:>10.2f}{extrap or ' '} {ratio:>6.1f}x"
            )
        print("\n* networkx time extrapolated from a sample of sources; dispatcher times include")
        print("  snapping, Dijkstra (time + fastest-path distance) and int32 rounding, cache off.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
