"""What the routes call: the store, the territory and road network, the solver, and jobs.

Thin on purpose: validation of places and times through ``dispatcher.io``, persistence through
``dispatcher.store``, planning through ``dispatcher.solver``, bookings through
``dispatcher.api.booking.book``.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import multiprocessing
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from dispatcher.api import booking as booking_mod
from dispatcher.api.settings import Settings
from dispatcher.errors import DispatcherError, InputError, NotFoundError
from dispatcher.io.geojson import plan_to_geojson
from dispatcher.io.memo import Memo
from dispatcher.io.plan import plan_from_dict, plan_to_dict
from dispatcher.io.problem import problem_from_dict, problem_from_dicts, problem_to_dict
from dispatcher.io.times import format_time
from dispatcher.model import (
    REASON_MESSAGES,
    Location,
    ObjectiveWeights,
    Plan,
    Problem,
    Reason,
    Request,
    ServiceRules,
    SolverParams,
    Vehicle,
)
from dispatcher.solver.insertion import ScreenCache
from dispatcher.solver.live import DEFAULT_REACTION_S
from dispatcher.store import ConflictError, KeyInfo, Store
from dispatcher.store.models import Job, RequestRow, utcnow

log = logging.getLogger("dispatcher.api")


def _solve(problem: Problem) -> Plan:
    """Top-level so that a process pool can run it."""
    from dispatcher.solver.routing import OrToolsSolver

    return OrToolsSolver(problem.params).solve(problem)


def _solve_live(problem: Problem, initial: dict[str, list[tuple[str, str]]], pinned: dict[str, str]) -> Plan:
    """A same-day plan from the day's current routes, done requests kept on their vehicle."""
    from dispatcher.solver.routing import OrToolsSolver

    return OrToolsSolver(problem.params).solve(problem, initial_routes=initial, pinned=pinned)


def live_job_problem(
    problem: Problem, stored_plan: Plan | None, promised: set[str], now_s: int, reaction_s: int = DEFAULT_REACTION_S
) -> tuple[Problem, list[str], dict[str, list[tuple[str, str]]] | None, dict[str, str] | None, dict[tuple[str, str], tuple[str, int]]]:
    """A plan job on the day itself: the requests not yet promised start no earlier than now +
    the reaction margin (those whose window has passed are left out, returned as too late); what
    is done in the stored plan is pinned (``dispatcher.solver.live.live_problem``), its requests
    kept on their vehicle, and the stored routes are the search's starting point.
    Returns (problem, too late ids, initial routes, pins, done visits -> (vehicle, start))."""
    from dispatcher.solver.live import bookable_from, live_problem

    earliest = now_s + reaction_s
    reqs = []
    too_late: list[str] = []
    for r in problem.requests:
        if r.id in promised:
            reqs.append(r)
            continue
        b = bookable_from(r, earliest)
        if b is None:
            too_late.append(r.id)
        else:
            reqs.append(b)
    gone = set(too_late)
    reqs = [replace(r, return_of=None) if r.return_of in gone else r for r in reqs]
    problem = replace(problem, requests=tuple(reqs))
    if stored_plan is None:
        return problem, too_late, None, None, {}
    ids = {r.id for r in problem.requests}
    fleet = {v.id for v in problem.vehicles}
    old = Plan(routes=tuple(replace(rt, visits=tuple(v for v in rt.visits if v.request_id in ids))
                            for rt in stored_plan.routes if rt.vehicle_id in fleet))
    problem = live_problem(problem, old, now_s, reaction_s)
    done = {(v.request_id, v.kind): (rt.vehicle_id, v.start_s) for rt in old.routes for v in rt.visits if v.start_s < now_s}
    pinned = {r: vid for (r, _k), (vid, _t) in done.items()}
    initial = {rt.vehicle_id: [(v.request_id, v.kind) for v in rt.visits] for rt in old.routes}
    return problem, too_late, initial, pinned, done


def _dict_key(d: Any) -> str:
    return json.dumps(d, sort_keys=True, separators=(",", ":"), default=str)


