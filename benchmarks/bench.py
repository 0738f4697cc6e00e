"""Measure engines against the literature: ``python -m benchmarks.bench darp|pdptw|vrptw``.

Every result is judged by the project's independent checker
(``dispatcher.solver.checker.check_plan``) plus the instance's route duration limit re-checked
from the file (``dispatcher.tuning.instances.extra_violations``); a run counts as feasible only if
the checker finds no violation AND every request is served. Its cost is recomputed from the
unrounded Euclidean distances, as the literature reports it; the gap is to bks.csv's best-known
value. With ``--seeds N`` each (instance, engine) runs N times (seeds 0..N-1) and the table shows
medians. The per-run rows go to ``--out`` (CSV); the table is printed and written beside it as
Markdown (``.md``).

Examples::

    python -m benchmarks.bench darp --instances all --time-limit 10
    python -m benchmarks.bench pdptw --instances lc101,lr104 --engines ortools,pyvrp,vroom \
        --time-limit 30
"""

from __future__ import annotations

import argparse
import csv
import logging
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from dispatcher.errors import InputError
from dispatcher.model import Plan, Problem, SolverParams
from dispatcher.solver import Solver, default_solver
from dispatcher.tuning.instances import (
    DEFAULT_SCALE,
    FAMILIES,
    Instance,
    find_instances_dir,
    instance_paths,
    judge,
    load_instance,
)

ENGINES = ("ortools", "pyvrp", "vroom")
DEFAULT_INSTANCES: dict[str, tuple[str, ...]] = {
    "darp": (),  # all 24
    "pdptw": ("lc101", "lc201", "lr101", "lr201", "lrc101", "lrc201", "lr104", "lrc105"),
    "vrptw": ("C101", "C201", "R101", "R201", "RC101", "RC201", "R104", "RC105"),
}


@dataclass
class RunResult:
    """One run of one engine on one instance with one seed."""

    family: str
    instance: str
    engine: str
    seed: int
    time_limit_s: float
    feasible: bool
    served: int
    requests: int
    vehicles: int
    cost: float
    bks_cost: float | None
    bks_vehicles: int | None
    gap_pct: float | None
    first_solution_s: float | None
    total_s: float
    status: str  # the plan's SolveStatus ("ERROR" when the engine crashed)
    violations: str
    status_detail: str = ""  # in the engine's words (older CSVs hold it in ``status``)


def make_solver(engine: str, params: SolverParams) -> Solver:
    """The engine behind the project's Solver protocol (``.solve(problem) -> Plan``)."""
    if engine == "ortools":
        return default_solver(params)
    if engine == "pyvrp":
        from benchmarks.peers.pyvrp_adapter import PyVRPSolver

        return PyVRPSolver(params)
    if engine == "vroom":
        from benchmarks.peers.vroom_adapter import VroomSolver

        return VroomSolver(params)
    raise SystemExit(f"unknown engine {engine!r} (one of {', '.join(ENGINES)})")


def engine_label(engine: str, instance: Instance) -> str:
    """Peers have no ride-time limit: on DARP they solve a relaxation, and say so."""
    if instance.family == "darp" and engine != "ortools":
        return f"{engine} (no ride limit)"
    return engine


