"""The dial-a-ride model on OR-Tools routing, built from a Problem (the search is in
:mod:`dispatcher.solver.routing`).

Nodes: one start and one end per vehicle slot, then a pickup and a drop-off per request
(``2 * nv + 2 * q`` and ``+ 1``). A time dimension (transit = service at the from-node + travel,
waiting allowed) with the windows clipped to the service hours; seats and wheelchair dimensions;
pickup-and-delivery pairs with the ride-time limit as a hard constraint on the cumuls (and the
pair limit function to guide the search filters); allowed vehicles per request; drivers' breaks as
fixed-duration intervals inside the route and their duty limits; every request optional behind a
refusal penalty. Costs are integers in ``COST_SCALE`` units per euro.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from ortools.constraint_solver import pywrapcp

from dispatcher.model import Problem, Request, Vehicle
from dispatcher.solver.schedule import horizon_s, stop_service_s, stop_window, usable_breaks

COST_SCALE = 100_000  # objective units per euro
MAX_DISTANCE_M = 10_000_000  # cap for unreachable pairs in cost matrices


@dataclass(frozen=True)
class ModelRules:
    """Which rules the model states as CP constraints beyond OR-Tools' own (see
    :class:`dispatcher.solver.routing.SearchOptions`)."""

    pair_disjunction: bool = False
    hard_ride: bool = True
    hard_pairs: bool = True
    link_activity: bool = False
    span_cost: bool = False


@dataclass
class DarpModel:
    """A built model: the OR-Tools objects and what maps them back to the problem."""

    problem: Problem
    requests: Sequence[Request]
    vehicles: Sequence[Vehicle]  # per model slot
    manager: pywrapcp.RoutingIndexManager
    routing: pywrapcp.RoutingModel
    tdim: pywrapcp.RoutingDimension
    arc_cost: list[np.ndarray]  # per vehicle slot: its arc costs, model units
    break_vars: dict[int, list[pywrapcp.IntervalVar]]
    service: list[int]  # service time per node

    @property
    def nv(self) -> int:
        return len(self.vehicles)

    def node(self, q: int, kind: str) -> int:
        return 2 * self.nv + 2 * q + (kind == "dropoff")

    def node_of(self) -> dict[tuple[str, str], int]:
        """(request id, "pickup"|"dropoff") -> node."""
        return {
            (r.id, kind): self.node(q, kind)
            for q, r in enumerate(self.requests)
            for kind in ("pickup", "dropoff")
        }

    def stop_of(self, node: int) -> tuple[Request, str]:
        q, is_drop = divmod(node - 2 * self.nv, 2)
        return self.requests[q], "dropoff" if is_drop else "pickup"

    def start_nodes(self, initial: Mapping[str, Sequence[tuple[str, str]]]) -> list[list[int]]:
        """Initial routes (vehicle id -> visits) as nodes per slot (visits of requests out of
        the model left out)."""
        node_of = self.node_of()
        return [
            [node_of[st] for st in initial.get(v.id, ()) if st in node_of] for v in self.vehicles
        ]

    def start_routes(self, initial: Mapping[str, Sequence[tuple[str, str]]]) -> list[list[int]]:
        """Initial routes (vehicle id -> visits) as routing indices per slot."""
        return [[self.manager.NodeToIndex(n) for n in nodes] for nodes in self.start_nodes(initial)]

    def read_routes(self, sol: pywrapcp.Assignment) -> tuple[list[list[int]], list[list[int]]]:
        """The node routes of a solution per slot, and the time cumuls along each (start, each
        visit, end) as hints for the schedule."""
        routing, manager, tdim = self.routing, self.manager, self.tdim
        node_routes: list[list[int]] = []
        hints: list[list[int]] = []
        for s in range(self.nv):
            idx = routing.Start(s)
            nodes: list[int] = []
            hint = [sol.Min(tdim.CumulVar(idx))]
            idx = sol.Value(routing.NextVar(idx))
            while not routing.IsEnd(idx):
                nodes.append(manager.IndexToNode(idx))
                hint.append(sol.Min(tdim.CumulVar(idx)))
                idx = sol.Value(routing.NextVar(idx))
            hint.append(sol.Min(tdim.CumulVar(idx)))
            node_routes.append(nodes)
            hints.append(hint)
        return node_routes, hints

    def break_starts(self, sol: pywrapcp.Assignment | None, s: int) -> list[int | None]:
        if sol is None:
            return []
        return [sol.StartValue(iv) for iv in self.break_vars.get(s, [])]


def build_model(
    problem: Problem,
    requests: Sequence[Request],
    vehicles: Sequence[Vehicle],
    allowed_slots: Sequence[Sequence[int]],
    rules: ModelRules,
    pinned: Mapping[str, str] | None = None,
) -> DarpModel:
    """The model of ``requests`` on ``vehicles`` (model slots); ``allowed_slots[q]``: the slots
    that may serve request ``q``; ``pinned``: request id -> vehicle id it must stay on."""
    nv = len(vehicles)
    loc, service, seats, wheel = _nodes(problem, requests, vehicles)
    manager = pywrapcp.RoutingIndexManager(len(loc), nv, list(range(nv)), list(range(nv, 2 * nv)))
    routing = pywrapcp.RoutingModel(manager)
    H = horizon_s(problem)
    L = np.asarray(loc, dtype=np.int64)
    dur = np.minimum(np.asarray(problem.duration_s, dtype=np.int64), H + 1)[np.ix_(L, L)]
    dist = np.minimum(np.asarray(problem.distance_m, dtype=np.int64), MAX_DISTANCE_M)[np.ix_(L, L)]
    time_m = dur + np.asarray(service, dtype=np.int64)[:, None]
    arc_cost = _add_costs(problem, requests, vehicles, routing, dist, time_m, rules.span_cost)
    tdim = _add_time(problem, vehicles, routing, time_m, H)
    if rules.span_cost:  # the drivers' hours from leaving the depot to coming back, waiting too
        for s, v in enumerate(vehicles):
            coef = int(round(v.cost_per_hour * COST_SCALE / 3600.0))
            if coef > 0:
                tdim.SetSpanCostCoefficientForVehicle(coef, s)
    _add_capacities(vehicles, routing, seats, wheel)
    m = DarpModel(problem, requests, vehicles, manager, routing, tdim, arc_cost, {}, service)
    _add_requests(m, allowed_slots, rules)
    if rules.link_activity:
        _add_links(m)
    if pinned:
        _add_pins(m, pinned)
    m.break_vars = _add_breaks(m)
    return m


def _nodes(
    problem: Problem, requests: Sequence[Request], vehicles: Sequence[Vehicle]
) -> tuple[list[int], list[int], list[int], list[int]]:
    """Per node: its place's matrix index, service time, seats and wheelchair changes."""
    nv = len(vehicles)
    loc = [problem.index(v.start) for v in vehicles] + [problem.index(v.end) for v in vehicles]
    service, seats, wheel = [0] * (2 * nv), [0] * (2 * nv), [0] * (2 * nv)
    for r in requests:
        loc += [problem.index(r.pickup), problem.index(r.dropoff)]
        service += [stop_service_s(problem, r, "pickup"), stop_service_s(problem, r, "dropoff")]
        seats += [r.seats, -r.seats]
        wheel += [r.wheelchairs, -r.wheelchairs]
    return loc, service, seats, wheel


