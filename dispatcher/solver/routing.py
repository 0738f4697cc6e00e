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
from dataclasses import dataclass, field, replace

from ortools.constraint_solver import pywrapcp, routing_enums_pb2
from ortools.constraint_solver.routing_parameters_pb2 import (
    RoutingSearchParameters as SearchParameters,
)
from ortools.util import optional_boolean_pb2

from dispatcher.model import (
    Break,
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
from dispatcher.solver import InitialRoutes, Pins, alns_gate, default_solver
from dispatcher.solver.explain import explain_rejections
from dispatcher.solver.kpis import compute_kpis
from dispatcher.solver.ortools_model import (
    COST_SCALE,
    DarpModel,
    ModelRules,
    build_model,
    refusal_penalty,
)
from dispatcher.solver.ortools_names import check_names
from dispatcher.solver.repair import drop_orphans, greedy_plan, time_route
from dispatcher.solver.repair import reinsert as reinsert_dropped
from dispatcher.solver.route_elimination import eliminate_routes
from dispatcher.solver.schedule import Stop, feasible_alone, usable_breaks

log = logging.getLogger(__name__)

EXPLAIN_S_PER_VEHICLE = 1e-4  # explaining one refusal takes about this much per vehicle (bound)
QUICK_FIRST_SOLUTION = "LOCAL_CHEAPEST_INSERTION"  # when the time is short for the day's size


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
    ``portfolio_min_s``) runs when its model is exact for the day (no breaks, no balance cost;
    with breaks see ``alns_breaks``), numba is installed and the time limit is at least this
    (below, the kernels' loading in a new process and OR-Tools' shorter share cost more than
    the layer gains). On a live day it starts from the cheaper of OR-Tools' plan and the initial
    routes, and a pinned request may only use its vehicle there too (not with breaks: the exact
    re-insertion after the day without them knows no pins).
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
    ``alns_breaks``: on days with drivers' breaks the ALNS layer searches the day without them
    (the breaks taken off, and with them the continuous-driving limit they end), then every route
    it changed is timed exactly with its breaks (:class:`dispatcher.solver.schedule.RouteTimer`),
    what no longer fits is re-inserted exactly, and the plan is kept only if its real cost (the
    KPIs' cost, waiting and breaks included, plus the refusal penalties) beats the OR-Tools plan
    timed the same way.
    ``span_cost``: charge the drivers' hours on each route's span (waiting included, as the
    KPIs' cost does) instead of on the arcs' travel and service time; off by default: on the
    generated days at 30 s it was within 0.6% on 60 requests and 2.8% cheaper on 150 with
    OR-Tools alone, but served 22 riders fewer on 400 (a loaded machine; the plan choices above
    use the real cost either way).
    ``alns_span_cost``: the ALNS layer charges the drivers' hours on each route's shortest span,
    waiting included, as the KPIs' cost does (:func:`dispatcher.solver.alns.build_model`); off,
    on the arcs' travel and service time as OR-Tools does. Without an hourly cost (the
    literature's instances) both are the same search.
    ``alns_model_breaks``: in the day without breaks that the ALNS layer searches, each vehicle's
    first break is a floating stop of its route (:func:`dispatcher.solver.alns_kernels.route_ok`),
    so that its plans keep room for it; off, the break is left out entirely (and routes whose
    waiting the span cost squeezed out may have no room left for it once timed exactly).
    ``alns_iterations``: the ALNS layer runs exactly this many iterations instead of until the
    time limit, and also when ``SolverParams.solution_limit`` bounds OR-Tools' search: with
    both, a seed gives the same plan every time (its kernels must be ready: ``python -m
    dispatcher.solver.alns_gate``), with or without breaks, initial routes and pins.
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
    alns_breaks: bool = True
    span_cost: bool = False
    alns_span_cost: bool = True
    alns_iterations: int | None = None
    alns_model_breaks: bool = True


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
    def solve(
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
            alns_gate.start()  # the kernels load (or compile elsewhere) while the model is built

        # Vehicles that can work at all (breaks fit in the shift) and, per request, the vehicles
        # able to serve it alone. Requests nobody can serve alone stay out of the model.
        vehicles = [k for k, v in enumerate(problem.vehicles) if usable_breaks(v) is not None]
        allowed = _allowed_vehicles(problem, vehicles)
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
            routes, dropped, objective, notes = self._after_search(
                problem, params, routes, dropped, objective, t0, initial_routes, pinned
            )
            detail += notes
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

    def _after_search(
        self,
        problem: Problem,
        params: SolverParams,
        routes: list[Route],
        dropped: list[str],
        objective: float,
        t0: float,
        initial_routes: InitialRoutes | None,
        pinned: Pins | None,
    ) -> tuple[list[Route], list[str], float, str]:
        """Re-insertion of what the search left out, linked trips made whole, and the optional
        route elimination: (routes, refused ids, objective, notes for the status detail)."""
        notes = ""
        reinsert = self.options.reinsert and not pinned
        # re-insertion within the time limit, leaving the time to explain who stays refused
        per_refusal = EXPLAIN_S_PER_VEHICLE * len(problem.vehicles)
        deadline = t0 + params.effective_time_limit_s - per_refusal * len(dropped)
        if params.effective_time_limit_s <= 0:
            deadline = math.inf  # a first plan only: no time limit
        if dropped and reinsert:
            routes, dropped, objective = reinsert_dropped(
                problem, routes, dropped, objective, deadline
            )
        # a linked trip is served both or neither: OR-Tools searches without the rule (see
        # SearchOptions.link_activity), so a half it left alone whose other half the
        # re-insertion above could not place (or a route that could not be timed) is
        # refused too
        kept, orphans = drop_orphans(problem, routes)
        if orphans:
            notes += "_LINKED_DROPPED"
            objective += compute_kpis(problem, kept, []).cost_eur
            objective -= compute_kpis(problem, routes, []).cost_eur
            objective += sum(
                problem.weights.refusal_penalty * problem.request(rid).priority for rid in orphans
            )
            routes, dropped = kept, dropped + orphans
            if reinsert:  # the room they leave, for the others
                routes, dropped, objective = reinsert_dropped(
                    problem, routes, dropped, objective, deadline
                )
        if self._eliminating(problem, params, pinned, initial_routes) and len(routes) > 1:
            limit = params.effective_time_limit_s
            deadline = t0 + limit - min(0.05 * limit, 0.5)
            before = compute_kpis(problem, routes, []).cost_eur
            routes, gone = eliminate_routes(problem, routes, deadline)
            if gone:
                objective += compute_kpis(problem, routes, []).cost_eur - before
                notes += f"_ELIMINATED_{gone}"
        return routes, dropped, objective, notes

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
    def _search(
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
        slot_of = {k: s for s, k in enumerate(vehicle_ids)}  # problem vehicle -> model slot
        rules = ModelRules(
            opts.pair_disjunction,
            opts.hard_ride,
            opts.hard_pairs,
            opts.link_activity,
            opts.span_cost,
        )
        slots = [[slot_of[k] for k in allowed[r.id]] for r in requests]
        m = build_model(problem, requests, vehicles, slots, rules, pinned)

        limit_s = params.effective_time_limit_s
        first_only = limit_s <= 0
        if self._eliminating(problem, params, pinned, initial_routes):
            limit_s *= 1.0 - self.options.eliminate_share
        alns_limit_s = limit_s
        use_alns = self._alns_applies(problem, params, vehicles, first_only, initial_routes, pinned)
        notes = ""  # what happened around OR-Tools' status, for the status detail
        if use_alns:
            limit_s, use_alns = self._wait_for_alns(params, t0, limit_s)
            if not use_alns:
                notes += "_ALNS_NOT_READY"
        # What is left of the budget once the model is built, minus a share for timing the
        # routes and explaining refusals afterwards.
        reserve = min(0.1 * limit_s, 0.002 * len(requests) + 0.05)
        run = _Run(m, t0, t0 + limit_s - reserve, trace)
        trace.build_s = time.perf_counter() - t0
        t_search = time.perf_counter()
        sp = self._search_parameters(m, params, first_only, run)
        if initial_routes:
            run.from_routes(sp, initial_routes)
        if run.sol is None and (first_only or pinned):
            # a first plan only (no time limit: the heuristic runs to its end), or a live
            # re-optimisation that found nothing from its routes
            run.solve(sp)
        elif run.sol is None:
            self._large_day_search(run, sp, params, limit_s)
        status = run.status + notes
        trace.search_s = time.perf_counter() - t_search
        if run.sol is None and run.greedy is None:
            log.warning("OR-Tools found no plan (%s); every request is refused", status)
            return SolveStatus.NO_PLAN, status, [], [r.id for r in requests], 0.0
        optimal = run.code == routing_enums_pb2.RoutingSearchStatus.ROUTING_OPTIMAL

        # ---- read the routes (improved by the ALNS when it applies) and time them ----
        node_routes: list[list[int]]
        hints: list[list[int]]
        if run.sol is None:  # the greedy insertion's plan
            assert run.greedy is not None
            node_routes, hints = run.greedy, [[] for _ in run.greedy]
            objective = run.greedy_cost / COST_SCALE
        else:
            objective = run.sol.ObjectiveValue() / COST_SCALE
            node_routes, hints = m.read_routes(run.sol)
        if use_alns:
            starts = [node_routes]
            if initial_routes:  # (OR-Tools may have searched from scratch, or done worse)
                starts.append(m.start_nodes(initial_routes))
            improved = self._refine_with_alns(
                m, vehicle_ids, allowed, starts, t0, alns_limit_s, reserve, params, pinned
            )
            if improved is not None and any(v.breaks for v in m.vehicles):
                return self._keep_the_cheaper(
                    m, run, node_routes, hints, improved[0], status, t0 + alns_limit_s
                )
            if improved is not None:
                changed = [a != b for a, b in zip(node_routes, improved[0], strict=True)]
                node_routes, objective = improved
                status = f"ALNS_{status}"
                optimal = False
                hints = [[] if c else h for c, h in zip(changed, hints, strict=True)]
        t_sched = time.perf_counter()
        routes, served, dropped_late = _timed_routes(m, node_routes, hints, run.sol)
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

    def _keep_the_cheaper(
        self,
        m: DarpModel,
        run: _Run,
        node_routes: list[list[int]],
        hints: list[list[int]],
        relaxed_routes: list[list[int]],
        status: str,
        deadline: float,
    ) -> tuple[SolveStatus, str, list[Route], list[str], float]:
        """The OR-Tools plan and the ALNS layer's plan of the day without breaks, each timed
        exactly with the breaks (the ALNS plan's leftovers re-inserted exactly): the one of
        lower real cost (see ``SearchOptions.alns_breaks``)."""
        t_sched = time.perf_counter()
        base, base_served, base_late = _timed_routes(m, node_routes, hints, run.sol)
        changed = [a != b for a, b in zip(node_routes, relaxed_routes, strict=True)]
        alns_hints = [[] if c else h for c, h in zip(changed, hints, strict=True)]
        cand, cand_served, cand_late = _timed_routes(m, relaxed_routes, alns_hints, run.sol)
        left = [r.id for r in m.requests if r.id not in cand_served]
        if cand_late:  # (until the time limit: the OR-Tools plan is there if time runs out)
            cand, left, _ = reinsert_dropped(m.problem, cand, left, 0.0, deadline)
        self.trace.schedule_s = time.perf_counter() - t_sched
        base_refused = [r.id for r in m.requests if r.id not in base_served]
        base_cost = real_cost(m.problem, base, base_refused)
        cand_cost = real_cost(m.problem, cand, left)
        self.trace.unschedulable = len(base_late)
        log.info(
            "ALNS without breaks: %d route(s) changed, %d could not be timed with the breaks, "
            "%d left after re-insertion; real cost %.2f against OR-Tools' %.2f",
            sum(changed),
            len(cand_late),
            len(left) - len(base_refused),
            cand_cost,
            base_cost,
        )
        if cand_cost < base_cost:
            self.trace.solutions.append((time.perf_counter() - run.t0, cand_cost))
            return SolveStatus.SOLVED, f"ALNS_NO_BREAKS_{status}", cand, left, cand_cost
        note = "_RETIMED" if base_late else ""
        return SolveStatus.SOLVED, f"{status}{note}", base, base_refused, base_cost

    def _wait_for_alns(self, params: SolverParams, t0: float, limit_s: float) -> tuple[float, bool]:
        """The kernels load in the background since the solve began: wait for them a little
        while they load from numba's cache, not at all while they are being compiled. Returns
        OR-Tools' time limit and whether the ALNS layer runs."""
        left = limit_s - (time.perf_counter() - t0)
        if alns_gate.ready(min(self.options.kernel_wait_s, 0.25 * max(0.0, left))):
            used = time.perf_counter() - t0
            return used + max(0.0, limit_s - used) * (1.0 - params.alns_share), True
        log.info("the ALNS layer's kernels are not ready (%s)", alns_gate.state())
        return limit_s, False

    def _search_parameters(
        self, m: DarpModel, params: SolverParams, first_only: bool, run: _Run
    ) -> SearchParameters:
        opts = self.options
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
            sp.time_limit.FromMilliseconds(run.budget_ms())
        return sp

    def _large_day_search(
        self, run: _Run, sp: SearchParameters, params: SolverParams, limit_s: float
    ) -> None:
        """A large day first gets a plan from the exact greedy insertion (anytime: it stops at
        the end of the search's time, refusing what it has not reached): OR-Tools'
        first-solution heuristic may not finish in time on it, and stopped short it leaves
        nothing. OR-Tools then searches with the time left, from a faster heuristic when that
        time is short for the day's size; the cheaper plan wins."""
        opts = self.options
        m = run.model
        large = len(m.requests) >= opts.greedy_min_requests
        if large:
            self._greedy_first_plan(run)
        left_s = run.search_end - time.perf_counter()
        if left_s > 0.05:
            quick = large and left_s < opts.quick_start_s * len(m.requests)
            first = (
                QUICK_FIRST_SOLUTION if quick else (opts.first_solution or params.first_solution)
            )
            sp.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, first)
            sp.time_limit.FromMilliseconds(run.budget_ms())
            if len(opts.portfolio) > 1 and limit_s >= opts.portfolio_min_s and not quick:
                run.sol, run.status, run.code = _portfolio(
                    m.routing,
                    sp,
                    [first, *[f for f in opts.portfolio if f != first]],
                    run.budget_ms,
                    run.stall,
                    opts.stall_share * limit_s,
                )
            else:
                run.solve(sp, f"_{first}" if quick else "")
            if run.stall["n"] == 0:
                run.sol = None  # cut short before its first plan: every request unperformed
        if run.greedy is None and run.sol is None and run.search_end - time.perf_counter() > 0.0:
            self._greedy_first_plan(run)
        if run.greedy is not None and (run.sol is None or _greedy_is_cheaper(run)):
            run.sol, run.code = None, routing_enums_pb2.RoutingSearchStatus.ROUTING_NOT_SOLVED
            run.status = "GREEDY_INSERTION" + (f"_OVER_{run.status}" if run.status else "")
        else:
            run.greedy = None

    def _greedy_first_plan(self, run: _Run) -> None:
        """A plan from the exact greedy insertion (:func:`dispatcher.solver.repair.greedy_plan`)
        until the search's end, as node routes per vehicle slot, and its cost in the model's
        objective units (arcs, fixed costs, refusal penalties: comparable with OR-Tools'
        objective), kept in ``run``."""
        m, problem = run.model, run.model.problem
        per_refusal = EXPLAIN_S_PER_VEHICLE * len(problem.vehicles)
        plan, left = greedy_plan(problem, m.requests, run.search_end, per_refusal)
        slot = {v.id: s for s, v in enumerate(m.vehicles)}
        node_of = m.node_of()
        routes: list[list[int]] = [[] for _ in m.vehicles]
        for route in plan.routes:
            if route.vehicle_id in slot:  # (a vehicle out of the model serves no one alone)
                routes[slot[route.vehicle_id]] = [
                    node_of[(v.request_id, v.kind)] for v in route.visits
                ]
        cost = 0.0
        served = {n for nodes in routes for n in nodes}
        for q, r in enumerate(m.requests):
            if m.node(q, "pickup") not in served:
                cost += 2 * refusal_penalty(problem, r)
        for s, nodes in enumerate(routes):
            if nodes:
                path = [s, *nodes, m.nv + s]
                arcs = m.arc_cost[s]
                cost += float(sum(arcs[a, b] for a, b in zip(path, path[1:], strict=False)))
                cost += round(m.vehicles[s].fixed_cost * COST_SCALE)
        self.trace.solutions.append((time.perf_counter() - run.t0, cost / COST_SCALE))
        log.info("greedy insertion: %d request(s) left out", len(left))
        run.greedy, run.greedy_cost = routes, cost

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
        first plan only, a short limit, a search bounded by a solution count, or pins on a day
        with breaks (the exact re-insertion after the day without them knows no pins)."""
        if params.refinement != "alns" or first_only or params.alns_share <= 0:
            return False
        if pinned and any(v.breaks for v in vehicles):
            return False
        too_short = params.effective_time_limit_s < self.options.alns_min_s
        by_count = self.options.alns_iterations is not None
        if (params.solution_limit is not None and not by_count) or too_short:
            return False
        if not alns_gate.available():
            return False
        if alns_gate.applicable(problem, vehicles):
            return True
        return self.options.alns_breaks and problem.weights.balance_per_hour == 0

    def _refine_with_alns(
        self,
        m: DarpModel,
        vehicle_ids: Sequence[int],
        allowed: dict[str, list[int]],
        starts: Sequence[list[list[int]]],
        t0: float,
        limit_s: float,
        reserve: float,
        params: SolverParams,
        pinned: Pins | None = None,
    ) -> tuple[list[list[int]], float] | None:
        """The ALNS until the time limit (minus ``reserve``), from the cheapest of ``starts`` in
        its model (the OR-Tools routes first; a live day's initial routes); None if it found
        nothing better than the first. A pinned request may only be on its vehicle, as in the
        OR-Tools model."""
        from dispatcher.solver import alns  # (numba loads with it: only when the layer runs)

        slot_of = {k: s for s, k in enumerate(vehicle_ids)}
        slots = [[slot_of[k] for k in allowed[r.id]] for r in m.requests]
        if pinned:
            slot_by_id = {v.id: s for s, v in enumerate(m.vehicles)}
            for q, r in enumerate(m.requests):
                if r.id in pinned and pinned[r.id] in slot_by_id:
                    slots[q] = [x for x in slots[q] if x == slot_by_id[pinned[r.id]]]
        model = alns.build_model(
            m.problem,
            m.requests,
            [without_breaks(v) for v in m.vehicles],
            slots,
            span_cost=self.options.alns_span_cost,
            breaks=[
                _modelled_break(v) if self.options.alns_model_breaks else None for v in m.vehicles
            ],
        )
        objectives = [alns.plan_objective(model, routes) for routes in starts]
        k = objectives.index(min(objectives))
        node_routes = starts[k]
        budget = limit_s - (time.perf_counter() - t0) - reserve
        served = sum(len(nodes) for nodes in node_routes) // 2
        count = self.options.alns_iterations
        if count is None and budget <= 0.05 and served == len(m.requests) and k == 0:
            return None
        # out of time with requests left out (a short limit, or the kernels loading in a new
        # process): the ALNS still gives them one greedy repair, which is fast
        at = time.perf_counter() - t0
        res = alns.refine_routes(
            model, node_routes, max(budget, 0.0), seed=params.seed, max_iterations=count
        )
        self.trace.alns_iterations = res.iterations
        if res.objective >= objectives[0]:
            return None
        for t, obj in res.trace:
            self.trace.solutions.append((at + t, obj / COST_SCALE))
        return res.routes, res.objective / COST_SCALE


def _modelled_break(v: Vehicle) -> Break | None:
    """The break the ALNS layer places in the vehicle's route: its first (window clipped to the
    shift); None without one."""
    brks = usable_breaks(v)
    return brks[0] if brks else None


def without_breaks(v: Vehicle) -> Vehicle:
    """The vehicle with its breaks taken off, and the continuous-driving limit that its resting
    breaks end (without them it would bound the whole route); the maximum duty stays."""
    if not v.breaks:
        return v
    driving = None if v.resting_breaks() else v.max_driving_s
    return replace(v, breaks=(), max_driving_s=driving)


def real_cost(problem: Problem, routes: Sequence[Route], refused: Sequence[str]) -> float:
    """What a plan costs the operator (the KPIs' cost: km, hours from leaving the depot to
    coming back, fixed costs) plus the refusal penalties, in euros."""
    pen = sum(problem.weights.refusal_penalty * problem.request(rid).priority for rid in refused)
    return compute_kpis(problem, routes, []).cost_eur + pen


def _greedy_is_cheaper(run: _Run) -> bool:
    """Whether the greedy insertion's plan costs less than OR-Tools' once both are timed: by
    real cost (:func:`real_cost`: waiting counts, which OR-Tools' arc costs leave out)."""
    m = run.model
    assert run.greedy is not None and run.sol is not None
    costs = []
    for node_routes, hints, sol in (
        (run.greedy, [[] for _ in run.greedy], None),
        (*m.read_routes(run.sol), run.sol),
    ):
        routes, served, _ = _timed_routes(m, node_routes, hints, sol)
        costs.append(real_cost(m.problem, routes, [r.id for r in m.requests if r.id not in served]))
    return costs[0] <= costs[1]


def _allowed_vehicles(problem: Problem, vehicles: Sequence[int]) -> dict[str, list[int]]:
    """Per request, the vehicles (problem indices, among ``vehicles``) able to serve it alone;
    the two halves of a linked trip both or neither. Vehicles that look alike to a request
    are judged once."""
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
    return allowed


class _Run:
    """One search on a built model: its time budget, the stall limit of a portfolio stage, and
    the plan found so far (an OR-Tools assignment, or the greedy insertion's node routes)."""

    def __init__(self, model: DarpModel, t0: float, search_end: float, trace: SearchTrace):
        self.model, self.t0, self.search_end, self.trace = model, t0, search_end, trace
        self.sol: pywrapcp.Assignment | None = None
        self.code, self.status = -1, ""
        self.greedy: list[list[int]] | None = None  # the greedy insertion's routes, if they win
        self.greedy_cost = math.inf
        # A portfolio moves on from a heuristic whose search has stopped improving: the limit
        # below (off unless a portfolio stage sets ``stall["after_s"]``) ends that stage early.
        self.stall: dict[str, float] = {"after_s": math.inf, "best": math.inf, "last": 0.0, "n": 0}
        routing = model.routing
        # (bound methods kept on self: OR-Tools holds the callbacks for the whole search)
        self._solution_cb, self._stalled_cb = self._on_solution, self._stalled
        routing.AddAtSolutionCallback(self._solution_cb)
        routing.AddSearchMonitor(routing.solver().CustomLimit(self._stalled_cb))

    def budget_ms(self) -> int:
        return max(50, int(1000 * (self.search_end - time.perf_counter())))

    def _on_solution(self) -> None:  # records improvements only (GLS reports every move)
        value = self.model.routing.CostVar().Value()
        stall, trace = self.stall, self.trace
        stall["n"] += 1
        if value < stall["best"]:
            stall["best"], stall["last"] = value, time.perf_counter()
        cost = value / COST_SCALE
        if not trace.solutions or cost < trace.solutions[-1][1]:
            trace.solutions.append((time.perf_counter() - self.t0, cost))

    def _stalled(self) -> bool:
        stall = self.stall
        return stall["best"] < math.inf and time.perf_counter() - stall["last"] > stall["after_s"]

    def solve(self, sp: SearchParameters, suffix: str = "") -> None:
        routing = self.model.routing
        self.sol = routing.SolveWithParameters(sp)
        self.code = routing.status()
        self.status = _status_name(self.code) + suffix

    def from_routes(self, sp: SearchParameters, initial_routes: InitialRoutes) -> None:
        """Search from the given routes (a live re-optimisation), if they are a solution."""
        routing = self.model.routing
        start_routes = self.model.start_routes(initial_routes)
        routing.CloseModelWithParameters(sp)
        initial = routing.ReadAssignmentFromRoutes(start_routes, True)
        if initial is None:
            log.warning(
                "the initial routes are not a solution of the model; searching from scratch"
            )
            return
        self.sol = routing.SolveFromAssignmentWithParameters(initial, sp)
        self.code = routing.status()
        self.status = _status_name(self.code)


def _timed_routes(
    m: DarpModel,
    node_routes: Sequence[Sequence[int]],
    hints: Sequence[Sequence[int]],
    sol: pywrapcp.Assignment | None,
) -> tuple[list[Route], set[str], list[str]]:
    """The node routes timed by the schedule: (routes, served ids, ids that could not be
    timed on their route)."""
    routes: list[Route] = []
    served: set[str] = set()
    dropped_late: list[str] = []
    for s, v in enumerate(m.vehicles):
        stops: list[Stop] = [m.stop_of(node) for node in node_routes[s]]  # type: ignore[misc]
        if not stops:
            continue
        route, removed = time_route(m.problem, v, stops, hints[s] or None, m.break_starts(sol, s))
        dropped_late += removed
        if route is not None:
            routes.append(route)
            served.update(vis.request_id for vis in route.visits)
    return routes, served, dropped_late


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


def solve(problem: Problem, params: SolverParams | None = None) -> Plan:
    """Solve a Problem with the default engine (``params`` default to ``problem.params``)."""
    return default_solver(params).solve(problem)


__all__ = ["COST_SCALE", "OrToolsSolver", "SearchTrace", "solve"]
