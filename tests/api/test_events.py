"""The day as it happens on the real server (SQLite and PostgreSQL): each event type, each
role (operator, the driver of the vehicle, the driver of another vehicle or day, portal,
planner), the live day, the notifications and a manual move."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.api.conftest import DAY, FLEET, Api

D = DAY.isoformat()
OFFSET = "+01:00" if DAY.month in (1, 2, 3, 11, 12) else "+02:00"
BOOKINGS = {
    "e1": ("Albert", "Méaulte", "09:00"),
    "e2": ("Albert", "Bray-sur-Somme", "09:30"),
    "e3": ("Méaulte", "Albert", "10:30"),
    "e4": ("Albert", "Méaulte", "11:00"),
}


def t(hhmm: str) -> str:
    return f"{D}T{hhmm}:00{OFFSET}"


@pytest.fixture(scope="module")
def day(api: Api) -> Iterator[dict[str, Any]]:
    assert api.operator.put(f"/v1/days/{D}", json={}).status_code in (200, 201)
    for v in FLEET:
        if api.operator.get(f"/v1/vehicles/{v['id']}").status_code == 404:
            assert api.operator.post("/v1/vehicles", json=v).status_code == 201
    for rid, (pu, do, start) in BOOKINGS.items():
        end = f"{start[:3]}{int(start[3:]) + 15:02d}"
        r = api.portal.post(
            f"/v1/days/{D}/bookings",
            json={
                "id": rid,
                "pickup": pu,
                "dropoff": do,
                "name": f"Rider {rid}",
                "phone": f"06 00 00 00 0{rid[1]}",
                "pickup_window": {"start": start, "end": end},
            },
        )
        assert r.status_code == 201, r.text
    plan = api.operator.get(f"/v1/days/{D}/plan").json()
    on = {v["request_id"]: rt["vehicle_id"] for rt in plan["routes"] for v in rt["visits"]}
    drivers = {}
    for v in FLEET:
        token, _ = api.store.create_key("driver", f"driver {v['id']}", v["id"], DAY)
        drivers[v["id"]] = httpx.Client(
            base_url=api.server.url, headers={"X-API-Key": token}, timeout=60.0
        )
    token, _ = api.store.create_key("driver", "yesterday", "bus-1", DAY - timedelta(days=1))
    old = httpx.Client(base_url=api.server.url, headers={"X-API-Key": token}, timeout=60.0)
    yield {"on": on, "drivers": drivers, "old": old}
    for c in [*drivers.values(), old]:
        c.close()


def post(client: httpx.Client, vid: str, body: dict[str, Any]) -> httpx.Response:
    return client.post(f"/v1/days/{D}/vehicles/{vid}/events", json=body)


def test_roles(api: Api, day: dict[str, Any]) -> None:
    vid = day["on"]["e1"]
    other = next(v["id"] for v in FLEET if v["id"] != vid)
    ping = {"event_id": "ping-1", "type": "position", "time": t("08:50"), "lon": 2.65, "lat": 50.0}
    mine = day["drivers"][vid]
    r = post(mine, vid, ping)
    assert r.status_code == 201, r.text
    got = r.json()
    assert got["event"]["seq"] >= 1 and got["event"]["sent_by"]["role"] == "driver"
    assert got["live"]["position"]["lon"] == 2.65 and got["live"]["vehicle_id"] == vid
    assert post(mine, vid, ping).status_code == 200  # replayed
    assert post(mine, vid, {**ping, "lon": 2.66}).status_code == 409  # same id, other event
    r = post(mine, other, {**ping, "event_id": "ping-x"})
    assert r.status_code == 403 and r.json()["where"] == "vehicle_id"
    assert post(day["old"], vid, {**ping, "event_id": "ping-y"}).status_code == 403
    assert post(api.portal, vid, {**ping, "event_id": "ping-z"}).status_code == 403
    assert post(api.planner, vid, {**ping, "event_id": "ping-z"}).status_code == 403
    r = post(api.operator, other, {**ping, "event_id": "ping-op"})
    assert r.status_code == 201, r.text
    # reading: the driver its own vehicle's, others as their role allows
    assert mine.get(f"/v1/days/{D}/events", params={"vehicle_id": other}).status_code == 403
    evs = mine.get(f"/v1/days/{D}/events").json()
    assert {e["vehicle_id"] for e in evs} == {vid}
    assert {e["vehicle_id"] for e in api.operator.get(f"/v1/days/{D}/events").json()} == {
        vid,
        other,
    }
    after = api.operator.get(f"/v1/days/{D}/events", params={"after_seq": evs[-1]["seq"]}).json()
    assert all(e["seq"] > evs[-1]["seq"] for e in after)
    assert api.portal.get(f"/v1/days/{D}/events").status_code == 403
    live = mine.get(f"/v1/days/{D}/live").json()
    assert [v["vehicle_id"] for v in live["vehicles"]] == [vid]
    names = {s["name"] for s in live["vehicles"][0]["next_stops"] if s["request_id"]}
    assert names and all(n.startswith("Rider") for n in names)  # its own riders, for the manifest
    assert api.portal.get(f"/v1/days/{D}/live").status_code == 403
    planner = api.planner.get(f"/v1/days/{D}/live")
    assert (
        planner.status_code == 200 and "Rider" not in planner.text and "06 00" not in planner.text
    )
    assert day["old"].get(f"/v1/days/{D}/live").status_code == 403
    assert api.operator.get(f"/v1/days/{D}/notifications").status_code == 200
    assert mine.get(f"/v1/days/{D}/notifications").status_code == 403


def test_a_console_poll_is_logged_once(api: Api, day: dict[str, Any]) -> None:
    """The console polls the live day every 5 s: the access log has one entry for the polls
    of a key that show the same riders (again after a quarter of an hour), not one a poll;
    another key's first read is logged."""

    def live_reads() -> list[dict[str, Any]]:
        log = api.operator.get("/v1/privacy/access-log", params={"limit": 10000}).json()
        return [e for e in log if e["action"] == "live.get"]

    before = len(live_reads())
    for _ in range(3):
        assert api.operator.get(f"/v1/days/{D}/live").status_code == 200
    got = live_reads()
    assert len(got) in (before, before + 1), got[before:]  # (logged already by an earlier read)
    assert got and got[-1]["rider_ids"]  # who was shown
    vid = day["on"]["e1"]
    token, _ = api.store.create_key("driver", "another phone", vid, DAY)
    with httpx.Client(base_url=api.server.url, headers={"X-API-Key": token}) as other:
        assert other.get(f"/v1/days/{D}/live").status_code == 200
    assert len(live_reads()) == len(got) + 1


