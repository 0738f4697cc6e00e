"""Several workers on one PostgreSQL (issue 16): what they keep and what they gain, over HTTP.

For each count of ``--workers`` (default ``1,4``) it empties the database of ``--database-url``
(every table of the project and Alembic's: give it a scratch database, and say so with
``--reset-database``), starts ``dispatcher serve --workers N`` on it (``benchmarks.api``'s own
server on loopback) and runs:

1. scarce day: a fleet of two small minibuses (5 seats), ``--clients`` clients at once (a
   barrier) each booking one seat from Albert to Méaulte between 08:00 and 08:20 on one day;
2. many days: ``--vehicles`` minibuses join the fleet and ``--bookings`` realistic requests
   (``benchmarks.api``'s workload, their return links dropped) are booked over ``--days`` days
   by ``--concurrency`` clients at once;
3. with more than one worker, the same over ``--days`` other days while one worker is killed
   (SIGKILL) after a third of the bookings; a booking whose connection dies is not
   acknowledged, and the clients go on with the next.

After each phase every day is checked: its stored plan passes the checker (a seat sold twice
is a capacity violation: ``oversold``), every acknowledged booking (201) is served by it and
stored as accepted (else ``lost``), and the plan serves exactly the requests stored as accepted
(else ``broken``, a promise the plan no longer keeps). The table gives these with the
throughput (bookings answered per second of wall time) and the latency as the clients saw it.

    python -m benchmarks.workers --database-url postgresql+psycopg://u:pw@127.0.0.1/scratch \
--reset-database
    python -m benchmarks.workers --database-url ... --reset-database --workers 1,2,4 --days 10
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from benchmarks.api import OwnServer, Phase, booking_bodies, fleet_bodies, ok, run_phase

SCARCE_FLEET = [
    {"id": "small-1", "start": "Albert", "shift": {"start": "07:30", "end": "09:30"}, "seats": 3},
    {"id": "small-2", "start": "Méaulte", "shift": {"start": "07:30", "end": "09:30"}, "seats": 2},
]
CAPACITY_CODES = ("capacity",)  # the checker's code of an over-full vehicle


@dataclass
class Checked:
    """What the stored days say after a phase."""

    days: int = 0
    plans_ok: int = 0
    oversold: int = 0  # capacity violations found by the checker
    lost: int = 0  # acknowledged bookings not served, or not stored as accepted
    broken: int = 0  # accepted requests the plan does not serve, or served and not accepted
    notes: list[str] = field(default_factory=list)


@dataclass
class Row:
    workers: int
    phase: str
    result: Phase
    checked: Checked
    killed: str = ""


def reset(url: str) -> None:
    """Drop every table of the project and Alembic's (the server migrates afresh)."""
    from sqlalchemy import text

    from dispatcher.store import make_engine
    from dispatcher.store.models import Base

    engine = make_engine(url)
    Base.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()


