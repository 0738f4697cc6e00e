"""Benchmark: is ``dispatcher plan --time-limit S`` a promise? The whole command, as a user runs it.

For each size (400 requests by default) a generated territory day (the same days as
``benchmarks/territory.py``: seed 1, a proportionate fleet with breaks) is written as request and
fleet JSON files; then ``dispatcher plan`` runs as a subprocess of the same interpreter for each
limit, and its wall time (process start to exit: start-up, reading, road graph, matrix, search,
checking, writing) is compared with the limit. The promise: the limit + 10%, or + 1 s under 10 s.
The plan written is read back and judged again by the checker. Prints a table, and writes it as
CSV with ``--csv``.

    python -m benchmarks.time_limit                         # 400 requests; 5, 20, 60 s
    python -m benchmarks.time_limit --limits 5,20 --sizes 150,400
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.territory import PILOT, Case, print_table
from dispatcher.demand import generate_fleet, generate_requests
from dispatcher.io.files import load_plan, load_problem
from dispatcher.solver.checker import check_plan
from dispatcher.territory import Territory

DAY = "2026-12-01"


def allowed_s(limit_s: float) -> float:
    """The promise: the limit + 10%, or + 1 s for limits under 10 s."""
    return limit_s + (1.0 if limit_s < 10 else 0.1 * limit_s)


def write_day(case: Case, seed: int, folder: Path) -> tuple[Path, Path]:
    """The generated day as the request and fleet files a user would give ``dispatcher plan``."""
    territory = Territory.load(list(case.epcis))
    requests = generate_requests(territory, case.n_requests, seed)
    fleet = generate_fleet(territory, case.n_vehicles, case.n_wheelchair, seed)
    req_path, fleet_path = folder / "requests.json", folder / "fleet.json"
    req_path.write_text(json.dumps(requests, default=str))
    fleet_path.write_text(json.dumps(fleet, default=str))
    return req_path, fleet_path


def run(case: Case, seed: int, limit_s: float, folder: Path) -> dict[str, object]:
    req_path, fleet_path = folder / "requests.json", folder / "fleet.json"
    out = folder / f"plan-{limit_s:g}.json"
    cmd = [
        sys.executable,
        "-m",
        "dispatcher",
        "plan",
        str(req_path),
        "--fleet",
        str(fleet_path),
        "--day",
        DAY,
        "--time-limit",
        f"{limit_s:g}",
        "--seed",
        str(seed),
        "--out",
        str(out),
    ]
    t = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t
    row: dict[str, object] = {
        "requests": case.n_requests,
        "vehicles": case.n_vehicles,
        "limit_s": limit_s,
        "wall_s": round(wall, 2),
        "allowed_s": round(allowed_s(limit_s), 2),
        "within": "yes" if wall <= allowed_s(limit_s) else "NO",
        "exit": done.returncode,
    }
    if done.returncode not in (0, 6) or not out.exists():
        print(done.stderr[-2000:], file=sys.stderr)
        return row
    problem = load_problem(out.with_name(out.stem + ".problem.json"))
    plan = load_plan(out, problem)
    report = check_plan(problem, plan)
    row.update(
        {
            "solver_s": round(plan.stats.total_s, 2),
            "first_plan_s": round(plan.stats.first_solution_s, 2)
            if plan.stats.first_solution_s is not None
            else "",
            "served": plan.kpis.served,
            "refused": plan.kpis.refused,
            "cost_eur": round(plan.kpis.cost_eur, 2),
            "checker": "OK" if report.ok else f"INVALID ({len(report.violations)})",
            "status_detail": plan.stats.status_detail,
        }
    )
    return row


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="400", help="request counts, comma-separated")
    ap.add_argument("--limits", default="5,20,60", help="time limits in seconds, comma-separated")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--csv", type=Path, default=None, help="write the table to this CSV file")
    args = ap.parse_args(argv)
    limits = [float(x) for x in args.limits.split(",") if x]
    rows = []
    for n in (int(x) for x in args.sizes.split(",") if x):
        case = Case(n, PILOT)
        with tempfile.TemporaryDirectory(prefix="dispatcher-time-limit-") as tmp:
            folder = Path(tmp)
            write_day(case, args.seed, folder)
            for limit in limits:
                rows.append(run(case, args.seed, limit, folder))
                print_table(rows[-1:])
                print(flush=True)
    print("== summary ==")
    print_table(rows)
    if args.csv and rows:
        with args.csv.open("w", newline="") as f:
            fields = list(dict.fromkeys(k for r in rows for k in r))
            w = csv.DictWriter(f, fieldnames=fields)
            w.writeheader()
            w.writerows(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
