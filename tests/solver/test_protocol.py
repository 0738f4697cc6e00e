"""The seam between callers and engines (``dispatcher.solver``): one Solver protocol, one place
that builds the default engine, and callers that take another engine and hand it the same
Problem, with the live path's initial routes and pins."""

from __future__ import annotations

from dataclasses import dataclass, field

from dispatcher.model import Plan, Problem, SolverParams
from dispatcher.solver import InitialRoutes, Pins, Solver, SolverFactory, default_solver
from dispatcher.solver.checker import check_plan
from dispatcher.solver.mixed import plan_mixed
from dispatcher.solver.reoptimise import reoptimise
from dispatcher.solver.routing import OrToolsSolver
from tests.solver.conftest import hm, tiny_problem


@dataclass
class Recorder:
    """A factory of engines that wrap the default one and record what each is asked."""

    calls: list[tuple[SolverParams | None, bool, bool]] = field(default_factory=list)

    def __call__(self, params: SolverParams | None) -> Solver:
        inner, calls = default_solver(params), self.calls

        class Engine:
            def solve(
                self,
                problem: Problem,
                *,
                initial_routes: InitialRoutes | None = None,
                pinned: Pins | None = None,
            ) -> Plan:
                calls.append((params, initial_routes is not None, pinned is not None))
                return inner.solve(problem, initial_routes=initial_routes, pinned=pinned)

        return Engine()


def test_the_default_engine_is_a_solver() -> None:
    engine = default_solver(SolverParams(time_limit_s=0.0))
    assert isinstance(engine, Solver) and isinstance(engine, OrToolsSolver)
    p = tiny_problem()
    plan = engine.solve(p)
    assert check_plan(p, plan).ok


def test_plan_mixed_plans_with_the_engine_it_is_given() -> None:
    rec = Recorder()
    make: SolverFactory = rec
    params = SolverParams(time_limit_s=0.0)
    mp, plan = plan_mixed(tiny_problem(), params=params, make_solver=make)
    assert check_plan(mp, plan).ok
    assert rec.calls == [(params, False, False)]


def test_reoptimise_hands_the_engine_the_routes_and_the_pins() -> None:
    p = tiny_problem()
    plan = default_solver(SolverParams(time_limit_s=0.0)).solve(p)
    assert len(plan.served_ids) == 2
    rec = Recorder()
    # at 08:05 r1's pickup (08:00) is done: r1 is pinned to its vehicle
    res = reoptimise(p, plan, now_s=hm(8, 5), time_limit_s=0.5, make_solver=rec)
    assert len(rec.calls) == 1
    params, with_routes, with_pins = rec.calls[0]
    assert params is not None and params.time_limit_s == 0.5
    assert with_routes and with_pins
    assert check_plan(p, res.plan).ok
