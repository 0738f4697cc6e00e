"""Benchmark of tickets: issuing a trip ticket's signed code and checking it, offline (the pure
functions of ``dispatcher.fares.tickets``, what a driver's device does) and at the service (the
signed code plus the store: ``Tickets.issue`` in a transaction of its own, ``Tickets.check``
with its record, on SQLite in a temporary folder). Prints p50, p95, p99 and max per operation in
milliseconds. The issue's aim: p95 under 1 ms for issuing and for checking.

    python -m benchmarks.tickets [--n 2000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path

from dispatcher.fares import load_fare_rules, trip_fare
from dispatcher.fares.tickets import Claim, TicketState, check_code, make_code, new_serial, qr_svg
from dispatcher.service.context import Context
from dispatcher.service.settings import Settings
from dispatcher.service.tickets import Tickets
from dispatcher.store.models import ServiceDay


def _times(n: int, op: Callable[[int], object]) -> list[float]:
    out = []
    for i in range(n):
        t = time.perf_counter()
        op(i)
        out.append((time.perf_counter() - t) * 1000.0)
    return out


def _row(name: str, ms: Sequence[float]) -> str:
    q = statistics.quantiles(ms, n=100)
    return (
        f"| {name} | {len(ms)} | {statistics.median(ms):.3f} | {q[94]:.3f} | {q[98]:.3f} "
        f"| {max(ms):.3f} |"
    )


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="tickets issued and checked")
    ap.add_argument("--database-url", help="default: SQLite in a temporary folder")
    args = ap.parse_args(argv)
    key = b"benchmark key of 32 bytes, fixed"
    day = date.today() + timedelta(days=3)
    rules = load_fare_rules()
    fare = trip_fare(
        rules,
        request_id="r",
        category="full",
        product="single",
        seats=1,
        wheelchairs=0,
        distance_m=12_000,
        zones=("a", "a"),
    )
    rows = [
        "| operation | n | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    # offline: the pure functions
    claims = [Claim("T", new_serial(), day, 1) for _ in range(args.n)]
    codes: list[str] = []
    rows.append(
        _row(
            "issue a code (offline: serial + HMAC)",
            _times(
                args.n, lambda i: codes.append(make_code(key, Claim("T", new_serial(), day, 1)))
            ),
        )
    )
    states = {c.serial: TicketState() for c in claims}
    signed = [make_code(key, c) for c in claims]
    rows.append(
        _row(
            "check a code (offline: HMAC + state)",
            _times(args.n, lambda i: check_code(key, signed[i], day, states.get)),
        )
    )
    rows.append(
        _row("QR code of a code (SVG)", _times(min(args.n, 300), lambda i: qr_svg(signed[i])))
    )
    # at the service: the store too
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        ctx = Context(Settings(database_url=url, state_dir=Path(tmp), ticket_key="bench"))
        with ctx.store.write() as s:
            s.merge(ServiceDay(day=day, status="open"))
        t = Tickets(ctx)
        issued: list[str] = []

        def issue(i: int) -> None:
            with ctx.store.write() as s:
                issued.append(t.issue(s, day, f"b{i}", fare, None)["code"])

        rows.append(
            _row("issue a ticket (service: code + insert, committed)", _times(args.n, issue))
        )
        with ctx.store.write() as s:  # a request booked again: its earlier ticket looked for
            inside = _times(args.n, lambda i: t.issue(s, day, f"x{i}", fare, None))
        rows.append(_row("issue a ticket in the booking's transaction (no commit)", inside))

        def fresh(i: int) -> None:  # as a new booking does: nothing to look for, insert flushed
            t.issue(s, day, f"y{i}", fare, None, fresh=True)
            s.flush()

        with ctx.store.write() as s:
            inside = _times(args.n, fresh)
        rows.append(_row("the same for a new booking (no lookup; insert flushed)", inside))
        rows.append(
            _row(
                "check a ticket (service: code + row lock + record, committed)",
                _times(args.n, lambda i: t.check(issued[i], day)),
            )
        )
        ctx.store.close()
    print("\n".join(rows))


if __name__ == "__main__":
    main()
