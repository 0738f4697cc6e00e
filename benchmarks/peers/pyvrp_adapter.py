"""PyVRP 0.14 as a peer: the project's Problem as a PyVRP ``Model``, its best solution back as a
project Plan (timed by the model's conventions, judged by the project's checker).

Mapping. Every Problem location becomes a PyVRP location with the Problem's own integer
matrices as edges (``distance_m``, ``duration_s``). A request becomes a shipment (paired pickup
and delivery, new in PyVRP 0.14) with the windows ``problem.pickup_tw``/``dropoff_tw``
(service-hour clipped), boarding/alighting as service durations and ``[seats, wheelchairs]`` as
amount; when every request is picked up at the common depot (the VRPTW reading of Solomon's
instances) it becomes a plain delivery client instead. Vehicles with the same depots, shift,
capacity and costs form one vehicle type. Costs are integers in milli-euros: ``cost_per_km``
milli-euros per metre, ``cost_per_hour / 3.6`` per second, ``fixed_cost * 1000`` per vehicle.

Not expressed: ride-time limits (PyVRP has none: on DARP this is a relaxation, labelled as such
by the runner), drivers' breaks. Requests are required unless they cannot be served at all.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import TYPE_CHECKING

from benchmarks.peers import StopRef, build_plan, refuse_live
from dispatcher.model import Plan, Problem, SolverParams, SolverStats, SolveStatus
from dispatcher.solver import InitialRoutes, Pins
from dispatcher.solver.schedule import stop_window

if TYPE_CHECKING:
    import pyvrp

NAME = "pyvrp"


def is_depot_delivery(problem: Problem) -> bool:
    """True when every request is picked up, without boarding time, at the one depot every
    vehicle starts and ends at (a VRPTW read as requests): requests are then delivery clients."""
    depots = {v.start for v in problem.vehicles} | {v.end for v in problem.vehicles}
    if len(depots) != 1 or not problem.requests:
        return False
    depot = next(iter(depots))
    return all(r.pickup == depot and problem.boarding_s(r) == 0 for r in problem.requests)


def _amount(seats: int, wheelchairs: int, dims: int) -> list[int]:
    """A load in the model's ``dims`` dimensions (seats, then wheelchairs when any request has
    one)."""
    return [seats, wheelchairs][:dims]


def _add_fleet(
    m: pyvrp.Model, problem: Problem, locs: list[pyvrp.Location], dims: int
) -> list[list[str]]:
    """Add the depots and a vehicle type per group of vehicles alike (depots, shift, capacity,
    costs); the vehicle ids of each type, in the order of the types."""
    depot_of: dict[str, pyvrp.Depot] = {}
    for v in problem.vehicles:
        for lid in (v.start, v.end):
            if lid not in depot_of:
                depot_of[lid] = m.add_depot(locs[problem.index(lid)], name=lid)
    groups: dict[tuple[str, str, int, int, int, int, float, float, float], list[str]] = defaultdict(
        list
    )
    for v in problem.vehicles:
        key = (
            v.start,
            v.end,
            v.shift.start_s,
            v.shift.end_s,
            v.seats,
            v.wheelchairs,
            v.cost_per_km,
            v.cost_per_hour,
            v.fixed_cost,
        )
        groups[key].append(v.id)
    type_vehicles: list[list[str]] = []
    for key, ids in groups.items():
        start, end, e, lt, seats, wheel, per_km, per_h, fixed = key
        m.add_vehicle_type(
            num_available=len(ids),
            capacity=_amount(seats, wheel, dims),
            start_depot=depot_of[start],
            end_depot=depot_of[end],
            fixed_cost=round(fixed * 1000),
            tw_early=e,
            tw_late=lt,
            unit_distance_cost=round(per_km),
            unit_duration_cost=round(per_h / 3.6),
            name=",".join(ids),
        )
        type_vehicles.append(ids)
    return type_vehicles


def _add_requests(
    m: pyvrp.Model, problem: Problem, locs: list[pyvrp.Location], dims: int, delivery_only: bool
) -> list[str]:
    """Add each request as a shipment (a delivery client when ``delivery_only``); the ids of
    those added, in the model's order. A request without a pickup or drop-off window is left
    out: on no route, the plan refuses it."""
    req_ids: list[str] = []
    for r in problem.requests:
        ptw, dtw = stop_window(problem, r, "pickup"), stop_window(problem, r, "dropoff")
        if ptw is None or dtw is None:
            continue
        req_ids.append(r.id)
        if delivery_only:
            m.add_client(
                locs[problem.index(r.dropoff)],
                delivery=_amount(r.seats, r.wheelchairs, dims),
                service_duration=problem.alighting_s(r),
                tw_early=dtw.start_s,
                tw_late=dtw.end_s,
                name=r.id,
            )
        else:
            m.add_shipment(
                locs[problem.index(r.pickup)],
                locs[problem.index(r.dropoff)],
                pickup_tw_early=ptw.start_s,
                pickup_tw_late=ptw.end_s,
                pickup_service_duration=problem.boarding_s(r),
                delivery_tw_early=dtw.start_s,
                delivery_tw_late=dtw.end_s,
                delivery_service_duration=problem.alighting_s(r),
                amount=_amount(r.seats, r.wheelchairs, dims),
                name=r.id,
            )
    return req_ids


def _add_edges(m: pyvrp.Model, problem: Problem, locs: list[pyvrp.Location]) -> None:
    """Every pair of locations, with the Problem's own distance and duration."""
    n = len(locs)
    for i in range(n):
        for j in range(n):
            m.add_edge(
                locs[i],
                locs[j],
                distance=int(problem.distance_m[i][j]),
                duration=int(problem.duration_s[i][j]),
            )


