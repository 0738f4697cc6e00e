"""Benchmark: generated days on the Pays du Coquelicot road network, solved by OR-Tools.

For each size (50, 150, 400 requests; 1,000 over the four intercommunalities with ``--big``)
a reproducible day of requests and a proportionate fleet (drivers with lunch breaks) are
generated, compiled into a Problem on the default road network, and solved once with the
longest time limit. The search trace gives OR-Tools' best objective by each checkpoint (10 s,
30 s, 120 s by default); the final plan is judged by the independent checker and priced by its
real cost (``real_eur``: the KPIs' cost, i.e. km, drivers' hours from leaving the depot to
coming back, fixed costs, plus the refusal penalties: what every plan choice of the solver
compares). Each run is a process of its own, so ``peak_mb`` is that run's peak resident memory
(road graph, matrix and search). Prints a table, and writes it as CSV with ``--csv``.

``--refinements alns,none`` solves each day with the ALNS layer and without it (OR-Tools
alone), side by side. ``--reference S`` adds one long run per day (the default solver, S
seconds) whose real cost is the reference of the ``gap_ref`` column.

    python -m benchmarks.territory                      # 50, 150, 400 requests; 10/30/120 s
    python -m benchmarks.territory --sizes 150 --limits 2,10
    python -m benchmarks.territory --sizes 150,400 --limits 60 --refinements alns,none \
        --reference 600                                 # issue 12's aim: within 1% at 60 s
    python -m benchmarks.territory --big --sizes "" --limits 10,120   # 1,000 requests, 4 EPCIs

Objective = travel cost in euros + refusal penalties (1,000 EUR per refused request by default).
"""

from __future__ import annotations

import argparse
import csv
import math
import multiprocessing
import resource
import sys
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from dispatcher.demand import generate_fleet, generate_requests
from dispatcher.graph import RoadNetwork
from dispatcher.io.problem import problem_from_dicts
from dispatcher.model import Problem, Reason, SolverParams
from dispatcher.solver import default_solver
from dispatcher.solver.checker import check_plan
from dispatcher.solver.routing import OrToolsSolver, real_cost
from dispatcher.territory import Territory

PILOT = ("248000747",)  # CC du Pays du Coquelicot
ALL_FOUR = ("248000747", "248000499", "200037059", "248000531")


@dataclass(frozen=True)
class Case:
    n_requests: int
    epcis: tuple[str, ...]

    @property
    def n_vehicles(self) -> int:
        return max(2, math.ceil(self.n_requests / 12))

    @property
    def n_wheelchair(self) -> int:
        return max(1, math.ceil(self.n_vehicles / 4))


def build(
    case: Case, seed: int, params: SolverParams, network: RoadNetwork | None = None
) -> Problem:
    territory = Territory.load(list(case.epcis))
    requests = generate_requests(territory, case.n_requests, seed)
    fleet = generate_fleet(territory, case.n_vehicles, case.n_wheelchair, seed)
    network = network or RoadNetwork.default()
    return problem_from_dicts(
        requests,
        fleet,
        territory,
        network,
        params=params,
        name=f"territory-{case.n_requests}-s{seed}",
    )


def best_at(solutions: Sequence[tuple[float, float]], t: float) -> float | None:
    best = None
    for when, cost in solutions:
        if when <= t:
            best = cost if best is None else min(best, cost)
    return best


