"""Why a request was refused: a check of the request ALONE against every vehicle.

For one request and one vehicle the route is ``start depot -> pickup -> drop-off -> end depot``
with the vehicle's breaks placed in the three gaps of that route. Its timing is solved exactly:

* every assignment of the vehicle's breaks to the three gaps, and every order of the breaks
  sharing a gap, is tried (a driver rarely has more than two breaks);
* inside a gap the vehicle drives whenever it is not on a break and takes each break as early as
  its window allows; the arrival time as a function of the departure time is then of the form
  ``max(x + a, b)``, so that every upper bound (windows, shift end, break window ends) holds for
  the pickup times up to some threshold and the ride time is non-increasing in the pickup time;
* two binary searches over the (integer) pickup start then give the exact interval of feasible
  pickup times for that vehicle and break placement.

Conventions are those of :mod:`dispatcher.solver.checker` (the one place that states every
constraint): waiting is allowed before a visit, a break lies entirely in its window and in one
gap of the route, every visit (pickups and drop-offs) starts within the service hours, the
ride time is ``dropoff.start - (pickup.start + boarding)``.

Refusal reasons are classified in a fixed order (the first that applies wins):

1. ``OUTSIDE_SERVICE_HOURS``: the pickup or drop-off window does not meet the service hours, or
   the trip fits its windows only by leaving the service hours;
2. ``GROUP_TOO_LARGE``: more seats (or more wheelchair places, when some vehicle has some) than
   any vehicle has;
3. ``NO_COMPATIBLE_VEHICLE``: the request needs wheelchair places and no vehicle that has them
   (with the seats too) is on duty during the request's span;
4. ``NO_ROAD``: the matrix says the drop-off cannot be reached from the pickup, or no fitting
   vehicle can reach the pickup from its depot or its depot from the drop-off (duration
   ``>= UNREACHABLE_S`` or negative);
5. ``RIDE_TIME_RULE``: even riding direct, the max ride time rule cannot hold within the windows
   (direct drive longer than the max ride, or the appointment window too narrow);
6. ``PICKUP_UNREACHABLE``: no fitting vehicle leaving its depot at its shift start reaches the
   pickup before the end of the pickup window;
7. ``DUTY_LIMIT``: the pickup is reachable and some vehicle could do the whole trip within its
   shift with its breaks, but none within its driver's duty limits (``max_duration_s``,
   ``max_driving_s``; a carpool driver's ``max_duration_s`` is a detour limit and is not
   relaxed here);
8. ``SHIFT_TOO_SHORT``: the pickup is reachable, but no vehicle can do the whole trip within its
   shift with its breaks;
9. otherwise the request is feasible alone: ``DISPLACED`` (details say which vehicles could take
   it and the range of feasible pickup times), unless it is one half of a linked trip (an
   outbound and its return, served both or neither) whose other half is not feasible alone:
   then ``LINKED_TRIP_REFUSED``, by the same counterfactual (details name the other half,
   ``linked_trip``, and its reason, ``linked_reason``). A refused half always says which its
   other half is (``linked_trip``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

from dispatcher.errors import NotFoundError
from dispatcher.model import (
    REASON_MESSAGES,
    Break,
    BreakTaken,
    Plan,
    Problem,
    Reason,
    Rejection,
    Request,
    Route,
    TimeWindow,
    Vehicle,
    Visit,
    hhmm,
)
from dispatcher.solver.schedule import feasible_alone, schedule_route

UNREACHABLE_S = 10**8
"""A matrix duration at or above this (or negative) means "no road"."""

MAX_BREAK_COMBINATIONS = 5000
"""Above this many break placements for one vehicle, only placements keeping the breaks in
window order are tried (never reached with the usual one or two breaks per driver)."""


def unreachable(duration_s: int) -> bool:
    """True if a matrix duration means there is no road."""
    return duration_s >= UNREACHABLE_S or duration_s < 0


# --------------------------------------------------------------------------------------------
# Exact timing of a one-request route
# --------------------------------------------------------------------------------------------


def _pass_gap_starts(
    t: int, travel_s: int, breaks: Sequence[Break]
) -> tuple[int, list[int]] | None:
    """Earliest time the vehicle is ready at the next stop when it leaves at ``t``, drives
    ``travel_s`` and takes ``breaks`` in that order, each as early as its window allows
    (driving whenever it is not on a break), with the start of each break. None if a break
    cannot fit its window."""
    remaining = travel_s
    starts: list[int] = []
    for b in breaks:
        bs = max(t, b.window.start_s)
        remaining -= min(remaining, bs - t)
        if bs + b.duration_s > b.window.end_s:
            return None
        starts.append(bs)
        t = bs + b.duration_s
    return t + remaining, starts


def _pass_gap(t: int, travel_s: int, breaks: Sequence[Break]) -> int | None:
    res = _pass_gap_starts(t, travel_s, breaks)
    return None if res is None else res[0]


def _break_placements(breaks: Sequence[Break]) -> Iterator[tuple[tuple[Break, ...], ...]]:
    """Every way to put the breaks in the three gaps (before pickup, during the ride, after the
    drop-off), with every order inside a gap."""
    k = len(breaks)
    if k == 0:
        yield ((), (), ())
        return
    count = 0
    seen: set[tuple[tuple[int, ...], ...]] = set()
    for assignment in itertools.product(range(3), repeat=k):
        groups = [[i for i in range(k) if assignment[i] == g] for g in range(3)]
        for orders in itertools.product(*(itertools.permutations(g) for g in groups)):
            key = tuple(tuple(o) for o in orders)
            if key in seen:
                continue
            seen.add(key)
            count += 1
            if count > MAX_BREAK_COMBINATIONS:
                return
            yield tuple(tuple(breaks[i] for i in o) for o in orders)


@dataclass(frozen=True)
class _VehicleResult:
    feasible: bool
    earliest_pickup_s: int | None = None
    latest_pickup_s: int | None = None


def _intersect(a: TimeWindow, b: TimeWindow) -> tuple[int, int]:
    return max(a.start_s, b.start_s), min(a.end_s, b.end_s)


def _last_true(lo: int, hi: int, pred: Callable[[int], bool]) -> int | None:
    """Largest x in [lo, hi] with pred(x), for pred true on a prefix; None if pred(lo) fails."""
    if not pred(lo):
        return None
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if pred(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _first_true(lo: int, hi: int, pred: Callable[[int], bool]) -> int | None:
    """Smallest x in [lo, hi] with pred(x), for pred true on a suffix; None if pred(hi) fails."""
    if not pred(hi):
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if pred(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _driver_limits(v: Vehicle) -> bool:
    """Whether the vehicle has limits of its own on when and how long its route runs."""
    return (
        v.max_duration_s is not None
        or v.max_driving_s is not None
        or v.start_window is not None
        or v.end_window is not None
    )


def _without_duty_limits(v: Vehicle) -> Vehicle:
    """The vehicle without its driver's duty limits (a carpool driver keeps its detour limit)."""
    if v.kind == "carpool":
        return replace(v, max_driving_s=None)
    return replace(v, max_duration_s=None, max_driving_s=None)


