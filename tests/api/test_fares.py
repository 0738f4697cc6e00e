"""Fares in the booking answer and in the plan, as each role may read them (the app in process,
``tests/api/test_routes.py``'s service with its own clock)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from dispatcher.graph import RoadNetwork
from dispatcher.service.app import Service
from dispatcher.service.context import Context, FixedClock
from dispatcher.service.settings import Settings
from dispatcher.territory import Territory
from tests.api.conftest import FLEET
from tests.api.test_routes import NOW, TODAY, Client, booking, places  # noqa: F401

TOMORROW = TODAY + timedelta(days=1)


@pytest.fixture()
def client(tmp_path: Path, places: tuple[Territory, RoadNetwork]) -> Iterator[Client]:  # noqa: F811
    """The app in process, its ticket key made in its own state folder."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'd.db'}",
        state_dir=tmp_path,
        solver_processes=False,
        booking_time_limit_s=0,
    )
    service = Service(
        Context(settings, clock=FixedClock(NOW), territory=places[0], network=places[1])
    )
    try:
        for d in (TODAY, TOMORROW):
            service.days.put(d, "open")
        for v in FLEET:
            service.fleet.put(v)
        yield Client(service)
    finally:
        service.close()


def test_a_booking_answers_with_its_fare_and_the_plan_carries_it(client: Client) -> None:
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


def test_an_unknown_category_is_bad_input(client: Client) -> None:
    url, body = booking("f3", "12:00", "12:15", TOMORROW)
    r = client("portal", "POST", url, json={**body, "rider_category": "vip"})
    assert r.status_code == 422, r.text
    assert r.json()["where"] == "body.rider_category"
    assert "unknown rider category 'vip'" in r.json()["message"]
    assert client.service.store.list_requests(TOMORROW) == []


def test_a_booking_issues_a_ticket_checked_once_on_board(client: Client, tmp_path: Path) -> None:
    url, body = booking("t1", "12:00", "12:15", TOMORROW)
    r = client("portal", "POST", url, json=body)
    assert r.status_code == 201, r.text
    ticket = r.json()["ticket"]
    code = ticket["code"]
    assert code.startswith("DT1-T-") and TOMORROW.strftime("%Y%m%d") in code
    assert ticket["payment"] == "unpaid" and ticket["status"] == "valid"
    assert ticket["qr_svg"].startswith("<svg")
    assert (tmp_path / "ticket.key").stat().st_mode & 0o777 == 0o600  # made, kept private
    # the rider's confirmation shows it again; a planner never sees it
    got = client("portal", "GET", f"/v1/days/{TOMORROW.isoformat()}/bookings/t1").json()
    assert got["promise"]["ticket"]["code"] == code and "<svg" in got["promise"]["ticket"]["qr_svg"]
    plan = client("planner", "GET", f"/v1/days/{TOMORROW.isoformat()}/plan").text
    assert code not in plan
    # the driver's manifest lists the code expected on board
    manifest = client("operator", "GET", f"/v1/days/{TOMORROW.isoformat()}/plan/manifest").text
    assert code in manifest and "2,00 €" in manifest
    check = "/v1/tickets/check"
    assert client("portal", "POST", check, json={"code": code}).status_code == 403
    r = client("operator", "POST", check, json={"code": code, "day": TODAY.isoformat()})
    assert r.json()["result"] == "wrong_day"
    r = client("operator", "POST", check, json={"code": code, "day": TOMORROW.isoformat()})
    assert r.status_code == 200 and r.json()["result"] == "valid", r.text
    r = client("operator", "POST", check, json={"code": code, "day": TOMORROW.isoformat()})
    assert r.json()["result"] == "already_used"
    altered = code[:-1] + ("A" if code[-1] != "A" else "B")
    r = client("operator", "POST", check, json={"code": altered, "day": TOMORROW.isoformat()})
    assert r.json()["result"] == "forged" and r.json()["ticket"] is None
    checks = client.service.tickets.store.checks()
    assert [c.result for c in checks] == ["forged", "already_used", "valid", "wrong_day"]
    # payment: operator only, one of the three states
    pay = f"/v1/days/{TOMORROW.isoformat()}/bookings/t1/payment"
    assert client("portal", "PUT", pay, json={"payment": "paid"}).status_code == 403
    assert client("operator", "PUT", pay, json={"payment": "later"}).status_code == 422
    r = client("operator", "PUT", pay, json={"payment": "paid"})
    assert r.status_code == 200 and r.json()["payment"] == "paid"


def test_a_driver_checks_codes_for_its_own_day_and_vehicle(client: Client) -> None:
    url, body = booking("t9", "12:00", "12:15", TOMORROW)
    code = client("portal", "POST", url, json=body).json()["ticket"]["code"]
    token = client.service.store.create_key("driver", "bus", FLEET[0]["id"], TOMORROW)[0]
    client.tokens["driver"] = token
    check = "/v1/tickets/check"
    r = client("driver", "POST", check, json={"code": code, "day": TODAY.isoformat()})
    assert r.status_code == 403 and r.json()["where"] == "body.day"
    r = client("driver", "POST", check, json={"code": code})  # its key's day, not the clock's
    assert r.status_code == 200 and r.json()["result"] == "valid", r.text
    last = client.service.tickets.store.checks()[0]
    assert (last.role, last.vehicle_id, last.result) == ("driver", FLEET[0]["id"], "valid")


def test_a_cancelled_bookings_ticket_is_void(client: Client) -> None:
    url, body = booking("t2", "12:00", "12:15", TOMORROW)
    code = client("portal", "POST", url, json=body).json()["ticket"]["code"]
    assert client("portal", "DELETE", f"{url}/t2").status_code == 200
    r = client(
        "operator", "POST", "/v1/tickets/check", json={"code": code, "day": TOMORROW.isoformat()}
    )
    assert r.json()["result"] == "cancelled"
    # booked again: a new code, the old one stays void
    new = client("portal", "POST", url, json=body).json()["ticket"]["code"]
    assert new != code
    for c, want in ((code, "cancelled"), (new, "valid")):
        r = client(
            "operator", "POST", "/v1/tickets/check", json={"code": c, "day": TOMORROW.isoformat()}
        )
        assert r.json()["result"] == want


def test_cards_lose_a_trip_per_check_and_passes_hold_their_days(client: Client) -> None:
    r = client("operator", "POST", "/v1/cards", json={"product": "card10"})
    assert r.status_code == 201, r.text
    card = r.json()
    assert card["kind"] == "card" and card["trips_left"] == 10
    for left in range(9, -1, -1):
        r = client("operator", "POST", "/v1/tickets/check", json={"code": card["code"]})
        assert r.json()["result"] == "valid" and r.json()["ticket"]["trips_left"] == left
    r = client("operator", "POST", "/v1/tickets/check", json={"code": card["code"]})
    assert r.json()["result"] == "already_used"
    p = client(
        "operator",
        "POST",
        "/v1/cards",
        json={"product": "monthly", "valid_from": TODAY.isoformat()},
    ).json()
    assert p["valid_to"] == (TODAY + timedelta(days=30)).isoformat()
    for day, want in (
        (TODAY, "valid"),
        (TODAY + timedelta(days=30), "valid"),
        (TODAY + timedelta(days=31), "wrong_day"),
    ):
        r = client(
            "operator",
            "POST",
            "/v1/tickets/check",
            json={"code": p["code"], "day": day.isoformat()},
        )
        assert r.json()["result"] == want
    r = client("operator", "POST", "/v1/cards", json={"product": "single"})
    assert r.status_code == 422 and r.json()["where"] == "product"
