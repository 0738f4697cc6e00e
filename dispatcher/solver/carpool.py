"""Carpool matching: riders to private drivers who make the trip anyway.

A carpool offer compiles to a vehicle of kind ``"carpool"`` (:func:`carpool_vehicle`): it starts
at the driver's origin and ends at the destination, leaves within the departure window and/or
arrives within the arrival window, lasts at most the direct drive plus the detour the driver
accepts (``max_duration_s``), carries ``seats`` riders and, with meeting points, boards and
drops riders only there. The independent checker (:mod:`dispatcher.solver.checker`) knows these
limits as generic vehicle limits, so every match is judged like any route.

The matcher (:func:`match_carpool`) is exact over the candidate groups it generates:

1. candidates: for every driver, every rider it can carry alone (a vectorised lower bound on the
   driving time, then the exact temporal network of the route: windows, ride-time rule, the
   driver's window and detour); pairs of those riders in each of the six stop orders, and
   triples grown from feasible pairs by inserting a third rider, as seats allow (pairs and
   triples are capped per driver, best lower bounds first);
2. an integer programme (set packing, ``scipy.optimize.milp``/HiGHS): each driver takes at most
   one group, each rider rides at most once; maximise riders matched, then minimise the total
   detour (driving time of the route minus the driver's direct drive);
3. each chosen group is timed by :class:`dispatcher.solver.schedule.RouteTimer` (pickups as late
   as the later stops allow), giving pickup and drop-off times and places for both parties.

With one rider per driver the candidates are all feasible pairs and the programme is an exact
assignment (compare with ``scipy.optimize.linear_sum_assignment``). The dedicated matcher beats
the OR-Tools model on this sub-problem (see ``python -m benchmarks.carpool``): it proves its
answer optimal over its candidates in seconds where local search stops at a time limit.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from dispatcher.errors import InputError
from dispatcher.model import (
    REASON_MESSAGES,
    CarpoolOffer,
    Plan,
    Problem,
    Reason,
    Rejection,
    Request,
    Route,
    SolverStats,
    SolveStatus,
    TimeWindow,
    Vehicle,
    hhmm,
)
from dispatcher.solver.explain import alone_report
from dispatcher.solver.kpis import compute_kpis
from dispatcher.solver.schedule import RouteTimer, Stop, stop_service_s, stop_window

GROUP_BONUS = 1_000_000  # objective weight of one matched rider, in seconds of detour
MAX_PAIRS_PER_DRIVER = 400  # pair orders tried per driver (best lower bounds first)
MAX_TRIPLES_PER_DRIVER = 300  # triple insertions tried per driver


# --------------------------------------------------------------------------------------------
# Offers -> vehicles
# --------------------------------------------------------------------------------------------


def carpool_vehicle(
    offer: CarpoolOffer, direct_s: int, incentive_per_passenger_km: float = 0.0
) -> Vehicle:
    """The vehicle of a carpool offer whose direct drive takes ``direct_s`` seconds."""
    max_duration = direct_s + offer.max_detour_s(direct_s)
    dep, arr = offer.departure_window, offer.arrival_window
    lo = dep.start_s if dep is not None else max(0, arr.start_s - max_duration)  # type: ignore[union-attr]
    hi = arr.end_s if arr is not None else dep.end_s + max_duration  # type: ignore[union-attr]
    meeting = (
        tuple(dict.fromkeys((*offer.meeting_points, offer.origin, offer.destination)))
        if offer.meeting_points
        else ()
    )
    return Vehicle(
        id=offer.driver_id,
        start=offer.origin,
        end=offer.destination,
        shift=TimeWindow(lo, max(hi, lo + 1)),
        seats=offer.seats,
        wheelchairs=0,
        cost_per_km=0.0,
        cost_per_hour=0.0,
        cost_per_passenger_km=incentive_per_passenger_km,
        kind="carpool",
        name=offer.name,
        phone=offer.phone,
        max_duration_s=max_duration,
        start_window=dep,
        end_window=arr,
        allowed_stops=meeting,
    )


def validate_offers(
    problem: Problem, offers: Sequence[CarpoolOffer], where: str = "offers"
) -> None:
    """Raise InputError naming the field of the first bad offer (places must be in the Problem)."""
    ids = {v.id for v in problem.vehicles}
    seen: set[str] = set()
    for k, o in enumerate(offers):
        w = f"{where}[{k}]"
        o.validate(w)
        if o.driver_id in seen or o.driver_id in ids:
            raise InputError(f"duplicate driver/vehicle id {o.driver_id!r}", f"{w}.driver_id")
        seen.add(o.driver_id)
        for name in ("origin", "destination"):
            place = getattr(o, name)
            try:
                problem.index(place)
            except KeyError:
                raise InputError(f"unknown location {place!r}", f"{w}.{name}") from None
        for j, m in enumerate(o.meeting_points):
            try:
                problem.index(m)
            except KeyError:
                raise InputError(f"unknown location {m!r}", f"{w}.meeting_points[{j}]") from None
        direct = problem.travel_s(o.origin, o.destination)
        if (
            o.departure_window is not None
            and o.arrival_window is not None
            and o.departure_window.start_s + direct > o.arrival_window.end_s
        ):
            raise InputError(
                f"leaving at {hhmm(o.departure_window.start_s)} the driver cannot arrive by "
                f"{hhmm(o.arrival_window.end_s)} ({round(direct / 60)} min of direct drive)",
                f"{w}.arrival_window",
            )


def with_offers(
    problem: Problem, offers: Sequence[CarpoolOffer], incentive_per_passenger_km: float = 0.0
) -> Problem:
    """``problem`` with the offers running on its day added as carpool vehicles."""
    validate_offers(problem, offers)
    extra = tuple(
        carpool_vehicle(o, problem.travel_s(o.origin, o.destination), incentive_per_passenger_km)
        for o in offers
        if o.runs_on(problem.day)
    )
    return replace(problem, vehicles=problem.vehicles + extra)


# --------------------------------------------------------------------------------------------
# The matcher
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CarpoolMatch:
    """One driver and the riders sharing the trip. ``route`` states, for both parties, the
    times and places: the driver leaves ``route.start_s`` from the origin, each visit is a rider's
    pickup or drop-off (place, arrival, start); ``detour_s`` is the driving time beyond the
    driver's direct trip (stops included), ``detour_m`` the extra distance."""

    driver_id: str
    rider_ids: tuple[str, ...]
    route: Route
    direct_s: int
    detour_s: int
    detour_m: int


