"""Benchmark: carpool matching on the Pays du Coquelicot road network.

A reproducible morning is generated: drivers living in the villages (drawn by population) commute
to Albert, Méaulte (the aircraft plant), Bray-sur-Somme or Acheux-en-Amiénois, leaving within a
20-minute window between 06:30 and 08:30 with 1 to 3 free seats; riders ask for trips from
villages to the same towns (and a few between villages), with a 15-minute pickup window or an
appointment. Places are the communes' main stops; travel times come from the default graph.

Cases (each matched once, judged by the independent checker):

* ``100 x 200`` and ``300 x 600``: up to 3 riders per driver;
* ``1:1``: one free seat per driver, so one rider per driver at most: the optimum is known
  (``scipy.optimize.linear_sum_assignment`` over the pairs the exact route-timing network
  ``schedule.feasible_alone`` accepts; maximise riders matched, then minimise detour) and the
  gap is reported, for the matcher and for the OR-Tools dial-a-ride model on the same problem.

    python -m benchmarks.carpool                  # all cases
    python -m benchmarks.carpool --sizes 100x200 --ortools-limit 10 --csv out.csv
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from dispatcher.graph import RoadNetwork
from dispatcher.model import CarpoolOffer, Location, Problem, Request, SolverParams, TimeWindow
from dispatcher.solver import default_solver
from dispatcher.solver.carpool import GROUP_BONUS, carpool_problem, match_carpool
from dispatcher.solver.checker import check_plan
from dispatcher.solver.schedule import feasible_alone
from dispatcher.territory import Territory

H = 3600
M = 60
WORK_TOWNS = ("Albert", "Méaulte", "Bray-sur-Somme", "Acheux-en-Amiénois")


def carpool_morning(
    territory: Territory,
    network: RoadNetwork,
    n_offers: int,
    n_riders: int,
    seed: int = 0,
    one_seat: bool = False,
) -> tuple[Problem, list[CarpoolOffer]]:
    """A morning of commuting offers and rider requests between the communes' main stops."""
    rng = random.Random(f"benchmarks.carpool:{seed}:{n_offers}:{n_riders}:{one_seat}")
    communes = list(territory.communes)
    stops = {c.insee: territory.main_stop(c.insee) for c in communes}
    locs = tuple(Location(s.id, s.lon, s.lat, s.name) for s in stops.values())
    dur, dist = network.matrices(
        [(loc.lon, loc.lat) for loc in locs], labels=[loc.id for loc in locs]
    )
    towns = [territory.commune(name) for name in WORK_TOWNS]
    town_w = [5, 3, 1, 1]
    villages = [c for c in communes if c.insee not in {t.insee for t in towns}]
    pop = [max(c.population, 1) for c in villages]
    offers: list[CarpoolOffer] = []
    for i in range(n_offers):
        home = rng.choices(villages, pop)[0]
        work = rng.choices(towns, town_w)[0]
        dep = rng.randrange(6 * H + 30 * M, 8 * H + 30 * M, 5 * M)
        offers.append(
            CarpoolOffer(
                driver_id=f"d{i + 1:03d}",
                origin=stops[home.insee].id,
                destination=stops[work.insee].id,
                seats=1 if one_seat else rng.choice((1, 2, 3, 3)),
                departure_window=TimeWindow(dep, dep + 20 * M),
                days=(0, 1, 2, 3, 4),
            )
        )
    riders: list[Request] = []
    for k in range(n_riders):
        a = rng.choices(villages, pop)[0]
        b = (
            rng.choices(towns, town_w)[0]
            if rng.random() < 0.85
            else rng.choice([c for c in villages if c != a])
        )
        t = rng.randrange(6 * H + 30 * M, 9 * H, 5 * M)
        if rng.random() < 0.7:
            riders.append(
                Request(
                    f"r{k + 1:03d}",
                    stops[a.insee].id,
                    stops[b.insee].id,
                    pickup_window=TimeWindow(t, t + 15 * M),
                )
            )
        else:
            riders.append(
                Request(
                    f"r{k + 1:03d}", stops[a.insee].id, stops[b.insee].id, arrive_by_s=t + 30 * M
                )
            )
    problem = Problem(locs, dur, dist, tuple(riders), (), name=f"carpool {n_offers}x{n_riders}")
    return problem, offers


def optimal_assignment(problem: Problem) -> tuple[int, int]:
    """Riders matched and total detour (s) of the optimal one-rider-per-driver assignment."""
    vs, rs = problem.vehicles, problem.requests
    cost = np.zeros((len(vs), len(rs)))
    for d, v in enumerate(vs):
        direct = problem.travel_s(v.start, v.end)
        for q, r in enumerate(rs):
            if feasible_alone(problem, r, v):
                drive = (
                    problem.travel_s(v.start, r.pickup)
                    + problem.boarding_s(r)
                    + problem.direct_s(r)
                    + problem.alighting_s(r)
                    + problem.travel_s(r.dropoff, v.end)
                )
                cost[d, q] = drive - direct - GROUP_BONUS
    rows, cols = linear_sum_assignment(cost)
    picked = [(d, q) for d, q in zip(rows, cols, strict=True) if cost[d, q] < 0]
    return len(picked), int(sum(cost[d, q] + GROUP_BONUS for d, q in picked))


