"""The compiled arrays of a day's nodes: one model of the day for both searches. The OR-Tools
model (:mod:`dispatcher.solver.ortools_model`) registers its callbacks and dimensions from
them; the ALNS layer (:mod:`dispatcher.solver.alns`) packs its kernels' arrays from them.

Nodes: one start per vehicle slot, then one end per slot, then a pickup and a drop-off per
request (``2 * nv + 2 * q`` and ``+ 1``). Per node: its place's matrix index, its service time,
its seats and wheelchair changes, its window (a vehicle's start and end: its shift met with its
start and end windows; a request's stops: :func:`dispatcher.solver.schedule.stop_window`).
Between nodes: travel time (clipped to the horizon), distance (capped), the time matrix
(service at the from-node plus travel) and the arc costs per vehicle class (per km; per hour on
the time matrix unless the hours are charged on the route's span; per passenger-km of a
request's direct trip on the arcs leaving its pickup). Per request: its ride limit (boarding
plus the longest ride) and its refusal penalty. Per vehicle: capacities, fixed cost, duty limit
(:meth:`dispatcher.model.Vehicle.route_duration_limit_s`) and the hourly cost on its span.
Costs are integers in ``COST_SCALE`` units per euro.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dispatcher.model import Problem, Request, Vehicle
from dispatcher.solver.schedule import horizon_s, stop_service_s, stop_window

COST_SCALE = 100_000  # objective units per euro
MAX_DISTANCE_M = 10_000_000  # cap for unreachable pairs in cost matrices
NO_LIMIT = -1  # ``duty`` of a vehicle without a duty limit


@dataclass(frozen=True, eq=False)
class NodeModel:
    """The arrays of one day's nodes (see the module's docstring); built by :func:`compile_nodes`,
    never changed (the arrays are shared by the models built from it)."""

    nv: int  # vehicle slots
    nr: int  # requests
    horizon_s: int
    span_cost: bool  # the hours charged on each route's span (``span_w``), not on the arcs
    loc: np.ndarray  # (n,) matrix index of each node's place
    service: np.ndarray  # (n,) service seconds at each node
    demand: np.ndarray  # (2, n) seats and wheelchairs taken on (+) or left (-) at each node
    capacity: np.ndarray  # (2, nv) seats and wheelchair places per vehicle
    lo: np.ndarray  # (n,) earliest time at each node
    hi: np.ndarray  # (n,) latest (below ``lo`` for a vehicle whose windows do not meet)
    duration: np.ndarray  # (n, n) travel seconds, clipped to the horizon + 1
    distance: np.ndarray  # (n, n) metres, capped at MAX_DISTANCE_M
    time: np.ndarray  # (n, n) service at the from-node + travel
    cost: np.ndarray  # (classes, n, n) arc costs per vehicle class
    vclass: np.ndarray  # (nv,) each vehicle's cost class
    ride: np.ndarray  # (nr,) boarding + longest ride per request
    penalty: np.ndarray  # (nr,) refusal penalty per node of each request (a refusal costs two)
    fixed: np.ndarray  # (nv,) fixed cost of using each vehicle
    duty: np.ndarray  # (nv,) longest route per vehicle, or NO_LIMIT
    span_w: np.ndarray  # (nv,) cost per second of each route's span (zeros without span cost)
    balance_w: int  # cost per second of the global span (latest route end - earliest start)

    @property
    def n(self) -> int:
        return 2 * self.nv + 2 * self.nr

    def node(self, q: int, kind: str) -> int:
        """The node of request ``q``'s pickup or drop-off."""
        return 2 * self.nv + 2 * q + (kind == "dropoff")

    def arc_cost(self, s: int) -> np.ndarray:
        """Vehicle slot ``s``'s arc costs."""
        return np.asarray(self.cost[self.vclass[s]])