def _alone_on_vehicle(
    problem: Problem, r: Request, v: Vehicle, ptw: TimeWindow, dtw: TimeWindow
) -> _VehicleResult:
    """Exact: the interval of feasible pickup start times for ``r`` alone on ``v`` (the union
    over break placements is summarised by its min and max)."""
    sh = problem.rules.service_hours
    t_sp = problem.travel_s(v.start, r.pickup)
    t_pd = problem.travel_s(r.pickup, r.dropoff)
    t_de = problem.travel_s(r.dropoff, v.end)
    if unreachable(t_sp) or unreachable(t_pd) or unreachable(t_de):
        return _VehicleResult(False)
    if problem.may_carry(v, r) is not None:
        return _VehicleResult(False)
    if _driver_limits(v) and not feasible_alone(problem, r, v):
        # a carpool driver's or volunteer's own limits (window, detour) rule the vehicle out (the
        # route's timing network knows them); the interval below is exact for vehicles without
        # them and an outer bound for those with them
        return _VehicleResult(False)
    board, alight, max_ride = problem.boarding_s(r), problem.alighting_s(r), problem.max_ride_s(r)
    p_lo0, p_hi0 = _intersect(ptw, sh)
    d_lo, d_hi = _intersect(dtw, sh)
    best_lo: int | None = None
    best_hi: int | None = None
    for before, ride, after in _break_placements(v.breaks):
        ready_p = _pass_gap(v.shift.start_s, t_sp, before)
        if ready_p is None:
            continue
        lo, hi = max(ready_p, p_lo0), p_hi0

        def start_d(p: int, ride: tuple[Break, ...] = ride) -> int | None:
            a = _pass_gap(p + board, t_pd, ride)
            return None if a is None else max(a, d_lo)

        def upper_ok(p: int, after: tuple[Break, ...] = after) -> bool:
            sd = start_d(p)
            if sd is None or sd > d_hi:
                return False
            end = _pass_gap(sd + alight, t_de, after)
            return end is not None and end <= v.shift.end_s

        def ride_ok(p: int) -> bool:
            sd = start_d(p)
            return sd is not None and sd - (p + board) <= max_ride

        if lo > hi:
            continue
        p_hi = _last_true(lo, hi, upper_ok)
        if p_hi is None:
            continue
        p_lo = _first_true(lo, p_hi, ride_ok)
        if p_lo is None:
            continue
        best_lo = p_lo if best_lo is None else min(best_lo, p_lo)
        best_hi = p_hi if best_hi is None else max(best_hi, p_hi)
    if best_lo is None or best_hi is None:
        return _VehicleResult(False)
    return _VehicleResult(True, best_lo, best_hi)