def _add_costs(
    problem: Problem,
    requests: Sequence[Request],
    vehicles: Sequence[Vehicle],
    routing: pywrapcp.RoutingModel,
    dist: np.ndarray,
    time_m: np.ndarray,
    span_cost: bool = False,
) -> list[np.ndarray]:
    """Arc costs per vehicle class (and fixed costs); returns each slot's cost matrix. A
    per-passenger-km cost (carpool incentive) is charged on the arcs leaving a pickup:
    passengers x direct km of that request."""
    nv = len(vehicles)
    pax_km = np.zeros(len(time_m), dtype=np.float64)
    for q, r in enumerate(requests):
        pax_km[2 * nv + 2 * q] = (
            (r.seats + r.wheelchairs) * problem.travel_m(r.pickup, r.dropoff) / 1000.0
        )
    cost_cb: dict[tuple[float, float, float], int] = {}
    cost_mat: dict[tuple[float, float, float], np.ndarray] = {}
    arc_cost: list[np.ndarray] = []
    for s, v in enumerate(vehicles):
        key = (v.cost_per_km, v.cost_per_hour, v.cost_per_passenger_km)
        if key not in cost_cb:
            c = dist * (v.cost_per_km * COST_SCALE / 1000.0)
            if not span_cost:  # (with a span cost the hours are charged on the route's span)
                c = c + time_m * (v.cost_per_hour * COST_SCALE / 3600.0)
            if v.cost_per_passenger_km > 0:
                c = c + (pax_km * (v.cost_per_passenger_km * COST_SCALE))[:, None]
            cost_mat[key] = np.rint(c).astype(np.int64)
            cost_cb[key] = routing.RegisterTransitMatrix(cost_mat[key].tolist())
        arc_cost.append(cost_mat[key])
        routing.SetArcCostEvaluatorOfVehicle(cost_cb[key], s)
        if v.fixed_cost > 0:
            routing.SetFixedCostOfVehicle(int(round(v.fixed_cost * COST_SCALE)), s)
    return arc_cost


