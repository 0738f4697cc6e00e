"""Carpool offers, carpool matchings and volunteer drivers through a real uvicorn server on
loopback (SQLite, and PostgreSQL when DISPATCHER_TEST_PG_URL is set): create, list, withdraw
and delete; roles (nothing happens on a 401 or 403); bad input named by field; unknown places
answered with the nearest names; matchings judged again here by the project's matcher and
checker; a plan job over minibuses, volunteers and carpools judged by the checker."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dispatcher.io.mobility import mixed_from_dicts, offer_from_dict
from dispatcher.io.plan import plan_from_dict
from dispatcher.io.problem import problem_from_dict
from dispatcher.solver.carpool import carpool_problem, match_carpool
from dispatcher.solver.checker import check_plan
from tests.api.conftest import DAY, FLEET, Api

D = DAY.isoformat()

OFFERS: list[dict[str, Any]] = [
    {
        "driver_id": "c1",
        "origin": "Mailly-Maillet",
        "destination": "Albert",
        "seats": 3,
        "departure_window": {"start": "07:30", "end": "07:50"},
        "name": "M. Leroy",
    },
    {
        "driver_id": "c2",
        "origin": "Bray-sur-Somme",
        "destination": "Albert",
        "seats": 2,
        "arrival_window": {"start": "08:40", "end": "09:00"},
    },
]
RIDERS: list[dict[str, Any]] = [
    {
        "id": "m1",
        "pickup": "Mailly-Maillet",
        "dropoff": "Albert",
        "pickup_window": {"start": "07:30", "end": "07:50"},
    },
    {
        "id": "m2",
        "pickup": "Albert",
        "dropoff": "Mailly-Maillet",
        "pickup_window": {"start": "07:30", "end": "07:45"},
    },
    {
        "id": "m3",
        "pickup": "Mailly-Maillet",
        "dropoff": "Albert",
        "pickup_window": {"start": "07:30", "end": "07:50"},
        "accepts_carpool": False,
    },
    {"id": "b1", "pickup": "Bray-sur-Somme", "dropoff": "Albert", "arrive_by": "09:00"},
    {
        "id": "a1",
        "pickup": "Acheux-en-Amiénois",
        "dropoff": "Albert",
        "pickup_window": {"start": "14:00", "end": "14:15"},
    },
]
VOLUNTEER = {
    "id": "vol-1",
    "home": "Acheux-en-Amiénois",
    "half_days": ["am", "pm"],
    "seats": 3,
    "max_km_from_home": 25,
}


@pytest.fixture(scope="module")
def day(api: Api) -> Iterator[Api]:
    """The module's day: open, with the fleet, the riders and the offers."""
    assert api.operator.put(f"/v1/days/{D}", json={"note": "carpool day"}).status_code in (200, 201)
    for v in FLEET:
        if api.operator.get(f"/v1/vehicles/{v['id']}").status_code == 404:
            assert api.operator.post("/v1/vehicles", json=v).status_code == 201
    r = api.operator.post(f"/v1/days/{D}/requests", json={"requests": RIDERS})
    assert r.status_code == 201, r.text
    r = api.operator.post(f"/v1/days/{D}/carpool-offers", json={"offers": OFFERS})
    assert r.status_code == 201 and r.json() == {"day": D, "created": 2, "ids": ["c1", "c2"]}, (
        r.text
    )
    yield api


def _version(api: Api) -> int:
    return int(api.planner.get(f"/v1/days/{D}").json()["version"])


def test_offers_create_list_get_and_withdraw(day: Api) -> None:
    api = day
    listed = api.operator.get(f"/v1/days/{D}/carpool-offers").json()
    assert [o["driver_id"] for o in listed] == ["c1", "c2"] and {o["status"] for o in listed} == {
        "active"
    }
    one = api.operator.get(f"/v1/days/{D}/carpool-offers/c1").json()
    assert one["offer"]["origin"] == "Mailly-Maillet" and one["offer"]["departure_window"] == {
        "start": "07:30",
        "end": "07:50",
    }
    # a bare list is a batch too; the same id again is a conflict
    before = _version(api)
    r = api.operator.post(f"/v1/days/{D}/carpool-offers", json=[{**OFFERS[0], "driver_id": "c9"}])
    assert r.status_code == 201 and r.json()["ids"] == ["c9"]
    assert _version(api) == before + 1  # offers change what the day's plan jobs plan
    assert (
        api.operator.post(
            f"/v1/days/{D}/carpool-offers", json=[{**OFFERS[0], "driver_id": "c9"}]
        ).status_code
        == 409
    )
    r = api.operator.delete(f"/v1/days/{D}/carpool-offers/c9")
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    assert (
        api.operator.delete(f"/v1/days/{D}/carpool-offers/c9").json()["status"] == "withdrawn"
    )  # twice: no-op
    assert _version(api) == before + 2
    assert [
        o["driver_id"]
        for o in api.operator.get(
            f"/v1/days/{D}/carpool-offers", params={"status": "active"}
        ).json()
    ] == ["c1", "c2"]
    assert api.operator.get(f"/v1/days/{D}/carpool-offers/nope").status_code == 404
    assert api.operator.delete(f"/v1/days/{D}/carpool-offers/nope").status_code == 404