def run_one(instance: Instance, engine: str, seed: int, time_limit_s: float) -> RunResult:
    """Solve, check, score. A crash or an invalid plan is reported, never hidden."""
    problem: Problem = instance.problem
    params = SolverParams(time_limit_s=time_limit_s, seed=seed)
    solver = make_solver(engine, params)
    t0 = time.perf_counter()
    try:
        plan: Plan = solver.solve(problem)
    except Exception as exc:  # noqa: BLE001 - a benchmark reports every failure as a result
        return RunResult(
            instance.family,
            instance.name,
            engine_label(engine, instance),
            seed,
            time_limit_s,
            False,
            0,
            len(problem.requests),
            0,
            float("nan"),
            instance.bks_cost,
            instance.bks_vehicles,
            None,
            None,
            time.perf_counter() - t0,
            "ERROR",
            f"{type(exc).__name__}: {exc}",
        )
    total = time.perf_counter() - t0
    v = judge(instance, plan)
    return RunResult(
        family=instance.family,
        instance=instance.name,
        engine=engine_label(engine, instance),
        seed=seed,
        time_limit_s=time_limit_s,
        feasible=v.feasible,
        served=v.served,
        requests=v.requests,
        vehicles=v.vehicles,
        cost=v.cost,
        bks_cost=instance.bks_cost,
        bks_vehicles=instance.bks_vehicles,
        gap_pct=v.gap_pct,
        first_solution_s=plan.stats.first_solution_s,
        total_s=total,
        status=plan.stats.status.value,
        violations=_violation_summary(v.problems),
        status_detail=plan.stats.status_detail,
    )


def _violation_summary(problems: Sequence[str]) -> str:
    if not problems:
        return ""
    counts: dict[str, int] = {}
    for p in problems:
        key = p.split("]", 1)[0].lstrip("[") if p.startswith("[") else p
        counts[key] = counts.get(key, 0) + 1
    return "; ".join(f"{k} x{n}" if n > 1 else k for k, n in counts.items())


# --------------------------------------------------------------------------------------------
# aggregation and output
# --------------------------------------------------------------------------------------------


@dataclass
class Row:
    instance: str
    engine: str
    runs: int
    feasible: int
    vehicles: float
    cost: float
    bks_cost: float | None
    bks_vehicles: int | None
    gap_pct: float | None
    first_solution_s: float | None
    total_s: float


def _median(xs: Sequence[float | None]) -> float | None:
    vals = [x for x in xs if x is not None and x == x]
    return statistics.median(vals) if vals else None


def aggregate(results: Sequence[RunResult]) -> list[Row]:
    """Medians over seeds per (instance, engine), in the order of first appearance."""
    groups: dict[tuple[str, str], list[RunResult]] = {}
    for r in results:
        groups.setdefault((r.instance, r.engine), []).append(r)
    rows = []
    for (inst, eng), all_rs in groups.items():
        # cost and gap over the feasible runs when there are any (an infeasible run may be
        # cheaper by breaking rules); over all runs otherwise (e.g. a peer's relaxation)
        rs = [r for r in all_rs if r.feasible] or all_rs
        rows.append(
            Row(
                instance=inst,
                engine=eng,
                runs=len(all_rs),
                feasible=sum(r.feasible for r in all_rs),
                vehicles=_median([r.vehicles for r in rs]) or 0.0,
                cost=_median([r.cost for r in rs]) or float("nan"),
                bks_cost=rs[0].bks_cost,
                bks_vehicles=rs[0].bks_vehicles,
                gap_pct=_median([r.gap_pct for r in rs]),
                first_solution_s=_median([r.first_solution_s for r in rs]),
                total_s=_median([r.total_s for r in rs]) or 0.0,
            )
        )
    return rows


def _fmt(x: float | int | None, nd: int = 2) -> str:
    if x is None or (isinstance(x, float) and x != x):
        return "-"
    if isinstance(x, int) or (isinstance(x, float) and x.is_integer() and nd == 0):
        return str(int(x))
    return f"{x:.{nd}f}"


HEADERS = (
    "instance",
    "engine",
    "vehicles",
    "cost",
    "best-known",
    "gap %",
    "first (s)",
    "total (s)",
    "feasible",
)


def table_rows(rows: Sequence[Row]) -> list[list[str]]:
    out = []
    for r in rows:
        veh = _fmt(r.vehicles, 1 if r.vehicles % 1 else 0)
        bks = _fmt(r.bks_cost) + (f" ({r.bks_vehicles})" if r.bks_vehicles is not None else "")
        out.append(
            [
                r.instance,
                r.engine,
                veh,
                _fmt(r.cost),
                bks,
                _fmt(r.gap_pct),
                _fmt(r.first_solution_s),
                _fmt(r.total_s, 1),
                f"{r.feasible}/{r.runs}",
            ]
        )
    return out