@dataclass(frozen=True)
class CarpoolResult:
    matches: tuple[CarpoolMatch, ...]
    unmatched: tuple[str, ...]
    plan: Plan  # the carpool drivers' routes and the riders left unmatched (judge with check_plan)
    candidates: int = 0
    optimal: bool = False  # the integer programme proved its answer optimal over the candidates
    stats: dict[str, float] = field(default_factory=dict)

    @property
    def riders_matched(self) -> int:
        return sum(len(m.rider_ids) for m in self.matches)

    @property
    def total_detour_s(self) -> int:
        return sum(m.detour_s for m in self.matches)


class _Ctx:
    """Index arrays of one matching problem, for fast sequence checks."""

    def __init__(self, problem: Problem, riders: Sequence[Request]) -> None:
        self.p = problem
        self.dur = np.asarray(problem.duration_s, dtype=np.int64)
        self.riders = list(riders)
        self.pick = np.array([problem.index(r.pickup) for r in riders], dtype=np.int64)
        self.drop = np.array([problem.index(r.dropoff) for r in riders], dtype=np.int64)
        self.board = np.array(
            [stop_service_s(problem, r, "pickup") for r in riders], dtype=np.int64
        )
        self.alight = np.array(
            [stop_service_s(problem, r, "dropoff") for r in riders], dtype=np.int64
        )
        self.ride_limit = [problem.boarding_s(r) + problem.max_ride_s(r) for r in riders]
        big = 10**9
        self.ptw: list[tuple[int, int]] = []
        self.dtw: list[tuple[int, int]] = []
        for r in riders:
            pw, dw = stop_window(problem, r, "pickup"), stop_window(problem, r, "dropoff")
            self.ptw.append((pw.start_s, pw.end_s) if pw else (big, -big))
            self.dtw.append((dw.start_s, dw.end_s) if dw else (big, -big))

    def driving_s(self, v_start: int, v_end: int, seq: Sequence[tuple[int, bool]]) -> int:
        """Travel plus service time of the route start -> stops -> end (no waiting)."""
        total, prev = 0, v_start
        for q, is_drop in seq:
            node = int(self.drop[q] if is_drop else self.pick[q])
            total += int(self.dur[prev, node]) + int(self.alight[q] if is_drop else self.board[q])
            prev = node
        return total + int(self.dur[prev, v_end])

    def feasible(
        self, v: Vehicle, v_start: int, v_end: int, seq: Sequence[tuple[int, bool]]
    ) -> bool:
        """Exact: the simple temporal network of the route (Bellman-Ford, no breaks)."""
        n = len(seq)
        s_lo, s_hi = v.shift.start_s, v.shift.end_s
        e_lo, e_hi = v.shift.start_s, v.shift.end_s
        if v.start_window is not None:
            s_lo, s_hi = max(s_lo, v.start_window.start_s), min(s_hi, v.start_window.end_s)
        if v.end_window is not None:
            e_lo, e_hi = max(e_lo, v.end_window.start_s), min(e_hi, v.end_window.end_s)
        # variables: 0 zero, 1 start, 2..n+1 stops, n+2 end; edge (i, j, c): x_j - x_i <= c
        edges = [(0, 1, s_hi), (1, 0, -s_lo), (0, n + 2, e_hi), (n + 2, 0, -e_lo)]
        if v.max_duration_s is not None:
            edges.append((1, n + 2, v.max_duration_s))
        pos: dict[int, int] = {}
        prev_node, prev_var, prev_svc = v_start, 1, 0
        for k, (q, is_drop) in enumerate(seq):
            var = k + 2
            lo, hi = self.dtw[q] if is_drop else self.ptw[q]
            edges.append((0, var, hi))
            edges.append((var, 0, -lo))
            node = int(self.drop[q] if is_drop else self.pick[q])
            edges.append((var, prev_var, -(prev_svc + int(self.dur[prev_node, node]))))
            if is_drop:
                edges.append((pos[q], var, self.ride_limit[q]))
            else:
                pos[q] = var
            prev_node, prev_var = node, var
            prev_svc = int(self.alight[q] if is_drop else self.board[q])
        edges.append((n + 2, prev_var, -(prev_svc + int(self.dur[prev_node, v_end]))))
        inf = float("inf")
        dist = [inf] * (n + 3)
        dist[0] = 0
        for _ in range(n + 3):
            changed = False
            for i, j, c in edges:
                di = dist[i]
                if di + c < dist[j]:
                    dist[j] = di + c
                    changed = True
            if not changed:
                return True
        return False


