"""The API through a real uvicorn server on loopback: keys and roles, bad input, requests,
plan jobs and plan views, bookings and cancellations."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest

from tests.api.conftest import DAY, FLEET, Api
from tests.excel import open_as_french_excel

D = DAY.isoformat()


def _setup_day(api: Api) -> None:
    r = api.operator.put(f"/v1/days/{D}", json={"note": "test day"})
    assert r.status_code in (200, 201), r.text
    for v in FLEET:
        if api.operator.get(f"/v1/vehicles/{v['id']}").status_code == 404:
            assert api.operator.post("/v1/vehicles", json=v).status_code == 201


def test_health_and_version_need_no_key(api: Api) -> None:
    assert api.anon.get("/health").json() == {"status": "ok", "database": "ok"}
    v = api.anon.get("/version").json()
    assert v["api"] == "v1" and v["database_revision"] == "0006_tickets"


def test_no_key_wrong_key_and_forbidden_role_change_nothing(api: Api) -> None:
    body = {"id": "ghost", "start": "Albert", "shift": {"start": "07:00", "end": "19:00"}}
    r = api.anon.post("/v1/vehicles", json=body)
    assert r.status_code == 401 and r.json()["error"] == "Unauthorized"
    r = api.anon.post("/v1/vehicles", json=body, headers={"X-API-Key": "dsp_not-a-key"})
    assert r.status_code == 401
    r = api.portal.post("/v1/vehicles", json=body)
    assert r.status_code == 403 and "portal" in r.json()["message"]
    r = api.planner.put(f"/v1/days/{D}", json={})
    assert r.status_code == 403
    assert api.operator.get("/v1/vehicles/ghost").status_code == 404
    assert all(v["id"] != "ghost" for v in api.operator.get("/v1/vehicles").json())
    assert api.portal.get("/v1/me").json()["role"] == "portal"
    assert api.planner.get("/v1/vehicles").status_code == 200
    r = api.anon.get("/v1/me", headers={"Authorization": f"Bearer {api.tokens['planner']}"})
    assert r.json()["role"] == "planner"


def test_revoked_key_is_refused(api: Api) -> None:
    token, info = api.store.create_key("planner", "to revoke")
    assert api.anon.get("/v1/me", headers={"X-API-Key": token}).status_code == 200
    api.store.revoke_key(info.id)
    assert api.anon.get("/v1/me", headers={"X-API-Key": token}).status_code == 401


def test_bad_input_names_the_field(api: Api) -> None:
    _setup_day(api)
    bad = {
        "requests": [
            {
                "id": "ok1",
                "pickup": "Albert",
                "dropoff": "Méaulte",
                "pickup_window": {"start": "08:00", "end": "08:15"},
            },
            {
                "id": "bad",
                "pickup": "Albert",
                "dropoff": "Méaulte",
                "seats": -1,
                "pickup_window": {"start": "08:00", "end": "08:15"},
            },
        ]
    }
    r = api.operator.post(f"/v1/days/{D}/requests", json=bad)
    assert r.status_code == 422
    assert r.json()["where"] == "body.requests[1].seats" and r.json()["message"]
    # nothing of the batch was stored
    assert all(x["id"] != "ok1" for x in api.operator.get(f"/v1/days/{D}/requests").json())
    r = api.operator.post(
        "/v1/vehicles",
        json={"id": "v", "start": "Albert", "shift": {"start": "19:00", "end": "07:00"}},
    )
    assert r.status_code == 422 and r.json()["where"].startswith("body.shift"), r.text
    r = api.operator.post(
        f"/v1/days/{D}/requests", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422 and r.json()["where"] == "body"
    r = api.operator.get("/v1/days/2030-02-31")
    assert r.status_code == 422 and r.json()["where"] == "path.day"


def test_unknown_commune_answers_nearest_names(api: Api) -> None:
    _setup_day(api)
    r = api.operator.post(
        f"/v1/days/{D}/requests",
        json=[
            {
                "id": "x1",
                "pickup": "Meaulté-sur-Mer",
                "dropoff": "Albert",
                "pickup_window": {"start": "08:00", "end": "08:15"},
            }
        ],
    )
    assert r.status_code == 404
    body = r.json()
    assert (
        body["where"] == "body.requests[0].pickup"
        and "nearest names" in body["message"]
        and "Méaulte" in body["message"]
    )


def test_day_outside_calendar_and_past_are_refused(api: Api) -> None:
    other = (DAY + timedelta(days=1)).isoformat()
    booking = {
        "pickup": "Albert",
        "dropoff": "Méaulte",
        "pickup_window": {"start": "08:00", "end": "08:15"},
    }
    r = api.portal.post(f"/v1/days/{other}/bookings", json=booking)
    assert (
        r.status_code == 422
        and "service calendar" in r.json()["message"]
        and D in r.json()["message"]
    )
    past = date.today() - timedelta(days=3)
    assert api.operator.put(f"/v1/days/{past.isoformat()}", json={}).status_code == 201
    r = api.portal.post(f"/v1/days/{past.isoformat()}/bookings", json=booking)
    assert r.status_code == 422 and "past" in r.json()["message"]


def test_body_over_the_limit_is_413(api: Api) -> None:
    r = api.operator.post(
        f"/v1/days/{D}/requests", content=b"x" * 1_100_000, headers={"content-type": "text/csv"}
    )
    assert r.status_code == 413 and r.json()["error"] == "TooLarge"


def test_requests_batch_json_and_csv_plan_job_and_views(api: Api) -> None:
    _setup_day(api)
    batch = [
        {
            "id": "j1",
            "pickup": "Méaulte",
            "dropoff": "Albert",
            "pickup_window": {"start": "08:00", "end": "08:15"},
            "name": "A",
        },
        {"id": "j2", "pickup": "Bray-sur-Somme", "dropoff": "Albert", "arrive_by": "10:00"},
    ]
    r = api.operator.post(f"/v1/days/{D}/requests", json={"requests": batch})
    assert r.status_code == 201 and r.json()["ids"] == ["j1", "j2"]
    assert (
        api.operator.post(f"/v1/days/{D}/requests", json={"requests": batch[:1]}).status_code == 409
    )
    csv_text = (
        "id;pickup;dropoff;pickup_from;pickup_to;seats\n"
        "c1;Acheux-en-Amiénois;Albert;09:00;09:15;2\n"
    )
    r = api.operator.post(
        f"/v1/days/{D}/requests", content=csv_text.encode(), headers={"content-type": "text/csv"}
    )
    assert r.status_code == 201 and r.json()["ids"] == ["c1"], r.text
    r = api.operator.post(
        f"/v1/days/{D}/requests",
        content=b"id,pickup\nz,Albert\n",
        headers={"content-type": "text/csv"},
    )
    assert r.status_code == 422 and "dropoff" in r.json()["message"]
    # a return trip may name its outbound in the same batch, or one already stored for the day
    out_and_back = (
        "id,pickup,dropoff,pickup_from,pickup_to,arrive_by,return_of\n"
        "rt1,Albert,Méaulte,,,11:00,\n"
        "rt2,Méaulte,Albert,12:00,12:15,,rt1\n"
        "rt3,Méaulte,Albert,16:00,16:15,,j1\n"
    )
    r = api.operator.post(
        f"/v1/days/{D}/requests",
        content=out_and_back.encode(),
        headers={"content-type": "text/csv"},
    )
    assert r.status_code == 201 and r.json()["ids"] == ["rt1", "rt2", "rt3"], r.text
    r = api.operator.post(
        f"/v1/days/{D}/requests",
        json=[
            {
                "id": "rt9",
                "pickup": "Méaulte",
                "dropoff": "Albert",
                "arrive_by": "17:00",
                "return_of": "nope",
            }
        ],
    )
    assert r.status_code == 422 and r.json()["where"] == "body.requests[0].return_of", r.text
    pending = {
        x["id"]
        for x in api.operator.get(f"/v1/days/{D}/requests", params={"status": "pending"}).json()
    }
    assert {"j1", "j2", "c1"} <= pending
    assert api.planner.get(f"/v1/days/{D}/requests").status_code == 403

    r = api.operator.post(f"/v1/days/{D}/plans", json={"time_limit_s": 1})
    assert r.status_code == 202
    job = r.json()
    for _ in range(300):
        job = api.planner.get(f"/v1/jobs/{job['id']}").json()
        if job["status"] in ("done", "failed"):
            break
        time.sleep(0.1)
    assert job["status"] == "done", job
    assert job["result"]["check_ok"] is True
    plan = api.operator.get(f"/v1/days/{D}/plan").json()
    assert plan["schema"] == "dispatcher/plan/1" and plan["day"] == D
    served = {v["request_id"] for rt in plan["routes"] for v in rt["visits"]}
    assert {"j1", "j2", "c1"} <= served
    j1 = api.operator.get(f"/v1/days/{D}/requests/j1").json()
    assert j1["status"] == "accepted" and j1["promise"]["vehicle_id"]
    gj = api.planner.get(f"/v1/days/{D}/plan/geojson")
    assert gj.headers["content-type"].startswith("application/geo+json")
    assert any(f["geometry"]["type"] == "LineString" for f in gj.json()["features"])
    man = api.planner.get(f"/v1/days/{D}/plan/manifest")
    assert man.headers["content-type"].startswith("text/csv")
    lines = man.text.strip().splitlines()
    assert lines[0].startswith("vehicle_id,order,kind,time") and len(lines) - 1 == sum(
        len(rt["visits"]) for rt in plan["routes"]
    )
    excel = api.planner.get(f"/v1/days/{D}/plan/manifest", params={"csv": "excel"})
    rows = open_as_french_excel(excel.content)
    assert len(rows) == len(lines) - 1 and "Véhicule" in rows[0] and "Lieu" in rows[0]
    assert api.planner.get(f"/v1/days/{D}/plan/check").json()["ok"] is True
    assert api.portal.get(f"/v1/days/{D}/plan").status_code == 403

    # cancelling a planned request takes it out of the plan, which stays valid
    r = api.operator.delete(f"/v1/days/{D}/requests/j2")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    plan = api.operator.get(f"/v1/days/{D}/plan").json()
    assert "j2" not in {v["request_id"] for rt in plan["routes"] for v in rt["visits"]}
    assert api.planner.get(f"/v1/days/{D}/plan/check").json()["ok"] is True


def test_bookings_promise_refusal_ownership_and_cancel(api: Api) -> None:
    _setup_day(api)
    r = api.portal.post(
        f"/v1/days/{D}/bookings",
        json={
            "id": "p1",
            "pickup": "Albert",
            "dropoff": "Méaulte",
            "pickup_window": {"start": "11:00", "end": "11:15"},
        },
    )
    assert r.status_code == 201, r.text
    promise = r.json()
    assert promise["status"] == "accepted" and promise["vehicle_id"] in {"bus-1", "tpmr-1"}
    assert promise["pickup"]["window"]["start"].startswith(f"{D}T11:00")
    # the same booking again is a replay, not a second trip
    r2 = api.portal.post(
        f"/v1/days/{D}/bookings",
        json={
            "id": "p1",
            "pickup": "Albert",
            "dropoff": "Méaulte",
            "pickup_window": {"start": "11:00", "end": "11:15"},
        },
    )
    assert r2.status_code == 200 and r2.json()["replayed"] is True
    # a group larger than any vehicle is refused with its reason
    r = api.portal.post(
        f"/v1/days/{D}/bookings",
        json={
            "id": "p2",
            "pickup": "Albert",
            "dropoff": "Méaulte",
            "seats": 12,
            "pickup_window": {"start": "11:00", "end": "11:15"},
        },
    )
    assert r.status_code == 409 and r.json()["reason"] == "group_too_large" and r.json()["message"]
    # own bookings only
    mine = {b["id"] for b in api.portal.get(f"/v1/days/{D}/bookings").json()}
    assert {"p1", "p2"} <= mine
    assert api.portal2.get(f"/v1/days/{D}/bookings").json() == []
    assert api.portal2.get(f"/v1/days/{D}/bookings/p1").status_code == 404
    assert api.portal2.delete(f"/v1/days/{D}/bookings/p1").status_code == 404
    assert api.operator.get(f"/v1/days/{D}/bookings/p1").json()["status"] == "accepted"
    assert api.planner.get(f"/v1/days/{D}/plan/check").json()["ok"] is True
    r = api.portal.delete(f"/v1/days/{D}/bookings/p1")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    plan = api.operator.get(f"/v1/days/{D}/plan").json()
    assert "p1" not in {v["request_id"] for rt in plan["routes"] for v in rt["visits"]}


def test_a_portal_links_a_return_only_to_its_own_bookings(api: Api) -> None:
    """Another portal's booking and an unknown id get the same answer: a portal learns nothing of
    which booking ids exist, and cannot tie its trip to someone else's."""
    _setup_day(api)
    out = {
        "id": "own-out",
        "pickup": "Albert",
        "dropoff": "Méaulte",
        "pickup_window": {"start": "13:00", "end": "13:15"},
    }
    assert api.portal.post(f"/v1/days/{D}/bookings", json=out).status_code == 201
    back = {
        "pickup": "Méaulte",
        "dropoff": "Albert",
        "pickup_window": {"start": "16:00", "end": "16:15"},
    }
    answers = []
    for link in ("own-out", "no-such-booking"):
        r = api.portal2.post(
            f"/v1/days/{D}/bookings", json={**back, "id": f"x-{link}", "return_of": link}
        )
        assert r.status_code == 422 and r.json()["where"] == "body.return_of", r.text
        answers.append(r.json()["message"].replace(link, "ID"))
        assert (
            api.operator.get(f"/v1/days/{D}/requests/x-{link}").status_code == 404
        )  # nothing stored
    assert answers[0] == answers[1]
    r = api.portal.post(
        f"/v1/days/{D}/bookings", json={**back, "id": "own-back", "return_of": "own-out"}
    )
    assert r.status_code in (201, 409) and r.json().get("where") != "body.return_of", r.text