def alone_route(
    problem: Problem, request: Request, vehicle: Vehicle, pickup_s: int | None = None
) -> Route | None:
    """A witness: the one-request route of ``vehicle`` serving ``request`` alone with its pickup
    starting at ``pickup_s`` (default: the earliest feasible), or None if that is infeasible.
    It is built from the same exact timing as :func:`alone_report`, so the independent checker
    can confirm every "feasible alone" claim."""
    r, v = request, vehicle
    if not _fits(r, v):
        return None
    if _driver_limits(v):
        # the driver's own limits: the route's timing network holds them (with the pickup
        # pinned to ``pickup_s`` when given)
        if problem.may_carry(v, r) is not None:
            return None
        if pickup_s is not None:
            if not problem.pickup_tw(r).contains(pickup_s):
                return None
            r = replace(r, pickup_window=TimeWindow(pickup_s, pickup_s))
        return schedule_route(problem, v, [(r, "pickup"), (r, "dropoff")])
    sh = problem.rules.service_hours
    ptw, dtw = problem.pickup_tw(r), problem.dropoff_tw(r)
    if pickup_s is None:
        res = _alone_on_vehicle(problem, r, v, ptw, dtw)
        if not res.feasible or res.earliest_pickup_s is None:
            return None
        pickup_s = res.earliest_pickup_s
    t_sp, t_pd, t_de = (
        problem.travel_s(v.start, r.pickup),
        problem.direct_s(r),
        problem.travel_s(r.dropoff, v.end),
    )
    if unreachable(t_sp) or unreachable(t_pd) or unreachable(t_de):
        return None
    board, alight = problem.boarding_s(r), problem.alighting_s(r)
    d_lo, d_hi = _intersect(dtw, sh)
    p_lo, p_hi = _intersect(ptw, sh)
    if not p_lo <= pickup_s <= p_hi:
        return None
    for placement in _break_placements(v.breaks):
        g0 = _pass_gap_starts(v.shift.start_s, t_sp, placement[0])
        if g0 is None or g0[0] > pickup_s:
            continue
        dep_p = pickup_s + board
        g1 = _pass_gap_starts(dep_p, t_pd, placement[1])
        if g1 is None:
            continue
        start_d = max(g1[0], d_lo)
        if start_d > d_hi or start_d - dep_p > problem.max_ride_s(r):
            continue
        g2 = _pass_gap_starts(start_d + alight, t_de, placement[2])
        if g2 is None or g2[0] > v.shift.end_s:
            continue
        breaks = tuple(
            BreakTaken(bs, b.duration_s, after)
            for after, (brks, (_, starts)) in zip(
                (-1, 0, 1), zip(placement, (g0, g1, g2), strict=True), strict=True
            )
            for b, bs in zip(brks, starts, strict=True)
        )
        visits = (
            Visit(r.id, "pickup", r.pickup, g0[0], pickup_s, dep_p, r.seats, r.wheelchairs),
            Visit(
                r.id, "dropoff", r.dropoff, g1[0], start_d, start_d + alight, 0, 0, start_d - dep_p
            ),
        )
        dist = (
            problem.travel_m(v.start, r.pickup)
            + problem.travel_m(r.pickup, r.dropoff)
            + problem.travel_m(r.dropoff, v.end)
        )
        return Route(v.id, v.shift.start_s, g2[0], visits, breaks, dist)
    return None


