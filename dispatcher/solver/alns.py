"""An adaptive large neighbourhood search (ALNS) that improves the OR-Tools plan.

OR-Tools' local search stalls on dial-a-ride days (benchmarks/results/solver_experiments.md):
its operators move one node or one pair at a time, and the ride-time limits reject almost every
such move. Ropke & Pisinger's ALNS (2006) instead removes many requests at once (random, the
costliest, related ones, a whole route) and re-inserts them (greedy or regret, with noise),
accepting worse plans by simulated annealing and favouring the operators that pay off.

The model is compact arrays (:mod:`dispatcher.solver.alns_kernels` holds the compiled kernels),
packed from the day's node model (:mod:`dispatcher.solver.node_model`, which the OR-Tools model
is built from too): its nodes, its time matrix (service at the from-node plus travel), its arc costs
per vehicle, the stop windows, seats and wheelchairs, ride-time limits, route duration limits,
the vehicles each request may use, refusal penalties and fixed vehicle costs. A route is
accepted only if an exact timing exists (the same simple temporal network that
:class:`dispatcher.solver.schedule.RouteTimer` solves; a property test holds them together).
Each route costs its arcs (distance), its vehicle's fixed cost and the drivers' hours on its
shortest span, waiting included, as the operator pays them (the KPIs' cost; OR-Tools' arc costs
charge travel and service time only). Of a vehicle's drivers' breaks it places one, as a
floating stop of the route (``breaks`` of :func:`build_model`); its plans of days with breaks are
then timed exactly with all of them (``SearchOptions.alns_breaks``). A balance cost
(``ObjectiveWeights.balance_per_hour``, OR-Tools' global span cost) is in the objective the
acceptance compares: its weight times the latest end of a used route minus the earliest start of
one, each route timed on its shortest span; insertion ignores it (it prices a request by its
route's cost alone), the plan is scored with it after every repair.
Linked trips (an outbound and its return) are removed and inserted as a unit, and no plan with
one half served is ever scored (see :mod:`dispatcher.solver.alns_kernels`); their order is in
the windows, as everywhere (:mod:`dispatcher.solver.linked`).

When vehicles have a fixed cost (benchmarks ranked by fleet size first), a first phase empties
routes: the smallest route's requests go to a request bank and the search runs on one vehicle
fewer, the bank weighing more than any distance, until the bank is empty (next route) or the
phase's time is up (Ropke & Pisinger's vehicle minimisation).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from dispatcher.model import Break, Problem, Request, Vehicle
from dispatcher.solver import alns_kernels as K
from dispatcher.solver.alns_gate import applicable, mark_ready
from dispatcher.solver.node_model import COST_SCALE, NO_LIMIT, compile_nodes

ITERATION_CHUNK = 20  # iterations per compiled call under an iteration limit


@dataclass
class AlnsModel:
    """The arrays of one day's model (see :mod:`dispatcher.solver.alns_kernels` for ``M``)."""

    M: tuple[object, ...]
    nv: int
    nr: int

    @property
    def n_nodes(self) -> int:
        return 2 * self.nv + 2 * self.nr


@dataclass
class AlnsResult:
    """Routes (node lists without depots, per vehicle slot), objective (model units), and what the
    search did."""

    routes: list[list[int]]
    objective: int
    start_objective: int
    iterations: int = 0
    improvements: int = 0
    eliminated: int = 0
    trace: list[tuple[float, int]] = field(default_factory=list)