def test_cancelling_an_outbound_keeps_or_cancels_its_return(api: Api) -> None:
    """``?return=keep`` (the default) leaves the return a trip of its own, ``?return=cancel``
    cancels it with its outbound; the answer says which return and what became of it."""
    _setup_day(api)
    for tag in ("k", "c"):
        out = {
            "id": f"{tag}-out",
            "pickup": "Albert",
            "dropoff": "Méaulte",
            "pickup_window": {"start": "09:00", "end": "09:15"},
        }
        back = {
            "id": f"{tag}-back",
            "pickup": "Méaulte",
            "dropoff": "Albert",
            "pickup_window": {"start": "15:00", "end": "15:15"},
            "return_of": f"{tag}-out",
        }
        for b in (out, back):
            r = api.portal.post(f"/v1/days/{D}/bookings", json=b)
            assert r.status_code == 201, r.text
    r = api.portal.delete(f"/v1/days/{D}/bookings/k-back", params={"return": "later"})
    assert r.status_code == 422 and "return" in r.json()["where"], r.text
    r = api.portal.delete(f"/v1/days/{D}/bookings/k-out")
    assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
    assert r.json()["return_trip"] == {
        "request_id": "k-back",
        "status": "accepted",
        "action": "kept",
        "linked": False,
    }
    r = api.portal.delete(f"/v1/days/{D}/bookings/c-out", params={"return": "cancel"})
    assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
    assert r.json()["return_trip"]["request_id"] == "c-back"
    assert r.json()["return_trip"]["status"] == "cancelled"
    assert r.json()["return_trip"]["action"] == "cancelled"
    assert api.operator.get(f"/v1/days/{D}/requests/c-back").json()["status"] == "cancelled"
    assert api.operator.get(f"/v1/days/{D}/requests/k-back").json()["status"] == "accepted"
    plan = api.operator.get(f"/v1/days/{D}/plan").json()  # a planner sees pseudonyms only
    served = {v["request_id"] for rt in plan["routes"] for v in rt["visits"]}
    assert "k-back" in served and not {"k-out", "c-out", "c-back"} & served
    assert api.planner.get(f"/v1/days/{D}/plan/check").json()["ok"]
    # a request without a return says so
    r = api.portal.delete(f"/v1/days/{D}/bookings/k-back", params={"return": "cancel"})
    assert r.status_code == 200 and r.json()["return_trip"] is None