def test_volunteers_create_replace_list_and_delete(day: Api) -> None:
    api = day
    r = api.operator.post("/v1/volunteers", json={**VOLUNTEER, "id": "vol-tmp"})
    assert r.status_code == 201 and r.json()["half_days"] == ["am", "pm"]
    assert (
        api.operator.post("/v1/volunteers", json={**VOLUNTEER, "id": "vol-tmp"}).status_code == 409
    )
    r = api.operator.put(
        "/v1/volunteers/vol-tmp",
        json={**VOLUNTEER, "id": "vol-tmp", "half_days": ["pm"], "seats": 2},
    )
    assert r.status_code == 200 and r.json()["half_days"] == ["pm"]
    assert api.operator.get("/v1/volunteers/vol-tmp").json()["seats"] == 2
    assert "vol-tmp" in {v["id"] for v in api.operator.get("/v1/volunteers").json()}
    r = api.operator.put("/v1/volunteers/vol-new", json={**VOLUNTEER, "id": "vol-new"})
    assert r.status_code == 201
    assert api.operator.delete("/v1/volunteers/vol-tmp").status_code == 204
    assert api.operator.delete("/v1/volunteers/vol-new").status_code == 204
    assert api.operator.get("/v1/volunteers/vol-tmp").status_code == 404
    assert api.operator.delete("/v1/volunteers/vol-tmp").status_code == 404


def test_roles_refuse_and_nothing_happens(day: Api) -> None:
    api = day
    offer = {**OFFERS[0], "driver_id": "intruder"}
    before = _version(api)
    assert api.anon.post(f"/v1/days/{D}/carpool-offers", json=[offer]).status_code == 401
    assert (
        api.anon.post(
            f"/v1/days/{D}/carpool-offers", json=[offer], headers={"X-API-Key": "dsp_wrong"}
        ).status_code
        == 401
    )
    for client in (api.portal, api.planner):
        r = client.post(f"/v1/days/{D}/carpool-offers", json=[offer])
        assert r.status_code == 403 and r.json()["where"] == "role"
        assert client.delete(f"/v1/days/{D}/carpool-offers/c1").status_code == 403
        assert (
            client.post("/v1/volunteers", json={**VOLUNTEER, "id": "intruder"}).status_code == 403
        )
        assert (
            client.put("/v1/volunteers/intruder", json={**VOLUNTEER, "id": "intruder"}).status_code
            == 403
        )
    assert api.portal.get(f"/v1/days/{D}/carpool-offers").status_code == 403
    assert api.portal.get("/v1/volunteers").status_code == 403
    assert api.portal.post(f"/v1/days/{D}/carpool-matches", json={}).status_code == 403
    assert api.anon.get(f"/v1/days/{D}/carpool-matches").status_code == 401
    # nothing was written
    assert _version(api) == before
    assert api.operator.get(f"/v1/days/{D}/carpool-offers/intruder").status_code == 404
    assert api.operator.get(f"/v1/days/{D}/carpool-offers/c1").json()["status"] == "active"
    assert api.operator.get("/v1/volunteers/intruder").status_code == 404


