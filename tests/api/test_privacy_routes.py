"""Least privilege through the app in process (TestClient, the service's clock fixed): every GET
route, every role, no personal field the table hides (``tests/privacy_leaks.py``); the
table's own rules on a few answers; export, erasure and the access log as routes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from dispatcher.graph import RoadNetwork
from dispatcher.service.app import Service
from dispatcher.service.context import Context, FixedClock
from dispatcher.service.settings import Settings
from dispatcher.territory import Territory
from tests.api.test_routes import NOW, TODAY, Client
from tests.privacy_leaks import check_no_leaks
from tests.privacy_seed import BOOKING, PORTAL_PHONE, RIDER_PHONE, seed

DAY = TODAY + timedelta(days=1)
D = DAY.isoformat()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Client, dict[str, Any]]]:
    folder = tmp_path_factory.mktemp("privacy")
    settings = Settings(
        database_url=f"sqlite:///{folder / 'd.db'}", solver_processes=False, booking_time_limit_s=0
    )
    service = Service(
        Context(
            settings,
            clock=FixedClock(NOW),
            territory=Territory.load(None),
            network=RoadNetwork.default(),
        )
    )
    try:
        client = Client(service)
        yield client, seed(client, DAY)
    finally:
        service.close()


def test_no_route_answers_a_role_what_the_table_hides(
    seeded: tuple[Client, dict[str, Any]],
) -> None:
    client, ids = seeded
    openapi = client.http.get("/openapi.json").json()
    assert check_no_leaks(client, openapi, DAY, ids["jobs"]) > 50


def test_a_planner_reads_pseudonyms_communes_needs_and_times(
    seeded: tuple[Client, dict[str, Any]],
) -> None:
    client, _ = seeded
    op = client("operator", "GET", f"/v1/days/{D}/plan").json()
    pl = client("planner", "GET", f"/v1/days/{D}/plan").json()
    assert op["kpis"] == pl["kpis"]  # statistics are the same for both
    op_visits = [v for rt in op["routes"] for v in rt["visits"]]
    pl_visits = [v for rt in pl["routes"] for v in rt["visits"]]
    assert [v["start"] for v in op_visits] == [v["start"] for v in pl_visits]
    assert [v["load"] for v in op_visits] == [v["load"] for v in pl_visits]
    assert all(v["request_id"].startswith("rq-") for v in pl_visits)
    # INSEE codes: Albert, Méaulte, the free point's commune, the postal address's (Mailly)
    assert {v["location_id"] for v in pl_visits} <= {"80016", "80523", "80266", "80498"}
    # the same pseudonym across the planner's views of the day
    manifest = client("planner", "GET", f"/v1/days/{D}/plan/manifest").text
    assert all(v["request_id"] in manifest for v in pl_visits)
    assert ",,," in manifest  # name and phone columns empty
    volunteer_route = next(rt["vehicle_id"] for rt in pl["routes"] if rt["vehicle_id"][:3] == "vo-")
    one = client(
        "planner", "GET", f"/v1/days/{D}/plan/manifest", params={"vehicle_id": volunteer_route}
    )
    assert one.status_code == 200 and volunteer_route in one.text
    offers = client("planner", "GET", f"/v1/days/{D}/carpool-offers").json()
    got = client("planner", "GET", f"/v1/days/{D}/carpool-offers/{offers[0]['driver_id']}")
    assert got.status_code == 200 and got.json()["offer"]["origin"] == "80498"  # Mailly-Maillet
    assert (
        client("planner", "GET", f"/v1/days/{D}/carpool-offers/car-secretname").status_code == 404
    )


def test_the_operator_reads_everything_and_the_portal_its_own(
    seeded: tuple[Client, dict[str, Any]],
) -> None:
    client, _ = seeded
    manifest = client("operator", "GET", f"/v1/days/{D}/plan/manifest").text
    assert "Mme Secretrider" in manifest and RIDER_PHONE in manifest
    mine = client("portal", "GET", f"/v1/days/{D}/bookings/{BOOKING['id']}").json()
    assert mine["request"]["phone"] == PORTAL_PHONE and mine["id"] == BOOKING["id"]
    # the volunteer driving the portal's rider is a private person: a pseudonym for the portal
    vehicle = (mine.get("promise") or {}).get("vehicle_id", "")
    assert "secretname" not in vehicle


def test_export_erase_and_the_access_log_are_the_operators(
    seeded: tuple[Client, dict[str, Any]],
) -> None:
    client, _ = seeded
    for role in ("portal", "planner"):
        for path in ("/v1/privacy/export", "/v1/privacy/erase"):
            assert client(role, "POST", path, json={"phone": RIDER_PHONE}).status_code == 403
        assert client(role, "GET", "/v1/privacy/access-log").status_code == 403
    r = client("operator", "POST", "/v1/privacy/export", json={"phone": "+33 3 99 88 77 66"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["schema"] == "dispatcher/personal-data/1"
    assert {x["id"] for x in out["requests"]} == {"rider-secret-a", "rider-secret-b"}
    assert out["trips"] and all(
        v["request_id"].startswith("rider-secret") for t in out["trips"] for v in t["visits"]
    )
    assert "Covoitureur Secret" not in r.text and "Portalrider" not in r.text  # nobody else
    log = client("operator", "GET", "/v1/privacy/access-log", params={"rider_id": out["rider_id"]})
    actions = {e["action"] for e in log.json()}
    assert {"plans.manifest", "privacy.export"} <= actions, actions
    bad = client("operator", "POST", "/v1/privacy/export", json={"phone": "1", "rider_id": "x"})
    assert bad.status_code == 422
