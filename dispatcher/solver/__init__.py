"""Problem in, Plan out: the OR-Tools model, the independent checker, refusal explanations.

Every caller plans through the :class:`Solver` protocol and gets the engine from
:func:`default_solver`; a caller that takes an engine accepts a :data:`SolverFactory`
(defaulting to :func:`default_solver`), so another engine can be measured on the same Problem
and judged by the same checker.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, runtime_checkable

from dispatcher.model import Plan, Problem, SolverParams

InitialRoutes = Mapping[str, Sequence[tuple[str, str]]]
"""Vehicle id -> its visits as (request id, "pickup" | "dropoff"), in order."""

Pins = Mapping[str, str]
"""Request id -> the vehicle it must stay on."""


@runtime_checkable
class Solver(Protocol):
    """Any engine that turns a Problem into a Plan; the checker judges them all alike.

    For a live day, ``initial_routes`` is the plan the search starts from and ``pinned`` keeps
    requests on their vehicle; an engine that cannot honour them raises
    :class:`~dispatcher.errors.SolverError` when they are given."""

    def solve(
        self,
        problem: Problem,
        *,
        initial_routes: InitialRoutes | None = None,
        pinned: Pins | None = None,
    ) -> Plan: ...


SolverFactory = Callable[[SolverParams | None], Solver]
"""Builds an engine from parameters (None: each Problem's own ``params``)."""


def default_solver(params: SolverParams | None = None) -> Solver:
    """The engine every caller uses unless given another: the OR-Tools model with the ALNS
    layer (:class:`dispatcher.solver.routing.OrToolsSolver`). ``params`` None: each Problem's
    own ``params``."""
    from dispatcher.solver.routing import OrToolsSolver  # OR-Tools loads on first use only

    return OrToolsSolver(params)


__all__ = ["InitialRoutes", "Pins", "Solver", "SolverFactory", "default_solver"]
