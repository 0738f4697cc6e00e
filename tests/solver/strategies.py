"""Test helpers for the solver tests: a plain route builder and hypothesis strategies.

``build_route`` schedules a given visit order the obvious way (earliest times, waiting for
windows, explicit breaks) so that tests can write plans without an engine; it is deliberately
naive and independent of the checker (it never consults it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from hypothesis import strategies as st

from dispatcher.model import (
    Break,
    BreakTaken,
    Location,
    Problem,
    Request,
    Route,
    ServiceRules,
    TimeWindow,
    Vehicle,
    Visit,
)

H = 3600


def build_route(
    problem: Problem,
    vehicle_id: str,
    order: Sequence[tuple[str, str]],
    *,
    start_s: int | None = None,
    breaks: Sequence[tuple[int, int, int]] = (),
    wait_for_windows: bool = True,
) -> Route:
    """A route for ``vehicle_id`` visiting ``order`` ((request id, "pickup"|"dropoff") pairs).

    Leaves the depot at ``start_s`` (default: shift start). ``breaks`` are (after, start_s,
    duration_s): taken before driving the leg ``after``; the next arrival is then
    ``max(prev departure, break starts...) + breaks + travel``. Each visit starts at
    max(arrival, window start, service-hours start) when ``wait_for_windows``. Loads are the
    running sums (pickup +, drop-off -), ride times end of boarding to start of alighting."""
    v = problem.vehicle(vehicle_id)
    reqs = {r.id: r for r in problem.requests}
    sh = problem.rules.service_hours
    t = v.shift.start_s if start_s is None else start_s
    route_start = t
    loc = v.start
    seats = wheelchairs = 0
    visits: list[Visit] = []
    pickup_end: dict[str, int] = {}
    taken: list[BreakTaken] = []
    dist = 0
    by_gap: dict[int, list[tuple[int, int]]] = {}
    for after, bs, dur in breaks:
        by_gap.setdefault(after, []).append((bs, dur))

    def drive(t: int, gap: int, a: str, b: str) -> int:
        for bs, dur in sorted(by_gap.get(gap, [])):
            t = max(t, bs) + dur
            taken.append(BreakTaken(bs, dur, gap))
        return t + problem.travel_s(a, b)

    for i, (rid, kind) in enumerate(order):
        r = reqs[rid]
        place = r.pickup if kind == "pickup" else r.dropoff
        arrival = drive(t, i - 1, loc, place)
        dist += problem.travel_m(loc, place)
        tw = problem.pickup_tw(r) if kind == "pickup" else problem.dropoff_tw(r)
        start = max(arrival, tw.start_s, sh.start_s) if wait_for_windows else arrival
        if kind == "pickup":
            dep = start + problem.boarding_s(r)
            pickup_end[rid] = dep
            seats += r.seats
            wheelchairs += r.wheelchairs
            ride = None
        else:
            dep = start + problem.alighting_s(r)
            seats -= r.seats
            wheelchairs -= r.wheelchairs
            ride = start - pickup_end[rid] if rid in pickup_end else None
        visits.append(Visit(rid, kind, place, arrival, start, dep, seats, wheelchairs, ride))  # type: ignore[arg-type]
        t, loc = dep, place
    end = drive(t, len(order) - 1, loc, v.end)
    dist += problem.travel_m(loc, v.end)
    return Route(vehicle_id, route_start, end, tuple(visits), tuple(taken), dist)


# --------------------------------------------------------------------------------------------
# Synthetic Euclidean instances
# --------------------------------------------------------------------------------------------

SPEED_MPS = 50_000 / 3600  # 50 km/h


def euclidean_matrices(
    points: Sequence[tuple[float, float]],
) -> tuple[list[list[int]], list[list[int]]]:
    """Durations (ceil seconds at 50 km/h) and distances (ceil metres) between points in metres.
    Ceiling of a metric stays within +1 of it, so the triangle inequality can fail by at most 1;
    it is restored exactly by a Floyd-Warshall pass (shortest paths are metric)."""
    n = len(points)
    dist = [
        [0 if i == j else math.ceil(math.dist(points[i], points[j])) for j in range(n)]
        for i in range(n)
    ]
    dur = [
        [0 if i == j else math.ceil(math.dist(points[i], points[j]) / SPEED_MPS) for j in range(n)]
        for i in range(n)
    ]
    for m in (dist, dur):
        for k in range(n):
            for i in range(n):
                for j in range(n):
                    if m[i][k] + m[k][j] < m[i][j]:
                        m[i][j] = m[i][k] + m[k][j]
    return dur, dist


@st.composite
def problems(
    draw: st.DrawFn, max_requests: int = 6, max_vehicles: int = 3, duty_limits: bool = False
) -> Problem:
    """A random dial-a-ride Problem in a 30 km square: a depot or two, a few stops, requests
    with pickup windows or appointments (some impossible on purpose: too early, too large,
    wheelchairs), vehicles with and without wheelchair places and breaks. With
    ``duty_limits``, vehicles also get drivers' duty limits (a max duty time, a max continuous
    driving time whose resting break is sometimes one of the vehicle's breaks, sometimes
    longer than all of them), from loose to tighter than a single trip."""
    n_stops = draw(st.integers(3, 7))
    coord = st.integers(0, 30_000)
    pts = [(draw(coord), draw(coord)) for _ in range(n_stops + 2)]
    locations = tuple(Location(f"L{i}", float(x), float(y)) for i, (x, y) in enumerate(pts))
    dur, dist = euclidean_matrices(pts)
    rules = ServiceRules(service_hours=TimeWindow(6 * H, 20 * H))
    depots = ["L0", "L1"]
    stops = [loc.id for loc in locations[2:]]
    vehicles = []
    for k in range(draw(st.integers(1, max_vehicles))):
        s = draw(st.integers(5 * H, 10 * H))
        e = s + draw(st.integers(2 * H, 9 * H))
        brks: tuple[Break, ...] = ()
        if draw(st.booleans()):
            ws = draw(st.integers(s, e - H))
            brks = (
                Break(
                    TimeWindow(ws, ws + draw(st.integers(1800, 2 * H))),
                    draw(st.sampled_from([900, 1800])),
                ),
            )
        limits: dict[str, int | None] = {}
        if duty_limits:
            limits["max_duration_s"] = draw(st.one_of(st.none(), st.integers(1200, 7 * H)))
            limits["max_driving_s"] = draw(st.one_of(st.none(), st.integers(1200, 4 * H)))
            limits["driving_break_s"] = draw(st.sampled_from([900, 1800, 2700]))
        vehicles.append(
            Vehicle(
                f"v{k}",
                draw(st.sampled_from(depots)),
                draw(st.sampled_from(depots)),
                TimeWindow(s, e),
                seats=draw(st.integers(1, 8)),
                wheelchairs=draw(st.sampled_from([0, 0, 1, 2])),
                breaks=brks,
                **limits,  # type: ignore[arg-type]
            )
        )
    requests = []
    for k in range(draw(st.integers(1, max_requests))):
        a = draw(st.sampled_from(stops))
        b = draw(st.sampled_from([x for x in stops if x != a]))
        seats = draw(st.sampled_from([1, 1, 1, 2, 3, 9]))
        wc = draw(st.sampled_from([0, 0, 0, 0, 0, 1]))
        if draw(st.booleans()):
            t0 = draw(st.integers(5 * H, 20 * H))
            req = Request(
                f"r{k}", a, b, seats=seats, wheelchairs=wc, pickup_window=TimeWindow(t0, t0 + 900)
            )
        else:
            t1 = draw(st.integers(6 * H, 21 * H))
            req = Request(f"r{k}", a, b, seats=seats, wheelchairs=wc, arrive_by_s=t1)
        requests.append(req)
    return Problem(
        locations, dur, dist, tuple(requests), tuple(vehicles), rules=rules, name="generated"
    )


@st.composite
def linked_problems(
    draw: st.DrawFn, max_outbounds: int = 4, max_vehicles: int = 3, breaks: bool = True
) -> Problem:
    """A generated day (see :func:`problems`) where some requests have a return trip: from the
    drop-off back to the pickup, asked for around the outbound's earliest arrival plus the stay
    (sometimes before its latest arrival, so that the two windows overlap and the split has to
    choose), with stays of 0 to 30 min, now and then as an appointment back home. Without
    ``breaks``, the vehicles have none (the days the ALNS layer plans)."""
    base = draw(problems(max_requests=max_outbounds, max_vehicles=max_vehicles))
    # and a few outbounds a vehicle can likely serve: inside a shift, one seat
    likely: list[Request] = []
    stops = [loc.id for loc in base.locations[2:]]
    for k in range(draw(st.integers(1, 3))):
        v = draw(st.sampled_from(base.vehicles))
        a = draw(st.sampled_from(stops))
        b = draw(st.sampled_from([x for x in stops if x != a]))
        t0 = draw(
            st.integers(v.shift.start_s + 1800, max(v.shift.start_s + 1800, v.shift.end_s - 2 * H))
        )
        likely.append(Request(f"o{k}", a, b, pickup_window=TimeWindow(t0, t0 + 900)))
    out: list[Request] = []
    for r in (*base.requests, *likely):
        out.append(r)
        if not draw(st.booleans()):
            continue
        stay = draw(st.sampled_from([0, 300, 900, 1800]))
        ready = base.dropoff_tw(r).start_s + base.alighting_s(r) + stay
        start = max(0, ready + draw(st.sampled_from([-1800, -600, 0, 300, 1800, 3 * H])))
        end = max(start, ready) + draw(st.sampled_from([0, 600, 900, 1800]))
        back = Request(
            f"{r.id}b",
            r.dropoff,
            r.pickup,
            seats=r.seats,
            wheelchairs=r.wheelchairs,
            pickup_window=TimeWindow(start, end),
            return_of=r.id,
            min_stay_s=stay,
        )
        if draw(st.integers(0, 4)) == 0:  # an appointment back home instead
            direct = base.travel_s(r.dropoff, r.pickup)
            arrive = end + base.boarding_s(back) + direct + draw(st.sampled_from([0, 600]))
            back = Request(
                back.id,
                back.pickup,
                back.dropoff,
                seats=back.seats,
                wheelchairs=back.wheelchairs,
                arrive_by_s=arrive,
                return_of=r.id,
                min_stay_s=stay,
            )
        out.append(back)
    vehicles = base.vehicles
    if not breaks:
        vehicles = tuple(
            Vehicle(v.id, v.start, v.end, v.shift, seats=v.seats, wheelchairs=v.wheelchairs)
            for v in vehicles
        )
    return Problem(
        base.locations,
        base.duration_s,
        base.distance_m,
        tuple(out),
        vehicles,
        rules=base.rules,
        name="generated-linked",
    )
