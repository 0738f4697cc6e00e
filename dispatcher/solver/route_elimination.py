"""Route elimination after the OR-Tools search, on timed routes.

``eliminate_routes``: when vehicles have a fixed cost (fewer vehicles first, as in the Li & Lim
ranking), empty the least loaded routes one at a time and put their requests into the other
routes with the exact real-time insertion (:func:`dispatcher.solver.insertion.find_insertion`);
a route goes only if all its requests fit elsewhere and the plan's cost (vehicle costs, fixed
costs included) goes down. OR-Tools' local search rarely empties a route by itself: every move
that does so passes through plans where the route still serves one or two requests.

Everything here is deterministic and bounded by a deadline; the checker judges the result like
any other plan.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from dispatcher.model import Plan, Problem, Request, Route
from dispatcher.solver.insertion import find_insertion
from dispatcher.solver.kpis import compute_kpis


def plan_cost_eur(problem: Problem, routes: Sequence[Route]) -> float:
    """Vehicle costs of the routes (distance, hours, fixed costs), in euros."""
    return compute_kpis(problem, list(routes), []).cost_eur


def eliminate_routes(
    problem: Problem,
    routes: Sequence[Route],
    deadline: float | None = None,
    max_tries: int = 50,
) -> tuple[list[Route], int]:
    """Try to empty routes, least loaded first, until none can go or ``deadline``
    (``time.perf_counter()`` value) passes. Returns the routes and how many were removed.
    Requests are never dropped: a route goes only if every one of its requests is re-inserted."""
    byid: dict[str, Request] = {r.id: r for r in problem.requests}
    current = list(routes)
    cost = plan_cost_eur(problem, current)
    removed = 0
    failed: set[str] = set()
    tries = 0
    while tries < max_tries:
        if deadline is not None and time.perf_counter() > deadline:
            break
        candidates = sorted(
            (r for r in current if r.visits and r.vehicle_id not in failed),
            key=lambda r: (len(r.visits), r.end_s - r.start_s),
        )
        if not candidates or len([r for r in current if r.visits]) < 2:
            break
        victim = candidates[0]
        tries += 1
        rest = [r for r in current if r.vehicle_id != victim.vehicle_id]
        used = {r.vehicle_id for r in rest if r.visits}
        plan = Plan(routes=tuple(rest))
        ids = list(dict.fromkeys(v.request_id for v in victim.visits))
        # hardest first: the tightest pickup window, then the longest trip
        ids.sort(key=lambda rid: (_slack(problem, byid[rid]), -problem.direct_s(byid[rid])))
        ok = True
        for rid in ids:
            if deadline is not None and time.perf_counter() > deadline:
                ok = False
                break
            ins = find_insertion(problem, plan, byid[rid], requests_by_id=byid)
            if ins is None or ins.vehicle_id not in used:
                ok = False
                break
            plan = ins.plan
        if ok:
            new_routes = list(plan.routes)
            new_cost = plan_cost_eur(problem, new_routes)
            if new_cost < cost - 1e-9:
                current, cost = new_routes, new_cost
                removed += 1
                failed.clear()  # the other routes changed: they may go now
                continue
        failed.add(victim.vehicle_id)
    order = {v.id: k for k, v in enumerate(problem.vehicles)}
    current.sort(key=lambda r: order.get(r.vehicle_id, len(order)))
    return current, removed


def _slack(problem: Problem, r: Request) -> int:
    tw = problem.pickup_tw(r)
    return tw.end_s - tw.start_s


__all__ = ["eliminate_routes", "plan_cost_eur"]
