"""The dial-a-ride model on OR-Tools routing, built from a Problem's node model
(:mod:`dispatcher.solver.node_model`: the nodes, matrices, windows, demands, penalties and costs
the ALNS layer is built from too; the search is in :mod:`dispatcher.solver.routing`).

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

from ortools.constraint_solver import pywrapcp

from dispatcher.model import Problem, Request, Vehicle
from dispatcher.solver.node_model import NO_LIMIT, NodeModel, compile_nodes
from dispatcher.solver.schedule import usable_breaks


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
    nodes: NodeModel  # the arrays the model is built from
    break_vars: dict[int, list[pywrapcp.IntervalVar]]

    @property
    def nv(self) -> int:
        return len(self.vehicles)

    def node(self, q: int, kind: str) -> int:
        return self.nodes.node(q, kind)

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
    nodes = compile_nodes(problem, requests, vehicles, rules.span_cost)
    manager = pywrapcp.RoutingIndexManager(nodes.n, nv, list(range(nv)), list(range(nv, 2 * nv)))
    routing = pywrapcp.RoutingModel(manager)
    _add_costs(vehicles, routing, nodes)
    tdim = _add_time(problem, vehicles, routing, nodes)
    _add_capacities(routing, nodes)
    m = DarpModel(problem, requests, vehicles, manager, routing, tdim, nodes, {})
    _add_requests(m, allowed_slots, rules)
    if rules.link_activity:
        _add_links(m)
    if pinned:
        _add_pins(m, pinned)
    m.break_vars = _add_breaks(m)
    return m


def _add_costs(
    vehicles: Sequence[Vehicle], routing: pywrapcp.RoutingModel, nodes: NodeModel
) -> None:
    """Arc costs per vehicle class, and fixed costs. One callback per vehicle cost class (per
    km, per hour, per passenger-km: with a span cost, vehicles whose hourly costs differ keep
    callbacks of their own, as their span costs differ)."""
    cost_cb: dict[tuple[float, float, float], int] = {}
    for s, v in enumerate(vehicles):
        key = (v.cost_per_km, v.cost_per_hour, v.cost_per_passenger_km)
        if key not in cost_cb:
            cost_cb[key] = routing.RegisterTransitMatrix(nodes.arc_cost(s).tolist())
        routing.SetArcCostEvaluatorOfVehicle(cost_cb[key], s)
        if v.fixed_cost > 0:
            routing.SetFixedCostOfVehicle(int(nodes.fixed[s]), s)


def _add_time(
    problem: Problem, vehicles: Sequence[Vehicle], routing: pywrapcp.RoutingModel, nodes: NodeModel
) -> pywrapcp.RoutingDimension:
    """The time dimension: shifts, start and end windows, duty spans, the hours on the span
    (with a span cost), balance cost."""
    H, nv = nodes.horizon_s, nodes.nv
    time_cb = routing.RegisterTransitMatrix(nodes.time.tolist())
    routing.AddDimension(time_cb, H, H, False, "time")
    tdim = routing.GetDimensionOrDie("time")
    for s, v in enumerate(vehicles):
        start, end = tdim.CumulVar(routing.Start(s)), tdim.CumulVar(routing.End(s))
        for var, k in ((start, s), (end, nv + s)):
            var.SetRange(v.shift.start_s, v.shift.end_s)
            lo, hi = int(nodes.lo[k]), int(nodes.hi[k])  # the shift met with the window
            var.SetRange(lo, max(lo, hi))
        if nodes.duty[s] != NO_LIMIT:  # max duty, and continuous driving without rests
            tdim.SetSpanUpperBoundForVehicle(int(nodes.duty[s]), s)
        routing.AddVariableMinimizedByFinalizer(end)
        routing.AddVariableMaximizedByFinalizer(start)
    if nodes.span_cost:  # the drivers' hours from leaving the depot to coming back, waiting too
        for s in range(nv):
            coef = int(round(float(nodes.span_w[s])))
            if coef > 0:
                tdim.SetSpanCostCoefficientForVehicle(coef, s)
    if nodes.balance_w > 0:
        tdim.SetGlobalSpanCostCoefficient(nodes.balance_w)
    return tdim


def _add_capacities(routing: pywrapcp.RoutingModel, nodes: NodeModel) -> None:
    seats, wheel = nodes.demand.tolist()
    seat_caps, wheel_caps = nodes.capacity.tolist()
    seats_cb = routing.RegisterUnaryTransitVector(seats)
    routing.AddDimensionWithVehicleCapacity(seats_cb, 0, seat_caps, True, "seats")
    if any(w for w in wheel):
        wheel_cb = routing.RegisterUnaryTransitVector(wheel)
        routing.AddDimensionWithVehicleCapacity(wheel_cb, 0, wheel_caps, True, "wheelchairs")


def _add_requests(m: DarpModel, allowed_slots: Sequence[Sequence[int]], rules: ModelRules) -> None:
    """Windows, pairs, ride-time limits, allowed vehicles and refusal penalties per request."""
    routing, manager, tdim, nodes = m.routing, m.manager, m.tdim, m.nodes
    solver = routing.solver()
    pair_limits: list[int] = []
    for q in range(len(m.requests)):
        p_node, d_node = m.node(q, "pickup"), m.node(q, "dropoff")
        pi, di = manager.NodeToIndex(p_node), manager.NodeToIndex(d_node)
        tdim.CumulVar(pi).SetRange(int(nodes.lo[p_node]), int(nodes.hi[p_node]))
        tdim.CumulVar(di).SetRange(int(nodes.lo[d_node]), int(nodes.hi[d_node]))
        routing.AddPickupAndDelivery(pi, di)
        if rules.hard_pairs:
            solver.Add(routing.VehicleVar(pi) == routing.VehicleVar(di))
            solver.Add(tdim.CumulVar(pi) <= tdim.CumulVar(di))
        limit = int(nodes.ride[q])
        if rules.hard_ride:
            solver.Add(tdim.CumulVar(di) - tdim.CumulVar(pi) <= limit)
        pair_limits.append(limit)
        slots = list(allowed_slots[q])
        if len(slots) < m.nv:
            # SetAllowedVehiclesForIndex takes an absl::Span that the 9.15 Python wrapper
            # cannot build; restricting the vehicle variable is the equivalent (-1: refused).
            routing.VehicleVar(pi).SetValues([-1, *slots])
            routing.VehicleVar(di).SetValues([-1, *slots])
        penalty = int(nodes.penalty[q])
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
        tdim.SetBreakIntervalsOfVehicle(ivs, s, m.nodes.service.tolist())
        if v.max_driving_s is not None and v.resting_breaks():
            # at most max_driving_s of the time dimension (elapsed time, not driving alone)
            # between the route's start, its breaks of at least driving_break_s and its end
            tdim.SetBreakDistanceDurationOfVehicle(v.max_driving_s, v.driving_break_s, s)
        for iv in ivs:
            routing.AddIntervalToAssignment(iv)
        break_vars[s] = ivs
    return break_vars
