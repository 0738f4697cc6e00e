"""One dispatch over the minibus fleet, volunteer drivers and carpool drivers together.

:func:`mixed_problem` compiles the three modes into one Problem: the operator's vehicles (kinds
``minibus``/``car``, priced per km and hour), one vehicle per volunteer and half-day (kind
``volunteer``, starting and ending at home, visiting only places within ``max_km_from_home``,
priced per km only) and one vehicle per carpool offer running that day (kind ``carpool``, see
:mod:`dispatcher.solver.carpool`, priced by the incentive per passenger-km of the riders' direct
trips). Every mode keeps the same promises: pickup windows, appointments, max ride time.

:func:`plan_mixed` plans the day:

* ``strategy="staged"`` (default): the carpool matcher first takes the riders who accept a
  carpool (most riders matched, least detour; its public cost, the incentive, is far below a
  minibus's marginal cost), then the OR-Tools model plans everyone left over the minibuses, the
  volunteers and the carpool drivers still free: riders not matched to a carpool fall to the
  minibus (or a volunteer), or are refused with a reason;
* ``strategy="joint"``: one OR-Tools model over every vehicle, each priced by its mode, so
  each request goes to whichever mode serves it at the lowest total public cost.

The plan states the mode of each route (``Route.mode``); its KPIs add the share of each mode,
the car-km avoided and the CO2 saved against each rider driving alone. Judge it with
``check_plan(mixed_problem(...), plan)``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from dispatcher.errors import InputError
from dispatcher.model import (
    HALF_DAYS,
    CarpoolOffer,
    Plan,
    Problem,
    Rejection,
    Request,
    Route,
    SolverParams,
    SolverStats,
    SolveStatus,
    Vehicle,
    VolunteerDriver,
)
from dispatcher.solver import SolverFactory, default_solver
from dispatcher.solver.carpool import match_carpool, with_offers
from dispatcher.solver.explain import linked_rejection
from dispatcher.solver.insertion import remove_from_plan
from dispatcher.solver.kpis import compute_kpis, route_mode
from dispatcher.solver.linked import settle_pair, stay_s

Strategy = Literal["staged", "joint"]


@dataclass(frozen=True)
class ModeCosts:
    """Public cost of each mode, in euros. ``None`` for the minibus keeps each vehicle's own
    ``cost_per_km``/``cost_per_hour``; a volunteer's own ``cost_per_km`` wins over the mode's."""

    minibus_per_km: float | None = None
    minibus_per_hour: float | None = None
    volunteer_per_km: float = 0.35
    carpool_per_passenger_km: float = 0.10

    def validate(self, where: str = "costs") -> None:
        for name in (
            "minibus_per_km",
            "minibus_per_hour",
            "volunteer_per_km",
            "carpool_per_passenger_km",
        ):
            v = getattr(self, name)
            if v is not None and not (
                isinstance(v, (int, float)) and v >= 0 and v == v and v != float("inf")
            ):
                raise InputError(f"must be a non-negative number, got {v!r}", f"{where}.{name}")


def volunteer_vehicles(
    volunteers: Sequence[VolunteerDriver], costs: ModeCosts = ModeCosts()
) -> list[Vehicle]:
    """One vehicle per volunteer and half-day (id ``<volunteer id>/<am|pm>``)."""
    out = []
    for k, d in enumerate(volunteers):
        d.validate(f"volunteers[{k}]")
        for h in dict.fromkeys(d.half_days):
            out.append(
                Vehicle(
                    id=f"{d.id}/{h}",
                    start=d.home,
                    end=d.home,
                    shift=HALF_DAYS[h],
                    seats=d.seats,
                    wheelchairs=d.wheelchairs,
                    cost_per_km=costs.volunteer_per_km if d.cost_per_km is None else d.cost_per_km,
                    cost_per_hour=0.0,
                    kind="volunteer",
                    name=d.name,
                    phone=d.phone,
                    home=d.home,
                    max_km_from_home=d.max_km_from_home,
                )
            )
    return out


def mixed_problem(
    problem: Problem,
    offers: Sequence[CarpoolOffer] = (),
    volunteers: Sequence[VolunteerDriver] = (),
    costs: ModeCosts = ModeCosts(),
) -> Problem:
    """``problem`` (its requests and operator fleet) with the volunteers and the carpool offers
    running on its day added as vehicles, every vehicle priced by its mode."""
    costs.validate()
    fleet: list[Vehicle] = []
    for v in problem.vehicles:
        if v.kind in ("minibus", "car"):
            v = replace(
                v,
                cost_per_km=v.cost_per_km if costs.minibus_per_km is None else costs.minibus_per_km,
                cost_per_hour=v.cost_per_hour
                if costs.minibus_per_hour is None
                else costs.minibus_per_hour,
            )
        elif v.kind == "carpool":
            v = replace(v, cost_per_passenger_km=costs.carpool_per_passenger_km)
        fleet.append(v)
    fleet += volunteer_vehicles(volunteers, costs)
    ids = [v.id for v in fleet]
    for k, d in enumerate(volunteers):
        try:
            problem.index(d.home)
        except KeyError:
            raise InputError(f"unknown location {d.home!r}", f"volunteers[{k}].home") from None
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise InputError(f"vehicle ids {sorted(dup)} appear twice", "volunteers")
    base = replace(problem, vehicles=tuple(fleet))
    return with_offers(base, offers, costs.carpool_per_passenger_km) if offers else base


def _with_modes(problem: Problem, routes: Sequence[Route]) -> list[Route]:
    return [replace(r, mode=route_mode(r, problem.vehicle(r.vehicle_id))) for r in routes]


def plan_mixed(
    problem: Problem,
    offers: Sequence[CarpoolOffer] = (),
    volunteers: Sequence[VolunteerDriver] = (),
    costs: ModeCosts = ModeCosts(),
    params: SolverParams | None = None,
    strategy: Strategy = "staged",
    make_solver: SolverFactory = default_solver,
) -> tuple[Problem, Plan]:
    """Plan the day over every mode; returns the mixed Problem (to check the plan against) and
    the Plan. ``params`` default to ``problem.params`` (the time limit bounds the routing part,
    by the engine ``make_solver`` builds; the carpool matcher gets at most a third of it for its
    integer programme)."""
    if strategy not in ("staged", "joint"):
        raise InputError(f"must be 'staged' or 'joint', got {strategy!r}", "strategy")
    t0 = time.perf_counter()
    mp = mixed_problem(problem, offers, volunteers, costs)
    params = params or problem.params
    carpoolers = [v for v in mp.vehicles if v.kind == "carpool"]
    if strategy == "joint" or not carpoolers:
        plan = make_solver(params).solve(mp)
        routes = _with_modes(mp, plan.routes)
        rejections: list[Rejection] = list(plan.rejections)
        status, detail = plan.stats.status, plan.stats.status_detail
    else:
        limit = params.effective_time_limit_s
        matched = match_carpool(mp, max_group=3, time_limit_s=max(1.0, limit / 3))
        carpooled, left_over = _linked_stages(mp, [m.route for m in matched.matches])
        taken = {v.request_id for rt in carpooled for v in rt.visits}
        busy = {rt.vehicle_id for rt in carpooled}
        rest = replace(
            mp, requests=left_over, vehicles=tuple(v for v in mp.vehicles if v.id not in busy)
        )
        left = max(0.5, limit - (time.perf_counter() - t0)) if limit > 0 else 0.0
        if rest.requests:
            sub = make_solver(replace(params, time_limit_s=left)).solve(rest)
        else:
            sub = Plan((), stats=SolverStats(status=SolveStatus.NO_REQUESTS))
        rejections = list(sub.rejections)
        # a carpooled half whose other half the rest of the fleet refused is refused too
        reasons = {j.request_id: j.reason for j in sub.rejections}
        for o, r in mp.linked_pairs():
            for half, other, role in ((o, r, "return"), (r, o, "outbound")):
                if half.id in taken and other.id in reasons:
                    carpooled = list(
                        remove_from_plan(mp, Plan(tuple(carpooled)), half.id, retime=False).routes
                    )
                    rejections.append(linked_rejection(half.id, other.id, role, reasons[other.id]))
        taken = {v.request_id for rt in carpooled for v in rt.visits}
        routes = _with_modes(mp, [rt for rt in carpooled if rt.visits]) + _with_modes(
            rest, sub.routes
        )
        # a plan as soon as the matcher or the routing of the rest found one
        found = (SolveStatus.SOLVED, SolveStatus.OPTIMAL)
        status = SolveStatus.SOLVED if taken or sub.stats.status in found else sub.stats.status
        sub_detail = sub.stats.status_detail or sub.stats.status.name
        detail = f"CARPOOL_{matched.plan.stats.status.name}+{sub_detail}"
    order = {r.id: k for k, r in enumerate(mp.requests)}
    rejections.sort(key=lambda j: order.get(j.request_id, len(order)))
    kpis = compute_kpis(mp, routes, rejections)
    stats = SolverStats(
        status=status,
        status_detail=detail,
        objective=kpis.cost_eur,
        total_s=time.perf_counter() - t0,
        solver=f"mixed-{strategy}",
    )
    return mp, Plan(routes=tuple(routes), rejections=tuple(rejections), kpis=kpis, stats=stats)


def _linked_stages(
    mp: Problem, carpooled: Sequence[Route]
) -> tuple[list[Route], tuple[Request, ...]]:
    """The carpool matches and the requests left for the rest of the fleet, with each linked trip
    (an outbound and its return) kept whole and in order across the two stages: a return
    carpooled before its carpooled outbound's drop-off and stay leaves its carpool; a half left
    for the fleet is linked to a carpooled half by its windows (a return picked up after the
    carpool's drop-off and the stay, an outbound arriving before the carpool's pickup less the
    stay) and stands alone in the fleet's sub-problem; when its windows cannot hold that, the
    carpooled half leaves its carpool too and the two go to the fleet, linked."""
    routes = list(carpooled)

    def times() -> dict[tuple[str, str], int]:
        return {(v.request_id, v.kind): v.start_s for rt in routes for v in rt.visits}

    def uncarpool(rid: str) -> None:  # the others keep their times: the bounds below hold
        nonlocal routes
        plan = remove_from_plan(mp, Plan(tuple(routes)), rid, retime=False)
        routes = [rt for rt in plan.routes if rt.visits]

    bounded: dict[str, Request] = {}
    for o, r in mp.linked_pairs():
        at = times()
        drop, pick = at.get((o.id, "dropoff")), at.get((r.id, "pickup"))
        if drop is not None and pick is not None:
            if pick < drop + stay_s(mp, o, r):
                uncarpool(r.id)
                pick = None
            else:
                continue
        if drop is not None:  # the outbound by carpool, the return by the fleet
            settled = settle_pair(mp, o, r, drop)
            if settled is None:
                uncarpool(o.id)
            else:
                bounded[r.id] = replace(settled[1], return_of=None)
        elif pick is not None:  # the return by carpool, the outbound by the fleet
            settled = settle_pair(mp, o, r, mp.dropoff_tw(o).start_s, pick)
            if settled is None:
                uncarpool(r.id)
            else:
                bounded[o.id] = settled[0]
    taken = {v.request_id for rt in routes for v in rt.visits}
    left = tuple(bounded.get(q.id, q) for q in mp.requests if q.id not in taken)
    return routes, left


def modes_of(plan: Plan) -> dict[str, str]:
    """Request id -> mode ("minibus", "volunteer", "carpool") or "refused"."""
    out = {j.request_id: "refused" for j in plan.rejections}
    for route in plan.routes:
        for v in route.visits:
            out[v.request_id] = route.mode or "minibus"
    return out


__all__ = ["ModeCosts", "Strategy", "mixed_problem", "modes_of", "plan_mixed", "volunteer_vehicles"]