def run(
    case: Case,
    seed: int,
    limits: Sequence[float],
    first_solution: str,
    refinement: str = "alns",
) -> dict[str, object]:
    limit = max(limits)
    params = SolverParams(
        time_limit_s=limit, first_solution=first_solution, seed=seed, refinement=refinement
    )
    t0 = time.perf_counter()
    problem = build(case, seed, params)
    build_s = time.perf_counter() - t0
    solver = default_solver()
    if not isinstance(solver, OrToolsSolver):
        raise SystemExit(f"the table reads OR-Tools' trace; the engine is {type(solver).__name__}")
    plan = solver.solve(problem)
    report = check_plan(problem, plan)
    reasons = Counter(j.reason for j in plan.rejections)
    tr = solver.trace
    row: dict[str, object] = {
        "requests": case.n_requests,
        "vehicles": case.n_vehicles,
        "refinement": refinement,
        "limit_s": limit,
        "locations": len(problem.locations),
        "build_s": round(build_s, 2),
        "first_plan_s": round(plan.stats.first_solution_s, 2)
        if plan.stats.first_solution_s is not None
        else "",
    }
    for t in limits:
        b = best_at(tr.solutions, t)
        row[f"obj@{t:g}s"] = round(b, 2) if b is not None else ""
    refused = [j.request_id for j in plan.rejections]
    row.update(
        {
            "real_eur": round(real_cost(problem, plan.routes, refused), 2),
            "gap_ref": "",
            "total_s": round(plan.stats.total_s, 2),
            "search_s": round(tr.search_s, 2),
            "timing_s": round(tr.schedule_s, 2),
            "explain_s": round(tr.explain_s, 2),
            "served": plan.kpis.served,
            "refused": plan.kpis.refused,
            "infeasible_alone": sum(
                n
                for r, n in reasons.items()
                if r not in (Reason.DISPLACED, Reason.LINKED_TRIP_REFUSED)
            ),
            "displaced": reasons.get(Reason.DISPLACED, 0),
            # feasible alone, refused with the other half of their linked trip
            "linked_refused": reasons.get(Reason.LINKED_TRIP_REFUSED, 0),
            "pairs_served": plan.kpis.linked_pairs_served,
            "retimed_out": tr.unschedulable,
            "cost_eur": plan.kpis.cost_eur,
            "vehicle_km": plan.kpis.vehicle_km,
            "occupancy": plan.kpis.mean_occupancy,
            "mean_ride_min": plan.kpis.mean_ride_min,
            "status": plan.stats.status.value,
            "status_detail": plan.stats.status_detail,
            "checker": "OK" if report.ok else f"INVALID ({len(report.violations)})",
            # ru_maxrss is in KiB on Linux; the run is this process's only work
            "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        }
    )
    if not report.ok:
        print(report.summary(), file=sys.stderr)
    return row


def run_apart(
    case: Case, seed: int, limits: Sequence[float], first_solution: str, refinement: str
) -> dict[str, object]:
    """:func:`run` in a fresh process, so that its peak memory is its own."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(run, case, seed, limits, first_solution, refinement).result()


def with_gaps(rows: list[dict[str, object]], reference: dict[int, float]) -> None:
    """Each row's real cost against the reference run of its day (in place)."""
    for r in rows:
        ref = reference.get(int(str(r["requests"])))
        if ref:
            r["gap_ref"] = f"{(float(str(r['real_eur'])) - ref) / ref:+.2%}"


def print_table(rows: Sequence[dict[str, object]]) -> None:
    if not rows:
        return
    cols = list(rows[0])
    width = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in cols}
    print("  ".join(c.rjust(width[c]) for c in cols))
    for r in rows:
        print("  ".join(str(r.get(c, "")).rjust(width[c]) for c in cols))


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="50,150,400", help="request counts, comma-separated")
    ap.add_argument(
        "--limits",
        default="10,30,120",
        help="checkpoints in seconds; the search runs to the largest",
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--big", action="store_true", help="add 1,000 requests over the four intercommunalities"
    )
    ap.add_argument("--first-solution", default="PARALLEL_CHEAPEST_INSERTION")
    ap.add_argument(
        "--refinements",
        default="alns",
        help="what refines OR-Tools' plan, comma-separated: alns, none (one run each)",
    )
    ap.add_argument(
        "--reference",
        type=float,
        default=None,
        help="seconds of one long run per day whose real cost the gap_ref column compares with",
    )
    ap.add_argument("--csv", type=Path, default=None, help="write the table to this CSV file")
    args = ap.parse_args(argv)
    limits = [float(x) for x in args.limits.split(",") if x]
    cases = [Case(int(n), PILOT) for n in args.sizes.split(",") if n]
    if args.big:
        cases.append(Case(1000, ALL_FOUR))
    refinements = [x for x in args.refinements.split(",") if x]
    rows = []
    reference: dict[int, float] = {}
    for case in cases:
        for refinement in refinements:
            rows.append(run_apart(case, args.seed, limits, args.first_solution, refinement))
            print_table(rows[-1:])
            print(flush=True)
        if args.reference:
            ref = run_apart(case, args.seed, [args.reference], args.first_solution, "alns")
            reference[case.n_requests] = float(str(ref["real_eur"]))
            ref["refinement"] = "alns (reference)"
            print_table([ref])
            print(flush=True)
            rows.append(ref)
    with_gaps(rows, reference)
    print("== summary ==")
    print_table(rows)
    if args.csv:
        with args.csv.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
