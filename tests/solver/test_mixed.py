"""Mixed dispatch: minibus, volunteers and carpool drivers in one plan, judged by the checker."""

from __future__ import annotations

import pytest

from dispatcher.errors import InputError
from dispatcher.io.plan import plan_from_dict, plan_to_dict
from dispatcher.model import (
    CarpoolOffer,
    Location,
    Problem,
    Request,
    SolverParams,
    TimeWindow,
    Vehicle,
    VolunteerDriver,
)
from dispatcher.solver.checker import check_plan
from dispatcher.solver.mixed import ModeCosts, mixed_problem, modes_of, plan_mixed

H = 3600
M = 60
# a road line; 1 km takes 60 s. Depot at D, commuters from O to T (Albert), volunteer at V.
PLACES = {"D": 20.0, "O": 0.0, "B": 5.0, "C": 12.0, "T": 20.0, "V": 30.0, "W": 33.0, "X": 70.0}


def problem(requests: tuple[Request, ...]) -> Problem:
    locs = tuple(Location(k, x, 0.0) for k, x in PLACES.items())
    dur = [[int(abs(a - b) * 60) for b in PLACES.values()] for a in PLACES.values()]
    dist = [[int(abs(a - b) * 1000) for b in PLACES.values()] for a in PLACES.values()]
    bus = Vehicle(
        "bus", "D", "D", TimeWindow(6 * H, 19 * H), seats=8, cost_per_km=0.5, cost_per_hour=25.0
    )
    return Problem(locs, dur, dist, requests, (bus,), params=SolverParams(time_limit_s=1.0))


OFFER = CarpoolOffer(
    "d1", "O", "T", seats=2, departure_window=TimeWindow(7 * H + 30 * M, 7 * H + 40 * M)
)
VOLUNTEER = VolunteerDriver("v1", "V", half_days=("am",), max_km_from_home=10.0)


def day() -> Problem:
    return problem(
        (
            # on the commuter's way: the carpool is the cheapest mode
            Request("rb", "B", "T", pickup_window=TimeWindow(7 * H + 35 * M, 7 * H + 50 * M)),
            # same trip, but refuses carpools: falls to the minibus or the volunteer
            Request(
                "rc",
                "C",
                "T",
                pickup_window=TimeWindow(7 * H + 40 * M, 7 * H + 55 * M),
                accepts_carpool=False,
            ),
            # near the volunteer's home (V -> W): a volunteer costs 0.35 EUR/km, no hourly cost
            Request("rw", "V", "W", pickup_window=TimeWindow(9 * H, 9 * H + 15 * M)),
            # X is 40 km from the volunteer's home: never a volunteer
            Request("rx", "W", "X", pickup_window=TimeWindow(10 * H, 10 * H + 15 * M)),
        )
    )


@pytest.mark.parametrize("strategy", ["staged", "joint"])
def test_each_request_goes_to_a_mode_and_the_plan_checks(strategy: str) -> None:
    mp, plan = plan_mixed(day(), [OFFER], [VOLUNTEER], strategy=strategy)  # type: ignore[arg-type]
    report = check_plan(mp, plan)
    assert report.ok, report.summary()
    modes = modes_of(plan)
    assert modes["rb"] == "carpool"
    assert modes["rc"] in ("minibus", "volunteer")
    assert modes["rx"] in ("minibus", "refused")  # beyond the volunteer's radius
    assert modes["rx"] != "volunteer"
    assert set(modes) == {"rb", "rc", "rw", "rx"}
    k = plan.kpis
    assert k.served == len(plan.served_ids)
    assert sum(k.mode_share.values()) == pytest.approx(1.0, abs=1e-3)
    assert k.mode_share["carpool"] == pytest.approx(1 / k.served, abs=1e-3)
    for route in plan.routes:
        assert route.mode in ("minibus", "volunteer", "carpool")


def test_carpool_kpis_by_hand() -> None:
    p = problem(
        (Request("rb", "B", "T", pickup_window=TimeWindow(7 * H + 35 * M, 7 * H + 50 * M)),)
    )
    mp, plan = plan_mixed(p, [OFFER], (), ModeCosts(carpool_per_passenger_km=0.1))
    assert check_plan(mp, plan).ok
    k = plan.kpis
    assert k.mode_share == {"carpool": 1.0}
    # B -> T is 15 km the rider would drive alone; the driver drives no extra km (on the way)
    assert k.car_km_avoided == pytest.approx(15.0)
    assert k.co2_saved_kg == pytest.approx(15.0 * 0.193)
    assert k.cost_eur == pytest.approx(0.1 * 15.0)  # the incentive only
    assert k.vehicle_km == 0.0


