"""The OR-Tools dial-a-ride model: Problem in, Plan out.

One start and one end node per vehicle, one pickup and one drop-off node per request; a time
dimension (transit = service at the from-node + travel, waiting allowed) with the windows of
the Problem clipped to the service hours; seats and wheelchair dimensions; pickup-and-delivery
pairs on the same vehicle with the pickup first and the ride-time limit as a hard constraint on
the cumuls (with the pair limit function to guide the search filters); allowed vehicles per
request (capacity, wheelchairs, and whether the vehicle can serve the request alone at all);
drivers' breaks as fixed-duration intervals inside the route, and their duty limits (the span
of the route; continuous driving between breaks, in elapsed time); every request optional behind a
refusal penalty (both nodes of a pair share it), which also keeps the first-solution heuristics
from dead-ending. Costs are integers in 1e-5 euro.

The search only decides who serves what in which order. Service times are then rebuilt route by
route by ``dispatcher.solver.schedule`` (delaying pickups so passengers ride less), and every
refused request gets its reason from ``dispatcher.solver.explain``. The solver never judges its
own plans: ``dispatcher.solver.checker.check_plan`` does.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2
from ortools.util import optional_boolean_pb2

from dispatcher.model import (
    Plan,
    Problem,
    Rejection,
    Request,
    Route,
    SolverParams,
    SolverStats,
    SolveStatus,
    Vehicle,
)
from dispatcher.solver import InitialRoutes, Pins, default_solver
from dispatcher.solver.explain import explain_rejections
from dispatcher.solver.kpis import compute_kpis
from dispatcher.solver.linked import drop_orphans, units
from dispatcher.solver.ortools_names import check_names
from dispatcher.solver.route_elimination import eliminate_routes
from dispatcher.solver.schedule import (
    RouteTimer,
    Stop,
    feasible_alone,
    horizon_s,
    stop_service_s,
    stop_window,
    usable_breaks,
)

log = logging.getLogger(__name__)

COST_SCALE = 100_000  # objective units per euro
EXPLAIN_S_PER_VEHICLE = 1e-4  # explaining one refusal takes about this much per vehicle (bound)
QUICK_FIRST_SOLUTION = "LOCAL_CHEAPEST_INSERTION"  # when the time is short for the day's size
MAX_DISTANCE_M = 10_000_000  # cap for unreachable pairs in cost matrices


@dataclass(frozen=True)
class SearchOptions:
    """How the OR-Tools model is built and searched, beyond :class:`SolverParams` (measured on
    the Cordeau and Li & Lim sets, see benchmarks/results/; the defaults are the best found).

    ``pair_disjunction``: one refusal disjunction per request (pickup and drop-off together)
    instead of one per node. ``hard_ride``: the ride-time limit also as a CP constraint on the
    cumuls (the pair limit function alone guides the filters; the schedule and the checker
    judge the result either way). ``hard_pairs``: same vehicle and pickup first also as CP
    constraints (AddPickupAndDelivery already imposes both). ``gls_lambda``: guided local
    search's penalty coefficient.
    ``full_propagation``: propagate every constraint on each local search move. ``lns``: add
    OR-Tools' path/inactive LNS operators. ``first_solution``: overrides the params' heuristic
    when set. ``reinsert``: after the search, try to insert each refused request that is
    feasible alone with :func:`dispatcher.solver.insertion.find_insertion`. ``portfolio``: when
    the time limit is at least ``portfolio_min_s``, the search runs from each of these
    first-solution heuristics in turn (the params' own first), the time shared equally, and the
    cheapest plan wins; not for live re-optimisation (initial routes or pins).
    ``alns_min_s``: the ALNS layer (``SolverParams.refinement``: "alns" hands the OR-Tools plan
    to :mod:`dispatcher.solver.alns` for ``SolverParams.alns_share`` of the time limit;
    OR-Tools gets the rest, the portfolio running in it when that rest is at least
    ``portfolio_min_s``) runs when its model is exact for the day (no breaks, no balance cost,
    no initial routes or pins), numba is installed and the time limit is at least this (below,
    the kernels' loading in a new process and OR-Tools' shorter share cost more than the layer
    gains).
    ``greedy_min_requests``: from this many requests on, the exact greedy insertion
    (:func:`_greedy_plan`, anytime: it stops at the end of the search's time, refusing what it
    has not reached) makes a plan before OR-Tools searches, so that a plan exists whatever
    happens to OR-Tools' first-solution heuristic in the time left (``PARALLEL_CHEAPEST_INSERTION``
    takes 7-11 s on 400 requests; cut short, it leaves nothing); the cheaper of the two plans
    wins. Below it, the greedy insertion only runs if OR-Tools found nothing. When such a large
    day's search has less than ``quick_start_s`` per request left, OR-Tools starts from
    ``LOCAL_CHEAPEST_INSERTION`` (about 6 times faster on those days) without a portfolio.
    OR-Tools cannot start its search from the greedy plan: with breaks, restoring such an
    assignment fails on large days (as it does from its own first solutions).
    ``kernel_wait_s``: how long a solve waits at most for the ALNS layer's kernels to
    load from numba's cache (never while they are being compiled; see
    :mod:`dispatcher.solver.alns_gate`); without them OR-Tools gets the whole time.
    ``link_activity``: the two halves of a linked trip performed both or neither as a CP
    constraint on their pickups' activity; off by default: on a congested day (150 requests,
    4 vehicles, 10 s) it kept the first-solution heuristics from finding a plan in time (a first
    plan after 68 s, fewer served: ``benchmarks/results/linked_trips.md``), and the rule holds
    without it: a half the search leaves alone gets its other half re-inserted, or is refused,
    and the room it leaves goes to the others (re-insertion once more).
    ``eliminate_share``: when vehicles have a fixed cost, this share of the time limit goes to
    emptying routes afterwards
    (:func:`dispatcher.solver.route_elimination.eliminate_routes`); off by default: on the 8
    Li & Lim instances at 30 s it emptied no route (greedy re-insertion is too weak there) and
    only took time from the search. ``stall_share``: a portfolio stage
    (all but the last) ends once it has not improved for this share of the time limit.
    """

    pair_disjunction: bool = False
    hard_ride: bool = True
    hard_pairs: bool = True
    gls_lambda: float | None = None
    full_propagation: bool = False
    lns: bool = False
    first_solution: str | None = None
    reinsert: bool = True
    portfolio: tuple[str, ...] = (
        "PARALLEL_CHEAPEST_INSERTION",
        "LOCAL_CHEAPEST_INSERTION",
        "PATH_CHEAPEST_ARC",
    )
    portfolio_min_s: float = 5.0
    stall_share: float = 0.1
    eliminate_share: float = 0.0
    neighbors_ratio: float = 1.0
    min_neighbors: int = 1
    alns_min_s: float = 2.0
    greedy_min_requests: int = 100
    quick_start_s: float = 0.02
    kernel_wait_s: float = 2.0
    link_activity: bool = False


@dataclass
class SearchTrace:
    """What the last search did: (seconds since the solve began, objective in euros) for the first
    solution and each improvement, and where the time went."""

    solutions: list[tuple[float, float]] = field(default_factory=list)
    build_s: float = 0.0
    search_s: float = 0.0
    schedule_s: float = 0.0
    explain_s: float = 0.0
    modelled: int = 0
    skipped: int = 0
    unschedulable: int = 0
    alns_iterations: int = 0


def _status_name(code: int) -> str:
    try:
        return str(routing_enums_pb2.RoutingSearchStatus.Value.Name(code))
    except ValueError:
        return f"STATUS_{code}"


def _explain(problem: Problem, refused: Sequence[str], plan: Plan | None) -> list[Rejection]:
    """Reasons for the refused requests, from the independent explainer, in problem order."""
    if not refused:
        return []
    out = explain_rejections(problem, list(refused), plan)
    order = {rid: k for k, rid in enumerate(r.id for r in problem.requests)}
    return sorted(out, key=lambda j: order.get(j.request_id, len(order)))


class OrToolsSolver:
    """The dial-a-ride model on OR-Tools routing, implementing :class:`dispatcher.solver.Solver`
    (build it through :func:`dispatcher.solver.default_solver`; tests and experiments build it
    directly to set :class:`SearchOptions` or read its :class:`SearchTrace`)."""

    def __init__(
        self, params: SolverParams | None = None, options: SearchOptions | None = None
    ) -> None:
        self.params = params
        self.options = options or SearchOptions()
        self.trace = SearchTrace()

    # ------------------------------------------------------------------------------------------
    def solve(  # noqa: C901 (to split next: issue 13)
        self,
        problem: Problem,
        *,
        initial_routes: InitialRoutes | None = None,
        pinned: Pins | None = None,
    ) -> Plan:
        """Plan ``problem``. Optional, for re-optimising a live day: ``initial_routes`` (vehicle id
        -> its (request id, "pickup"|"dropoff") visits) is the first solution the search starts
        from; ``pinned`` (request id -> vehicle id) keeps requests on their vehicle."""
        t0 = time.perf_counter()
        params = self.params or problem.params
        check_names(params)
        trace = self.trace = SearchTrace()
        if self._alns_applies(problem, params, problem.vehicles, False, initial_routes, pinned):
            from dispatcher.solver import alns_gate

            alns_gate.start()  # the kernels load (or compile elsewhere) while the model is built

        # Vehicles that can work at all (breaks fit in the shift) and, per request, the vehicles
        # able to serve it alone. Requests nobody can serve alone stay out of the model.
        vehicles = [k for k, v in enumerate(problem.vehicles) if usable_breaks(v) is not None]
        allowed: dict[str, list[int]] = {}
        cache: dict[tuple[object, ...], bool] = {}
        for r in problem.requests:
            ok = []
            for k in vehicles:
                v = problem.vehicles[k]
                key = (
                    r.id,
                    v.start,
                    v.end,
                    v.shift,
                    usable_breaks(v),
                    v.seats >= r.seats,
                    v.wheelchairs >= r.wheelchairs,
                    v.kind,
                    v.max_duration_s,
                    v.max_driving_s,
                    v.driving_break_s,
                    v.start_window,
                    v.end_window,
                    v.allowed_stops,
                    v.home,
                    v.max_km_from_home,
                )
                if key not in cache:
                    cache[key] = feasible_alone(problem, r, v)
                if cache[key]:
                    ok.append(k)
            allowed[r.id] = ok
        for o, back in problem.linked_pairs():  # both halves or neither: in the model, or out
            if not allowed[o.id] or not allowed[back.id]:
                allowed[o.id] = allowed[back.id] = []
        modelled = [r for r in problem.requests if allowed[r.id]]
        skipped = [r.id for r in problem.requests if not allowed[r.id]]
        trace.modelled, trace.skipped = len(modelled), len(skipped)

        status = SolveStatus.NOTHING_FEASIBLE
        if not problem.requests:
            status = SolveStatus.NO_REQUESTS
        elif not vehicles:
            status = SolveStatus.NO_VEHICLES
        detail = ""  # OR-Tools' status, and what happened around it
        routes: list[Route] = []
        refused: list[str] = list(skipped)
        objective = 0.0
        if modelled and vehicles:
            # Only vehicles that can serve someone alone enter the model: one that can serve
            # nobody may not even be able to stay unused there (breaks its duty limits cannot
            # fit, for one), which would leave the whole model without a solution.
            useful = sorted({k for ks in allowed.values() for k in ks})
            status, detail, routes, dropped, objective = self._search(
                problem, params, modelled, useful, allowed, t0, initial_routes, pinned
            )
            # re-insertion within the time limit, leaving the time to explain who stays refused
            per_refusal = EXPLAIN_S_PER_VEHICLE * len(problem.vehicles)
            deadline = t0 + params.effective_time_limit_s - per_refusal * len(dropped)
            if params.effective_time_limit_s <= 0:
                deadline = math.inf  # a first plan only: no time limit
            if dropped and self.options.reinsert and not pinned:
                routes, dropped, objective = _reinsert(
                    problem, routes, dropped, objective, deadline
                )
            # a linked trip is served both or neither: OR-Tools searches without the rule (see
            # SearchOptions.link_activity), so a half it left alone whose other half the
            # re-insertion above could not place (or a route that could not be timed) is
            # refused too
            kept, orphans = drop_orphans(problem, routes)
            if orphans:
                detail += "_LINKED_DROPPED"
                objective += compute_kpis(problem, kept, []).cost_eur
                objective -= compute_kpis(problem, routes, []).cost_eur
                objective += sum(
                    problem.weights.refusal_penalty * problem.request(rid).priority
                    for rid in orphans
                )
                routes, dropped = kept, dropped + orphans
                if self.options.reinsert and not pinned:  # the room they leave, for the others
                    routes, dropped, objective = _reinsert(
                        problem, routes, dropped, objective, deadline
                    )
            if self._eliminating(problem, params, pinned, initial_routes) and len(routes) > 1:
                deadline = (
                    t0
                    + params.effective_time_limit_s
                    - min(0.05 * params.effective_time_limit_s, 0.5)
                )
                before = compute_kpis(problem, routes, []).cost_eur
                routes, gone = eliminate_routes(problem, routes, deadline)
                if gone:
                    objective += compute_kpis(problem, routes, []).cost_eur - before
                    detail += f"_ELIMINATED_{gone}"
            refused += dropped
        first_s = trace.solutions[0][0] if trace.solutions else None

        t_explain = time.perf_counter()
        partial = Plan(routes=tuple(routes))
        rejections = _explain(problem, refused, partial)
        trace.explain_s = time.perf_counter() - t_explain
        kpis = compute_kpis(problem, routes, rejections)
        stats = SolverStats(
            status=status,
            status_detail=detail,
            objective=objective,
            first_solution_s=first_s,
            total_s=time.perf_counter() - t0,
            solver="ortools",
        )
        return Plan(routes=tuple(routes), rejections=tuple(rejections), kpis=kpis, stats=stats)

    def _eliminating(
        self, problem: Problem, params: SolverParams, pinned: Pins | None, initial: object
    ) -> bool:
        """Whether the route-elimination phase runs: vehicles cost a fixed amount, the search
        has local search time, and this is not a live re-optimisation."""
        return (
            self.options.eliminate_share > 0
            and params.effective_time_limit_s > 0
            and not pinned
            and not initial
            and any(v.fixed_cost > 0 for v in problem.vehicles)
        )

    # ------------------------------------------------------------------------------------------
    def _search(  # noqa: C901 (to split next: issue 13)
        self,
        problem: Problem,
        params: SolverParams,
        requests: Sequence[Request],
        vehicle_ids: Sequence[int],
        allowed: dict[str, list[int]],
        t0: float,
        initial_routes: InitialRoutes | None = None,
        pinned: Pins | None = None,
    ) -> tuple[SolveStatus, str, list[Route], list[str], float]:
        """The OR-Tools search and the timing of its routes: (outcome, OR-Tools' status with what
        happened around it, routes, refused request ids, objective in euros)."""
        trace = self.trace
        opts = self.options
        vehicles: list[Vehicle] = [problem.vehicles[k] for k in vehicle_ids]
        slot_of = {
            k: s for s, k in enumerate(vehicle_ids)
        }  # problem vehicle index -> model vehicle
        nv, nr = len(vehicles), len(requests)
        H = horizon_s(problem)

        # ---- nodes: starts, ends, then (pickup, drop-off) per request ----
        loc: list[int] = []
        service: list[int] = []
        seats: list[int] = []
        wheel: list[int] = []
        for v in vehicles:
            loc.append(problem.index(v.start))
        for v in vehicles:
            loc.append(problem.index(v.end))
        service += [0] * (2 * nv)
        seats += [0] * (2 * nv)
        wheel += [0] * (2 * nv)
        for r in requests:
            loc += [problem.index(r.pickup), problem.index(r.dropoff)]
            service += [stop_service_s(problem, r, "pickup"), stop_service_s(problem, r, "dropoff")]
            seats += [r.seats, -r.seats]
            wheel += [r.wheelchairs, -r.wheelchairs]
        n_nodes = len(loc)
        manager = pywrapcp.RoutingIndexManager(
            n_nodes, nv, list(range(nv)), list(range(nv, 2 * nv))
        )
        routing = pywrapcp.RoutingModel(manager)
        solver = routing.solver()

        L = np.asarray(loc, dtype=np.int64)
        dur = np.minimum(np.asarray(problem.duration_s, dtype=np.int64), H + 1)[np.ix_(L, L)]
        dist = np.minimum(np.asarray(problem.distance_m, dtype=np.int64), MAX_DISTANCE_M)[
            np.ix_(L, L)
        ]
        svc = np.asarray(service, dtype=np.int64)
        time_m = dur + svc[:, None]
        time_cb = routing.RegisterTransitMatrix(time_m.tolist())

        # ---- costs per vehicle class ----
        # A per-passenger-km cost (carpool incentive) is charged on the arcs leaving a pickup:
        # passengers x direct km of that request.
        pax_km = np.zeros(n_nodes, dtype=np.float64)
        for q, r in enumerate(requests):
            pax_km[2 * nv + 2 * q] = (
                (r.seats + r.wheelchairs) * problem.travel_m(r.pickup, r.dropoff) / 1000.0
            )
        cost_cb: dict[tuple[float, float, float], int] = {}
        cost_mat: dict[tuple[float, float, float], np.ndarray] = {}
        arc_cost: list[np.ndarray] = []  # per vehicle slot: its arc costs, model units
        for s, v in enumerate(vehicles):
            key = (v.cost_per_km, v.cost_per_hour, v.cost_per_passenger_km)
            if key not in cost_cb:
                c = dist * (v.cost_per_km * COST_SCALE / 1000.0) + time_m * (
                    v.cost_per_hour * COST_SCALE / 3600.0
                )
                if v.cost_per_passenger_km > 0:
                    c = c + (pax_km * (v.cost_per_passenger_km * COST_SCALE))[:, None]
                cost_mat[key] = np.rint(c).astype(np.int64)
                cost_cb[key] = routing.RegisterTransitMatrix(cost_mat[key].tolist())
            arc_cost.append(cost_mat[key])
            routing.SetArcCostEvaluatorOfVehicle(cost_cb[key], s)
            if v.fixed_cost > 0:
                routing.SetFixedCostOfVehicle(int(round(v.fixed_cost * COST_SCALE)), s)

        # ---- time ----
        routing.AddDimension(time_cb, H, H, False, "time")
        tdim = routing.GetDimensionOrDie("time")
        for s, v in enumerate(vehicles):
            tdim.CumulVar(routing.Start(s)).SetRange(v.shift.start_s, v.shift.end_s)
            tdim.CumulVar(routing.End(s)).SetRange(v.shift.start_s, v.shift.end_s)
            if v.start_window is not None:
                lo, hi = (
                    max(v.shift.start_s, v.start_window.start_s),
                    min(v.shift.end_s, v.start_window.end_s),
                )
                tdim.CumulVar(routing.Start(s)).SetRange(lo, max(lo, hi))
            if v.end_window is not None:
                lo, hi = (
                    max(v.shift.start_s, v.end_window.start_s),
                    min(v.shift.end_s, v.end_window.end_s),
                )
                tdim.CumulVar(routing.End(s)).SetRange(lo, max(lo, hi))
            span = v.route_duration_limit_s()  # max duty, and continuous driving without rests
            if span is not None:
                tdim.SetSpanUpperBoundForVehicle(span, s)
            routing.AddVariableMinimizedByFinalizer(tdim.CumulVar(routing.End(s)))
            routing.AddVariableMaximizedByFinalizer(tdim.CumulVar(routing.Start(s)))
        if problem.weights.balance_per_hour > 0:
            tdim.SetGlobalSpanCostCoefficient(
                int(round(problem.weights.balance_per_hour * COST_SCALE / 3600.0))
            )

        # ---- capacities ----
        seats_cb = routing.RegisterUnaryTransitVector(seats)
        routing.AddDimensionWithVehicleCapacity(
            seats_cb, 0, [v.seats for v in vehicles], True, "seats"
        )
        if any(w for w in wheel):
            wheel_cb = routing.RegisterUnaryTransitVector(wheel)
            routing.AddDimensionWithVehicleCapacity(
                wheel_cb, 0, [v.wheelchairs for v in vehicles], True, "wheelchairs"
            )

        # ---- requests ----
        pair_limits: list[int] = []
        for q, r in enumerate(requests):
            p_node, d_node = 2 * nv + 2 * q, 2 * nv + 2 * q + 1
            pi, di = manager.NodeToIndex(p_node), manager.NodeToIndex(d_node)
            ptw, dtw = stop_window(problem, r, "pickup"), stop_window(problem, r, "dropoff")
            assert ptw is not None and dtw is not None  # guaranteed by the feasible-alone filter
            tdim.CumulVar(pi).SetRange(ptw.start_s, ptw.end_s)
            tdim.CumulVar(di).SetRange(dtw.start_s, dtw.end_s)
            routing.AddPickupAndDelivery(pi, di)
            if opts.hard_pairs:
                solver.Add(routing.VehicleVar(pi) == routing.VehicleVar(di))
                solver.Add(tdim.CumulVar(pi) <= tdim.CumulVar(di))
            limit = problem.boarding_s(r) + problem.max_ride_s(r)
            if opts.hard_ride:
                solver.Add(tdim.CumulVar(di) - tdim.CumulVar(pi) <= limit)
            pair_limits.append(limit)
            slots = [slot_of[k] for k in allowed[r.id]]
            if len(slots) < nv:
                # SetAllowedVehiclesForIndex takes an absl::Span that the 9.15 Python wrapper
                # cannot build; restricting the vehicle variable is the equivalent (-1: refused).
                routing.VehicleVar(pi).SetValues([-1, *slots])
                routing.VehicleVar(di).SetValues([-1, *slots])
            penalty = int(round(problem.weights.refusal_penalty * r.priority * COST_SCALE / 2))
            if opts.pair_disjunction:
                routing.AddDisjunction([pi, di], 2 * penalty, 2)
            else:
                routing.AddDisjunction([pi], penalty)
                routing.AddDisjunction([di], penalty)
            routing.AddVariableMaximizedByFinalizer(tdim.CumulVar(pi))
            routing.AddVariableMinimizedByFinalizer(tdim.CumulVar(di))
        # linked trips: the outbound and its return are performed both or neither (their order
        # is in the windows: dispatcher.solver.linked)
        if opts.link_activity:
            q_of = {r.id: q for q, r in enumerate(requests)}
            for o, back in problem.linked_pairs():
                if o.id in q_of and back.id in q_of:
                    a = manager.NodeToIndex(2 * nv + 2 * q_of[o.id])
                    b = manager.NodeToIndex(2 * nv + 2 * q_of[back.id])
                    solver.Add(routing.ActiveVar(a) == routing.ActiveVar(b))
        if pinned:  # live re-optimisation: done and on-board requests stay on their vehicle
            slot_by_id = {v.id: s for s, v in enumerate(vehicles)}
            for q, r in enumerate(requests):
                if r.id in pinned and pinned[r.id] in slot_by_id:
                    for node in (2 * nv + 2 * q, 2 * nv + 2 * q + 1):
                        routing.VehicleVar(manager.NodeToIndex(node)).SetValues(
                            [-1, slot_by_id[pinned[r.id]]]
                        )
        # The hard constraint above is what makes plans right; the limit function tells the
        # search filters about it (measured: 5x faster first plans on 400 requests).
        for q, limit in enumerate(pair_limits):
            tdim.SetPickupToDeliveryLimitFunctionForPair(lambda a, b, _l=limit: _l, q)

        # ---- breaks, inside the route of their vehicle ----
        break_vars: dict[int, list[pywrapcp.IntervalVar]] = {}
        for s, v in enumerate(vehicles):
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
            tdim.SetBreakIntervalsOfVehicle(ivs, s, service)
            if v.max_driving_s is not None and v.resting_breaks():
                # at most max_driving_s of the time dimension (elapsed time, not driving alone)
                # between the route's start, its breaks of at least driving_break_s and its end
                tdim.SetBreakDistanceDurationOfVehicle(v.max_driving_s, v.driving_break_s, s)
            for iv in ivs:
                routing.AddIntervalToAssignment(iv)
            break_vars[s] = ivs

        # ---- search ----
        limit_s = params.effective_time_limit_s
        first_only = limit_s <= 0
        if self._eliminating(problem, params, pinned, initial_routes):
            limit_s *= 1.0 - self.options.eliminate_share
        alns_limit_s = limit_s
        use_alns = self._alns_applies(problem, params, vehicles, first_only, initial_routes, pinned)
        notes = ""  # what happened around OR-Tools' status, for the status detail
        if use_alns:
            from dispatcher.solver import alns_gate

            # The kernels load in the background since the solve began: wait for them a little
            # while they load from numba's cache, not at all while they are being compiled.
            left = limit_s - (time.perf_counter() - t0)
            if alns_gate.ready(min(opts.kernel_wait_s, 0.25 * max(0.0, left))):
                used = time.perf_counter() - t0
                limit_s = used + max(0.0, limit_s - used) * (1.0 - params.alns_share)
            else:
                use_alns = False
                notes += "_ALNS_NOT_READY"
                log.info("the ALNS layer's kernels are not ready (%s)", alns_gate.state())
        # What is left of the budget once the model is built, minus a share for timing the
        # routes and explaining refusals afterwards.
        reserve = min(0.1 * limit_s, 0.002 * nr + 0.05)
        search_end = t0 + limit_s - reserve

        def budget_ms() -> int:
            return max(50, int(1000 * (search_end - time.perf_counter())))

        # A portfolio moves on from a heuristic whose search has stopped improving: the limit
        # below (off unless a portfolio stage sets ``stall["after_s"]``) ends that stage early.
        stall: dict[str, float] = {"after_s": math.inf, "best": math.inf, "last": 0.0, "n": 0}

        def on_solution() -> None:  # records improvements only (GLS reports every move it accepts)
            value = routing.CostVar().Value()
            stall["n"] += 1
            if value < stall["best"]:
                stall["best"], stall["last"] = value, time.perf_counter()
            cost = value / COST_SCALE
            if not trace.solutions or cost < trace.solutions[-1][1]:
                trace.solutions.append((time.perf_counter() - t0, cost))

        routing.AddAtSolutionCallback(on_solution)

        def stalled() -> bool:
            return (
                stall["best"] < math.inf and time.perf_counter() - stall["last"] > stall["after_s"]
            )

        routing.AddSearchMonitor(solver.CustomLimit(stalled))
        trace.build_s = time.perf_counter() - t0
        t_search = time.perf_counter()

        sp = pywrapcp.DefaultRoutingSearchParameters()
        first = opts.first_solution or params.first_solution
        sp.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, first)
        sp.log_search = params.log_search
        sp.use_full_propagation = opts.full_propagation
        if opts.gls_lambda is not None:
            sp.guided_local_search_lambda_coefficient = opts.gls_lambda
        if opts.neighbors_ratio < 1.0:
            sp.ls_operator_neighbors_ratio = opts.neighbors_ratio
            sp.ls_operator_min_neighbors = opts.min_neighbors
        if opts.lns:
            ops = sp.local_search_operators
            ops.use_path_lns = optional_boolean_pb2.BOOL_TRUE
            ops.use_inactive_lns = optional_boolean_pb2.BOOL_TRUE

        if first_only:
            sp.solution_limit = 1
            sp.local_search_metaheuristic = (
                routing_enums_pb2.LocalSearchMetaheuristic.GREEDY_DESCENT
            )
        else:
            sp.local_search_metaheuristic = getattr(
                routing_enums_pb2.LocalSearchMetaheuristic, params.metaheuristic
            )
            if params.solution_limit is not None:
                sp.solution_limit = params.solution_limit
            sp.time_limit.FromMilliseconds(budget_ms())
        node_of = {
            (r.id, kind): 2 * nv + 2 * q + (kind == "dropoff")
            for q, r in enumerate(requests)
            for kind in ("pickup", "dropoff")
        }
        sol = None
        code, status = -1, ""
        greedy: list[list[int]] | None = None  # the greedy insertion's routes, when they win
        greedy_cost = math.inf
        if initial_routes:
            start_routes = [
                [
                    manager.NodeToIndex(node_of[st])
                    for st in initial_routes.get(v.id, ())
                    if st in node_of
                ]
                for v in vehicles
            ]
            routing.CloseModelWithParameters(sp)
            initial = routing.ReadAssignmentFromRoutes(start_routes, True)
            if initial is not None:
                sol = routing.SolveFromAssignmentWithParameters(initial, sp)
                code = routing.status()
                status = _status_name(code)
            else:
                log.warning(
                    "the initial routes are not a solution of the model; searching from scratch"
                )
        if sol is None and (first_only or pinned):
            # a first plan only (no time limit: the heuristic runs to its end), or a live
            # re-optimisation that found nothing from its routes
            sol = routing.SolveWithParameters(sp)
            code = routing.status()
            status = _status_name(code)
        elif sol is None:
            # A large day first gets a plan from the exact greedy insertion (anytime: it stops
            # at the end of the search's time, refusing what it has not reached): OR-Tools'
            # first-solution heuristic may not finish in time on it, and stopped short it
            # leaves nothing. OR-Tools then searches with the time left, from a faster
            # heuristic when that time is short for the day's size; the cheaper plan wins.
            if len(requests) >= opts.greedy_min_requests:
                greedy, greedy_cost = self._greedy_first_plan(
                    problem, requests, vehicles, node_of, arc_cost, search_end, t0
                )
            left_s = search_end - time.perf_counter()
            if left_s > 0.05:
                large = len(requests) >= opts.greedy_min_requests
                quick = large and left_s < opts.quick_start_s * len(requests)
                first = QUICK_FIRST_SOLUTION if quick else first
                sp.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, first)
                sp.time_limit.FromMilliseconds(budget_ms())
                if len(opts.portfolio) > 1 and limit_s >= opts.portfolio_min_s and not quick:
                    sol, status, code = _portfolio(
                        routing,
                        sp,
                        [first, *[f for f in opts.portfolio if f != first]],
                        budget_ms,
                        stall,
                        opts.stall_share * limit_s,
                    )
                else:
                    sol = routing.SolveWithParameters(sp)
                    code = routing.status()
                    status = _status_name(code) + (f"_{first}" if quick else "")
                if stall["n"] == 0:
                    sol = None  # cut short before its first plan: every request unperformed
            if greedy is None and sol is None and search_end - time.perf_counter() > 0.0:
                greedy, greedy_cost = self._greedy_first_plan(
                    problem, requests, vehicles, node_of, arc_cost, search_end, t0
                )
            if greedy is not None and (sol is None or greedy_cost <= sol.ObjectiveValue()):
                sol, code = None, routing_enums_pb2.RoutingSearchStatus.ROUTING_NOT_SOLVED
                status = "GREEDY_INSERTION" + (f"_OVER_{status}" if status else "")
            else:
                greedy = None
        status += notes
        trace.search_s = time.perf_counter() - t_search
        if sol is None and greedy is None:
            log.warning("OR-Tools found no plan (%s); every request is refused", status)
            return SolveStatus.NO_PLAN, status, [], [r.id for r in requests], 0.0
        optimal = code == routing_enums_pb2.RoutingSearchStatus.ROUTING_OPTIMAL

        # ---- read the routes (improved by the ALNS when it applies) and time them ----
        node_routes: list[list[int]] = []
        hints: list[list[int]] = []
        if sol is None:  # the greedy insertion's plan
            assert greedy is not None
            node_routes, hints = greedy, [[] for _ in greedy]
            objective = greedy_cost / COST_SCALE
        else:
            objective = sol.ObjectiveValue() / COST_SCALE
            for s in range(nv):
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
        if use_alns:
            improved = self._refine_with_alns(
                problem,
                requests,
                vehicles,
                vehicle_ids,
                allowed,
                node_routes,
                t0,
                alns_limit_s,
                reserve,
                params,
            )
            if improved is not None:
                changed = [a != b for a, b in zip(node_routes, improved[0], strict=True)]
                node_routes, objective = improved
                status = f"ALNS_{status}"
                optimal = False
                hints = [[] if c else h for c, h in zip(changed, hints, strict=True)]
        t_sched = time.perf_counter()
        routes: list[Route] = []
        served: set[str] = set()
        dropped_late: list[str] = []
        for s, v in enumerate(vehicles):
            stops: list[Stop] = []
            for node in node_routes[s]:
                q, is_drop = divmod(node - 2 * nv, 2)
                stops.append((requests[q], "dropoff" if is_drop else "pickup"))
            if not stops:
                continue
            hint_breaks: list[int | None] = (
                [sol.StartValue(iv) for iv in break_vars.get(s, [])] if sol is not None else []
            )
            route, removed = _time_route(problem, v, stops, hints[s] or None, hint_breaks)
            dropped_late += removed
            if route is not None:
                routes.append(route)
                served.update(vis.request_id for vis in route.visits)
        trace.schedule_s = time.perf_counter() - t_sched
        trace.unschedulable = len(dropped_late)
        if dropped_late:
            log.warning(
                "%d request(s) could not be timed on their route and are refused", len(dropped_late)
            )
            status += "_RETIMED"
            optimal = False
        refused = [r.id for r in requests if r.id not in served]
        outcome = SolveStatus.OPTIMAL if optimal else SolveStatus.SOLVED
        return outcome, status, routes, refused, objective

    def _greedy_first_plan(
        self,
        problem: Problem,
        requests: Sequence[Request],
        vehicles: Sequence[Vehicle],
        node_of: dict[tuple[str, str], int],
        arc_cost: Sequence[np.ndarray],
        deadline: float,
        t0: float,
    ) -> tuple[list[list[int]], float]:
        """A plan from the exact greedy insertion (:func:`_greedy_plan`) until ``deadline``, as
        node routes per vehicle slot, and its cost in the model's objective units (arcs, fixed
        costs, refusal penalties: comparable with OR-Tools' objective)."""
        nv = len(vehicles)
        per_refusal = EXPLAIN_S_PER_VEHICLE * len(problem.vehicles)
        plan, left = _greedy_plan(problem, requests, deadline, per_refusal)
        slot = {v.id: s for s, v in enumerate(vehicles)}
        routes: list[list[int]] = [[] for _ in vehicles]
        for route in plan.routes:
            if route.vehicle_id in slot:  # (a vehicle out of the model serves no one alone)
                routes[slot[route.vehicle_id]] = [
                    node_of[(v.request_id, v.kind)] for v in route.visits
                ]
        cost = 0.0
        served = {n for nodes in routes for n in nodes}
        for q, r in enumerate(requests):
            if 2 * nv + 2 * q not in served:
                cost += 2 * round(problem.weights.refusal_penalty * r.priority * COST_SCALE / 2)
        for s, nodes in enumerate(routes):
            if nodes:
                path = [s, *nodes, nv + s]
                cost += float(sum(arc_cost[s][a, b] for a, b in zip(path, path[1:], strict=False)))
                cost += round(vehicles[s].fixed_cost * COST_SCALE)
        self.trace.solutions.append((time.perf_counter() - t0, cost / COST_SCALE))
        log.info("greedy insertion: %d request(s) left out", len(left))
        return routes, cost

    def _alns_applies(
        self,
        problem: Problem,
        params: SolverParams,
        vehicles: Sequence[Vehicle],
        first_only: bool,
        initial: object,
        pinned: object,
    ) -> bool:
        """Whether the ALNS layer runs after OR-Tools (``SolverParams.refinement``): not for a
        first plan only, a short limit, a search bounded by a solution count, or a live
        re-optimisation."""
        if params.refinement != "alns" or first_only or initial or pinned or params.alns_share <= 0:
            return False
        too_short = params.effective_time_limit_s < self.options.alns_min_s
        if params.solution_limit is not None or too_short:
            return False
        from dispatcher.solver import alns_gate  # numba itself loads in the background

        return alns_gate.available() and alns_gate.applicable(problem, vehicles)

    def _refine_with_alns(
        self,
        problem: Problem,
        requests: Sequence[Request],
        vehicles: Sequence[Vehicle],
        vehicle_ids: Sequence[int],
        allowed: dict[str, list[int]],
        node_routes: list[list[int]],
        t0: float,
        limit_s: float,
        reserve: float,
        params: SolverParams,
    ) -> tuple[list[list[int]], float] | None:
        """The ALNS on the OR-Tools routes until the time limit (minus ``reserve``); None if it
        found nothing better."""
        from dispatcher.solver import alns

        slot_of = {k: s for s, k in enumerate(vehicle_ids)}
        model = alns.build_model(
            problem, requests, vehicles, [[slot_of[k] for k in allowed[r.id]] for r in requests]
        )
        budget = limit_s - (time.perf_counter() - t0) - reserve
        served = sum(len(nodes) for nodes in node_routes) // 2
        if budget <= 0.05 and served == len(requests):
            return None
        # out of time with requests left out (a short limit, or the kernels loading in a new
        # process): the ALNS still gives them one greedy repair, which is fast
        at = time.perf_counter() - t0
        res = alns.refine_routes(model, node_routes, max(budget, 0.0), seed=params.seed)
        self.trace.alns_iterations = res.iterations
        if res.objective >= res.start_objective:
            return None
        for t, obj in res.trace:
            self.trace.solutions.append((at + t, obj / COST_SCALE))
        return res.routes, res.objective / COST_SCALE


