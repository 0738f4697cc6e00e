"""The day simulator: a planned day replayed event by event, as the vehicles would live it, with
the events sent through the same service code path as the API (``Service.operations.post``), and
what the riders live measured.

* Travel times: each leg driven takes the matrix time times a lognormal factor of median 1 and
  log-standard deviation ``noise`` (default 0.10: about two legs in three within ±10 %; the mean
  factor is exp(noise²/2), 1.005 at 0.10). Drawn per leg, seeded.
* A driver waits for the start of a pickup's window, boards the party (a no-show with
  probability ``no_show``, default 5 %), drops it off on arrival; when it is more than 5
  minutes behind its plan on leaving a stop, it declares the delay (a ``delayed`` event).
* Breakdowns (``breakdowns``, default 0): vehicles chosen at random become unavailable at a
  random time of their route.
* Each vehicle follows its route as the stored live plan says it at that moment: a re-planning
  after an event (a request handed to another vehicle, a relay) is driven as it is decided, also
  by a vehicle waiting at a stop for its window to open (it looks at its route every minute: a
  stop put before the one it waits at is driven to at once).

Measured (what the riders live): the share of promises kept (picked up within the promised
window and dropped off by the promised latest arrival; no-shows left out, refusals after a promise
count as broken), the lateness beyond the promise (p50, p90, max, minutes, over the riders
carried), the refusals after a promise, and the kilometres driven beyond the plan's.

The day is held in a throw-away SQLite database of its own; the clock is the simulation's.
"""

from __future__ import annotations

import heapq
import math
import random
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from dispatcher.io.plan import plan_to_dict
from dispatcher.io.problem import problem_to_dict
from dispatcher.io.times import format_time
from dispatcher.model import Plan, Problem
from dispatcher.service.app import Service
from dispatcher.service.context import Context
from dispatcher.service.promises import promise_in
from dispatcher.service.settings import Settings
from dispatcher.store import KeyInfo
from dispatcher.store.models import RequestRow

DEFAULT_DAY = date(2026, 12, 3)
OPERATOR = KeyInfo(0, "operator", "simulator", "")
DELAY_DECLARED_S = 300
LOOK_AGAIN_S = 60  # an idle vehicle, or one waiting at a stop for its window, looks at its
# live route again this often (a re-planning may have put a stop before)


@dataclass(frozen=True)
class SimParams:
    seed: int = 0
    noise: float = 0.10
    no_show: float = 0.05
    breakdowns: int = 0
    replan: bool = True


@dataclass(frozen=True)
class SimResult:
    params: SimParams
    promised: int
    kept: int
    no_shows: int
    refused_after_promise: int
    lateness_min: tuple[float, ...]  # per rider carried
    planned_km: float
    driven_km: float
    events: int
    event_ms: tuple[float, ...]

    @property
    def kept_share(self) -> float:
        counted = self.promised - self.no_shows
        return self.kept / counted if counted else 1.0

    def row(self) -> dict[str, Any]:
        late = sorted(self.lateness_min)
        return {
            "seed": self.params.seed,
            "re-planning": "yes" if self.params.replan else "no",
            "promises": self.promised,
            "kept %": round(100 * self.kept_share, 1),
            "late p50": round(_pct(late, 50), 1),
            "late p90": round(_pct(late, 90), 1),
            "late max": round(late[-1] if late else 0.0, 1),
            "no-shows": self.no_shows,
            "refused after promise": self.refused_after_promise,
            "extra km": round(self.driven_km - self.planned_km, 1),
            "events": self.events,
        }


def _pct(xs: Sequence[float], q: float) -> float:
    if not xs:
        return 0.0
    k = max(0, min(len(xs) - 1, math.ceil(q / 100 * len(xs)) - 1))
    return float(sorted(xs)[k])


class SimClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def _seed_day(svc: Service, day: date, problem: Problem, plan: Plan) -> None:
    """The planned day stored as a real-time day: its requests accepted with their promises."""
    store = svc.ctx.store
    store.put_day(day, "open")
    with store.lock_day(day) as (s, row):
        for r in problem.requests:
            got = promise_in(problem, plan, r.id)
            s.add(
                RequestRow(
                    day=day,
                    request_id=r.id,
                    source="batch",
                    status="accepted" if got is not None else "refused",
                    data={"id": r.id, "phone": r.phone} if r.phone else {"id": r.id},
                    promise=None if got is None else got.to_dict(),
                )
            )
        store.live.write(s, row, plan_to_dict(plan, problem), problem_to_dict(problem))
        row.version += 1


def simulate(
    problem: Problem, plan: Plan, params: SimParams, workdir: Path | None = None
) -> SimResult:
    """Replay ``plan`` of ``problem`` event by event (see the module doc)."""
    day = problem.day or DEFAULT_DAY
    if problem.day is None:
        problem = replace(problem, day=day)
    tz = ZoneInfo(problem.timezone)
    rng = random.Random(params.seed)
    midnight = datetime.combine(day, datetime.min.time(), tzinfo=tz)
    clock = SimClock(midnight)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        settings = Settings(
            database_url=f"sqlite:///{Path(tmp) / 'sim.db'}",
            solver_processes=False,
            timezone=problem.timezone,
            replan_after_events=params.replan,
        )
        svc = Service(Context(settings, clock=clock))
        try:
            return _run(svc, day, problem, plan, params, rng, clock, midnight)
        finally:
            svc.close()


