"""Personal data on the real server (SQLite, and PostgreSQL when DISPATCHER_TEST_PG_URL is set):
no route answers a role what the table hides, the operator exports, erases and reads the access
log, and an erased rider's phone number is nowhere in the database afterwards."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.api.conftest import DAY, Api
from tests.privacy_leaks import check_no_leaks
from tests.privacy_seed import PORTAL_PHONE, RIDER_PHONE, seed

D = DAY.isoformat()
TABLES = (
    "requests",
    "service_days",
    "carpool_offers",
    "carpool_matchings",
    "jobs",
    "volunteers",
    "vehicles",
    "access_log",
)


@pytest.fixture(scope="module")
def seeded(api: Api) -> tuple[Api, dict[str, Any]]:
    def call(role: str, method: str, url: str, **kw: Any) -> Any:
        return api.clients[role].request(method, url, **kw)

    return api, {"call": call, **seed(call, DAY)}


def stored_text(api: Api) -> bytes:
    """What the database holds: the SQLite file's bytes (its write-ahead log too), or every
    row of PostgreSQL's tables as text."""
    if api.store.is_sqlite:
        path = Path(api.store.url.split("///", 1)[1])
        wal = path.with_name(path.name + "-wal")
        return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    with api.store.engine.connect() as conn:
        rows = [
            conn.execute(text(f"SELECT CAST(t AS text) FROM {t} t")).scalars().all() for t in TABLES
        ]
    return "\n".join(str(x) for r in rows for x in r).encode()


def test_no_route_answers_a_role_what_the_table_hides(seeded: tuple[Api, dict[str, Any]]) -> None:
    api, seed_out = seeded
    openapi = api.anon.get("/openapi.json").json()
    assert check_no_leaks(seed_out["call"], openapi, DAY, seed_out["jobs"]) > 50


def test_the_operator_exports_and_reads_who_read(seeded: tuple[Api, dict[str, Any]]) -> None:
    api, _ = seeded
    assert api.planner.post("/v1/privacy/export", json={"phone": RIDER_PHONE}).status_code == 403
    assert api.portal.get("/v1/privacy/access-log").status_code == 403
    api.operator.get(f"/v1/days/{D}/plan/manifest")
    r = api.operator.post("/v1/privacy/export", json={"phone": RIDER_PHONE})
    assert r.status_code == 200, r.text
    out = r.json()
    assert {x["id"] for x in out["requests"]} == {"rider-secret-a", "rider-secret-b"}
    assert "Portalrider" not in r.text
    log = api.operator.get("/v1/privacy/access-log", params={"rider_id": out["rider_id"]}).json()
    assert "plans.manifest" in {e["action"] for e in log}
    assert all(e["key_id"] for e in log if e["action"] == "plans.manifest")


def test_an_erased_rider_is_nowhere_in_the_database(seeded: tuple[Api, dict[str, Any]]) -> None:
    api, _ = seeded
    digits = RIDER_PHONE.replace(" ", "").encode()
    assert digits in stored_text(api) or RIDER_PHONE.encode() in stored_text(api)
    assert api.portal.post("/v1/privacy/erase", json={"phone": RIDER_PHONE}).status_code == 403
    r = api.operator.post("/v1/privacy/erase", json={"phone": RIDER_PHONE})
    assert r.status_code == 200, r.text
    assert r.json()["found"] and r.json()["counts"]["cancelled"] == 2, r.json()
    data = stored_text(api)
    for s in (RIDER_PHONE, "0399887766", "Secretrider", "rider-secret-a", "rider-secret-b"):
        assert s.encode() not in data, s
    assert PORTAL_PHONE.encode() in data  # nobody else was touched
    assert api.operator.get(f"/v1/days/{D}/plan/check").json()["ok"] is True
    again = api.operator.post("/v1/privacy/export", json={"phone": RIDER_PHONE}).json()
    assert again["requests"] == [] and again["access_log"][0]["action"] == "privacy.erase"