# --------------------------------------------------------------------------------------------
# Classification
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AloneReport:
    """The verdict on one request checked alone against the whole fleet.

    ``reason`` is None when feasible (a refusal of it is then ``Reason.DISPLACED``);
    ``vehicles`` are the ids of the vehicles that can serve it alone; ``details`` is a
    JSON-serialisable dict (times in seconds since midnight)."""

    feasible: bool
    reason: Reason | None
    vehicles: tuple[str, ...] = ()
    details: dict[str, object] = field(default_factory=dict)

    @property
    def refusal_reason(self) -> Reason:
        """The reason to give if this request is refused."""
        return Reason.DISPLACED if self.reason is None else self.reason


def _pair_feasible(problem: Problem, r: Request, with_service_hours: bool) -> bool:
    """Vehicle-free test: is there a pickup start and a drop-off start within the windows with
    direct <= drop-off - (pickup + boarding) <= max ride?"""
    direct = problem.direct_s(r)
    if unreachable(direct):
        return False
    max_ride = problem.max_ride_s(r)
    if direct > max_ride:
        return False
    ptw, dtw = problem.pickup_tw(r), problem.dropoff_tw(r)
    p_lo, p_hi = ptw.start_s, ptw.end_s
    d_lo, d_hi = dtw.start_s, dtw.end_s
    if with_service_hours:
        sh = problem.rules.service_hours
        p_lo, p_hi = max(p_lo, sh.start_s), min(p_hi, sh.end_s)
        d_lo, d_hi = max(d_lo, sh.start_s), min(d_hi, sh.end_s)
    if p_lo > p_hi or d_lo > d_hi:
        return False
    board = problem.boarding_s(r)
    return max(d_lo, p_lo + board + direct) <= min(d_hi, p_hi + board + max_ride)


def _fits(r: Request, v: Vehicle) -> bool:
    return v.seats >= r.seats and v.wheelchairs >= r.wheelchairs


def _span(problem: Problem, r: Request) -> tuple[int, int]:
    return problem.pickup_tw(r).start_s, problem.dropoff_tw(r).end_s


def _feasible_intervals(
    problem: Problem, r: Request, vehicles: Sequence[Vehicle], ptw: TimeWindow, dtw: TimeWindow
) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for v in vehicles:
        res = _alone_on_vehicle(problem, r, v, ptw, dtw)
        if res.feasible and res.earliest_pickup_s is not None and res.latest_pickup_s is not None:
            out[v.id] = (res.earliest_pickup_s, res.latest_pickup_s)
    return out