def worker_pids(server: OwnServer) -> list[int]:
    """The worker processes of ``dispatcher serve --workers N`` (Linux /proc)."""
    assert server.proc is not None
    found: list[int] = []
    for task in Path(f"/proc/{server.proc.pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            except OSError:
                continue
            if b"spawn_main" in cmdline:  # not multiprocessing's resource tracker
                found.append(int(child))
    return found


def check_days(op: httpx.Client, acknowledged: dict[str, set[str]]) -> Checked:
    """Each day of ``acknowledged`` (day -> ids answered 201): see the module doc."""
    out = Checked()
    for day, acked in sorted(acknowledged.items()):
        out.days += 1
        path = f"/v1/days/{day}"
        accepted = {
            r["id"]
            for r in ok(op.get(f"{path}/requests", params={"status": "accepted"}), path).json()
        }
        r = op.get(f"{path}/plan")
        served: set[str] = set()
        if r.status_code == 200:
            for route in r.json().get("routes") or []:
                served.update(v["request_id"] for v in route.get("visits") or [])
            check = ok(op.get(f"{path}/plan/check"), f"{path}/plan/check", (200,)).json()
            out.plans_ok += bool(check.get("ok"))
            bad = [
                v
                for v in check.get("violations") or []
                if any(c in str(v.get("code", "")) for c in CAPACITY_CODES)
            ]
            out.oversold += len(bad)
            if not check.get("ok"):
                out.notes.append(f"{day}: {check.get('summary')}")
        elif accepted or acked:
            out.notes.append(f"{day}: no plan (HTTP {r.status_code})")
        out.lost += len(acked - (served & accepted))
        out.broken += len(accepted ^ served)
    return out


def booking_calls(
    portal: httpx.Client, plan: Sequence[tuple[str, dict[str, Any]]], acked: dict[str, set[str]]
) -> list[Callable[[], httpx.Response]]:
    """One call per (day, body); a 201 is written down in ``acked``."""
    lock = threading.Lock()

    def call(day: str, body: dict[str, Any]) -> Callable[[], httpx.Response]:
        def go() -> httpx.Response:
            r = portal.post(f"/v1/days/{day}/bookings", json=body)
            if r.status_code == 201:
                with lock:
                    acked[day].add(str(body["id"]))
            return r

        return go

    return [call(day, body) for day, body in plan]


def scarce_day(
    server: OwnServer, op: httpx.Client, portal_key: str, day: str, clients: int
) -> tuple[Phase, Checked]:
    for v in SCARCE_FLEET:
        ok(op.put(f"/v1/vehicles/{v['id']}", json=v), f"PUT /v1/vehicles/{v['id']}")
    ok(op.put(f"/v1/days/{day}", json={"note": "benchmarks.workers scarce"}), f"PUT {day}")
    barrier = threading.Barrier(clients)
    acked: dict[str, set[str]] = {day: set()}
    phase = Phase(f"{clients} clients, one scarce day", clients)
    lock = threading.Lock()

    def one(k: int) -> None:
        body = {
            "id": f"c{k:02d}",
            "pickup": "Albert",
            "dropoff": "Méaulte",
            "pickup_window": {"start": "08:00", "end": "08:20"},
        }
        with httpx.Client(base_url=server.url, headers={"X-API-Key": portal_key}, timeout=300) as c:
            barrier.wait(60)
            t = time.perf_counter()
            try:
                status = c.post(f"/v1/days/{day}/bookings", json=body).status_code
            except httpx.HTTPError:
                status = 0
            dt = time.perf_counter() - t
        with lock:
            phase.latencies.append(dt)
            phase.statuses.append(status)
            if status == 201:
                acked[day].add(body["id"])

    threads = [threading.Thread(target=one, args=(k,)) for k in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    phase.wall_s = time.perf_counter() - t0
    return phase, check_days(op, acked)


def many_days(
    server: OwnServer,
    op: httpx.Client,
    portal: httpx.Client,
    days: Sequence[str],
    bodies: Sequence[dict[str, Any]],
    args: argparse.Namespace,
    kill: bool,
) -> tuple[Phase, Checked, str]:
    for d in days:
        ok(op.put(f"/v1/days/{d}", json={"note": "benchmarks.workers"}), f"PUT {d}")
    plan = [(days[k % len(days)], b) for k, b in enumerate(bodies)]
    acked: dict[str, set[str]] = {d: set() for d in days}
    calls = booking_calls(portal, plan, acked)
    name = f"{len(plan)} bookings over {len(days)} days" + (", 1 worker killed" if kill else "")
    killed = ""
    if kill:
        done = threading.Event()

        def killer() -> None:
            while not done.is_set():
                if sum(len(a) for a in acked.values()) >= len(plan) // 3:
                    pids = worker_pids(server)
                    if pids:
                        os.kill(pids[0], signal.SIGKILL)
                        nonlocal killed
                        killed = f"worker {pids[0]} killed after {len(plan) // 3} promises"
                    return
                time.sleep(0.02)

        t = threading.Thread(target=killer)
        t.start()
        phase = run_phase(name, calls, args.concurrency, args.phase_timeout)
        done.set()
        t.join(10)
    else:
        phase = run_phase(name, calls, args.concurrency, args.phase_timeout)
    return phase, check_days(op, acked), killed


def run_workers(n: int, args: argparse.Namespace, bodies: list[dict[str, Any]]) -> list[Row]:
    reset(args.database_url)
    rows: list[Row] = []
    with OwnServer(args.database_url, workers=n) as server:
        op_key, portal_key = server.create_key("operator"), server.create_key("portal")
        print(f"{n} worker(s): starting dispatcher serve ...", flush=True)
        server.start(timeout_s=300)
        first = date.today() + timedelta(days=7)
        timeout = httpx.Timeout(args.request_timeout)
        limits = httpx.Limits(max_connections=args.concurrency + 4)
        with (
            httpx.Client(base_url=server.url, headers={"X-API-Key": op_key}, timeout=timeout) as op,
            httpx.Client(
                base_url=server.url,
                headers={"X-API-Key": portal_key},
                timeout=timeout,
                limits=limits,
            ) as portal,
        ):
            phase, checked = scarce_day(server, op, portal_key, first.isoformat(), args.clients)
            rows.append(Row(n, "scarce", phase, checked))
            print(f"  {phase.name}: {phase.accepted} promises, {phase.refused} refusals")
            for v in fleet_bodies(args.vehicles, min(2, args.vehicles), args.seed):
                ok(op.put(f"/v1/vehicles/{v['id']}", json=v), f"PUT /v1/vehicles/{v['id']}")
            days = [(first + timedelta(days=1 + k)).isoformat() for k in range(args.days)]
            phase, checked, _ = many_days(server, op, portal, days, bodies, args, kill=False)
            rows.append(Row(n, "many days", phase, checked))
            print(f"  {phase.name}: {phase.per_s:.1f} bookings/s", flush=True)
            if n > 1 and not args.no_kill:
                days = [
                    (first + timedelta(days=1 + args.days + k)).isoformat()
                    for k in range(args.days)
                ]
                phase, checked, killed = many_days(
                    server, op, portal, days, bodies, args, kill=True
                )
                rows.append(Row(n, "killed", phase, checked, killed))
                print(f"  {phase.name}: {killed or 'no worker killed'}", flush=True)
    return rows


def table(rows: Sequence[Row]) -> str:
    head = (
        f"{'workers':>7} | {'phase':<42} | {'201':>4} | {'409':>4} | {'err':>4} | {'per s':>6} | "
        f"{'p50 ms':>7} | {'p95 ms':>7} | {'plans ok':>8} | {'oversold':>8} | {'lost':>4} | "
        f"{'broken':>6}"
    )
    out = [head, "-" * len(head)]
    for r in rows:
        p, c = r.result, r.checked
        out.append(
            f"{r.workers:>7} | {p.name:<42} | {p.accepted:>4} | {p.refused:>4} | {p.errors:>4} | "
            f"{p.per_s:>6.1f} | {p.ms(0.5):>7.0f} | {p.ms(0.95):>7.0f} | "
            f"{f'{c.plans_ok}/{c.days}':>8} | {c.oversold:>8} | {c.lost:>4} | {c.broken:>6}"
        )
    notes = [f"{r.workers} workers, {r.phase}: {r.killed}" for r in rows if r.killed]
    notes += [f"{r.workers} workers, {r.phase}: {n}" for r in rows for n in r.checked.notes]
    return "\n".join(out + ([""] + notes if notes else []))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.workers",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--database-url", required=True, help="a scratch PostgreSQL database")
    ap.add_argument(
        "--reset-database",
        action="store_true",
        help="confirm that every table of --database-url may be dropped",
    )
    ap.add_argument("--workers", default="1,4", help="worker counts to run, comma-separated")
    ap.add_argument("--clients", type=int, default=50, help="clients at once on the scarce day")
    ap.add_argument("--bookings", type=int, default=300, help="bookings over the days")
    ap.add_argument("--days", type=int, default=20, help="days the bookings are spread over")
    ap.add_argument("--concurrency", type=int, default=20, help="clients at once over the days")
    ap.add_argument("--vehicles", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-kill", action="store_true", help="no phase with a worker killed")
    ap.add_argument("--phase-timeout", type=float, default=900.0)
    ap.add_argument("--request-timeout", type=float, default=300.0)
    args = ap.parse_args(argv)
    if not args.database_url.startswith("postgresql"):
        ap.error("--database-url must be PostgreSQL (several workers share it)")
    if not args.reset_database:
        ap.error("--reset-database is required: every table of --database-url is dropped")
    try:
        args.worker_counts = [int(x) for x in args.workers.split(",") if x.strip()]
    except ValueError:
        ap.error(f"--workers: comma-separated counts, got {args.workers!r}")
    if not args.worker_counts or min(args.worker_counts) < 1:
        ap.error("--workers: counts must be >= 1")
    if min(args.clients, args.bookings, args.days, args.concurrency, args.vehicles) < 1:
        ap.error("--clients, --bookings, --days, --concurrency and --vehicles must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    t0 = time.perf_counter()
    bodies = [
        {k: v for k, v in b.items() if k != "return_of"}
        for b in booking_bodies(args.bookings, args.seed)
    ]
    rows: list[Row] = []
    for n in args.worker_counts:
        rows += run_workers(n, args, bodies)
    print()
    print(table(rows))
    print(
        f"\n{os.cpu_count()} cores; {args.vehicles} vehicles; seed {args.seed}; "
        f"latency = client-side, whole HTTP round trip on loopback; total "
        f"{time.perf_counter() - t0:.0f} s"
    )
    bad = sum(r.checked.oversold + r.checked.lost + r.checked.broken for r in rows)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
