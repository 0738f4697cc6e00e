"""50 clients booking the same scarce seats at once, on a real server: no vehicle over capacity
(the independent checker passes the final plan), every 201 stored as accepted and served, every
refusal explained."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest

from dispatcher.io.plan import plan_from_dict
from dispatcher.io.problem import problem_from_dict
from dispatcher.model import Reason
from dispatcher.solver.checker import check_plan
from dispatcher.store import Store
from tests.api.conftest import BACKENDS, DAY, Server, database_url

D = (DAY + timedelta(days=2)).isoformat()
CLIENTS = 50
SCARCE_FLEET = [
    {"id": "small-1", "start": "Albert", "shift": {"start": "07:30", "end": "09:30"}, "seats": 3},
    {"id": "small-2", "start": "Méaulte", "shift": {"start": "07:30", "end": "09:30"}, "seats": 2},
]


@pytest.fixture(scope="module", params=BACKENDS)
def setup(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Store, dict[str, str]]]:
    url = database_url(request.param, tmp_path_factory.mktemp("conc"))
    store = Store(url)
    tokens = {"operator": store.create_key("operator")[0], "portal": store.create_key("portal")[0]}
    server = Server(url).start()
    try:
        yield server, store, tokens
    finally:
        server.stop()
        store.close()


def test_fifty_clients_book_scarce_seats(setup: tuple[Server, Store, dict[str, str]]) -> None:
    server, store, tokens = setup
    with httpx.Client(
        base_url=server.url, headers={"X-API-Key": tokens["operator"]}, timeout=60
    ) as op:
        assert op.put(f"/v1/days/{D}", json={}).status_code == 201
        for v in SCARCE_FLEET:
            assert op.post("/v1/vehicles", json=v).status_code == 201
    barrier = threading.Barrier(CLIENTS)

    def one(k: int) -> httpx.Response:
        body = {
            "id": f"c{k:02d}",
            "pickup": "Albert",
            "dropoff": "Méaulte",
            "seats": 1,
            "pickup_window": {"start": "08:00", "end": "08:20"},
        }
        with httpx.Client(
            base_url=server.url, headers={"X-API-Key": tokens["portal"]}, timeout=120
        ) as c:
            barrier.wait(30)
            return c.post(f"/v1/days/{D}/bookings", json=body)

    with ThreadPoolExecutor(CLIENTS) as pool:
        answers = list(pool.map(one, range(CLIENTS)))
    statuses = [r.status_code for r in answers]
    assert set(statuses) <= {201, 409}, [
        r.text for r in answers if r.status_code not in (201, 409)
    ][:3]
    accepted = {r.json()["request_id"] for r in answers if r.status_code == 201}
    refused = [r.json() for r in answers if r.status_code == 409]
    assert accepted and refused, (
        statuses
    )  # 50 one-seat trips in 20 minutes on 5 seats: some of each
    for body in refused:
        assert body["reason"] in {x.value for x in Reason} and body["message"]

    stored = {r["id"]: r for r in store.list_requests(DAY + timedelta(days=2), source="booking")}
    assert {k for k, r in stored.items() if r["status"] == "accepted"} == accepted
    assert {k for k, r in stored.items() if r["status"] == "refused"} == {
        b["request_id"] for b in refused
    }
    got = store.get_plan(DAY + timedelta(days=2))
    assert got is not None
    problem = problem_from_dict(got[1])
    plan = plan_from_dict(got[0], problem)
    report = check_plan(problem, plan)
    assert report.ok, report.summary()
    assert set(plan.served_ids) == accepted
    for route in plan.routes:  # loads never exceed the vehicle (the checker says so too)
        cap = problem.vehicle(route.vehicle_id).seats
        assert all(v.seats <= cap for v in route.visits)
