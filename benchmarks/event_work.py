"""Benchmark: an event's own work at the service (issue 14), without HTTP nor other clients:
what ``Operations.post`` costs for a position ping and for a boarding or a drop-off, the wait
for the day's lock aside (``benchmarks.events`` measures the whole over HTTP).

A fleet of ``--vehicles`` (20) and ``--fill`` bookings (100) on a future service day, in a
temporary SQLite database; then ``--pings`` position pings per vehicle (a point near its
route, the day-time moving on 10 s per ping), then the first ``--stops`` visits of each route
as ``boarded`` / ``dropped_off`` events in the route's order. Prints p50, p95 and max per kind.

    python -m benchmarks.event_work
    python -m benchmarks.event_work --vehicles 20 --fill 100 --pings 10 --stops 6
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

from benchmarks.api import booking_bodies, fleet_bodies, percentile
from dispatcher.errors import DispatcherError
from dispatcher.service.app import Service
from dispatcher.service.context import Context
from dispatcher.service.settings import Settings
from dispatcher.store import KeyInfo

OPERATOR = KeyInfo(1, "operator", "benchmark", "")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vehicles", type=int, default=20)
    ap.add_argument("--fill", type=int, default=100)
    ap.add_argument("--pings", type=int, default=10)
    ap.add_argument("--stops", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dispatcher-events-") as tmp:
        settings = Settings(database_url=f"sqlite:///{Path(tmp) / 'd.db'}", solver_processes=False)
        svc = Service(Context(settings))
        try:
            times = _run(svc, a)
        finally:
            svc.close()
    print("| what | n | p50 ms | p95 ms | max ms |")
    print("|---|---|---|---|---|")
    for what, xs in times.items():
        ms = [x * 1000 for x in xs]
        print(
            f"| {what} | {len(ms)} | {percentile(ms, 0.5):.1f} | {percentile(ms, 0.95):.1f} "
            f"| {max(ms, default=float('nan')):.1f} |"
        )
    return 0


def _run(svc: Service, a: argparse.Namespace) -> dict[str, list[float]]:
    day = date.today() + timedelta(days=9)
    svc.days.put(day, "open")
    fleet = fleet_bodies(a.vehicles, max(1, a.vehicles // 4), a.seed)
    for v in fleet:
        svc.fleet.put(v)
    bodies = booking_bodies(a.fill, a.seed)
    ids = {b["id"] for b in bodies}
    for b in bodies:
        if b.get("return_of") and b["return_of"] not in ids:
            b = {k: v for k, v in b.items() if k != "return_of"}
        svc.bookings.book(day, b, OPERATOR)
    tz = ZoneInfo("Europe/Paris")

    def iso(t: int) -> str:
        return datetime.combine(day, dtime(t // 3600, t % 3600 // 60, t % 60), tz).isoformat()

    def timed(vid: str, body: dict[str, object], into: list[float]) -> None:
        t0 = time.perf_counter()
        with contextlib.suppress(DispatcherError):  # a refused event: timed as well
            svc.operations.post(day, vid, body, OPERATOR)
        into.append(time.perf_counter() - t0)

    pings: list[float] = []
    stops: list[float] = []
    for n in range(1, a.pings + 1):
        for k, v in enumerate(fleet):
            body = {
                "event_id": f"{v['id']}-{n}",
                "type": "position",
                "time": iso(6 * 3600 + n * 10),
                "lon": 2.65 + 0.001 * (k % 10),
                "lat": 50.0 + 0.001 * n,
            }
            timed(v["id"], body, pings)
    plan, _, _ = svc.operations.current(day)
    for rt in plan.routes:
        for j, x in enumerate(rt.visits[: a.stops]):
            body = {
                "event_id": f"stop-{rt.vehicle_id}-{j}",
                "type": "boarded" if x.kind == "pickup" else "dropped_off",
                "time": iso(x.start_s),
                "request_id": x.request_id,
            }
            timed(rt.vehicle_id, body, stops)
    return {"event (position)": pings, "event (boarded, dropped_off)": stops}


if __name__ == "__main__":
    raise SystemExit(main())