def ortools_assignment(problem: Problem, limit_s: float) -> tuple[int, int, float, bool]:
    """OR-Tools on the same carpool problem: riders matched, total driving detour, time, checked."""
    t0 = time.perf_counter()
    plan = default_solver(SolverParams(time_limit_s=limit_s)).solve(problem)
    elapsed = time.perf_counter() - t0
    detour = 0
    for route in plan.routes:
        v = problem.vehicle(route.vehicle_id)
        places = [v.start, *(x.location_id for x in route.visits), v.end]
        drive = sum(problem.travel_s(a, b) for a, b in zip(places, places[1:], strict=False))
        drive += sum(
            problem.boarding_s(problem.request(x.request_id))
            if x.kind == "pickup"
            else problem.alighting_s(problem.request(x.request_id))
            for x in route.visits
        )
        detour += drive - problem.travel_s(v.start, v.end)
    return len(plan.served_ids), detour, elapsed, check_plan(problem, plan).ok


@dataclass
class Row:
    case: str
    offers: int
    riders: int
    max_group: int
    solver: str
    time_s: float
    candidates: int
    matched: int
    detour_min: float
    optimal_matched: str
    gap_pct: str
    checker: str


def run(
    sizes: Sequence[tuple[int, int]],
    one_to_one: Sequence[tuple[int, int]],
    ortools_limit: float,
    seed: int,
) -> list[Row]:
    terr = Territory.load()
    net = RoadNetwork.default()
    rows: list[Row] = []
    for n_off, n_rid in sizes:
        problem, offers = carpool_morning(terr, net, n_off, n_rid, seed)
        res = match_carpool(problem, offers, max_group=3)
        ok = check_plan(carpool_problem(problem, offers), res.plan).ok
        rows.append(
            Row(
                f"{n_off} x {n_rid}",
                n_off,
                n_rid,
                3,
                "matcher",
                res.stats["total_s"],
                res.candidates,
                res.riders_matched,
                res.total_detour_s / 60,
                "-",
                "-",
                "OK" if ok else "INVALID",
            )
        )
        print(_fmt(rows[-1]), file=sys.stderr)
    for n_off, n_rid in one_to_one:
        problem, offers = carpool_morning(terr, net, n_off, n_rid, seed, one_seat=True)
        cp = carpool_problem(problem, offers)
        opt_m, opt_d = optimal_assignment(cp)
        res = match_carpool(problem, offers, max_group=1)
        ok = check_plan(cp, res.plan).ok
        rows.append(
            Row(
                f"1:1 {n_off} x {n_rid}",
                n_off,
                n_rid,
                1,
                "matcher",
                res.stats["total_s"],
                res.candidates,
                res.riders_matched,
                res.total_detour_s / 60,
                f"{opt_m} ({opt_d / 60:.1f} min)",
                _gap(res.riders_matched, res.total_detour_s, opt_m, opt_d),
                "OK" if ok else "INVALID",
            )
        )
        print(_fmt(rows[-1]), file=sys.stderr)
        if ortools_limit > 0:
            m, d, el, ok2 = ortools_assignment(cp, ortools_limit)
            rows.append(
                Row(
                    f"1:1 {n_off} x {n_rid}",
                    n_off,
                    n_rid,
                    1,
                    f"ortools {ortools_limit:g}s",
                    el,
                    0,
                    m,
                    d / 60,
                    f"{opt_m} ({opt_d / 60:.1f} min)",
                    _gap(m, d, opt_m, opt_d),
                    "OK" if ok2 else "INVALID",
                )
            )
            print(_fmt(rows[-1]), file=sys.stderr)
    return rows


def _gap(matched: int, detour: int, opt_m: int, opt_d: int) -> str:
    """Gap on the lexicographic objective: riders first; with as many riders, the detour gap."""
    if opt_m == 0:
        return "0.0%"
    if matched < opt_m:
        return f"{100 * (opt_m - matched) / opt_m:.1f}% riders"
    return f"0 riders, {100 * (detour - opt_d) / max(opt_d, 1):+.1f}% detour"


HEAD = (
    "case",
    "solver",
    "time s",
    "candidates",
    "matched",
    "detour min",
    "optimal",
    "gap",
    "checker",
)


def _fmt(r: Row) -> str:
    cells = (
        r.case,
        r.solver,
        f"{r.time_s:.1f}",
        str(r.candidates),
        str(r.matched),
        f"{r.detour_min:.1f}",
        r.optimal_matched,
        r.gap_pct,
        r.checker,
    )
    return "| " + " | ".join(cells) + " |"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100x200,300x600", help="offers x riders, comma separated")
    ap.add_argument(
        "--one-to-one", default="100x200,300x600", help="one-seat cases with a known optimum"
    )
    ap.add_argument(
        "--ortools-limit",
        type=float,
        default=10.0,
        help="OR-Tools time limit on the 1:1 cases (0: skip)",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--csv", default="", help="write the table as CSV here")
    a = ap.parse_args(argv)

    def pairs(s: str) -> list[tuple[int, int]]:
        return [(int(x.split("x")[0]), int(x.split("x")[1])) for x in s.split(",") if x.strip()]

    rows = run(pairs(a.sizes), pairs(a.one_to_one), a.ortools_limit, a.seed)
    print("| " + " | ".join(HEAD) + " |")
    print("|" + "---|" * len(HEAD))
    for r in rows:
        print(_fmt(r))
    if a.csv:
        with open(a.csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(HEAD)
            for r in rows:
                w.writerow(
                    [
                        r.case,
                        r.solver,
                        f"{r.time_s:.2f}",
                        r.candidates,
                        r.matched,
                        f"{r.detour_min:.1f}",
                        r.optimal_matched,
                        r.gap_pct,
                        r.checker,
                    ]
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
