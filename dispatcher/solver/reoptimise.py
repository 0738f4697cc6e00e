"""Warm-started re-optimisation of a live day with OR-Tools and its ALNS layer.

The live problem (:mod:`dispatcher.solver.live`) already pins what is done and holds every
promise in its windows; here the day's served requests are re-planned by the OR-Tools model of
:mod:`dispatcher.solver.routing`, starting from the current routes (``ReadAssignmentFromRoutes``),
then by the ALNS layer from the cheaper of its plan and those routes, with:

* every served request made as good as mandatory (priority raised so that dropping one costs
  far more than any route), and the result rejected if it drops one anyway;
* the requests with a done visit pinned to their vehicle (their done visits' windows are a
  single instant before now, so the time dimension keeps them first and in order);
* the independent checker as the judge, and the new plan kept only if it is cheaper.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from dispatcher.model import Plan, Problem, Route, SolverParams
from dispatcher.solver import SolverFactory, default_solver
from dispatcher.solver.checker import check_plan
from dispatcher.solver.insertion import find_insertion, locked_prefix, pin_prefix, schedule_route
from dispatcher.solver.kpis import compute_kpis
from dispatcher.solver.repair import time_route
from dispatcher.solver.schedule import Stop

PROMISE_PRIORITY = 1000


@dataclass(frozen=True)
class ReoptResult:
    plan: Plan  # the new plan if improved, else the old one
    improved: bool
    old_cost: float
    new_cost: float | None
    status: str  # the search's outcome and detail, or why its plan was not kept
    elapsed_s: float


def plan_cost(problem: Problem, plan: Plan) -> float:
    """The day's cost in euros (kilometres, hours, fixed costs), as in the KPIs."""
    return compute_kpis(problem, plan.routes, ()).cost_eur


def reoptimise(
    problem: Problem,
    plan: Plan,
    *,
    now_s: int | None = None,
    time_limit_s: float = 5.0,
    seed: int = 0,
    min_gain_eur: float = 0.01,
    make_solver: SolverFactory = default_solver,
) -> ReoptResult:
    """Try to improve ``plan`` (every request of ``problem`` served in it) within ``time_limit_s``,
    with the engine ``make_solver`` builds (it must honour initial routes and pins)."""
    t0 = time.perf_counter()
    old_cost = plan_cost(problem, plan)
    served = set(plan.served_ids)
    if not served:
        return ReoptResult(plan, False, old_cost, None, "NOTHING_TO_DO", 0.0)
    solve_problem = replace(
        problem,
        requests=tuple(
            replace(r, priority=max(r.priority, PROMISE_PRIORITY))
            for r in problem.requests
            if r.id in served
        ),
    )
    initial = {rt.vehicle_id: [(v.request_id, v.kind) for v in rt.visits] for rt in plan.routes}
    pinned: dict[str, str] = {}
    locked: dict[str, int] = {}
    for rt in plan.routes:
        k = locked_prefix(rt, now_s)
        locked[rt.vehicle_id] = k
        for v in rt.visits[:k]:
            pinned[v.request_id] = rt.vehicle_id
    params = SolverParams(
        time_limit_s=time_limit_s, seed=seed, first_solution="PARALLEL_CHEAPEST_INSERTION"
    )
    # With pins, drivers' breaks are left out of the OR-Tools model here and placed afterwards by
    # the exact timer: with break intervals, OR-Tools 9.15 reads the current routes
    # (ReadAssignmentFromRoutes, and CheckAssignment accepts them, times and breaks included) but
    # the search from them ends in ROUTING_FAIL (a complete search tree without a solution: the
    # break intervals' decision builder cannot complete the restored routes), so nothing came back
    # and the fallback first plan dropped every request. Without pins (nothing done yet) the
    # breaks stay: the engine's ALNS layer searches from the current routes with each break as a
    # floating stop and times its plan exactly with the breaks (SearchOptions.alns_breaks); a plan
    # searched without them lost the room for a break and was refused below.
    has_breaks = bool(pinned) and any(v.breaks for v in problem.vehicles)
    model_problem = (
        replace(solve_problem, vehicles=tuple(replace(v, breaks=()) for v in problem.vehicles))
        if has_breaks
        else solve_problem
    )
    new = make_solver(params).solve(model_problem, initial_routes=initial, pinned=pinned)
    status = _status_label(new)
    if set(new.served_ids) != served:
        return ReoptResult(
            plan,
            False,
            old_cost,
            None,
            f"{status}: would drop {len(served - set(new.served_ids))} promised request(s)",
            time.perf_counter() - t0,
        )
    if has_breaks:
        retimed = _retime_with_breaks(problem, plan, new.routes, now_s, pinned)
        if retimed is None:
            return ReoptResult(
                plan,
                False,
                old_cost,
                None,
                f"{status}: a new route leaves no room for its driver's break",
                time.perf_counter() - t0,
            )
        new = replace(new, routes=tuple(retimed))
    # keep the past exactly as it was (departures from the depot of vehicles already out)
    routes = []
    for rt in new.routes:
        old = plan.route(rt.vehicle_id)
        k = locked.get(rt.vehicle_id, 0)
        if (
            old is not None
            and k
            and [v.request_id for v in old.visits[:k]] == [v.request_id for v in rt.visits[:k]]
        ):
            rt = pin_prefix(rt, old, k)
        routes.append(rt)
    candidate = replace(
        plan,
        routes=tuple(routes),
        rejections=plan.rejections,
        kpis=compute_kpis(problem, routes, plan.rejections),
        stats=new.stats,
    )
    report = check_plan(problem, candidate)
    if not report.ok:
        return ReoptResult(
            plan,
            False,
            old_cost,
            None,
            f"{status}: failed the checker ({report.summary()[:200]})",
            time.perf_counter() - t0,
        )
    if now_s is not None:
        for rt in routes:
            old = plan.route(rt.vehicle_id)
            k = locked.get(rt.vehicle_id, 0)
            past_old = old.visits[:k] if old is not None else ()
            if tuple(rt.visits[:k]) != tuple(past_old) or any(
                v.start_s < now_s for v in rt.visits[k:]
            ):
                return ReoptResult(
                    plan,
                    False,
                    old_cost,
                    None,
                    f"{status}: would change the past",
                    time.perf_counter() - t0,
                )
        for old in plan.routes:
            if locked.get(old.vehicle_id, 0) and candidate.route(old.vehicle_id) is None:
                return ReoptResult(
                    plan,
                    False,
                    old_cost,
                    None,
                    f"{status}: would drop a route already driven",
                    time.perf_counter() - t0,
                )
    new_cost = plan_cost(problem, candidate)
    improved = new_cost < old_cost - min_gain_eur
    return ReoptResult(
        candidate if improved else plan,
        improved,
        old_cost,
        new_cost,
        status,
        time.perf_counter() - t0,
    )