_PAIR_ORDERS: tuple[tuple[tuple[int, bool], ...], ...] = (
    ((0, False), (1, False), (0, True), (1, True)),
    ((0, False), (1, False), (1, True), (0, True)),
    ((1, False), (0, False), (0, True), (1, True)),
    ((1, False), (0, False), (1, True), (0, True)),
    ((0, False), (0, True), (1, False), (1, True)),
    ((1, False), (1, True), (0, False), (0, True)),
)


@dataclass
class _Candidate:
    driver: int  # index in the carpool vehicle list
    riders: tuple[int, ...]  # indices in the rider list
    seq: tuple[tuple[int, bool], ...]  # (rider index, is drop-off)
    detour_s: int


@dataclass(frozen=True)
class _Driver:
    """One carpool driver as the candidate search sees it."""

    d: int  # index in the carpool vehicle list
    v: Vehicle
    vs: int  # matrix index of the start
    ve: int  # of the end
    direct: int  # driving time start -> end alone
    limit: int  # longest duty


Seq = tuple[tuple[int, bool], ...]


def _candidates(
    ctx: _Ctx, vehicles: Sequence[Vehicle], max_group: int
) -> tuple[list[_Candidate], dict[int, list[int]]]:
    """Feasible groups per driver; also the riders each driver can carry alone."""
    p = ctx.p
    out: list[_Candidate] = []
    singles_of: dict[int, list[int]] = {}
    if not ctx.riders:
        return out, singles_of
    seats = np.array([r.seats for r in ctx.riders])
    for d, v in enumerate(vehicles):
        vs, ve = p.index(v.start), p.index(v.end)
        limit = (
            v.max_duration_s if v.max_duration_s is not None else v.shift.end_s - v.shift.start_s
        )
        drv = _Driver(d, v, vs, ve, int(ctx.dur[vs, ve]), limit)
        singles = _singles(ctx, drv, seats, out)
        singles_of[d] = singles
        if max_group < 2 or len(singles) < 2 or v.seats < 2:
            continue
        best_pair = _pairs(ctx, drv, singles, seats, out)
        if max_group >= 3 and v.seats >= 3 and best_pair:
            _triples(ctx, drv, singles, seats, best_pair, out)
    return out, singles_of