def _portfolio(
    routing: pywrapcp.RoutingModel,
    sp: object,
    strategies: Sequence[str],
    budget_ms: Callable[[], int],
    stall: dict[str, float],
    stall_s: float,
) -> tuple[pywrapcp.Assignment | None, str, int]:
    """The same search from several first-solution heuristics in turn; the cheapest plan wins
    (different starts land in different valleys on dial-a-ride days). Each stage may use all
    the time left, but gives way to the next one once it has not improved for ``stall_s``
    seconds; the last stage runs to the end. Returns the plan, its status name (with the
    heuristic's) and OR-Tools' status code of its stage."""
    best: tuple[float, pywrapcp.Assignment, str, int] | None = None
    code, status = routing_enums_pb2.RoutingSearchStatus.ROUTING_NOT_SOLVED, "ROUTING_NOT_SOLVED"
    for j, name in enumerate(strategies):
        if budget_ms() <= 50 and best is not None:
            break  # no time left for another heuristic's first plan
        one = pywrapcp.DefaultRoutingSearchParameters()
        one.CopyFrom(sp)
        one.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, name)
        one.time_limit.FromMilliseconds(budget_ms())
        last = j == len(strategies) - 1
        stall["after_s"] = math.inf if last else stall_s
        stall["best"], stall["last"] = math.inf, time.perf_counter()
        try:
            sol = routing.SolveWithParameters(one)
        finally:
            stall["after_s"] = math.inf
        code = routing.status()
        status = _status_name(code)
        if sol is not None and (best is None or sol.ObjectiveValue() < best[0]):
            kept = routing.solver().Assignment(sol)
            best = (sol.ObjectiveValue(), kept, f"{status}_{name}", code)
    if best is None:
        return None, status, code
    return best[1], best[2], best[3]


