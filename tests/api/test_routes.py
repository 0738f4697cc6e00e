"""The fast layer of the API tests: the app in process through FastAPI's TestClient (no server,
no lifespan), its one dependency overridden with a ``Service`` whose clock the test sets. The
real-server tests beside it (``test_api.py`` and others) stay the reference."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from dispatcher.api.app import create_app
from dispatcher.api.deps import get_service
from dispatcher.graph import RoadNetwork
from dispatcher.service.app import Service
from dispatcher.service.context import Context, FixedClock
from dispatcher.service.settings import Settings
from dispatcher.store import KeyInfo
from dispatcher.territory import Territory
from tests.api.conftest import FLEET

TZ = ZoneInfo("Europe/Paris")
OPERATOR = KeyInfo(1, "operator", "test", "x")
TODAY = date(2030, 1, 7)  # a Monday; the clock below says 09:00 on it
NOW = datetime(2030, 1, 7, 9, 0, tzinfo=TZ)


@pytest.fixture(scope="module")
def places() -> tuple[Territory, RoadNetwork]:
    return Territory.load(None), RoadNetwork.default()


class Client:
    """A TestClient per role on one app whose routes get ``service``."""

    def __init__(self, service: Service) -> None:
        app = create_app(service.settings)
        app.dependency_overrides[get_service] = lambda: service
        self.service = service
        self.tokens = {
            role: service.store.create_key(role, role)[0]
            for role in ("operator", "portal", "planner")
        }
        self.tokens["portal2"] = service.store.create_key("portal", "second portal")[0]
        self.http = TestClient(app, raise_server_exceptions=False)

    def __call__(self, role: str, method: str, url: str, **kw: Any) -> Any:
        return self.http.request(method, url, headers={"X-API-Key": self.tokens[role]}, **kw)


@pytest.fixture()
def client(tmp_path: Path, places: tuple[Territory, RoadNetwork]) -> Iterator[Client]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'd.db'}",
        solver_processes=False,
        booking_time_limit_s=0,
    )
    service = Service(
        Context(settings, clock=FixedClock(NOW), territory=places[0], network=places[1])
    )
    try:
        service.days.put(TODAY, "open")
        service.days.put(TODAY + timedelta(days=1), "open")
        for v in FLEET:
            service.fleet.put(v)
        yield Client(service)
    finally:
        service.close()


def booking(rid: str, start: str, end: str, day: date = TODAY) -> tuple[str, dict[str, Any]]:
    return (
        f"/v1/days/{day.isoformat()}/bookings",
        {
            "id": rid,
            "pickup": "Méaulte",
            "dropoff": "Albert",
            "pickup_window": {"start": start, "end": end},
        },
    )


def test_the_routes_use_the_overridden_service(client: Client) -> None:
    r = client("planner", "GET", "/v1/vehicles")
    assert r.status_code == 200 and [v["id"] for v in r.json()] == [v["id"] for v in FLEET]
    assert client.http.get("/health").json() == {"status": "ok", "database": "ok"}


def test_same_day_notice_follows_the_services_clock(client: Client) -> None:
    """At 09:00 (the service's clock, not the machine's) a pickup at 10:00 is under the 120 min
    notice; one at 12:00 is not."""
    url, body = booking("soon", "10:00", "10:15")
    r = client("portal", "POST", url, json=body)
    assert r.status_code == 409, r.text
    assert r.json()["reason"] == "booking_closed" and r.json()["details"]["rule"] == "notice"
    url, body = booking("later", "12:00", "12:15")
    r = client("portal", "POST", url, json=body)
    assert r.status_code == 201, r.text
    assert r.json()["pickup"]["planned"].startswith("2030-01-07T12:")


def test_a_window_already_over_is_bad_input(client: Client) -> None:
    url = f"/v1/days/{TODAY.isoformat()}/requests"
    r = client(
        "operator",
        "POST",
        url,
        json={
            "requests": [
                {
                    "id": "late",
                    "pickup": "Méaulte",
                    "dropoff": "Albert",
                    "pickup_window": {"start": "08:00", "end": "08:30"},
                }
            ]
        },
    )
    assert r.status_code == 422, r.text
    assert (
        r.json()["where"] == "body.requests[0].pickup_window.end"
        and "now 09:00" in r.json()["message"]
    )
    assert client.service.store.list_requests(TODAY) == []


def test_portals_see_and_cancel_only_their_own_bookings(client: Client) -> None:
    day = TODAY + timedelta(days=1)
    url, body = booking("mine", "09:00", "09:15", day)
    assert client("portal", "POST", url, json=body).status_code == 201
    assert [b["id"] for b in client("portal", "GET", url).json()] == ["mine"]
    assert client("portal2", "GET", url).json() == []
    assert client("portal2", "GET", f"{url}/mine").status_code == 404
    assert client("portal2", "DELETE", f"{url}/mine").status_code == 404
    r = client("portal", "DELETE", f"{url}/mine")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert (
        client("planner", "POST", url, json=booking("x", "10:00", "10:15", day)[1]).status_code
        == 403
    )


def test_unknown_place_and_bad_vehicle_answer_with_where(client: Client) -> None:
    url, body = booking("nowhere", "12:00", "12:15")
    r = client("portal", "POST", url, json={**body, "pickup": "Meaulteville"})
    assert r.status_code == 404 and r.json()["where"] == "body.pickup", r.text
    r = client(
        "operator",
        "POST",
        "/v1/vehicles",
        json={"id": "v9", "start": "Albert", "shift": {"start": "19:00", "end": "07:00"}},
    )
    assert r.status_code == 422 and r.json()["where"].startswith("body"), r.text
    assert "v9" not in {v["id"] for v in client.service.fleet.vehicles()}


# ---- linked trips ---------------------------------------------------------------------------

OUT = {
    "id": "out",
    "pickup": "Méaulte",
    "dropoff": "Albert",
    "pickup_window": {"start": "09:00", "end": "09:15"},
}
BACK = {
    "id": "back",
    "pickup": "Albert",
    "dropoff": "Méaulte",
    "pickup_window": {"start": "15:00", "end": "15:15"},
    "return_of": "out",
}


@pytest.mark.parametrize(
    "batch, where, fragment",
    [
        ([OUT, {**BACK, "return_of": "back"}], "body.requests[1].return_of", "itself"),
        (
            [OUT, {**BACK, "pickup_window": {"start": "08:30", "end": "08:45"}}],
            "body.requests[1].pickup_window",
            "before its outbound trip 'out' can arrive",
        ),
        ([OUT, {**BACK, "min_stay_s": -60}], "body.requests[1].min_stay_s", ""),
        ([OUT, BACK, {**BACK, "id": "back2"}], "body.requests[2].return_of", "already has"),
        ([OUT, BACK, {**BACK, "id": "b3", "return_of": "back"}], "body.requests[2].return_of", ""),
    ],
)
def test_bad_return_links_are_422_and_nothing_is_stored(
    client: Client, batch: list[dict[str, Any]], where: str, fragment: str
) -> None:
    url = f"/v1/days/{(TODAY + timedelta(days=1)).isoformat()}/requests"
    r = client("operator", "POST", url, json={"requests": batch})
    assert r.status_code == 422, r.text
    assert r.json()["where"] == where and fragment in r.json()["message"], r.json()
    assert client.service.days.list_requests(TODAY + timedelta(days=1), OPERATOR) == []


def test_a_return_against_a_stored_outbound_is_checked_with_it(client: Client) -> None:
    day = TODAY + timedelta(days=1)
    url = f"/v1/days/{day.isoformat()}/bookings"
    assert client("portal", "POST", url, json=OUT).status_code == 201
    early = {**BACK, "pickup_window": {"start": "08:30", "end": "08:45"}}
    r = client("portal", "POST", url, json=early)
    assert r.status_code == 422 and r.json()["where"] == "body.pickup_window", r.text
    assert client("portal", "POST", url, json=BACK).status_code == 201
    r = client("portal", "POST", url, json={**BACK, "id": "back2"})
    assert r.status_code == 422 and r.json()["where"] == "body.return_of", r.text
    assert "already has a return trip" in r.json()["message"]
    assert {b["id"] for b in client("portal", "GET", url).json()} == {"out", "back"}


def test_the_return_of_a_refused_booking_is_refused_with_it(client: Client) -> None:
    """The outbound at 10:00 today is under the same-day notice (refused); its return at 15:00,
    bookable by itself, is refused with it: linked_trip_refused, naming the outbound."""
    url = f"/v1/days/{TODAY.isoformat()}/bookings"
    soon = {**OUT, "pickup_window": {"start": "10:00", "end": "10:15"}}
    r = client("portal", "POST", url, json=soon)
    assert r.status_code == 409 and r.json()["reason"] == "booking_closed", r.text
    r = client("portal", "POST", url, json=BACK)
    assert r.status_code == 409, r.text
    assert r.json()["reason"] == "linked_trip_refused"
    assert r.json()["details"]["linked_trip"] == "out"
    assert r.json()["details"]["linked_reason"] == "booking_closed"
    assert "out" in r.json()["message_en"]
