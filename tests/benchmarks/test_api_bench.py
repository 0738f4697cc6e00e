"""The API benchmark runs end to end on a very small day: its own server (SQLite, stopped after),
then against a running server by --url, opening a fresh day each time and leaving other days
alone."""

from __future__ import annotations

import csv
import threading
import time
from pathlib import Path

import httpx
import pytest

from benchmarks.api import OwnServer, dependencies, main, percentile, run_phase

SMALL = [
    "--bookings",
    "6",
    "--measure",
    "4",
    "--reads",
    "3",
    "--vehicles",
    "2",
    "--wheelchair-vehicles",
    "1",
]


def test_percentile_nearest_rank() -> None:
    xs = [float(k) for k in range(1, 101)]
    assert percentile(xs, 0.50) == 50.0
    assert percentile(xs, 0.95) == 95.0
    assert percentile(xs, 0.99) == 99.0
    assert percentile(xs, 1.0) == 100.0
    assert percentile([7.0], 0.95) == 7.0
    assert percentile([], 0.5) != percentile([], 0.5)  # NaN


def test_a_return_is_sent_after_its_outbound_is_answered() -> None:
    bodies = [
        {"id": "a"},
        {"id": "b"},
        {"id": "a-back", "return_of": "a"},
        {"id": "c", "return_of": "elsewhere"},
    ]
    assert dependencies(bodies) == [None, None, 0, None]
    log: list[str] = []
    lock = threading.Lock()

    def call(name: str, delay: float) -> httpx.Response:
        time.sleep(delay)
        with lock:
            log.append(name)
        return httpx.Response(201 if name != "c" else 409)

    calls = [
        lambda: call("a", 0.3),
        lambda: call("b", 0.0),
        lambda: call("a-back", 0.0),
        lambda: call("c", 0.0),
    ]
    phase = run_phase("t", calls, concurrency=4, timeout_s=30, after=dependencies(bodies))
    assert log.index("a-back") > log.index("a")
    assert phase.done == 4 and phase.accepted == 3 and phase.refused == 1 and phase.errors == 0
    assert phase.only(409, "refused").done == 1


def test_own_server_small_day(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "api.csv"
    assert main([*SMALL, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "stored plan check: OK" in text
    rows = {r["phase"]: r for r in csv.DictReader(out.open())}
    measured = next(r for name, r in rows.items() if name.startswith("booking ("))
    assert int(measured["requests"]) == 4
    assert int(measured["errors"]) == 0
    assert int(measured["accepted"]) + int(measured["refused"]) == 4
    assert (
        int(measured["accepted"]) >= 1
    )  # a small day on two vehicles has room: not all refused by a rule
    assert int(rows["of which 201 promises"]["requests"]) == int(measured["accepted"])
    assert float(measured["p50_ms"]) <= float(measured["p95_ms"]) <= float(measured["max_ms"])
    fills = [r for name, r in rows.items() if name.startswith("fill")]
    assert sum(int(r["requests"]) for r in fills) == 6
    for name in ("plan read (JSON)", "plan read (GeoJSON)"):
        assert int(rows[name]["requests"]) == 3 and int(rows[name]["ok_2xx"]) == 3
        assert float(rows[name]["per_s"]) > 0


def test_against_a_running_server_by_url(capsys: pytest.CaptureFixture[str]) -> None:
    with OwnServer() as server:
        key = server.create_key("operator")
        server.start()
        assert main(["--url", server.url, "--key", key, *SMALL, "--reads", "1"]) == 0
        assert (
            main(["--url", server.url, "--key", key, *SMALL, "--reads", "1", "--measure", "1"]) == 0
        )
        days = httpx.get(server.url + "/v1/days", headers={"X-API-Key": key}).json()
        assert len(days) == 2  # a fresh day per run: the first day was not booked again
        assert sorted(
            d["requests"].get("accepted", 0) + d["requests"].get("refused", 0) for d in days
        ) == [7, 10]
    assert server.proc is not None and server.proc.poll() is not None  # stopped
    assert not server.tmp.exists()
    assert "stored plan check: OK" in capsys.readouterr().out


def test_url_must_be_loopback() -> None:
    with pytest.raises(SystemExit):
        main(["--url", "http://192.0.2.1:8000", "--key", "x"])
