"""Every rule kind with hand-computed expected fares (the embedded Pays du Coquelicot rules and
small files of each zoning)."""

from __future__ import annotations

import pytest

from dispatcher.errors import InputError
from dispatcher.fares import euros, fare_rules_from_text, load_fare_rules, trip_fare

EPCI_A, EPCI_B = "248000747", "248000499"


@pytest.fixture(scope="module")
def rules():
    return load_fare_rules()


def fare(
    rules,
    *,
    category="full",
    product="single",
    seats=1,
    wheelchairs=0,
    km=10.0,
    zones=(EPCI_A, EPCI_A),
    mode="minibus",
):
    return trip_fare(
        rules,
        request_id="r1",
        category=category,
        product=product,
        seats=seats,
        wheelchairs=wheelchairs,
        distance_m=int(km * 1000),
        zones=zones,
        mode=mode,
    )


def test_euros_french_format():
    assert euros(250) == "2,50 €"
    assert euros(0) == "0,00 €"
    assert euros(5) == "0,05 €"
    assert euros(123456) == "1 234,56 €"
    assert euros(-150) == "-1,50 €"


def test_intercommunality_zones(rules):
    inside = fare(rules)
    assert (inside.amount_cents, inside.zone, inside.display) == (200, "inside", "2,00 €")
    between = fare(rules, zones=(EPCI_A, EPCI_B))
    assert (between.amount_cents, between.zone) == (300, "between")
    # a free point outside every known commune: the trip crosses (the higher fare)
    assert fare(rules, zones=(None, None)).amount_cents == 300


def test_categories(rules):
    assert fare(rules, category="reduced").amount_cents == 100  # 50% of 2,00
    assert fare(rules, category="reduced", zones=(EPCI_A, EPCI_B)).amount_cents == 150
    assert fare(rules, category="solidarity", zones=(EPCI_A, EPCI_B)).amount_cents == 50  # fixed
    assert fare(rules, category="child").amount_cents == 0
    assert fare(rules, category=None).category == "full"  # the default


def test_wheelchair_companion_rides_free(rules):
    # a wheelchair user and a companion: one pays, the companion rides free
    f = fare(rules, seats=1, wheelchairs=1)
    assert (f.passengers, f.companions, f.amount_cents) == (2, 1, 200)
    # two seats, one wheelchair: the wheelchair user and one companion free -> 2 pay
    f = fare(rules, seats=2, wheelchairs=1, category="reduced")
    assert (f.companions, f.amount_cents) == (1, 200)
    # three riders, no wheelchair: all pay
    assert fare(rules, seats=3).amount_cents == 600


def test_products(rules):
    assert fare(rules, product="on_board").amount_cents == 250  # 2,00 + 0,50
    assert fare(rules, product="on_board", category="child").amount_cents == 0
    card = fare(rules, product="card10", zones=(EPCI_A, EPCI_B))
    assert (card.amount_cents, card.zone) == (150, "all")  # 15,00 / 10 on any zone
    assert fare(rules, product="card10", category="reduced").amount_cents == 75  # 7,50 / 10
    assert fare(rules, product="card10", category="solidarity").amount_cents == 50
    assert fare(rules, product="monthly").amount_cents == 0  # paid by the pass


def test_carpool_contribution_and_incentive(rules):
    f = fare(rules, mode="carpool", km=23.4)  # 0,10 €/km -> 2,34 €
    assert (f.product, f.amount_cents, f.incentive_cents, f.driver_cents) == (
        "carpool",
        234,
        150,
        384,
    )
    assert fare(rules, mode="carpool", km=4).amount_cents == 100  # the minimum, 1,00 €
    assert fare(rules, mode="carpool", km=62).amount_cents == 400  # the maximum, 4,00 €
    assert fare(rules, mode="carpool", km=23.45).amount_cents == 235  # half a cent up
    f = fare(rules, mode="carpool", km=30, seats=2)
    assert (f.amount_cents, f.incentive_cents) == (600, 300)  # per passenger
    assert fare(rules, mode="carpool", km=30, category="reduced").amount_cents == 150
    assert fare(rules, mode="carpool", km=30, category="solidarity").amount_cents == 50
    assert fare(rules, mode="carpool", km=30, category="child").amount_cents == 0


FLAT = """
[zones]
kind = "flat"
flat_cents = 180
[categories.full]
[categories.reduced]
percent = 33
[products.single]
"""

BANDS = """
[zones]
kind = "distance"
bands = [{up_to_km = 10, cents = 150}, {up_to_km = 25, cents = 250}, {cents = 400}]
[categories.full]
[products.single]
"""


def test_flat_fare():
    r = fare_rules_from_text(FLAT)
    assert fare(r, zones=(EPCI_A, EPCI_B), km=40).amount_cents == 180
    assert fare(r, category="reduced").amount_cents == 59  # 33% of 1,80 = 0,594 -> 0,59


def test_distance_bands():
    r = fare_rules_from_text(BANDS)
    assert [fare(r, km=k).amount_cents for k in (3, 10, 10.001, 25, 25.5, 80)] == [
        150,
        150,
        250,
        250,
        400,
        400,
    ]
    assert fare(r, km=12).zone == "band2"


def test_unknown_category_and_product(rules):
    with pytest.raises(InputError, match="unknown rider category 'vip'") as e:
        fare(rules, category="vip")
    assert e.value.where == "rider_category"
    with pytest.raises(InputError, match="unknown fare product 'annual'"):
        fare(rules, product="annual")