def compile_nodes(
    problem: Problem, requests: Sequence[Request], vehicles: Sequence[Vehicle], span_cost: bool
) -> NodeModel:
    """The node model of ``requests`` served by ``vehicles`` (model slots); ``span_cost``: the
    drivers' hours are charged on each route's span instead of on the arcs. Every request must
    have its two stop windows (feasible alone): ValueError otherwise."""
    nv, nr = len(vehicles), len(requests)
    H = horizon_s(problem)
    loc = [problem.index(v.start) for v in vehicles] + [problem.index(v.end) for v in vehicles]
    service = [0] * (2 * nv)
    seats, wheel = [0] * (2 * nv), [0] * (2 * nv)
    lo: list[int] = []
    hi: list[int] = []
    for which in ("start_window", "end_window"):  # the start nodes, then the end nodes
        for v in vehicles:
            a, b = v.shift.start_s, v.shift.end_s
            w = getattr(v, which)
            if w is not None:
                a, b = max(a, w.start_s), min(b, w.end_s)
            lo.append(a)
            hi.append(b)
    for r in requests:
        loc += [problem.index(r.pickup), problem.index(r.dropoff)]
        service += [stop_service_s(problem, r, "pickup"), stop_service_s(problem, r, "dropoff")]
        seats += [r.seats, -r.seats]
        wheel += [r.wheelchairs, -r.wheelchairs]
        for kind in ("pickup", "dropoff"):
            tw = stop_window(problem, r, kind)
            if tw is None:
                raise ValueError(f"request {r.id}: empty {kind} window (not feasible alone)")
            lo.append(tw.start_s)
            hi.append(tw.end_s)
    L = np.asarray(loc, dtype=np.int64)
    dur = np.minimum(np.asarray(problem.duration_s, dtype=np.int64), H + 1)[np.ix_(L, L)]
    dist = np.minimum(np.asarray(problem.distance_m, dtype=np.int64), MAX_DISTANCE_M)[np.ix_(L, L)]
    svc = np.asarray(service, dtype=np.int64)
    time_m = np.ascontiguousarray(dur + svc[:, None])
    cost, vclass = _arc_costs(problem, requests, vehicles, dist, time_m, span_cost)
    spans = [v.route_duration_limit_s() for v in vehicles]
    return NodeModel(
        nv=nv,
        nr=nr,
        horizon_s=H,
        span_cost=span_cost,
        loc=L,
        service=svc,
        demand=np.ascontiguousarray(np.array([seats, wheel], dtype=np.int64)),
        capacity=np.ascontiguousarray(
            np.array(
                [[v.seats for v in vehicles], [v.wheelchairs for v in vehicles]], dtype=np.int64
            )
        ),
        lo=np.asarray(lo, dtype=np.int64),
        hi=np.asarray(hi, dtype=np.int64),
        duration=dur,
        distance=dist,
        time=time_m,
        cost=cost,
        vclass=vclass,
        ride=np.asarray(
            [problem.boarding_s(r) + problem.max_ride_s(r) for r in requests], dtype=np.int64
        ),
        penalty=np.asarray(
            [
                round(problem.weights.refusal_penalty * r.priority * COST_SCALE / 2)
                for r in requests
            ],
            dtype=np.int64,
        ),
        fixed=np.array([round(v.fixed_cost * COST_SCALE) for v in vehicles], dtype=np.int64),
        duty=np.array([NO_LIMIT if x is None else x for x in spans], dtype=np.int64),
        span_w=np.array(
            [v.cost_per_hour * COST_SCALE / 3600.0 if span_cost else 0.0 for v in vehicles],
            dtype=np.float64,
        ),
        balance_w=int(round(problem.weights.balance_per_hour * COST_SCALE / 3600.0)),
    )


def _arc_costs(
    problem: Problem,
    requests: Sequence[Request],
    vehicles: Sequence[Vehicle],
    dist: np.ndarray,
    time_m: np.ndarray,
    span_cost: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """The arc cost matrices per vehicle class (vehicles alike in their per-km, hourly on the
    arcs and per-passenger-km costs share one), and each vehicle's class. A per-passenger-km
    cost (carpool incentive) is charged on the arcs leaving a pickup: passengers x direct km of
    that request."""
    nv = len(vehicles)
    pax_km = np.zeros(len(time_m), dtype=np.float64)
    for q, r in enumerate(requests):
        pax_km[2 * nv + 2 * q] = (
            (r.seats + r.wheelchairs) * problem.travel_m(r.pickup, r.dropoff) / 1000.0
        )
    classes: dict[tuple[float, float, float], int] = {}
    mats: list[np.ndarray] = []
    vclass = []
    for v in vehicles:
        hourly = 0.0 if span_cost else v.cost_per_hour  # (else on the span: ``span_w``)
        key = (v.cost_per_km, hourly, v.cost_per_passenger_km)
        if key not in classes:
            c = dist * (v.cost_per_km * COST_SCALE / 1000.0) + time_m * (
                hourly * COST_SCALE / 3600.0
            )
            if v.cost_per_passenger_km > 0:
                c = c + (pax_km * (v.cost_per_passenger_km * COST_SCALE))[:, None]
            classes[key] = len(mats)
            mats.append(np.rint(c).astype(np.int64))
        vclass.append(classes[key])
    n = len(time_m)
    stacked = np.stack(mats) if mats else np.zeros((0, n, n), dtype=np.int64)
    return np.ascontiguousarray(stacked), np.asarray(vclass, dtype=np.int64)


__all__ = ["COST_SCALE", "MAX_DISTANCE_M", "NO_LIMIT", "NodeModel", "compile_nodes"]