def _nearest_alternative(
    problem: Problem, r: Request, vehicles: Sequence[Vehicle]
) -> dict[str, object]:
    """The feasible pickup time nearest to the requested window when the request's own windows
    are relaxed to the service hours (same ride-time rule): an alternative to offer."""
    sh = problem.rules.service_hours
    intervals = _feasible_intervals(problem, r, vehicles, sh, sh)
    if not intervals:
        return {}
    ptw = problem.pickup_tw(r)
    best: tuple[int, int, str] | None = None  # (distance, time, vehicle)
    for vid, (lo, hi) in sorted(intervals.items()):
        t = min(max(ptw.start_s, lo), hi)
        dist = 0 if ptw.contains(t) else min(abs(t - ptw.start_s), abs(t - ptw.end_s))
        if best is None or (dist, t) < best[:2]:
            best = (dist, t, vid)
    assert best is not None
    return {"nearest_pickup_s": best[1], "nearest_pickup_vehicle": best[2]}


Verdict = Callable[..., AloneReport]  # a refusal verdict: reason, then its details


def alone_report(problem: Problem, request: Request) -> AloneReport:
    """Check ``request`` alone against every vehicle of ``problem`` (exact) and classify, in
    order: service hours, group size, a compatible vehicle on duty, roads, the ride-time rule,
    reaching the pickup, then the exact check per vehicle (and duty limits)."""
    r = request
    ptw, dtw = problem.pickup_tw(r), problem.dropoff_tw(r)
    base: dict[str, object] = {
        "pickup_window": [ptw.start_s, ptw.end_s],
        "dropoff_window": [dtw.start_s, dtw.end_s],
    }

    def verdict(reason: Reason, **extra: object) -> AloneReport:
        return AloneReport(False, reason, (), {**base, **extra})

    early = _hours_verdict(problem, r, verdict)
    if early is not None:
        return early
    fitting = _fitting_vehicles(problem, r, verdict)
    if isinstance(fitting, AloneReport):
        return fitting
    roads = _vehicles_with_roads(problem, r, fitting, verdict)
    if isinstance(roads, AloneReport):
        return roads
    intervals = _timing(problem, r, roads, verdict)
    if isinstance(intervals, AloneReport):
        return intervals
    return AloneReport(
        True,
        None,
        tuple(sorted(intervals)),
        {
            **base,
            "earliest_pickup_s": min(lo for lo, _ in intervals.values()),
            "latest_pickup_s": max(hi for _, hi in intervals.values()),
            "by_vehicle": {vid: [lo, hi] for vid, (lo, hi) in sorted(intervals.items())},
        },
    )


def _hours_verdict(problem: Problem, r: Request, verdict: Verdict) -> AloneReport | None:
    """1. Service hours: a window that does not meet them, or the trip only fits outside."""
    sh = problem.rules.service_hours
    ptw, dtw = problem.pickup_tw(r), problem.dropoff_tw(r)

    def misses_hours(w: TimeWindow) -> bool:  # a non-empty window that does not meet the hours
        return w.start_s <= w.end_s and max(w.start_s, sh.start_s) > min(w.end_s, sh.end_s)

    if (
        misses_hours(ptw)
        or misses_hours(dtw)
        or (
            _pair_feasible(problem, r, with_service_hours=False)
            and not _pair_feasible(problem, r, with_service_hours=True)
        )
    ):
        return verdict(Reason.OUTSIDE_SERVICE_HOURS, service_hours=[sh.start_s, sh.end_s])
    return None