def _singles(ctx: _Ctx, drv: _Driver, seats: np.ndarray, out: list[_Candidate]) -> list[int]:
    """The riders the driver can carry alone (each also a candidate)."""
    v, vs, ve = drv.v, drv.vs, drv.ve
    wheel = np.array([r.wheelchairs for r in ctx.riders])
    p_lo = np.array([w[0] for w in ctx.ptw])
    p_hi = np.array([w[1] for w in ctx.ptw])
    # vectorised lower bound on the driving time of start -> pickup -> drop-off -> end
    lb = (
        ctx.dur[vs, ctx.pick]
        + ctx.board
        + ctx.dur[ctx.pick, ctx.drop]
        + ctx.alight
        + ctx.dur[ctx.drop, ve]
    )
    ok = (lb <= drv.limit) & (seats <= v.seats) & (wheel <= v.wheelchairs)
    ok &= p_lo <= p_hi
    # the pickup must be reachable within the window from the start window
    ok &= v.shift.start_s + ctx.dur[vs, ctx.pick] <= p_hi
    ok &= p_lo <= v.shift.end_s
    singles: list[int] = []
    for q in np.flatnonzero(ok).tolist():
        if ctx.p.may_carry(v, ctx.riders[q]) is not None:
            continue
        seq: Seq = ((q, False), (q, True))
        if ctx.feasible(v, vs, ve, seq):
            singles.append(q)
            out.append(_Candidate(drv.d, (q,), seq, ctx.driving_s(vs, ve, seq) - drv.direct))
    return singles


def _pairs(
    ctx: _Ctx, drv: _Driver, singles: list[int], seats: np.ndarray, out: list[_Candidate]
) -> dict[tuple[int, int], tuple[int, Seq]]:
    """Pairs of riders: every order, best lower bounds first, capped; the feasible ones by
    their best order (driving time, sequence)."""
    v, vs, ve, limit = drv.v, drv.vs, drv.ve, drv.limit
    trials: list[tuple[int, Seq, tuple[int, int]]] = []
    for a, b in itertools.combinations(singles, 2):
        if seats[a] + seats[b] > v.seats:
            continue
        (alo, ahi), (blo, bhi) = ctx.ptw[a], ctx.ptw[b]
        if alo - bhi > limit or blo - ahi > limit:
            continue
        for order in _PAIR_ORDERS:
            seq = tuple(((a, b)[i], drop) for i, drop in order)
            drive = ctx.driving_s(vs, ve, seq)
            if drive <= limit:
                trials.append((drive, seq, (a, b)))
    trials.sort(key=lambda t: t[0])
    best_pair: dict[tuple[int, int], tuple[int, Seq]] = {}
    for drive, seq, key in trials[:MAX_PAIRS_PER_DRIVER]:
        if key in best_pair:
            continue  # a cheaper order of the same pair is already feasible
        if ctx.feasible(v, vs, ve, seq):
            best_pair[key] = (drive, seq)
            out.append(_Candidate(drv.d, key, seq, drive - drv.direct))
    return best_pair


