"""What one booking asks of the database: statements, transactions, connection checkouts (each
a ping on PostgreSQL, ``pool_pre_ping``) and the bytes of the statements' parameters (what is
written), counted by SQLAlchemy events on the server's own engine; and its time in the server
(``ms``: the request through the application, without the sockets) and the CPU time of this
process meanwhile (``cpu ms``: what other jobs on the machine change least).

The dispatch API runs in this process (``dispatcher.api.create_app`` behind Starlette's test
client: the same routes, service and store as ``dispatcher serve``, without the sockets), on a
fresh SQLite in a temporary folder or the database of ``--database-url`` (its tables are reset
by the migrations' owner only: give it a scratch database). The fleet and the workload are
those of ``benchmarks.api`` (``--vehicles`` minibuses, ``--bookings`` requests booked one after
the other, then ``--measure`` more, counted one by one).

On PostgreSQL a round trip is a statement, a ``BEGIN`` (psycopg sends it before the first
statement of a transaction), a ``COMMIT``/``ROLLBACK`` or the ping of a checkout; the table
gives their sum. On SQLite nothing crosses a socket: its "round trips" are the statements.

    python -m benchmarks.roundtrips
    python -m benchmarks.roundtrips --database-url postgresql+psycopg://u:pw@127.0.0.1/scratch
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event

from benchmarks.api import booking_bodies, fleet_bodies, percentile

FIELDS = ("statements", "transactions", "checkouts", "round trips", "kB sent", "ms", "cpu ms")


class Counts:
    """Counters on an engine: statements (and their parameters' bytes), transactions, checkouts."""

    def __init__(self, engine: Any) -> None:
        self.c: Counter[str] = Counter()
        self.sql: list[str] = []  # the statements, first line each
        self.pg = engine.dialect.name == "postgresql"
        self.ping = bool(getattr(engine.pool, "_pre_ping", False))
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "begin", self._begin)
        event.listen(engine.pool, "checkout", lambda *_a: self.c.update(["checkouts"]))

    def _begin(self, conn: Any) -> None:  # a read in autocommit sends no BEGIN nor COMMIT
        if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            self.c["transactions"] += 1

    def _statement(self, _conn: Any, _cur: Any, _sql: str, params: Any, *_a: Any) -> None:
        self.c["statements"] += 1
        self.c["bytes"] += _size(params)
        self.sql.append(" ".join(_sql.split())[:110])

    def snapshot(self) -> Counter[str]:
        return Counter(self.c)


def _size(params: Any) -> int:
    if isinstance(params, dict):
        return sum(_size(v) for v in params.values())
    if isinstance(params, (list, tuple)):
        return sum(_size(v) for v in params)
    if isinstance(params, (str, bytes)):
        return len(params)
    if hasattr(params, "obj"):  # psycopg's Json wrapper of a JSON parameter
        return len(orjson.dumps(params.obj, option=orjson.OPT_NON_STR_KEYS))
    return 8


def per_booking(before: Counter[str], after: Counter[str], counts: Counts) -> dict[str, float]:
    d = {k: after[k] - before[k] for k in ("statements", "transactions", "checkouts", "bytes")}
    trips = d["statements"]
    if counts.pg:  # BEGIN and COMMIT, and a checkout's ping
        trips += 2 * d["transactions"] + (d["checkouts"] if counts.ping else 0)
    return {
        "statements": d["statements"],
        "transactions": d["transactions"],
        "checkouts": d["checkouts"],
        "round trips": trips,
        "kB sent": d["bytes"] / 1000,
    }


def run(args: argparse.Namespace) -> int:
    from fastapi.testclient import TestClient

    from dispatcher.api.app import create_app
    from dispatcher.service.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="dispatcher-roundtrips-"))
    settings = Settings(state_dir=tmp, database_url=args.database_url or None)
    bodies = booking_bodies(args.bookings + args.measure, args.seed)
    fleet = fleet_bodies(args.vehicles, min(2, args.vehicles), args.seed)
    with TestClient(create_app(settings)) as client:
        svc = client.app.state.service  # type: ignore[attr-defined]
        op_key = svc.store.create_key("operator", "roundtrips")[0]
        portal_key = svc.store.create_key("portal", "roundtrips")[0]
        op, portal = {"X-API-Key": op_key}, {"X-API-Key": portal_key}
        for v in fleet:
            client.put(f"/v1/vehicles/{v['id']}", json=v, headers=op).raise_for_status()
        day = date.today() + timedelta(days=7)
        while client.get(f"/v1/days/{day.isoformat()}", headers=op).status_code == 200:
            day += timedelta(days=1)
        client.put(f"/v1/days/{day.isoformat()}", json={}, headers=op).raise_for_status()
        path = f"/v1/days/{day.isoformat()}/bookings"
        counts = Counts(svc.store.engine)
        rows: dict[str, list[dict[str, float]]] = {"fill": [], "measured": []}
        codes: Counter[int] = Counter()
        print(f"{svc.store.engine.dialect.name}: booking {len(bodies)} requests ...", flush=True)
        t0 = time.perf_counter()
        for k, b in enumerate(bodies):
            before = counts.snapshot()
            counts.sql.clear()
            t, cpu = time.perf_counter(), time.process_time()
            r = client.post(path, json=b, headers=portal)
            ms = 1000 * (time.perf_counter() - t)
            cpu_ms = 1000 * (time.process_time() - cpu)
            phase = "fill" if k < args.bookings else "measured"
            rows[phase].append(
                {**per_booking(before, counts.snapshot(), counts), "ms": ms, "cpu ms": cpu_ms}
            )
            if phase == "measured":
                codes[r.status_code] += 1
    accepted = codes[201]
    print()
    print(
        f"database {settings.resolved_database_url().split('://')[0]}, {args.vehicles} vehicles, "
        f"seed {args.seed}; {args.measure} bookings measured after {args.bookings} "
        f"({accepted} promises, {codes[409]} refusals, "
        f"{sum(codes.values()) - accepted - codes[409]} other); {time.perf_counter() - t0:.0f} s"
    )
    print(table(rows["measured"]))
    if args.show_sql:
        print(f"\nthe statements of the last booking ({r.status_code}):")
        print("\n".join(f"  {q}" for q in counts.sql))
    return 0


def table(rows: Sequence[dict[str, float]]) -> str:
    head = f"{'per booking':<14}|" + "|".join(f" {f:>12} " for f in FIELDS)
    out = [head, "-" * len(head)]
    for name, fn in (
        ("mean", statistics.fmean),
        ("p50", lambda xs: percentile(xs, 0.5)),
        ("p95", lambda xs: percentile(xs, 0.95)),
        ("max", max),
    ):
        cells = [fn([r[f] for r in rows]) if rows else float("nan") for f in FIELDS]
        out.append(f"{name:<14}|" + "|".join(f" {c:>12.1f} " for c in cells))
    return "\n".join(out)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.roundtrips",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--database-url", help="SQLAlchemy URL (default: SQLite, temporary folder)")
    ap.add_argument("--bookings", type=int, default=300, help="bookings before those counted")
    ap.add_argument("--measure", type=int, default=50, help="bookings counted")
    ap.add_argument("--vehicles", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--show-sql", action="store_true", help="the statements of the last booking")
    args = ap.parse_args(argv)
    if args.bookings < 0 or args.measure < 1 or args.vehicles < 1:
        ap.error("--bookings must be >= 0, --measure and --vehicles >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