def _fitting_vehicles(
    problem: Problem, r: Request, verdict: Verdict
) -> list[Vehicle] | AloneReport:
    """2. Group size, 3. a wheelchair vehicle on duty: the vehicles the group fits in."""
    fleet = problem.vehicles
    if not fleet:
        return verdict(Reason.SHIFT_TOO_SHORT, vehicles_on_duty=0)
    max_seats = max(v.seats for v in fleet)
    max_wc = max(v.wheelchairs for v in fleet)
    if r.seats > max_seats or (r.wheelchairs > max_wc and max_wc > 0):
        return verdict(
            Reason.GROUP_TOO_LARGE,
            seats=r.seats,
            wheelchairs=r.wheelchairs,
            max_seats=max_seats,
            max_wheelchairs=max_wc,
        )
    fitting = [v for v in fleet if _fits(r, v)]
    if not fitting:
        if r.wheelchairs > 0:
            return verdict(
                Reason.NO_COMPATIBLE_VEHICLE, wheelchairs=r.wheelchairs, vehicles_with_places=[]
            )
        return verdict(Reason.GROUP_TOO_LARGE, seats=r.seats, max_seats=max_seats)
    if r.wheelchairs > 0:
        lo, hi = _span(problem, r)
        on_duty = [v for v in fitting if v.shift.start_s <= hi and v.shift.end_s >= lo]
        if not on_duty:
            return verdict(
                Reason.NO_COMPATIBLE_VEHICLE,
                wheelchairs=r.wheelchairs,
                vehicles_with_places=[v.id for v in fitting],
            )
        fitting = on_duty
    return fitting


def _vehicles_with_roads(
    problem: Problem, r: Request, fitting: list[Vehicle], verdict: Verdict
) -> list[Vehicle] | AloneReport:
    """4. Roads: the trip itself, and from a vehicle's start and back to its end."""
    if unreachable(problem.direct_s(r)):
        return verdict(Reason.NO_ROAD, leg=[r.pickup, r.dropoff])
    roads = [
        v
        for v in fitting
        if not unreachable(problem.travel_s(v.start, r.pickup))
        and not unreachable(problem.travel_s(r.dropoff, v.end))
    ]
    if not roads:
        return verdict(Reason.NO_ROAD, leg=["depot", r.pickup], vehicles=[v.id for v in fitting])
    return roads


def _timing(
    problem: Problem, r: Request, roads: list[Vehicle], verdict: Verdict
) -> dict[str, tuple[int, int]] | AloneReport:
    """5. The ride-time rule, 6. reaching the pickup in its window, 7./8. the exact check per
    vehicle (and whether duty limits are what stops it): the feasible pickup interval per
    vehicle."""
    sh = problem.rules.service_hours
    ptw, dtw = problem.pickup_tw(r), problem.dropoff_tw(r)
    if not _pair_feasible(problem, r, with_service_hours=False):
        return verdict(
            Reason.RIDE_TIME_RULE, direct_s=problem.direct_s(r), max_ride_s=problem.max_ride_s(r)
        )
    p_hi = min(ptw.end_s, sh.end_s)
    arrivals = {v.id: v.shift.start_s + problem.travel_s(v.start, r.pickup) for v in roads}
    if all(a > p_hi for a in arrivals.values()):
        return verdict(
            Reason.PICKUP_UNREACHABLE,
            earliest_arrival_s=min(arrivals.values()),
            **_nearest_alternative(problem, r, roads),
        )
    intervals = _feasible_intervals(problem, r, roads, ptw, dtw)
    if intervals:
        return intervals
    limited = [v for v in roads if _without_duty_limits(v) != v]
    relaxed = [_without_duty_limits(v) for v in limited]
    if _feasible_intervals(problem, r, relaxed, ptw, dtw):
        return verdict(
            Reason.DUTY_LIMIT,
            max_duration_s=min(
                (v.max_duration_s for v in limited if v.max_duration_s is not None),
                default=None,
            ),
            max_driving_s=min(
                (v.max_driving_s for v in limited if v.max_driving_s is not None),
                default=None,
            ),
            direct_s=problem.direct_s(r),
        )
    return verdict(Reason.SHIFT_TOO_SHORT, **_nearest_alternative(problem, r, roads))


# --------------------------------------------------------------------------------------------
# Rejections
# --------------------------------------------------------------------------------------------


