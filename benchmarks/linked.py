"""Benchmark: linked trips (an outbound and its return) on generated days of the Pays du
Coquelicot. For each fleet size: how often the static split of a pair's windows narrows one of
them, then the day planned with both-or-neither held by the repair (the default) and by a CP
constraint on the two pickups' activity (``SearchOptions(link_activity=True)``), each judged by
the checker. See ``benchmarks/results/linked_trips.md``.

    python -m benchmarks.linked --requests 150 --vehicles 13,4 --time-limit 10
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from dispatcher.demand import generate_fleet, generate_requests
from dispatcher.graph import RoadNetwork
from dispatcher.io.problem import problem_from_dicts
from dispatcher.model import SolverParams
from dispatcher.solver.checker import check_plan
from dispatcher.solver.linked import split_s, stay_s
from dispatcher.solver.routing import OrToolsSolver, SearchOptions
from dispatcher.territory import Territory

PILOT = ("248000747",)  # CC du Pays du Coquelicot


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=150)
    ap.add_argument("--vehicles", default="13,4", help="fleet sizes, comma-separated")
    ap.add_argument("--time-limit", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    territory = Territory.load(list(PILOT))
    network = RoadNetwork.default()
    params = SolverParams(time_limit_s=args.time_limit, seed=args.seed)
    requests = generate_requests(territory, args.requests, args.seed)
    cols = "vehicles  mode     first_s  served  pairs_both  pairs_neither  objective  checker"
    print(cols)
    for nv in (int(x) for x in args.vehicles.split(",") if x):
        fleet = generate_fleet(territory, nv, max(1, nv // 4), args.seed)
        p = problem_from_dicts(requests, fleet, territory, network, params=params)
        narrowed = sum(
            1
            for o, r in p.linked_pairs()
            if split_s(p, o, r) < p.dropoff_tw(o).end_s
            or split_s(p, o, r) + stay_s(p, o, r) > p.pickup_tw(r).start_s
        )
        print(f"# {len(p.linked_pairs())} pairs, {narrowed} narrowed by the split")
        for mode in ("repair", "cp"):
            solver = OrToolsSolver(params, SearchOptions(link_activity=mode == "cp"))
            plan = solver.solve(p)
            ok = check_plan(p, plan).ok
            first = solver.trace.solutions[0][0] if solver.trace.solutions else float("nan")
            k = plan.kpis
            print(
                f"{nv:8d}  {mode:6s} {first:8.2f}  {k.served:6d}  {k.linked_pairs_served:10d}"
                f"  {k.linked_pairs_refused:13d}  {plan.stats.objective:9.1f}  "
                f"{'OK' if ok else 'INVALID'}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
