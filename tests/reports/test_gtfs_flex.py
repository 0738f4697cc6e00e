from __future__ import annotations

import zipfile
from datetime import date
from pathlib import Path

import pytest

from dispatcher.errors import DataError, InputError
from dispatcher.model import TimeWindow
from dispatcher.reports.gtfs_flex import (
    FlexService,
    build_gtfs_flex,
    read_gtfs_flex,
    write_gtfs_flex,
)
from dispatcher.territory import Territory

SERVICE = FlexService(
    start_date=date(2026, 12, 1),
    end_date=date(2027, 11, 30),
    service_hours=TimeWindow(7 * 3600 + 1800, 18 * 3600),
    booking_phone="03 22 00 00 00",
)


@pytest.fixture(scope="module")
def territory() -> Territory:
    return Territory.load(["coquelicot", "val-de-somme"])


def test_feed_reads_back(tmp_path: Path, territory: Territory) -> None:
    path = write_gtfs_flex(tmp_path / "feed.zip", territory, SERVICE)
    feed = read_gtfs_flex(path)
    assert sorted(feed.zone_ids) == sorted(f"zone_{s}" for s in territory.epcis)
    assert len(feed.tables["trips.txt"]) == 4  # 2 zones: every ordered pair
    assert len(feed.tables["stops.txt"]) == len(territory.stops)
    for st in feed.tables["stop_times.txt"]:
        assert (st["start_pickup_drop_off_window"], st["end_pickup_drop_off_window"]) == (
            "07:30:00",
            "18:00:00",
        )
        assert not st.get("arrival_time") and not st.get("departure_time")
    (rule,) = feed.tables["booking_rules.txt"]
    assert (
        rule["booking_type"],
        rule["prior_notice_last_day"],
        rule["prior_notice_last_time"],
    ) == ("2", "1", "17:00:00")
    assert rule["phone_number"] == "03 22 00 00 00"
    (cal,) = feed.tables["calendar.txt"]
    assert (cal["monday"], cal["saturday"], cal["sunday"], cal["start_date"]) == (
        "1",
        "1",
        "0",
        "20261201",
    )
    one = read_gtfs_flex(
        write_gtfs_flex(tmp_path / "one.zip", territory, SERVICE, zones="territory")
    )
    assert len(one.zone_ids) == 1 and len(one.tables["trips.txt"]) == 1


def _rewrite(tmp_path: Path, territory: Territory, change: dict[str, str | None]) -> Path:
    files = build_gtfs_flex(territory, SERVICE)
    for name, text in change.items():
        if text is None:
            files.pop(name)
        else:
            files[name] = text
    p = tmp_path / "bad.zip"
    with zipfile.ZipFile(p, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return p


@pytest.mark.parametrize(
    ("mutate", "where", "message"),
    [
        (lambda f: {"booking_rules.txt": None}, "bad.zip", "missing file(s) booking_rules.txt"),
        (
            lambda f: {
                "stop_times.txt": f["stop_times.txt"].replace(
                    "zone_248000499,1", "zone_nowhere,1", 1
                )
            },
            "stop_times.txt:line",
            "unknown zone 'zone_nowhere'",
        ),
        (
            lambda f: {"trips.txt": f["trips.txt"].replace("tad,service", "tad,weekends", 1)},
            "trips.txt:line 2.service_id",
            "unknown service",
        ),
        (
            lambda f: {
                "stop_times.txt": f["stop_times.txt"].replace(
                    ",2,1,veille_17h", ",0,1,veille_17h", 1
                )
            },
            "stop_times.txt:line 2.pickup_type",
            "forbidden with a window",
        ),
        (
            lambda f: {"booking_rules.txt": f["booking_rules.txt"].replace(",17:00:00,", ",,", 1)},
            "booking_rules.txt:line 2.prior_notice_last_time",
            "is required",
        ),
        (
            lambda f: {"routes.txt": f["routes.txt"].replace("route_type", "route_kind")},
            "routes.txt",
            "missing required column(s) route_type",
        ),
        (lambda f: {"locations.geojson": "{not json"}, "locations.geojson", "invalid JSON"),
    ],
)
def test_bad_feeds_are_named(
    tmp_path: Path, territory: Territory, mutate, where: str, message: str
) -> None:  # type: ignore[no-untyped-def]
    files = build_gtfs_flex(territory, SERVICE)
    path = _rewrite(tmp_path, territory, mutate(files))
    with pytest.raises(DataError) as e:
        read_gtfs_flex(path)
    assert where in e.value.where and message in e.value.message


def test_bad_service_and_missing_zip(tmp_path: Path, territory: Territory) -> None:
    with pytest.raises(InputError) as e:
        build_gtfs_flex(territory, FlexService(agency_url="example.org"))
    assert e.value.where == "service.agency_url"
    with pytest.raises(InputError) as e:
        build_gtfs_flex(territory, SERVICE, zones="communes")
    assert e.value.where == "zones"
    with pytest.raises(InputError):
        read_gtfs_flex(tmp_path / "absent.zip")
    (tmp_path / "junk.zip").write_text("not a zip")
    with pytest.raises(DataError):
        read_gtfs_flex(tmp_path / "junk.zip")
