"""Promises are binding across processes and clocks, on a real server.

* Book A, restart the server (a new process, nothing in memory), book B that competes for A's
  vehicle and time: the stored plan passes the checker and A is still picked up inside the
  window it was promised (not merely inside the wider window it asked for).
* A plan job re-planning the whole day keeps every promised window too.
* On the day itself (the server's real clock, in a time zone chosen so that it is mid-morning
  there), nothing new is planned before now, and a cancellation re-times the route.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from dispatcher.io.plan import plan_from_dict
from dispatcher.io.problem import problem_from_dict
from dispatcher.model import Plan, Problem, TimeWindow
from dispatcher.solver.checker import check_plan
from dispatcher.store import Store
from tests.api.conftest import BACKENDS, DAY, Server, database_url

DAY5 = DAY + timedelta(days=5)
D5 = DAY5.isoformat()
ONE_BUS = [
    {
        "id": "bus-1",
        "start": "Albert",
        "shift": {"start": "07:00", "end": "19:00"},
        "seats": 8,
        "wheelchairs": 0,
    }
]


@pytest.fixture(scope="module", params=BACKENDS)
def db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Store, dict[str, str]]]:
    url = database_url(request.param, tmp_path_factory.mktemp("promises"))
    store = Store(url)
    tokens = {"operator": store.create_key("operator")[0], "portal": store.create_key("portal")[0]}
    try:
        yield url, store, tokens
    finally:
        store.close()


def stored(store: Store, day: Any) -> tuple[Plan, Problem]:
    got = store.get_plan(day)
    assert got is not None
    problem = problem_from_dict(got[1])
    return plan_from_dict(got[0], problem), problem


def pickup_s(plan: Plan, rid: str) -> int:
    return next(
        v.start_s
        for rt in plan.routes
        for v in rt.visits
        if v.request_id == rid and v.kind == "pickup"
    )


def client(server: Server, token: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"X-API-Key": token}, timeout=60)


def test_promise_survives_a_restart_and_a_plan_job(db: tuple[str, Store, dict[str, str]]) -> None:
    url, store, tokens = db
    server = Server(url).start()
    try:
        with client(server, tokens["operator"]) as op, client(server, tokens["portal"]) as portal:
            assert op.put(f"/v1/days/{D5}", json={}).status_code == 201
            for v in ONE_BUS:
                assert op.post("/v1/vehicles", json=v).status_code == 201
            # A asks for a wide window; it is promised a narrow one around its planned pickup
            r = portal.post(
                f"/v1/days/{D5}/bookings",
                json={
                    "id": "A",
                    "pickup": "Méaulte",
                    "dropoff": "Albert",
                    "pickup_window": {"start": "08:00", "end": "11:00"},
                },
            )
            assert r.status_code == 201, r.text
    finally:
        server.stop()
    plan, problem = stored(store, DAY5)
    promised = problem.pickup_tw(problem.request("A"))
    latest_arrival = problem.dropoff_tw(problem.request("A")).end_s
    assert promised.end_s - promised.start_s <= 15 * 60  # narrower than the 3 h asked
    assert promised.contains(pickup_s(plan, "A"))

    server = Server(url).start()  # a new process: nothing remembered but the database
    try:
        with client(server, tokens["operator"]) as op, client(server, tokens["portal"]) as portal:
            # trips on the only bus, in and around A's promised window, from other places: a re-plan
            # from the asked windows would be free to move A anywhere in 08:00-11:00
            lo = promised.start_s // 60
            bodies = []
            for k, (src, dst) in enumerate(
                [
                    ("Acheux-en-Amiénois", "Bray-sur-Somme"),
                    ("Bray-sur-Somme", "Acheux-en-Amiénois"),
                    ("Aveluy", "Bray-sur-Somme"),
                    ("Fricourt", "Acheux-en-Amiénois"),
                ]
            ):
                start = lo - 20 + 10 * k
                bodies.append(
                    {
                        "id": f"B{k}",
                        "pickup": src,
                        "dropoff": dst,
                        "pickup_window": {
                            "start": f"{start // 60:02d}:{start % 60:02d}",
                            "end": f"{(start + 15) // 60:02d}:{(start + 15) % 60:02d}",
                        },
                    }
                )
            codes = [portal.post(f"/v1/days/{D5}/bookings", json=b).status_code for b in bodies]
            assert set(codes) <= {201, 409}, codes
            assert op.get(f"/v1/days/{D5}/plan/check").json()["ok"] is True
            plan, problem = stored(store, DAY5)
            assert check_plan(problem, plan).ok
            assert "A" in plan.served_ids
            assert promised.contains(pickup_s(plan, "A")), (promised, pickup_s(plan, "A"))
            assert (
                problem.pickup_tw(problem.request("A")) == promised
            )  # the promise is still written in
            accepted = {b["id"] for b, c in zip(bodies, codes, strict=True) if c == 201}
            assert accepted <= set(plan.served_ids)

            # a plan job re-plans the whole day with a batch request added: every promise kept
            r = op.post(
                f"/v1/days/{D5}/requests",
                json={
                    "requests": [
                        {
                            "id": "P1",
                            "pickup": "Carnoy-Mametz",
                            "dropoff": "Albert",
                            "pickup_window": {"start": "08:00", "end": "12:00"},
                        }
                    ]
                },
            )
            assert r.status_code == 201, r.text
            job = op.post(f"/v1/days/{D5}/plans", json={"time_limit_s": 1}).json()
            for _ in range(600):
                job = op.get(f"/v1/jobs/{job['id']}").json()
                if job["status"] in ("done", "failed"):
                    break
                time.sleep(0.1)
            assert job["status"] in ("done", "failed"), job
            plan2, problem2 = stored(store, DAY5)
            assert check_plan(problem2, plan2).ok
            assert {"A", *accepted} <= set(plan2.served_ids)
            assert promised.contains(pickup_s(plan2, "A"))
            assert problem2.pickup_tw(problem2.request("A")) == promised
            assert problem2.dropoff_tw(problem2.request("A")).end_s <= latest_arrival
    finally:
        server.stop()


def mid_morning_zone() -> str:
    """A fixed-offset time zone where it is now between 10:00 and 12:59 (the real clock)."""
    h = datetime.now(ZoneInfo("UTC")).hour
    offset = (11 - h + 12) % 24 - 12  # hours east of UTC, in -12..11
    return f"Etc/GMT{-offset:+d}"  # POSIX sign: Etc/GMT-3 is UTC+3


def hm(t: int) -> str:
    return f"{t // 3600:02d}:{t % 3600 // 60:02d}"


def test_same_day_booking_is_never_planned_before_now(
    db: tuple[str, Store, dict[str, str]],
) -> None:
    url, store, tokens = db
    tz = mid_morning_zone()
    # same-day notice 0: this test is about the planner never going back in time, not the rules
    server = Server(
        url, {"DISPATCHER_TIMEZONE": tz, "DISPATCHER_BOOKING_SAME_DAY_NOTICE_MIN": "0"}
    ).start()
    try:
        now = datetime.now(ZoneInfo(tz))
        today = now.date()
        now_s = now.hour * 3600 + now.minute * 60 + now.second
        if now_s > 12 * 3600 + 50 * 60:  # the zone was picked a moment before a change of hour
            pytest.skip("clock too close to the end of the chosen morning")
        with client(server, tokens["operator"]) as op, client(server, tokens["portal"]) as portal:
            assert op.put(f"/v1/days/{today.isoformat()}", json={}).status_code == 201
            if op.get("/v1/vehicles/bus-1").status_code == 404:
                assert op.post("/v1/vehicles", json=ONE_BUS[0]).status_code == 201
            # windows opening before now: the pickups must still be planned after now
            for rid, src in (("T1", "Méaulte"), ("T2", "Aveluy"), ("T3", "Fricourt")):
                r = portal.post(
                    f"/v1/days/{today.isoformat()}/bookings",
                    json={
                        "id": rid,
                        "pickup": src,
                        "dropoff": "Albert",
                        "pickup_window": {"start": hm(now_s - 1800), "end": hm(now_s + 3600)},
                    },
                )
                assert r.status_code == 201, r.text
            plan, problem = stored(store, today)
            assert check_plan(problem, plan).ok
            for rt in plan.routes:
                for v in rt.visits:
                    assert v.start_s >= now_s, (v, now_s)
            for rid in ("T1", "T2", "T3"):
                assert problem.pickup_tw(problem.request(rid)).start_s >= now_s
            # a cancellation leaves a valid plan without the request, the others still promised
            before = {rid: problem.pickup_tw(problem.request(rid)) for rid in ("T1", "T3")}
            assert portal.delete(f"/v1/days/{today.isoformat()}/bookings/T2").status_code == 200
            plan, problem = stored(store, today)
            assert check_plan(problem, plan).ok
            assert set(plan.served_ids) == {"T1", "T3"}
            for rid, w in before.items():
                assert isinstance(w, TimeWindow) and w.contains(pickup_s(plan, rid))
    finally:
        server.stop()


def test_booking_rules_refuse_with_booking_closed(db: tuple[str, Store, dict[str, str]]) -> None:
    """The service's rules (2 h notice the same day, 60 days ahead at most) refuse with a reason,
    stored."""
    url, store, tokens = db
    tz = mid_morning_zone()
    server = Server(url, {"DISPATCHER_TIMEZONE": tz}).start()
    try:
        now = datetime.now(ZoneInfo(tz))
        now_s = now.hour * 3600 + now.minute * 60
        if now_s > 12 * 3600 + 50 * 60:
            pytest.skip("clock too close to the end of the chosen morning")
        today, far = now.date(), now.date() + timedelta(days=90)
        with client(server, tokens["operator"]) as op, client(server, tokens["portal"]) as portal:
            for d in (today, far):
                assert op.put(f"/v1/days/{d.isoformat()}", json={}).status_code in (200, 201)
            if op.get("/v1/vehicles/bus-1").status_code == 404:
                assert op.post("/v1/vehicles", json=ONE_BUS[0]).status_code == 201
            soon = {
                "id": "S1",
                "pickup": "Méaulte",
                "dropoff": "Albert",
                "pickup_window": {"start": hm(now_s + 1800), "end": hm(now_s + 2700)},
            }
            r = portal.post(f"/v1/days/{today.isoformat()}/bookings", json=soon)
            assert (
                r.status_code == 409
                and r.json()["reason"] == "booking_closed"
                and r.json()["details"]["rule"] == "notice"
            ), r.text
            later = {
                **soon,
                "id": "S2",
                "pickup_window": {"start": hm(now_s + 3 * 3600), "end": hm(now_s + 3 * 3600 + 900)},
            }
            r = portal.post(f"/v1/days/{today.isoformat()}/bookings", json=later)
            assert r.status_code == 201, r.text
            r = portal.post(
                f"/v1/days/{far.isoformat()}/bookings",
                json={**soon, "id": "S3", "pickup_window": {"start": "09:00", "end": "09:15"}},
            )
            assert r.status_code == 409 and r.json()["details"]["rule"] == "too_far_ahead", r.text
            stored_s1 = portal.get(f"/v1/days/{today.isoformat()}/bookings/S1").json()
            assert (
                stored_s1["status"] == "refused"
                and stored_s1["refusal"]["reason"] == "booking_closed"
            )
    finally:
        server.stop()