def test_bad_events(api: Api, day: dict[str, Any]) -> None:
    vid = day["on"]["e1"]
    base = {"event_id": "bad", "type": "position", "lon": 2.65, "lat": 50.0}
    r = post(api.operator, vid, {**base, "time": f"{D}T09:00:00"})
    assert r.status_code == 422 and "offset" in r.json()["message"]
    r = post(api.operator, vid, {**base, "time": t("09:00"), "type": "teleported"})
    assert r.status_code == 422 and r.json()["where"].endswith("type")
    r = post(api.operator, vid, {**base, "time": t("09:00"), "lat": 123.0})
    assert r.status_code == 422 and "lat" in r.json()["where"]
    r = post(api.operator, "no-such-bus", {**base, "time": t("09:00")})
    assert r.status_code == 409 and "no-such-bus" in r.json()["message"]
    later = (DAY + timedelta(days=1)).isoformat()
    assert api.operator.put(f"/v1/days/{later}", json={}).status_code in (200, 201)
    r = api.operator.post(
        f"/v1/days/{later}/vehicles/{vid}/events",
        json={**base, "time": f"{later}T09:00:00{OFFSET}"},
    )
    assert r.status_code == 409 and "no plan" in r.json()["message"]


def test_each_event_moves_the_live_day(api: Api, day: dict[str, Any]) -> None:
    vid = day["on"]["e1"]
    drv = day["drivers"][vid]
    r = post(
        drv, vid, {"event_id": "a1", "type": "arrived", "time": t("09:00"), "request_id": "e1"}
    )
    assert r.status_code == 201, r.text
    r = post(
        drv,
        vid,
        {
            "event_id": "b1",
            "type": "boarded",
            "time": t("09:02"),
            "request_id": "e1",
            "passengers": 2,
            "note": "avec un accompagnant",
        },
    )
    assert r.status_code == 201, r.text
    stop = next(s for s in r.json()["live"]["next_stops"] if s["request_id"] == "e1")
    assert stop["done"] and stop["passengers"] == 2
    assert (
        post(
            drv, vid, {"event_id": "d0", "type": "departed", "time": t("09:03"), "request_id": "e1"}
        ).status_code
        == 201
    )
    r = post(
        drv, vid, {"event_id": "x1", "type": "dropped_off", "time": t("09:04"), "request_id": "e3"}
    )
    assert r.status_code == 409 and "not on board" in r.json()["message"]
    if day["on"]["e4"] != vid:
        r = post(
            drv, vid, {"event_id": "x2", "type": "boarded", "time": t("09:04"), "request_id": "e4"}
        )
        assert r.status_code == 409 and "route" in r.json()["message"]
    r = post(
        drv, vid, {"event_id": "o1", "type": "dropped_off", "time": t("09:15"), "request_id": "e1"}
    )
    assert r.status_code == 201, r.text
    r = post(drv, vid, {"event_id": "l1", "type": "delayed", "time": t("09:16"), "delay_min": 20})
    assert r.status_code == 201 and r.json()["live"]["delay_s"] >= 0
    live = api.operator.get(f"/v1/days/{D}/live").json()
    states = {b["request_id"]: b["state"] for b in live["bookings"]}
    assert states["e1"] == "done"
    e2 = {b["request_id"]: b for b in live["bookings"]}["e2"]
    if e2["state"] == "promised":  # on whichever vehicle the delay left it
        on = e2["vehicle_id"]
        r = post(
            day["drivers"][on],
            on,
            {"event_id": "n2", "type": "no_show", "time": t("09:45"), "request_id": "e2"},
        )
        assert r.status_code == 201, r.text
        live = api.operator.get(f"/v1/days/{D}/live").json()
        assert {b["request_id"]: b["state"] for b in live["bookings"]}["e2"] == "no_show"
        assert any(a["kind"] == "no_show" for a in live["alerts"])
        plan = api.operator.get(f"/v1/days/{D}/plan").json()
        assert "e2" not in {v["request_id"] for rt in plan["routes"] for v in rt["visits"]}
    for v in live["vehicles"]:
        assert v["check"] is None or v["check"]["ok"], v