def _detail(reason: Reason, problem: Problem, r: Request, d: dict[str, object]) -> tuple[str, str]:
    """A short specific detail (French, English) for a reason."""
    ptw = problem.pickup_tw(r)
    win = f"{hhmm(ptw.start_s)}–{hhmm(ptw.end_s)}"
    near = d.get("nearest_pickup_s")
    near_fr = (
        f" Prise en charge possible seul à {hhmm(int(near))}." if isinstance(near, int) else ""
    )
    near_en = f" A pickup alone is possible at {hhmm(int(near))}." if isinstance(near, int) else ""
    if reason is Reason.OUTSIDE_SERVICE_HOURS:
        sh = problem.rules.service_hours
        s = f"{hhmm(sh.start_s)}–{hhmm(sh.end_s)}"
        return f"Service de {s}.", f"Service hours {s}."
    if reason is Reason.GROUP_TOO_LARGE:
        return (
            f"{r.seats} place(s) assise(s) et {r.wheelchairs} fauteuil(s) demandés ; au plus "
            f"{d.get('max_seats')} et {d.get('max_wheelchairs')}.",
            f"{r.seats} seat(s) and {r.wheelchairs} wheelchair(s) asked; at most "
            f"{d.get('max_seats')} and {d.get('max_wheelchairs')}.",
        )
    if reason is Reason.NO_COMPATIBLE_VEHICLE:
        return (
            f"{r.wheelchairs} fauteuil(s) demandé(s).",
            f"{r.wheelchairs} wheelchair place(s) needed.",
        )
    if reason is Reason.NO_ROAD:
        leg = d.get("leg")
        a, b = (leg[0], leg[1]) if isinstance(leg, list) and len(leg) == 2 else ("?", "?")
        return f"Trajet {a} → {b} impossible.", f"No route {a} -> {b}."
    if reason is Reason.RIDE_TIME_RULE:
        direct, mx = int(d.get("direct_s", 0)), int(d.get("max_ride_s", 0))  # type: ignore[call-overload]
        return (
            f"Trajet direct {direct // 60} min, durée maximale {mx // 60} min.",
            f"Direct ride {direct // 60} min, max ride {mx // 60} min.",
        )
    if reason is Reason.PICKUP_UNREACHABLE:
        e = int(d.get("earliest_arrival_s", 0))  # type: ignore[call-overload]
        return (
            f"Créneau {win}, arrivée au plus tôt {hhmm(e)}.{near_fr}",
            f"Window {win}, earliest arrival {hhmm(e)}.{near_en}",
        )
    if reason is Reason.SHIFT_TOO_SHORT:
        return f"Créneau {win}.{near_fr}", f"Window {win}.{near_en}"
    if reason is Reason.DUTY_LIMIT:
        limits_fr, limits_en = [], []
        duty, driving = d.get("max_duration_s"), d.get("max_driving_s")
        if isinstance(duty, int):
            limits_fr.append(f"service {duty // 60} min au plus")
            limits_en.append(f"duty at most {duty // 60} min")
        if isinstance(driving, int):
            limits_fr.append(f"conduite continue {driving // 60} min au plus")
            limits_en.append(f"continuous driving at most {driving // 60} min")
        direct = int(d.get("direct_s", 0))  # type: ignore[call-overload]
        return (
            f"Trajet direct {direct // 60} min ; {', '.join(limits_fr)}.",
            f"Direct ride {direct // 60} min; {', '.join(limits_en)}.",
        )
    lo, hi = d.get("earliest_pickup_s"), d.get("latest_pickup_s")
    vehicles = ", ".join(d.get("vehicles", []))  # type: ignore[arg-type]
    if isinstance(lo, int) and isinstance(hi, int):
        return (
            f"Il faudrait un véhicule libre pour une prise en charge entre {hhmm(lo)} et "
            f"{hhmm(hi)} ({vehicles}).",
            f"Would need a vehicle free for a pickup between {hhmm(lo)} and {hhmm(hi)} "
            f"({vehicles}).",
        )
    return "", ""


def rejection_for(
    problem: Problem, request: Request, report: AloneReport | None = None
) -> Rejection:
    """The Rejection (reason, French and English messages, details) for a refused request."""
    rep = report if report is not None else alone_report(problem, request)
    reason = rep.refusal_reason
    details: dict[str, object] = {**rep.details, "vehicles": list(rep.vehicles)}
    fr, en = _detail(reason, problem, request, details)
    msgs = REASON_MESSAGES[reason]
    return Rejection(
        request_id=request.id,
        reason=reason,
        message=f"{msgs['fr']} {fr}".strip(),
        message_en=f"{msgs['en']} {en}".strip(),
        details=details,
    )


