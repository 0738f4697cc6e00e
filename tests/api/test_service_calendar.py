"""The API under the default service configuration (the Pays du Coquelicot's): a day without
service (a Sunday, a public holiday) cannot be opened (422, naming the day and why), and a
booking on a day opened before the configuration changed is refused (409, rule ``calendar``)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

from dispatcher.service_config import DEFAULT_SERVICE, french_public_holidays
from dispatcher.store import Store
from tests.api.conftest import FLEET, Server, database_url


def _next(weekday: int, after: date) -> date:
    return after + timedelta(days=(weekday - after.weekday()) % 7 or 7)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_day_without_service_is_refused_with_its_reason(backend: str, tmp_path: Path) -> None:
    url = database_url(backend, tmp_path)
    store = Store(url)
    op_key = store.create_key("operator", "op")[0]
    portal_key = store.create_key("portal", "portal")[0]
    sunday = _next(6, date.today() + timedelta(days=2))
    # the day was opened under a service that runs every day (tests/data/every_day.toml) ...
    server = Server(url).start()
    try:
        with httpx.Client(base_url=server.url, headers={"X-API-Key": op_key}, timeout=60) as op:
            assert op.put(f"/v1/days/{sunday}", json={}).status_code == 201
            for v in FLEET:
                assert op.put(f"/v1/vehicles/{v['id']}", json=v).status_code in (200, 201)
    finally:
        server.stop()
    # ... and the server now runs the default service: no Sunday, no public holiday
    server = Server(url, {"DISPATCHER_SERVICE": str(DEFAULT_SERVICE)}).start()
    try:
        with (
            httpx.Client(base_url=server.url, headers={"X-API-Key": op_key}, timeout=60) as op,
            httpx.Client(base_url=server.url, headers={"X-API-Key": portal_key}, timeout=60) as pt,
        ):
            other_sunday = sunday + timedelta(days=7)
            r = op.put(f"/v1/days/{other_sunday}", json={})
            assert r.status_code == 422, r.text
            body = r.json()
            assert (body["error"], body["day"], body["reason"]) == (
                "NoServiceError",
                other_sunday.isoformat(),
                "weekday",
            )
            assert "Sundays" in body["message"]
            next_year = date.today().year + 1
            holiday = next(d for d in french_public_holidays(next_year) if d.weekday() < 6)
            r = op.put(f"/v1/days/{holiday}", json={})
            assert r.status_code == 422 and r.json()["reason"] == "public_holiday", r.text
            booking = {"id": "b1", "pickup": "Méaulte", "dropoff": "Albert", "arrive_by": "10:00"}
            r = pt.post(f"/v1/days/{sunday}/bookings", json=booking)
            assert r.status_code == 409, r.text
            refusal = r.json()
            assert refusal["reason"] == "booking_closed"
            assert refusal["details"]["rule"] == "calendar" and sunday.isoformat() in str(refusal)
            assert "dimanche" in refusal["message"]
    finally:
        server.stop()
        store.close()