def _add_time(
    problem: Problem,
    vehicles: Sequence[Vehicle],
    routing: pywrapcp.RoutingModel,
    time_m: np.ndarray,
    H: int,
) -> pywrapcp.RoutingDimension:
    """The time dimension: shifts, start and end windows, duty spans, balance cost."""
    time_cb = routing.RegisterTransitMatrix(time_m.tolist())
    routing.AddDimension(time_cb, H, H, False, "time")
    tdim = routing.GetDimensionOrDie("time")
    for s, v in enumerate(vehicles):
        start, end = tdim.CumulVar(routing.Start(s)), tdim.CumulVar(routing.End(s))
        start.SetRange(v.shift.start_s, v.shift.end_s)
        end.SetRange(v.shift.start_s, v.shift.end_s)
        for var, window in ((start, v.start_window), (end, v.end_window)):
            if window is not None:
                lo = max(v.shift.start_s, window.start_s)
                hi = min(v.shift.end_s, window.end_s)
                var.SetRange(lo, max(lo, hi))
        span = v.route_duration_limit_s()  # max duty, and continuous driving without rests
        if span is not None:
            tdim.SetSpanUpperBoundForVehicle(span, s)
        routing.AddVariableMinimizedByFinalizer(end)
        routing.AddVariableMaximizedByFinalizer(start)
    if problem.weights.balance_per_hour > 0:
        tdim.SetGlobalSpanCostCoefficient(
            int(round(problem.weights.balance_per_hour * COST_SCALE / 3600.0))
        )
    return tdim


def _add_capacities(
    vehicles: Sequence[Vehicle], routing: pywrapcp.RoutingModel, seats: list[int], wheel: list[int]
) -> None:
    seats_cb = routing.RegisterUnaryTransitVector(seats)
    routing.AddDimensionWithVehicleCapacity(seats_cb, 0, [v.seats for v in vehicles], True, "seats")
    if any(w for w in wheel):
        wheel_cb = routing.RegisterUnaryTransitVector(wheel)
        routing.AddDimensionWithVehicleCapacity(
            wheel_cb, 0, [v.wheelchairs for v in vehicles], True, "wheelchairs"
        )