def linked_rejection(
    request_id: str, partner_id: str, partner_role: str, partner_reason: Reason
) -> Rejection:
    """The Rejection of one half of a linked trip, refused because its other half
    ``partner_id`` (its "outbound" or "return", ``partner_role``) is refused for
    ``partner_reason``: ``Reason.LINKED_TRIP_REFUSED``, naming the other half."""
    fr_role = "retour" if partner_role == "return" else "aller"
    reason = Reason.LINKED_TRIP_REFUSED
    msgs, theirs = REASON_MESSAGES[reason], REASON_MESSAGES[partner_reason]
    return Rejection(
        request_id=request_id,
        reason=reason,
        message=f"{msgs['fr']} Trajet {fr_role} {partner_id} refusé : {theirs['fr']}",
        message_en=f"{msgs['en']} Its {partner_role} {partner_id} is refused: {theirs['en']}",
        details={
            "linked_trip": partner_id,
            "linked_role": partner_role,
            "linked_reason": partner_reason.value,
        },
    )


def _linked(
    problem: Problem, rej: Rejection, r: Request, reports: dict[str, AloneReport]
) -> Rejection:
    """``rej`` of ``r`` as one half of a linked trip: LINKED_TRIP_REFUSED when ``r`` is feasible
    alone and its other half is not; otherwise ``rej`` naming the other half."""
    mate_id = problem.partner_id(r.id)
    if mate_id is None:
        return rej
    mate = problem.request(mate_id)
    role = "return" if mate.return_of == r.id else "outbound"
    if rej.reason is Reason.DISPLACED:
        if mate_id not in reports:
            reports[mate_id] = alone_report(problem, mate)
        theirs = reports[mate_id]
        if not theirs.feasible:
            out = linked_rejection(r.id, mate_id, role, theirs.refusal_reason)
            return Rejection(
                out.request_id,
                out.reason,
                out.message,
                out.message_en,
                {**rej.details, **out.details},
            )
    return Rejection(
        rej.request_id,
        rej.reason,
        rej.message,
        rej.message_en,
        {**rej.details, "linked_trip": mate_id, "linked_role": role},
    )


def explain_rejections(
    problem: Problem, refused: Sequence[str], plan: Plan | None = None
) -> list[Rejection]:
    """One Rejection per refused request id, in the given order.

    ``plan`` (optional) is the plan the requests were refused from; for a DISPLACED request the
    details then name the vehicles that could take it alone and are used in that plan. A half
    of a linked trip feasible alone whose other half is not is LINKED_TRIP_REFUSED.
    Raises NotFoundError for an unknown id."""
    by_id = {r.id: r for r in problem.requests}
    used = {rt.vehicle_id for rt in plan.routes if rt.visits} if plan is not None else set()
    out: list[Rejection] = []
    reports: dict[str, AloneReport] = {}
    for k, rid in enumerate(refused):
        if rid not in by_id:
            raise NotFoundError(f"unknown request {rid!r}", f"refused[{k}]")
        reports[rid] = alone_report(problem, by_id[rid])
    for rid in refused:
        rej = _linked(
            problem, rejection_for(problem, by_id[rid], reports[rid]), by_id[rid], reports
        )
        if plan is not None and rej.reason is Reason.DISPLACED:
            busy = [v for v in rej.details.get("vehicles", []) if v in used]  # type: ignore[attr-defined]
            rej = Rejection(
                rej.request_id,
                rej.reason,
                rej.message,
                rej.message_en,
                {**rej.details, "busy_vehicles": busy},
            )
        out.append(rej)
    return out


__all__ = [
    "UNREACHABLE_S",
    "AloneReport",
    "alone_report",
    "alone_route",
    "explain_rejections",
    "linked_rejection",
    "rejection_for",
    "unreachable",
]
