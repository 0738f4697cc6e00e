"""The store of the day as it happens (SQLite and PostgreSQL): events are append-only (the
database refuses to change or delete one), driver keys carry their vehicle and day."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from dispatcher.errors import InputError
from dispatcher.store import Store
from dispatcher.store.events import Events
from tests.api.conftest import BACKENDS, database_url

DAY = date(2030, 1, 8)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s = Store(database_url(request.param, tmp_path))
    yield s
    s.close()


def test_events_are_append_only(store: Store) -> None:
    store.put_day(DAY)
    with store.lock_day(DAY) as (s, _):
        Events.append(
            s, DAY, "bus-1", {"event_id": "e1", "type": "position", "time": "x"}, 36000, 1, "driver"
        )
    got = Events(store).list_events(DAY)
    assert [e["event_id"] for e in got] == ["e1"] and got[0]["sent_by"]["role"] == "driver"
    # when it came, with its offset on every backend (SQLite keeps no zone: a bare time would be
    # read as local time by the console)
    assert datetime.fromisoformat(got[0]["received_at"]).utcoffset() == timedelta(0), got[0]
    for sql in ("UPDATE vehicle_events SET type = 'boarded'", "DELETE FROM vehicle_events"):
        with pytest.raises(Exception, match="append-only"), store.write() as s:
            s.execute(text(sql))
    assert len(Events(store).list_events(DAY)) == 1


def test_driver_keys(store: Store) -> None:
    token, info = store.create_key("driver", "d", "bus-1", DAY)
    got = store.authenticate(token)
    assert got is not None and got.vehicle_id == "bus-1" and got.day == DAY
    with pytest.raises(InputError, match="vehicle and its day"):
        store.create_key("driver", "d")
    with pytest.raises(InputError, match="only a driver"):
        store.create_key("operator", "o", "bus-1", DAY)
    assert info.role == "driver"