def _add_requests(m: DarpModel, allowed_slots: Sequence[Sequence[int]], rules: ModelRules) -> None:
    """Windows, pairs, ride-time limits, allowed vehicles and refusal penalties per request."""
    problem, routing, manager, tdim = m.problem, m.routing, m.manager, m.tdim
    solver = routing.solver()
    pair_limits: list[int] = []
    for q, r in enumerate(m.requests):
        pi = manager.NodeToIndex(m.node(q, "pickup"))
        di = manager.NodeToIndex(m.node(q, "dropoff"))
        ptw, dtw = stop_window(problem, r, "pickup"), stop_window(problem, r, "dropoff")
        assert ptw is not None and dtw is not None  # guaranteed by the feasible-alone filter
        tdim.CumulVar(pi).SetRange(ptw.start_s, ptw.end_s)
        tdim.CumulVar(di).SetRange(dtw.start_s, dtw.end_s)
        routing.AddPickupAndDelivery(pi, di)
        if rules.hard_pairs:
            solver.Add(routing.VehicleVar(pi) == routing.VehicleVar(di))
            solver.Add(tdim.CumulVar(pi) <= tdim.CumulVar(di))
        limit = problem.boarding_s(r) + problem.max_ride_s(r)
        if rules.hard_ride:
            solver.Add(tdim.CumulVar(di) - tdim.CumulVar(pi) <= limit)
        pair_limits.append(limit)
        slots = list(allowed_slots[q])
        if len(slots) < m.nv:
            # SetAllowedVehiclesForIndex takes an absl::Span that the 9.15 Python wrapper
            # cannot build; restricting the vehicle variable is the equivalent (-1: refused).
            routing.VehicleVar(pi).SetValues([-1, *slots])
            routing.VehicleVar(di).SetValues([-1, *slots])
        penalty = refusal_penalty(problem, r)
        if rules.pair_disjunction:
            routing.AddDisjunction([pi, di], 2 * penalty, 2)
        else:
            routing.AddDisjunction([pi], penalty)
            routing.AddDisjunction([di], penalty)
        routing.AddVariableMaximizedByFinalizer(tdim.CumulVar(pi))
        routing.AddVariableMinimizedByFinalizer(tdim.CumulVar(di))
    # The hard constraint above is what makes plans right; the limit function tells the
    # search filters about it (measured: 5x faster first plans on 400 requests).
    for q, limit in enumerate(pair_limits):
        tdim.SetPickupToDeliveryLimitFunctionForPair(lambda a, b, _l=limit: _l, q)


def refusal_penalty(problem: Problem, r: Request) -> int:
    """The model's penalty per node of a refused request (model units)."""
    return int(round(problem.weights.refusal_penalty * r.priority * COST_SCALE / 2))


def _add_links(m: DarpModel) -> None:
    """Linked trips: the outbound and its return performed both or neither (their order is in
    the windows: dispatcher.solver.linked)."""
    solver = m.routing.solver()
    q_of = {r.id: q for q, r in enumerate(m.requests)}
    for o, back in m.problem.linked_pairs():
        if o.id in q_of and back.id in q_of:
            a = m.manager.NodeToIndex(m.node(q_of[o.id], "pickup"))
            b = m.manager.NodeToIndex(m.node(q_of[back.id], "pickup"))
            solver.Add(m.routing.ActiveVar(a) == m.routing.ActiveVar(b))


def _add_pins(m: DarpModel, pinned: Mapping[str, str]) -> None:
    """Live re-optimisation: done and on-board requests stay on their vehicle."""
    slot_by_id = {v.id: s for s, v in enumerate(m.vehicles)}
    for q, r in enumerate(m.requests):
        if r.id in pinned and pinned[r.id] in slot_by_id:
            for kind in ("pickup", "dropoff"):
                m.routing.VehicleVar(m.manager.NodeToIndex(m.node(q, kind))).SetValues(
                    [-1, slot_by_id[pinned[r.id]]]
                )


def _add_breaks(m: DarpModel) -> dict[int, list[pywrapcp.IntervalVar]]:
    """Breaks, inside the route of their vehicle, in order; continuous driving between them."""
    routing, tdim = m.routing, m.tdim
    solver = routing.solver()
    break_vars: dict[int, list[pywrapcp.IntervalVar]] = {}
    for s, v in enumerate(m.vehicles):
        brks = usable_breaks(v) or ()
        if not brks:
            continue
        ivs = []
        for j, b in enumerate(brks):
            iv = solver.FixedDurationIntervalVar(
                b.window.start_s,
                b.window.end_s - b.duration_s,
                b.duration_s,
                False,
                f"break_{v.id}_{j}",
            )
            solver.Add(iv.StartExpr() >= tdim.CumulVar(routing.Start(s)))
            solver.Add(iv.EndExpr() <= tdim.CumulVar(routing.End(s)))
            ivs.append(iv)
        for a, b2 in zip(ivs, ivs[1:], strict=False):
            solver.Add(b2.StartExpr() >= a.EndExpr())
        tdim.SetBreakIntervalsOfVehicle(ivs, s, m.service)
        if v.max_driving_s is not None and v.resting_breaks():
            # at most max_driving_s of the time dimension (elapsed time, not driving alone)
            # between the route's start, its breaks of at least driving_break_s and its end
            tdim.SetBreakDistanceDurationOfVehicle(v.max_driving_s, v.driving_break_s, s)
        for iv in ivs:
            routing.AddIntervalToAssignment(iv)
        break_vars[s] = ivs
    return break_vars
