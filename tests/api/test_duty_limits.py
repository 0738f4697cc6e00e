"""Drivers' duty limits through the API: a vehicle keeps them, and a bad one names its field."""

from __future__ import annotations

from tests.api.conftest import Api

CAR = {
    "id": "duty-car",
    "start": "Albert",
    "shift": {"start": "07:00", "end": "19:00"},
    "seats": 3,
    "max_duration_s": 9 * 3600,
    "max_driving_s": 16200,
    "driving_break_s": 2700,
}


def test_a_vehicle_keeps_its_duty_limits_and_a_bad_one_names_its_field(api: Api) -> None:
    r = api.operator.put("/v1/vehicles/duty-car", json=CAR)
    assert r.status_code in (200, 201), r.text
    got = api.operator.get("/v1/vehicles/duty-car").json()
    assert (got["max_duration_s"], got["max_driving_s"], got["driving_break_s"]) == (
        9 * 3600,
        16200,
        2700,
    )
    r = api.operator.put("/v1/vehicles/duty-car", json={**CAR, "max_driving_s": 0})
    assert r.status_code == 422 and "max_driving_s" in r.text
    assert api.operator.delete("/v1/vehicles/duty-car").status_code == 204