@dataclass
class _Driving:
    """What the simulation sends and records: the events (through the service, at the
    simulation's clock), who was picked up, dropped off, absent."""

    svc: Service
    day: date
    tz: str
    clock: SimClock
    midnight: datetime
    rng: random.Random
    params: SimParams
    n: int = 0
    times: list[float] = field(default_factory=list)
    picked: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    no_shows: set[str] = field(default_factory=set)

    def post(self, vid: str, t: int, typ: str, **kw: Any) -> bool:
        self.clock.at = self.midnight + timedelta(seconds=t)
        self.n += 1
        body = {
            "event_id": f"sim-{self.n}",
            "type": typ,
            "time": format_time(t, self.day, self.tz),
            **kw,
        }
        t0 = time.perf_counter()
        try:
            self.svc.operations.post(self.day, vid, body, OPERATOR)
        except Exception:  # a refused event (e.g. the vehicle broke down meanwhile)
            return False
        finally:
            self.times.append((time.perf_counter() - t0) * 1000)
        return True

    def visit(
        self,
        vid: str,
        x: Any,
        start: int,
        live_problem: Problem,
        state: Any,
        todo: list[Any],
        declared_s: int,
    ) -> int:
        """Do visit ``x`` at ``start`` (a boarding, a no-show or a drop-off); when leaving it
        more than 5 minutes behind the plan for the next stop, the driver says so. When the
        vehicle is free again."""
        r = live_problem.request(x.request_id)
        carried = state.relays.get(x.request_id, x.request_id)
        if x.kind == "pickup":
            if self.rng.random() < self.params.no_show and not x.request_id.endswith("~relais"):
                self.post(vid, start, "no_show", request_id=x.request_id)
                self.no_shows.add(x.request_id)
                done_at = start
            else:
                self.post(
                    vid,
                    start,
                    "boarded",
                    request_id=x.request_id,
                    passengers=r.seats + r.wheelchairs,
                )
                self.picked.setdefault(carried, start)
                done_at = start + live_problem.boarding_s(r)
        else:
            self.post(vid, start, "dropped_off", request_id=x.request_id)
            self.dropped[carried] = start
            done_at = start + live_problem.alighting_s(r)
        k = todo.index(x)
        nxt = todo[k + 1] if k + 1 < len(todo) else None
        if nxt is not None:
            behind = done_at + live_problem.travel_s(x.location_id, nxt.location_id) - nxt.start_s
            if behind > DELAY_DECLARED_S and behind - declared_s > DELAY_DECLARED_S:
                self.post(vid, done_at, "delayed", delay_min=round(behind / 60, 1))
        return done_at


