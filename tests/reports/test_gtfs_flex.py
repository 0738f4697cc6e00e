from __future__ import annotations

import zipfile
from datetime import date
from pathlib import Path

import pytest

from dispatcher.errors import DataError, InputError
from dispatcher.reports.gtfs_flex import build_gtfs_flex, read_gtfs_flex, write_gtfs_flex
from dispatcher.service_config import DEFAULT_SERVICE, load_service, service_from_toml
from dispatcher.territory import Territory

TEXT = DEFAULT_SERVICE.read_text(encoding="utf-8").replace(
    'monday = "07:00-19:00"', 'monday = "07:30-18:00"'
)
SERVICE = service_from_toml(TEXT.replace('phone = "', 'phone = "03 22 00 00 00" # "'), "svc.toml")
DATES = {"start": date(2026, 12, 1), "end": date(2027, 11, 30)}


@pytest.fixture(scope="module")
def territory() -> Territory:
    return Territory.load(["coquelicot", "val-de-somme"])


def test_feed_reads_back(tmp_path: Path, territory: Territory) -> None:
    path = write_gtfs_flex(tmp_path / "feed.zip", territory, SERVICE, **DATES)
    feed = read_gtfs_flex(path)
    assert sorted(feed.zone_ids) == sorted(f"zone_{s}" for s in territory.epcis)
    # 2 zones (every ordered pair) x 3 calendars (Monday, Tuesday-Friday, Saturday: own hours)
    assert len(feed.tables["trips.txt"]) == 4 * 3
    assert feed.tables["stops.txt"] == []  # zones only: no stop is used, none is listed
    windows = {
        (st["start_pickup_drop_off_window"], st["end_pickup_drop_off_window"])
        for st in feed.tables["stop_times.txt"]
    }
    assert windows == {("07:30:00", "18:00:00"), ("07:00:00", "19:00:00"), ("08:00:00", "18:00:00")}
    assert not any(st.get("arrival_time") for st in feed.tables["stop_times.txt"])
    (rule,) = feed.tables["booking_rules.txt"]
    assert (
        rule["booking_type"],
        rule["prior_notice_last_day"],
        rule["prior_notice_last_time"],
        rule["prior_notice_start_day"],
    ) == ("2", "1", "17:00:00", "14")
    assert rule["phone_number"] == "03 22 00 00 00" and "03 22 00 00 00" in rule["message"]
    cals = {c["service_id"]: c for c in feed.tables["calendar.txt"]}
    assert [
        (c["monday"], c["tuesday"], c["friday"], c["saturday"], c["sunday"]) for c in cals.values()
    ] == [("1", "0", "0", "0", "0"), ("0", "1", "1", "0", "0"), ("0", "0", "0", "1", "0")]
    closed = {(r["date"], r["exception_type"]) for r in feed.tables["calendar_dates.txt"]}
    # Christmas, the closures of the file, Easter Monday and Whit Monday 2027 (computed)
    for d in ("20261225", "20261224", "20261231", "20270329", "20270517", "20270506"):
        assert (d, "2") in closed
    (agency,) = feed.tables["agency.txt"]
    (info,) = feed.tables["feed_info.txt"]
    for value in (agency["agency_url"], info["feed_publisher_url"], info["feed_contact_email"]):
        assert value and "example" not in value
    one = read_gtfs_flex(
        write_gtfs_flex(tmp_path / "one.zip", territory, SERVICE, zones="territory", **DATES)
    )
    assert len(one.zone_ids) == 1 and len(one.tables["trips.txt"]) == 3


