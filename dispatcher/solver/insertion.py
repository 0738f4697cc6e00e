"""Real-time insertion: add one request to the current plan of a day without re-solving it.

For every vehicle able to carry the party and every pair of positions (pickup before drop-off)
after the vehicle's locked prefix (visits already done), a screen of necessary conditions is
evaluated in O(1) per pair (amortised), from arrays computed once per route:

* earliest start of each visit (forward pass from the depot or the last done visit) and
  latest start (backward pass from the end of the shift), with the time windows of the Problem
  clipped to the service hours (breaks and ride limits are relaxed here: the screen never
  rejects a feasible insertion for them);
* the load profile (seats and wheelchair places between the pickup and the drop-off);
* the ride-time slack of the passengers on board across each gap (zero-wait ride time plus the
  detour must stay within their maximum ride);
* the new passenger's own zero-wait ride time.

Candidates that pass the screen are ranked by added cost (the vehicle's euros per km and per
hour, as in the OR-Tools objective, plus its fixed cost when it was unused) and confirmed, in
that order, by the exact timing of the whole route
(:func:`dispatcher.solver.schedule.schedule_route`, which states the same constraints as the
checker: windows, travel, service, shift, breaks, ride times). The first confirmed candidate is
the answer.

The Problem passed in is the *live* problem of :mod:`dispatcher.solver.live`: promises and
what is done are already in its windows, so a confirmed insertion keeps every promise.
"""

from __future__ import annotations

import bisect
import copy
import functools
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace

from dispatcher.model import Matrix, Plan, Problem, Request, Route, TimeWindow, Vehicle, Visit
from dispatcher.solver.kpis import compute_kpis
from dispatcher.solver.schedule import (
    Stop,
    schedule_route,
    stop_service_s,
    stop_window,
    usable_breaks,
)

BIG = 10**9


DEFAULT_MAX_EXACT = 40
"""How many screened candidates (cheapest first) are confirmed exactly before giving up."""


@dataclass(frozen=True)
class Insertion:
    """A confirmed insertion: the new route of ``vehicle_id`` and the plan with it."""

    request_id: str
    vehicle_id: str
    pickup_index: int  # index of the pickup in the new route's visits
    dropoff_index: int
    added_cost: float  # euros (screen estimate: distance and time, fixed cost if newly used)
    route: Route
    plan: Plan
    problem: Problem  # the problem with the request in it
    candidates: int = 0  # pairs that passed the screen
    exact_tries: int = 0  # exact timings done
    elapsed_s: float = 0.0

    @property
    def pickup_s(self) -> int:
        return self.route.visits[self.pickup_index].start_s

    @property
    def dropoff_s(self) -> int:
        return self.route.visits[self.dropoff_index].start_s


@dataclass
class InsertionStats:
    """What the last search did (for benchmarks and logs)."""

    screened: int = 0
    candidates: int = 0
    exact_tries: int = 0
    elapsed_s: float = 0.0
    reasons: dict[str, int] = field(default_factory=dict)


_MATRIX_CACHE: dict[int, tuple[object, list[list[int]]]] = {}


def as_lists(matrix: Matrix) -> list[list[int]]:
    """The matrix as nested lists of ints (fast scalar indexing), cached per matrix object."""
    if isinstance(matrix, list) and (not matrix or isinstance(matrix[0], list)):
        return matrix
    hit = _MATRIX_CACHE.get(id(matrix))
    if hit is not None and hit[0] is matrix:
        return hit[1]
    out = [[int(x) for x in row] for row in matrix]
    if len(_MATRIX_CACHE) > 8:
        _MATRIX_CACHE.clear()
    _MATRIX_CACHE[id(matrix)] = (matrix, out)
    return out


def locked_prefix(route: Route, now_s: int | None) -> int:
    """Number of visits of ``route`` that are done at ``now_s`` (start of service before now).
    Visits are in time order, so the done ones form a prefix."""
    if now_s is None:
        return 0
    k = 0
    for v in route.visits:
        if v.start_s < now_s:
            k += 1
        else:
            break
    return k