@pytest.mark.parametrize(
    ("offer", "where"),
    [
        ({"seats": 0}, "body.offers[1].seats"),
        ({"days": [0, 1]}, "body.offers[1].days"),
        ({"departure_window": None}, "body.offers[1].departure_window"),
        ({"arrival_window": {"start": "07:00", "end": "07:10"}}, "body.offers[1].arrival_window"),
        ({"destination": "Mailly-Maillet"}, "body.offers[1].destination"),
        ({"max_detour_share": 6}, "body.offers[1].max_detour_share"),
        ({"driver_id": "bus-1"}, "body.offers[1].driver_id"),
    ],
)
def test_bad_offers_are_422_with_the_field_and_nothing_is_stored(
    day: Api, offer: dict[str, Any], where: str
) -> None:
    api = day
    good = {**OFFERS[0], "driver_id": "fine-1"}
    bad = {k: v for k, v in {**OFFERS[0], "driver_id": "bad-1", **offer}.items() if v is not None}
    r = api.operator.post(f"/v1/days/{D}/carpool-offers", json={"offers": [good, bad]})
    assert r.status_code == 422, r.text
    assert r.json()["where"].startswith(where) and r.json()["message"], r.json()
    assert (
        api.operator.get(f"/v1/days/{D}/carpool-offers/fine-1").status_code == 404
    )  # all or nothing


def test_bad_volunteers_and_days_are_refused_clearly(day: Api) -> None:
    api = day
    r = api.operator.post(
        "/v1/volunteers", json={**VOLUNTEER, "id": "v-bad", "half_days": ["night"]}
    )
    assert r.status_code == 422 and r.json()["where"] == "body.half_days[0]", r.text
    r = api.operator.post(
        "/v1/volunteers", json={**VOLUNTEER, "id": "v-bad", "max_km_from_home": 0}
    )
    assert r.status_code == 422 and r.json()["where"] == "body.max_km_from_home"
    r = api.operator.put("/v1/volunteers/v-other", json={**VOLUNTEER, "id": "v-bad"})
    assert r.status_code == 422 and r.json()["where"] == "body.id"
    assert api.operator.get("/v1/volunteers/v-bad").status_code == 404
    other = (DAY + timedelta(days=3)).isoformat()
    r = api.operator.post(f"/v1/days/{other}/carpool-offers", json=[OFFERS[0]])
    assert r.status_code == 422 and "service calendar" in r.json()["message"]
    r = api.operator.post(f"/v1/days/{D}/carpool-matches", json={"max_group": 4})
    assert r.status_code == 422 and r.json()["where"] == "body.max_group"


def test_unknown_places_answer_the_nearest_names(day: Api) -> None:
    api = day
    r = api.operator.post(
        f"/v1/days/{D}/carpool-offers",
        json=[{**OFFERS[0], "driver_id": "x1", "origin": "Meaulté-sur-Mer"}],
    )
    assert r.status_code == 404
    body = r.json()
    assert (
        body["where"] == "body.offers[0].origin"
        and "nearest names" in body["message"]
        and "Méaulte" in body["message"]
    )
    r = api.operator.post(
        f"/v1/days/{D}/carpool-offers",
        json=[{**OFFERS[0], "driver_id": "x1", "meeting_points": ["Albert", "Pozieres-la-Grande"]}],
    )
    assert (
        r.status_code == 404
        and r.json()["where"] == "body.offers[0].meeting_points[1]"
        and "Pozières" in r.json()["message"]
    )
    r = api.operator.post(
        "/v1/volunteers", json={**VOLUNTEER, "id": "v-x", "home": "Acheux-en-Amienoi"}
    )
    assert (
        r.status_code == 404
        and r.json()["where"] == "body.home"
        and "Acheux-en-Amiénois" in r.json()["message"]
    )


def _seconds(iso: str) -> int:
    t = datetime.fromisoformat(iso)
    assert t.date() == DAY and t.utcoffset() is not None  # local time with its offset
    return t.hour * 3600 + t.minute * 60 + t.second


