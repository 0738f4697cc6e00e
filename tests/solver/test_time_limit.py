"""The time limit as a promise: a first plan whatever OR-Tools' heuristic does in time (the exact
greedy insertion, anytime), and the ALNS layer only when its kernels are ready (never waiting
for a compilation). Timings themselves are measured by ``benchmarks/time_limit.py``."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings

from dispatcher.model import Problem, SolverParams
from dispatcher.solver import alns_gate
from dispatcher.solver.checker import check_plan
from dispatcher.solver.explain import explain_rejections
from dispatcher.solver.repair import greedy_plan
from dispatcher.solver.routing import OrToolsSolver, SearchOptions
from tests.solver.conftest import tiny_problem
from tests.solver.strategies import problems

GREEDY_FIRST = SearchOptions(greedy_min_requests=1)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(problems(duty_limits=True))
def test_plans_from_the_greedy_first_plan_pass_the_checker(problem: Problem) -> None:
    solver = OrToolsSolver(SolverParams(time_limit_s=0.5, refinement="none"), GREEDY_FIRST)
    plan = solver.solve(problem)
    report = check_plan(problem, plan)
    assert report.ok, report.summary()
    expected = {j.request_id: j.reason for j in explain_rejections(problem, plan.refused_ids, plan)}
    assert {j.request_id: j.reason for j in plan.rejections} == expected
    if solver.trace.modelled:
        assert solver.trace.solutions  # the greedy plan is the first point of the trace


def test_the_greedy_plan_stops_at_its_deadline() -> None:
    p = tiny_problem()
    plan, left = greedy_plan(p, list(p.requests), time.perf_counter() - 1.0, 0.0)
    assert not plan.routes and left == ["r1", "r2"]
    plan, left = greedy_plan(p, list(p.requests), time.perf_counter() + 60.0, 0.0)
    assert not left and sorted(plan.served_ids) == ["r1", "r2"]
    assert check_plan(p, plan.__class__(plan.routes)).ok


def test_the_cheaper_of_greedy_and_ortools_wins() -> None:
    p = tiny_problem()
    solver = OrToolsSolver(SolverParams(time_limit_s=1.0, solution_limit=50), GREEDY_FIRST)
    plan = solver.solve(p)
    assert check_plan(p, plan).ok and sorted(plan.served_ids) == ["r1", "r2"]
    # the trace holds the greedy plan first, then only improvements
    costs = [c for _, c in solver.trace.solutions]
    assert costs == sorted(costs, reverse=True)


def _no_breaks() -> Problem:
    return tiny_problem(bus={"breaks": ()})


def test_no_alns_while_its_kernels_are_not_ready(monkeypatch: pytest.MonkeyPatch) -> None:
    """A day the ALNS layer applies to, its kernels still compiling: OR-Tools gets the whole
    time, nothing waits for them, and the status detail says so."""
    waited: list[float] = []

    def not_ready(wait_s: float = 0.0) -> bool:
        waited.append(wait_s)
        return False

    monkeypatch.setattr(alns_gate, "ready", not_ready)
    monkeypatch.setattr(alns_gate, "start", lambda: "compiling")
    solver = OrToolsSolver(SolverParams(time_limit_s=2.0))  # the layer's minimum
    plan = solver.solve(_no_breaks())
    assert check_plan(_no_breaks(), plan).ok
    assert "ALNS_NOT_READY" in plan.stats.status_detail and solver.trace.alns_iterations == 0
    assert waited and max(waited) <= SearchOptions().kernel_wait_s


def test_ready_does_not_wait_while_compiling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alns_gate, "_state", "compiling")
    monkeypatch.setattr(alns_gate, "_ready", type(alns_gate._ready)())
    t = time.perf_counter()
    assert not alns_gate.ready(5.0)
    assert time.perf_counter() - t < 1.0


def test_the_gate_knows_the_layer_applies_without_numba_loaded() -> None:
    p = _no_breaks()
    assert alns_gate.applicable(p, p.vehicles)
    assert not alns_gate.applicable(tiny_problem(), tiny_problem().vehicles)  # bus-1 has a break


@pytest.mark.skipif(not alns_gate.available(), reason="the ALNS layer only runs with numba")
def test_the_gate_sees_the_kernels_as_cached_once_they_are_compiled() -> None:
    """After a warm-up (which compiles or loads every kernel), numba's cache holds them all by
    the gate's test: a kernel inlined into its callers (never cached on its own) must not make
    every new process think they still need compiling (and run its first solve without them)."""
    from dispatcher.solver import alns

    alns.warm_up()
    assert alns_gate._kernels()
    assert alns_gate.cached()
