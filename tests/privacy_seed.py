"""A service day seeded with personal data that nobody but its readers may see (used by the
privacy tests): riders with names, phone numbers and addresses (free points, postal ones), a
portal's booking, a volunteer and a carpool driver, a fleet vehicle's driver, a plan, a
carpool matching and a scenario.

``SECRETS`` lists, per (whose, what) of the table in ``dispatcher.service.privacy``, strings
that only a reader allowed to see that kind of field may ever receive; ``PORTAL_SECRETS`` the
same for the portal's own booking."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from typing import Any

from dispatcher.service.privacy import Kind, Subject

Call = Callable[..., Any]  # call(role, method, url, **httpx kwargs) -> response

POINT = {"lon": 2.61537, "lat": 50.06083}  # a rider's home, on the road from Mailly to Albert
HOME = {"lon": 2.53811, "lat": 50.07297}  # the volunteer's home, in Acheux-en-Amiénois
ORIGIN = {"lon": 2.60373, "lat": 50.07647}  # the carpool driver's home, in Mailly-Maillet
RIDER_PHONE, PORTAL_PHONE = "03 99 88 77 66", "0311223344"
VOLUNTEER_PHONE, CARPOOL_PHONE, STAFF_PHONE = "0655443322", "0677889900", "0611998877"

SECRETS: dict[tuple[Subject, Kind], list[str]] = {
    (Subject.RIDER, Kind.IDENTITY): ["Secretrider", "99 88 77 66", "0399887766"],
    (Subject.RIDER, Kind.ID): ["rider-secret-a", "rider-secret-b"],
    (Subject.RIDER, Kind.PLACES): ["2.61537", "50.06083", "rue Secrète"],
    (Subject.PRIVATE_DRIVER, Kind.IDENTITY): [
        "Volontaire Secret",
        VOLUNTEER_PHONE,
        "Covoitureur Secret",
        CARPOOL_PHONE,
    ],
    (Subject.PRIVATE_DRIVER, Kind.ID): ["vol-secretname", "car-secretname"],
    (Subject.PRIVATE_DRIVER, Kind.PLACES): [
        "2.53811",
        "50.07297",
        "2.60373",
        "50.07647",
        "rue Cachée",
    ],
    (Subject.FLEET_DRIVER, Kind.IDENTITY): ["Chauffeur Secret", STAFF_PHONE],
}
PORTAL_SECRETS: dict[tuple[Subject, Kind], list[str]] = {
    (Subject.RIDER, Kind.IDENTITY): ["Portalrider", PORTAL_PHONE],
    (Subject.RIDER, Kind.ID): ["booking-secret-p"],
    (Subject.RIDER, Kind.PLACES): ["rue du Portail"],
}

FLEET: list[dict[str, Any]] = [
    {
        "id": "bus-1",
        "start": "Albert",
        "shift": {"start": "07:00", "end": "19:00"},
        "seats": 8,
        "wheelchairs": 0,
        "name": "Chauffeur Secret",
        "phone": STAFF_PHONE,
    },
    {
        "id": "tpmr-1",
        "start": "Albert",
        "shift": {"start": "07:00", "end": "19:00"},
        "seats": 6,
        "wheelchairs": 2,
    },
]
VOLUNTEER = {
    "id": "vol-secretname",
    "home": HOME,
    "half_days": ["am", "pm"],
    "seats": 3,
    "max_km_from_home": 30,
    "name": "Volontaire Secret",
    "phone": VOLUNTEER_PHONE,
}
OFFER = {
    "driver_id": "car-secretname",
    "origin": ORIGIN,
    "destination": "2 rue Cachée, Albert",  # a postal address
    "seats": 3,
    "departure_window": {"start": "07:20", "end": "07:45"},
    "name": "Covoitureur Secret",
    "phone": CARPOOL_PHONE,
}
REQUESTS = [
    {
        "id": "rider-secret-a",
        "pickup": POINT,
        "dropoff": "Albert",
        "pickup_window": {"start": "07:35", "end": "07:55"},
        "wheelchairs": 0,
        "name": "Mme Secretrider",
        "phone": RIDER_PHONE,
    },
    {
        "id": "rider-secret-b",
        "pickup": "Albert",
        "dropoff": "9 rue Secrète, Mailly-Maillet",  # a postal address
        "pickup_window": {"start": "16:00", "end": "16:15"},
        "return_of": "rider-secret-a",
        "name": "Mme Secretrider",
        "phone": RIDER_PHONE,
    },
    {
        "id": "plain-1",
        "pickup": "Méaulte",
        "dropoff": "Albert",
        "pickup_window": {"start": "09:00", "end": "09:15"},
    },
]
BOOKING = {
    "id": "booking-secret-p",
    "pickup": "4 rue du Portail, Méaulte",
    "dropoff": "Albert",
    "pickup_window": {"start": "11:00", "end": "11:15"},
    "name": "M. Portalrider",
    "phone": PORTAL_PHONE,
}


def wait_job(call: Call, role: str, job: dict[str, Any]) -> dict[str, Any]:
    for _ in range(600):
        job = call(role, "GET", f"/v1/jobs/{job['id']}").json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job['id']} did not finish")


def seed(call: Call, day: date) -> dict[str, Any]:
    """Seed ``day`` (open, the fleet stored) through the API; returns the ids made."""
    d = day.isoformat()

    def ok(r: Any, *codes: int) -> Any:
        assert r.status_code in (codes or (200, 201, 202)), r.text
        return r

    ok(call("operator", "PUT", f"/v1/days/{d}", json={"status": "open"}))
    for v in FLEET:
        ok(call("operator", "PUT", f"/v1/vehicles/{v['id']}", json=v))
    ok(call("operator", "PUT", "/v1/volunteers/vol-secretname", json=VOLUNTEER))
    ok(call("operator", "POST", f"/v1/days/{d}/carpool-offers", json=[OFFER]))
    ok(call("operator", "POST", f"/v1/days/{d}/requests", json={"requests": REQUESTS}))
    job = ok(call("operator", "POST", f"/v1/days/{d}/plans", json={"time_limit_s": 1})).json()
    plan_job = wait_job(call, "operator", job)
    assert plan_job["status"] == "done", plan_job
    ok(call("portal", "POST", f"/v1/days/{d}/bookings", json=BOOKING), 201, 409)
    ok(call("planner", "POST", f"/v1/days/{d}/carpool-matches", json={"time_limit_s": 2}))
    scenario = ok(
        call("planner", "POST", "/v1/scenarios", json={"day": d, "time_limit_s": 0.5})
    ).json()
    wait_job(call, "planner", scenario)
    return {"jobs": [plan_job["id"], scenario["id"]]}