def test_matching_is_the_matchers_answer_and_passes_the_checker(day: Api) -> None:
    api = day
    assert api.planner.get(f"/v1/days/{D}/carpool-matches").status_code in (200, 404)
    r = api.planner.post(f"/v1/days/{D}/carpool-matches", json={"max_group": 3, "time_limit_s": 5})
    assert r.status_code == 200, r.text
    assert r.json()["declined_carpool"][0].startswith("rq-")  # a planner reads pseudonyms
    got = api.operator.get(f"/v1/days/{D}/carpool-matches").json()  # the same, as it is
    assert got["check"]["ok"] is True and got["stale"] is False and got["version"] == _version(api)
    assert got["declined_carpool"] == ["m3"] and got["drivers"] == 2 and got["riders"] == 4
    matched = {m["driver_id"]: {x["request_id"] for x in m["riders"]} for m in got["matches"]}
    assert matched.get("c1") == {"m1"} and matched.get("c2") == {"b1"}, got
    unmatched = {u["request_id"]: u for u in got["unmatched"]}
    assert set(unmatched) == {"m2", "a1"}
    for u in unmatched.values():
        assert u["reason"] and u["message"] and u["message_en"] and u["message"] != u["message_en"]

    # the same inputs, as stored, through the project's matcher and checker here
    from dispatcher.graph import RoadNetwork
    from dispatcher.territory import Territory

    stored = [
        x["request"]
        for x in api.operator.get(f"/v1/days/{D}/requests").json()
        if x["status"] != "cancelled"
    ]
    offer_dicts = [
        o["offer"]
        for o in api.operator.get(
            f"/v1/days/{D}/carpool-offers", params={"status": "active"}
        ).json()
    ]
    riders = [d for d in stored if d.get("accepts_carpool") is not False]
    problem, offers, _ = mixed_from_dicts(
        riders, [], offer_dicts, [], Territory.load(["all"]), RoadNetwork.default(), day=DAY
    )
    local = match_carpool(problem, offers, max_group=3, time_limit_s=5)
    assert check_plan(carpool_problem(problem, offers), local.plan).ok
    assert {m.driver_id: set(m.rider_ids) for m in local.matches} == matched
    assert {m.driver_id: m.detour_s for m in local.matches} == {
        m["driver_id"]: m["detour_s"] for m in got["matches"]
    }
    for m in got["matches"]:
        offer = offer_from_dict(
            next(o for o in offer_dicts if o["driver_id"] == m["driver_id"]), "offer", DAY
        )
        assert 0 <= m["detour_s"] <= offer.max_detour_s(m["direct_s"])
        assert _seconds(m["origin"]["time"]) <= min(_seconds(s["time"]) for s in m["stops"])
        for rider in m["riders"]:
            req = problem.request(rider["request_id"])
            pick, drop = _seconds(rider["pickup"]["time"]), _seconds(rider["dropoff"]["time"])
            assert problem.pickup_tw(req).contains(pick) and pick < drop <= _seconds(
                m["destination"]["time"]
            )
            assert drop - pick <= problem.boarding_s(req) + problem.max_ride_s(req)

    # the last matching is kept, and goes stale when the offers change
    again = api.operator.get(f"/v1/days/{D}/carpool-matches").json()
    assert again["matches"] == got["matches"] and again["stale"] is False
    assert (
        api.operator.post(
            f"/v1/days/{D}/carpool-offers", json=[{**OFFERS[1], "driver_id": "c-late"}]
        ).status_code
        == 201
    )
    assert api.planner.get(f"/v1/days/{D}/carpool-matches").json()["stale"] is True
    api.operator.delete(f"/v1/days/{D}/carpool-offers/c-late")
    r = api.planner.post(f"/v1/days/{D}/carpool-matches")  # no body: the defaults
    assert r.status_code == 200 and r.json()["drivers"] == 2 and r.json()["stale"] is False


def _wait(api: Api, job: dict[str, Any]) -> dict[str, Any]:
    for _ in range(600):
        job = api.planner.get(f"/v1/jobs/{job['id']}").json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job did not finish: {job}")


def test_plan_job_mixes_minibuses_volunteers_and_carpools(day: Api) -> None:
    api = day
    assert api.operator.post("/v1/volunteers", json=VOLUNTEER).status_code in (201, 409)
    r = api.operator.post(f"/v1/days/{D}/plans", json={"time_limit_s": 2})
    assert r.status_code == 202
    job = _wait(api, r.json())
    assert job["status"] == "done" and job["result"]["check_ok"] is True, job
    plan = api.operator.get(f"/v1/days/{D}/plan").json()
    modes = {rt["vehicle_id"]: rt.get("mode") for rt in plan["routes"] if rt["visits"]}
    on = {v["request_id"]: rt["vehicle_id"] for rt in plan["routes"] for v in rt["visits"]}
    assert on.get("m1") == "c1" and modes["c1"] == "carpool", plan["routes"]
    assert on.get("m3") in {v["id"] for v in FLEET} | {
        "vol-1/am",
        "vol-1/pm",
    }  # declined carpools: never with a driver
    assert set(modes) <= {v["id"] for v in FLEET} | {"vol-1/am", "vol-1/pm", "c1", "c2"}
    assert "volunteer" in set(modes.values()), modes
    assert set(on) | {j["request_id"] for j in plan["rejections"]} == {d["id"] for d in RIDERS}
    # judged here by the checker, against the mixed problem stored with the plan
    stored = api.store.get_plan(DAY)
    assert stored is not None
    problem = problem_from_dict(stored[1])
    report = check_plan(problem, plan_from_dict(stored[0], problem))
    assert report.ok, report.summary()
    assert {v.kind for v in problem.vehicles} >= {"carpool", "volunteer"}
    assert api.planner.get(f"/v1/days/{D}/plan/check").json()["ok"] is True
    # a withdrawn offer leaves the next plan
    assert api.operator.delete(f"/v1/days/{D}/carpool-offers/c2").status_code == 200
    job = _wait(api, api.operator.post(f"/v1/days/{D}/plans", json={"time_limit_s": 2}).json())
    assert job["status"] == "done", job
    plan = api.operator.get(f"/v1/days/{D}/plan").json()
    assert "c2" not in {rt["vehicle_id"] for rt in plan["routes"] if rt["visits"]}
    assert api.planner.get(f"/v1/days/{D}/plan/check").json()["ok"] is True


