"""Benchmark of the dispatch API end to end, over HTTP on loopback (issue 7).

By default it starts its own server: ``dispatcher serve`` (``python -m dispatcher.cli serve``) as
a subprocess on a free 127.0.0.1 port, with a fresh temporary ``DISPATCHER_STATE_DIR`` (SQLite),
or the database given by ``--database-url`` (e.g. PostgreSQL; its tables are then shared with
whatever else uses it, so give it a scratch database). It creates an operator key and a portal
key with ``dispatcher keys create``, adds a fleet (``generate_fleet``: ``--vehicles`` minibuses,
ids ``bench-v01``...), opens a service day in the future (``--day``, default in 7 days: inside \
the booking horizon), then:

1. fill: books ``--bookings`` realistic requests (``dispatcher.demand.generate_requests``, Pays du
   Coquelicot, ``--seed``) one after the other with the portal key (their latency is shown too,
   by thirds of the fill);
2. measure: books the next ``--measure`` requests with ``--concurrency`` clients at once and
   reports the booking latency end to end as the client sees it (send, lock, insertion, commit,
   answer): p50, p95, p99, max, mean, and the acceptance (201 promise vs 409 refusal), also for
   the promises and the refusals apart (a return trip is sent only once its outbound is answered);
3. reads: ``--reads`` requests of ``GET /v1/days/{day}/plan`` (JSON), then as many of
   ``/plan/geojson``, with ``--concurrency`` clients: reads per second and latency;
4. the stored plan is checked once (``GET /plan/check``).

Every phase is bounded by its count and by ``--phase-timeout`` seconds (a phase stopped by the
clock says so in the table). The server is stopped at the end, also on an error or Ctrl-C, and
its temporary folder removed. The issue's aim: booking p95 at most 100 ms.

Against a running server instead: ``--url http://127.0.0.1:PORT --key OPERATOR_KEY`` (loopback
only; ``--portal-key`` to book as a portal, else the operator key books). The fleet is then put
with ids ``bench-v*`` (other vehicles of that server join the day too) and the first service day
from ``--day`` on that does not exist yet is opened, so nothing of an existing day is touched.

    python -m benchmarks.api                                  # own server, SQLite, \
300 + 100 bookings
    python -m benchmarks.api --database-url postgresql+psycopg://u:pw@127.0.0.1/scratch
    python -m benchmarks.api --bookings 100 --measure 50 --reads 100 --concurrency 4 \
--out out/api.csv
    python -m benchmarks.api --url http://127.0.0.1:8000 --key "$OPERATOR_KEY"
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

PILOT = ("248000747",)  # CC du Pays du Coquelicot
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
AIM_P95_MS = 100.0


# ---- figures ---------------------------------------------------------------------------------


def percentile(xs: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``xs`` by the nearest rank on the sorted values; NaN when
    empty."""
    s = sorted(xs)
    if not s:
        return float("nan")
    k = min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))
    return s[k]


