"""The day's plan as people and programs read it: JSON, GeoJSON along the roads (built once per
version of the day in this process), the drivers' manifest as CSV, and the checker's verdict.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from dispatcher.errors import NotFoundError
from dispatcher.io.geojson import plan_to_geojson
from dispatcher.io.plan import plan_from_dict
from dispatcher.io.problem import problem_from_dict
from dispatcher.io.times import format_time
from dispatcher.model import Plan, Problem
from dispatcher.service.context import Context
from dispatcher.service.fleet import Fleet
from dispatcher.solver.checker import check_plan

MANIFEST_COLUMNS = (
    "vehicle_id",
    "order",
    "kind",
    "time",
    "place",
    "location_id",
    "request_id",
    "name",
    "phone",
    "party_seats",
    "party_wheelchairs",
    "load_seats",
    "load_wheelchairs",
)


def no_plan(day: date) -> NotFoundError:
    return NotFoundError(
        f"no plan yet for {day.isoformat()}; run a plan job (POST "
        f"/v1/days/{day.isoformat()}/plans) or book",
        "plan",
    )


class Plans:
    def __init__(self, ctx: Context, fleet: Fleet) -> None:
        self.ctx, self.fleet = ctx, fleet

    def plan_json(self, day: date) -> dict[str, Any]:
        plan = self.ctx.store.get_plan_json(day)
        if plan is None:
            raise no_plan(day)
        return plan

    def plan_and_problem(self, day: date) -> tuple[Plan, Problem]:
        got = self.ctx.store.get_plan(day)
        if got is None:
            raise no_plan(day)
        pd, prd = got
        problem = problem_from_dict(prd)
        return plan_from_dict(pd, problem), problem

    def geojson(self, day: date) -> dict[str, Any]:
        """The day's plan as GeoJSON, built once per version of the day (in this process)."""
        memory = self.ctx.memory
        version = self.ctx.store.day_version(day)
        with memory.lock:
            got = memory.geojson.get(day)
        if got is not None and got[0] == version:
            return got[1]
        with memory.geojson_build:  # readers arriving together wait for one build, not one each
            with memory.lock:
                got = memory.geojson.get(day)
            if got is not None and got[0] == version:
                return got[1]
            return self._build_geojson(day)

    def _build_geojson(self, day: date) -> dict[str, Any]:
        memory = self.ctx.memory
        stored = self.ctx.store.get_plan_versioned(day)
        if stored is None:
            raise no_plan(day)
        version, pd, prd = stored
        held = memory.recall(day, version)
        if held is None:
            problem = problem_from_dict(prd)
            plan = plan_from_dict(pd, problem)
        else:
            plan, problem = held
        out = plan_to_geojson(plan, problem, self.ctx.network)
        with memory.lock:
            got = memory.geojson.get(day)
            if got is None or got[0] < version:
                memory.geojson[day] = (version, out)
        return out

    def check(self, day: date) -> dict[str, Any]:
        """The checker's verdict on the day's plan, against the fleet as it is now."""
        plan, problem = self.plan_and_problem(day)
        report = check_plan(self.fleet.current(problem), plan)
        return {
            "ok": report.ok,
            "summary": report.summary(),
            "violations": [
                {"code": v.code, "where": v.where, "message": v.message} for v in report.violations
            ],
        }

    def manifest_csv(self, day: date, vehicle_id: str | None = None) -> str:
        plan, problem = self.plan_and_problem(day)
        if vehicle_id is not None and plan.route(vehicle_id) is None:
            raise NotFoundError(
                f"vehicle {vehicle_id!r} has no route on {day.isoformat()}", "vehicle_id"
            )
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(MANIFEST_COLUMNS)
        for route in plan.routes:
            if vehicle_id is not None and route.vehicle_id != vehicle_id:
                continue
            for k, v in enumerate(route.visits):
                r = problem.request(v.request_id)
                loc = problem.location(v.location_id)
                w.writerow(
                    [
                        route.vehicle_id,
                        k + 1,
                        v.kind,
                        format_time(v.start_s, problem.day, problem.timezone),
                        loc.name or loc.id,
                        loc.id,
                        r.id,
                        r.name,
                        r.phone,
                        r.seats,
                        r.wheelchairs,
                        v.seats,
                        v.wheelchairs,
                    ]
                )
        return buf.getvalue()