def _fits(r: Request, v: Vehicle) -> bool:
    return r.seats <= v.seats and r.wheelchairs <= v.wheelchairs


class _RouteArrays:
    """Per-route arrays for the screen (positions 0..n-1 are the visits)."""

    def __init__(
        self,
        problem: Problem,
        vehicle: Vehicle,
        route: Route | None,
        stops: list[Stop],
        locked: int,
    ) -> None:
        p = problem
        dur = as_lists(p.duration_s)
        n = len(stops)
        self.n = n
        self.locked = locked
        self.loc = [p.index(r.pickup if kind == "pickup" else r.dropoff) for r, kind in stops]
        self.svc = [stop_service_s(p, r, kind) for r, kind in stops]
        lo: list[int] = []
        hi: list[int] = []
        for r, kind in stops:
            w = stop_window(p, r, kind)
            if w is None:  # cannot happen on a valid plan; makes the route unusable for the screen
                lo.append(BIG)
                hi.append(-BIG)
            else:
                lo.append(w.start_s)
                hi.append(w.end_s)
        self.lo, self.hi = lo, hi
        self.start_loc = p.index(vehicle.start)
        self.end_loc = p.index(vehicle.end)
        # earliest departure from the position before the first free slot
        if locked > 0 and route is not None:
            done = route.visits[locked - 1]
            base_dep = done.departure_s
        else:
            base_dep = vehicle.shift.start_s
        self.base_dep = base_dep
        # earliest starts (forward), from the locked prefix on
        e = [0] * n
        if route is not None:
            for k in range(locked):
                e[k] = route.visits[k].start_s
        prev_loc, dep = (
            (self.loc[locked - 1], base_dep) if locked > 0 else (self.start_loc, base_dep)
        )
        for k in range(locked, n):
            t = max(lo[k], dep + int(dur[prev_loc][self.loc[k]]))
            e[k] = t
            dep = t + self.svc[k]
            prev_loc = self.loc[k]
        self.e = e
        # latest starts (backward) from the end of the shift
        lat = [0] * n
        nxt_loc, nxt_t = self.end_loc, vehicle.shift.end_s
        for k in range(n - 1, -1, -1):
            t = min(hi[k], nxt_t - int(dur[self.loc[k]][nxt_loc]) - self.svc[k])
            lat[k] = t
            nxt_loc, nxt_t = self.loc[k], t
        self.lat = lat
        # loads after each visit
        seats = [0] * n
        wheel = [0] * n
        s = w_ = 0
        for k, (r, kind) in enumerate(stops):
            sign = 1 if kind == "pickup" else -1
            s += sign * r.seats
            w_ += sign * r.wheelchairs
            seats[k], wheel[k] = s, w_
        self.seats, self.wheel = seats, wheel
        # zero-wait cumulative time (start of service of k when nobody waits)
        cum = [0] * n
        t = 0
        prev = self.start_loc
        for k in range(n):
            t += int(dur[prev][self.loc[k]])
            cum[k] = t
            t += self.svc[k]
            prev = self.loc[k]
        # ride slack per gap g (g = position of insertion: between visit g-1 and visit g)
        rs = [BIG] * (n + 1)
        pos: dict[str, int] = {}
        for k, (r, kind) in enumerate(stops):
            if kind == "pickup":
                pos[r.id] = k
            elif r.id in pos:
                a = pos[r.id]
                slack = p.max_ride_s(r) - (cum[k] - cum[a] - self.svc[a])
                for g in range(a + 1, k + 1):
                    if slack < rs[g]:
                        rs[g] = slack
        self.ride_slack = rs

    def loc_at(self, k: int) -> int:
        """Location of position k, -1 being the start depot and n the end depot."""
        if k < 0:
            return self.start_loc
        if k >= self.n:
            return self.end_loc
        return self.loc[k]


