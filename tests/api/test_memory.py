"""What a booking keeps in process memory gives the same answers as what is stored.

* Compiling a day's requests from what an earlier compile resolved (``Service.compiler``)
  yields the Problem a full compile yields: same places in the same order, same matrices.
* After each booking, the live (plan, problem) held in memory at the day's version is the one
  the database holds (read back from its JSON), and a booking by another process (a second
  ``Service`` on the same database) makes the first one read the stored plan again.
* The GeoJSON view is rebuilt when the day's version changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from dispatcher.io.plan import plan_from_dict, plan_to_dict
from dispatcher.io.problem import problem_from_dict, problem_from_dicts, problem_to_dict
from dispatcher.model import Problem, SolverParams
from dispatcher.service.app import Service
from dispatcher.service.settings import Settings
from dispatcher.store import KeyInfo
from tests.api.conftest import BACKENDS, DAY, FLEET, database_url

TRIPS = [
    ("Albert", "Méaulte", "09:00", "09:30"),
    ("Méaulte", "Albert", "10:00", "10:30"),
    ("Bray-sur-Somme", "Albert", "08:30", "09:00"),
    ("Albert", "Bray-sur-Somme", "11:00", "11:30"),
    ("Acheux-en-Amiénois", "Albert", "09:00", "09:30"),
]


def req(k: int, trip: tuple[str, str, str, str]) -> dict[str, object]:
    return {
        "id": f"m{k}",
        "pickup": trip[0],
        "dropoff": trip[1],
        "pickup_window": {"start": trip[2], "end": trip[3]},
    }


@pytest.fixture(scope="module", params=BACKENDS)
def dispatch(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    tmp: Path = tmp_path_factory.mktemp("memory")
    d = Service(Settings(database_url=database_url(request.param, tmp), solver_processes=False))
    try:
        d.store.put_day(DAY)
        for v in FLEET:
            d.store.put_vehicle(v)
        yield d
    finally:
        d.close()


def same_problem(a: Problem, b: Problem) -> None:
    assert a.locations == b.locations
    assert np.array_equal(np.asarray(a.duration_s), np.asarray(b.duration_s))
    assert np.array_equal(np.asarray(a.distance_m), np.asarray(b.distance_m))
    assert a.requests == b.requests and a.vehicles == b.vehicles
    assert (a.params, a.day, a.timezone, a.rules, a.weights) == (
        b.params,
        b.day,
        b.timezone,
        b.rules,
        b.weights,
    )


def test_compile_from_memory_is_a_full_compile(dispatch: Service) -> None:
    compile_ = dispatch.compiler.for_day(DAY)
    sp = SolverParams(time_limit_s=1.0)
    everything = [req(k, t) for k, t in enumerate(TRIPS)]
    compile_(everything, FLEET, sp)  # what the memory learns from
    for subset in (
        everything[3:],
        everything[::-1],
        [everything[2], {**everything[0], "id": "other", "seats": 2}],
    ):
        fast = compile_(subset, FLEET, sp)
        full = problem_from_dicts(
            subset,
            FLEET,
            dispatch.ctx.territory,
            dispatch.ctx.network,
            day=DAY,
            timezone=dispatch.ctx.tz,
            params=sp,
        )
        same_problem(fast, full)
    # a new place or another fleet: compiled in full again, still the same
    new_place = [*everything[:2], req(9, ("Albert", "Morlancourt", "13:00", "13:30"))]
    fleet2 = [FLEET[0]]
    for reqs, fleet in ((new_place, FLEET), (everything, fleet2)):
        got = compile_(reqs, fleet, sp)
        same_problem(
            got,
            problem_from_dicts(
                reqs,
                fleet,
                dispatch.ctx.territory,
                dispatch.ctx.network,
                day=DAY,
                timezone=dispatch.ctx.tz,
                params=sp,
            ),
        )


def test_plan_in_memory_is_the_stored_plan(dispatch: Service) -> None:
    key = KeyInfo(1, "operator", "test", "x")
    other = Service(dispatch.settings)  # another worker on the same database
    try:
        for k, trip in enumerate(TRIPS):
            by = other if k == 2 else dispatch
            status, body = by.bookings.book(DAY, req(100 + k, trip), key)
            assert status in (201, 409), body
            version = dispatch.store.day_version(DAY)
            got = dispatch.store.get_plan(DAY)
            assert got is not None
            stored_problem = problem_from_dict(got[1])
            stored_plan = plan_from_dict(got[0], stored_problem)
            held = by.ctx.memory.recall(DAY, version)
            assert held is not None, (
                "the booking process holds the day's plan at the stored version"
            )
            plan, problem = held
            assert problem_to_dict(problem) == problem_to_dict(stored_problem)
            assert plan_to_dict(plan, problem) == plan_to_dict(stored_plan, stored_problem)
            if by is other:  # the first process's memory is now stale: it must not be used
                assert dispatch.ctx.memory.recall(DAY, version) is None
        accepted = [r for r in dispatch.store.list_requests(DAY) if r["status"] == "accepted"]
        assert len(accepted) >= 3
        assert {r["id"] for r in accepted} <= {r.id for r in stored_problem.requests}
    finally:
        other.close()


def test_geojson_follows_the_version(dispatch: Service) -> None:
    key = KeyInfo(1, "operator", "test", "x")
    first = dispatch.plans.geojson(DAY, key)
    built = dispatch.ctx.memory.geojson[DAY][1]
    assert dispatch.plans.geojson(DAY, key) == first
    assert dispatch.ctx.memory.geojson[DAY][1] is built  # same version: built once
    status, _ = dispatch.bookings.book(
        DAY, req(200, ("Méaulte", "Bray-sur-Somme", "14:00", "14:30")), key
    )
    assert status in (201, 409)
    again = dispatch.plans.geojson(DAY, key)
    assert dispatch.ctx.memory.geojson[DAY][1] is not built
    ids = {f["properties"].get("request_id") for f in again["features"]}
    if status == 201:
        assert "m200" in ids
