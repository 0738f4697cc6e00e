"""The service configuration: the embedded default, the French calendar, errors that name the
file, line and key, and every command refusing a day without service, saying why."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from dispatcher.errors import InputError, NoServiceError
from dispatcher.fares import load_fare_rules
from dispatcher.service_config import (
    DEFAULT_SERVICE,
    easter,
    french_public_holidays,
    load_service,
    service_from_toml,
)
from tests.test_cli import EXAMPLES, assert_one_line_error, run

DEFAULT_FARES = Path(__file__).resolve().parents[1] / "dispatcher" / "fares" / "coquelicot.toml"

TEXT = DEFAULT_SERVICE.read_text(encoding="utf-8")


def test_the_default_is_the_pays_du_coquelicot() -> None:
    svc = load_service(DEFAULT_SERVICE)
    assert svc.territory == ("coquelicot",) and svc.timezone == "Europe/Paris"
    assert svc.agency.url.startswith("https://") and svc.agency.phone and svc.agency.email
    assert sorted(svc.hours) == [0, 1, 2, 3, 4, 5]  # Monday to Saturday, no Sunday
    assert (svc.cutoff_day_before_s, svc.same_day_notice_s, svc.max_days_ahead) == (
        17 * 3600,
        None,
        14,
    )
    assert svc.promise_width_s == 900 and svc.fares == load_fare_rules()  # the embedded fares
    rules = svc.booking_rules()
    assert rules.weekdays == frozenset(range(6)) and rules.max_days_ahead == 14


def test_easter_and_the_public_holidays_of_france() -> None:
    known = {2024: date(2024, 3, 31), 2025: date(2025, 4, 20), 2026: date(2026, 4, 5)}
    known |= {2027: date(2027, 3, 28), 2038: date(2038, 4, 25), 2285: date(2285, 3, 22)}
    for year, day in known.items():
        assert easter(year) == day
    h = french_public_holidays(2025)
    assert len(h) == 11
    assert h[date(2025, 4, 21)] == "lundi de Pâques"
    assert h[date(2025, 5, 29)] == "Ascension"
    assert h[date(2025, 6, 9)] == "lundi de Pentecôte"
    assert h[date(2025, 7, 14)] == "fête nationale"


@pytest.mark.parametrize(
    ("day", "reason", "words"),
    [
        (date(2026, 12, 6), "weekday", "Sundays"),
        (date(2026, 12, 25), "public_holiday", "Noël"),
        (date(2027, 5, 6), "public_holiday", "Ascension"),
        (date(2026, 12, 24), "closure", "veille de Noël"),
    ],
)
def test_a_day_without_service_says_why(day: date, reason: str, words: str) -> None:
    svc = load_service(DEFAULT_SERVICE)
    assert svc.closed_reason(day) is not None and svc.closed_reason(day)[0] == reason
    with pytest.raises(NoServiceError) as e:
        svc.check_day(day, "--day")
    assert (e.value.day, e.value.reason, e.value.where) == (day.isoformat(), reason, "--day")
    assert day.isoformat() in e.value.message and words in e.value.message
    assert svc.check_day(date(2026, 12, 5)).start_s == 8 * 3600  # a Saturday: 08:00-18:00


@pytest.mark.parametrize(
    ("old", "new", "where", "message"),
    [
        ('monday = "07:00-19:00"', 'monday = "7h-19h"', "hours.monday", "HH:MM-HH:MM"),
        ("max_days_ahead = 14", "max_days = 14", "booking.max_days", "unknown key"),
        ('territory = ["coquelicot"]', 'territory = ["nowhere"]', "service.territory", "nowhere"),
        ('timezone = "Europe/Paris"', 'timezone = "Mars/Olympus"', "service.timezone", "unknown"),
        ('phone = "+33', 'phone = "call us" # "', "agency.phone", "phone number"),
        ('"2026-12-24: veille', '"2026-13-24: veille', "calendar.closures[0]", "not a date"),
        ("[fares]", "[fare]", "[fare]", "unknown table"),
    ],
)
def test_errors_name_the_file_the_line_and_the_key(
    old: str, new: str, where: str, message: str
) -> None:
    assert old in TEXT
    with pytest.raises(InputError) as e:
        service_from_toml(TEXT.replace(old, new, 1), "mine.toml")
    assert e.value.where.startswith("mine.toml, line ") and where in e.value.where, e.value.where
    assert message in e.value.message
    key_line = next(
        n
        for n, line in enumerate(TEXT.replace(old, new, 1).splitlines(), start=1)
        if new.split("=")[0].strip() in line and not line.startswith("#")
    )
    if not where.endswith("]"):  # a key (not a list item): its own line, as an editor shows it
        assert f"line {key_line}," in e.value.where


HAUTE_SOMME = EXAMPLES / "haute-somme" / "service.toml"


def test_a_territorys_own_fares_are_its_service_configurations() -> None:
    """The [fares] table is the fare rules: written in it (the Haute Somme's), or a file it
    names beside it; an error in them names the service file, the line and the key."""
    svc = load_service(HAUTE_SOMME)
    assert svc.fares.zoning.inside_cents == 150 and svc.fares.zoning.between_cents == 250
    assert set(svc.fares.products) == {"single", "card10"} and svc.fares.source == str(HAUTE_SOMME)
    assert svc.fares != load_fare_rules()


def test_the_fares_table_names_a_file_beside_it(tmp_path: Path) -> None:
    text = DEFAULT_FARES.read_text("utf-8").replace("inside_cents = 200", "inside_cents = 170")
    (tmp_path / "tarifs.toml").write_text(text, "utf-8")
    mine = tmp_path / "service.toml"
    mine.write_text(TEXT.replace("[fares]", '[fares]\nfile = "tarifs.toml"'), "utf-8")
    svc = load_service(mine)
    assert svc.fares.zoning.inside_cents == 170 and svc.fares.source == str(
        tmp_path / "tarifs.toml"
    )
    with pytest.raises(InputError) as e:
        service_from_toml(TEXT.replace("[fares]", '[fares]\nfile = "none.toml"'), str(mine))
    assert "no such fare file" in e.value.message and e.value.where.endswith("none.toml")
    both = TEXT.replace("[fares]", '[fares]\nfile = "tarifs.toml"\nname = "x"')
    with pytest.raises(InputError) as e:
        service_from_toml(both, "mine.toml")
    assert "not both" in e.value.message and e.value.where.startswith("mine.toml, line ")


def test_an_error_in_the_fares_names_the_service_file_and_line() -> None:
    text = HAUTE_SOMME.read_text("utf-8")
    bad = text.replace("inside_cents = 150", "inside_cents = -1")
    with pytest.raises(InputError) as e:
        service_from_toml(bad, "hs.toml")
    line = next(n for n, ln in enumerate(bad.splitlines(), 1) if "inside_cents = -1" in ln)
    assert (
        e.value.where == f"hs.toml: line {line}" and "fares.zones.inside_cents" in e.value.message
    )


def test_the_old_fares_variable_is_refused_not_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCHER_FARES", "/tmp/fares.toml")
    with pytest.raises(InputError) as e:
        load_service()
    assert e.value.where == "$DISPATCHER_FARES" and "[fares]" in e.value.message


# --------------------------------------------------------------------------------------------
# Every command reads it
# --------------------------------------------------------------------------------------------


def _sunday_service(tmp_path: Path) -> Path:
    p = tmp_path / "sunday.toml"
    p.write_text(TEXT.replace('saturday = "08:00-18:00"', 'sunday = "09:00-12:00"'), "utf-8")
    return p


def test_plan_refuses_a_day_without_service_in_one_line(tmp_path: Path) -> None:
    base = (
        "plan",
        str(EXAMPLES / "requests.csv"),
        "--fleet",
        str(EXAMPLES / "fleet.csv"),
        "--out",
        str(tmp_path / "plan.json"),
    )
    assert_one_line_error(run(*base, "--day", "2026-12-06"), 2, "--day", "2026-12-06", "Sunday")
    assert_one_line_error(run(*base, "--day", "2027-03-29"), 2, "lundi de Pâques")
    # a Saturday is not served in the Sunday-only file given with --service
    svc = _sunday_service(tmp_path)
    p = run(*base, "--day", "2026-12-05", "--service", str(svc))
    assert_one_line_error(p, 2, "2026-12-05", "sunday.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text(TEXT.replace("[hours]", "[hour]"), "utf-8")
    assert_one_line_error(run(*base, "--day", "2026-12-01", "--service", str(bad)), 2, "bad.toml")


def test_plan_uses_the_service_hours_of_the_day(tmp_path: Path) -> None:
    """A pickup at 07:15 fits Tuesday (07:00-19:00) but not the Saturday hours (08:00-18:00)."""
    reqs = tmp_path / "r.csv"
    reqs.write_text(
        "id,pickup,dropoff,seats,pickup_from,pickup_to\nr1,Méaulte,Albert,1,07:15,07:30\n",
        "utf-8",
    )
    out = {}
    for day in ("2026-12-01", "2026-12-05"):
        p = run(
            "plan",
            str(reqs),
            "--fleet",
            str(EXAMPLES / "fleet.csv"),
            "--day",
            day,
            "--time-limit",
            "1",
            "--out",
            str(tmp_path / f"{day}.json"),
        )
        assert p.returncode == 0, p.stderr
        problem = json.loads((tmp_path / f"{day}.problem.json").read_text())
        out[day] = (json.loads((tmp_path / f"{day}.json").read_text()), problem)
    assert not out["2026-12-01"][0]["rejections"]
    assert out["2026-12-01"][1]["rules"]["service_hours"]["start"].startswith("2026-12-01T07:00")
    assert out["2026-12-05"][1]["rules"]["service_hours"]["start"].startswith("2026-12-05T08:00")
    (refusal,) = out["2026-12-05"][0]["rejections"]
    assert refusal["reason"] == "outside_service_hours"


def test_demo_scenario_and_feed_refuse_or_follow_the_calendar(tmp_path: Path) -> None:
    p = run("demo", "--day", "2026-12-25", "--out", str(tmp_path / "demo"))
    assert_one_line_error(p, 2, "2026-12-25", "Noël")
    scenario = tmp_path / "s.toml"
    text = (EXAMPLES / "scenarios" / "coquelicot.toml").read_text(encoding="utf-8")
    scenario.write_text(text.replace("day = 2026-12-01", "day = 2026-12-06"), "utf-8")
    assert_one_line_error(run("scenario", "run", str(scenario)), 2, "s.toml", "Sunday")
    # the feed: the Sunday-only service file, through DISPATCHER_SERVICE
    import os
    import subprocess
    import sys
    import zipfile

    env = dict(os.environ, DISPATCHER_SERVICE=str(_sunday_service(tmp_path)), NO_COLOR="1")
    feed = tmp_path / "feed.zip"
    args = ["report", "gtfs-flex", "--out", str(feed), "--start", "2026-12-01"]
    done = subprocess.run(
        [sys.executable, "-m", "dispatcher.cli", *args], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(feed) as z:
        calendar = z.read("calendar.txt").decode()
        assert "09:00:00,12:00:00" in z.read("stop_times.txt").decode()
    sunday_only = [ln for ln in calendar.splitlines()[1:] if ln.split(",")[7] == "1"]
    assert sunday_only and all(ln.split(",")[6] == "0" for ln in calendar.splitlines()[1:])


def test_the_server_prices_with_its_service_configurations_fares(tmp_path: Path) -> None:
    """The API's fare rules are the service configuration's: a server of the Haute Somme
    prices a trip inside it 1,50 €, the default one 2,00 €."""
    from dispatcher.service.context import Context
    from dispatcher.service.settings import Settings

    def ctx(service: Path) -> Context:
        db = f"sqlite:///{tmp_path / service.stem}.db"
        return Context(Settings(service=service, database_url=db, state_dir=tmp_path))

    assert ctx(HAUTE_SOMME).fares.zoning.inside_cents == 150
    assert ctx(DEFAULT_SERVICE).fares.zoning.inside_cents == 200