class ScreenCache:
    """The screen's per-route arrays, kept for the next insertion tests: a refusal's
    alternatives test the same trip at a dozen other times against the same routes, and a
    day's next booking finds all its routes but one unchanged. A route's arrays are reused only
    when everything they are made of is the same: the places, their matrices and the service
    rules (compared once per problem), and the route (the very object), its requests (the very
    objects, so the same windows), the vehicle and the clock; otherwise they are made afresh."""

    def __init__(self) -> None:
        self._arrays: dict[str, tuple[tuple[object, ...], _RouteArrays]] = {}
        self._places: tuple[
            object, ...
        ] = ()  # (locations, rules, durations, distances) the arrays are made on

    def _sync(self, problem: Problem) -> None:
        now = (problem.locations, problem.rules, problem.duration_s, problem.distance_m)
        held = self._places
        if held and all(x is y for x, y in zip(held, now, strict=True)):
            return
        import numpy as np

        same = (
            bool(held)
            and held[0] == now[0]
            and held[1] == now[1]
            and np.array_equal(held[2], now[2])  # type: ignore[arg-type]
            and np.array_equal(held[3], now[3])  # type: ignore[arg-type]
        )
        if not same:
            self._arrays = {}
        self._places = now

    def arrays(
        self,
        problem: Problem,
        route: Route | None,
        stops: list[Stop],
        locked: int,
        now_s: int | None,
        vehicle: Vehicle,
        make: Callable[[], _RouteArrays],
    ) -> _RouteArrays:
        self._sync(problem)
        got = self._arrays.get(vehicle.id)
        if got is not None:
            (r0, v0, stops0, locked0, now0), arrays = got
            if (
                r0 is route
                and v0 is vehicle
                and locked0 == locked
                and now0 == now_s
                and len(stops0) == len(stops)  # type: ignore[arg-type]
                and all(
                    x[0] is y[0] and x[1] == y[1]
                    for x, y in zip(stops0, stops, strict=True)  # type: ignore[call-overload]
                )
            ):
                return arrays
        arrays = make()
        self._arrays[vehicle.id] = ((route, vehicle, list(stops), locked, now_s), arrays)
        return arrays


@dataclass(frozen=True)
class _Screen:
    """What screening one request against one route needs, looked up once."""

    dur: list[list[int]]
    dist: list[list[int]]
    pw: TimeWindow
    dw: TimeWindow
    p_loc: int
    d_loc: int
    sv_p: int
    sv_d: int
    max_ride: int
    seats: int  # the request's
    wheelchairs: int
    cap_s: int  # the vehicle's
    cap_w: int
    per_m: float
    per_s: float
    fixed: float
    shift_end: int


