"""Benchmark: vehicles' events over HTTP while bookings arrive (issue 14), on its own server
(``benchmarks.api.OwnServer``: SQLite in a temporary folder, or ``--database-url``).

A fleet of ``--vehicles`` (20) is put, a future service day opened and ``--fill`` bookings made
(so that every route has stops); then, for ``--duration`` seconds, every vehicle sends a position
ping every ``--interval`` (10) seconds (a point near its route, a day-time that moves on 10 s per
ping), each from its own client thread, while one client books the next ``--measure`` requests
one after the other. Prints the latency of an event and of a booking as the client sees it
(p50, p95, p99, max). The issue's aims: an event's p95 at most 50 ms, a booking's at most 100 ms.

    python -m benchmarks.events
    python -m benchmarks.events --vehicles 20 --interval 10 --duration 60 --fill 100 --measure 60
"""

from __future__ import annotations

import argparse
import math
import threading
import time
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from datetime import time as dtime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from benchmarks.api import OwnServer, booking_bodies, fleet_bodies, free_day, ok, percentile


def _row(name: str, xs: Sequence[float], statuses: Sequence[int], aim: float) -> dict[str, Any]:
    ms = [x * 1000 for x in xs]
    return {
        "what": name,
        "n": len(ms),
        "statuses": ",".join(f"{c}x{statuses.count(c)}" for c in sorted(set(statuses))),
        "p50 ms": round(percentile(ms, 0.5), 1),
        "p95 ms": round(percentile(ms, 0.95), 1),
        "p99 ms": round(percentile(ms, 0.99), 1),
        "max ms": round(max(ms), 1) if ms else math.nan,
        "aim p95 ms": aim,
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vehicles", type=int, default=20)
    ap.add_argument("--interval", type=float, default=10.0)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--fill", type=int, default=100)
    ap.add_argument("--measure", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--database-url", default=None)
    a = ap.parse_args(argv)
    bodies = booking_bodies(a.fill + a.measure, a.seed)
    fleet = fleet_bodies(a.vehicles, max(1, a.vehicles // 4), a.seed)
    with OwnServer(a.database_url) as srv:
        srv.start()
        headers = {"X-API-Key": srv.create_key("operator")}
        op = httpx.Client(base_url=srv.url, headers=headers, timeout=60.0)
        for v in fleet:
            ok(op.put(f"/v1/vehicles/{v['id']}", json=v), "PUT vehicle")
        day = free_day(op, date.today() + timedelta(days=7))
        d = day.isoformat()
        ok(op.put(f"/v1/days/{d}", json={"note": "benchmark events"}), "PUT day")
        booked = {b["id"] for b in bodies}
        for b in bodies[: a.fill]:
            if b.get("return_of") and b["return_of"] not in booked:
                b = {k: v for k, v in b.items() if k != "return_of"}
            op.post(f"/v1/days/{d}/bookings", json=b)
        ok(op.get(f"/v1/days/{d}/plan"), "GET plan")
        tz = ZoneInfo("Europe/Paris")
        stop = time.monotonic() + a.duration
        ev_lat: list[float] = []
        ev_st: list[int] = []
        lock = threading.Lock()

        def pinger(k: int, vid: str) -> None:
            c = httpx.Client(base_url=srv.url, headers=headers, timeout=60.0)
            n = 0
            next_at = time.monotonic() + (k * a.interval / max(1, a.vehicles))
            while time.monotonic() < stop:
                time.sleep(max(0.0, next_at - time.monotonic()))
                n += 1
                t = 7 * 3600 + n * int(a.interval)  # the day's time moves on per ping
                when = datetime.combine(day, dtime(t // 3600, t % 3600 // 60, t % 60), tz)
                body = {
                    "event_id": f"{vid}-{n}",
                    "type": "position",
                    "time": when.isoformat(),
                    "lon": 2.65 + 0.001 * (k % 10),
                    "lat": 50.0 + 0.001 * n,
                }
                t0 = time.perf_counter()
                r = c.post(f"/v1/days/{d}/vehicles/{vid}/events", json=body)
                with lock:
                    ev_lat.append(time.perf_counter() - t0)
                    ev_st.append(r.status_code)
                next_at += a.interval
            c.close()

        vids = [v["id"] for v in fleet]
        threads = [threading.Thread(target=pinger, args=(k, v)) for k, v in enumerate(vids)]
        for th in threads:
            th.start()
        bk_lat: list[float] = []
        bk_st: list[int] = []
        for b in bodies[a.fill :]:
            if time.monotonic() >= stop:
                break
            b = {k: v for k, v in b.items() if k != "return_of"}
            t0 = time.perf_counter()
            r = op.post(f"/v1/days/{d}/bookings", json=b)
            bk_lat.append(time.perf_counter() - t0)
            bk_st.append(r.status_code)
        for th in threads:
            th.join()
        rows = [
            _row("event (position)", ev_lat, ev_st, 50.0),
            _row("booking", bk_lat, bk_st, 100.0),
        ]
        head = list(rows[0])
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for r in rows:
            print("| " + " | ".join(str(r[h]) for h in head) + " |")
        op.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
