"""Repairs around a search: re-insert what it left out, build a plan greedily, time a route
whose order cannot be timed, take lone halves of linked trips off their routes. Used by the
OR-Tools search (:mod:`dispatcher.solver.routing`) and the live re-optimisation
(:mod:`dispatcher.solver.reoptimise`)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence

from dispatcher.model import Plan, Problem, Request, Route, Vehicle
from dispatcher.solver.insertion import ScreenCache, find_insertion, remove_from_plan
from dispatcher.solver.linked import orphans, units
from dispatcher.solver.schedule import RouteTimer, Stop

log = logging.getLogger(__name__)


def reinsert(
    problem: Problem,
    routes: list[Route],
    dropped: Sequence[str],
    objective: float,
    deadline: float = math.inf,
    pinned: Mapping[str, str] | None = None,
) -> tuple[list[Route], list[str], float]:
    """Insert what the search left out (each request here is feasible alone), most important and
    longest first, with the exact real-time insertion, until ``deadline`` (``perf_counter``
    time); a request ``pinned`` to a vehicle (request id -> vehicle id) only goes back on that
    vehicle. Returns the routes, who is still refused and the objective corrected by the
    insertions' estimates."""
    byid = {r.id: r for r in problem.requests}
    plan = Plan(routes=tuple(routes))
    left: list[str] = []
    served = set(plan.served_ids)
    # a linked trip goes in whole: both halves (outbound first), or the half whose other half is
    # served; a half whose other half is out of reach (not feasible alone) stays out
    todo: list[list[str]] = []
    for unit in units(problem, dropped):
        mate = problem.partner_id(unit[0]) if len(unit) == 1 else None
        if mate is None or mate in served:
            todo.append(unit)
        else:
            left += unit

    def rank(unit: list[str]) -> tuple[int, int]:
        return (
            -max(byid[rid].priority for rid in unit),
            -sum(problem.direct_s(byid[rid]) for rid in unit),
        )

    cache = ScreenCache()
    for unit in sorted(todo, key=rank):
        if time.perf_counter() > deadline:
            left += unit
            continue
        trial, added = plan, 0.0
        for rid in unit:
            only = {pinned[rid]} if pinned and rid in pinned else None
            ins = find_insertion(
                problem,
                trial,
                byid[rid],
                requests_by_id=byid,
                cache=cache,
                vehicle_ids=only,
                kpis=False,
            )
            if ins is None:
                break
            trial, added = ins.plan, added + ins.added_cost
        else:
            plan = trial
            objective += added - sum(
                problem.weights.refusal_penalty * byid[rid].priority for rid in unit
            )
            continue
        left += unit
    if len(left) < len(dropped):
        log.info("re-inserted %d refused request(s) after the search", len(dropped) - len(left))
    order = {rid: k for k, rid in enumerate(dropped)}
    return list(plan.routes), sorted(left, key=order.__getitem__), objective


def greedy_plan(
    problem: Problem, requests: Sequence[Request], deadline: float, per_left_s: float
) -> tuple[Plan, list[str]]:
    """A plan built by inserting ``requests`` one at a time, most important and earliest first,
    each at its cheapest exact position (:func:`dispatcher.solver.insertion.find_insertion`),
    until ``deadline`` (``perf_counter`` time) minus ``per_left_s`` per request not inserted
    yet (the time to explain its refusal). Returns the plan and the ids left out."""
    byid = {r.id: r for r in problem.requests}
    order = sorted(requests, key=lambda r: (-r.priority, problem.pickup_tw(r).start_s, r.id))
    plan = Plan(routes=())
    cache = ScreenCache()
    left: list[str] = []
    for k, r in enumerate(order):
        if time.perf_counter() > deadline - per_left_s * (len(order) - k):
            left += [x.id for x in order[k:]]
            break
        ins = find_insertion(problem, plan, r, requests_by_id=byid, cache=cache, kpis=False)
        if ins is None:
            left.append(r.id)
        else:
            plan = ins.plan
    return plan, left


def time_route(
    problem: Problem,
    vehicle: Vehicle,
    stops: list[Stop],
    hint: Sequence[int] | None,
    hint_breaks: Sequence[int | None] | None,
) -> tuple[Route | None, list[str]]:
    """Time the route; if its order cannot be timed (it should always can), drop requests one at
    a time, last picked up first, until it can. Returns the route and the dropped ids."""
    removed: list[str] = []
    route = RouteTimer(problem, vehicle, stops).schedule(hint, hint_breaks)
    while route is None and stops:
        candidates = list(dict.fromkeys(r.id for r, _ in stops))
        best: tuple[str, list[Stop], Route | None] | None = None
        for rid in reversed(candidates):
            trial = [st for st in stops if st[0].id != rid]
            if not trial:
                best = (rid, trial, None)
                break
            rt = RouteTimer(problem, vehicle, trial).schedule()
            if rt is not None:
                best = (rid, trial, rt)
                break
        if best is None:
            rid = candidates[-1]
            stops = [st for st in stops if st[0].id != rid]
            removed.append(rid)
            continue
        removed.append(best[0])
        stops, route = best[1], best[2]
        if not stops:
            return None, removed
    return route, removed


def drop_orphans(problem: Problem, routes: Sequence[Route]) -> tuple[list[Route], list[str]]:
    """``routes`` without the halves of linked trips whose other half they do not serve: each
    leaves its route, which is re-timed (see
    :func:`dispatcher.solver.insertion.remove_from_plan`). Returns the routes and the ids taken
    off, to be refused (with ``Reason.LINKED_TRIP_REFUSED`` by the explainer)."""
    served = [v.request_id for rt in routes for v in rt.visits if v.kind == "pickup"]
    gone = orphans(problem, served)
    if not gone:
        return list(routes), []
    plan = Plan(routes=tuple(routes))
    for rid in gone:
        plan = remove_from_plan(problem, plan, rid)
    return [rt for rt in plan.routes if rt.visits], gone


__all__ = ["drop_orphans", "greedy_plan", "reinsert", "time_route"]