def summary_rows(rows: Sequence[Row]) -> list[list[str]]:
    """Per engine: means of the per-instance medians; the gap (mean and worst) over the instances
    with at least one feasible run, over all of them if there is none (a relaxation)."""
    out = []
    engines = list(dict.fromkeys(r.engine for r in rows))
    for eng in engines:
        rs = [r for r in rows if r.engine == eng]
        judged = [r for r in rs if r.feasible] or rs
        gaps = [r.gap_pct for r in judged if r.gap_pct is not None]
        firsts = [r.first_solution_s for r in rs if r.first_solution_s is not None]
        extra_veh = [r.vehicles - r.bks_vehicles for r in rs if r.bks_vehicles is not None]
        veh = f"{statistics.mean(r.vehicles for r in rs):.2f}"
        if extra_veh:
            veh += f" (+{statistics.mean(extra_veh):.2f})"
        out.append(
            [
                "AVERAGE",
                eng,
                veh,
                f"{statistics.mean(r.cost for r in rs):.2f}",
                f"worst gap {max(gaps):.2f}" if gaps else "-",
                f"{statistics.mean(gaps):.2f}" if gaps else "-",
                f"{statistics.mean(firsts):.2f}" if firsts else "-",
                f"{statistics.mean(r.total_s for r in rs):.1f}",
                f"{sum(r.feasible for r in rs)}/{sum(r.runs for r in rs)}",
            ]
        )
    return out


def markdown(rows: Sequence[Row]) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    for cells in table_rows(rows) + summary_rows(rows):
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def print_table(rows: Sequence[Row], title: str) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # pragma: no cover - rich is a dependency of the project
        print(markdown(rows))
        return
    t = Table(title=title)
    for h in HEADERS:
        t.add_column(h, justify="left" if h in ("instance", "engine") else "right")
    for cells in table_rows(rows):
        t.add_row(*cells)
    t.add_section()
    for cells in summary_rows(rows):
        t.add_row(*cells, style="bold")
    Console(width=max(120, Console().width)).print(t)


