"""Problem in, Plan out: the OR-Tools model, the independent checker, refusal explanations."""

from __future__ import annotations

from typing import Protocol

from dispatcher.model import Plan, Problem


class Solver(Protocol):
    """Any engine that turns a Problem into a Plan; the checker judges them all alike."""

    def solve(self, problem: Problem) -> Plan: ...