@dataclass
class Phase:
    """What one phase did: a latency (seconds) and an HTTP status per request, its wall time."""

    name: str
    planned: int
    latencies: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    wall_s: float = 0.0
    stopped_by_clock: bool = False
    bytes: int = 0
    first_error: str = ""
    reasons: Counter[str] = field(default_factory=Counter)  # refusal reasons of the 409 answers

    @property
    def done(self) -> int:
        return len(self.statuses)

    def count(self, *codes: int) -> int:
        return sum(1 for c in self.statuses if c in codes)

    @property
    def errors(self) -> int:
        return sum(1 for c in self.statuses if c not in (200, 201, 409))

    @property
    def accepted(self) -> int:
        return self.count(201)

    @property
    def refused(self) -> int:
        return self.count(409)

    def ms(self, q: float) -> float:
        return 1000 * percentile(self.latencies, q)

    @property
    def mean_ms(self) -> float:
        return 1000 * statistics.fmean(self.latencies) if self.latencies else float("nan")

    @property
    def per_s(self) -> float:
        return self.done / self.wall_s if self.wall_s > 0 else float("nan")

    def only(self, code: int, name: str) -> Phase:
        """The requests of this phase answered with ``code`` (e.g. the accepted bookings alone)."""
        sub = Phase(
            name, self.planned, stopped_by_clock=self.stopped_by_clock
        )  # no wall time: no rate
        for lat, st in zip(self.latencies, self.statuses, strict=True):
            if st == code:
                sub.latencies.append(lat)
                sub.statuses.append(st)
        if code == 409:
            sub.reasons = Counter(self.reasons)
        return sub

    def row(self) -> dict[str, Any]:
        answered = self.accepted + self.refused
        return {
            "phase": self.name.strip(),
            "requests": self.done,
            "planned": self.planned,
            "ok_2xx": self.count(200, 201),
            "accepted": self.accepted,
            "refused": self.refused,
            "errors": self.errors,
            "acceptance_pct": round(100 * self.accepted / answered, 1) if answered else "",
            "p50_ms": round(self.ms(0.50), 1),
            "p95_ms": round(self.ms(0.95), 1),
            "p99_ms": round(self.ms(0.99), 1),
            "max_ms": round(1000 * max(self.latencies), 1) if self.latencies else "",
            "mean_ms": round(self.mean_ms, 1),
            "per_s": round(self.per_s, 2) if self.wall_s > 0 else "",
            "wall_s": round(self.wall_s, 2) if self.wall_s > 0 else "",
            "mean_bytes": round(self.bytes / self.done) if self.done and self.bytes else "",
            "stopped_by_clock": self.stopped_by_clock,
        }


def run_phase(
    name: str,
    calls: Sequence[Callable[[], httpx.Response]],
    concurrency: int,
    timeout_s: float,
    after: Sequence[int | None] | None = None,
) -> Phase:
    """Run ``calls`` (each one HTTP request) with ``concurrency`` threads, started in order; stop
    starting new ones after ``timeout_s`` seconds. ``after[i]``: the index of an earlier call that
    must be answered before call ``i`` is sent (a return trip after its outbound), or None; the
    wait is not counted in the latency. Latency: from just before the call to the body read."""
    phase = Phase(name, len(calls))
    lock = threading.Lock()
    answered = [threading.Event() for _ in calls]
    it = iter(enumerate(calls))
    t0 = time.perf_counter()
    deadline = t0 + timeout_s

    def worker() -> None:
        while True:
            with lock:
                if time.perf_counter() > deadline:
                    phase.stopped_by_clock = True
                    return
                i, call = next(it, (-1, None))
            if call is None:
                return
            dep = after[i] if after is not None else None
            if (
                dep is not None
            ):  # started before this one (calls start in order): it cannot wait on us
                answered[dep].wait(max(0.0, deadline - time.perf_counter()) + 600)
            t = time.perf_counter()
            try:
                r = call()
                status, size, text = r.status_code, len(r.content), r.text
            except httpx.HTTPError as e:
                status, size, text = 0, 0, f"{type(e).__name__}: {e}"
            dt = time.perf_counter() - t
            reason = ""
            if status == 409:
                try:
                    reason = str(r.json().get("reason") or r.json().get("error") or "?")
                except ValueError:
                    reason = "?"
            with lock:
                phase.latencies.append(dt)
                phase.statuses.append(status)
                phase.bytes += size
                if reason:
                    phase.reasons[reason] += 1
                if status not in (200, 201, 409) and not phase.first_error:
                    phase.first_error = f"HTTP {status}: {text[:300]}"
            answered[i].set()

    with ThreadPoolExecutor(
        max_workers=max(1, concurrency), thread_name_prefix=f"bench-{name}"
    ) as pool:
        for f in [pool.submit(worker) for _ in range(max(1, concurrency))]:
            f.result()
    phase.wall_s = time.perf_counter() - t0
    return phase


