"""Service times of one route whose visit order is fixed.

Given a vehicle and the ordered stops of its route, every timing rule of the Problem is a
difference constraint between two times (``x_j - x_i <= c``): time windows, travel between
consecutive stops, the shift, ride-time limits, and a driver's break once the gap (leg) that
holds it is chosen. Such a system is a simple temporal network: it is feasible iff its
constraint graph has no negative cycle (Bellman-Ford), and among its solutions a linear
programme picks the one that keeps passengers on board the shortest time (pickups delayed as
late as later stops allow, Cordeau-Laporte style), then the shortest driver's day, then drop-offs
for appointments close to the appointment. The constraint matrix is a network matrix, so the
LP optimum is integral; it is rounded and verified, and the earliest-time solution of the
network is the fallback.

Times follow dispatcher.model: ``start_s`` is the start of service, ``departure_s = start_s +
service`` (boarding at a pickup, alighting at a drop-off), ``arrival_s`` at the next stop is
the previous departure plus travel, ``start_s >= arrival_s``; a break of duration ``d`` in a
leg needs ``prev.departure + travel + d <= next.start_s`` and lies between the two.

Drivers' duty limits are difference constraints too: ``max_duration_s`` bounds the arrival at
the end depot minus the departure from the start; ``max_driving_s`` (continuous driving, in
elapsed time, see :class:`dispatcher.model.Vehicle`) bounds the time from the departure to the
start of the first break of at least ``driving_break_s``, from the end of each such break to the
start of the next, and from the end of the last to the arrival (the breaks are in route order
once their legs are chosen), or the whole route when the vehicle has no such break.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from dispatcher.model import (
    DAY_S,
    Break,
    BreakTaken,
    Problem,
    Request,
    Route,
    TimeWindow,
    Vehicle,
    Visit,
)
from dispatcher.solver.linked import bounds as linked_bounds

StopKind = Literal["pickup", "dropoff"]
Stop = tuple[Request, StopKind]

# Objective weights of the timing LP (per second): passengers' ride time first, then the
# driver's day, then how early an appointment's passenger is dropped before the appointment,
# and last, as a tie-break, pickups close to the start of the asked window (punctuality).
W_RIDE = 8
W_SPAN = 4
W_EARLY_APPT = 2
W_PUNCTUAL = 1

MAX_GAP_TRIES = 400  # bound on the break-placement search per route


def horizon_s(problem: Problem) -> int:
    """An upper bound on every time of the day's problem."""
    ends = [problem.rules.service_hours.end_s, DAY_S]
    ends += [v.shift.end_s for v in problem.vehicles]
    return max(ends) + 1


def stop_window(problem: Problem, r: Request, kind: StopKind) -> TimeWindow | None:
    """The window of a stop's start of service, clipped to the service hours and, for the two
    halves of a linked trip, to the split that keeps the return after its outbound
    (:mod:`dispatcher.solver.linked`); None if empty."""
    tw = problem.pickup_tw(r) if kind == "pickup" else problem.dropoff_tw(r)
    hours = problem.rules.service_hours
    lo, hi = max(tw.start_s, hours.start_s, 0), min(tw.end_s, hours.end_s)
    if problem.linked_pairs():
        bound = linked_bounds(problem).get((r.id, kind))
        if bound is not None:
            lo, hi = max(lo, bound[0]), min(hi, bound[1])
    return TimeWindow(lo, hi) if lo <= hi else None


def stop_service_s(problem: Problem, r: Request, kind: StopKind) -> int:
    return problem.boarding_s(r) if kind == "pickup" else problem.alighting_s(r)


def usable_breaks(v: Vehicle) -> tuple[Break, ...] | None:
    """The vehicle's breaks with windows clipped to its shift, or None if one cannot fit."""
    out = []
    for b in v.breaks:
        lo, hi = max(b.window.start_s, v.shift.start_s), min(b.window.end_s, v.shift.end_s)
        if hi - lo < b.duration_s:
            return None
        out.append(Break(TimeWindow(lo, hi), b.duration_s))
    return tuple(sorted(out, key=lambda b: (b.window.start_s, b.window.end_s)))


@dataclass
class _Network:
    """Variables: 0 = origin (time 0), 1 = departure from the start depot, 2..n+1 = stops,
    n+2 = arrival at the end depot, n+3.. = break starts. Edge (i, j, c): x_j - x_i <= c."""

    n_vars: int
    edges: list[tuple[int, int, int]]


