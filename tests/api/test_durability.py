"""SIGKILL the server during a stream of bookings; after a restart every acknowledged booking
is there, and the day's plan passes the independent checker."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import httpx
import pytest

from dispatcher.io.plan import plan_from_dict
from dispatcher.io.problem import problem_from_dict
from dispatcher.solver.checker import check_plan
from dispatcher.store import Store
from tests.api.conftest import BACKENDS, DAY, FLEET, Server, database_url

DAY3 = DAY + timedelta(days=3)
D = DAY3.isoformat()
PLACES = [
    "Méaulte",
    "Bray-sur-Somme",
    "Acheux-en-Amiénois",
    "Aveluy",
    "Fricourt",
    "Mametz",
    "Ovillers-la-Boisselle",
]


@pytest.mark.parametrize("backend", BACKENDS)
def test_sigkill_loses_no_acknowledged_booking(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    url = database_url(backend, tmp_path_factory.mktemp("dur"))
    store = Store(url)
    tokens = {"operator": store.create_key("operator")[0], "portal": store.create_key("portal")[0]}
    server = Server(url).start()
    with httpx.Client(
        base_url=server.url, headers={"X-API-Key": tokens["operator"]}, timeout=30
    ) as op:
        assert op.put(f"/v1/days/{D}", json={}).status_code == 201
        for v in FLEET:
            assert op.post("/v1/vehicles", json=v).status_code == 201

    acknowledged: list[str] = []
    answered: list[str] = []
    stop = threading.Event()

    def stream() -> None:
        k = 0
        with httpx.Client(
            base_url=server.url, headers={"X-API-Key": tokens["portal"]}, timeout=30
        ) as c:
            while not stop.is_set():
                hour = 7 + (k % 10)
                body = {
                    "id": f"s{k:03d}",
                    "pickup": PLACES[k % len(PLACES)],
                    "dropoff": "Albert",
                    "pickup_window": {
                        "start": f"{hour:02d}:{(k * 7) % 45:02d}",
                        "end": f"{hour:02d}:{(k * 7) % 45 + 15:02d}",
                    },
                }
                try:
                    r = c.post(f"/v1/days/{D}/bookings", json=body)
                except httpx.HTTPError:
                    return  # the server died under us: this one was never acknowledged
                answered.append(body["id"])
                if r.status_code == 201:
                    acknowledged.append(body["id"])
                k += 1

    t = threading.Thread(target=stream)
    t.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < 6 and time.monotonic() < deadline:
        time.sleep(0.02)
    server.kill()  # SIGKILL, mid-stream
    stop.set()
    t.join(30)
    assert len(acknowledged) >= 6

    server2 = Server(url).start()  # same database, new process
    try:
        with httpx.Client(
            base_url=server2.url, headers={"X-API-Key": tokens["operator"]}, timeout=30
        ) as op:
            stored = {b["id"]: b for b in op.get(f"/v1/days/{D}/bookings").json()}
            for rid in acknowledged:
                assert stored[rid]["status"] == "accepted", rid
            assert op.get(f"/v1/days/{D}/plan/check").json()["ok"] is True
            # the server takes bookings again after the restart
            r = op.post(
                f"/v1/days/{D}/bookings",
                json={
                    "id": "after",
                    "pickup": "Méaulte",
                    "dropoff": "Albert",
                    "pickup_window": {"start": "18:00", "end": "18:15"},
                },
            )
            assert r.status_code in (201, 409)
        got = store.get_plan(DAY3)
        assert got is not None
        problem = problem_from_dict(got[1])
        plan = plan_from_dict(got[0], problem)
        assert check_plan(problem, plan).ok
        served = set(plan.served_ids)
        assert set(acknowledged) <= served
        accepted_now = {r["id"] for r in store.list_requests(DAY3, status="accepted")}
        assert accepted_now == served  # the plan and the request rows were committed together
    finally:
        server2.stop()
        store.close()
