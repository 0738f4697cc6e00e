"""The seeded demand and fleet generators."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatcher.demand import MARKET_DAYS, generate_fleet, generate_requests, recurring_requests
from dispatcher.errors import InputError
from dispatcher.model import Break, Request, TimeWindow, Vehicle
from dispatcher.territory import Territory

DAY = (7 * 3600, 19 * 3600)


@pytest.fixture(scope="module")
def pilot() -> Territory:
    return Territory.load()


@pytest.fixture(scope="module")
def big(pilot: Territory) -> list[dict[str, Any]]:
    return generate_requests(pilot, 5000, seed=11, return_share=0.0)


def _check_requests(
    t: Territory, reqs: list[dict[str, Any]], n: int, day: tuple[int, int] = DAY
) -> None:
    assert len(reqs) == n
    ids = [r["id"] for r in reqs]
    assert len(set(ids)) == len(ids)
    position = {r["id"]: k for k, r in enumerate(reqs)}
    for r in reqs:
        assert set(r) == {
            "id",
            "pickup",
            "dropoff",
            "seats",
            "wheelchairs",
            "pickup_window",
            "arrive_by_s",
            "return_of",
        }
        assert r["pickup"] != r["dropoff"]
        assert t.stop(r["pickup"]).insee != t.stop(r["dropoff"]).insee
        assert r["seats"] + r["wheelchairs"] >= 1
        assert 0 <= r["wheelchairs"] <= 1 and 0 <= r["seats"] <= 3
        assert (r["pickup_window"] is None) != (r["arrive_by_s"] is None)
        if r["pickup_window"] is not None:
            a, b = r["pickup_window"]
            assert day[0] <= a <= b <= day[1]
        else:
            assert day[0] < r["arrive_by_s"] <= day[1]
        if r["return_of"] is not None:
            out = reqs[position[r["return_of"]]]
            assert position[out["id"]] < position[r["id"]]
            assert out["return_of"] is None
            assert (r["pickup"], r["dropoff"]) == (out["dropoff"], out["pickup"])
            assert (r["seats"], r["wheelchairs"]) == (out["seats"], out["wheelchairs"])
            assert r["pickup_window"] is not None
            out_end = (
                out["arrive_by_s"] if out["arrive_by_s"] is not None else out["pickup_window"][1]
            )
            assert r["pickup_window"][0] > out_end
        # the project's own model accepts every request as it is
        Request(
            id=r["id"],
            pickup=r["pickup"],
            dropoff=r["dropoff"],
            seats=r["seats"],
            wheelchairs=r["wheelchairs"],
            pickup_window=None if r["pickup_window"] is None else TimeWindow(*r["pickup_window"]),
            arrive_by_s=r["arrive_by_s"],
            return_of=r["return_of"],
        ).validate(f"requests[{r['id']}]")


def test_same_seed_same_output(pilot: Territory) -> None:
    a = generate_requests(pilot, 300, seed=5)
    assert a == generate_requests(pilot, 300, seed=5)
    assert a != generate_requests(pilot, 300, seed=6)
    assert generate_requests(pilot, 0) == []


def test_requests_are_valid(pilot: Territory) -> None:
    reqs = generate_requests(pilot, 1000, seed=3)
    _check_requests(pilot, reqs, 1000)
    assert reqs[0]["id"] == "r0001"


def test_origins_follow_population(pilot: Territory, big: list[dict[str, Any]]) -> None:
    origins = Counter(pilot.stop(r["pickup"]).insee for r in big)
    for name in ("Albert", "Méaulte", "Bray-sur-Somme"):
        c = pilot.commune(name)
        share = c.population / pilot.population
        assert origins[c.insee] / len(big) == pytest.approx(share, abs=0.025), name
    albert = pilot.commune("Albert")
    assert abs(origins[albert.insee] / len(big) - albert.population / pilot.population) < 0.02
    # a village of fewer than 100 people hardly ever starts a trip
    tiny = min(pilot.communes, key=lambda c: c.population)
    assert origins[tiny.insee] < 0.005 * len(big)


def test_hub_share(pilot: Territory, big: list[dict[str, Any]]) -> None:
    hubs = {h.insee for h in pilot.hubs}
    share = sum(pilot.stop(r["dropoff"]).insee in hubs for r in big) / len(big)
    assert share == pytest.approx(0.8, abs=0.03)
    none = generate_requests(pilot, 500, seed=1, hub_share=0.0, return_share=0.0)
    assert not any(pilot.stop(r["dropoff"]).insee in hubs for r in none)
    every = generate_requests(pilot, 500, seed=1, hub_share=1.0, return_share=0.0)
    assert all(pilot.stop(r["dropoff"]).insee in hubs for r in every)


def test_gravity_prefers_near_hubs(pilot: Territory, big: list[dict[str, Any]]) -> None:
    # From Acheux-en-Amiénois (north-west), Albert is nearer and bigger than Bray-sur-Somme
    # (south-east)
    acheux = pilot.commune("Acheux-en-Amiénois").insee
    dests = Counter(
        pilot.stop(r["dropoff"]).insee for r in big if pilot.stop(r["pickup"]).insee == acheux
    )
    assert dests["80016"] > dests["80136"]
    # some trips to Albert end at the station
    assert any(r["dropoff"] == "80016-gare" for r in big)


def test_shares_of_appointments_and_wheelchairs(
    pilot: Territory, big: list[dict[str, Any]]
) -> None:
    appointments = sum(r["arrive_by_s"] is not None for r in big) / len(big)
    assert appointments == pytest.approx(0.3, abs=0.03)
    wheelchair = [r for r in big if r["wheelchairs"]]
    assert len(wheelchair) / len(big) == pytest.approx(0.05, abs=0.015)
    assert all(r["seats"] <= 1 for r in wheelchair)
    sizes = Counter(r["seats"] for r in big if not r["wheelchairs"])
    assert sizes[1] > 0.7 * sum(sizes.values()) and sizes[2] > sizes[3] > 0
    assert generate_requests(pilot, 200, seed=2, wheelchair_share=0.0, appointment_share=0.0) == [
        r
        for r in generate_requests(pilot, 200, seed=2, wheelchair_share=0.0, appointment_share=0.0)
        if r["wheelchairs"] == 0 and r["arrive_by_s"] is None
    ]


def test_time_profile_has_two_peaks(big: list[dict[str, Any]]) -> None:
    hours = Counter((r["pickup_window"] or [r["arrive_by_s"]])[0] // 3600 for r in big)
    assert hours[8] > 1.5 * hours[13]
    assert hours[16] > 1.5 * hours[13]


def test_returns(pilot: Territory) -> None:
    reqs = generate_requests(pilot, 2000, seed=4, return_share=0.5)
    returns = [r for r in reqs if r["return_of"]]
    outbound = len(reqs) - len(returns)
    assert 0.3 < len(returns) / outbound < 0.5  # 0.5 asked; a few late trips cannot come back
    _check_requests(pilot, reqs, 2000)
    assert not any(r["return_of"] for r in generate_requests(pilot, 300, seed=4, return_share=0.0))


def test_other_territories(pilot: Territory) -> None:
    every = Territory.load("all")
    reqs = generate_requests(every, 800, seed=9)
    _check_requests(every, reqs, 800)
    towns = Counter(every.stop(r["dropoff"]).insee for r in reqs)
    assert towns["80021"] > towns["80136"]  # Amiens draws more than Bray-sur-Somme
    single = Territory.load(["val-de-somme"])  # one hub only: Corbie
    _check_requests(single, generate_requests(single, 300, seed=1), 300)


def test_custom_day(pilot: Territory) -> None:
    day = (9 * 3600, 12 * 3600)
    reqs = generate_requests(
        pilot, 300, seed=8, day_start_s=day[0], day_end_s=day[1], pickup_window_s=600
    )
    _check_requests(pilot, reqs, 300, day)
    assert all(
        r["pickup_window"] is None or r["pickup_window"][1] - r["pickup_window"][0] == 600
        for r in reqs
    )


@pytest.mark.parametrize(
    ("kwargs", "where"),
    [
        ({"n": -1}, "n"),
        ({"n": 10, "seed": -3}, "seed"),
        ({"n": 10, "hub_share": 1.5}, "hub_share"),
        ({"n": 10, "wheelchair_share": -0.1}, "wheelchair_share"),
        ({"n": 10, "day_start_s": 10 * 3600, "day_end_s": 10 * 3600 + 600}, "day_end_s"),
        ({"n": 10, "pickup_window_s": -5}, "pickup_window_s"),
        ({"n": 10, "recurring_share": 1.2, "weekday": 1}, "recurring_share"),
        ({"n": 10, "recurring_share": 0.2, "weekday": 7}, "weekday"),
        ({"n": 10, "recurring_share": 0.2}, "weekday"),
    ],
)
def test_bad_arguments(pilot: Territory, kwargs: dict[str, Any], where: str) -> None:
    with pytest.raises(InputError) as e:
        generate_requests(pilot, **kwargs)
    assert e.value.where == where


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(0, 200),
    seed=st.integers(0, 2**32),
    wheelchair=st.floats(0, 1),
    appointment=st.floats(0, 1),
    ret=st.floats(0, 1),
    hub=st.floats(0, 1),
)
def test_generator_properties(
    n: int, seed: int, wheelchair: float, appointment: float, ret: float, hub: float
) -> None:
    t = Territory.load()
    reqs = generate_requests(
        t,
        n,
        seed,
        wheelchair_share=wheelchair,
        appointment_share=appointment,
        return_share=ret,
        hub_share=hub,
    )
    _check_requests(t, reqs, n)


# ---- fleet ---------------------------------------------------------------------------------


def test_fleet(pilot: Territory) -> None:
    fleet = generate_fleet(pilot, 10, 3, seed=1)
    assert fleet == generate_fleet(pilot, 10, 3, seed=1)
    assert [v["id"] for v in fleet] == [f"v{i:02d}" for i in range(1, 11)]
    assert sum(v["wheelchairs"] == 2 and v["seats"] == 6 for v in fleet) == 3
    assert sum(v["wheelchairs"] == 0 and v["seats"] == 8 for v in fleet) == 7
    hubs = {h.id for h in pilot.hubs}
    depots = Counter(v["start"] for v in fleet)
    assert set(depots) <= hubs and all(v["start"] == v["end"] for v in fleet)
    assert depots["80016"] == 6 and len(depots) == 4  # mostly Albert, the rest over the pôles
    for k, v in enumerate(fleet):
        assert v["shift"] == [7 * 3600, 19 * 3600]
        assert v["breaks"] == [{"window": [11 * 3600 + 1800, 14 * 3600], "duration_s": 2700}]
        Vehicle(
            id=v["id"],
            start=v["start"],
            end=v["end"],
            shift=TimeWindow(*v["shift"]),
            seats=v["seats"],
            wheelchairs=v["wheelchairs"],
            kind=v["kind"],
            breaks=tuple(Break(TimeWindow(*b["window"]), b["duration_s"]) for b in v["breaks"]),
        ).validate(f"vehicles[{k}]")


def test_fleet_edges(pilot: Territory) -> None:
    assert generate_fleet(pilot, 0, 0) == []
    assert {v["start"] for v in generate_fleet(Territory.load(["amiens"]), 4, 1)} == {"80021"}
    with pytest.raises(InputError) as e:
        generate_fleet(pilot, 2, 3)
    assert e.value.where == "n_wheelchair"
    with pytest.raises(InputError):
        generate_fleet(pilot, 2, 0, break_window=(43200, 43800), break_s=2700)


def test_carpool_offers_commute_to_albert_and_meaulte() -> None:
    from dispatcher.demand import generate_carpool_offers
    from dispatcher.io.mobility import offers_from_dicts

    t = Territory.load()
    offers = generate_carpool_offers(t, 60, seed=3)
    assert offers == generate_carpool_offers(t, 60, seed=3)
    assert offers != generate_carpool_offers(t, 60, seed=4)
    albert, meaulte = t.main_stop("Albert").id, t.main_stop("Méaulte").id
    assert {o["destination"] for o in offers} == {albert, meaulte}
    assert all(o["origin"] not in (albert, meaulte) for o in offers)
    assert all(
        6 * 3600 <= o["departure_window"][0] < o["departure_window"][1] <= 9 * 3600 for o in offers
    )
    # they are valid offers for the project's own reader
    assert len(offers_from_dicts(offers, t, None, "Europe/Paris")) == 60


def _regular(reqs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in reqs if r["id"].startswith("w")]


def test_recurring_trips_repeat_every_week(pilot: Territory) -> None:
    """Two weeks (two seeds), the same weekday: the same regular trips, the other trips differ."""
    week1 = generate_requests(pilot, 200, seed=1, recurring_share=0.15, weekday=1)
    week2 = generate_requests(pilot, 200, seed=2, recurring_share=0.15, weekday=1)
    _check_requests(pilot, week1, 200)
    _check_requests(pilot, week2, 200)
    assert week1 == generate_requests(pilot, 200, seed=1, recurring_share=0.15, weekday=1)
    reg1, reg2 = _regular(week1), _regular(week2)
    assert reg1 == reg2 and len(reg1) == 30
    assert [r for r in week1 if r not in reg1] != [r for r in week2 if r not in reg2]
    assert all(r["id"].startswith("r") for r in week1 if r not in reg1)
    # regular trips come as outbound ("a") and return ("b") pairs
    outbound = {r["id"] for r in reg1 if r["id"].endswith("a")}
    assert {r["return_of"] for r in reg1 if r["id"].endswith("b")} <= outbound and len(
        outbound
    ) >= 10
    # another weekday has other regular riders (dialysis Mon-Wed-Fri vs Tue-Thu-Sat, weekly
    # activities)
    monday = _regular(generate_requests(pilot, 200, seed=1, recurring_share=0.15, weekday=0))
    assert len(monday) == 30 and monday != reg1
    assert {r["id"] for r in monday} != {r["id"] for r in reg1}
    # Thursday shares Tuesday's dialysis riders (Tue-Thu-Sat)
    thursday = _regular(generate_requests(pilot, 200, seed=5, recurring_share=0.15, weekday=3))
    assert {r["id"] for r in thursday} & {r["id"] for r in reg1}


def test_recurring_share_and_without(pilot: Territory) -> None:
    for share in (0.05, 0.1, 0.3):
        reqs = generate_requests(pilot, 300, seed=3, recurring_share=share, weekday=2)
        assert len(reqs) == 300
        assert abs(len(_regular(reqs)) - share * 300) <= 1
    plain = generate_requests(pilot, 80, seed=3)
    assert plain == generate_requests(pilot, 80, seed=3, recurring_share=0.0, weekday=4)
    assert not _regular(plain)
    # Sunday: no dialysis, no market, no weekly activity -> only the seed's trips
    sunday = generate_requests(pilot, 50, seed=3, recurring_share=0.2, weekday=6)
    assert len(sunday) == 50 and not _regular(sunday)


def test_market_day_and_care_hubs(pilot: Territory) -> None:
    albert = pilot.main_stop("80016").id
    saturday = recurring_requests(pilot, 5, 400)
    tuesday = recurring_requests(pilot, 1, 400)
    market_window = (8 * 3600 + 1800, 10 * 3600)

    def market(reqs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            r
            for r in reqs
            if r["dropoff"] == albert
            and r["pickup_window"]
            and market_window[0] <= r["pickup_window"][0] <= market_window[1]
        ]

    assert MARKET_DAYS == (("80016", 5),)
    assert len(market(saturday)) > len(market(tuesday))
    # dialysis: appointments at Albert for the 08:00 or 13:30 session, on Tuesday as on Saturday
    care = [r for r in tuesday if r["arrive_by_s"] is not None]
    assert care and all(pilot.stop(r["dropoff"]).insee in ("80016", "80021") for r in care)
    # a market day elsewhere moves the market trips
    moved = recurring_requests(pilot, 5, 400, market_days=(("80016", 2),))
    assert len(market(moved)) < len(market(saturday))
    assert recurring_requests(pilot, 5, 0) == []