def test_a_volunteer_only_serves_near_home_and_in_its_half_day() -> None:
    p = problem(
        (
            Request("near", "V", "W", pickup_window=TimeWindow(9 * H, 9 * H + 15 * M)),
            Request("afternoon", "V", "W", pickup_window=TimeWindow(15 * H, 15 * H + 15 * M)),
        )
    )
    no_bus = Problem(p.locations, p.duration_s, p.distance_m, p.requests, (), params=p.params)
    mp, plan = plan_mixed(no_bus, (), [VOLUNTEER])
    assert check_plan(mp, plan).ok
    assert modes_of(plan) == {"near": "volunteer", "afternoon": "refused"}
    assert [v.id for v in mp.vehicles] == ["v1/am"]


def test_riders_not_matched_to_a_carpool_fall_to_the_minibus() -> None:
    # three riders on the way, two seats: one rides the minibus
    p = problem(
        (
            Request("r1", "B", "T", pickup_window=TimeWindow(7 * H + 35 * M, 7 * H + 50 * M)),
            Request("r2", "C", "T", pickup_window=TimeWindow(7 * H + 40 * M, 7 * H + 55 * M)),
            Request("r3", "B", "T", pickup_window=TimeWindow(7 * H + 35 * M, 7 * H + 50 * M)),
        )
    )
    mp, plan = plan_mixed(p, [OFFER])
    assert check_plan(mp, plan).ok
    modes = modes_of(plan)
    assert sorted(modes.values()) == ["carpool", "carpool", "minibus"]
    back = plan_from_dict(plan_to_dict(plan, mp), mp)
    assert modes_of(back) == modes


def test_volunteer_and_cost_errors_name_the_field() -> None:
    with pytest.raises(InputError) as e:
        mixed_problem(day(), (), [VolunteerDriver("v1", "V", half_days=("night",))])
    assert e.value.where == "volunteers[0].half_days[0]"
    with pytest.raises(InputError) as e:
        mixed_problem(day(), (), [VolunteerDriver("v1", "nowhere")])
    assert e.value.where == "volunteers[0].home"
    with pytest.raises(InputError) as e:
        mixed_problem(day(), (), (), ModeCosts(volunteer_per_km=-1.0))
    assert e.value.where == "costs.volunteer_per_km"


def test_return_of_a_carpooled_outbound_falls_to_the_minibus() -> None:
    """The staged dispatch gives the minibus what the carpool left: a return whose outbound went
    by carpool is planned on its own (the link is dropped in the sub-problem), never a crash."""
    p = problem(
        (
            Request("out", "B", "T", pickup_window=TimeWindow(7 * H + 35 * M, 7 * H + 50 * M)),
            Request(
                "back", "T", "B", pickup_window=TimeWindow(16 * H, 16 * H + 15 * M), return_of="out"
            ),
        )
    )
    mp, plan = plan_mixed(p, [OFFER], (), strategy="staged")
    assert check_plan(mp, plan).ok
    modes = modes_of(plan)
    assert modes == {"out": "carpool", "back": "minibus"}
    assert mp.request("back").return_of == "out"  # the day's problem keeps the link


def test_a_carpooled_outbound_whose_return_no_one_can_serve_is_refused_with_it() -> None:
    """Both or neither across the modes: the bus's shift ends at 19:00, so the return at 19:30
    cannot be served; the outbound, carpooled otherwise, is taken off the carpool and refused
    with linked_trip_refused, naming its return."""
    p = problem(
        (
            Request("out", "B", "T", pickup_window=TimeWindow(7 * H + 35 * M, 7 * H + 50 * M)),
            Request(
                "back",
                "T",
                "B",
                pickup_window=TimeWindow(19 * H + 30 * M, 19 * H + 45 * M),
                return_of="out",
            ),
        )
    )
    mp, plan = plan_mixed(p, [OFFER], (), strategy="staged")
    assert check_plan(mp, plan).ok
    why = {j.request_id: j for j in plan.rejections}
    assert set(why) == {"out", "back"} and plan.served_ids == []
    assert why["out"].reason.value == "linked_trip_refused"
    assert why["out"].details["linked_trip"] == "back"


def test_a_return_by_minibus_follows_its_carpooled_outbound() -> None:
    """The outbound goes by carpool (arriving about 08:00); the return, asked for from 08:00,
    is planned by the minibus after the carpool's drop-off and the stay."""
    p = problem(
        (
            Request("out", "B", "T", pickup_window=TimeWindow(7 * H + 35 * M, 7 * H + 50 * M)),
            Request("back", "T", "B", pickup_window=TimeWindow(8 * H, 9 * H), return_of="out"),
        )
    )
    mp, plan = plan_mixed(p, [OFFER], (), strategy="staged")
    assert check_plan(mp, plan).ok, check_plan(mp, plan).summary()
    assert modes_of(plan) == {"out": "carpool", "back": "minibus"}
    at = {(v.request_id, v.kind): v.start_s for rt in plan.routes for v in rt.visits}
    assert at[("back", "pickup")] >= at[("out", "dropoff")] + 60 + 900