@dataclass
class _Compiled:
    """What a full compile of a day resolved, to compile the next request lists of that day
    without resolving every place and computing the matrices again: the requests by their dict,
    the fleet (by the dicts it came from), and the matrices of every place seen."""

    vehicles_key: str
    vehicles: tuple[Vehicle, ...]
    vehicle_places: tuple[tuple[Location, ...], ...]  # per vehicle, in compile order
    index: dict[str, int]  # location id -> row of the matrices
    duration_s: Any
    distance_m: Any
    requests: dict[str, tuple[Request, Location, Location]] = field(default_factory=dict)
    keys: dict[int, tuple[object, str]] = field(default_factory=dict)  # id(dict) -> (the dict, its key)

    def key(self, d: Any) -> str:
        """``_dict_key(d)``, remembered by the dict's identity: the day's accepted request dicts
        are the same objects from one booking to the next (held with the day's version), and
        request dicts are never changed once given to a compile."""
        got = self.keys.get(id(d))
        if got is not None and got[0] is d:
            return got[1]
        k = _dict_key(d)
        if len(self.keys) > _MAX_REMEMBERED_REQUESTS:
            self.keys.clear()
        self.keys[id(d)] = (d, k)
        return k


_MAX_REMEMBERED_REQUESTS = 20_000


_DAYS_KEPT = 14  # days whose write memo and route screens a server keeps (the most recently opened)


def _per_day(held: dict[date, Any], day: date, make: Callable[[], Any]) -> Any:
    """``held[day]``, made on first use; the oldest day is let go beyond ``_DAYS_KEPT`` (a server
    runs for months: what helps the next booking of a day need not outlive the day)."""
    got = held.get(day)
    if got is None:
        got = held[day] = make()
        while len(held) > _DAYS_KEPT:
            del held[next(iter(held))]
    return got


@dataclass(frozen=True)
class _Held:
    """A day's live state as committed at ``version``, held in this process's memory: the plan,
    the live problem, and the accepted request dicts in the store's order (None: read them)."""

    version: int
    plan: Plan
    problem: Problem
    accepted: list[dict[str, Any]] | None = None


def _rewhere(e: InputError, old: str, new: str) -> InputError:
    where = new + e.where[len(old):] if e.where.startswith(old) else (f"{new}.{e.where}" if e.where else new)
    return type(e)(e.message, where)