def _reinsert(
    problem: Problem,
    routes: list[Route],
    dropped: Sequence[str],
    objective: float,
    deadline: float = math.inf,
) -> tuple[list[Route], list[str], float]:
    """Insert what the search left out (each request here is feasible alone), most important and
    longest first, with the exact real-time insertion, until ``deadline`` (``perf_counter``
    time); returns the routes, who is still refused and the objective corrected by the
    insertions' estimates."""
    from dispatcher.solver.insertion import (  # the insertion module imports schedule only
        ScreenCache,
        find_insertion,
    )

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
            ins = find_insertion(problem, trial, byid[rid], requests_by_id=byid, cache=cache)
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


def _greedy_plan(
    problem: Problem, requests: Sequence[Request], deadline: float, per_left_s: float
) -> tuple[Plan, list[str]]:
    """A plan built by inserting ``requests`` one at a time, most important and earliest first,
    each at its cheapest exact position (:func:`dispatcher.solver.insertion.find_insertion`),
    until ``deadline`` (``perf_counter`` time) minus ``per_left_s`` per request not inserted
    yet (the time to explain its refusal). Returns the plan and the ids left out."""
    from dispatcher.solver.insertion import ScreenCache, find_insertion

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


def _time_route(
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


def solve(problem: Problem, params: SolverParams | None = None) -> Plan:
    """Solve a Problem with the default engine (``params`` default to ``problem.params``)."""
    return default_solver(params).solve(problem)


__all__ = ["COST_SCALE", "OrToolsSolver", "SearchTrace", "solve"]