def _status_label(plan: Plan) -> str:
    """The search's outcome with its detail, e.g. "solved (ROUTING_SUCCESS)"."""
    detail = plan.stats.status_detail
    return f"{plan.stats.status} ({detail})" if detail else str(plan.stats.status)


def _retime_with_breaks(
    problem: Problem,
    old_plan: Plan,
    routes: Sequence[Route],
    now_s: int | None,
    pinned: Mapping[str, str],
) -> list[Route] | None:
    """Every route timed exactly on its real vehicle (breaks placed near where they were, or near
    the search's times). A route that cannot take its breaks sheds requests (last picked up first)
    until it can; the shed requests are inserted again (:func:`find_insertion`) into the other
    routes or back into a route with room, a ``pinned`` one only on its vehicle. None if one of
    them finds no place."""
    byid = {r.id: r for r in problem.requests}
    out: list[Route] = []
    shed: list[str] = []
    for rt in routes:
        v = problem.vehicle(rt.vehicle_id)
        stops: list[Stop] = [(byid[x.request_id], x.kind) for x in rt.visits]
        old = old_plan.route(rt.vehicle_id)
        hint_breaks = (
            [b.start_s for b in sorted(old.breaks, key=lambda b: b.start_s)]
            if old is not None
            else None
        )
        hint = [rt.start_s, *(x.start_s for x in rt.visits), rt.end_s]
        timed = schedule_route(problem, v, stops, hint, hint_breaks) or schedule_route(
            problem, v, stops, hint, None
        )
        if timed is None:
            timed, removed = time_route(problem, v, stops, hint, hint_breaks)
            shed += removed
        if timed is not None and timed.visits:
            out.append(timed)
    if not shed:
        return out
    order = {veh.id: k for k, veh in enumerate(problem.vehicles)}
    partial = Plan(routes=tuple(sorted(out, key=lambda rt: order[rt.vehicle_id])))
    for rid in shed:
        only = {pinned[rid]} if rid in pinned else None
        ins = find_insertion(
            problem, partial, byid[rid], now_s=now_s, requests_by_id=byid, vehicle_ids=only
        )
        if ins is None:
            return None
        partial = ins.plan
    return list(partial.routes)


__all__ = ["ReoptResult", "plan_cost", "reoptimise"]
