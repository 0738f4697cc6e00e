"""The command's time limit counts from the start of the process: the solver gets what is left
once the plan's checking and writing are set aside (timings: ``benchmarks/time_limit.py``)."""

from __future__ import annotations

import time
from dataclasses import replace

from dispatcher.cli import _solver_budget
from dispatcher.clikit import process_started
from dispatcher.model import SolverParams
from tests.solver.conftest import tiny_problem


def test_the_process_started_before_now() -> None:
    assert 0.0 <= time.monotonic() - process_started() < 3600.0


def test_the_solver_gets_what_is_left_of_the_limit() -> None:
    p = replace(tiny_problem(), params=SolverParams(time_limit_s=3600.0, seed=3))
    spent = time.monotonic() - process_started()
    params = _solver_budget(p, 3600.0, geojson=False)
    assert params.seed == 3 and params.time_limit_s is not None
    assert params.time_limit_s < 3600.0 - spent
    drawn = _solver_budget(p, 3600.0, geojson=True).time_limit_s
    assert drawn is not None and drawn < params.time_limit_s
    # a limit already spent still leaves a (tiny) budget, never "first plan only"
    assert _solver_budget(p, 1e-3, geojson=False).time_limit_s == 0.05
    # a limit of 0 asks for the first plan only
    first = replace(p, params=SolverParams(time_limit_s=0.0))
    assert _solver_budget(first, 0.0, geojson=False).time_limit_s == 0.0