def _run(
    svc: Service,
    day: date,
    problem: Problem,
    plan: Plan,
    params: SimParams,
    rng: random.Random,
    clock: SimClock,
    midnight: datetime,
) -> SimResult:
    _seed_day(svc, day, problem, plan)
    promised = {r.id for r in problem.requests if promise_in(problem, plan, r.id) is not None}
    windows = {r.id: (problem.pickup_tw(r), problem.dropoff_tw(r)) for r in problem.requests}
    planned_km = sum(rt.distance_m for rt in plan.routes) / 1000
    sim = _Driving(svc, day, problem.timezone, clock, midnight, rng, params)
    post = sim.post
    # vehicles: (next free time, vehicle id); where each stands
    where: dict[str, str] = {}
    heap: list[tuple[int, int, str]] = []
    for k, v in enumerate(problem.vehicles):  # idle ones too: a re-planning may use them
        where[v.id] = v.start
        heapq.heappush(heap, (v.shift.start_s, k, v.id))
    used = [rt for rt in plan.routes if rt.visits]
    broken: dict[str, int] = {}
    for rt in rng.sample(used, min(params.breakdowns, len(used))):
        broken[rt.vehicle_id] = rng.randint(rt.start_s, max(rt.start_s, rt.end_s - 1800))
    driven_m = 0
    pending: dict[str, tuple[str, str]] = {}  # a vehicle on its way: the visit it will do
    while heap:
        t, k, vid = heapq.heappop(heap)
        live_plan, live_problem, state = svc.operations.current(day)
        vs = state.of(vid)
        if vs.unavailable_from is not None:
            continue
        if vid in broken and broken[vid] <= t:
            post(vid, broken.pop(vid), "unavailable")
            continue
        route = live_plan.route(vid)
        todo = (
            [] if route is None else [x for x in route.visits if not vs.done(x.request_id, x.kind)]
        )
        if vid in pending:  # arrived (every event is sent at the simulation's own time)
            rid, kind = pending.pop(vid)
            x = next((y for y in todo if (y.request_id, y.kind) == (rid, kind)), None)
            if x is None or x is not todo[0]:
                # handed to another vehicle meanwhile, or a stop put before it: on from here
                heapq.heappush(heap, (t, k, vid))
                continue
            r = live_problem.request(x.request_id)
            opens = live_problem.pickup_tw(r).start_s if x.kind == "pickup" else t
            if t < opens:  # waiting there for the window: looking at its route now and then
                pending[vid] = (rid, kind)
                heapq.heappush(heap, (min(opens, t + LOOK_AGAIN_S), k, vid))
                continue
            done_at = sim.visit(vid, x, t, live_problem, state, todo, vs.delay_s)
            heapq.heappush(heap, (done_at, k, vid))
            continue
        if not todo:
            end = live_problem.vehicle(vid).end
            if vs.has_events and where[vid] != end:  # back to its depot (it may leave again)
                driven_m += live_problem.travel_m(where[vid], end)
                where[vid] = end
            _park(heap, t, k, vid, live_problem.vehicle(vid).shift.end_s)
            continue
        assert route is not None
        if not vs.has_events and route.start_s > t:
            # at the depot until the route leaves (a re-planning may make it leave sooner)
            heapq.heappush(heap, (min(route.start_s, t + LOOK_AGAIN_S), k, vid))
            continue
        x = todo[0]
        leg = live_problem.travel_s(where[vid], x.location_id)
        arrive = t + int(round(leg * math.exp(rng.gauss(0.0, params.noise)))) if leg else t
        if vid in broken and broken[vid] <= arrive:
            heapq.heappush(heap, (max(t, broken[vid]), k, vid))
            continue
        driven_m += live_problem.travel_m(where[vid], x.location_id)
        where[vid] = x.location_id
        pending[vid] = (x.request_id, x.kind)
        heapq.heappush(heap, (arrive, k, vid))

    return _measure(
        svc,
        day,
        params,
        promised,
        windows,
        sim.picked,
        sim.dropped,
        sim.no_shows,
        planned_km,
        driven_m,
        sim.n,
        sim.times,
    )


def _park(heap: list[tuple[int, int, str]], t: int, k: int, vid: str, shift_end: int) -> None:
    """An idle vehicle looks again later (a re-planning may hand it a trip) while others still
    drive, within its shift."""
    later = max(t + LOOK_AGAIN_S, heap[0][0]) if heap else t
    if heap and later <= shift_end:
        heapq.heappush(heap, (later, k, vid))


def _measure(
    svc: Service,
    day: date,
    params: SimParams,
    promised: set[str],
    windows: dict[str, Any],
    picked: dict[str, int],
    dropped: dict[str, int],
    no_shows: set[str],
    planned_km: float,
    driven_m: int,
    events: int,
    times: list[float],
) -> SimResult:
    """What the riders lived, from the simulated times and the stored requests."""
    rows = {r["id"]: r for r in svc.ctx.store.list_requests(day)}
    refused = sum(
        1
        for rid in promised
        if rows[rid]["status"] == "refused"
        and ((rows[rid].get("refusal") or {}).get("details") or {}).get("after_promise")
    )
    kept = 0
    lateness: list[float] = []
    for rid in promised:
        if rid in no_shows or rid not in picked or rid not in dropped:
            continue
        ptw, dtw = windows[rid]
        late = max(0, picked[rid] - ptw.end_s, dropped[rid] - dtw.end_s)
        lateness.append(late / 60)
        kept += late == 0
    return SimResult(
        params=params,
        promised=len(promised),
        kept=kept,
        no_shows=len(no_shows & promised),
        refused_after_promise=refused,
        lateness_min=tuple(lateness),
        planned_km=planned_km,
        driven_km=driven_m / 1000,
        events=events,
        event_ms=tuple(times),
    )


# the table's headers for a person (SimResult.row's keys are English)
HEADERS_FR = {
    "seed": "graine",
    "re-planning": "re-planification",
    "promises": "promesses",
    "kept %": "tenues %",
    "late p50": "retard p50 (min)",
    "late p90": "retard p90 (min)",
    "late max": "retard max (min)",
    "no-shows": "absents",
    "refused after promise": "refus après promesse",
    "extra km": "km en plus",
    "events": "événements",
}
VALUES_FR = {"yes": "oui", "no": "non"}


def print_table(rows: Sequence[dict[str, Any]], lang: str = "en") -> str:
    """The rows as a Markdown table (also what the command prints: French with ``lang="fr"``,
    decimal commas too)."""
    if not rows:
        return ""
    head = list(rows[0])

    def cell(v: Any) -> str:
        if lang != "fr":
            return str(v)
        if isinstance(v, float):
            return f"{v}".replace(".", ",")
        return VALUES_FR.get(str(v), str(v))

    names = [HEADERS_FR.get(h, h) for h in head] if lang == "fr" else head
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell(r[h]) for h in head) + " |" for r in rows]
    return "\n".join(lines)


__all__ = ["SimParams", "SimResult", "print_table", "simulate"]
