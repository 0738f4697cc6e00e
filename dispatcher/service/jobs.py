"""Plan jobs: plan a day (or a what-if scenario of it) within a time limit, in the background,
polled by id. A job on the day itself keeps what is done and every promise made; its plan is
stored only if it breaks none of them, passes the independent checker, and the day did not
change while it ran.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import replace
from datetime import date
from typing import Any, Literal

from dispatcher.errors import DispatcherError, InputError
from dispatcher.io.plan import plan_to_dict
from dispatcher.io.problem import problem_to_dict
from dispatcher.model import (
    REASON_MESSAGES,
    Plan,
    Problem,
    Reason,
    Rejection,
    SolverParams,
    Visit,
)
from dispatcher.service import promises
from dispatcher.service.compiling import Compiler
from dispatcher.service.context import Context
from dispatcher.service.day_fleet import DayFleet
from dispatcher.service.days import stored_plan
from dispatcher.solver import default_solver
from dispatcher.solver.checker import check_plan
from dispatcher.solver.explain import linked_rejection
from dispatcher.solver.linked import anchor, stay_s
from dispatcher.solver.live import DEFAULT_REACTION_S, bookable_from, live_problem
from dispatcher.solver.mixed import plan_mixed
from dispatcher.store import ConflictError, KeyInfo
from dispatcher.store.mobility import Mobility
from dispatcher.store.models import Job, RequestRow, utcnow

log = logging.getLogger("dispatcher.service.jobs")


def _solve(problem: Problem) -> Plan:
    """Top-level so that a process pool can run it."""
    return default_solver(problem.params).solve(problem)


def _solve_live(
    problem: Problem, initial: Mapping[str, Sequence[tuple[str, str]]], pinned: dict[str, str]
) -> Plan:
    """A same-day plan from the day's current routes, done requests kept on their vehicle."""
    return default_solver(problem.params).solve(problem, initial_routes=initial, pinned=pinned)


def _solve_mixed(problem: Problem) -> tuple[Problem, Plan]:
    """A plan over the minibuses, the volunteers and the carpool drivers of ``problem``
    (``plan_mixed``, staged: carpools first for the riders who accept them); returns the mixed
    Problem the plan answers. Top-level so that a process pool can run it."""
    return plan_mixed(problem)


Stop = tuple[str, Literal["pickup", "dropoff"]]  # (request id, visit kind)


def _visits(plan: Plan, vehicle_id: str) -> tuple[Visit, ...]:
    route = plan.route(vehicle_id)
    return () if route is None else route.visits


