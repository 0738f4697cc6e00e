"""Personal data in the application layer, without HTTP: the table and its document, the
lenses (a driver's, to come), pseudonyms and rider ids, the retention period's purge of a stored
day, a person's erasure down to the bytes of the SQLite file, exports and planners' dumps, and
the access log that cannot be rewritten."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

from dispatcher.graph import RoadNetwork
from dispatcher.io.plan import plan_from_dict
from dispatcher.io.problem import problem_from_dict
from dispatcher.service.app import Service
from dispatcher.service.context import Context
from dispatcher.service.privacy import (
    COMMAND_LINE,
    TABLE,
    Access,
    Communes,
    Kind,
    Pseudonyms,
    Subject,
    View,
    Viewer,
    hidden,
    lens_for,
    markdown_table,
    redact,
)
from dispatcher.service.settings import Settings
from dispatcher.solver.checker import check_plan
from dispatcher.store.models import (
    CarpoolMatchingRow,
    CarpoolOfferRow,
    DayPiece,
    Job,
    RequestRow,
    ServiceDay,
)
from dispatcher.territory import Territory
from tests.api.test_routes import Client
from tests.privacy_seed import (
    CARPOOL_PHONE,
    PORTAL_SECRETS,
    RIDER_PHONE,
    SECRETS,
    VOLUNTEER_PHONE,
    seed,
)

ROOT = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Europe/Paris")
DAY = date(2030, 1, 8)


@dataclass
class Clock:
    """A clock the test moves."""

    at: datetime

    def now(self) -> datetime:
        return self.at


@pytest.fixture(scope="module")
def places() -> tuple[Territory, RoadNetwork]:
    return Territory.load(None), RoadNetwork.default()


@pytest.fixture()
def world(
    tmp_path: Path, places: tuple[Territory, RoadNetwork]
) -> Iterator[tuple[Service, Client, Clock, Path]]:
    """A service with a seeded day (``DAY``), its clock the morning before."""
    db = tmp_path / "d.db"
    clock = Clock(datetime(2030, 1, 7, 9, 0, tzinfo=TZ))
    settings = Settings(
        database_url=f"sqlite:///{db}", solver_processes=False, booking_time_limit_s=0
    )
    service = Service(Context(settings, clock=clock, territory=places[0], network=places[1]))
    try:
        client = Client(service)
        seed(client, DAY)
        yield service, client, clock, db
    finally:
        service.close()


def stored_day(service: Service, day: date) -> str:
    """Every stored copy of the day's data, as one text: request rows, the day's plan and
    problem, carpool offers and matching, jobs."""
    with service.store.read() as s:
        parts: list[Any] = []
        for r in s.execute(select(RequestRow).where(RequestRow.day == day)).scalars():
            parts += [r.request_id, r.data, r.promise, r.refusal]
        row = s.get(ServiceDay, day)
        assert row is not None
        pieces = s.execute(select(DayPiece.key, DayPiece.data).where(DayPiece.day == day))
        parts += [[list(p) for p in pieces], row.note]
        for o in s.execute(select(CarpoolOfferRow).where(CarpoolOfferRow.day == day)).scalars():
            parts += [o.driver_id, o.data]
        m = s.get(CarpoolMatchingRow, day)
        parts += [None if m is None else m.result]
        for j in s.execute(select(Job).where(Job.day == day)).scalars():
            parts += [j.params, j.result, j.error]
    return json.dumps(parts, ensure_ascii=False)


def all_secrets() -> list[str]:
    return [v for vs in (*SECRETS.values(), *PORTAL_SECRETS.values()) for v in vs]


# ---- the table ----------------------------------------------------------------------------


def test_the_document_shows_the_table_of_the_code() -> None:
    doc = (ROOT / "docs" / "privacy.md").read_text(encoding="utf-8")
    assert markdown_table() in doc, "docs/privacy.md: paste `dispatcher privacy table` again"


def test_the_table_says_what_the_issue_asks() -> None:
    rules = {(r.subject, r.kind): r.access for r in TABLE}
    assert all(a["operator"] is Access.ALL for a in rules.values())
    assert all(a["planner"] is Access.NONE for (s, k), a in rules.items() if k != Kind.NEEDS)
    assert rules[(Subject.RIDER, Kind.NEEDS)]["planner"] is Access.ALL
    assert rules[(Subject.RIDER, Kind.IDENTITY)]["portal"] is Access.OWN
    assert rules[(Subject.RIDER, Kind.IDENTITY)]["driver"] is Access.OWN
    assert hidden(Subject.RIDER, "someone new", own=True) == {
        Kind.IDENTITY,
        Kind.ID,
        Kind.PLACES,
        Kind.FARE,
    }
    assert rules[(Subject.RIDER, Kind.FARE)]["portal"] is Access.OWN


def test_pseudonyms_are_stable_for_a_key_and_useless_across_keys() -> None:
    a, b = Pseudonyms(b"k" * 32), Pseudonyms(b"l" * 32)
    assert a.of("request", "r1", "2030-01-08") == a.of("request", "r1", "2030-01-08")
    assert a.of("request", "r1", "2030-01-08") != a.of("request", "r1", "2030-01-09")
    assert a.of("request", "r1") != b.of("request", "r1")
    assert (
        a.rider_id("03 22 00 00 00")
        == a.rider_id("+33 3 22 00 00 00")
        == a.rider_id("0033322000000")
    )
    assert a.rider_id("") is None and str(a.rider_id("0322000000")).startswith("rdr-")


def test_a_drivers_lens_shows_its_own_riders_only(
    world: tuple[Service, Client, Clock, Path],
) -> None:
    """The driver role has no key yet; its row of the table already holds in the lens."""
    service, client, _, _ = world
    manifest = client("operator", "GET", f"/v1/days/{DAY.isoformat()}/plan/manifest").text
    rows = list(csv.DictReader(io.StringIO(manifest)))
    vehicle = rows[0]["vehicle_id"]
    own = {r["request_id"] for r in rows if r["vehicle_id"] == vehicle}
    lens = lens_for(
        Viewer("driver", vehicle_id=vehicle),
        Pseudonyms.fresh(),
        Communes(service.ctx.territory),
        DAY.isoformat(),
        own_requests=own,
    )
    seen = redact(View.MANIFEST_ROW, rows, lens)
    for before, after in zip(rows, seen, strict=True):
        if before["request_id"] in own:
            assert after == {**before, "vehicle_id": after["vehicle_id"]}
        else:
            assert after["request_id"] != before["request_id"] and not after["phone"]


# ---- the retention period -----------------------------------------------------------------


def test_a_day_past_its_retention_is_purged_and_its_kpis_stay(
    world: tuple[Service, Client, Clock, Path],
) -> None:
    service, client, clock, _ = world
    d = DAY.isoformat()
    before = stored_day(service, DAY)
    assert any(s in before for s in all_secrets())
    plan_before = service.store.get_plan_json(DAY)
    jobs_before = {
        j["id"]: (j["result"] or {}).get("kpis")
        for j in (service.store.get_job(i) for i in _jobs(service))
    }
    counts_before = service.store.get_day(DAY)["requests"]

    clock.at = datetime(2030, 4, 8, 6, 0, tzinfo=TZ)  # 90 days after: kept one more day
    assert service.personal_data.purge()["days"] == []
    clock.at = datetime(2030, 4, 9, 6, 0, tzinfo=TZ)
    out = service.personal_data.purge()
    assert out["days"] == [d] and out["counts"]["requests"] == 4, out

    after = stored_day(service, DAY)
    leaks = [s for s in all_secrets() if s in after]
    assert not leaks, leaks
    plan_after = service.store.get_plan_json(DAY)
    assert plan_after is not None and plan_before is not None
    assert plan_after["kpis"] == plan_before["kpis"]
    assert {
        j["id"]: (j["result"] or {}).get("kpis")
        for j in (service.store.get_job(i) for i in _jobs(service))
    } == jobs_before
    assert service.store.get_day(DAY)["requests"] == counts_before
    got = service.store.get_plan(DAY)
    assert got is not None
    problem = problem_from_dict(got[1])
    assert check_plan(problem, plan_from_dict(got[0], problem)).ok  # still a valid plan
    assert client("planner", "GET", f"/v1/days/{d}/plan").status_code == 200
    assert service.personal_data.purge()["days"] == []  # once only
    log = service.privacy.access_log()
    assert log[0]["action"] == "privacy.purge" and log[0]["role"] == "system"


def _jobs(service: Service) -> list[str]:
    with service.store.read() as s:
        return list(s.execute(select(Job.id).where(Job.day == DAY)).scalars())


# ---- a person's rights --------------------------------------------------------------------


def file_bytes(db: Path) -> bytes:
    wal = db.with_name(db.name + "-wal")
    return db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def test_erasure_leaves_no_trace_of_the_person_in_the_database_file(
    world: tuple[Service, Client, Clock, Path],
) -> None:
    service, client, clock, db = world
    d = DAY.isoformat()
    assert b"Secretrider" in file_bytes(db)
    client("operator", "GET", f"/v1/days/{d}/plan/manifest")  # a read, logged with the rider id
    clock.at = datetime(2030, 1, 20, 9, 0, tzinfo=TZ)  # the day is past: its trips stay
    plan_before = service.store.get_plan_json(DAY)
    out = service.personal_data.erase(COMMAND_LINE, phone="+33 3 99 88 77 66")
    assert out["found"] and out["counts"]["requests"] == 2 and "cancelled" not in out["counts"]
    data = file_bytes(db)
    for s in ("99 88 77 66", "0399887766", "Secretrider", "rider-secret-a", "2.61537"):
        assert s.encode() not in data, s
    assert b"Portalrider" in data  # the others are as they were
    plan_after = service.store.get_plan_json(DAY)
    assert plan_after is not None and plan_before is not None
    assert plan_after["kpis"] == plan_before["kpis"]  # pseudonymised trips: statistics stay
    got = service.store.get_plan(DAY)
    assert got is not None
    problem = problem_from_dict(got[1])
    assert check_plan(problem, plan_from_dict(got[0], problem)).ok
    gone = service.personal_data.export(COMMAND_LINE, rider_id=out["rider_id"])
    assert gone["requests"] == [] and [e["action"] for e in gone["access_log"]][:1] == [
        "privacy.erase"
    ]
    # the volunteer and the carpool driver, by their phone numbers
    for phone, name in ((VOLUNTEER_PHONE, b"Volontaire Secret"), (CARPOOL_PHONE, b"Covoitureur")):
        assert service.personal_data.erase(COMMAND_LINE, phone=phone)["found"]
        data = file_bytes(db)
        assert name not in data and phone.encode() not in data
    data = file_bytes(db)
    assert b"vol-secretname" not in data and b"car-secretname" not in data
    with service.store.read() as s:
        assert s.execute(text("SELECT count(*) FROM volunteers")).scalar() == 0


def test_erasing_a_rider_with_trips_to_come_cancels_them(
    world: tuple[Service, Client, Clock, Path],
) -> None:
    service, client, _, db = world
    out = service.personal_data.erase(COMMAND_LINE, phone=RIDER_PHONE)
    assert out["counts"]["cancelled"] == 2, out
    statuses = {r["status"] for r in service.store.list_requests(DAY) if r["id"].startswith("rq-")}
    assert statuses == {"cancelled"}
    plan = client("operator", "GET", f"/v1/days/{DAY.isoformat()}/plan").json()
    served = {v["request_id"] for rt in plan["routes"] for v in rt["visits"]}
    assert not any(x.startswith("rq-") or x.startswith("rider-secret") for x in served)
    assert client("operator", "GET", f"/v1/days/{DAY.isoformat()}/plan/check").json()["ok"]
    assert b"Secretrider" not in file_bytes(db)


def test_an_export_holds_the_persons_records_and_nobody_elses(
    world: tuple[Service, Client, Clock, Path],
) -> None:
    service, client, _, _ = world
    client("operator", "GET", f"/v1/days/{DAY.isoformat()}/requests")
    out = service.personal_data.export(COMMAND_LINE, phone=RIDER_PHONE)
    text_out = json.dumps(out, ensure_ascii=False)
    assert {r["id"] for r in out["requests"]} == {"rider-secret-a", "rider-secret-b"}
    assert "Mme Secretrider" in text_out
    for other in ("Portalrider", "booking-secret-p", "Covoitureur Secret", "car-secretname"):
        assert other not in text_out, other
    assert any(m["riders"] for m in out["carpool_matches"])  # the carpool the rider was matched to
    assert "requests.list" in {e["action"] for e in out["access_log"]}
    assert service.personal_data.export(COMMAND_LINE, phone="0100000000")["requests"] == []


def test_a_planners_dump_is_pseudonymised_with_a_key_of_its_own(
    world: tuple[Service, Client, Clock, Path],
) -> None:
    service, _, _, _ = world
    a = service.personal_data.dump(DAY, COMMAND_LINE)
    b = service.personal_data.dump(DAY, COMMAND_LINE)
    text_a = json.dumps(a, ensure_ascii=False)
    leaks = [s for s in all_secrets() if s in text_a]
    assert not leaks, leaks
    ids_a = {r["id"] for r in a["requests.json"]["requests"]}
    ids_b = {r["id"] for r in b["requests.json"]["requests"]}
    assert len(ids_a) == 4 and not ids_a & ids_b  # useless across dumps
    visits = {v["request_id"] for rt in a["plan.json"]["routes"] for v in rt["visits"]}
    assert visits <= ids_a  # stable within one
    problem = problem_from_dict(a["problem.json"])
    assert check_plan(problem, plan_from_dict(a["plan.json"], problem)).ok


def test_the_access_log_is_append_only(world: tuple[Service, Client, Clock, Path]) -> None:
    service, client, _, _ = world
    client("operator", "GET", f"/v1/days/{DAY.isoformat()}/requests")
    entries = service.privacy.access_log()
    assert entries and entries[0]["action"] == "requests.list" and entries[0]["rider_ids"]
    assert client("planner", "GET", f"/v1/days/{DAY.isoformat()}/plan").status_code == 200
    assert service.privacy.access_log()[0]["id"] == entries[0]["id"]  # a planner reads no one
    for sql in ("UPDATE access_log SET role = 'x'", "DELETE FROM access_log"):
        with pytest.raises(Exception, match="append-only"), service.store.write() as s:
            s.execute(text(sql))
