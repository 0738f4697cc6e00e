"""A small real day for the report tests: generated demand on the pilot, planned on the default
road graph with a short time limit, and checked. Built once per test session."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dispatcher.model import Plan, Problem

REPO = Path(__file__).resolve().parents[2]
ARTEFACTS = REPO / "out" / "artefacts"
# Names with characters that must be escaped in HTML, in JavaScript template literals and in CSV.
NAMES = (
    "Zoé <script>alert('x')</script>",
    "Jean & Marie `${alert(1)}`",
    'Dupont, "le grand"',
    "Lefèvre",
)


@dataclass(frozen=True)
class Day:
    problem: Problem
    plan: Plan
    network: Any
    territory: Any


@pytest.fixture(scope="session")
def day() -> Day:
    from dispatcher.demand import generate_fleet, generate_requests
    from dispatcher.graph import RoadNetwork
    from dispatcher.io.problem import problem_from_dicts
    from dispatcher.model import SolverParams
    from dispatcher.solver import default_solver
    from dispatcher.solver.checker import check_plan
    from dispatcher.territory import Territory

    terr = Territory.load()
    reqs = generate_requests(terr, 30, seed=7, wheelchair_share=0.2)
    for k, r in enumerate(reqs):
        r["name"] = NAMES[k % len(NAMES)]
        if k % 3 == 0:
            r["phone"] = f"06 12 34 56 {k:02d}"
    # a request no vehicle can serve (pickup before every shift), to have a refusal on the map
    reqs.append(
        {
            "id": "early",
            "pickup": "Albert",
            "dropoff": "Bray-sur-Somme",
            "pickup_window": [5 * 3600, 5 * 3600 + 900],
        }
    )
    fleet = generate_fleet(terr, 3, 1, seed=7)
    fleet[0]["name"] = "Minibus <1>"
    fleet[0]["phone"] = "03 22 00 00 00"
    net = RoadNetwork.default()
    from datetime import date

    problem = problem_from_dicts(
        reqs,
        fleet,
        terr,
        net,
        day=date(2026, 12, 1),
        params=SolverParams(time_limit_s=2, seed=7),
        name="reports test day",
    )
    plan = default_solver().solve(problem)
    report = check_plan(problem, plan)
    assert report.ok, report.summary()
    assert plan.routes and plan.rejections
    return Day(problem, plan, net, terr)