class RouteTimer:
    """Builds and solves the timing network of one vehicle's route (fixed order)."""

    def __init__(self, problem: Problem, vehicle: Vehicle, stops: Sequence[Stop]) -> None:
        self.problem = problem
        self.vehicle = vehicle
        self.stops = list(stops)
        n = len(self.stops)
        self.n = n
        self.breaks = usable_breaks(vehicle)
        self.n_breaks = len(self.breaks or ())  # all of them, while a search places a few
        self.locs = [problem.index(vehicle.start)]
        self.locs += [
            problem.index(r.pickup if k == "pickup" else r.dropoff) for r, k in self.stops
        ]
        self.locs.append(problem.index(vehicle.end))
        self.service = [0] + [stop_service_s(problem, r, k) for r, k in self.stops] + [0]
        dur = problem.duration_s
        self.travel = [int(dur[self.locs[g]][self.locs[g + 1]]) for g in range(n + 1)]
        self.windows: list[TimeWindow | None] = [stop_window(problem, r, k) for r, k in self.stops]
        self.horizon = horizon_s(problem)

    # ---- the network ----------------------------------------------------------------------
    def _base_edges(self) -> list[tuple[int, int, int]] | None:
        """The constraints that do not depend on where the breaks go (computed once)."""
        if not hasattr(self, "_base"):
            self._base = self._make_base_edges()
        return self._base

    def _make_base_edges(self) -> list[tuple[int, int, int]] | None:
        n, v, H = self.n, self.vehicle, self.horizon
        e: list[tuple[int, int, int]] = []
        e.append((0, 1, v.shift.end_s))
        e.append((1, 0, -v.shift.start_s))
        e.append((0, n + 2, v.shift.end_s))
        e.append((n + 2, 0, -v.shift.start_s))
        # optional driver limits: when the route may leave / arrive, and how long it may last
        if v.start_window is not None:
            e.append((0, 1, v.start_window.end_s))
            e.append((1, 0, -v.start_window.start_s))
        if v.end_window is not None:
            e.append((0, n + 2, v.end_window.end_s))
            e.append((n + 2, 0, -v.end_window.start_s))
        span = v.route_duration_limit_s()  # max duty, and continuous driving without rests
        if span is not None:
            e.append((1, n + 2, span))
        for k, tw in enumerate(self.windows):
            if tw is None:
                return None
            e.append((0, k + 2, tw.end_s))
            e.append((k + 2, 0, -tw.start_s))
        pos: dict[str, int] = {}
        for k, (r, kind) in enumerate(self.stops):
            if kind == "pickup":
                pos[r.id] = k
            else:
                if r.id not in pos:
                    return None  # drop-off before its pickup
                p = pos[r.id]
                limit = self.problem.boarding_s(r) + self.problem.max_ride_s(r)
                e.append((p + 2, k + 2, limit))
        for g in range(n + 1):
            if self.travel[g] > H:
                return None
        return e

    def _network(self, gaps: Sequence[int]) -> _Network | None:
        """The network with break j placed in leg ``gaps[j]`` (leg g ends at stop g, leg n at
        the end depot)."""
        base = self._base_edges()
        if base is None:
            return None
        n = self.n
        breaks = self.breaks or ()
        edges = list(base)
        in_gap: dict[int, list[int]] = {}
        for j, g in enumerate(gaps):
            in_gap.setdefault(g, []).append(j)
        for g in range(n + 1):
            prev, nxt = g + 1, g + 2  # variable of the stop (or depot) before and after leg g
            serv = self.service[g]
            js = in_gap.get(g, [])
            total = sum(breaks[j].duration_s for j in js)
            edges.append((nxt, prev, -(serv + self.travel[g] + total)))
            last = None
            for j in js:
                b = n + 3 + j
                bw = breaks[j]
                edges.append((b, prev, -serv))
                edges.append((nxt, b, -bw.duration_s))
                edges.append((0, b, bw.window.end_s - bw.duration_s))
                edges.append((b, 0, -bw.window.start_s))
                if last is not None:
                    edges.append((b, last, -breaks[last - n - 3].duration_s))
                last = b
        edges += self._driving_edges(len(gaps))
        return _Network(n + 3 + len(gaps), edges)

    def _driving_edges(self, placed: int) -> list[tuple[int, int, int]]:
        """Continuous driving between the first ``placed`` breaks (in route order): from the
        departure to the first resting break, between resting breaks, and, once every break is
        placed, from the last to the arrival. With fewer breaks placed the constraints are a
        relaxation (a later break may still end the last stretch). Without any resting break
        the limit is the base network's route duration."""
        v, n = self.vehicle, self.n
        limit = v.max_driving_s
        if limit is None or self.breaks is None:
            return []
        rests = [j for j in range(placed) if self.breaks[j].duration_s >= v.driving_break_s]
        out: list[tuple[int, int, int]] = []
        prev, extra = 1, 0  # variable where the stretch starts, plus the duration of that rest
        for j in rests:
            out.append((prev, n + 3 + j, limit + extra))
            prev, extra = n + 3 + j, self.breaks[j].duration_s
        if rests and placed == self.n_breaks:
            out.append((prev, n + 2, limit + extra))
        return out

    @staticmethod
    def _latest(net: _Network) -> list[int] | None:
        """Greatest solution (x_0 = 0) by a queue-based Bellman-Ford (SPFA), None on a negative
        cycle. A route's network is path-shaped: the plain sweep needs about one pass per stop,
        the queue visits each constraint a few times (same solution, same verdict)."""
        n = net.n_vars
        adj: list[list[tuple[int, int]]] = [[] for _ in range(n)]
        for i, j, c in net.edges:
            adj[i].append((j, c))
        INF = float("inf")
        dist: list[float] = [INF] * n
        dist[0] = 0
        inq = [False] * n
        count = [0] * n
        queue = deque([0])
        inq[0] = True
        while queue:
            i = queue.popleft()
            inq[i] = False
            di = dist[i]
            for j, c in adj[i]:
                nd = di + c
                if nd < dist[j]:
                    if j == 0:
                        return None  # x_0 = 0 would have to be negative: a negative cycle
                    dist[j] = nd
                    if not inq[j]:
                        count[j] += 1
                        if count[j] > n:
                            return None  # negative cycle
                        inq[j] = True
                        queue.append(j)
        if any(d == INF for d in dist):
            return None
        return [int(d) for d in dist]

    @staticmethod
    def _latest_sweep(net: _Network) -> list[int] | None:
        """The plain Bellman-Ford sweep (the reference the queue version is tested against)."""
        INF = float("inf")
        dist: list[float] = [INF] * net.n_vars
        dist[0] = 0
        edges = net.edges
        for _ in range(net.n_vars):
            changed = False
            for i, j, c in edges:
                di = dist[i]
                if di != INF and di + c < dist[j]:
                    dist[j] = di + c
                    changed = True
            if not changed:
                break
        else:
            return None
        if any(d == INF for d in dist):
            return None
        return [int(d) for d in dist]

    @staticmethod
    def _earliest(net: _Network) -> list[int] | None:
        rev = _Network(net.n_vars, [(j, i, c) for i, j, c in net.edges])
        lat = RouteTimer._latest(rev)
        return None if lat is None else [-x for x in lat]

    # ---- break placement --------------------------------------------------------------------
    def _gap_order(
        self,
        j: int,
        hint: Sequence[int] | None,
        hint_break: int | None,
        hint_gap: int | None = None,
    ) -> list[int]:
        n = self.n
        assert self.breaks is not None
        b = self.breaks[j]
        target = hint_break if hint_break is not None else b.window.start_s
        if hint is None:
            order = list(range(n + 1))
            if hint_gap is not None and 0 <= hint_gap <= n:
                order.remove(hint_gap)
                order.insert(0, hint_gap)
            return order

        def distance(g: int) -> int:
            lo, hi = hint[g] + self.service[g], hint[g + 1]
            if lo <= target <= hi:
                return 0
            return min(abs(target - lo), abs(target - hi))

        return sorted(range(n + 1), key=lambda g: (g != hint_gap, distance(g), g))

    def place_breaks(
        self,
        hint: Sequence[int] | None = None,
        hint_breaks: Sequence[int | None] | None = None,
        hint_gaps: Sequence[int | None] | None = None,
    ) -> list[int] | None:
        """Choose a leg for every break so that the network is feasible (None if none found).

        ``hint`` gives times for [start depot, stops..., end depot] (e.g. the search's cumuls),
        ``hint_breaks`` the search's break starts: legs near them are tried first;
        ``hint_gaps`` the leg of each break to try before any other (e.g. where the break was
        before a stop was inserted, shifted by the insertion).
        """
        if self.breaks is None:
            return None
        nb = len(self.breaks)
        if self._base_edges() is None:
            return None
        if nb == 0:
            net = self._network([])
            return [] if net is not None and self._latest(net) is not None else None
        # The route without its breaks is a relaxation: if it cannot be timed, no placement
        # can; if it can, its earliest and latest times bound where each break may go.
        relaxed = self._network_partial([])
        latest = None if relaxed is None else self._latest(relaxed)
        earliest = None if relaxed is None or latest is None else self._earliest(relaxed)
        if latest is None or earliest is None:
            return None
        orders = [
            [
                g
                for g in self._gap_order(
                    j,
                    hint,
                    hint_breaks[j] if hint_breaks and j < len(hint_breaks) else None,
                    hint_gaps[j] if hint_gaps and j < len(hint_gaps) else None,
                )
                if self._leg_can_hold(g, self.breaks[j], earliest, latest)
            ]
            for j in range(nb)
        ]
        tries = 0

        def search(chosen: list[int]) -> list[int] | None:
            nonlocal tries
            j = len(chosen)
            if j == nb:
                return chosen
            for g in orders[j]:
                if chosen and g < chosen[-1]:
                    continue  # breaks are sorted by window, keep them in order along the route
                tries += 1
                if tries > MAX_GAP_TRIES:
                    return None
                cand = chosen + [g]
                net = self._network_partial(cand)
                if net is not None and self._latest(net) is not None:
                    found = search(cand)
                    if found is not None:
                        return found
            return None

        return search([])

    def _leg_can_hold(
        self, g: int, b: Break, earliest: Sequence[int], latest: Sequence[int]
    ) -> bool:
        """Whether break ``b`` may go in leg ``g`` (between the stop or depot before and the one
        after) given the earliest and latest times of the route timed without its breaks: it
        starts after the service before and within its window, and the vehicle still makes the
        next stop in time (a necessary condition: breaks only delay)."""
        prev, nxt = g + 1, g + 2  # network variables of the stop (or depot) before and after leg g
        ready = earliest[prev] + self.service[g]
        start = max(ready, b.window.start_s)
        return (
            start + b.duration_s <= b.window.end_s
            and start + b.duration_s <= latest[nxt]
            and ready + self.travel[g] + b.duration_s <= latest[nxt]
        )

    def _network_partial(self, gaps: Sequence[int]) -> _Network | None:
        """Network with only the first len(gaps) breaks (a relaxation used while searching)."""
        saved = self.breaks
        assert saved is not None
        self.breaks = saved[: len(gaps)]
        try:
            return self._network(gaps)
        finally:
            self.breaks = saved

    def feasible(self) -> bool:
        return self.place_breaks() is not None

    # ---- optimisation ---------------------------------------------------------------------
    def _optimise(self, net: _Network) -> list[int] | None:
        from ortools.linear_solver import pywraplp

        earliest, latest = self._earliest(net), self._latest(net)
        if earliest is None or latest is None:
            return None
        solver = pywraplp.Solver.CreateSolver("GLOP")
        if solver is None:
            return earliest
        x = [
            solver.NumVar(float(earliest[i]), float(latest[i]), f"x{i}") for i in range(net.n_vars)
        ]
        for i, j, c in net.edges:
            if i != 0 and j != 0:
                solver.Add(x[j] - x[i] <= c)
        obj = solver.Objective()
        n = self.n
        coef = [0.0] * net.n_vars
        coef[n + 2] += W_SPAN
        coef[1] -= W_SPAN
        pos: dict[str, int] = {}
        for k, (r, kind) in enumerate(self.stops):
            if kind == "pickup":
                pos[r.id] = k
                if r.pickup_window is not None:
                    coef[k + 2] += W_PUNCTUAL
            else:
                coef[k + 2] += W_RIDE
                coef[pos[r.id] + 2] -= W_RIDE
                if r.arrive_by_s is not None:
                    coef[k + 2] -= W_EARLY_APPT
        for i, weight in enumerate(coef):
            if weight:
                obj.SetCoefficient(x[i], weight)
        obj.SetMinimization()
        if solver.Solve() != pywraplp.Solver.OPTIMAL:
            return earliest
        sol = [int(round(v.solution_value())) for v in x]
        sol[0] = 0
        if all(sol[j] - sol[i] <= c for i, j, c in net.edges):
            return sol
        return earliest

    def schedule(
        self,
        hint: Sequence[int] | None = None,
        hint_breaks: Sequence[int | None] | None = None,
        hint_gaps: Sequence[int | None] | None = None,
    ) -> Route | None:
        """The route with optimised times, or None if the order cannot be timed."""
        gaps = self.place_breaks(hint, hint_breaks, hint_gaps)
        if gaps is None:
            return None
        net = self._network(gaps)
        if net is None:
            return None
        x = self._optimise(net)
        if x is None:
            return None
        return self._route(x, gaps)

    def _route(self, x: Sequence[int], gaps: Sequence[int]) -> Route:
        n, p = self.n, self.problem
        dist = p.distance_m
        visits: list[Visit] = []
        seats = wheel = 0
        starts: dict[str, int] = {}
        breaks = self.breaks or ()
        by_gap: dict[int, list[tuple[int, int]]] = {}
        for j, g in enumerate(gaps):
            by_gap.setdefault(g, []).append((x[n + 3 + j], breaks[j].duration_s))
        prev_dep = x[1]
        for k, (r, kind) in enumerate(self.stops):
            start = x[k + 2]
            arrival = _arrival(prev_dep, self.travel[k], by_gap.get(k, []))
            ride = None
            if kind == "pickup":
                seats += r.seats
                wheel += r.wheelchairs
                starts[r.id] = start
            else:
                seats -= r.seats
                wheel -= r.wheelchairs
                ride = start - (starts[r.id] + p.boarding_s(r))
            dep = start + self.service[k + 1]
            visits.append(
                Visit(
                    request_id=r.id,
                    kind=kind,
                    location_id=r.pickup if kind == "pickup" else r.dropoff,
                    arrival_s=arrival,
                    start_s=start,
                    departure_s=dep,
                    seats=seats,
                    wheelchairs=wheel,
                    ride_time_s=ride,
                )
            )
            prev_dep = dep
        taken = tuple(
            BreakTaken(start_s=x[n + 3 + j], duration_s=breaks[j].duration_s, after=gaps[j] - 1)
            for j in range(len(gaps))
        )
        distance = sum(int(dist[self.locs[g]][self.locs[g + 1]]) for g in range(n + 1))
        return Route(
            vehicle_id=self.vehicle.id,
            start_s=x[1],
            end_s=x[n + 2],
            visits=tuple(visits),
            breaks=taken,
            distance_m=distance,
        )