def _candidates(
    problem: Problem,
    vehicle: Vehicle,
    arrays: _RouteArrays,
    r: Request,
    stats: InsertionStats,
    windows: tuple[TimeWindow, TimeWindow],
) -> list[tuple[float, int, int, int, int]]:
    """Screened (cost, i, j, pickup time, drop-off time) for the route: the pickup goes before
    old visit i and the drop-off before old visit j (j >= i; j == i: right after the pickup);
    ``windows``: the request's pickup and drop-off windows (:func:`stop_window`)."""
    A = arrays
    pw, dw = windows
    S = _Screen(
        as_lists(problem.duration_s),
        as_lists(problem.distance_m),
        pw,
        dw,
        problem.index(r.pickup),
        problem.index(r.dropoff),
        problem.boarding_s(r),
        problem.alighting_s(r),
        problem.max_ride_s(r),
        r.seats,
        r.wheelchairs,
        vehicle.seats,
        vehicle.wheelchairs,
        vehicle.cost_per_km / 1000.0,
        vehicle.cost_per_hour / 3600.0,
        vehicle.fixed_cost if A.n == 0 else 0.0,
        vehicle.shift.end_s,
    )
    dur, dist, n = S.dur, S.dist, A.n
    out: list[tuple[float, int, int, int, int]] = []
    # The earliest and latest starts only grow along the route: before a visit whose latest
    # start is before the pickup window the new passenger cannot be picked up, and after a
    # departure later than the window neither; only the positions between are screened.
    for i in range(bisect.bisect_left(A.lat, pw.start_s, A.locked, n), n + 1):
        prev = A.loc_at(i - 1)
        nxt = A.loc_at(i)
        dep_prev = A.e[i - 1] + A.svc[i - 1] if i - 1 >= A.locked else A.base_dep
        if dep_prev > pw.end_s:
            break
        load_s = A.seats[i - 1] if i >= 1 else 0
        load_w = A.wheel[i - 1] if i >= 1 else 0
        stats.screened += 1
        if load_s + S.seats > S.cap_s or load_w + S.wheelchairs > S.cap_w:
            continue
        t_pp = int(dur[prev][S.p_loc])
        tp = max(pw.start_s, dep_prev + t_pp)
        if tp > pw.end_s:
            continue  # later pickup positions only start later: but windows of others may differ
        dep_p = tp + S.sv_p
        base_t = int(dur[prev][nxt])
        base_d = int(dist[prev][nxt])
        # --- drop-off right after the pickup ---
        t_pd = int(dur[S.p_loc][S.d_loc])
        td = max(dw.start_s, dep_p + t_pd)
        if td <= dw.end_s and td - dep_p <= S.max_ride:
            t_dn = int(dur[S.d_loc][nxt])
            arr_next = td + S.sv_d + t_dn
            if arr_next <= (A.lat[i] if i < n else S.shift_end):
                detour = t_pp + S.sv_p + t_pd + S.sv_d + t_dn - base_t
                if detour <= A.ride_slack[i]:
                    d_m = (
                        int(dist[prev][S.p_loc])
                        + int(dist[S.p_loc][S.d_loc])
                        + int(dist[S.d_loc][nxt])
                        - base_d
                    )
                    out.append((d_m * S.per_m + detour * S.per_s + S.fixed, i, i, tp, td))
        if i == n:
            continue
        # --- drop-off later: push visit i and propagate ---
        t_pn = int(dur[S.p_loc][nxt])
        detour_p = t_pp + S.sv_p + t_pn - base_t
        if detour_p > A.ride_slack[i]:
            continue
        d_m_p = int(dist[prev][S.p_loc]) + int(dist[S.p_loc][nxt]) - base_d
        _later_dropoffs(A, S, i, tp, dep_p + t_pn, t_pn, detour_p, d_m_p, out)
    stats.candidates += len(out)
    return out


def _later_dropoffs(
    A: _RouteArrays,
    S: _Screen,
    i: int,
    tp: int,
    arrive_i: int,
    t_pn: int,
    detour_p: int,
    d_m_p: int,
    out: list[tuple[float, int, int, int, int]],
) -> None:
    """Candidates with the pickup before old visit ``i`` and the drop-off after one or more old
    visits: visit ``i`` pushed to ``arrive_i`` at the earliest, the shift propagated along."""
    dur, dist, n, dw, d_loc = S.dur, S.dist, A.n, S.dw, S.d_loc
    t = max(A.lo[i], arrive_i)
    if t > A.lat[i]:
        return
    shifted = t  # new earliest start of old visit k (k = i here)
    ride_min = t_pn  # zero-wait lower bound of the new passenger's ride up to visit k
    for k in range(i, n):
        # the passenger is on board while visit k is done
        if A.seats[k] + S.seats > S.cap_s or A.wheel[k] + S.wheelchairs > S.cap_w:
            break
        dep_k = shifted + A.svc[k]
        if dep_k > dw.end_s or ride_min + A.svc[k] > S.max_ride:
            break  # both only grow with k
        # drop-off before old visit k+1 (j = k + 1)
        j = k + 1
        nxt_j = A.loc_at(j)
        t_kd = int(dur[A.loc[k]][d_loc])
        td = max(dw.start_s, dep_k + t_kd)
        if td <= dw.end_s and ride_min + A.svc[k] + t_kd <= S.max_ride:
            t_dj = int(dur[d_loc][nxt_j])
            base_tj = int(dur[A.loc[k]][nxt_j])
            detour_d = t_kd + S.sv_d + t_dj - base_tj
            lat_j = A.lat[j] if j < n else S.shift_end
            if td + S.sv_d + t_dj <= lat_j and detour_d <= A.ride_slack[j]:
                d_m = (
                    d_m_p
                    + int(dist[A.loc[k]][d_loc])
                    + int(dist[d_loc][nxt_j])
                    - int(dist[A.loc[k]][nxt_j])
                )
                cost = d_m * S.per_m + (detour_p + detour_d) * S.per_s + S.fixed
                out.append((cost, i, j, tp, td))
        if j >= n:
            break
        # propagate the shift to visit j
        t_kj = int(dur[A.loc[k]][A.loc[j]])
        nt = max(A.lo[j], dep_k + t_kj)
        if nt > A.lat[j]:
            break
        ride_min += A.svc[k] + t_kj
        shifted = nt


