"""What the booking path reads and keeps in fewer statements gives the answers the separate
reads gave (SQLite and PostgreSQL):

* the day's vehicles, offers, volunteers and events' state read in one statement
  (``day_vehicles_in``) are what their own readers return, in their order, whoever wrote them
  (another process, since the booking before);
* the day's lock reads the booking's stored request in the same statement;
* a booking checks the day before the body (a closed or unknown day says so, whatever the body);
* the compiles of a day share their matrices (lists) while the places stay the same, and the
  write memo keeps only the pieces of the day's last version.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from dispatcher.errors import InputError
from dispatcher.model import SolverParams
from dispatcher.service.app import Service
from dispatcher.service.settings import Settings
from dispatcher.store import KeyInfo
from dispatcher.store.day_fleet import day_vehicles_in
from dispatcher.store.events import Events
from dispatcher.store.mobility import Mobility
from dispatcher.store.models import CarpoolOfferRow, LiveDayRow, RequestRow, VolunteerRow
from tests.api.conftest import BACKENDS, DAY, FLEET, database_url

KEY = KeyInfo(1, "operator", "test", "x")


@pytest.fixture(scope="module", params=BACKENDS)
def dispatch(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    tmp: Path = tmp_path_factory.mktemp("booking_path")
    d = Service(Settings(database_url=database_url(request.param, tmp), solver_processes=False))
    try:
        d.store.put_day(DAY)
        d.store.put_day(DAY + timedelta(days=1))
        for v in FLEET:
            d.store.put_vehicle(v)
        yield d
    finally:
        d.close()


Docs = list[dict[str, Any]]
Read = tuple[Docs, Docs, Docs, dict[str, Any] | None]


def separate_reads(dispatch: Service, day: date) -> Read:
    with dispatch.store.read() as s:
        return (
            dispatch.store.list_vehicles_in(s),
            Mobility.active_offers_in(s, day),
            Mobility.volunteers_in(s),
            Events.state_in(s, day),
        )


def one_read(dispatch: Service, day: date) -> Read:
    with dispatch.store.read() as s:
        got = day_vehicles_in(s, day)
    return got.vehicles, got.offers, got.volunteers, got.state


def test_the_day_vehicles_in_one_statement_are_the_separate_reads(dispatch: Service) -> None:
    other_day = DAY + timedelta(days=1)
    assert one_read(dispatch, DAY) == separate_reads(dispatch, DAY)
    assert one_read(dispatch, DAY)[1:] == ([], [], None)
    other = Service(dispatch.settings)  # another worker writes
    try:
        with other.store.write() as s:
            s.add(VolunteerRow(id="vol-b", data={"id": "vol-b", "k": 2}))
            s.add(VolunteerRow(id="vol-a", data={"id": "vol-a", "k": 1}))
            for pk_day, driver, status in (
                (DAY, "c2", "active"),
                (DAY, "c1", "active"),
                (DAY, "c0", "withdrawn"),
                (other_day, "c9", "active"),
            ):
                s.add(
                    CarpoolOfferRow(
                        day=pk_day, driver_id=driver, status=status, data={"driver_id": driver}
                    )
                )
            s.add(LiveDayRow(day=DAY, state={"vehicles": {"bus-1": {"status": "unavailable"}}}))
        other.store.put_vehicle({**FLEET[0], "id": "aaa-first"})
    finally:
        other.close()
    for day in (DAY, other_day):
        got = one_read(dispatch, day)
        assert got == separate_reads(dispatch, day)
    vehicles, offers, volunteers, state = one_read(dispatch, DAY)
    assert [v["id"] for v in vehicles] == sorted(v["id"] for v in vehicles)
    assert vehicles[0]["id"] == "aaa-first"
    assert [o["driver_id"] for o in offers] == ["c2", "c1"]
    assert [v["id"] for v in volunteers] == ["vol-a", "vol-b"]
    assert state == {"vehicles": {"bus-1": {"status": "unavailable"}}}
    assert one_read(dispatch, other_day)[1] == [{"driver_id": "c9"}]
    with dispatch.store.write() as s:  # leave the fleet as the other tests expect it
        for model in (VolunteerRow, CarpoolOfferRow, LiveDayRow):
            s.query(model).delete()
    dispatch.store.delete_vehicle("aaa-first")


def test_the_lock_reads_the_booking_request(dispatch: Service) -> None:
    with dispatch.store.write() as s:
        s.add(RequestRow(day=DAY, request_id="p1", source="booking", status="refused", data={}))
    with dispatch.store.lock_request(DAY, "p1") as (_, row, existing):
        assert row is not None and row.day == DAY
        assert existing is not None and existing.status == "refused"
    with dispatch.store.lock_request(DAY, "nobody") as (_, row, existing):
        assert row is not None and existing is None
    with dispatch.store.lock_request(DAY + timedelta(days=1), "p1") as (_, row, existing):
        assert row is not None and existing is None  # another day's request of that id
    with dispatch.store.lock_request(DAY + timedelta(days=400), "p1", missing_ok=True) as got:
        assert got[1:] == (None, None)


def test_a_booking_checks_the_day_before_the_body(dispatch: Service) -> None:
    bad = {"id": "b1", "pickup": "Nowhere-sur-Rien", "dropoff": "Albert"}
    with pytest.raises(InputError) as e:
        dispatch.bookings.book(DAY + timedelta(days=400), bad, KEY)
    assert "not in the service calendar" in e.value.message and e.value.where == "day"
    closed = DAY + timedelta(days=1)
    dispatch.store.put_day(closed, status="closed")
    try:
        with pytest.raises(InputError) as e:
            dispatch.bookings.book(closed, bad, KEY)
        assert "closed for bookings" in e.value.message and e.value.where == "day"
    finally:
        dispatch.store.put_day(closed)
    with pytest.raises(InputError) as e:  # an open day: the body is what is wrong
        dispatch.bookings.book(DAY, bad, KEY)
    assert e.value.where.startswith("body.pickup"), e.value.where


def trip(k: int, pickup: str, dropoff: str, start: str) -> dict[str, object]:
    end = f"{int(start[:2]) + 1:02d}{start[2:]}"
    return {
        "id": f"bp{k}",
        "pickup": pickup,
        "dropoff": dropoff,
        "pickup_window": {"start": start, "end": end},
    }


def test_compiles_share_their_matrices_while_the_places_stay(dispatch: Service) -> None:
    day = DAY + timedelta(days=2)
    compile_ = dispatch.compiler.for_day(day)
    sp = SolverParams(time_limit_s=1.0)
    a = [trip(1, "Albert", "Méaulte", "09:00"), trip(2, "Méaulte", "Albert", "10:00")]
    first = compile_(a, FLEET, sp)  # a full compile: its matrices as lists
    assert isinstance(first.duration_s, list) and isinstance(first.duration_s[0], list)
    second = compile_([*a, trip(3, "Albert", "Méaulte", "11:00")], FLEET, sp)  # same places
    assert second.duration_s is first.duration_s and second.distance_m is first.distance_m
    assert second.locations is first.locations and second.rules is first.rules
    fewer = compile_(a[1:], FLEET, sp)  # the same places, first used in another order
    assert [loc.id for loc in fewer.locations] != [loc.id for loc in first.locations]
    assert fewer.duration_s is not first.duration_s
    for p in (first, second, fewer):
        for x in p.locations:
            for y in p.locations:
                assert p.travel_s(x.id, y.id) == first.travel_s(x.id, y.id)
                assert p.travel_m(x.id, y.id) == first.travel_m(x.id, y.id)


def test_the_write_memo_keeps_the_last_version_only(dispatch: Service) -> None:
    day = DAY + timedelta(days=3)
    dispatch.store.put_day(day)
    sizes = []
    for k, (pu, do, start) in enumerate(
        [
            ("Albert", "Méaulte", "09:00"),
            ("Méaulte", "Albert", "10:00"),
            ("Albert", "Bray-sur-Somme", "08:00"),
            ("Bray-sur-Somme", "Albert", "12:00"),
            ("Albert", "Méaulte", "14:00"),
        ]
    ):
        status, body = dispatch.bookings.book(day, trip(10 + k, pu, do, start), KEY)
        assert status == 201, body
        sizes.append(len(dispatch.ctx.memory.memo_of(day)._pieces))
    version = dispatch.store.day_version(day)
    held = dispatch.ctx.memory.recall(day, version)
    assert held is not None
    plan, problem = held
    current = {
        id(x)
        for x in (
            *plan.routes,
            *problem.locations,
            *problem.requests,
            *problem.vehicles,
            problem.duration_s,
            problem.distance_m,
        )
    }
    kept = [obj for obj, _ in dispatch.ctx.memory.memo_of(day)._pieces.values()]
    assert kept and all(id(obj) in current for obj in kept), sizes  # nothing of older versions
    assert sizes[-1] <= len(current)


def test_a_new_place_grows_the_matrices_without_a_full_compile(
    dispatch: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A booking with a place new to the day adds that place's rows and columns to what the
    day's compile holds instead of compiling every request again; the Problem is still the one
    a full compile gives."""
    import numpy as np

    import dispatcher.service.compiling as compiling
    from dispatcher.io.problem import problem_from_dicts

    day = DAY + timedelta(days=4)
    compile_ = dispatch.compiler.for_day(day)
    sp = SolverParams(time_limit_s=1.0)
    reqs = [trip(20, "Albert", "Méaulte", "09:00"), trip(21, "Méaulte", "Albert", "10:00")]
    compile_(reqs, FLEET, sp)
    grown = [*reqs, trip(22, "Albert", "Morlancourt", "13:00")]

    def no_full_compile(*_a: object, **_k: object) -> None:
        raise AssertionError("a full compile for one new place")

    with monkeypatch.context() as m:
        m.setattr(compiling, "problem_from_dicts", no_full_compile)
        fast = compile_(grown, FLEET, sp)
    full = problem_from_dicts(
        grown,
        FLEET,
        dispatch.ctx.territory,
        dispatch.ctx.network,
        day=day,
        timezone=dispatch.ctx.tz,
        params=sp,
    )
    assert fast.locations == full.locations
    assert np.array_equal(np.asarray(fast.duration_s), np.asarray(full.duration_s))
    assert np.array_equal(np.asarray(fast.distance_m), np.asarray(full.distance_m))
    assert fast.requests == full.requests and fast.vehicles == full.vehicles