def test_scenario_by_planner_leaves_the_plan_alone(api: Api) -> None:
    _setup_day(api)
    before = api.planner.get(f"/v1/days/{D}").json()["version"]
    r = api.planner.post(
        "/v1/scenarios", json={"day": D, "time_limit_s": 0.5, "vehicles": [FLEET[0]]}
    )
    assert r.status_code == 202
    job = r.json()
    for _ in range(300):
        job = api.planner.get(f"/v1/jobs/{job['id']}").json()
        if job["status"] in ("done", "failed"):
            break
        time.sleep(0.1)
    assert job["status"] in ("done", "failed"), job
    if job["status"] == "done":
        assert job["result"]["plan"]["schema"] == "dispatcher/plan/1"
        assert {rt["vehicle_id"] for rt in job["result"]["plan"]["routes"]} <= {"bus-1"}
        visits = [v for rt in job["result"]["plan"]["routes"] for v in rt["visits"]]
        assert all(v["request_id"].startswith("rq-") for v in visits)  # pseudonyms
    else:
        assert job["error"]["message"]
    assert api.planner.get(f"/v1/days/{D}").json()["version"] == before


@pytest.mark.parametrize("path", ["/v1/days", "/v1/vehicles", f"/v1/days/{D}/bookings"])
def test_errors_are_json_bodies(api: Api, path: str) -> None:
    r = api.anon.get(path)
    assert r.status_code == 401 and set(r.json()) >= {"error", "where", "message"}