def _arrival(departure_s: int, travel_s: int, breaks: Sequence[tuple[int, int]]) -> int:
    """Arrival when driving ``travel_s`` from ``departure_s``, stopping for the leg's breaks
    (start, duration) that fall before the vehicle would have arrived."""
    t, left = departure_s, travel_s
    for b_start, b_dur in sorted(breaks):
        if b_start >= t + left:
            break
        left -= max(0, b_start - t)
        t = max(t, b_start) + b_dur
    return t + left


def schedule_route(
    problem: Problem,
    vehicle: Vehicle,
    stops: Sequence[Stop],
    hint: Sequence[int] | None = None,
    hint_breaks: Sequence[int | None] | None = None,
    hint_gaps: Sequence[int | None] | None = None,
) -> Route | None:
    """Time a route whose order is given; None if no timing satisfies every rule."""
    return RouteTimer(problem, vehicle, stops).schedule(hint, hint_breaks, hint_gaps)


def feasible_alone(problem: Problem, request: Request, vehicle: Vehicle) -> bool:
    """Whether ``vehicle`` can serve ``request`` on its own (capacity, places the vehicle may visit,
    windows, ride, shift, breaks, the driver's start/end windows and max duration)."""
    if request.seats > vehicle.seats or request.wheelchairs > vehicle.wheelchairs:
        return False
    if problem.may_carry(vehicle, request) is not None:
        return False
    return RouteTimer(problem, vehicle, [(request, "pickup"), (request, "dropoff")]).feasible()


def feasible_alone_on_any(problem: Problem, request: Request) -> bool:
    """Whether some vehicle of ``problem`` can serve ``request`` on its own (see
    :func:`feasible_alone`): a refusal of it is then ``Reason.DISPLACED``."""
    return any(feasible_alone(problem, request, v) for v in problem.vehicles)