def write_csv(results: Sequence[RunResult], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = list(asdict(results[0]).keys()) if results else list(RunResult.__dataclass_fields__)
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for r in results:
            d = asdict(r)
            for k in ("cost", "gap_pct", "first_solution_s", "total_s"):
                if isinstance(d[k], float):
                    d[k] = round(d[k], 6)
            w.writerow(d)


def read_csv(path: Path) -> list[RunResult]:
    """Results written by :func:`write_csv` (to re-tabulate without re-running)."""

    def num(s: str, kind: Callable[[str], float | int]) -> float | int | None:
        return kind(s) if s not in ("", "None") else None

    out = []
    with path.open(newline="") as f:
        for d in csv.DictReader(f):
            out.append(
                RunResult(
                    d["family"],
                    d["instance"],
                    d["engine"],
                    int(d["seed"]),
                    float(d["time_limit_s"]),
                    d["feasible"] == "True",
                    int(d["served"]),
                    int(d["requests"]),
                    int(d["vehicles"]),
                    float(d["cost"]),
                    num(d["bks_cost"], float),
                    num(d["bks_vehicles"], int),  # type: ignore[arg-type]
                    num(d["gap_pct"], float),
                    num(d["first_solution_s"], float),
                    float(d["total_s"]),
                    d["status"],
                    d["violations"],
                    d.get("status_detail") or "",
                )
            )
    return out


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------


def select_instances(family: str, spec: str | None, root: Path | None = None) -> list[str]:
    names = [p.stem for p in instance_paths(family, root)]
    if spec is None:
        spec = "all" if not DEFAULT_INSTANCES[family] else ",".join(DEFAULT_INSTANCES[family])
    if spec == "all":
        return names
    wanted = [s.strip() for s in spec.split(",") if s.strip()]
    lower = {n.lower(): n for n in names}
    missing = [w for w in wanted if w.lower() not in lower]
    if missing:
        raise SystemExit(f"unknown {family} instance(s): {', '.join(missing)}")
    return [lower[w.lower()] for w in wanted]


def _run_task(task: tuple[str, str, int, str, int, float, Path]) -> RunResult:
    """One run in a worker process (``--jobs``): load the instance there, solve, judge."""
    family, name, scale, engine, seed, time_limit_s, root = task
    return run_one(load_instance(family, name, root, scale=scale), engine, seed, time_limit_s)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.bench", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("family", choices=sorted(FAMILIES))
    ap.add_argument(
        "--instances",
        help="comma-separated names, or 'all' (default: all for darp, 8 for the others)",
    )
    ap.add_argument("--time-limit", type=float, default=10.0, help="seconds per run (default 10)")
    ap.add_argument(
        "--seeds",
        type=int,
        default=1,
        help="runs per instance and engine, seeds 0..N-1 (medians shown)",
    )
    ap.add_argument(
        "--engines", default="ortools", help=f"comma-separated, among {','.join(ENGINES)}"
    )
    ap.add_argument(
        "--out", type=Path, help="CSV of every run (a Markdown table is written beside it)"
    )
    ap.add_argument(
        "--scale",
        type=int,
        default=DEFAULT_SCALE,
        help="model units per instance unit (default 1000)",
    )
    ap.add_argument("--from-csv", type=Path, help="re-tabulate a results CSV instead of running")
    ap.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="runs at once, one process each (default 1; 2 on a 2-core machine)",
    )
    ap.add_argument(
        "--instances-dir",
        type=Path,
        help="folder of the benchmark instances "
        "(default: $DISPATCHER_BENCHMARKS, else ../shared/data/benchmarks)",
    )
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)

    if args.from_csv:
        rows = aggregate(read_csv(args.from_csv))
        print_table(rows, f"{args.family} (from {args.from_csv})")
        print(markdown(rows))
        return 0

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    for e in engines:
        if e not in ENGINES:
            raise SystemExit(f"unknown engine {e!r} (one of {', '.join(ENGINES)})")
    try:
        root = find_instances_dir(args.instances_dir)
    except InputError as e:
        raise SystemExit(f"error: {e}") from None
    names = select_instances(args.family, args.instances, root)
    if args.jobs < 1:
        raise SystemExit("--jobs must be at least 1")
    tasks = [
        (args.family, name, args.scale, eng, seed, args.time_limit, root)
        for name in names
        for eng in engines
        for seed in range(args.seeds)
    ]
    results: list[RunResult] = []

    def report(r: RunResult) -> None:
        results.append(r)
        mark = "ok" if r.feasible else f"INFEASIBLE ({r.violations[:120]})"
        gap = f"{r.gap_pct:+.2f}%" if r.gap_pct is not None else "-"
        print(
            f"{r.instance:>8} {r.engine:<24} seed {r.seed}: {r.vehicles} veh, "
            f"cost {r.cost:.2f} ({gap}), "
            f"{r.total_s:.1f} s, {mark}",
            file=sys.stderr,
            flush=True,
        )
        if args.out:
            write_csv(results, args.out)  # keep what is done if interrupted

    if args.jobs == 1:
        for task in tasks:
            report(_run_task(task))
    else:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            for r in pool.map(_run_task, tasks):
                report(r)
    rows = aggregate(results)
    title = f"{args.family}: {len(names)} instance(s), {args.time_limit:g} s, {args.seeds} seed(s)"
    print_table(rows, title)
    if args.out:
        write_csv(results, args.out)
        args.out.with_suffix(".md").write_text(f"{title}\n\n" + markdown(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