def live_job_problem(
    problem: Problem,
    old_plan: Plan | None,
    promised: set[str],
    now_s: int,
    reaction_s: int = DEFAULT_REACTION_S,
) -> tuple[
    Problem,
    dict[str, tuple[str, str] | None],
    dict[str, list[Stop]] | None,
    dict[str, str] | None,
    dict[Stop, tuple[str, int]],
]:
    """A plan job on the day itself: the requests not yet promised start no earlier than now +
    the reaction margin (those whose window has passed are left out, returned as too late, and
    so is a return that can no longer follow its outbound; the other half of a linked trip left
    out is left out too unless promised); what is done in the old plan is pinned
    (``dispatcher.solver.live.live_problem``), its requests kept on their vehicle, and the
    stored routes are the search's starting point.
    Returns (problem, too late ids -> None, or (the other half of its linked trip, that half's
    role) when left out for it; initial routes, pins, done visits -> (vehicle, start))."""
    earliest = now_s + reaction_s
    reqs = []
    too_late: dict[str, tuple[str, str] | None] = {}
    for r in problem.requests:
        if r.id in promised:
            reqs.append(r)
            continue
        b = bookable_from(r, earliest)
        if b is None:
            too_late[r.id] = None
        else:
            reqs.append(b)
    late = {r.id: r for r in reqs}
    for o, r in problem.linked_pairs():  # the outbound's pickup moved later: may the return follow?
        if o.id in late and r.id in late and r.id not in promised:
            ready = late[o.id], late[r.id]
            if problem.pickup_tw(ready[1]).end_s < problem.dropoff_tw(ready[0]).start_s + stay_s(
                problem, *ready
            ):
                too_late[r.id] = None
    for o, r in problem.linked_pairs():  # both or neither: the other half goes too
        for half, other, role in ((o, r, "outbound"), (r, o, "return")):
            late_itself = half.id in too_late and too_late[half.id] is None
            if late_itself and other.id not in too_late and other.id not in promised:
                too_late[other.id] = (half.id, role)
    gone = set(too_late)
    reqs = [
        r if r.return_of not in gone else replace(r, return_of=None)
        for r in reqs
        if r.id not in gone
    ]
    problem = replace(problem, requests=tuple(reqs))
    if old_plan is None:
        return problem, too_late, None, None, {}
    ids = {r.id for r in problem.requests}
    fleet = {v.id for v in problem.vehicles}
    old = Plan(
        routes=tuple(
            replace(rt, visits=tuple(v for v in rt.visits if v.request_id in ids))
            for rt in old_plan.routes
            if rt.vehicle_id in fleet
        )
    )
    problem = live_problem(problem, old, now_s, reaction_s)
    done = {
        (v.request_id, v.kind): (rt.vehicle_id, v.start_s)
        for rt in old.routes
        for v in rt.visits
        if v.start_s < now_s
    }
    pinned = {r: vid for (r, _k), (vid, _t) in done.items()}
    initial = {rt.vehicle_id: [(v.request_id, v.kind) for v in rt.visits] for rt in old.routes}
    return problem, too_late, initial, pinned, done


def _held_out(
    rid: str,
    too_late: Mapping[str, tuple[str, str] | None],
    unfit: Sequence[str],
    now_s: int | None,
) -> Rejection:
    """The refusal of a request a plan job left out before the search: too late (its window has
    passed), refused with the other half of its linked trip, or a half that cannot come after
    (before) the other half promised on its own."""
    if rid in unfit:
        msgs = REASON_MESSAGES[Reason.DISPLACED]
        note = "cannot be planned around the other half of its linked trip, promised already"
        return Rejection(
            rid, Reason.DISPLACED, msgs["fr"], msgs["en"], {"note": note, "linked": True}
        )
    linked = too_late.get(rid)
    if linked is not None:
        return linked_rejection(rid, linked[0], linked[1], Reason.BOOKING_CLOSED)
    msgs = REASON_MESSAGES[Reason.BOOKING_CLOSED]
    details = {"rule": "too_late", "earliest_pickup_s": (now_s or 0) + DEFAULT_REACTION_S}
    return Rejection(rid, Reason.BOOKING_CLOSED, msgs["fr"], msgs["en"], details)


