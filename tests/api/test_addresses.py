"""Postal addresses as places on the real server: a booking from a door, the address on the
driver's manifest and the driver's page, hidden as its commune from who may not see places, a
bad address refused with the field named; carpool offers and volunteers from an address."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import httpx
import pytest

from dispatcher.store import Store
from tests.api.conftest import DAY, FLEET, Api, Server
from tests.geocoding_server import Geocoding, geocoding_server

D = DAY.isoformat()
ADDRESS = "12 rue de Corbie, Albert"
BOOKING = {
    "id": "door-1",
    "pickup": ADDRESS,
    "dropoff": "Méaulte",
    "pickup_window": {"start": "10:00", "end": "10:15"},
    "name": "Mme Porte",
}


def _setup(api: Api) -> None:
    assert api.operator.put(f"/v1/days/{D}", json={"status": "open"}).status_code in (200, 201)
    for v in FLEET:
        if api.operator.get(f"/v1/vehicles/{v['id']}").status_code == 404:
            assert api.operator.post("/v1/vehicles", json=v).status_code == 201


def _manifest_rows(client: httpx.Client) -> list[dict[str, str]]:
    r = client.get(f"/v1/days/{D}/plan/manifest")
    assert r.status_code == 200, r.text
    return list(csv.DictReader(io.StringIO(r.text)))


def test_a_booking_from_an_address_reaches_the_drivers_manifest_and_page(api: Api) -> None:
    _setup(api)
    r = api.portal.post(f"/v1/days/{D}/bookings", json=BOOKING)
    assert r.status_code == 201, r.text
    promise = r.json()
    vehicle = promise["vehicle_id"]
    # the embedded network has no street names: the door is Albert's main stop, named by it
    assert promise["pickup"]["place"] == ADDRESS
    # ... and the rider is told so, in French and in English; a stop's promise says nothing
    assert promise["pickup"]["placed"] == "commune"
    assert "arrêt principal de la commune" in promise["pickup"]["notice"]
    assert "main stop" in promise["pickup"]["notice_en"]
    assert promise["dropoff"].get("placed") is None and promise["dropoff"].get("notice") is None
    # a second address on the same point keeps its own name for the driver
    other = {**BOOKING, "id": "door-2", "pickup": "3 place d'Armes, Albert", "name": "M. Place"}
    other["pickup_window"] = {"start": "10:05", "end": "10:20"}
    assert api.portal.post(f"/v1/days/{D}/bookings", json=other).status_code == 201

    rows = _manifest_rows(api.operator)
    boards = {row["request_id"]: row for row in rows if row["kind"] == "pickup"}
    assert boards["door-1"]["place"] == ADDRESS and boards["door-1"]["name"] == "Mme Porte"
    assert boards["door-2"]["place"] == "3 place d'Armes, Albert"
    assert boards["door-1"]["location_id"] != boards["door-2"]["location_id"]

    key = api.store.create_key("driver", "driver door", vehicle_id=vehicle, day=DAY)[0]
    with httpx.Client(base_url=api.server.url, headers={"X-API-Key": key}, timeout=60) as driver:
        live = driver.get(f"/v1/days/{D}/live", params={"vehicle_id": vehicle})
        assert live.status_code == 200, live.text
        names = {
            (st.get("request_id"), st.get("place_name"))
            for st in live.json()["vehicles"][0]["next_stops"]
        }
        assert ("door-1", ADDRESS) in names, names

    # who may not see the riders' places reads the commune, never the street
    assert "rue de Corbie" not in api.planner.get(f"/v1/days/{D}/plan/manifest").text
    assert "rue de Corbie" not in api.planner.get(f"/v1/days/{D}/plan").text
    assert "rue de Corbie" not in api.planner.get(f"/v1/days/{D}/plan/geojson").text
    assert api.portal2.get(f"/v1/days/{D}/bookings/door-1").status_code == 404
    assert api.portal.get(f"/v1/days/{D}/bookings/door-1").json()["request"]["pickup"] == ADDRESS
    seen = api.operator.get(f"/v1/days/{D}/requests/door-1").json()
    assert seen["request"]["pickup"] == ADDRESS and seen["promise"]["pickup"]["place"] == ADDRESS


def test_a_bad_address_is_422_naming_the_field(api: Api) -> None:
    _setup(api)
    for bad, said in (
        ("12 rue de Corbie", "names no commune"),  # no commune
        ("12 rue de la République, Lyon", "Lyon"),  # not on the territory
    ):
        r = api.portal.post(f"/v1/days/{D}/bookings", json={**BOOKING, "id": "bad", "dropoff": bad})
        assert r.status_code == 422, r.text
        body = r.json()
        assert body["where"] == "body.dropoff" and said in body["message"], body
    r = api.operator.post(
        f"/v1/days/{D}/requests",
        json=[{**BOOKING, "id": "bad2", "pickup": "12 rue de Corbie"}],
    )
    assert r.status_code == 422 and r.json()["where"] == "body.requests[0].pickup", r.text


def test_volunteers_and_carpool_offers_from_an_address(api: Api) -> None:
    _setup(api)
    volunteer = {
        "id": "vol-door",
        "home": "7 rue du Moulin, Acheux-en-Amiénois",
        "half_days": ["am"],
        "seats": 3,
        "max_km_from_home": 30,
    }
    r = api.operator.put("/v1/volunteers/vol-door", json=volunteer)
    assert r.status_code in (200, 201), r.text
    offer = {
        "driver_id": "car-door",
        "origin": "5 rue Gambetta, Méaulte",
        "destination": "Albert",
        "seats": 2,
        "departure_window": {"start": "07:20", "end": "07:45"},
        "name": "Mme Covoit",
    }
    r = api.operator.post(f"/v1/days/{D}/carpool-offers", json=[offer])
    assert r.status_code in (200, 201), r.text
    # a planner reads the communes (INSEE codes), not the streets
    vols = api.planner.get("/v1/volunteers").text
    offers = api.planner.get(f"/v1/days/{D}/carpool-offers").text
    assert "rue du Moulin" not in vols and "80003" in vols
    assert "rue Gambetta" not in offers and "80523" in offers
    assert "rue du Moulin" in api.operator.get("/v1/volunteers").text
    r = api.operator.post(
        f"/v1/days/{D}/carpool-offers", json=[{**offer, "origin": "5 rue Gambetta"}]
    )
    assert r.status_code == 422 and r.json()["where"] == "body.offers[0].origin", r.text
    r = api.operator.put(
        "/v1/volunteers/vol-bad", json={**volunteer, "id": "vol-bad", "home": "7 rue du Moulin"}
    )
    assert r.status_code == 422 and r.json()["where"] == "body.home", r.text


def test_a_server_with_an_http_geocoder_places_the_door_where_it_says(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """DISPATCHER_GEOCODER=ban:URL: the server asks the address base's API (a local one here),
    once per address, and plans from the house it answers."""
    for root in geocoding_server():
        url = f"sqlite:///{tmp_path_factory.mktemp('geo') / 'dispatcher.db'}"
        store = Store(url)
        server = Server(url, {"DISPATCHER_GEOCODER": f"ban:{root}/ban"}).start()
        api = Api(server, store)
        try:
            _setup(api)
            Geocoding.asked.clear()
            r = api.portal.post(f"/v1/days/{D}/bookings", json=BOOKING)
            assert r.status_code == 201, r.text
            assert r.json()["pickup"].get("placed") is None, r.text  # the house: nothing to say
            rows = _manifest_rows(api.operator)
            (door,) = [r for r in rows if r["request_id"] == "door-1" and r["kind"] == "pickup"]
            assert door["place"] == ADDRESS and door["location_id"] == "2.643100,50.001200"
            asked = [q["q"][0] for _, q in Geocoding.asked]
            assert asked == [ADDRESS], asked  # validated, compiled, re-compiled: asked once
            unknown = {**BOOKING, "id": "door-x", "pickup": "1 impasse Nulle Part, Albert"}
            r = api.portal.post(f"/v1/days/{D}/bookings", json=unknown)
            assert r.status_code == 422 and r.json()["where"] == "body.pickup", r.text
        finally:
            api.close()
            server.stop()
            store.close()


def test_a_carpool_drivers_and_a_volunteers_address_stay_on_their_vehicles(
    tmp_path: Path,
) -> None:
    """The vehicles a plan job adds for an offer and a volunteer keep the driver's address as
    the name of their depots (the day's compiler places it again on the same point)."""
    from dispatcher.model import SolverParams
    from dispatcher.service.app import Service
    from dispatcher.service.settings import Settings

    dispatch = Service(
        Settings(database_url=f"sqlite:///{tmp_path / 'd.db'}", solver_processes=False)
    )
    try:
        offer = {
            "driver_id": "car-door",
            "origin": "5 rue Gambetta, Méaulte",
            "destination": "Albert",
            "departure_window": {"start": "07:20", "end": "07:45"},
        }
        volunteer = {"id": "vol-door", "home": "7 rue du Moulin, Acheux-en-Amiénois"}
        extra = dispatch.day_fleet.extra_vehicle_dicts(DAY, [offer], [volunteer])
        by_id = {v["id"]: v for v in extra}
        assert by_id["car-door"]["start"] == "5 rue Gambetta, Méaulte"
        assert by_id["vol-door/am"]["start"] == "7 rue du Moulin, Acheux-en-Amiénois"
        problem = dispatch.compiler.compile(DAY, [], [*FLEET, *extra], SolverParams())
        car = problem.vehicle("car-door")
        assert problem.location(car.start).name == "5 rue Gambetta, Méaulte"
        assert problem.location(car.end).name.startswith("Albert")
    finally:
        dispatch.close()
