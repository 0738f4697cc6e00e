"""The OR-Tools strategy names live on the solver's side: the model takes any string, and a
bad name is still an InputError naming the field, from a parameter file, a problem file or
SolverParams built in code and handed to the solver."""

from __future__ import annotations

import pytest
from ortools.constraint_solver import routing_enums_pb2

from dispatcher.errors import InputError
from dispatcher.model import Request, SolverParams
from dispatcher.solver.ortools_names import FIRST_SOLUTION_STRATEGIES, METAHEURISTICS, check_names
from dispatcher.solver.routing import solve
from tests.solver.test_routing import BUS, problem, pw


def test_every_name_is_one_of_ortools_enums() -> None:
    for name in FIRST_SOLUTION_STRATEGIES:
        assert hasattr(routing_enums_pb2.FirstSolutionStrategy, name), name
    for name in METAHEURISTICS:
        assert hasattr(routing_enums_pb2.LocalSearchMetaheuristic, name), name


def test_the_model_does_not_know_the_names() -> None:
    params = SolverParams(first_solution="NOT_A_STRATEGY")  # a plain string field
    with pytest.raises(InputError) as ei:
        check_names(params, "trial")
    assert ei.value.where == "trial.first_solution" and "PATH_CHEAPEST_ARC" in ei.value.message
    with pytest.raises(InputError) as ei:
        check_names(SolverParams(metaheuristic="FAST"))
    assert ei.value.where == "params.metaheuristic"


def test_the_solver_refuses_a_bad_name_naming_the_field() -> None:
    p = problem([Request("r1", "A", "C", pickup_window=pw(8))], [BUS])
    with pytest.raises(InputError) as ei:
        solve(p, SolverParams(time_limit_s=0.0, metaheuristic="FAST"))
    assert ei.value.where == "params.metaheuristic"
