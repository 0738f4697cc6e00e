"""A change to the fleet never leaves a stored plan that the vehicle can no longer drive: it is
refused with the days it would break, and the check judges a plan against the fleet as it is
now (issue 16, item 1). On the real server."""

from __future__ import annotations

from datetime import timedelta

from tests.api.conftest import DAY, Api

D = (DAY + timedelta(days=3)).isoformat()
BUS = {
    "id": "bus-1",
    "start": "Albert",
    "shift": {"start": "07:00", "end": "19:00"},
    "seats": 4,
    "wheelchairs": 0,
}


def test_shrinking_a_vehicle_that_a_plan_fills_is_refused_and_the_check_sees_the_fleet(
    api: Api,
) -> None:
    assert api.operator.put(f"/v1/days/{D}", json={}).status_code in (200, 201)
    assert api.operator.put("/v1/vehicles/bus-1", json=BUS).status_code in (200, 201)
    for k in range(4):  # four riders at once: the bus is full
        r = api.portal.post(
            f"/v1/days/{D}/bookings",
            json={
                "id": f"full{k}",
                "pickup": "Méaulte",
                "dropoff": "Albert",
                "pickup_window": {"start": "08:00", "end": "08:15"},
            },
        )
        assert r.status_code == 201, r.text
    plan = api.operator.get(f"/v1/days/{D}/plan").json()
    assert max(v["load"]["seats"] for rt in plan["routes"] for v in rt["visits"]) == 4

    r = api.operator.put("/v1/vehicles/bus-1", json={**BUS, "seats": 1})
    assert r.status_code == 409, r.text
    assert D in r.json()["message"] and "seats" in r.json()["message"]
    assert api.operator.get("/v1/vehicles/bus-1").json()["seats"] == 4  # nothing changed
    r = api.operator.put("/v1/vehicles/bus-1", json={**BUS, "seats": 0})
    assert r.status_code == 422 and r.json()["where"] == "body.seats", r.text
    assert (
        api.operator.put("/v1/vehicles/bus-1", json={**BUS, "seats": 6}).status_code == 200
    )  # a larger bus is fine
    assert api.planner.get(f"/v1/days/{D}/plan/check").json()["ok"] is True

    # the fleet changed behind the API's back (another tool on the same database): the check
    # judges the stored plan against the vehicle as it is now
    api.store.put_vehicle({**BUS, "seats": 2})
    check = api.planner.get(f"/v1/days/{D}/plan/check").json()
    assert check["ok"] is False
    assert any(v["code"] == "capacity" or "seats" in v["message"] for v in check["violations"]), (
        check
    )
