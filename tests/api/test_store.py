"""The store alone (SQLite, and PostgreSQL when DISPATCHER_TEST_PG_URL is set): migrations,
hashed keys, all-or-nothing batches, and the day lock that serialises bookings."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from dispatcher.errors import InputError, NotFoundError
from dispatcher.store import ConflictError, Store, current_revision, hash_token
from dispatcher.store.models import ApiKey
from tests.api.conftest import BACKENDS, database_url

DAY = date(2031, 3, 4)
HEAD = "0006_tickets"


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s = Store(database_url(request.param, tmp_path))
    yield s
    s.close()


def test_migrations_reach_head_and_rerun_is_a_no_op(store: Store) -> None:
    assert current_revision(store.engine) == HEAD
    Store(store.url).close()  # a second open migrates nothing and fails nothing
    assert current_revision(store.engine) == HEAD


def test_keys_are_stored_hashed(store: Store) -> None:
    token, info = store.create_key("portal", "web")
    with store.read() as s:
        row = s.execute(select(ApiKey).where(ApiKey.id == info.id)).scalar_one()
    assert row.key_hash == hash_token(token) and token not in (row.key_hash, row.prefix)
    assert store.authenticate(token) == info
    assert store.authenticate(token + "x") is None
    with pytest.raises(InputError):
        store.create_key("admin")


def test_batches_are_all_or_nothing(store: Store) -> None:
    store.put_day(DAY)
    a = {
        "id": "a",
        "pickup": "Albert",
        "dropoff": "Méaulte",
        "pickup_window": {"start": "08:00", "end": "08:15"},
    }
    store.add_requests(DAY, [a])
    with pytest.raises(ConflictError):
        store.add_requests(DAY, [{**a, "id": "b"}, a])
    with pytest.raises(InputError):
        store.add_requests(DAY, [{**a, "id": "c"}, {**a, "id": "c"}])
    assert [r["id"] for r in store.list_requests(DAY)] == ["a"]
    with pytest.raises(NotFoundError):
        store.add_requests(date(2031, 3, 5), [a])


def test_day_lock_serialises_writers(store: Store) -> None:
    """Two transactions on the same day: the second waits for the first to commit and sees its
    write."""
    store.put_day(DAY)
    order: list[str] = []
    first_in = threading.Event()

    def first() -> None:
        with store.lock_day(DAY) as (_, row):
            first_in.set()
            order.append("first in")
            time.sleep(0.5)
            row.version += 10
            order.append("first out")

    def second() -> None:
        first_in.wait(10)
        with store.lock_day(DAY) as (_, row):
            order.append(f"second sees {row.version}")

    before = store.get_day(DAY)["version"]
    t1, t2 = threading.Thread(target=first), threading.Thread(target=second)
    t1.start()
    t2.start()
    t1.join(20)
    t2.join(20)
    assert order == ["first in", "first out", f"second sees {before + 10}"]


def test_a_failed_transaction_leaves_nothing(store: Store) -> None:
    store.put_day(DAY)
    before = store.get_day(DAY)["version"]
    with pytest.raises(RuntimeError), store.lock_day(DAY) as (_, row):
        row.version += 5
        raise RuntimeError("boom")
    assert store.get_day(DAY)["version"] == before