def test_a_booking_after_a_mixed_plan_keeps_the_carpools_and_volunteers(day: Api) -> None:
    """The day's plan rides m1 with carpool driver c1; a booking afterwards is inserted into that
    plan (the booking sees the same vehicles: fleet, volunteers, the day's offers), so m1 stays
    with c1 and every promise and the checker still hold."""
    api = day
    plan = api.operator.get(f"/v1/days/{D}/plan").json()
    before = {v["request_id"]: rt["vehicle_id"] for rt in plan["routes"] for v in rt["visits"]}
    assert before.get("m1") == "c1"
    r = api.portal.post(
        f"/v1/days/{D}/bookings",
        json={
            "id": "bk1",
            "pickup": "Albert",
            "dropoff": "Méaulte",
            "pickup_window": {"start": "11:00", "end": "11:15"},
        },
    )
    assert r.status_code == 201, r.text
    plan = api.operator.get(f"/v1/days/{D}/plan").json()
    after = {v["request_id"]: rt["vehicle_id"] for rt in plan["routes"] for v in rt["visits"]}
    assert {k: after.get(k) for k in before} == before  # nobody moved
    assert after["bk1"] in {v["id"] for v in FLEET} | {"vol-1/am", "vol-1/pm"}
    assert api.planner.get(f"/v1/days/{D}/plan/check").json()["ok"] is True


def test_day_vehicles_compile_to_the_mixed_problems_vehicles(tmp_path: Path) -> None:
    """The volunteers' and offers' vehicle dicts a plan job adds to the fleet compile, through
    the day's compiler, to exactly the vehicles ``mixed_problem`` builds from the offers and
    volunteers themselves (so a booking given the same dicts sees the plan's vehicles)."""
    from dispatcher.model import SolverParams
    from dispatcher.service.app import Service
    from dispatcher.service.settings import Settings
    from dispatcher.solver.mixed import mixed_problem

    dispatch = Service(
        Settings(database_url=f"sqlite:///{tmp_path / 'd.db'}", solver_processes=False)
    )
    try:
        offers = [
            *OFFERS,
            {
                "driver_id": "c3",
                "origin": {"lon": 2.70, "lat": 50.05},
                "destination": "Albert",
                "meeting_points": ["Auchonvillers", "Albert"],
                "arrival_window": {"start": "08:00", "end": "08:20"},
            },
        ]
        volunteers = [
            VOLUNTEER,
            {
                "id": "vol-2",
                "home": {"lon": 2.65, "lat": 50.0},
                "half_days": ["pm"],
                "cost_per_km": 0.2,
            },
        ]
        extra = dispatch.day_fleet.extra_vehicle_dicts(DAY, offers, volunteers)
        assert [v["id"] for v in extra] == ["vol-1/am", "vol-1/pm", "vol-2/pm", "c1", "c2", "c3"]
        compiled = dispatch.compiler.compile(DAY, RIDERS, [*FLEET, *extra], SolverParams())
        base, offs, vols = mixed_from_dicts(
            RIDERS, FLEET, offers, volunteers, dispatch.ctx.territory, dispatch.ctx.network, day=DAY
        )
        assert compiled.vehicles == mixed_problem(base, offs, vols).vehicles
        assert dispatch.day_fleet.extra_vehicle_dicts(DAY, [], []) == []
    finally:
        dispatch.close()