class Dispatch:
    """The application's services, one per app."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = Store(settings.resolved_database_url(), migrate=settings.migrate_on_start)
        self.tz = settings.timezone
        self._jobs: Executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="dispatcher-job")
        self._solver_pool: Executor | None = None
        self._pool_lock = threading.Lock()
        # in process memory: each day's live (plan, problem) at the version that stored it, its
        # GeoJSON view, and what compiling its requests resolved (see ``compiler``)
        self._memory_lock = threading.Lock()
        self._days: dict[date, _Held] = {}
        self._memos: dict[date, Memo] = {}
        self._screen_caches: dict[date, ScreenCache] = {}
        self._geojson: dict[date, tuple[int, dict[str, Any]]] = {}
        self._geojson_build = threading.Lock()
        self._compiled: dict[date, _Compiled] = {}
        self.interrupted_jobs = self.store.fail_interrupted_jobs()

    def close(self) -> None:
        self._jobs.shutdown(wait=False, cancel_futures=True)
        if self._solver_pool is not None:
            self._solver_pool.shutdown(wait=False, cancel_futures=True)
        self.store.close()

    # ---- places and problems ------------------------------------------------------------------
    @cached_property
    def territory(self) -> Any:
        from dispatcher.territory import Territory

        keys = [k.strip() for k in self.settings.territory.split(",")] if self.settings.territory else None
        return Territory.load(keys)

    @cached_property
    def network(self) -> Any:
        from dispatcher.graph import RoadNetwork

        return RoadNetwork.default()

    def warm_up(self) -> None:
        _ = self.territory, self.network

    def compiler(self, day: date) -> Any:
        def compile_(reqs: Sequence[Mapping[str, Any]], vehicles: Sequence[Mapping[str, Any]], params: SolverParams) -> Problem:
            # A return trip stays bookable when its outbound is cancelled or not planned: the link
            # is kept only between requests of this problem.
            ids = {str(d.get("id")) for d in reqs}
            reqs = [d if d.get("return_of") in (None, "") or str(d["return_of"]) in ids else {**d, "return_of": None} for d in reqs]
            fast = self._compile_known(day, reqs, vehicles, params)
            if fast is not None:
                return fast
            problem = problem_from_dicts(reqs, vehicles, self.territory, self.network, day=day, timezone=self.tz, params=params)
            self._remember_compiled(day, reqs, vehicles, problem)
            return problem

        return compile_

    def _remember_compiled(self, day: date, reqs: Sequence[Mapping[str, Any]], vehicles: Sequence[Mapping[str, Any]], problem: Problem) -> None:
        try:
            places = tuple(
                tuple(problem.location(x) for x in (v.start, v.end, *(() if v.home is None else (v.home,)), *v.allowed_stops))
                for v in problem.vehicles
            )
            c = _Compiled(_dict_key(list(vehicles)), problem.vehicles, places, {loc.id: i for i, loc in enumerate(problem.locations)},
                          problem.duration_s, problem.distance_m)
            for d, r in zip(reqs, problem.requests, strict=True):
                c.requests[_dict_key(d)] = (r, problem.location(r.pickup), problem.location(r.dropoff))
        except Exception:  # nothing to remember (never fails a compile)
            log.debug("compile of %s not remembered", day, exc_info=True)
            return
        self._compiled[day] = c

    def _compile_known(self, day: date, reqs: Sequence[Mapping[str, Any]], vehicles: Sequence[Mapping[str, Any]],
                       params: SolverParams) -> Problem | None:
        """The Problem ``problem_from_dicts`` would compile, built from what an earlier compile of
        the day resolved: the same fleet, every place already in its matrices (the matrices are
        pairwise shortest paths, so the rows and columns of the places used, in first-use order,
        are what a fresh compile computes); None when that is not the case."""
        import numpy as np

        from dispatcher.io.problem import request_from_dict, resolve_place

        c = self._compiled.get(day)
        if c is None or _dict_key(list(vehicles)) != c.vehicles_key:
            return None
        if len(c.requests) > _MAX_REMEMBERED_REQUESTS:
            self._compiled.pop(day, None)
            return None
        order: dict[str, Location] = {}
        out: list[Request] = []
        fresh: set[str] = set()  # requests not compiled before: validated in full below
        for k, d in enumerate(reqs):
            key = c.key(d)
            got = c.requests.get(key)
            if got is None:
                try:
                    r = request_from_dict(d, f"requests[{k}]", day, self.tz)
                    pick = resolve_place(r.pickup, self.territory, f"requests[{k}].pickup")
                    drop = resolve_place(r.dropoff, self.territory, f"requests[{k}].dropoff")
                except Exception:  # the full compile says what is wrong, and where
                    return None
                if pick.id not in c.index or drop.id not in c.index:
                    return None  # a new place: the matrices need its row
                got = (replace(r, pickup=pick.id, dropoff=drop.id), pick, drop)
                fresh.add(r.id)
            r, pick, drop = got
            order.setdefault(pick.id, pick)
            order.setdefault(drop.id, drop)
            out.append(r)
        for places in c.vehicle_places:
            for loc in places:
                order.setdefault(loc.id, loc)
        rows = [c.index[i] for i in order]
        sel = np.ix_(rows, rows)
        problem = Problem(
            locations=tuple(order.values()),
            duration_s=np.asarray(c.duration_s)[sel],
            distance_m=np.asarray(c.distance_m)[sel],
            requests=(),
            vehicles=c.vehicles,
            rules=ServiceRules(),
            weights=ObjectiveWeights(),
            params=params,
            day=day,
            timezone=self.tz,
        )
        try:
            problem = problem.with_requests(out, fresh)
        except InputError:
            return None  # the full compile says what is wrong, and where
        for k, d in enumerate(reqs):  # remembered once valid
            if out[k].id in fresh:
                c.requests.setdefault(c.key(d), (out[k], problem.location(out[k].pickup), problem.location(out[k].dropoff)))
        return problem

    def validate_requests(self, day: date, dicts: Sequence[Mapping[str, Any]], where: str) -> None:
        """Every field, place and time of these requests, or an InputError naming the first bad one.

        Each request is compiled alone; its ``return_of`` link must name a request of the same
        batch or one already stored for the day.
        """
        batch_ids = {str(d.get("id")) for d in dicts if isinstance(d, Mapping)}
        links = {str(d["return_of"]) for d in dicts if isinstance(d, Mapping) and d.get("return_of") not in (None, "")}
        stored_ids = self.store.request_ids(day, sorted(links - batch_ids)) if links - batch_ids else set()
        for k, d in enumerate(dicts):
            at = f"{where}[{k}]" if where.endswith("requests") else where
            link = d.get("return_of") if isinstance(d, Mapping) else None
            if link not in (None, "") and str(link) not in batch_ids and str(link) not in stored_ids:
                raise InputError(f"unknown request {link!r} (not in this batch nor on {day.isoformat()})", f"{at}.return_of")
            if link not in (None, ""):
                d = {**d, "return_of": None}
            try:
                problem_from_dicts([d], [], self.territory, self.network, day=day, timezone=self.tz)
            except InputError as e:
                raise _rewhere(e, "requests[0]", f"{where}[{k}]" if len(dicts) > 1 or where.endswith("requests") else where) from None
            except (ValueError, TypeError, OverflowError) as e:
                raise InputError(f"invalid value: {e}", f"{where}[{k}]" if where.endswith("requests") else where) from None
            self.check_not_past(day, d, f"{where}[{k}]" if where.endswith("requests") else where)

    def validate_vehicle(self, d: Mapping[str, Any], where: str) -> None:
        try:
            problem_from_dicts([], [d], self.territory, self.network, timezone=self.tz)
        except InputError as e:
            raise _rewhere(e, "vehicles[0]", where) from None
        except (ValueError, TypeError, OverflowError) as e:
            raise InputError(f"invalid value: {e}", where) from None

    def now_local(self) -> datetime:
        return datetime.now(ZoneInfo(self.tz))

    def now_s(self, day: date) -> int | None:
        """The server's clock in seconds since midnight of ``day`` (service time zone) when ``day``
        is today; None for a future day (nothing is done yet)."""
        now = self.now_local()
        if day != now.date():
            return None
        return now.hour * 3600 + now.minute * 60 + now.second

    @staticmethod
    def _stored(row: Any) -> tuple[Plan | None, Problem | None]:
        """The day's stored live plan and problem (promises in its windows), or (None, None)."""
        if row.plan_json is None or row.problem_json is None:
            return None, None
        problem = problem_from_dict(row.problem_json)
        return plan_from_dict(row.plan_json, problem), problem

    def _recall(self, day: date, version: int) -> tuple[Plan, Problem] | None:
        """The day's live (plan, problem) held in memory, if it is the one stored at ``version``."""
        got = self._held(day, version)
        return None if got is None else (got.plan, got.problem)

    def _held(self, day: date, version: int) -> _Held | None:
        with self._memory_lock:
            got = self._days.get(day)
        return got if got is not None and got.version == version else None

    def _remember(self, day: date, version: int, plan: Plan, problem: Problem,
                  accepted: list[dict[str, Any]] | None = None) -> None:
        """Hold the day's live (plan, problem) committed at ``version`` (call after the commit),
        and the accepted request dicts at that version when known (in the store's order)."""
        with self._memory_lock:
            got = self._days.get(day)
            if got is None or got.version < version:
                self._days.pop(day, None)  # re-inserted last: the most recently used day
                self._days[day] = _Held(version, plan, problem, accepted)
                while len(self._days) > _DAYS_KEPT:
                    del self._days[next(iter(self._days))]

    def _screens(self, day: date) -> ScreenCache:
        """The day's route screens, reused by its next booking (which runs under the day's lock)."""
        with self._memory_lock:
            return _per_day(self._screen_caches, day, ScreenCache)

    def _memo(self, day: date) -> Memo:
        """What writing the day's live plan and problem reuses from the last write."""
        with self._memory_lock:
            return _per_day(self._memos, day, Memo)

    def check_day_open(self, day: date) -> None:
        status = self.store.day_status(day)
        if status is None:
            days = self.store.service_days()
            listed = ", ".join(days) if days else "none yet"
            raise InputError(f"{day.isoformat()} is not in the service calendar (open days: {listed})", "day")
        if status != "open":
            raise InputError(f"{day.isoformat()} is closed for bookings", "day")
        if day < self.now_local().date():
            raise InputError(f"{day.isoformat()} is in the past", "day")

    def check_not_past(self, day: date, d: Mapping[str, Any], where: str) -> None:
        now = self.now_local()
        if day > now.date():
            return
        if day < now.date():
            raise InputError(f"{day.isoformat()} is in the past", "day")
        from dispatcher.io.problem import request_from_dict

        r = request_from_dict(d, where, day, self.tz)
        now_s = now.hour * 3600 + now.minute * 60 + now.second
        last = r.pickup_window.end_s if r.pickup_window is not None else r.arrive_by_s
        if last is not None and last < now_s:
            field = "pickup_window.end" if r.pickup_window is not None else "arrive_by"
            raise InputError(f"{format_time(last, day, self.tz)} is in the past (now {now.strftime('%H:%M')})", f"{where}.{field}")

    # ---- requests ---------------------------------------------------------------------------------
    def submit_requests(self, day: date, dicts: Sequence[Mapping[str, Any]], key: KeyInfo, where: str = "body.requests") -> list[str]:
        if not dicts:
            raise InputError("no requests given", where)
        self.check_day_open(day)
        self.validate_requests(day, dicts, where)
        return self.store.add_requests(day, dicts, source="batch", owner=key.id)

    def cancel_request(self, day: date, request_id: str, key: KeyInfo, source: str | None = None) -> dict[str, Any]:
        owner = key.id if key.role == "portal" else None
        with self.store.lock_day(day) as (s, row):
            req = self.store.request_row(s, day, request_id)
            if req is None or (source and req.source != source) or (owner is not None and req.owner_key_id != owner):
                raise NotFoundError(f"no {source or 'request'} {request_id!r} on {day.isoformat()}", "request_id")
            if req.status == "cancelled":
                from dispatcher.store.db import request_out

                return request_out(req)
            was = req.status
            if was == "accepted" and row.plan_json is not None and row.problem_json is not None:
                plan, problem = self._stored(row)
                assert plan is not None and problem is not None
                if request_id in {r.id for r in problem.requests}:
                    problem, plan = remove_request(problem, plan, request_id, self.now_s(day))
                    memo = self._memo(day)
                    row.plan_json, row.problem_json = plan_to_dict(plan, problem, memo), problem_to_dict(problem, memo)
                    row.plan_updated_at = utcnow()
            req.status, req.updated_at = "cancelled", utcnow()
            row.version += 1
            from dispatcher.store.db import request_out

            return request_out(req)

    # ---- bookings -----------------------------------------------------------------------------------
    def book(self, day: date, d: dict[str, Any], key: KeyInfo) -> tuple[int, dict[str, Any]]:
        """A booking: 201 and the promise, 409 and the refusal (both stored), 200 for a replay."""
        self.check_day_open(day)
        self.validate_requests(day, [d], "body")
        with self.store.lock_day(day) as (s, row):
            status, body, keep = self._book_locked(s, row, day, d, key)
        # committed: the next booking of the day in this process starts from it without parsing it
        if keep is not None:
            self._remember(day, keep.version, keep.plan, keep.problem, keep.accepted)
        return status, body

    def _book_locked(self, s: Any, row: Any, day: date, d: dict[str, Any], key: KeyInfo
                     ) -> tuple[int, dict[str, Any], _Held | None]:
        """``book`` under the day's lock; also what the commit will store (to hold in memory)."""
        rid = str(d["id"])
        existing = self.store.request_row(s, day, rid)
        if existing is not None:
            if existing.source == "booking" and existing.owner_key_id == key.id and existing.data == d and existing.status == "accepted":
                return 200, {**(existing.promise or {}), "replayed": True}, None
            if not (existing.source == "booking" and existing.status in ("refused", "cancelled") and existing.owner_key_id == key.id):
                raise ConflictError(f"request {rid!r} already exists on {day.isoformat()}", "body.id")
        # under the lock the row's version is authoritative: memory holds the stored plan only
        # if this process wrote (or read) that very version
        from dispatcher.api import mobility

        got = self._held(day, row.version)
        held = None if got is None else (got.plan, got.problem)
        refusal = self._booking_rules_refusal(day, d)
        if refusal is not None:
            if existing is None:
                existing = RequestRow(day=day, request_id=rid, source="booking", data=d, owner_key_id=key.id, status="pending")
                s.add(existing)
            body = refusal.to_dict(day, self.tz)
            existing.data, existing.updated_at = d, utcnow()
            existing.status, existing.refusal, existing.promise = "refused", body, None
            row.version += 1
            return 409, body, None if got is None else replace(got, version=row.version)
        accepted = got.accepted if got is not None and got.accepted is not None else \
            [a.data for a in self.store.requests_in(s, day, ["accepted"])]
        plan, problem = held if held is not None else self._stored(row)
        state = booking_mod.DayState(
            day=day,
            accepted=accepted,
            vehicles=mobility.day_vehicles_in(self, s, day),  # the fleet, volunteers and the day's carpools
            compile=self.compiler(day),
            params=SolverParams(time_limit_s=self.settings.booking_time_limit_s),
            plan=plan,
            problem=problem,
            timezone=self.tz,
            now_s=self.now_s(day),
            screens=self._screens(day),
        )
        if not state.vehicles:
            raise InputError("the fleet is empty; add vehicles first (POST /v1/vehicles)", "vehicles")
        outcome = booking_mod.book(state, d)
        fresh_row = existing is None  # a new row comes last in the store's order
        if existing is None:
            existing = RequestRow(day=day, request_id=rid, source="booking", data=d, owner_key_id=key.id, status="pending")
            s.add(existing)
        existing.data, existing.updated_at = d, utcnow()
        if isinstance(outcome, booking_mod.Refusal):
            body = outcome.to_dict(day, self.tz)
            existing.status, existing.refusal, existing.promise = "refused", body, None
            row.version += 1
            return 409, body, None if plan is None or problem is None else _Held(row.version, plan, problem, list(accepted))
        body = outcome.to_dict()
        existing.status, existing.promise, existing.refusal = "accepted", body, None
        memo = self._memo(day)
        row.plan_json = plan_to_dict(outcome.plan, outcome.problem, memo)
        row.problem_json = problem_to_dict(outcome.problem, memo)
        row.plan_updated_at = utcnow()
        row.version += 1
        return 201, body, _Held(row.version, outcome.plan, outcome.problem, [*accepted, d] if fresh_row else None)

    def _booking_rules_refusal(self, day: date, d: Mapping[str, Any]) -> booking_mod.Refusal | None:
        """The service's booking rules (cut-off the day before, same-day notice, how far ahead)."""
        from dispatcher.io.problem import request_from_dict
        from dispatcher.model import REASON_MESSAGES, Reason
        from dispatcher.solver.live import check_booking_rules

        req = request_from_dict({**d, "return_of": None}, "body", day, self.tz)
        verdict = check_booking_rules(self.settings.booking_rules(), day, req, self.now_local())
        if verdict.ok:
            return None
        msgs = REASON_MESSAGES[Reason.BOOKING_CLOSED]
        return booking_mod.Refusal(
            request_id=str(d["id"]),
            reason=Reason.BOOKING_CLOSED,
            message=f"{msgs['fr']} {verdict.message}",
            message_en=f"{msgs['en']} {verdict.message_en}",
            details={"rule": verdict.rule},
        )

    # ---- plans and jobs ---------------------------------------------------------------------------
    def start_job(self, kind: str, day: date, params: Mapping[str, Any], key: KeyInfo) -> dict[str, Any]:
        self.store.get_day(day)
        job = self.store.create_job(kind, day, params, key.id)
        self._jobs.submit(self._run_job_safely, job["id"])
        return job

    def _pool(self) -> Executor | None:
        if not self.settings.solver_processes:
            return None
        with self._pool_lock:
            if self._solver_pool is None:
                self._solver_pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
            return self._solver_pool

    def _run_job_safely(self, job_id: str) -> None:
        try:
            self._run_job(job_id)
        except DispatcherError as e:
            self.store.update_job(job_id, status="failed", error=e.to_dict(), finished_at=utcnow())
        except Exception as e:  # a job never dies silently
            log.exception("job %s failed", job_id)
            self.store.update_job(job_id, status="failed", error={"error": type(e).__name__, "where": "job", "message": str(e)}, finished_at=utcnow())

    def _run_job(self, job_id: str) -> None:
        from dispatcher.api import mobility
        from dispatcher.store.mobility import Mobility

        self.store.update_job(job_id, status="running", started_at=utcnow())
        with self.store.read() as s:
            job = s.get(Job, job_id)
            assert job is not None
            day, kind, params, base_version = job.day, job.kind, dict(job.params), job.base_version
            rows = [r for r in self.store.requests_in(s, day, ["pending", "accepted", "refused"]) if not (r.source == "booking" and r.status == "refused")]
            dicts = [booking_mod.with_priority(r.data, booking_mod.PROMISE_PRIORITY) if r.status == "accepted" else r.data for r in rows]
            promised = [r.request_id for r in rows if r.status == "accepted"]
            vehicles = params.get("vehicles") or self.store.list_vehicles_in(s)
            stored_plan, stored_problem = self._stored(self.store.day_row(s, day))
            offer_rows, volunteer_rows = Mobility.active_offers_in(s, day), Mobility.volunteers_in(s)
        sp = SolverParams(time_limit_s=float(params.get("time_limit_s", self.settings.plan_time_limit_s)), seed=int(params.get("seed", 0)))
        if not dicts:
            raise InputError(f"no requests to plan on {day.isoformat()}", "day")
        # one dispatch over the minibuses, the volunteers and the day's carpools when there are any
        extra = mobility.day_vehicle_dicts(self, day, offer_rows, volunteer_rows)
        if not vehicles and not extra:
            raise InputError("the fleet is empty; add vehicles first (POST /v1/vehicles)", "vehicles")
        problem = self.compiler(day)(dicts, [*vehicles, *extra], sp)
        # Promises are binding: the accepted requests keep the windows they were promised (stored
        # in the day's live problem), not the wider ones they asked for.
        problem = booking_mod.keep_promises(problem, stored_problem, promised)
        now_s = self.now_s(day)
        too_late: list[str] = []
        initial: dict[str, list[tuple[str, str]]] | None = None
        pinned: dict[str, str] | None = None
        done: dict[tuple[str, str], tuple[str, int]] = {}
        if now_s is not None and kind != "scenario":
            problem, too_late, initial, pinned, done = live_job_problem(problem, stored_plan, set(promised), now_s)
        pool = self._pool()
        if not problem.requests:
            plan = Plan(routes=())
        elif extra:  # carpools first for the riders who accept them (the plan answers the re-priced mixed problem)
            problem, plan = pool.submit(mobility.solve_mixed, problem).result() if pool else mobility.solve_mixed(problem)
        elif initial is not None:
            plan = pool.submit(_solve_live, problem, initial, pinned).result() if pool else _solve_live(problem, initial, pinned)
        else:
            plan = pool.submit(_solve, problem).result() if pool else _solve(problem)
        from dispatcher.solver.checker import check_plan

        report = check_plan(problem, plan)
        served = set(plan.served_ids)
        moved = [f"{r} {k}" for (r, k), (vid, t) in done.items()
                 if not any(v.request_id == r and v.kind == k and v.start_s == t for v in (plan.route(vid).visits if plan.route(vid) else ()))]
        # each promise checked on its own too (the checker judges the windows of ``problem``)
        for rid in promised:
            if stored_problem is None or rid not in served or rid not in {r.id for r in stored_problem.requests}:
                continue
            pw = stored_problem.pickup_tw(stored_problem.request(rid))
            pick = next(v.start_s for rt in plan.routes for v in rt.visits if v.request_id == rid and v.kind == "pickup")
            if not pw.contains(pick):
                moved.append(f"{rid} pickup outside its promised window")
        summary = {
            "served": len(served), "refused": len(plan.rejections) + len(too_late), "check_ok": report.ok,
            "violations": [str(v) for v in report.violations[:20]],
            "kpis": plan_to_dict(plan, problem)["kpis"], "status": plan.stats.status,
        }
        if kind == "scenario":
            self.store.update_job(job_id, status="done", result={**summary, "plan": plan_to_dict(plan, problem)}, finished_at=utcnow())
            return
        with self.store.lock_day(day) as (s, row):
            job = s.get(Job, job_id)
            assert job is not None
            job.finished_at = utcnow()
            broken = [rid for rid in promised if rid not in served]
            if row.version != base_version:
                job.status, job.error = "failed", ConflictError(
                    "the day changed while planning (requests or bookings arrived); run the job again", "day").to_dict()
                return
            if broken or moved or not report.ok:
                msg = (f"the new plan would break {len(broken)} promise(s) ({', '.join(broken[:10])}); the current plan is kept"
                       if broken else
                       f"the new plan would change what is done or promised ({', '.join(moved[:10])}); the current plan is kept"
                       if moved else "the new plan failed the independent check; the current plan is kept")
                job.status, job.error, job.result = "failed", {"error": "SolverError", "where": "plan", "message": msg}, summary
                return
            pd = plan_to_dict(plan, problem)
            row.plan_json, row.problem_json, row.plan_updated_at = pd, problem_to_dict(problem), utcnow()
            row.version += 1
            rejections = {j["request_id"]: j for j in pd["rejections"]}
            for r in rows:
                fresh = s.get(RequestRow, r.pk)
                assert fresh is not None
                fresh.updated_at = utcnow()
                if r.request_id in served:
                    fresh.status, fresh.refusal = "accepted", None
                    fresh.promise = promise_from_plan(problem, plan, r.request_id)
                elif r.request_id in too_late:
                    fresh.status, fresh.promise = "refused", None
                    fresh.refusal = {"error": "Refused", "where": "plan", "status": "refused", "request_id": r.request_id,
                                     "reason": Reason.BOOKING_CLOSED.value, "message": REASON_MESSAGES[Reason.BOOKING_CLOSED]["fr"],
                                     "message_en": REASON_MESSAGES[Reason.BOOKING_CLOSED]["en"],
                                     "details": {"rule": "too_late", "earliest_pickup_s": (now_s or 0) + DEFAULT_REACTION_S}}
                else:
                    j = rejections.get(r.request_id, {})
                    fresh.status, fresh.promise = "refused", None
                    fresh.refusal = {"error": "Refused", "where": "plan", "status": "refused", "request_id": r.request_id,
                                     "reason": j.get("reason"), "message": j.get("message", ""), "message_en": j.get("message_en", ""),
                                     "details": booking_mod._jsonable(j.get("details", {}))}
            job.status, job.result = "done", summary

    # ---- plan views -----------------------------------------------------------------------------
    def plan_and_problem(self, day: date) -> tuple[Plan, Problem]:
        got = self.store.get_plan(day)
        if got is None:
            raise NotFoundError(f"no plan yet for {day.isoformat()}; run a plan job (POST /v1/days/{day.isoformat()}/plans) or book", "plan")
        pd, prd = got
        problem = problem_from_dict(prd)
        return plan_from_dict(pd, problem), problem

    def geojson(self, day: date) -> dict[str, Any]:
        """The day's plan as GeoJSON, built once per version of the day (in this process)."""
        version = self.store.day_version(day)
        with self._memory_lock:
            got = self._geojson.get(day)
        if got is not None and got[0] == version:
            return got[1]
        with self._geojson_build:  # readers arriving together wait for one build, not one each
            with self._memory_lock:
                got = self._geojson.get(day)
            if got is not None and got[0] == version:
                return got[1]
            return self._build_geojson(day)

    def _build_geojson(self, day: date) -> dict[str, Any]:
        stored = self.store.get_plan_versioned(day)
        if stored is None:
            raise NotFoundError(f"no plan yet for {day.isoformat()}; run a plan job (POST /v1/days/{day.isoformat()}/plans) or book", "plan")
        version, pd, prd = stored
        held = self._recall(day, version)
        if held is None:
            problem = problem_from_dict(prd)
            plan = plan_from_dict(pd, problem)
        else:
            plan, problem = held
        out = plan_to_geojson(plan, problem, self.network)
        with self._memory_lock:
            got = self._geojson.get(day)
            if got is None or got[0] < version:
                self._geojson[day] = (version, out)
        return out

    def check(self, day: date) -> dict[str, Any]:
        from dispatcher.solver.checker import check_plan

        plan, problem = self.plan_and_problem(day)
        report = check_plan(problem, plan)
        return {"ok": report.ok, "summary": report.summary(), "violations": [{"code": v.code, "where": v.where, "message": v.message} for v in report.violations]}

    def manifest_csv(self, day: date, vehicle_id: str | None = None) -> str:
        plan, problem = self.plan_and_problem(day)
        if vehicle_id is not None and plan.route(vehicle_id) is None:
            raise NotFoundError(f"vehicle {vehicle_id!r} has no route on {day.isoformat()}", "vehicle_id")
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["vehicle_id", "order", "kind", "time", "place", "location_id", "request_id", "name", "phone",
                    "party_seats", "party_wheelchairs", "load_seats", "load_wheelchairs"])
        for route in plan.routes:
            if vehicle_id is not None and route.vehicle_id != vehicle_id:
                continue
            for k, v in enumerate(route.visits):
                r = problem.request(v.request_id)
                loc = problem.location(v.location_id)
                w.writerow([route.vehicle_id, k + 1, v.kind, format_time(v.start_s, problem.day, problem.timezone), loc.name or loc.id,
                            loc.id, r.id, r.name, r.phone, r.seats, r.wheelchairs, v.seats, v.wheelchairs])
        return buf.getvalue()