def test_breakdown_move_and_notifications(api: Api, day: dict[str, Any]) -> None:
    live = api.operator.get(f"/v1/days/{D}/live").json()
    promised = [b for b in live["bookings"] if b["state"] == "promised"]
    assert promised, live["bookings"]  # the day's later trips are still to come
    b = promised[0]
    other = next(v["id"] for v in FLEET if v["id"] != b["vehicle_id"])
    r = api.operator.post(
        f"/v1/days/{D}/requests/{b['request_id']}/move", json={"vehicle_id": other}
    )
    assert r.status_code in (200, 409), r.text
    if r.status_code == 200:
        assert r.json()["vehicle_id"] == other
    else:
        assert other in r.json()["message"] and other in r.json()["message_en"]
    assert (
        api.portal.post(
            f"/v1/days/{D}/requests/{b['request_id']}/move", json={"vehicle_id": other}
        ).status_code
        == 403
    )
    broken = FLEET[1]["id"]
    r = post(
        day["drivers"][broken],
        broken,
        {"event_id": "u1", "type": "unavailable", "time": t("10:00"), "note": "panne"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["live"]["status"] == "unavailable"
    rows = {x["id"]: x for x in api.operator.get(f"/v1/days/{D}/requests").json()}
    live = api.operator.get(f"/v1/days/{D}/live").json()
    notes = api.operator.get(f"/v1/days/{D}/notifications").json()
    for bk in live["bookings"]:
        if bk["state"] in ("promised", "on_board"):
            assert bk["vehicle_id"] != broken, bk
        if rows[bk["request_id"]]["status"] == "refused":
            assert any(n["request_id"] == bk["request_id"] for n in notes)
    assert any(a["kind"] == "unavailable" for a in live["alerts"])
    if notes:
        n = notes[0]
        r = api.operator.post(f"/v1/days/{D}/notifications/{n['id']}/sent")
        assert r.status_code == 200 and r.json()["sent_at"]
        assert "06 00" not in str(notes)
        pending = api.operator.get(f"/v1/days/{D}/notifications", params={"pending": True}).json()
        assert n["id"] not in {x["id"] for x in pending}