def _triples(
    ctx: _Ctx,
    drv: _Driver,
    singles: list[int],
    seats: np.ndarray,
    best_pair: dict[tuple[int, int], tuple[int, Seq]],
    out: list[_Candidate],
) -> None:
    """Triples: a third rider inserted at its best place into each feasible pair, capped."""
    tried = 0
    seen: set[tuple[int, ...]] = set()
    for (a, b), (_, seq) in sorted(best_pair.items(), key=lambda kv: kv[1][0]):
        for c in singles:
            if c in (a, b) or seats[a] + seats[b] + seats[c] > drv.v.seats:
                continue
            key3 = tuple(sorted((a, b, c)))
            if key3 in seen:
                continue
            best = _best_third(ctx, drv, seq, c)
            tried += 1
            if best is not None:
                seen.add(key3)
                out.append(_Candidate(drv.d, key3, best[1], best[0] - drv.direct))
            if tried >= MAX_TRIPLES_PER_DRIVER:
                return


def _best_third(ctx: _Ctx, drv: _Driver, seq: Seq, c: int) -> tuple[int, Seq] | None:
    """Rider ``c`` at its cheapest feasible place in ``seq`` (driving time, sequence)."""
    best: tuple[int, Seq] | None = None
    for i in range(len(seq) + 1):
        for j in range(i, len(seq) + 1):
            s3: Seq = (*seq[:i], (c, False), *seq[i:j], (c, True), *seq[j:])
            drive = ctx.driving_s(drv.vs, drv.ve, s3)
            if (
                drive <= drv.limit
                and (best is None or drive < best[0])
                and ctx.feasible(drv.v, drv.vs, drv.ve, s3)
            ):
                best = (drive, s3)
    return best


def _select(
    cands: Sequence[_Candidate], n_drivers: int, n_riders: int, time_limit_s: float
) -> tuple[list[int], bool]:
    """Set packing by MILP: indices of the chosen candidates and whether optimality was proved."""
    if not cands:
        return [], True
    m = len(cands)
    rows, cols = [], []
    for k, c in enumerate(cands):
        rows.append(c.driver)
        cols.append(k)
        for q in c.riders:
            rows.append(n_drivers + q)
            cols.append(k)
    a = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_drivers + n_riders, m)).tocsr()
    cost = np.array([c.detour_s - GROUP_BONUS * len(c.riders) for c in cands], dtype=np.float64)
    res = milp(
        cost,
        constraints=LinearConstraint(a, -np.inf, 1.0),
        integrality=np.ones(m),
        bounds=Bounds(0, 1),
        options={"time_limit": max(0.5, time_limit_s), "mip_rel_gap": 0.0},
    )
    if res.x is None:
        return [], False
    chosen = [k for k in range(m) if res.x[k] > 0.5]
    return chosen, bool(res.status == 0)


def _unmatched_rejection(problem: Problem, r: Request, carriers: list[str]) -> Rejection:
    if carriers:
        reason = Reason.DISPLACED
        details: dict[str, object] = {"drivers": carriers}
    else:
        report = alone_report(problem, r)
        reason = report.refusal_reason
        details = dict(report.details)
        if reason == Reason.DISPLACED:  # the explainer's outer bound; no driver takes it alone
            reason = Reason.SHIFT_TOO_SHORT
        if not r.accepts_carpool:
            details["accepts_carpool"] = False
    msg = REASON_MESSAGES[reason]
    return Rejection(r.id, reason, msg["fr"], msg["en"], details)


