"""The OR-Tools names a :class:`~dispatcher.model.SolverParams` may choose, and their check.

The domain model keeps ``first_solution`` and ``metaheuristic`` as plain strings: which names
mean something is the engine's business. The parameter loader (:mod:`dispatcher.params`), the
problem reader (:mod:`dispatcher.io`) and the OR-Tools solver check them here, so that a bad
name is an :class:`~dispatcher.errors.InputError` naming the field wherever it comes from.
Nothing here imports OR-Tools (``tests/solver/test_routing.py`` holds the names to its enums).
"""

from __future__ import annotations

from dispatcher.errors import InputError
from dispatcher.model import SolverParams

FIRST_SOLUTION_STRATEGIES = (
    "AUTOMATIC",
    "PATH_CHEAPEST_ARC",
    "PARALLEL_CHEAPEST_INSERTION",
    "LOCAL_CHEAPEST_INSERTION",
    "SEQUENTIAL_CHEAPEST_INSERTION",
    "SAVINGS",
    "CHRISTOFIDES",
    "GLOBAL_CHEAPEST_ARC",
)
METAHEURISTICS = (
    "AUTOMATIC",
    "GREEDY_DESCENT",
    "GUIDED_LOCAL_SEARCH",
    "SIMULATED_ANNEALING",
    "TABU_SEARCH",
)


def check_names(params: SolverParams, where: str = "params") -> None:
    """Raise an InputError naming ``<where>.first_solution`` or ``<where>.metaheuristic`` when
    the parameters choose a strategy OR-Tools does not have."""
    if params.first_solution not in FIRST_SOLUTION_STRATEGIES:
        raise InputError(
            f"must be one of {', '.join(FIRST_SOLUTION_STRATEGIES)}", f"{where}.first_solution"
        )
    if params.metaheuristic not in METAHEURISTICS:
        raise InputError(f"must be one of {', '.join(METAHEURISTICS)}", f"{where}.metaheuristic")


__all__ = ["FIRST_SOLUTION_STRATEGIES", "METAHEURISTICS", "check_names"]