def _hint(
    route: Route | None, vehicle: Vehicle, i: int, j: int, tp: int, td: int
) -> tuple[list[int], list[int | None], list[int | None] | None]:
    """Times of the new route (the screen's pickup and drop-off times between the old ones), the
    breaks' old starts, and the leg of each break in the new route (where it was, shifted by the
    two inserted stops: break after old visit a -> after new visit a + [a >= i] + [a >= j])."""
    if route is None or not route.visits:
        return (
            [vehicle.shift.start_s, tp, td, vehicle.shift.end_s],
            [None] * len(vehicle.breaks),
            None,
        )
    starts = [v.start_s for v in route.visits]
    new = starts[:i] + [tp] + starts[i:j] + [td] + starts[j:]
    brks = sorted(route.breaks, key=lambda b: b.start_s)
    gaps: list[int | None] = [b.after + (b.after >= i) + (b.after >= j) + 1 for b in brks]
    return [route.start_s, *new, route.end_s], [b.start_s for b in brks], gaps


def route_stops(problem: Problem, route: Route | None) -> list[Stop]:
    if route is None:
        return []
    return [(problem.request(v.request_id), v.kind) for v in route.visits]


def pin_prefix(new: Route, old: Route | None, locked: int) -> Route:
    """Keep the past exactly: the done visits and the departure from the depot of ``old``."""
    if old is None or locked == 0:
        return new
    visits = old.visits[:locked] + new.visits[locked:]
    return replace(new, start_s=old.start_s, visits=visits)


