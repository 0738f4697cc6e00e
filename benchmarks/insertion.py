"""Benchmark: a day built booking by booking with the real-time insertion, against one batch plan.

A reproducible day of requests (``dispatcher.demand.generate_requests``) and a fleet
(``generate_fleet``) on the Pays du Coquelicot (default road network) are compiled ONCE into a
Problem holding every place of the day, so the travel-time matrix is computed up front and the
latency measures the insertion only (screen, exact timing, promise), not routing on the graph.
The requests are then booked one at a time in their order, on an empty day (the day before:
nothing done, no clock), through ``dispatcher.solver.live.LiveDay.book`` (without the
alternatives search for refusals; its cost is reported separately on the refused ones).

Reported: latency per booking (p50, p95, p99, max), acceptance rate, the checker's verdict on
the final day, its cost (euros: km, hours, fixed), and the same requests planned in one batch
by the default engine (``--batch-s`` seconds), plus the day after a warm-started re-optimisation
(``--reopt-s``).

    python -m benchmarks.insertion                       # 300 requests, 10 vehicles, batch 30 s
    python -m benchmarks.insertion --requests 150 --vehicles 5 --batch-s 10
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

from dispatcher.demand import generate_fleet, generate_requests
from dispatcher.graph import RoadNetwork
from dispatcher.io.problem import problem_from_dicts
from dispatcher.model import Plan, SolverParams
from dispatcher.solver import default_solver
from dispatcher.solver.checker import check_plan
from dispatcher.solver.live import LiveDay
from dispatcher.solver.reoptimise import plan_cost
from dispatcher.territory import Territory

PILOT = ("248000747",)  # CC du Pays du Coquelicot


def percentile(xs: list[float], q: float) -> float:
    s = sorted(xs)
    if not s:
        return float("nan")
    k = min(len(s) - 1, max(0, int(round(q * (len(s) - 1)))))
    return s[k]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--vehicles", type=int, default=10)
    ap.add_argument("--wheelchair-vehicles", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch-s", type=float, default=30.0)
    ap.add_argument("--reopt-s", type=float, default=10.0)
    ap.add_argument("--window-s", type=int, default=900, help="width of the promised pickup window")
    args = ap.parse_args(argv)

    t = time.perf_counter()
    territory = Territory.load(list(PILOT))
    network = RoadNetwork.default()
    reqs = generate_requests(territory, args.requests, seed=args.seed)
    fleet = generate_fleet(territory, args.vehicles, args.wheelchair_vehicles, seed=args.seed)
    problem = problem_from_dicts(
        reqs, fleet, territory, network, params=SolverParams(time_limit_s=args.batch_s)
    )
    print(
        f"compiled {len(problem.requests)} requests, {len(problem.vehicles)} vehicles, "
        f"{len(problem.locations)} places (matrix computed once, up front) "
        f"in {time.perf_counter() - t:.1f} s"
    )

    day = LiveDay(replace(problem, requests=()), Plan(routes=()), window_s=args.window_s)
    latencies: list[float] = []
    refused: list[str] = []
    for r in problem.requests:
        t1 = time.perf_counter()
        out = day.book(r, alternatives=False)
        latencies.append(time.perf_counter() - t1)
        if not out.accepted:
            refused.append(r.id)
    report = day.check()
    promises_ok = all(
        p.pickup_window.contains(day.problem.request(rid).pickup_window.start_s)  # type: ignore[union-attr]
        for rid, p in day.promises.items()
    )
    ins_cost = plan_cost(day.problem, day.plan)
    alt_lat = []
    for rid in refused[:20]:
        r = problem.request(rid)
        t1 = time.perf_counter()
        day.alternatives(r)
        alt_lat.append(time.perf_counter() - t1)

    # the same requests in one batch
    t2 = time.perf_counter()
    batch = default_solver(SolverParams(time_limit_s=args.batch_s, seed=args.seed)).solve(problem)
    batch_s = time.perf_counter() - t2
    served_b = set(batch.served_ids)
    batch_ok = check_plan(problem, batch).ok
    batch_cost = plan_cost(problem, batch)
    # the insertion day re-optimised from its routes
    t3 = time.perf_counter()
    day.reoptimise(time_limit_s=args.reopt_s, seed=args.seed)
    reopt_s = time.perf_counter() - t3
    reopt_cost = plan_cost(day.problem, day.plan)
    reopt_ok = day.check().ok

    ms = [x * 1000 for x in latencies]
    n = len(problem.requests)
    acc = n - len(refused)
    # EUR per served request
    ins_per_served = ins_cost / max(acc, 1)
    batch_per_served = batch_cost / max(len(served_b), 1)
    reopt_per_served = reopt_cost / max(acc, 1)
    rows = [
        ("bookings", f"{n}"),
        ("latency p50 (ms)", f"{percentile(ms, 0.50):.1f}"),
        ("latency p95 (ms)", f"{percentile(ms, 0.95):.1f}"),
        ("latency p99 (ms)", f"{percentile(ms, 0.99):.1f}"),
        ("latency max (ms)", f"{max(ms):.1f}"),
        ("latency mean (ms)", f"{statistics.fmean(ms):.1f}"),
        ("accepted", f"{acc} ({100 * acc / n:.1f} %)"),
        ("insertion day: checker", "OK" if report.ok else f"INVALID ({len(report.violations)})"),
        ("insertion day: promises in the problem", "yes" if promises_ok else "NO"),
        ("insertion day: cost (EUR)", f"{ins_cost:.2f}"),
        ("insertion day: EUR per served request", f"{ins_per_served:.2f}"),
        (
            "alternatives search on refusals, mean (ms)",
            f"{1000 * statistics.fmean(alt_lat):.0f}" if alt_lat else "-",
        ),
        (
            f"batch OR-Tools {args.batch_s:g} s: served",
            f"{len(served_b)} ({100 * len(served_b) / n:.1f} %), {batch_s:.1f} s",
        ),
        ("batch: checker", "OK" if batch_ok else "INVALID"),
        ("batch: cost (EUR)", f"{batch_cost:.2f}"),
        ("batch: EUR per served request", f"{batch_per_served:.2f}"),
        (
            "cost gap per served request, insertion vs batch",
            f"{100 * (ins_per_served / batch_per_served - 1):+.1f} %",
        ),
        (
            f"insertion day re-optimised {args.reopt_s:g} s: cost (EUR)",
            f"{reopt_cost:.2f} ({reopt_s:.1f} s, checker {'OK' if reopt_ok else 'INVALID'})",
        ),
        (
            "re-optimised vs batch, per served request",
            f"{100 * (reopt_per_served / batch_per_served - 1):+.1f} %",
        ),
    ]
    w = max(len(a) for a, _ in rows)
    print(f"| {'measure':<{w}} | value |")
    print(f"|{'-' * (w + 2)}|-------|")
    for a, b in rows:
        print(f"| {a:<{w}} | {b} |")
    return 0 if report.ok and reopt_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