def build_model(
    problem: Problem,
    requests: Sequence[Request],
    vehicles: Sequence[Vehicle],
    allowed: Sequence[Sequence[int]],
    *,
    span_cost: bool = True,
    breaks: Sequence[Break | None] | None = None,
) -> AlnsModel:
    """The arrays for ``requests`` served by ``vehicles`` (``allowed[q]``: the vehicle slots
    request q may use), packed from their node model (:mod:`dispatcher.solver.node_model`, the
    one the OR-Tools model is built from).

    ``span_cost``: the drivers' hours are charged on each route's shortest span, from leaving
    the depot to coming back, waiting included (as the KPIs' cost charges them) instead of on
    the arcs' travel and service time (as OR-Tools' arc costs do). Vehicles without an hourly
    cost (the literature's instances) get the same model either way.

    ``breaks[s]``: a break vehicle slot s takes as a floating stop of its route (window clipped
    to the shift), or None; the vehicles themselves carry no breaks here."""
    nodes = compile_nodes(problem, requests, vehicles, span_cost)
    nv, nr = nodes.nv, nodes.nr
    allowed_m = np.zeros((nr, nv), dtype=np.bool_)
    for q, slots in enumerate(allowed):
        allowed_m[q, list(slots)] = True
    # the duty limits as a route duration: the layer runs on days without breaks, where the
    # continuous driving limit bounds the whole route
    maxdur = np.where(nodes.duty == NO_LIMIT, 10 * nodes.horizon_s, nodes.duty)
    brk = _break_rows(breaks or (), nv)
    rel = _relatedness(nodes.time, nodes.lo, nodes.hi, nv, nr)
    mate = np.full(nr, -1, dtype=np.int64)
    q_of = {r.id: q for q, r in enumerate(requests)}
    for o, back in problem.linked_pairs():
        if o.id in q_of and back.id in q_of:
            mate[q_of[o.id]], mate[q_of[back.id]] = q_of[back.id], q_of[o.id]
    M = (
        nodes.time,
        nodes.cost,
        nodes.vclass,
        nodes.lo,
        nodes.hi,
        nodes.demand,
        nodes.capacity,
        nodes.ride,
        maxdur,
        nodes.fixed,
        2 * nodes.penalty,  # a refused request: both its nodes
        allowed_m,
        rel,
        np.int64(2 * nv),
        mate,
        nodes.span_w,
        brk,
        nodes.service,
        np.int64(nodes.balance_w),  # the balance cost per second of the global span
    )
    return AlnsModel(M, nv, nr)


def _break_rows(breaks: Sequence[Break | None], nv: int) -> np.ndarray:
    """Per vehicle slot: its break's duration, earliest and latest start (zeros: none)."""
    brk = np.zeros((3, nv), dtype=np.int64)
    for s, b in enumerate(breaks):
        if b is not None:
            brk[:, s] = (b.duration_s, b.window.start_s, b.window.end_s - b.duration_s)
    return brk


def _relatedness(T: np.ndarray, lo: np.ndarray, hi: np.ndarray, nv: int, nr: int) -> np.ndarray:
    """Shaw relatedness between requests: travel between their pickups and between their
    drop-offs, plus the distance between their window centres, each scaled to [0, 1]
    (Ropke & Pisinger's weights 9 and 3)."""
    if nr == 0:
        return np.zeros((0, 0))
    p = 2 * nv + 2 * np.arange(nr)
    d = p + 1
    sp = np.minimum(T[np.ix_(p, p)], T[np.ix_(p, p)].T).astype(np.float64)
    sd = np.minimum(T[np.ix_(d, d)], T[np.ix_(d, d)].T).astype(np.float64)
    space = sp + sd
    cp = (lo[p] + hi[p]) / 2.0
    cd = (lo[d] + hi[d]) / 2.0
    tdiff = np.abs(cp[:, None] - cp[None, :]) + np.abs(cd[:, None] - cd[None, :])
    space /= max(float(space.max()), 1.0)
    tdiff /= max(float(tdiff.max()), 1.0)
    return np.ascontiguousarray(9.0 * space + 3.0 * tdiff)


