"""Engines on benchmark instances, every plan judged by the project's checker: OR-Tools on a2-16
through the runner, PyVRP and VROOM through their adapters (skipped when not installed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.bench import aggregate, markdown, read_csv, run_one, write_csv
from dispatcher.model import SolverParams
from dispatcher.solver.checker import check_plan
from dispatcher.tuning.instances import load_instance, plan_cost

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "benchmarks"

pytestmark = [
    pytest.mark.shared,
    pytest.mark.skipif(
        not (SHARED / "bks.csv").exists(), reason=f"shared benchmark data not found under {SHARED}"
    ),
]


def test_ortools_on_a2_16_is_checker_valid_and_not_below_the_optimum(tmp_path: Path) -> None:
    inst = load_instance("darp", "a2-16", SHARED)
    r = run_one(inst, "ortools", seed=0, time_limit_s=2.0)
    assert r.feasible, r.violations
    assert r.served == r.requests == 16 and r.vehicles <= 2
    # a proven optimum cannot be beaten by a feasible plan (rounding tolerance only)
    assert r.cost >= 294.248 - 1e-3 and r.gap_pct is not None and r.gap_pct > -0.01
    out = tmp_path / "r.csv"
    write_csv([r], out)
    back = read_csv(out)
    assert (
        back[0].instance == "a2-16"
        and back[0].feasible
        and back[0].cost == pytest.approx(r.cost, abs=1e-5)
    )
    table = markdown(aggregate(back))
    assert "| a2-16 | ortools |" in table and "AVERAGE" in table


def _peer(engine: str) -> type:
    if engine == "pyvrp":
        pytest.importorskip("pyvrp")
        from benchmarks.peers.pyvrp_adapter import PyVRPSolver

        return PyVRPSolver
    pytest.importorskip("vroom")
    from benchmarks.peers.vroom_adapter import VroomSolver

    return VroomSolver


@pytest.mark.parametrize("engine", ["pyvrp", "vroom"])
@pytest.mark.parametrize(("family", "name"), [("pdptw", "lc101"), ("vrptw", "C101")])
def test_peer_plans_are_checker_valid(engine: str, family: str, name: str) -> None:
    inst = load_instance(family, name, SHARED)
    solver = _peer(engine)(SolverParams(time_limit_s=1.0, seed=0))
    plan = solver.solve(inst.problem)
    report = check_plan(inst.problem, plan)
    assert report.ok, report.summary()
    assert report.recomputed["served"] == len(inst.problem.requests)
    assert solver.fallbacks == 0
    # clustered instances: the best-known is reached quickly, and never beaten
    assert plan_cost(inst, plan) >= (inst.bks_cost or 0.0) * (1 - 5e-5) - 1e-2
    assert report.recomputed["vehicles_used"] >= (inst.bks_vehicles or 0)


@pytest.mark.parametrize("engine", ["pyvrp", "vroom"])
def test_peer_on_darp_is_a_relaxation_judged_honestly(engine: str) -> None:
    """Without a ride limit the peers' plans may break it; the checker says so and nothing else."""
    inst = load_instance("darp", "a2-16", SHARED)
    solver = _peer(engine)(SolverParams(time_limit_s=1.0, seed=0))
    plan = solver.solve(inst.problem)
    report = check_plan(inst.problem, plan)
    assert report.recomputed["served"] == 16
    assert report.codes <= {"ride_time"}
    if not report.ok:
        assert solver.fallbacks > 0
