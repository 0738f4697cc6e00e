"""Fares in the booking answer and in the plan, as each role may read them (the app in process,
``tests/api/test_routes.py``'s service with its own clock)."""

from __future__ import annotations

from datetime import timedelta

from tests.api.test_routes import TODAY, Client, booking, client, places  # noqa: F401

TOMORROW = TODAY + timedelta(days=1)


def test_a_booking_answers_with_its_fare_and_the_plan_carries_it(client: Client) -> None:  # noqa: F811
    url, body = booking("f1", "12:00", "12:15", TOMORROW)
    r = client("portal", "POST", url, json={**body, "rider_category": "reduced", "seats": 2})
    assert r.status_code == 201, r.text
    fare = r.json()["fare"]
    # Méaulte -> Albert: one intercommunality, 2,00 € full, 50 % reduced, two riders
    assert fare == {
        "product": "single",
        "category": "reduced",
        "amount_cents": 200,
        "display": "2,00 €",
        "unit_cents": 100,
        "passengers": 2,
        "companions": 0,
        "zone": "inside",
        "mode": "minibus",
    }
    url, body = booking("f2", "13:00", "13:15", TOMORROW)
    r = client("portal2", "POST", url, json={**body, "rider_category": "solidarity"})
    assert r.status_code == 201 and r.json()["fare"]["amount_cents"] == 50
    # the operator's plan: every trip's fare as the booking said, and the KPIs
    plan = client("operator", "GET", f"/v1/days/{TOMORROW.isoformat()}/plan").json()
    trips = plan["fares"]["trips"]
    assert trips["f1"] == fare and trips["f2"]["category"] == "solidarity"
    assert plan["fares"]["kpis"]["revenue_cents"] == 250
    assert plan["fares"]["kpis"]["by_category"] == {"reduced": 200, "solidarity": 50}
    # a planner never sees a rider's category; the totals stay
    seen = client("planner", "GET", f"/v1/days/{TOMORROW.isoformat()}/plan").json()
    assert all(
        f == {"product": "single", "mode": "minibus", "category": "withheld"}
        for f in seen["fares"]["trips"].values()
    )
    assert "f1" not in seen["fares"]["trips"]
    assert seen["fares"]["kpis"]["revenue_cents"] == 250
    # a portal sees its own booking's category, not another portal's
    own = client("portal", "GET", f"/v1/days/{TOMORROW.isoformat()}/bookings/f1").json()
    assert own["request"]["rider_category"] == "reduced"
    assert own["promise"]["fare"]["category"] == "reduced"
    other = client("portal2", "GET", f"/v1/days/{TOMORROW.isoformat()}/bookings/f2").json()
    assert other["promise"]["fare"]["amount_cents"] == 50


def test_an_unknown_category_is_bad_input(client: Client) -> None:  # noqa: F811
    url, body = booking("f3", "12:00", "12:15", TOMORROW)
    r = client("portal", "POST", url, json={**body, "rider_category": "vip"})
    assert r.status_code == 422, r.text
    assert r.json()["where"] == "body.rider_category"
    assert "unknown rider category 'vip'" in r.json()["message"]
    assert client.service.store.list_requests(TOMORROW) == []