def dependencies(bodies: Sequence[dict[str, Any]]) -> list[int | None]:
    """For each body, the index in ``bodies`` of the outbound it is the return of, or None."""
    index = {b["id"]: k for k, b in enumerate(bodies)}
    return [index.get(b.get("return_of", "")) for b in bodies]


# ---- the workload ----------------------------------------------------------------------------


def booking_bodies(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` booking bodies (API vocabulary) from ``generate_requests`` on the pilot territory."""
    from dispatcher.demand import generate_requests
    from dispatcher.territory import Territory

    out = []
    for d in generate_requests(Territory.load(list(PILOT)), n, seed=seed):
        b: dict[str, Any] = {
            "id": f"bench-{d['id']}",
            "pickup": d["pickup"],
            "dropoff": d["dropoff"],
            "seats": d["seats"],
            "wheelchairs": d["wheelchairs"],
        }
        if d.get("pickup_window"):
            b["pickup_window"] = {"start": d["pickup_window"][0], "end": d["pickup_window"][1]}
        if d.get("arrive_by_s") is not None:
            b["arrive_by"] = d["arrive_by_s"]
        if d.get("return_of"):
            b["return_of"] = f"bench-{d['return_of']}"
        out.append(b)
    return out


def fleet_bodies(n: int, n_wheelchair: int, seed: int) -> list[dict[str, Any]]:
    """``n`` vehicle bodies (API vocabulary) from ``generate_fleet``, ids ``bench-v..``."""
    from dispatcher.demand import generate_fleet
    from dispatcher.territory import Territory

    out = []
    for v in generate_fleet(Territory.load(list(PILOT)), n, n_wheelchair, seed=seed):
        out.append(
            {
                "id": f"bench-{v['id']}",
                "start": v["start"],
                "end": v["end"],
                "shift": {"start": v["shift"][0], "end": v["shift"][1]},
                "seats": v["seats"],
                "wheelchairs": v["wheelchairs"],
                "breaks": [
                    {
                        "window": {"start": b["window"][0], "end": b["window"][1]},
                        "duration_s": b["duration_s"],
                    }
                    for b in v["breaks"]
                ],
                "kind": v["kind"],
            }
        )
    return out


# ---- the server ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OwnServer:
    """``dispatcher serve`` on 127.0.0.1 with its own state folder (SQLite) or ``database_url``;
    its output goes to a log file in that folder. Use as a context manager: always stopped."""

    def __init__(
        self, database_url: str | None = None, env: dict[str, str] | None = None, workers: int = 1
    ) -> None:
        self.workers = workers
        self.tmp = Path(tempfile.mkdtemp(prefix="dispatcher-bench-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database_url = database_url
        self.env = {**os.environ, "DISPATCHER_STATE_DIR": str(self.tmp), **(env or {})}
        self.env.pop("DISPATCHER_DATABASE_URL", None)
        if database_url:
            self.env["DISPATCHER_DATABASE_URL"] = database_url
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.tmp / "server.log"

    def _cli(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "dispatcher.cli", *args]

    def create_key(self, role: str) -> str:
        out = subprocess.run(
            self._cli("keys", "create", "--role", role, "--name", f"benchmark {role}"),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if out.returncode != 0:
            raise RuntimeError(
                f"dispatcher keys create --role {role} failed ({out.returncode}): "
                f"{out.stderr.strip()[-2000:]}"
            )
        return out.stdout.strip().splitlines()[-1].strip()

    def start(self, timeout_s: float = 120.0) -> None:
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            self._cli(
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                "--workers",
                str(self.workers),
            ),
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the server exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            try:
                if httpx.get(self.url + "/health", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(
            f"the server did not answer /health within {timeout_s:g} s:\n{self.log_tail()}"
        )

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        p = self.proc
        if p is not None and p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> OwnServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def check_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    if host not in LOOPBACK and f"[{host}]" not in LOOPBACK:
        raise SystemExit(f"--url must be on loopback (127.0.0.1, localhost, ::1), got {host!r}")


def ok(r: httpx.Response, what: str, codes: Sequence[int] = (200, 201)) -> httpx.Response:
    if r.status_code not in codes:
        raise RuntimeError(f"{what}: HTTP {r.status_code}: {r.text[:500]}")
    return r


def free_day(op: httpx.Client, first: date, tries: int = 365) -> date:
    """The first day from ``first`` on that the server does not know (404) and that is a service
    day of the service configuration (``DISPATCHER_SERVICE`` or the default, as the server
    reads it: no Sunday, public holiday or closure)."""
    from dispatcher.service_config import load_service

    service = load_service()
    for k in range(tries):
        d = first + timedelta(days=k)
        if service.closed_reason(d) is not None:
            continue
        r = op.get(f"/v1/days/{d.isoformat()}")
        if r.status_code == 404:
            return d
        ok(r, f"GET /v1/days/{d.isoformat()}", (200,))
    raise RuntimeError(f"no unused service day in the {tries} days from {first.isoformat()}")


# ---- the run ---------------------------------------------------------------------------------


@dataclass
class Result:
    day: date
    backend: str
    vehicles: int
    phases: list[Phase]
    check_ok: bool | None
    check_summary: str


def run(
    url: str, operator_key: str, portal_key: str, args: argparse.Namespace, backend: str
) -> Result:
    timeout = httpx.Timeout(args.request_timeout)
    limits = httpx.Limits(
        max_connections=max(4, args.concurrency), max_keepalive_connections=max(4, args.concurrency)
    )
    with (
        httpx.Client(
            base_url=url, headers={"X-API-Key": operator_key}, timeout=timeout, limits=limits
        ) as op,
        httpx.Client(
            base_url=url, headers={"X-API-Key": portal_key}, timeout=timeout, limits=limits
        ) as portal,
    ):
        ok(op.get("/v1/me"), "GET /v1/me (operator key)", (200,))
        print(
            f"preparing the workload: {args.bookings} + {args.measure} requests "
            f"(seed {args.seed}), "
            f"{args.vehicles} vehicles",
            flush=True,
        )
        bodies = booking_bodies(args.bookings + args.measure, args.seed)
        for v in fleet_bodies(
            args.vehicles, min(args.wheelchair_vehicles, args.vehicles), args.seed
        ):
            ok(op.put(f"/v1/vehicles/{v['id']}", json=v), f"PUT /v1/vehicles/{v['id']}")
        n_vehicles = len(ok(op.get("/v1/vehicles"), "GET /v1/vehicles", (200,)).json())
        first = date.fromisoformat(args.day) if args.day else date.today() + timedelta(days=7)
        day = free_day(op, first)
        ok(
            op.put(f"/v1/days/{day.isoformat()}", json={"note": "benchmarks.api"}),
            f"PUT /v1/days/{day.isoformat()}",
        )
        path = f"/v1/days/{day.isoformat()}"

        def booking(b: dict[str, Any]) -> Callable[[], httpx.Response]:
            return lambda: portal.post(f"{path}/bookings", json=b)

        fill, measure = bodies[: args.bookings], bodies[args.bookings :]
        phases: list[Phase] = []
        print(
            f"filling {day.isoformat()} with {len(fill)} bookings (one at a time) ...", flush=True
        )
        thirds = (
            [fill[k * len(fill) // 3 : (k + 1) * len(fill) // 3] for k in range(3)]
            if len(fill) >= 3
            else [fill]
        )
        done = 0
        for part in thirds:
            if not part:
                continue
            name = f"fill {done + 1}-{done + len(part)}" if len(thirds) > 1 else "fill"
            ph = run_phase(name, [booking(b) for b in part], 1, args.phase_timeout)
            phases.append(ph)
            done += len(part)
            print(
                f"  {name}: {ph.accepted} accepted, {ph.refused} refused, {ph.errors} errors, "
                f"p95 {ph.ms(0.95):.0f} ms",
                flush=True,
            )
            if ph.accepted == 0 and set(ph.reasons) == {"booking_closed"}:
                raise RuntimeError(
                    f"every booking of {day.isoformat()} was refused as booking_closed "
                    "(outside the server's booking rules: DISPATCHER_BOOKING_*); "
                    "choose another --day"
                )
            if ph.stopped_by_clock:
                print(
                    f"  the fill reached --phase-timeout ({args.phase_timeout:g} s) "
                    f"at booking {done}; the day holds fewer",
                    flush=True,
                )
                break
        day_info = ok(op.get(path), f"GET {path}", (200,)).json()
        in_day = day_info.get("requests", {}).get("accepted", 0)
        print(
            f"measuring {len(measure)} bookings with {in_day} accepted in the day, "
            f"concurrency {args.concurrency} ...",
            flush=True,
        )
        measured = run_phase(
            f"booking ({in_day} in the day)",
            [booking(b) for b in measure],
            args.concurrency,
            args.phase_timeout,
            after=dependencies(measure),
        )
        phases += [
            measured,
            measured.only(201, "  of which 201 promises"),
            measured.only(409, "  of which 409 refusals"),
        ]
        print(
            f"reading the plan {args.reads} times (JSON), then {args.reads} times (GeoJSON) ...",
            flush=True,
        )
        phases.append(
            run_phase(
                "plan read (JSON)",
                [lambda: op.get(f"{path}/plan")] * args.reads,
                args.concurrency,
                args.phase_timeout,
            )
        )
        phases.append(
            run_phase(
                "plan read (GeoJSON)",
                [lambda: op.get(f"{path}/plan/geojson")] * args.reads,
                args.concurrency,
                args.phase_timeout,
            )
        )
        check_ok, summary = None, ""
        r = op.get(f"{path}/plan/check")
        if r.status_code == 200:
            check_ok, summary = bool(r.json().get("ok")), str(r.json().get("summary", ""))
        else:
            summary = f"HTTP {r.status_code}: {r.text[:200]}"
        return Result(day, backend, n_vehicles, phases, check_ok, summary)


def table(res: Result, args: argparse.Namespace) -> str:
    head = [
        "phase",
        "n",
        "2xx",
        "409",
        "err",
        "accept %",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "mean ms",
        "per s",
    ]
    rows = []
    for p in res.phases:
        d = p.row()
        rows.append(
            [
                p.name + (" (stopped by the clock)" if p.stopped_by_clock else ""),
                str(p.done),
                str(d["ok_2xx"]),
                str(p.refused),
                str(p.errors),
                f"{d['acceptance_pct']}" if d["acceptance_pct"] != "" else "-",
                f"{p.ms(0.5):.1f}",
                f"{p.ms(0.95):.1f}",
                f"{p.ms(0.99):.1f}",
                f"{d['max_ms']}",
                f"{p.mean_ms:.1f}",
                f"{p.per_s:.1f}" if p.wall_s > 0 else "-",
            ]
        )
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    lines = [
        " | ".join(
            h.ljust(w) if i == 0 else h.rjust(w)
            for i, (h, w) in enumerate(zip(head, widths, strict=True))
        )
    ]
    lines.append("-+-".join("-" * w for w in widths))
    for r in rows:
        lines.append(
            " | ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
    measured = next((p for p in res.phases if p.name.startswith("booking")), None)
    foot = [
        f"server: {res.backend}; day {res.day.isoformat()}; {res.vehicles} vehicles; "
        f"seed {args.seed}; "
        f"concurrency {args.concurrency}; {args.workers} worker(s); "
        "latency = client-side, whole HTTP round trip on loopback"
    ]
    if measured is not None and measured.latencies:
        p95 = measured.ms(0.95)
        foot.append(
            f"booking p95 {p95:.1f} ms: {'within' if p95 <= AIM_P95_MS else 'ABOVE'} "
            f"the aim of {AIM_P95_MS:g} ms"
        )
    foot.append(
        "stored plan check: "
        + ("OK" if res.check_ok else "NOT OK" if res.check_ok is False else "not available")
        + (f" ({res.check_summary})" if res.check_summary else "")
    )
    if measured is not None and measured.reasons:
        foot.append(
            "refusal reasons of the measured bookings: "
            + ", ".join(f"{k} {v}" for k, v in measured.reasons.most_common())
        )
    for p in res.phases:
        if p.first_error:
            foot.append(f"first error in {p.name}: {p.first_error}")
    return "\n".join(lines + [""] + foot)


def write_csv(path: Path, res: Result, args: argparse.Namespace) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            "backend": res.backend,
            "day": res.day.isoformat(),
            "vehicles": res.vehicles,
            "seed": args.seed,
            "concurrency": args.concurrency,
            **p.row(),
        }
        for p in res.phases
    ]
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.api",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--url", help="a running server on loopback (default: start one)")
    ap.add_argument("--key", help="an operator key of the server at --url")
    ap.add_argument(
        "--portal-key", help="a portal key of the server at --url (default: the operator key books)"
    )
    ap.add_argument(
        "--database-url", help="own server: SQLAlchemy URL (default: SQLite in a temporary folder)"
    )
    ap.add_argument(
        "--bookings", type=int, default=300, help="bookings that fill the day before measuring"
    )
    ap.add_argument("--measure", type=int, default=100, help="bookings measured")
    ap.add_argument(
        "--workers", type=int, default=1, help="server worker processes (more than one: PostgreSQL)"
    )
    ap.add_argument(
        "--reads", type=int, default=500, help="plan reads, of the JSON and of the GeoJSON each"
    )
    ap.add_argument(
        "--concurrency", type=int, default=1, help="clients at once in the measured phases"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--vehicles", type=int, default=10)
    ap.add_argument("--wheelchair-vehicles", type=int, default=2)
    ap.add_argument(
        "--day",
        help="first service day to try, YYYY-MM-DD "
        "(default: in 7 days, inside the booking horizon)",
    )
    ap.add_argument(
        "--phase-timeout",
        type=float,
        default=600.0,
        help="seconds after which a phase starts no new request",
    )
    ap.add_argument("--request-timeout", type=float, default=120.0, help="seconds per HTTP request")
    ap.add_argument("--out", type=Path, help="CSV file of the phases' figures")
    args = ap.parse_args(argv)
    for name in ("bookings", "measure", "reads"):
        if getattr(args, name) < 0:
            ap.error(f"--{name} must be >= 0")
    if args.concurrency < 1 or args.vehicles < 1:
        ap.error("--concurrency and --vehicles must be >= 1")
    if bool(args.url) != bool(args.key):
        ap.error("--url and --key go together")
    if args.url and args.database_url:
        ap.error("--database-url is for the server this command starts, not with --url")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    t0 = time.perf_counter()
    if args.url:
        check_loopback(args.url)
        with httpx.Client(base_url=args.url, timeout=10) as c:
            v = ok(c.get("/version"), "GET /version", (200,)).json()
        res = run(
            args.url.rstrip("/"),
            args.key,
            args.portal_key or args.key,
            args,
            f"{v.get('database', '?')} at {args.url}",
        )
    else:
        with OwnServer(args.database_url, workers=args.workers) as server:
            try:
                op_key, portal_key = server.create_key("operator"), server.create_key("portal")
                print(f"starting dispatcher serve on {server.url} ...", flush=True)
                server.start()
                v = ok(
                    httpx.get(server.url + "/version", timeout=10), "GET /version", (200,)
                ).json()
                res = run(
                    server.url,
                    op_key,
                    portal_key,
                    args,
                    f"own dispatcher serve, {v.get('database', '?')}",
                )
            except BaseException:
                tail = server.log_tail()
                if tail:
                    print(f"server log (tail):\n{tail}", file=sys.stderr)
                raise
    print()
    print(table(res, args))
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    if args.out:
        write_csv(args.out, res, args)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; the server was stopped", file=sys.stderr)
        sys.exit(130)
    except (RuntimeError, httpx.HTTPError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