def match_carpool(
    problem: Problem,
    offers: Sequence[CarpoolOffer] = (),
    *,
    max_group: int = 3,
    time_limit_s: float = 30.0,
    incentive_per_passenger_km: float = 0.0,
) -> CarpoolResult:
    """Match the Problem's requests (riders) to carpool drivers: the ``offers`` (compiled and
    added to the Problem) and any vehicle of kind ``"carpool"`` already in it. Other vehicles
    are ignored. ``max_group`` caps the riders per driver considered (1: one rider per driver,
    an exact assignment). Returns the matches, the riders left, and a Plan over the carpool
    problem (``result.plan``) that :func:`dispatcher.solver.checker.check_plan` can judge
    against the Problem returned by :func:`carpool_problem`."""
    if max_group < 1:
        raise InputError(f"must be at least 1, got {max_group!r}", "max_group")
    t0 = time.perf_counter()
    cp = carpool_problem(problem, offers, incentive_per_passenger_km)
    vehicles = list(cp.vehicles)
    riders = list(cp.requests)
    ctx = _Ctx(cp, riders)
    cands, singles_of = _candidates(ctx, vehicles, max_group)
    t_cand = time.perf_counter()
    chosen, optimal = _select(cands, len(vehicles), len(riders), time_limit_s - (t_cand - t0))
    t_sel = time.perf_counter()
    matches: list[CarpoolMatch] = []
    routes: list[Route] = []
    matched: set[int] = set()
    for k in sorted(chosen, key=lambda k: cands[k].driver):
        c = cands[k]
        v = vehicles[c.driver]
        stops: list[Stop] = [(riders[q], "dropoff" if drop else "pickup") for q, drop in c.seq]
        route = RouteTimer(cp, v, stops).schedule()
        if route is None:  # cannot happen: same network as the candidate check
            continue
        route = replace(route, mode="carpool")
        direct_s = cp.travel_s(v.start, v.end)
        matches.append(
            CarpoolMatch(
                driver_id=v.id,
                rider_ids=tuple(riders[q].id for q in c.riders),
                route=route,
                direct_s=direct_s,
                detour_s=c.detour_s,
                detour_m=route.distance_m - cp.travel_m(v.start, v.end),
            )
        )
        routes.append(route)
        matched.update(c.riders)
    carriers_of: dict[int, list[str]] = {}
    for d, qs in singles_of.items():
        for q in qs:
            carriers_of.setdefault(q, []).append(vehicles[d].id)
    rejections = [
        _unmatched_rejection(cp, riders[q], carriers_of.get(q, []))
        for q in range(len(riders))
        if q not in matched
    ]
    kpis = compute_kpis(cp, routes, rejections)
    total = time.perf_counter() - t0
    plan = Plan(
        routes=tuple(routes),
        rejections=tuple(rejections),
        kpis=kpis,
        stats=SolverStats(
            status=SolveStatus.OPTIMAL if optimal else SolveStatus.SOLVED,
            objective=float(sum(m.detour_s for m in matches)),
            total_s=total,
            solver="carpool-milp",
        ),
    )
    return CarpoolResult(
        matches=tuple(matches),
        unmatched=tuple(j.request_id for j in rejections),
        plan=plan,
        candidates=len(cands),
        optimal=optimal,
        stats={"candidates_s": t_cand - t0, "select_s": t_sel - t_cand, "total_s": total},
    )


def carpool_problem(
    problem: Problem, offers: Sequence[CarpoolOffer] = (), incentive_per_passenger_km: float = 0.0
) -> Problem:
    """The Problem the matcher solves: every request is kept (riders refusing carpools end
    unmatched with their reason); the vehicles are the carpool drivers only (the offers running
    on the day, plus carpool vehicles already in ``problem``)."""
    base = with_offers(problem, offers, incentive_per_passenger_km) if offers else problem
    return replace(base, vehicles=tuple(v for v in base.vehicles if v.kind == "carpool"))


__all__ = [
    "CarpoolMatch",
    "CarpoolResult",
    "carpool_problem",
    "carpool_vehicle",
    "match_carpool",
    "validate_offers",
    "with_offers",
]
