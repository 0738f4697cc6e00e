"""Benchmark: the ALNS layer on days with drivers' breaks, against plain OR-Tools.

The generated territory days of ``benchmarks/territory.py`` (seed 1, a proportionate fleet whose
drivers all take a lunch break) are planned twice at the same time limit: with the ALNS layer on
the day without breaks, its plan timed exactly with the breaks and kept only if cheaper
(``SearchOptions.alns_breaks``, the default), and with OR-Tools alone. Every plan is judged by
the independent checker. Prints a table (real cost = the KPIs' cost + 1,000 EUR per refusal).

    python -m benchmarks.alns_breaks --sizes 150,400 --time-limit 60
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from benchmarks.territory import PILOT, Case, build, print_table
from dispatcher.model import SolverParams
from dispatcher.solver import alns
from dispatcher.solver.checker import check_plan
from dispatcher.solver.routing import OrToolsSolver, SearchOptions


def run(n: int, limit: float, seed: int, alns_breaks: bool) -> dict[str, object]:
    params = SolverParams(time_limit_s=limit, seed=seed)
    problem = build(Case(n, PILOT), seed, params)
    plan = OrToolsSolver(options=SearchOptions(alns_breaks=alns_breaks)).solve(problem)
    k = plan.kpis
    penalty = sum(
        problem.weights.refusal_penalty * problem.request(j.request_id).priority
        for j in plan.rejections
    )
    return {
        "requests": n,
        "search": "ALNS (no breaks) + exact timing" if alns_breaks else "OR-Tools alone",
        "served": k.served,
        "cost_eur": k.cost_eur,
        "real_cost_eur": round(k.cost_eur + penalty, 2),
        "vehicle_km": k.vehicle_km,
        "vehicle_h": k.vehicle_hours,
        "total_s": round(plan.stats.total_s, 1),
        "status": plan.stats.status_detail[:40],
        "checker": "OK" if check_plan(problem, plan).ok else "INVALID",
    }


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="150", help="request counts, comma-separated")
    ap.add_argument("--time-limit", type=float, default=30.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    alns.warm_up()  # the kernels loaded before the timed solves, as in a running server
    rows = []
    for n in (int(x) for x in args.sizes.split(",")):
        for alns_breaks in (False, True):
            rows.append(run(n, args.time_limit, args.seed, alns_breaks))
            print_table(rows[-1:])
    print()
    print_table(rows)


if __name__ == "__main__":
    main()
