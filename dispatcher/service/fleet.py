"""The fleet: vehicles (minibuses, cars) validated on the territory before they are stored.

A stored plan answers the fleet as it was when it was made; a change to a vehicle that a plan
of a day still to come uses is refused with the days it would break (the operator re-plans or
moves those trips first), and the check of a plan judges it against the fleet as it is now.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from typing import Any

from dispatcher.errors import InputError
from dispatcher.io.plan import plan_from_dict
from dispatcher.io.problem import problem_from_dict
from dispatcher.model import Plan, Problem, Vehicle
from dispatcher.service.compiling import Compiler
from dispatcher.service.context import Context
from dispatcher.service.privacy import Privacy, View
from dispatcher.solver.checker import check_plan
from dispatcher.store import ConflictError, KeyInfo


class Fleet:
    def __init__(self, ctx: Context, compiler: Compiler, privacy: Privacy) -> None:
        self.ctx, self.compiler, self.privacy = ctx, compiler, privacy

    def vehicles(self) -> list[dict[str, Any]]:
        """The fleet as stored (the service's own use)."""
        return self.ctx.store.list_vehicles()

    def listed(self, key: KeyInfo) -> list[dict[str, Any]]:
        """The fleet as ``key`` may read it (a planner: without the drivers' names and phones)."""
        shown: list[dict[str, Any]] = self.privacy.show(
            View.VEHICLE, self.vehicles(), key, "vehicles.list"
        )
        return shown

    def get(self, vehicle_id: str, key: KeyInfo) -> dict[str, Any]:
        shown: dict[str, Any] = self.privacy.show(
            View.VEHICLE, self.ctx.store.get_vehicle(vehicle_id), key, "vehicles.get"
        )
        return shown

    def validate(self, d: Mapping[str, Any], where: str = "body") -> None:
        self.compiler.validate_vehicle(d, where)

    def put(self, d: Mapping[str, Any], create_only: bool = False) -> bool:
        """Store a vehicle once validated; True if created. A change that would make a stored
        plan of today or a day to come fail the checker is refused (ConflictError naming the
        days)."""
        self.validate(d)
        broken = self._days_broken_by(d)
        if broken:
            days = ", ".join(f"{day.isoformat()} ({why})" for day, why in broken[:5])
            raise ConflictError(
                f"vehicle {d['id']!r} as given would break the plan of {days}; "
                "re-plan or move those trips first",
                "body",
            )
        return self.ctx.store.put_vehicle(d, create_only=create_only)

    def delete(self, vehicle_id: str) -> None:
        self.ctx.store.delete_vehicle(vehicle_id)

    def current(self, problem: Problem) -> Problem:
        """``problem`` with its fleet vehicles as the fleet defines them now (volunteers' and
        carpool vehicles, and vehicles since removed, as they were). A vehicle whose depots are
        no longer places of the problem keeps its old depots but its new limits, so the checker
        still judges its capacity, shift and duration."""
        fleet = {str(v.get("id")): v for v in self.vehicles()}
        if not any(v.id in fleet for v in problem.vehicles):
            return problem
        known = {loc.id for loc in problem.locations}
        vehicles = tuple(
            self._redefined(v, fleet[v.id], problem.day, known) if v.id in fleet else v
            for v in problem.vehicles
        )
        return replace(problem, vehicles=vehicles)

    def _redefined(
        self, old: Vehicle, d: Mapping[str, Any], day: date | None, known: set[str]
    ) -> Vehicle:
        new = self.compiler.from_dicts([], [d], day).vehicles[0]
        places = {"start": new.start, "end": new.end}
        moved = {k: getattr(old, k) for k, loc in places.items() if loc not in known}
        if new.home is not None and new.home not in known:
            moved["home"] = old.home
        if new.allowed_stops and not set(new.allowed_stops) <= known:
            moved["allowed_stops"] = old.allowed_stops
        return replace(new, **moved)

    def _days_broken_by(self, d: Mapping[str, Any]) -> list[tuple[date, str]]:
        today = self.ctx.now_local().date()
        vid = str(d.get("id"))
        broken: list[tuple[date, str]] = []
        for day_out in self.ctx.store.list_days():
            day = date.fromisoformat(day_out["day"])
            if day < today or not day_out["has_plan"]:
                continue
            got = self.ctx.store.get_plan(day)
            if got is None:
                continue
            plan, problem = _parse(got)
            route = plan.route(vid)
            if route is None or not route.visits or all(v.id != vid for v in problem.vehicles):
                continue
            try:
                new = self._redefined(
                    problem.vehicle(vid), d, day, {loc.id for loc in problem.locations}
                )
                report = check_plan(
                    replace(
                        problem, vehicles=tuple(new if v.id == vid else v for v in problem.vehicles)
                    ),
                    plan,
                )
            except InputError as e:
                broken.append((day, e.message))
                continue
            if not report.ok:
                broken.append((day, str(report.violations[0])))
        return broken


def _parse(got: tuple[dict[str, Any], dict[str, Any]]) -> tuple[Plan, Problem]:
    problem = problem_from_dict(got[1])
    return plan_from_dict(got[0], problem), problem
