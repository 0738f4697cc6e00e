"""A real uvicorn server on loopback, started as a subprocess, with SQLite (always) and
PostgreSQL (when DISPATCHER_TEST_PG_URL is set, e.g. by .ci/postgres.sh)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from dispatcher.store import Store
from tests.service_env import every_day_service

PG_URL = os.environ.get("DISPATCHER_TEST_PG_URL")
BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(
            not PG_URL, reason="DISPATCHER_TEST_PG_URL not set (run .ci/postgres.sh)"
        ),
    ),
]
DAY = date.today() + timedelta(days=30)  # a future service day: bookings are never "in the past"


@pytest.fixture(scope="package", autouse=True)
def _service_every_day() -> Iterator[Path]:
    """The API tests run under tests/data/every_day.toml (any day, same-day booking)."""
    yield from every_day_service()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def reset_postgres(url: str) -> None:
    """An empty database for a test module (drops the project's tables and Alembic's)."""
    from sqlalchemy import text

    from dispatcher.store import make_engine
    from dispatcher.store.models import Base

    engine = make_engine(url)
    Base.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()


class Server:
    """``python -m uvicorn`` on 127.0.0.1 with the app factory and DISPATCHER_* settings."""

    def __init__(
        self, database_url: str, extra_env: dict[str, str] | None = None, workers: int = 1
    ) -> None:
        self.database_url, self.workers = database_url, workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DISPATCHER_DATABASE_URL": database_url,
            # first plan only: small test days, fast bookings
            "DISPATCHER_BOOKING_TIME_LIMIT_S": "0",
            "DISPATCHER_SOLVER_PROCESSES": "false",
            "DISPATCHER_PLAN_TIME_LIMIT_S": "1",
            **(extra_env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = b""

    def start(self, timeout_s: float = 60.0) -> Server:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "dispatcher.api.app:app_from_env",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                *(["--workers", str(self.workers)] if self.workers > 1 else []),
            ],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out = self.proc.stdout.read() if self.proc.stdout else b""
                raise RuntimeError(
                    f"server exited with {self.proc.returncode}:\n{out.decode(errors='replace')}"
                )
            try:
                if httpx.get(self.url + "/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not start in time")

    def worker_pids(self) -> list[int]:
        """The worker processes of a server started with several workers (Linux /proc)."""
        assert self.proc is not None
        found: list[int] = []
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
                if b"spawn_main" in cmdline:  # not multiprocessing's resource tracker
                    found.append(int(child))
        return found

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.proc and self.proc.stdout:
            self.log = self.proc.stdout.read()


def database_url(backend: str, tmp: Path) -> str:
    if backend == "postgresql":
        assert PG_URL
        reset_postgres(PG_URL)
        return PG_URL
    return f"sqlite:///{tmp / 'dispatcher.db'}"


class Api:
    """An httpx client per role on a running server."""

    def __init__(self, server: Server, store: Store) -> None:
        self.server, self.store = server, store
        self.tokens = {
            role: store.create_key(role, f"test {role}")[0]
            for role in ("operator", "portal", "planner")
        }
        self.tokens["portal2"] = store.create_key("portal", "second portal")[0]
        self.clients = {
            role: httpx.Client(base_url=server.url, headers={"X-API-Key": t}, timeout=60.0)
            for role, t in self.tokens.items()
        }
        self.anon = httpx.Client(base_url=server.url, timeout=60.0)

    def __getattr__(self, role: str) -> httpx.Client:
        try:
            return self.clients[role]
        except KeyError:
            raise AttributeError(role) from None

    def close(self) -> None:
        for c in [*self.clients.values(), self.anon]:
            c.close()


FLEET: list[dict[str, Any]] = [
    {
        "id": "bus-1",
        "start": "Albert",
        "shift": {"start": "07:00", "end": "19:00"},
        "seats": 8,
        "wheelchairs": 0,
    },
    {
        "id": "tpmr-1",
        "start": "Albert",
        "shift": {"start": "07:00", "end": "19:00"},
        "seats": 6,
        "wheelchairs": 2,
    },
]


@pytest.fixture(scope="module", params=BACKENDS)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    url = database_url(request.param, tmp_path_factory.mktemp("api"))
    store = Store(url)
    server = Server(url).start()
    a = Api(server, store)
    try:
        yield a
    finally:
        a.close()
        server.stop()
        store.close()
