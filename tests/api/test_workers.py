"""Several worker processes on one PostgreSQL (issue 16): 50 clients on one scarce day sell no
seat twice, and a worker killed in the middle of bookings over several days loses none that was
acknowledged; the other workers go on serving. On the real server (uvicorn --workers 4)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest

from dispatcher.io.plan import plan_from_dict
from dispatcher.io.problem import problem_from_dict
from dispatcher.solver.checker import check_plan
from dispatcher.store import Store
from tests.api.conftest import DAY, FLEET, PG_URL, Server, reset_postgres

pytestmark = pytest.mark.skipif(
    not PG_URL, reason="DISPATCHER_TEST_PG_URL not set (run .ci/postgres.sh)"
)
WORKERS = 4
SCARCE = (DAY + timedelta(days=8)).isoformat()
DAYS = [(DAY + timedelta(days=9 + k)).isoformat() for k in range(4)]
SCARCE_FLEET = [
    {"id": "small-1", "start": "Albert", "shift": {"start": "07:30", "end": "09:30"}, "seats": 3},
    {"id": "small-2", "start": "Méaulte", "shift": {"start": "07:30", "end": "09:30"}, "seats": 2},
]
PLACES = ["Méaulte", "Bray-sur-Somme", "Acheux-en-Amiénois", "Aveluy", "Fricourt", "Mametz"]


@pytest.fixture(scope="module")
def setup() -> Iterator[tuple[Server, Store, dict[str, str]]]:
    assert PG_URL
    reset_postgres(PG_URL)
    store = Store(PG_URL)
    tokens = {"operator": store.create_key("operator")[0], "portal": store.create_key("portal")[0]}
    server = Server(PG_URL, workers=WORKERS).start(timeout_s=180)
    try:
        yield server, store, tokens
    finally:
        server.stop()
        store.close()


def checked(store: Store, day: str) -> set[str]:
    """The day's stored plan passes the checker; its served requests."""
    got = store.get_plan(DAY.fromisoformat(day))
    assert got is not None
    problem = problem_from_dict(got[1])
    plan = plan_from_dict(got[0], problem)
    report = check_plan(problem, plan)
    assert report.ok, report.summary()
    return set(plan.served_ids)


def test_fifty_clients_on_four_workers_oversell_nothing(
    setup: tuple[Server, Store, dict[str, str]],
) -> None:
    server, store, tokens = setup
    assert len(server.worker_pids()) == WORKERS
    with httpx.Client(
        base_url=server.url, headers={"X-API-Key": tokens["operator"]}, timeout=60
    ) as op:
        assert op.put(f"/v1/days/{SCARCE}", json={}).status_code == 201
        for v in SCARCE_FLEET:
            assert op.post("/v1/vehicles", json=v).status_code == 201
    barrier = threading.Barrier(50)

    def one(k: int) -> httpx.Response:
        body = {
            "id": f"c{k:02d}",
            "pickup": "Albert",
            "dropoff": "Méaulte",
            "pickup_window": {"start": "08:00", "end": "08:20"},
        }
        with httpx.Client(
            base_url=server.url, headers={"X-API-Key": tokens["portal"]}, timeout=120
        ) as c:
            barrier.wait(30)
            return c.post(f"/v1/days/{SCARCE}/bookings", json=body)

    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(one, range(50)))
    assert {r.status_code for r in answers} <= {201, 409}
    accepted = {r.json()["request_id"] for r in answers if r.status_code == 201}
    assert (
        accepted and len(accepted) < 50
    )  # 50 one-seat trips in 20 minutes on 5 seats: some of each
    assert checked(store, SCARCE) == accepted
    stored = {r["id"] for r in store.list_requests(DAY.fromisoformat(SCARCE), status="accepted")}
    assert stored == accepted


def test_a_killed_worker_loses_no_acknowledged_booking(
    setup: tuple[Server, Store, dict[str, str]],
) -> None:
    server, store, tokens = setup
    with httpx.Client(
        base_url=server.url, headers={"X-API-Key": tokens["operator"]}, timeout=60
    ) as op:
        for d in DAYS:
            assert op.put(f"/v1/days/{d}", json={}).status_code == 201
        for v in FLEET:
            if op.get(f"/v1/vehicles/{v['id']}").status_code == 404:
                assert op.post("/v1/vehicles", json=v).status_code == 201
    acknowledged: list[tuple[str, str]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def stream(client: int) -> None:
        with httpx.Client(
            base_url=server.url, headers={"X-API-Key": tokens["portal"]}, timeout=60
        ) as c:
            k = 0
            while not stop.is_set() and k < 40:
                day = DAYS[(client + k) % len(DAYS)]
                hour = 7 + (k % 10)
                body = {
                    "id": f"w{client}-{k:02d}",
                    "pickup": PLACES[k % len(PLACES)],
                    "dropoff": "Albert",
                    "pickup_window": {
                        "start": f"{hour:02d}:{(k * 7) % 45:02d}",
                        "end": f"{hour:02d}:{(k * 7) % 45 + 15:02d}",
                    },
                }
                k += 1
                try:
                    r = c.post(f"/v1/days/{day}/bookings", json=body)
                except httpx.HTTPError:
                    continue  # its worker died: never acknowledged; the client tries the next
                if r.status_code == 201:
                    with lock:
                        acknowledged.append((day, body["id"]))

    threads = [threading.Thread(target=stream, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 120
    while len(acknowledged) < 8 and time.monotonic() < deadline:
        time.sleep(0.05)
    victim = server.worker_pids()[0]
    os.kill(victim, signal.SIGKILL)  # one worker dies mid-stream; the others keep serving
    for t in threads:
        t.join(300)
    stop.set()
    assert len(acknowledged) >= 8
    for d in DAYS:
        served = checked(store, d)
        mine = {rid for day, rid in acknowledged if day == d}
        assert mine <= served, sorted(mine - served)
        accepted = {r["id"] for r in store.list_requests(DAY.fromisoformat(d), status="accepted")}
        assert accepted == served  # the plan and the request rows were committed together
    # the server still answers after losing a worker
    with httpx.Client(
        base_url=server.url, headers={"X-API-Key": tokens["operator"]}, timeout=60
    ) as op:
        assert op.get("/health").status_code == 200
