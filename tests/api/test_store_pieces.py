"""A day's plan and problem stored in pieces (``dispatcher.store.live``, migration 0004_rows), on
SQLite and PostgreSQL: a write stores only what changed, a worker never diffs against a day
another one changed since, and the migration moves every stored plan and problem into pieces
(and back) with nothing lost."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select, text

from dispatcher.store import Store, current_revision, upgrade
from dispatcher.store.db import MIGRATIONS_DIR
from dispatcher.store.live import join, split
from dispatcher.store.models import DayPiece
from tests.api.conftest import BACKENDS, database_url

DAY = date(2031, 3, 4)
OTHER = date(2031, 3, 5)


def route(vehicle: str, n: int) -> dict[str, Any]:
    return {
        "vehicle_id": vehicle,
        "start": "2031-03-04T07:00:00+01:00",
        "end": "2031-03-04T12:00:00+01:00",
        "distance_m": 1000 * n,
        "visits": [
            {"request_id": f"r{k}", "kind": kind, "location_id": f"L{k}", "load": {"seats": 1}}
            for k in range(n)
            for kind in ("pickup", "dropoff")
        ],
        "breaks": [],
    }


def documents(n_routes: int = 3, n_requests: int = 4) -> tuple[dict[str, Any], dict[str, Any]]:
    """A plan and its problem in the shape of ``dispatcher/plan/1`` and ``dispatcher/problem/1``
    (what the split sees: lists of routes, locations, requests, vehicles; two matrices)."""
    plan = {
        "schema": "dispatcher/plan/1",
        "day": DAY.isoformat(),
        "timezone": "Europe/Paris",
        "routes": [route(f"bus-{v}", v + 1) for v in range(n_routes)],
        "rejections": [{"request_id": "x", "reason": "displaced", "details": {}}],
        "kpis": {"served": n_requests, "distance_m": 123},
        "stats": {"status": "feasible"},
    }
    locs = [{"id": f"L{k}", "name": f"Lieu {k} é", "lat": 50.0 + k, "lon": 2.6} for k in range(5)]
    problem = {
        "schema": "dispatcher/problem/1",
        "name": "",
        "day": DAY.isoformat(),
        "timezone": "Europe/Paris",
        "rules": {"service_hours": {"start": "06:00", "end": "20:00"}},
        "weights": {},
        "params": {"time_limit_s": 1.0},
        "locations": locs,
        "duration_s": [[abs(i - j) * 60 for j in range(5)] for i in range(5)],
        "distance_m": [[abs(i - j) * 900 for j in range(5)] for i in range(5)],
        "requests": [
            {"id": f"r{k}", "pickup": "L0", "dropoff": f"L{k}", "seats": 1, "name": "Zoé"}
            for k in range(n_requests)
        ],
        "vehicles": [{"id": f"bus-{v}", "seats": 8} for v in range(n_routes)],
    }
    return plan, problem


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return database_url(request.param, tmp_path)


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    s = Store(url)
    yield s
    s.close()


def pieces_of(store: Store, day: date) -> dict[str, Any]:
    with store.read() as s:
        return dict(s.execute(select(DayPiece.key, DayPiece.data).where(DayPiece.day == day)).all())


def write(store: Store, day: date, plan: dict[str, Any], problem: dict[str, Any]) -> int:
    """Store ``plan`` and ``problem`` as a booking does: under the day's lock, version bumped."""
    with store.lock_day(day) as (s, row):
        n = store.live.write(s, row, plan, problem)
        row.version += 1
    return n


def test_split_and_join_give_back_the_documents_key_order_included() -> None:
    plan, problem = documents()
    for doc, d in (("plan", plan), ("problem", problem)):
        back = join(doc, split(doc, d))
        assert back == d and list(back or {}) == list(d)
    empty = {**plan, "routes": []}
    assert join("plan", split("plan", empty)) == empty
    assert join("plan", split("problem", problem)) is None


def test_a_write_stores_only_the_pieces_that_changed(store: Store) -> None:
    store.put_day(DAY)
    assert store.get_plan(DAY) is None and not store.get_day(DAY)["has_plan"]
    plan, problem = documents()
    first = write(store, DAY, plan, problem)
    assert first == len(pieces_of(store, DAY)) == 2 + 3 + 5 + 2 + 4 + 3  # heads, lists, matrices
    # a booking: one route changes and a request is added (plan head: its kpis)
    plan2, problem2 = copy.deepcopy(plan), copy.deepcopy(problem)
    plan2["routes"][1] = route("bus-1", 3)
    plan2["kpis"]["served"] = 5
    problem2["requests"].append({"id": "r4", "pickup": "L0", "dropoff": "L4", "seats": 1})
    assert write(store, DAY, plan2, problem2) == 3
    assert store.get_plan(DAY) == (plan2, problem2)
    assert store.get_day(DAY)["has_plan"]
    # a cancellation: the last request leaves, a route gets shorter
    plan3, problem3 = copy.deepcopy(plan2), copy.deepcopy(problem2)
    del problem3["requests"][4]
    plan3["routes"][1] = route("bus-1", 2)
    assert write(store, DAY, plan3, problem3) == 1
    assert store.get_plan(DAY) == (plan3, problem3)
    assert len(pieces_of(store, DAY)) == first
    # nothing changed: nothing written
    assert write(store, DAY, plan3, problem3) == 0
    assert store.get_plan_json(DAY) == plan3


