"""The day's plan as people and programs read it: JSON, GeoJSON along the roads (built once per
version of the day in this process, and per reader who may or may not see the riders' places),
the drivers' manifest as CSV, and the checker's verdict; each as its reader may see it
(``dispatcher.service.privacy``: a planner reads pseudonyms and communes).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from dispatcher.errors import NotFoundError
from dispatcher.fares.plan import plan_fares
from dispatcher.io.geojson import plan_to_geojson
from dispatcher.io.plan import plan_from_dict
from dispatcher.io.problem import problem_from_dict
from dispatcher.io.sheets import check_style, csv_text
from dispatcher.io.times import format_time
from dispatcher.model import Plan, Problem
from dispatcher.service import pricing
from dispatcher.service.context import Context, Drawn, per_day
from dispatcher.service.fleet import Fleet
from dispatcher.service.privacy import Kind, Privacy, Subject, View, Viewer, hidden
from dispatcher.service.tickets import Tickets
from dispatcher.solver.checker import check_plan
from dispatcher.store import KeyInfo

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
    "fare",
    "fare_cents",
    "ticket",
)
MANIFEST_HEADERS_FR = {  # the manifest's CSV headers for French Excel (csv="excel")
    "vehicle_id": "Véhicule",
    "order": "Ordre",
    "kind": "Montée / descente",
    "time": "Heure",
    "place": "Lieu",
    "location_id": "Code lieu",
    "request_id": "Réservation",
    "name": "Passager",
    "phone": "Téléphone",
    "party_seats": "Places assises",
    "party_wheelchairs": "Places fauteuil",
    "load_seats": "À bord après (assis)",
    "load_wheelchairs": "À bord après (fauteuils)",
    "fare": "Tarif",
    "fare_cents": "Tarif (centimes)",
    "ticket": "Titre attendu",
}


def no_plan(day: date) -> NotFoundError:
    return NotFoundError(
        f"no plan yet for {day.isoformat()}; run a plan job (POST "
        f"/v1/days/{day.isoformat()}/plans) or book",
        "plan",
    )


def _phones(problem: dict[str, Any]) -> dict[str, Any]:
    return {str(r.get("id")): r.get("phone") for r in problem.get("requests") or []}


class Plans:
    def __init__(self, ctx: Context, fleet: Fleet, privacy: Privacy) -> None:
        self.ctx, self.fleet, self.privacy = ctx, fleet, privacy
        self.tickets = Tickets(ctx)
        self._priced: dict[date, tuple[int, dict[str, Any]]] = {}  # day -> (version, priced plan)

    def plan_json(self, day: date, key: KeyInfo) -> dict[str, Any]:
        plan = {**self._plan_with_fares(day)}
        modes = {
            str(r.get("vehicle_id")).partition("/")[0]: str(r["mode"])
            for r in plan.get("routes") or []
            if r.get("mode") in ("volunteer", "carpool")
        }
        out: dict[str, Any] = self.privacy.show(
            View.PLAN, plan, key, "plans.json", day, kinds=modes
        )
        return out

    def _plan_with_fares(self, day: date) -> dict[str, Any]:
        """The stored plan with its ``fares``, priced once per version of the day in this
        process (from the plan and problem this process holds when it wrote them last)."""
        version = self.ctx.store.day_version(day)
        with self.ctx.memory.lock:
            got = self._priced.get(day)
        if got is not None and got[0] == version:
            return got[1]
        held = self.ctx.memory.held(day, version)
        stored = self.ctx.store.get_plan(day)
        if stored is None:
            raise no_plan(day)
        pd, prd = stored
        if held is not None and self.ctx.store.day_version(day) == version:
            plan, problem = held.plan, held.problem
        else:
            problem = problem_from_dict(prd)
            plan = plan_from_dict(pd, problem)
        out = {**pd, "fares": pricing.plan_fares(self.ctx, problem, plan)}
        if self.ctx.store.day_version(day) == version:  # nothing changed meanwhile: keep it
            with self.ctx.memory.lock:
                per_day(self._priced, day, dict)
                self._priced[day] = (version, out)
        return out

    def plan_and_problem(self, day: date) -> tuple[Plan, Problem, dict[str, Any]]:
        """The day's plan and problem, and the problem as stored (its vehicles' kinds, its
        requests' phone numbers)."""
        got = self.ctx.store.get_plan(day)
        if got is None:
            raise no_plan(day)
        pd, prd = got
        problem = problem_from_dict(prd)
        return plan_from_dict(pd, problem), problem, prd

    def geojson(self, day: date, key: KeyInfo) -> dict[str, Any]:
        """The day's plan as GeoJSON, built once per version of the day (in this process); a
        reader who may not see riders' places gets it drawn between their communes."""
        role = Viewer.of(key).role
        coarse = Kind.PLACES in hidden(Subject.RIDER, role, own=False)
        if coarse and Kind.PLACES not in hidden(Subject.RIDER, role, own=True):
            _, out, kinds, phones = self._build_geojson(day, key)  # a map of its own (no cache)
            return self._show_geojson(out, key, day, kinds, phones)
        memory = self.ctx.memory
        cache = memory.geojson_coarse if coarse else memory.geojson
        version = self.ctx.store.day_version(day)
        with memory.lock:
            got = cache.get(day)
        if got is None or got[0] != version:
            with memory.geojson_build:  # readers arriving together wait for one build
                with memory.lock:
                    got = cache.get(day)
                if got is None or got[0] != version:
                    got = self._build_geojson(day, key if coarse else None)
                    with memory.lock:
                        held = cache.get(day)
                        if held is None or held[0] < got[0]:
                            cache[day] = got
        _, out, kinds, phones = got
        return self._show_geojson(out, key, day, kinds, phones)

    def _show_geojson(
        self,
        out: dict[str, Any],
        key: KeyInfo,
        day: date,
        kinds: dict[str, str],
        phones: dict[str, Any],
    ) -> dict[str, Any]:
        shown: dict[str, Any] = self.privacy.show(
            View.GEOJSON, out, key, "plans.geojson", day, kinds=kinds, phones=phones
        )
        return shown

    def _build_geojson(self, day: date, coarse_for: KeyInfo | None) -> Drawn:
        """(version, GeoJSON, private drivers, phones of the requests) of the day's plan; drawn
        from the problem as ``coarse_for`` may see its places, if given."""
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
        kinds = self.privacy.drivers_of(day, prd)
        if coarse_for is not None:
            problem = self.privacy.lens(coarse_for, day, kinds=kinds).coarse_problem(problem)
        return version, plan_to_geojson(plan, problem, self.ctx.network), kinds, _phones(prd)

    def check(self, day: date, key: KeyInfo) -> dict[str, Any]:
        """The checker's verdict on the day's plan, against the fleet as it is now (its texts
        as ``key`` may read them)."""
        plan, problem, prd = self.plan_and_problem(day)
        report = check_plan(self.fleet.current(problem), plan)
        out = {
            "ok": report.ok,
            "summary": report.summary(),
            "violations": [
                {"code": v.code, "where": v.where, "message": v.message} for v in report.violations
            ],
        }
        shown: dict[str, Any] = self.privacy.show(
            View.CHECK,
            out,
            key,
            "plans.check",
            day,
            kinds=self.privacy.drivers_of(day, prd),
            know=[r.id for r in problem.requests],
            # a verdict names no one (ids at most, pseudonymised for who may not see them)
            log=False,
        )
        return shown

    def manifest_csv(
        self, day: date, key: KeyInfo, vehicle_id: str | None = None, style: str = "machine"
    ) -> str:
        """The drivers' manifest (all vehicles, or ``vehicle_id``: its id as ``key`` reads it),
        as CSV for programs or (``style="excel"``) for French Excel."""
        plan, problem, prd = self.plan_and_problem(day)
        fares = plan_fares(self.ctx.fares, problem, plan, self.ctx.zone_of)
        codes = self.tickets.codes_of_day(day)
        rows = []
        for route in plan.routes:
            for k, v in enumerate(route.visits):
                r = problem.request(v.request_id)
                loc = problem.location(v.location_id)
                fare = fares.get(r.id) if v.kind == "pickup" else None
                rows.append(
                    {
                        "vehicle_id": route.vehicle_id,
                        "order": k + 1,
                        "kind": v.kind,
                        "time": format_time(v.start_s, problem.day, problem.timezone),
                        "place": loc.name or loc.id,
                        "location_id": loc.id,
                        "request_id": r.id,
                        "name": r.name,
                        "phone": r.phone,
                        "party_seats": r.seats,
                        "party_wheelchairs": r.wheelchairs,
                        "load_seats": v.seats,
                        "load_wheelchairs": v.wheelchairs,
                        "fare": f"{fare.product} {fare.display}" if fare else "",
                        "fare_cents": fare.amount_cents if fare else "",
                        "ticket": codes.get(r.id, "") if v.kind == "pickup" else "",
                    }
                )
        kinds = self.privacy.drivers_of(day, prd)
        lens = self.privacy.lens(key, day, kinds=kinds)
        shown_ids = {route.vehicle_id: lens.vid(route.vehicle_id) for route in plan.routes}
        if vehicle_id is not None:
            wanted = [real for real, seen in shown_ids.items() if seen == vehicle_id]
            if not wanted:
                raise NotFoundError(
                    f"vehicle {vehicle_id!r} has no route on {day.isoformat()}", "vehicle_id"
                )
            rows = [row for row in rows if row["vehicle_id"] == wanted[0]]
        seen = self.privacy.show(
            View.MANIFEST_ROW, rows, key, "plans.manifest", day, kinds=kinds, phones=_phones(prd)
        )
        return csv_text(seen, MANIFEST_COLUMNS, check_style(style, "csv"), MANIFEST_HEADERS_FR)