def promise_from_plan(problem: Problem, plan: Plan, rid: str) -> dict[str, Any] | None:
    for route in plan.routes:
        pick = next((v for v in route.visits if v.request_id == rid and v.kind == "pickup"), None)
        drop = next((v for v in route.visits if v.request_id == rid and v.kind == "dropoff"), None)
        if pick and drop:
            r = problem.request(rid)
            return booking_mod.Promise(rid, route.vehicle_id, pick.start_s, drop.start_s, problem.pickup_tw(r), problem.dropoff_tw(r), plan, problem).to_dict()
    return None


def remove_request(problem: Problem, plan: Plan, rid: str, now_s: int | None = None) -> tuple[Problem, Plan]:
    """The problem and plan without request ``rid``: its visits leave their route, which is re-timed
    with what is done at ``now_s`` kept as it was (or keeps its times, with loads recomputed, if it
    cannot be re-timed); a return trip of ``rid`` stays, unlinked. A request already picked up
    cannot be cancelled (ConflictError)."""
    from dispatcher.solver.insertion import remove_from_plan

    if now_s is not None:
        for route in plan.routes:
            for v in route.visits:
                if v.request_id == rid and v.kind == "pickup" and v.start_s < now_s:
                    raise ConflictError(f"request {rid!r} was picked up at {format_time(v.start_s, problem.day, problem.timezone)}; "
                                        "it can no longer be cancelled", "request_id")
    reqs = tuple(replace(r, return_of=None) if r.return_of == rid else r for r in problem.requests if r.id != rid)
    problem2 = replace(problem, requests=reqs)
    return problem2, remove_from_plan(problem2, plan, rid, now_s)