class _State:
    """One solution: routes as node rows (depots included), where each request is, route costs."""

    def __init__(self, model: AlnsModel) -> None:
        nv, nr = model.nv, model.nr
        self.seq = np.zeros((nv, 2 * nr + 4), dtype=np.int64)
        self.slen = np.full(nv, 2, dtype=np.int64)
        self.where = np.full(nr, -1, dtype=np.int64)
        self.rcost = np.zeros(nv, dtype=np.int64)
        for s in range(nv):
            self.seq[s, 0] = s
            self.seq[s, 1] = nv + s

    def tup(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return (self.seq, self.slen, self.where, self.rcost)

    def copy_from(self, other: _State) -> None:
        self.seq[:, :] = other.seq
        self.slen[:] = other.slen
        self.where[:] = other.where
        self.rcost[:] = other.rcost

    def routes(self, nv: int) -> list[list[int]]:
        return [[int(x) for x in self.seq[s, 1 : self.slen[s] - 1]] for s in range(nv)]


def _scratch(model: AlnsModel) -> tuple[np.ndarray, ...]:
    nv, nr = model.nv, model.nr
    maxl = 2 * nr + 6
    buf = min(maxl * maxl, 1 << 16)
    return (
        np.zeros((6, maxl), dtype=np.int64),
        np.zeros(model.n_nodes, dtype=np.int64),
        np.zeros(maxl, dtype=np.int64),
        np.zeros(buf, dtype=np.int64),
        np.zeros(buf, dtype=np.int64),
        np.zeros(buf, dtype=np.int64),
        np.zeros((nr, nv), dtype=np.int64),
        np.zeros((nr, nv), dtype=np.float64),
        np.zeros((nr, nv), dtype=np.int64),
        np.zeros((nr, nv), dtype=np.int64),
    )


def route_feasible(model: AlnsModel, vehicle: int, nodes: Sequence[int]) -> bool:
    """Whether vehicle slot ``vehicle`` can serve the request nodes ``nodes`` in this order (the
    compiled exact check; the pickup of each request must come before its drop-off)."""
    return route_span(model, vehicle, nodes) is not None


def route_span(model: AlnsModel, vehicle: int, nodes: Sequence[int]) -> int | None:
    """The shortest span (seconds from leaving the depot to coming back) of vehicle slot
    ``vehicle`` serving the request nodes ``nodes`` in this order, or None if it cannot."""
    nv = model.nv
    seen: set[int] = set()
    for nd in nodes:
        if nd < 2 * nv or nd >= model.n_nodes:
            raise ValueError(f"node {nd} is not a request node")
        q, is_drop = divmod(nd - 2 * nv, 2)
        if is_drop and q not in seen:
            return None
        seen.add(q)
    row = np.array([vehicle, *nodes, nv + vehicle], dtype=np.int64)
    x = np.zeros(len(row) + 2, dtype=np.int64)
    z = np.zeros(len(row) + 2, dtype=np.int64)
    pos = np.zeros(model.n_nodes, dtype=np.int64)
    if not K.route_ok(row, len(row), vehicle, model.M, x, pos):
        return None
    return int(K.min_span(row, len(row), vehicle, model.M, x, z, pos))


def _load(model: AlnsModel, routes: Sequence[Sequence[int]], W: tuple[np.ndarray, ...]) -> _State:
    """The state of the given routes; a route that fails the exact check (never expected from
    OR-Tools) leaves its requests unassigned."""
    st = _State(model)
    nv = model.nv
    for s, nodes in enumerate(routes):
        if not nodes:
            continue
        row = np.array([s, *nodes, nv + s], dtype=np.int64)
        if not K.route_ok(row, len(row), s, model.M, W[0][4], W[1]):
            continue
        st.seq[s, : len(row)] = row
        st.slen[s] = len(row)
        for nd in nodes:
            st.where[(nd - 2 * nv) // 2] = s
        st.rcost[s] = K.route_cost(st.seq[s], st.slen[s], s, model.M, W)
    K.drop_orphans(st.seq, st.slen, st.where, st.rcost, model.M, W)
    return st


def plan_objective(model: AlnsModel, routes: Sequence[Sequence[int]]) -> int:
    """The objective of the given routes (per vehicle slot, request nodes without depots) in
    the layer's model: a route that fails its exact check counts as its requests refused."""
    W = _scratch(model)
    return _objective(model, _load(model, routes, W), W)


def _objective(
    model: AlnsModel, st: _State, W: tuple[np.ndarray, ...], bank_w: int | None = None
) -> int:
    """The plan's objective (the request bank's weight ``bank_w`` instead of the penalties)."""
    mode, w = (0, 0) if bank_w is None else (1, bank_w)
    return int(K.plan_cost(st.seq, st.slen, st.rcost, st.where, model.M, W, mode, w))


@dataclass(frozen=True)
class AlnsOptions:
    """Knobs of the search (defaults measured on the Cordeau and Li & Lim sets).

    ``start_worse``: the initial temperature accepts a plan this much (share of the arc cost)
    worse with probability 1/2; it cools geometrically to ``end_share`` of that by the end.
    ``min_remove``/``max_remove_share``/``max_remove``: how many requests a destroy removes.
    ``fleet_share``: share of the time for emptying routes when vehicles have a fixed cost.
    ``noise``: the repair noise, a share of the largest arc cost between request nodes.
    ``min_iterations``: a timed run (not one bounded by ``max_iterations``) lowers the largest
    removal while its iterations are too slow to reach this many in its time, and raises it
    again (up to ``max_remove``) when they are fast: an iteration's repair grows with the
    removal times the routes' length, so on a day of long routes or a short limit a fixed
    removal size leaves the layer a few hundred iterations; 0: the removal is never bounded.
    """

    start_worse: float = 0.005
    end_share: float = 0.02
    min_remove: int = 2
    min_remove_share: float = 0.0
    max_remove_share: float = 0.7
    max_remove: int = 80
    fleet_share: float = 0.5
    noise: float = 0.025
    reaction: float = 0.1
    segment: int = 100
    cycles: int = 1
    destroy_off: tuple[int, ...] = ()
    min_iterations: int = 3000


class _Search:
    """The ALNS loop: chunks of compiled iterations between time checks."""

    def __init__(self, model: AlnsModel, options: AlnsOptions, seed: int) -> None:
        self.model = model
        self.opt = options
        self.W = _scratch(model)
        nd, nrp = K.N_DESTROY, len(K.REPAIRS)
        self.dw = np.ones(nd)
        self.rw = np.ones(nrp)
        self.dscore = np.zeros(nd)
        self.rscore = np.zeros(nrp)
        self.duse = np.zeros(nd)
        self.ruse = np.zeros(nrp)
        self.dw[list(options.destroy_off)] = 0.0
        self.since_update = 0
        self.iterations = 0
        K.seed_rng(seed)
        C = model.M[1]
        assert isinstance(C, np.ndarray)
        req = C[:, 2 * model.nv :, 2 * model.nv :]
        self.noise_amp = options.noise * float(req.max()) if req.size else 0.0

    def _update_weights(self) -> None:
        r = self.opt.reaction
        for w, sc, use in ((self.dw, self.dscore, self.duse), (self.rw, self.rscore, self.ruse)):
            mask = use > 0
            w[mask] = w[mask] * (1 - r) + r * sc[mask] / use[mask]
            np.maximum(w, 0.05, out=w)
            sc[:] = 0
            use[:] = 0
        self.dw[list(self.opt.destroy_off)] = 0.0
        self.since_update = 0

    def run(
        self,
        cur: _State,
        best: _State,
        objs: np.ndarray,
        active: np.ndarray,
        deadline: float,
        temp: tuple[float, float],
        mode: int,
        bank_w: int,
        max_iterations: int | None,
        stop_when_assigned: bool = False,
    ) -> int:
        """Iterate until ``deadline`` (or ``max_iterations``), the temperature going from temp[0]
        to temp[1] geometrically in time (in iterations with ``max_iterations``). Returns the
        number of new best solutions."""
        model, opt = self.model, self.opt
        cand = _State(model)
        nr = model.nr
        kmax = max(1, min(opt.max_remove, int(round(opt.max_remove_share * nr))))
        kmin = max(1, min(max(opt.min_remove, int(round(opt.min_remove_share * nr))), kmax))
        t_start = time.perf_counter()
        span = max(deadline - t_start, 1e-9)
        # seconds an iteration may take for the run to reach min_iterations (timed runs only)
        afford = span / opt.min_iterations if opt.min_iterations and max_iterations is None else 0
        k_hi = kmax
        per_avg = 0.0
        chunk = 1
        done = 0
        found = 0
        while True:
            now = time.perf_counter()
            if max_iterations is not None:
                if done >= max_iterations:
                    break
                frac = done / max_iterations
                # chunks of a fixed size: the same plan for a seed, however fast the machine
                n = min(ITERATION_CHUNK, max_iterations - done)
            else:
                if now >= deadline:
                    break
                frac = (now - t_start) / span
                n = chunk
            n = max(1, min(n, opt.segment - self.since_update))  # weights: every segment exactly
            t = temp[0] * (temp[1] / temp[0]) ** frac if temp[0] > 0 and temp[1] > 0 else 0.0
            t_c = time.perf_counter()
            found += K.run_chunk(
                n,
                t,
                kmin,
                k_hi,
                self.noise_amp,
                mode,
                bank_w,
                model.M,
                self.W,
                cur.tup(),
                best.tup(),
                cand.tup(),
                active,
                self.dw,
                self.rw,
                self.dscore,
                self.rscore,
                self.duse,
                self.ruse,
                objs,
            )
            el = time.perf_counter() - t_c
            done += n
            self.iterations += n
            self.since_update += n
            if self.since_update >= opt.segment:
                self._update_weights()
            # chunks of about 20 ms between time checks
            per = el / n if n else 1e-3
            if afford:
                per_avg = per if per_avg == 0 else 0.7 * per_avg + 0.3 * per
                k_hi = _removal_cap(k_hi, kmin, kmax, per_avg / afford)
            chunk = int(max(1, min(1000, 0.02 / max(per, 1e-7))))
            if max_iterations is None:
                left = deadline - time.perf_counter()
                chunk = max(1, min(chunk, int(left / max(per, 1e-7))))
            if stop_when_assigned and (best.where >= 0).all():
                break
        return found


def _removal_cap(k_hi: int, kmin: int, kmax: int, slowness: float) -> int:
    """The largest removal for the next chunk: lower while iterations take more than the run
    can afford (``slowness`` > 1; the repair's work grows about as the removal's square),
    higher again while they take less than half of it."""
    if slowness > 1.0 and k_hi > kmin:
        return max(kmin, min(k_hi - 1, int(k_hi * max(0.5, slowness**-0.5))))
    if slowness < 0.5 and k_hi < kmax:
        return min(kmax, k_hi + max(1, k_hi // 8))
    return k_hi


def refine_routes(
    model: AlnsModel,
    routes: Sequence[Sequence[int]],
    time_limit_s: float,
    seed: int = 0,
    *,
    max_iterations: int | None = None,
    options: AlnsOptions | None = None,
) -> AlnsResult:
    """Improve ``routes`` (per vehicle slot, request nodes without depots) for ``time_limit_s``
    seconds, or exactly ``max_iterations`` iterations (then deterministic for a seed). The result
    is never worse than the start (the start is returned if nothing better is found)."""
    opt = options or AlnsOptions()
    t0 = time.perf_counter()
    deadline = t0 + max(0.0, time_limit_s)
    search = _Search(model, opt, seed)
    W = search.W
    start = _load(model, routes, W)
    start_obj = _objective(model, start, W)
    # requests that the start routes leave out get a chance straight away
    cur = _State(model)
    cur.copy_from(start)
    best = _State(model)
    best.copy_from(start)
    nv, nr = model.nv, model.nr
    if nr == 0:
        return AlnsResult(start.routes(nv), start_obj, start_obj)
    fixed = model.M[9]
    assert isinstance(fixed, np.ndarray)
    active = np.ones(nv, dtype=np.bool_)
    if (start.where < 0).any():
        # requests left out by the start get a greedy chance first (this also gives the
        # temperature a scale when the start is empty)
        objs = np.full(2, float(start_obj))
        search.run(cur, best, objs, active, deadline, (0.0, 0.0), 0, 0, 1)
        cur.copy_from(best)
    arc = int(best.rcost.sum() - fixed[best.slen > 2].sum())
    t_hi = opt.start_worse * max(arc, 1) / math.log(2)
    t_lo = t_hi * opt.end_share
    result = AlnsResult(start.routes(nv), start_obj, start_obj)
    iters_left = None if max_iterations is None else max(0, max_iterations - search.iterations)

    # ---- phase 1: fewer vehicles when they cost a fixed amount ----
    if fixed.max() > 0 and (best.where >= 0).all() and (best.slen > 2).sum() > 1:
        fleet_deadline = t0 + opt.fleet_share * max(0.0, time_limit_s)
        fleet_iters = None if max_iterations is None else int(opt.fleet_share * max_iterations)
        bank_w = int(max(arc, 1))  # one request in the bank weighs more than all the arcs
        while True:
            if max_iterations is None and time.perf_counter() >= fleet_deadline:
                break
            if fleet_iters is not None and fleet_iters <= 0:
                break
            used = np.flatnonzero(best.slen > 2)
            if len(used) <= 1:
                break
            target = int(used[np.argmin(best.slen[used])])
            active[:] = False
            active[used] = True
            active[target] = False
            trial = _State(model)
            trial.copy_from(best)
            row = trial.seq[target]
            for nd in row[1 : trial.slen[target] - 1]:
                trial.where[(int(nd) - 2 * nv) // 2] = -1
            row[1] = row[trial.slen[target] - 1]
            trial.slen[target] = 2
            trial.rcost[target] = 0
            K.drop_orphans(trial.seq, trial.slen, trial.where, trial.rcost, model.M, W)
            tbest = _State(model)
            tbest.copy_from(trial)
            objs = np.zeros(2)
            objs[:] = float(_objective(model, trial, W, bank_w))
            before = search.iterations
            search.run(
                trial,
                tbest,
                objs,
                active,
                fleet_deadline,
                (t_hi, t_hi),
                1,
                bank_w,
                fleet_iters,
                stop_when_assigned=True,
            )
            if fleet_iters is not None:
                fleet_iters -= search.iterations - before
            if (tbest.where >= 0).all():
                best.copy_from(tbest)
                result.eliminated += 1
                result.trace.append((time.perf_counter() - t0, _objective(model, best, W)))
            else:
                break
        active[:] = True
        if max_iterations is not None:
            iters_left = max(0, max_iterations - search.iterations)
        cur.copy_from(best)

    # ---- phase 2: cost, in ``cycles`` annealing runs, each from the best plan so far ----
    objs = np.zeros(2)
    n_cycles = max(1, opt.cycles)
    t_from = time.perf_counter()
    for c in range(n_cycles):
        objs[:] = float(_objective(model, best, W))
        cur.copy_from(best)
        end = t_from + (deadline - t_from) * (c + 1) / n_cycles
        its = (
            None
            if iters_left is None
            else iters_left // n_cycles + (iters_left % n_cycles if c == n_cycles - 1 else 0)
        )
        result.improvements += search.run(cur, best, objs, active, end, (t_hi, t_lo), 0, 0, its)
    final = _objective(model, best, W)
    result.iterations = search.iterations
    if final <= start_obj:
        result.routes = best.routes(nv)
        result.objective = final
    result.trace.append((time.perf_counter() - t0, result.objective))
    return result


def warm_up() -> float:
    """Compile (or load from numba's cache) every kernel on a tiny model; returns the seconds
    it took (the first call in a fresh environment compiles, later ones read the cache). A solve
    never calls it itself: :mod:`dispatcher.solver.alns_gate` does, in the background."""
    t = time.perf_counter()
    nv, nr = 1, 1
    n = 2 * nv + 2 * nr
    T = np.ones((n, n), dtype=np.int64)
    M = (
        T,
        np.ones((1, n, n), dtype=np.int64),
        np.zeros(nv, dtype=np.int64),
        np.zeros(n, dtype=np.int64),
        np.full(n, 1000, dtype=np.int64),
        np.array([[0, 0, 1, -1], [0, 0, 0, 0]], dtype=np.int64),
        np.array([[1], [0]], dtype=np.int64),
        np.array([100], dtype=np.int64),
        np.array([1000], dtype=np.int64),
        np.zeros(nv, dtype=np.int64),
        np.array([10**6], dtype=np.int64),
        np.ones((nr, nv), dtype=np.bool_),
        np.zeros((nr, nr)),
        np.int64(2 * nv),
        np.full(nr, -1, dtype=np.int64),
        np.ones(nv, dtype=np.float64),
        np.array([[1], [0], [10]], dtype=np.int64),
        np.zeros(n, dtype=np.int64),
        np.int64(1),
    )
    refine_routes(AlnsModel(M, nv, nr), [[]], 0.0, max_iterations=3)
    if K.HAVE_NUMBA:
        mark_ready()
    return time.perf_counter() - t


__all__ = [
    "COST_SCALE",
    "AlnsModel",
    "AlnsOptions",
    "AlnsResult",
    "applicable",
    "build_model",
    "plan_objective",
    "refine_routes",
    "route_feasible",
    "route_span",
    "warm_up",
]