def find_insertion(
    problem: Problem,
    plan: Plan,
    request: Request,
    *,
    now_s: int | None = None,
    max_exact: int = DEFAULT_MAX_EXACT,
    stats: InsertionStats | None = None,
    requests_by_id: dict[str, Request] | None = None,
    cache: ScreenCache | None = None,
    kpis: bool = True,
    vehicle_ids: Collection[str] | None = None,
) -> Insertion | None:
    """The cheapest confirmed way to add ``request`` to ``plan``, or None.

    ``problem`` must already contain ``request`` (see :func:`with_request`); its windows are
    the binding ones (promises, what is done). Visits starting before ``now_s`` are done: the
    new stops go after them. ``max_exact`` bounds the exact timings tried. ``cache`` keeps the
    routes' screen arrays for the next test against the same plan (the routes' requests and
    their windows must be the same in both problems: only ``request`` may differ). ``kpis``
    False leaves the plan's KPIs as they were (a plan built insertion by insertion computes
    them once at the end). ``vehicle_ids``: only these vehicles may take it (a request pinned to
    its vehicle: that one).
    """
    t0 = time.perf_counter()
    st = stats if stats is not None else InsertionStats()
    r = request
    cands: list[tuple[float, str, int, int, int, int]] = []
    info: dict[str, tuple[Vehicle, Route | None, list[Stop], int]] = {}
    byid = requests_by_id if requests_by_id is not None else {q.id: q for q in problem.requests}
    pw, dw = stop_window(problem, r, "pickup"), stop_window(problem, r, "dropoff")
    if pw is None or dw is None:  # (its windows are empty once clipped: no route can take it)
        st.elapsed_s += time.perf_counter() - t0
        return None
    for v in problem.vehicles:
        if vehicle_ids is not None and v.id not in vehicle_ids:
            continue
        if not _fits(r, v) or usable_breaks(v) is None:
            continue
        route = plan.route(v.id)
        stops: list[Stop] = (
            [(byid[x.request_id], x.kind) for x in route.visits] if route is not None else []
        )
        locked = locked_prefix(route, now_s) if route is not None else 0
        if cache is None:
            arrays = _RouteArrays(problem, v, route, stops, locked)
        else:
            arrays = cache.arrays(
                problem,
                route,
                stops,
                locked,
                now_s,
                v,
                functools.partial(_RouteArrays, problem, v, route, stops, locked),
            )
        info[v.id] = (v, route, stops, locked)
        for cost, i, j, tp, td in _candidates(problem, v, arrays, r, st, (pw, dw)):
            cands.append((cost, v.id, i, j, tp, td))
    cands.sort()
    tries = 0
    for cost, vid, i, j, tp, td in cands:
        if tries >= max_exact:
            break
        v, route, stops, locked = info[vid]
        new_stops = stops[:i] + [(r, "pickup")] + stops[i:j] + [(r, "dropoff")] + stops[j:]
        hint, hint_breaks, hint_gaps = _hint(route, v, i, j, tp, td)
        tries += 1
        new = schedule_route(problem, v, new_stops, hint, hint_breaks, hint_gaps)
        if new is None:
            continue
        new = pin_prefix(new, route, locked)
        if now_s is not None and any(x.start_s < now_s for x in new.visits[locked:]):
            continue  # re-timing moved a future visit into the past (windows should prevent it)
        routes = [rt for rt in plan.routes if rt.vehicle_id != vid]
        routes.append(new)
        order = {veh.id: k for k, veh in enumerate(problem.vehicles)}
        routes.sort(key=lambda rt: order.get(rt.vehicle_id, len(order)))
        rejections = tuple(x for x in plan.rejections if x.request_id != r.id)
        new_plan = replace(
            plan,
            routes=tuple(routes),
            rejections=rejections,
            kpis=compute_kpis(problem, routes, rejections) if kpis else plan.kpis,
        )
        elapsed = time.perf_counter() - t0
        st.exact_tries += tries
        st.elapsed_s += elapsed
        return Insertion(
            request_id=r.id,
            vehicle_id=vid,
            pickup_index=i,
            dropoff_index=j + 1,
            added_cost=cost,
            route=new,
            plan=new_plan,
            problem=problem,
            candidates=len(cands),
            exact_tries=tries,
            elapsed_s=elapsed,
        )
    st.exact_tries += tries
    st.elapsed_s += time.perf_counter() - t0
    return None


def _validate_one(problem: Problem, request: Request) -> None:
    """Validate one request against the problem's places and rules (InputError if bad), the
    same way Problem does (the others were validated already): its return link too."""
    problem.check_request(request, "requests[0]")
    problem.check_link(request, "requests[0]")


def _with_requests(problem: Problem, requests: tuple[Request, ...]) -> Problem:
    new = copy.copy(problem)
    object.__setattr__(new, "requests", requests)
    return new


def with_request(problem: Problem, request: Request) -> Problem:
    """``problem`` with ``request`` added at the end (replacing a request of the same id);
    only the new request is validated."""
    _validate_one(problem, request)
    reqs = tuple(q for q in problem.requests if q.id != request.id) + (request,)
    return _with_requests(problem, reqs)


def replace_request(problem: Problem, request: Request) -> Problem:
    """``problem`` with the request of the same id replaced in place (order kept)."""
    _validate_one(problem, request)
    return _with_requests(
        problem, tuple(request if q.id == request.id else q for q in problem.requests)
    )