class Jobs:
    def __init__(self, ctx: Context, compiler: Compiler, fleet: DayFleet) -> None:
        self.ctx, self.compiler, self.fleet = ctx, compiler, fleet
        self._jobs: Executor = ThreadPoolExecutor(
            max_workers=2, thread_name_prefix="dispatcher-job"
        )
        self._solver_pool: Executor | None = None
        self._pool_lock = threading.Lock()
        self.interrupted = ctx.store.fail_interrupted_jobs()

    def close(self) -> None:
        self._jobs.shutdown(wait=False, cancel_futures=True)
        if self._solver_pool is not None:
            self._solver_pool.shutdown(wait=False, cancel_futures=True)

    def get(self, job_id: str) -> dict[str, Any]:
        return self.ctx.store.get_job(job_id)

    def time_limit(self, asked: float | None) -> float:
        """The time limit of a job: the one asked, else the server's default; at most its maximum."""
        settings = self.ctx.settings
        limit = asked if asked is not None else settings.plan_time_limit_s
        if limit > settings.max_plan_time_limit_s:
            raise InputError(
                f"at most {settings.max_plan_time_limit_s:g} s on this server", "body.time_limit_s"
            )
        return limit

    def validate_vehicle(self, d: Mapping[str, Any], where: str) -> None:
        self.compiler.validate_vehicle(d, where)

    def start_job(
        self, kind: str, day: date, params: Mapping[str, Any], key: KeyInfo
    ) -> dict[str, Any]:
        self.ctx.store.get_day(day)
        job = self.ctx.store.create_job(kind, day, params, key.id)
        self._jobs.submit(self._run_job_safely, job["id"])
        return job

    def _pool(self) -> Executor | None:
        if not self.ctx.settings.solver_processes:
            return None
        with self._pool_lock:
            if self._solver_pool is None:
                self._solver_pool = ProcessPoolExecutor(
                    max_workers=1, mp_context=multiprocessing.get_context("spawn")
                )
            return self._solver_pool

    def _run_job_safely(self, job_id: str) -> None:
        try:
            self._run_job(job_id)
        except DispatcherError as e:
            self.ctx.store.update_job(
                job_id, status="failed", error=e.to_dict(), finished_at=utcnow()
            )
        except Exception as e:  # a job never dies silently
            log.exception("job %s failed", job_id)
            self.ctx.store.update_job(
                job_id,
                status="failed",
                error={"error": type(e).__name__, "where": "job", "message": str(e)},
                finished_at=utcnow(),
            )

    def _run_job(self, job_id: str) -> None:
        self.ctx.store.update_job(job_id, status="running", started_at=utcnow())
        with self.ctx.store.read() as s:
            job = s.get(Job, job_id)
            assert job is not None
            day, kind, params, base_version = job.day, job.kind, dict(job.params), job.base_version
            rows = [
                r
                for r in self.ctx.store.requests_in(s, day, ["pending", "accepted", "refused"])
                if not (r.source == "booking" and r.status == "refused")
            ]
            dicts = [
                promises.with_priority(r.data, promises.PROMISE_PRIORITY)
                if r.status == "accepted"
                else r.data
                for r in rows
            ]
            promised = [r.request_id for r in rows if r.status == "accepted"]
            vehicles = params.get("vehicles") or self.ctx.store.list_vehicles_in(s)
            old_plan, stored_problem = stored_plan(self.ctx.store.day_row(s, day))
            offer_rows, volunteer_rows = (
                Mobility.active_offers_in(s, day),
                Mobility.volunteers_in(s),
            )
        sp = SolverParams(
            time_limit_s=float(params.get("time_limit_s", self.ctx.settings.plan_time_limit_s)),
            seed=int(params.get("seed", 0)),
        )
        if not dicts:
            raise InputError(f"no requests to plan on {day.isoformat()}", "day")
        # one dispatch over the minibuses, the volunteers and the day's carpools when there are any
        extra = self.fleet.extra_vehicle_dicts(day, offer_rows, volunteer_rows)
        if not vehicles and not extra:
            raise InputError(
                "the fleet is empty; add vehicles first (POST /v1/vehicles)", "vehicles"
            )
        problem = self.compiler.compile(day, dicts, [*vehicles, *extra], sp)
        # Promises are binding: the accepted requests keep the windows they were promised (stored
        # in the day's live problem), not the wider ones they asked for.
        problem = promises.keep_promises(problem, stored_problem, promised)
        # A linked trip of which one half was promised on its own (its other half asked for
        # later, or planned apart): the other half is planned after (or before) it, unlinked.
        problem, unfit = anchor(problem, old_plan, set(promised))
        now_s = self.ctx.now_s(day)
        too_late: dict[str, tuple[str, str] | None] = {}
        initial: dict[str, list[Stop]] | None = None
        pinned: dict[str, str] | None = None
        done: dict[Stop, tuple[str, int]] = {}
        if now_s is not None and kind != "scenario":
            problem, too_late, initial, pinned, done = live_job_problem(
                problem, old_plan, set(promised), now_s
            )
        pool = self._pool()
        if not problem.requests:
            plan = Plan(routes=())
        elif extra:  # carpools first for the riders who accept them (the plan answers the re-priced mixed problem)
            problem, plan = (
                pool.submit(_solve_mixed, problem).result() if pool else _solve_mixed(problem)
            )
        elif initial is not None and pinned is not None:
            plan = (
                pool.submit(_solve_live, problem, initial, pinned).result()
                if pool
                else _solve_live(problem, initial, pinned)
            )
        else:
            plan = pool.submit(_solve, problem).result() if pool else _solve(problem)
        report = check_plan(problem, plan)
        served = set(plan.served_ids)
        moved = [
            f"{r} {k}"
            for (r, k), (vid, t) in done.items()
            if not any(
                v.request_id == r and v.kind == k and v.start_s == t for v in _visits(plan, vid)
            )
        ]
        # each promise checked on its own too (the checker judges the windows of ``problem``)
        for rid in promised:
            if (
                stored_problem is None
                or rid not in served
                or rid not in {r.id for r in stored_problem.requests}
            ):
                continue
            pw = stored_problem.pickup_tw(stored_problem.request(rid))
            pick = next(
                v.start_s
                for rt in plan.routes
                for v in rt.visits
                if v.request_id == rid and v.kind == "pickup"
            )
            if not pw.contains(pick):
                moved.append(f"{rid} pickup outside its promised window")
        summary = {
            "served": len(served),
            "refused": len(plan.rejections) + len(too_late) + len(unfit),
            "check_ok": report.ok,
            "violations": [str(v) for v in report.violations[:20]],
            "kpis": plan_to_dict(plan, problem)["kpis"],
            "status": plan.stats.status.value,
            "status_detail": plan.stats.status_detail,
        }
        if kind == "scenario":
            self.ctx.store.update_job(
                job_id,
                status="done",
                result={**summary, "plan": plan_to_dict(plan, problem)},
                finished_at=utcnow(),
            )
            return
        with self.ctx.store.lock_day(day) as (s, row):
            job = s.get(Job, job_id)
            assert job is not None
            job.finished_at = utcnow()
            broken = [rid for rid in promised if rid not in served]
            if row.version != base_version:
                job.status, job.error = (
                    "failed",
                    ConflictError(
                        "the day changed while planning (requests or bookings arrived); run the job again",
                        "day",
                    ).to_dict(),
                )
                return
            if broken or moved or not report.ok:
                msg = (
                    f"the new plan would break {len(broken)} promise(s) ({', '.join(broken[:10])}); the current plan is kept"
                    if broken
                    else f"the new plan would change what is done or promised ({', '.join(moved[:10])}); the current plan is kept"
                    if moved
                    else "the new plan failed the independent check; the current plan is kept"
                )
                job.status, job.error, job.result = (
                    "failed",
                    {"error": "SolverError", "where": "plan", "message": msg},
                    summary,
                )
                return
            pd = plan_to_dict(plan, problem)
            row.plan_json, row.problem_json, row.plan_updated_at = (
                pd,
                problem_to_dict(problem),
                utcnow(),
            )
            row.version += 1
            rejections = {j["request_id"]: j for j in pd["rejections"]}
            for r in rows:
                fresh = s.get(RequestRow, r.pk)
                assert fresh is not None
                fresh.updated_at = utcnow()
                if r.request_id in served:
                    fresh.status, fresh.refusal = "accepted", None
                    fresh.promise = promises.promise_from_plan(problem, plan, r.request_id)
                elif r.request_id in too_late or r.request_id in unfit:
                    j = _held_out(r.request_id, too_late, unfit, now_s)
                    fresh.status, fresh.promise = "refused", None
                    fresh.refusal = {
                        "error": "Refused",
                        "where": "plan",
                        "status": "refused",
                        "request_id": r.request_id,
                        "reason": j.reason.value,
                        "message": j.message,
                        "message_en": j.message_en,
                        "details": promises.jsonable(j.details),
                    }
                else:
                    j = rejections.get(r.request_id, {})
                    fresh.status, fresh.promise = "refused", None
                    fresh.refusal = {
                        "error": "Refused",
                        "where": "plan",
                        "status": "refused",
                        "request_id": r.request_id,
                        "reason": j.get("reason"),
                        "message": j.get("message", ""),
                        "message_en": j.get("message_en", ""),
                        "details": promises.jsonable(j.get("details", {})),
                    }
            job.status, job.result = "done", summary