def _rewrite(tmp_path: Path, territory: Territory, change: dict[str, str | None]) -> Path:
    files = build_gtfs_flex(territory, SERVICE, **DATES)
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
            lambda f: {"trips.txt": f["trips.txt"].replace("tad,tad_", "tad,weekends_", 1)},
            "trips.txt:line 2.service_id",
            "unknown service",
        ),
        (
            lambda f: {
                "stop_times.txt": f["stop_times.txt"].replace(
                    ",2,1,reservation", ",0,1,reservation", 1
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
        (
            lambda f: {"stops.txt": f["stops.txt"] + "s1,Albert,50.0,2.6,0\r\n"},
            "stops.txt:line 2",
            "used by no stop_time",
        ),
        (
            lambda f: {"calendar_dates.txt": f["calendar_dates.txt"].replace(",2\r", ",3\r", 1)},
            "calendar_dates.txt:line 2.exception_type",
            "must be 1 or 2",
        ),
    ],
)
def test_bad_feeds_are_named(
    tmp_path: Path, territory: Territory, mutate, where: str, message: str
) -> None:  # type: ignore[no-untyped-def]
    files = build_gtfs_flex(territory, SERVICE, **DATES)
    path = _rewrite(tmp_path, territory, mutate(files))
    with pytest.raises(DataError) as e:
        read_gtfs_flex(path)
    assert where in e.value.where and message in e.value.message


def test_bad_service_and_missing_zip(tmp_path: Path, territory: Territory) -> None:
    with pytest.raises(InputError) as e:
        service_from_toml(TEXT.replace('url = "https://', 'url = "', 1), "svc.toml")
    assert e.value.where.startswith("svc.toml, line ") and e.value.where.endswith("agency.url")
    with pytest.raises(InputError) as e:
        build_gtfs_flex(territory, SERVICE, zones="communes")
    assert e.value.where == "zones"
    with pytest.raises(InputError):
        read_gtfs_flex(tmp_path / "absent.zip")
    (tmp_path / "junk.zip").write_text("not a zip")
    with pytest.raises(DataError):
        read_gtfs_flex(tmp_path / "junk.zip")


def _canonical_notices(path: Path, out: Path) -> list[tuple[str, str, int]]:
    """The notices of gtfs-validator (the canonical rule set), run as its command line."""
    import json
    import shutil
    import subprocess
    import sys

    exe = shutil.which("gtfs-validator") or str(Path(sys.executable).with_name("gtfs-validator"))
    subprocess.run([exe, "-i", str(path), "-o", str(out)], check=True, capture_output=True)
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    return [(n["code"], n["severity"], n["totalNotices"]) for n in report["notices"]]


HAUTE_SOMME = Path(__file__).resolve().parents[2] / "examples" / "haute-somme" / "service.toml"
SLOW = pytest.mark.slow  # gtfs-validator takes about 45 s of CPU per feed


@pytest.mark.parametrize(
    ("service", "keys", "canonical"),
    [
        (None, None, True),
        pytest.param(None, ["coquelicot", "val-de-somme", "haute-somme"], True, marks=SLOW),
        (HAUTE_SOMME, None, False),
        pytest.param(HAUTE_SOMME, None, True, marks=SLOW),
    ],
)
def test_validators_find_no_error_and_no_warning(
    tmp_path: Path, service: Path | None, keys: list[str] | None, canonical: bool
) -> None:
    """The feed of a service (from today, with its fares, as it is published), by two
    validators: gtfs-guru always, gtfs-validator (slower) on the default service's feed and in
    the slow tests."""
    gtfs_guru = pytest.importorskip("gtfs_guru")
    svc = load_service(service or DEFAULT_SERVICE)
    terr = Territory.load(keys or svc.territory)
    # as `report gtfs-flex` publishes it: with the service's own fares (GTFS-Fares v2)
    path = write_gtfs_flex(tmp_path / "feed.zip", terr, svc, fares=svc.fares)
    result = gtfs_guru.validate(str(path))
    notices = [(n.code, n.severity) for n in result.notices if n.severity != "INFO"]
    assert (result.error_count, result.warning_count, notices) == (0, 0, [])
    if canonical:
        pytest.importorskip("gtfs_validator")
        found = _canonical_notices(path, tmp_path / "report")
        assert [n for n in found if n[1] in ("ERROR", "WARNING")] == []


@pytest.mark.parametrize("canonical", [False, pytest.param(True, marks=SLOW)])
def test_validators_see_a_placeholder_feed(tmp_path: Path, canonical: bool) -> None:
    """The validators do fail a bad feed (so their silence above means something): a stop
    listed that no trip uses, a feed without contact."""
    gtfs_guru = pytest.importorskip("gtfs_guru")
    files = build_gtfs_flex(Territory.load(["coquelicot"]), SERVICE)
    files["stops.txt"] += "s1,Albert,50.0,2.6,0\r\n"
    info = files["feed_info.txt"].replace("contact@paysducoquelicot.com", "")
    files["feed_info.txt"] = info.replace(",https://www.paysducoquelicot.com/\r", ",\r")
    p = tmp_path / "bad.zip"
    with zipfile.ZipFile(p, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    guru = {n.code for n in gtfs_guru.validate(str(p)).notices}
    assert {"stop_without_stop_time", "missing_feed_contact_email_and_url"} <= guru
    if canonical:
        pytest.importorskip("gtfs_validator")
        codes = {n[0] for n in _canonical_notices(p, tmp_path / "report")}
        assert {"stop_without_stop_time", "missing_feed_contact_email_and_url"} <= codes