def test_a_worker_never_diffs_against_a_day_another_one_changed(url: str) -> None:
    """Two stores on one database (two workers): the second changes the day behind the first's
    back; the first's next write still leaves exactly what it wrote."""
    a, b = Store(url), Store(url)
    try:
        a.put_day(DAY)
        plan, problem = documents()
        write(a, DAY, plan, problem)  # a holds these pieces at the new version
        other_plan = copy.deepcopy(plan)
        other_plan["routes"][0] = route("bus-0", 4)
        other_problem = {**problem, "requests": problem["requests"][:2]}
        write(b, DAY, other_plan, other_problem)  # b reads the stored pieces, changes two things
        # a writes its own next state; against its stale pieces route 0 and requests 2-3 would
        # look unchanged and stay as b left them
        mine = copy.deepcopy(plan)
        mine["routes"][2] = route("bus-2", 1)
        write(a, DAY, mine, problem)
        assert a.get_plan(DAY) == (mine, problem)
        assert b.get_plan(DAY) == (mine, problem)
    finally:
        a.close()
        b.close()


def test_migration_0004_moves_stored_plans_into_pieces_and_back(url: str) -> None:
    """A database at 0003 with days, requests, a plan and its problem (one day without a plan):
    upgraded, every stored document reads back the same and nothing else moved; downgraded, the
    whole documents are back in their columns."""
    old = Store(url, migrate=False)
    try:
        upgrade(old.engine, "0003")
        assert current_revision(old.engine) == "0003"
        plan, problem = documents(n_routes=4, n_requests=6)
        with old.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO service_days (day, status, note, version, plan_json, "
                    "problem_json, plan_updated_at, created_at) VALUES (:d, 'open', 'n', 7, "
                    ":plan, :problem, NULL, CURRENT_TIMESTAMP)"
                ),
                {"d": DAY, "plan": _json(plan), "problem": _json(problem)},
            )
            conn.execute(
                text(
                    "INSERT INTO service_days (day, status, note, version, created_at) "
                    "VALUES (:d, 'closed', '', 0, CURRENT_TIMESTAMP)"
                ),
                {"d": OTHER},
            )
            conn.execute(
                text(
                    "INSERT INTO requests (day, request_id, source, status, data, created_at, "
                    "updated_at) VALUES (:d, 'r0', 'booking', 'accepted', :data, "
                    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"d": DAY, "data": _json(problem["requests"][0])},
            )
    finally:
        old.close()
    new = Store(url)  # migrates to head
    try:
        assert new.get_plan(DAY) == (plan, problem)
        assert new.get_plan_versioned(DAY) == (7, plan, problem)
        assert new.get_plan(OTHER) is None
        day = new.get_day(DAY)
        assert day["has_plan"] and day["version"] == 7 and day["note"] == "n"
        assert not new.get_day(OTHER)["has_plan"] and new.get_day(OTHER)["status"] == "closed"
        assert [r["request"] for r in new.list_requests(DAY)] == [problem["requests"][0]]
        # the next write of the migrated day diffs against the migrated pieces
        plan2 = copy.deepcopy(plan)
        plan2["routes"][3] = route("bus-3", 1)
        assert write(new, DAY, plan2, problem) == 1
        downgrade(new.engine, "0003")
        with new.engine.connect() as conn:
            got = conn.execute(
                text("SELECT plan_json, problem_json FROM service_days WHERE day = :d"), {"d": DAY}
            ).one()
            n_tables = conn.execute(
                text(
                    "SELECT count(*) FROM information_schema.tables WHERE table_name = 'day_pieces'"
                )
                if new.engine.dialect.name == "postgresql"
                else text("SELECT count(*) FROM sqlite_master WHERE name = 'day_pieces'")
            ).scalar()
        assert [_load(g) for g in got] == [plan2, problem] and n_tables == 0
    finally:
        new.close()
    again = Store(url)  # and up again
    try:
        assert again.get_plan(DAY) == (plan2, problem)
        with again.read() as s:
            assert s.execute(select(func.count()).select_from(DayPiece)).scalar() == len(
                {**split("plan", plan2), **split("problem", problem)}
            )
    finally:
        again.close()


def downgrade(engine: Engine, revision: str) -> None:
    """Alembic's downgrade to ``revision``, on the connection ``dispatcher.store.upgrade`` uses."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn.execution_options(sqlite_begin="IMMEDIATE")
        command.downgrade(cfg, revision)


def _json(d: Any) -> str:
    import json

    return json.dumps(d, ensure_ascii=False)


def _load(v: Any) -> Any:
    import json

    return json.loads(v) if isinstance(v, str) else v


def test_a_version_bump_that_keeps_the_plan_keeps_its_pieces_held(store: Store) -> None:
    """A refusal or a pending request bumps the day's version and leaves the plan: the next write
    still diffs against the pieces held (no read of the day), and stores exactly its plan."""
    store.put_day(DAY)
    plan, problem = documents()
    write(store, DAY, plan, problem)
    with store.lock_day(DAY) as (s, row):
        store.live.unchanged(s, row)
        row.version += 1
    reads: list[str] = []

    def count(*a: Any) -> None:
        if "day_pieces" in a[2] and a[2].lstrip().upper().startswith("SELECT"):
            reads.append(a[2])

    event.listen(store.engine, "before_cursor_execute", count)
    plan2 = {**plan, "routes": [route("bus-0", 2), *plan["routes"][1:]]}
    assert write(store, DAY, plan2, problem) == 1
    event.remove(store.engine, "before_cursor_execute", count)
    assert reads == []
    assert store.get_plan(DAY) == (plan2, problem)