def _route_orders(
    best: pyvrp.Solution,
    type_vehicles: list[list[str]],
    req_ids: list[str],
    delivery_only: bool,
) -> list[tuple[str, list[StopRef]]]:
    """The solution's routes as (vehicle id, stops), each route given the next vehicle of its
    type; a delivery client is picked up at the depot first."""
    orders: list[tuple[str, list[StopRef]]] = []
    used = [0] * len(type_vehicles)
    for route in best.routes():
        vt = route.vehicle_type()
        vid = type_vehicles[vt][used[vt]]
        used[vt] += 1
        stops: list[StopRef] = []
        for act in route:
            if act.is_depot():
                continue
            rid = req_ids[act.idx]
            if act.is_client():
                stops.append((rid, "dropoff"))
            else:
                stops.append((rid, "pickup" if act.is_pickup() else "dropoff"))
        if delivery_only:
            stops = [(rid, "pickup") for rid, _ in stops] + stops
        orders.append((vid, stops))
    return orders


class PyVRPSolver:
    """Implements ``dispatcher.solver.Solver`` with PyVRP's iterated local search."""

    name = NAME

    def __init__(self, params: SolverParams | None = None) -> None:
        self.params = params
        self.fallbacks = 0

    def solve(
        self,
        problem: Problem,
        *,
        initial_routes: InitialRoutes | None = None,
        pinned: Pins | None = None,
    ) -> Plan:
        refuse_live(NAME, initial_routes, pinned)
        import pyvrp
        from pyvrp.stop import MaxRuntime

        params = self.params or problem.params
        t0 = time.perf_counter()
        m = pyvrp.Model()
        locs = [m.add_location(loc.lon, loc.lat, name=loc.id) for loc in problem.locations]
        dims = 2 if any(r.wheelchairs for r in problem.requests) else 1
        type_vehicles = _add_fleet(m, problem, locs, dims)
        delivery_only = is_depot_delivery(problem)
        req_ids = _add_requests(m, problem, locs, dims, delivery_only)
        _add_edges(m, problem, locs)

        limit = params.effective_time_limit_s - (time.perf_counter() - t0)
        res = m.solve(MaxRuntime(max(0.05, limit)), seed=params.seed, display=False)
        orders = _route_orders(res.best, type_vehicles, req_ids, delivery_only)
        stats = SolverStats(
            status=SolveStatus.SOLVED if res.is_feasible() else SolveStatus.INFEASIBLE,
            objective=res.cost() / 1000.0 if res.is_feasible() else 0.0,
            first_solution_s=None,
            total_s=time.perf_counter() - t0,
            solver=NAME,
        )
        plan, self.fallbacks = build_plan(problem, orders, stats)
        return plan


__all__ = ["NAME", "PyVRPSolver", "is_depot_delivery"]
