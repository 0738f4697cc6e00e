"""Benchmark: the day simulator on the 150-request territory day (the day of
``benchmarks.territory``, CC du Pays du Coquelicot), planned once by OR-Tools, then lived with
10 % travel-time noise and 5 % no-shows over 3 seeds, with and without re-planning after events,
side by side. Prints a Markdown table.

    python -m benchmarks.simulate
    python -m benchmarks.simulate --requests 150 --seeds 0,1,2 --noise 0.1 --no-show 0.05 \\
        --breakdowns 1 --plan-time-limit 10
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from benchmarks.territory import PILOT, Case, build
from dispatcher.model import SolverParams
from dispatcher.simulate import SimParams, print_table, simulate
from dispatcher.solver import default_solver
from dispatcher.solver.checker import check_plan


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=150)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--noise", type=float, default=0.10)
    ap.add_argument("--no-show", type=float, default=0.05)
    ap.add_argument("--breakdowns", type=int, default=0)
    ap.add_argument("--plan-time-limit", type=float, default=10.0)
    a = ap.parse_args(argv)
    params = SolverParams(time_limit_s=a.plan_time_limit, seed=0)
    problem = build(Case(a.requests, PILOT), 0, params)
    plan = default_solver(params).solve(problem)
    report = check_plan(problem, plan)
    print(
        f"day: {len(problem.requests)} requests, {len(problem.vehicles)} vehicles; plan serves "
        f"{len(plan.served_ids)}, checker {'OK' if report.ok else 'FAILED'}",
        file=sys.stderr,
    )
    rows = []
    for seed in (int(x) for x in a.seeds.split(",")):
        for replan in (False, True):
            sp = SimParams(
                seed=seed, noise=a.noise, no_show=a.no_show, breakdowns=a.breakdowns, replan=replan
            )
            res = simulate(problem, plan, sp)
            rows.append(res.row())
            print(f"seed {seed} re-planning {replan}: done", file=sys.stderr)
    print(print_table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
