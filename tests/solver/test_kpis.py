"""KPIs on a hand-built plan whose figures are worked out by hand."""

from __future__ import annotations

import pytest

from dispatcher.model import (
    REASON_MESSAGES,
    Location,
    Problem,
    Reason,
    Rejection,
    Request,
    Route,
    ServiceRules,
    TimeWindow,
    Vehicle,
    Visit,
)
from dispatcher.solver.kpis import compute_kpis

H = 3600


def line_problem() -> Problem:
    xs = {"D": 0, "A": 1, "B": 2, "C": 3, "E": 4}
    locs = tuple(Location(k, float(x), 0.0) for k, x in xs.items())
    dur = [[abs(a - b) * 60 for b in xs.values()] for a in xs.values()]
    dist = [[abs(a - b) * 1000 for b in xs.values()] for a in xs.values()]
    reqs = (
        Request("r1", "A", "C", pickup_window=TimeWindow(8 * H, 8 * H + 900)),
        Request(
            "r2", "B", "E", seats=1, wheelchairs=1, pickup_window=TimeWindow(8 * H, 8 * H + 900)
        ),
        Request("r3", "A", "E", pickup_window=TimeWindow(8 * H, 8 * H + 900)),
    )
    fleet = (
        Vehicle(
            "bus", "D", "D", TimeWindow(7 * H, 12 * H), seats=8, wheelchairs=1, fixed_cost=10.0
        ),
        Vehicle("spare", "D", "D", TimeWindow(7 * H, 12 * H), kind="car"),
    )
    rules = ServiceRules(co2_g_per_km={"minibus": 250.0, "car": 193.0, "volunteer": 193.0})
    return Problem(locs, dur, dist, reqs, fleet, rules=rules)


def visit(
    rid: str, kind: str, loc: str, start: int, seats: int, wc: int, ride: int | None = None
) -> Visit:
    return Visit(rid, kind, loc, start, start, start + 60, seats, wc, ride)  # type: ignore[arg-type]


def test_kpis_of_a_hand_built_plan() -> None:
    p = line_problem()
    # D -> A (r1 up) -> B (r2 up: 1 seat + 1 wheelchair) -> C (r1 down) -> E (r2 down) -> D
    route = Route(
        "bus",
        start_s=28740,
        end_s=29460,
        visits=(
            visit("r1", "pickup", "A", 28800, 1, 0),
            visit("r2", "pickup", "B", 28920, 2, 1),
            visit("r1", "dropoff", "C", 29040, 1, 1, ride=180),
            visit("r2", "dropoff", "E", 29160, 0, 0, ride=180),
        ),
        distance_m=8000,
    )
    empty = Route("spare", 0, 0, ())
    msg = REASON_MESSAGES[Reason.DISPLACED]
    k = compute_kpis(p, [route, empty], [Rejection("r3", Reason.DISPLACED, msg["fr"], msg["en"])])
    assert (k.requests, k.served, k.refused) == (3, 2, 1)
    assert k.passengers_served == 3  # r1 alone, r2 one seated and one wheelchair
    assert k.vehicles_used == 1  # an empty route is not a used vehicle
    assert k.vehicle_km == 8.0
    assert k.vehicle_hours == pytest.approx(0.2)  # 12 minutes depot to depot
    assert k.empty_km == 5.0  # D->A (1 km) and E->D (4 km)
    # passenger-km: A-B 1 x 1, B-C 3 x 1, C-E 2 x 1 = 6 over 8 vehicle-km
    assert k.mean_occupancy == pytest.approx(0.75)
    assert k.mean_ride_min == 3.0 and k.max_ride_min == 3.0
    assert k.mean_detour == pytest.approx(1.5)  # 180 s ride for 120 s direct, both
    assert k.co2_kg == pytest.approx(2.0)  # 8 km x 250 g
    assert k.cost_eur == pytest.approx(8 * 0.5 + 0.2 * 25.0 + 10.0)


def test_kpis_of_an_empty_plan_are_zero() -> None:
    p = line_problem()
    k = compute_kpis(p, [], [])
    assert (
        k.requests == 3
        and k.served == 0
        and k.vehicle_km == 0.0
        and k.mean_occupancy == 0.0
        and k.cost_eur == 0.0
    )
