"""A fare is the same at booking, in the plan JSON and in a report; the fare KPIs add up."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatcher.fares import load_fare_rules, trip_fare
from dispatcher.fares.plan import fare_kpis, fares_section, plan_fares
from dispatcher.fares.pricing import fare_from_dict
from dispatcher.io.plan import plan_from_dict, plan_to_dict
from dispatcher.model import (
    KPIs,
    Location,
    Plan,
    Problem,
    Request,
    Route,
    TimeWindow,
    Vehicle,
    Visit,
)
from dispatcher.reports.manifest import manifest_rows, on_board

RULES = load_fare_rules()
ZONES = {"a": "E1", "b": "E1", "c": "E2"}
PLACES = ("a", "b", "c")


def _problem(
    trips: list[tuple[str, str, int, int, str, str, str]], dist: list[list[int]]
) -> Problem:
    locs = tuple(Location(p, 2.6 + i / 100, 50.0) for i, p in enumerate(PLACES))
    reqs = tuple(
        Request(
            f"r{k}",
            a,
            b,
            seats=s,
            wheelchairs=w,
            pickup_window=TimeWindow(8 * 3600, 9 * 3600),
            rider_category=cat,
            fare_product=prod,
        )
        for k, (a, b, s, w, cat, prod, _) in enumerate(trips)
    )
    vehs = (
        Vehicle("bus", "a", "a", TimeWindow(6 * 3600, 20 * 3600)),
        Vehicle("car", "a", "c", TimeWindow(6 * 3600, 20 * 3600), kind="carpool"),
    )
    d = np.array(dist, dtype=np.int32)
    return Problem(locs, d // 10, d, reqs, vehs)


def _plan(
    problem: Problem, trips: list[tuple[str, str, int, int, str, str, str]], cost: float
) -> Plan:
    routes = []
    for vid in ("bus", "car"):
        visits = []
        t = 8 * 3600
        for k, (a, b, s, w, _, _, on) in enumerate(trips):
            if on != vid:
                continue
            visits.append(Visit(f"r{k}", "pickup", a, t, t, t + 60, s, w))
            visits.append(Visit(f"r{k}", "dropoff", b, t + 600, t + 600, t + 660, 0, 0, 600))
            t += 900
        if visits:
            routes.append(Route(vid, 7 * 3600, t + 900, tuple(visits)))
    return Plan(routes=tuple(routes), kpis=KPIs(cost_eur=cost))


trip = st.tuples(
    st.sampled_from(PLACES),
    st.sampled_from(PLACES),
    st.integers(0, 3),
    st.integers(0, 2),
    st.sampled_from(["", *RULES.categories]),
    st.sampled_from(["", *RULES.products]),
    st.sampled_from(["bus", "car"]),
).filter(lambda t: t[0] != t[1] and t[2] + t[3] > 0)
km = st.integers(500, 80_000)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(trip, min_size=1, max_size=8),
    st.tuples(km, km, km),
    st.floats(0, 5000).map(lambda x: round(x, 2)),
)
def test_the_same_fare_everywhere_and_kpis_add_up(trips, d3, cost):  # type: ignore[no-untyped-def]
    ab, ac, bc = d3
    dist = [[0, ab, ac], [ab, 0, bc], [ac, bc, 0]]
    problem = _problem(trips, dist)
    plan = _plan(problem, trips, cost)
    zone_of = ZONES.get
    # at booking: the one function, on what the booking knows
    booked = {}
    for k, (a, b, s, w, cat, prod, on) in enumerate(trips):
        booked[f"r{k}"] = trip_fare(
            RULES,
            request_id=f"r{k}",
            category=cat,
            product=prod,
            seats=s,
            wheelchairs=w,
            distance_m=dist[PLACES.index(a)][PLACES.index(b)],
            zones=(ZONES[a], ZONES[b]),
            mode="carpool" if on == "car" else "minibus",
        )
    in_plan = plan_fares(RULES, problem, plan, zone_of)
    assert in_plan == booked
    # in the plan's JSON, read back
    d = plan_to_dict(plan, problem, fares=fares_section(RULES, problem, plan, zone_of))
    assert plan_from_dict(d, problem).routes == plan.routes
    back = {rid: fare_from_dict(rid, f) for rid, f in d["fares"]["trips"].items()}
    assert back == booked
    # in a report: the driver's manifest
    rows = manifest_rows(problem, plan, onboard=on_board(in_plan, None, RULES))
    on_manifest = {str(r["request_id"]): r["fare_cents"] for r in rows if r["action"] == "pickup"}
    assert on_manifest == {rid: f.amount_cents for rid, f in booked.items()}
    # the KPIs add up
    k = fare_kpis(in_plan, cost)
    ops = [f for f in booked.values() if not f.carpool]
    cars = [f for f in booked.values() if f.carpool]
    assert k.revenue_cents == sum(f.amount_cents for f in ops) == sum(k.by_product.values())
    assert k.revenue_cents == sum(k.by_category.values())
    assert k.subsidy_cents == k.cost_cents - k.revenue_cents == round(cost * 100) - k.revenue_cents
    assert k.passengers == sum(f.passengers for f in ops)
    if k.passengers:
        assert abs(k.subsidy_per_passenger_cents * k.passengers - k.subsidy_cents) <= k.passengers
    assert k.carpool_drivers_cents == k.carpool_contribution_cents + k.carpool_incentive_cents
    assert k.carpool_drivers_cents == sum(f.driver_cents for f in cars)
    assert k.trips + k.carpool_trips == len(trips)