def without_request(problem: Problem, request_id: str) -> Problem:
    """``problem`` without the request (a return trip linked to it is an error, said by Problem)."""
    return problem.with_requests([q for q in problem.requests if q.id != request_id])


def shifted(request: Request, delta_s: int) -> Request:
    """The same trip asked ``delta_s`` seconds later (earlier if negative)."""
    pw = request.pickup_window
    return replace(
        request,
        pickup_window=None
        if pw is None
        else TimeWindow(max(0, pw.start_s + delta_s), max(0, pw.end_s + delta_s)),
        arrive_by_s=None if request.arrive_by_s is None else max(0, request.arrive_by_s + delta_s),
        not_before_s=None
        if request.not_before_s is None
        else max(0, request.not_before_s + delta_s),
    )


def remove_from_plan(
    problem: Problem,
    plan: Plan,
    request_id: str,
    now_s: int | None = None,
    *,
    retime: bool = True,
) -> Plan:
    """``plan`` without the visits of ``request_id`` (and without its rejection); the route it
    was on is re-timed by the exact scheduler (the past kept as it was), or keeps its times with
    loads recomputed if it cannot be re-timed (removing a passenger never breaks a window), or
    when ``retime`` is False (the others' times are then exactly as they were).
    ``problem`` is the problem WITHOUT the request."""
    byid = {q.id: q for q in problem.requests}
    routes: list[Route] = []
    for route in plan.routes:
        if not any(v.request_id == request_id for v in route.visits):
            routes.append(route)
            continue
        kept = [v for v in route.visits if v.request_id != request_id]
        if not kept:
            continue
        locked = locked_prefix(route, now_s)
        locked_kept = sum(1 for v in route.visits[:locked] if v.request_id != request_id)
        vehicle = problem.vehicle(route.vehicle_id)
        stops: list[Stop] = [(byid[v.request_id], v.kind) for v in kept]
        hint = [route.start_s, *(v.start_s for v in kept), route.end_s]
        new = (
            schedule_route(problem, vehicle, stops, hint, [b.start_s for b in route.breaks])
            if retime
            else None
        )
        if (
            new is not None
            and now_s is not None
            and any(x.start_s < now_s for x in new.visits[locked_kept:])
        ):
            new = None
        if new is not None:
            new = replace(pin_prefix(new, replace(route, visits=tuple(kept)), locked_kept))
        else:
            new = _recount(problem, vehicle, route, kept)
        routes.append(new)
    rejections = tuple(j for j in plan.rejections if j.request_id != request_id)
    return replace(
        plan,
        routes=tuple(routes),
        rejections=rejections,
        kpis=compute_kpis(problem, routes, rejections),
    )


def _recount(problem: Problem, vehicle: Vehicle, route: Route, kept: Sequence[object]) -> Route:
    """Keep the times, recompute loads, arrivals and distance after removing visits."""
    seats = wheel = 0
    visits = []
    dist = 0
    prev_loc = vehicle.start
    for v in kept:
        assert isinstance(v, Visit)
        r = problem.request(v.request_id)
        sign = 1 if v.kind == "pickup" else -1
        seats, wheel = seats + sign * r.seats, wheel + sign * r.wheelchairs
        dist += problem.travel_m(prev_loc, v.location_id)
        visits.append(replace(v, seats=seats, wheelchairs=wheel))
        prev_loc = v.location_id
    dist += problem.travel_m(prev_loc, vehicle.end)
    # breaks keep their legs only if the visit indices still match: re-attach by time
    breaks = []
    for b in route.breaks:
        after = -1
        for k, v in enumerate(visits):
            if v.departure_s <= b.start_s:
                after = k
        breaks.append(replace(b, after=after))
    return replace(route, visits=tuple(visits), distance_m=dist, breaks=tuple(breaks))


__all__ = [
    "Insertion",
    "InsertionStats",
    "find_insertion",
    "locked_prefix",
    "pin_prefix",
    "remove_from_plan",
    "replace_request",
    "schedule_route",
    "ScreenCache",
    "route_stops",
    "shifted",
    "with_request",
    "without_request",
]
