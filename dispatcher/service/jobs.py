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
from dataclasses import dataclass, field, replace
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
from dispatcher.service import pricing, promises
from dispatcher.service.compiling import Compiler
from dispatcher.service.context import Context
from dispatcher.service.day_fleet import DayFleet
from dispatcher.service.days import stored_plan
from dispatcher.service.privacy import Kind, Privacy, Subject, View, Viewer, hidden
from dispatcher.service.tickets import Tickets
from dispatcher.solver import default_solver
from dispatcher.solver.checker import check_plan
from dispatcher.solver.explain import linked_rejection
from dispatcher.solver.linked import anchor, stay_s
from dispatcher.solver.live import DEFAULT_REACTION_S, bookable_from, live_problem
from dispatcher.solver.mixed import plan_mixed
from dispatcher.solver.reoptimise import PROMISE_PRIORITY
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
    def __init__(self, ctx: Context, compiler: Compiler, fleet: DayFleet, privacy: Privacy) -> None:
        self.ctx, self.compiler, self.fleet, self.privacy = ctx, compiler, fleet, privacy
        self.tickets = Tickets(ctx)
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

    def get(self, job_id: str, key: KeyInfo) -> dict[str, Any]:
        """A job as ``key`` may read it: its result's plan, its vehicles, the ids its texts name."""
        job = self.ctx.store.get_job(job_id)
        day = date.fromisoformat(job["day"])
        know: list[str] = []
        if Kind.ID in hidden(Subject.RIDER, Viewer.of(key).role, own=False):
            know = [rid for _, rid, _ in self.privacy.store.request_data(day)]
        shown: dict[str, Any] = self.privacy.show(
            View.JOB, job, key, "jobs.get", day, know=know, kinds=self.privacy.drivers_of(day)
        )
        return shown

    def time_limit(self, asked: float | None) -> float:
        """The time limit of a job: the one asked, else the server's default; at most its
        maximum."""
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
        job = self._read_job(job_id)
        problem, extra, unfit = self._problem_of(job)
        now_s = self.ctx.now_s(job.day)
        live = _Live()
        if now_s is not None and job.kind != "scenario":
            problem, live.too_late, live.initial, live.pinned, live.done = live_job_problem(
                problem, job.old_plan, set(job.promised), now_s
            )
        problem, plan = self._solve(problem, bool(extra), live)
        report = check_plan(problem, plan)
        summary = {
            "served": len(plan.served_ids),
            "refused": len(plan.rejections) + len(live.too_late) + len(unfit),
            "check_ok": report.ok,
            "violations": [str(v) for v in report.violations[:20]],
            "kpis": plan_to_dict(plan, problem)["kpis"],
            "status": plan.stats.status.value,
            "status_detail": plan.stats.status_detail,
        }
        if job.kind == "scenario":
            result = {**summary, "plan": plan_to_dict(plan, problem)}
            self.ctx.store.update_job(job_id, status="done", result=result, finished_at=utcnow())
            return
        failure = _why_not_stored(job, plan, live, report.ok)
        with self.ctx.store.lock_day(job.day) as (s, row):
            stored = s.get(Job, job_id)
            assert stored is not None
            stored.finished_at = utcnow()
            if row.version != job.base_version:
                changed = (
                    "the day changed while planning (requests or bookings arrived); "
                    "run the job again"
                )
                stored.status, stored.error = "failed", ConflictError(changed, "day").to_dict()
                return
            if failure is not None:
                error = {"error": "SolverError", "where": "plan", "message": failure}
                stored.status, stored.error, stored.result = "failed", error, summary
                return
            pd = plan_to_dict(plan, problem)
            self.ctx.store.live.write(s, row, pd, problem_to_dict(problem))
            row.version += 1
            rejections = {j["request_id"]: j for j in pd["rejections"]}
            served = set(plan.served_ids)
            for r in job.rows:
                fresh = s.get(RequestRow, r.pk)
                assert fresh is not None
                fresh.updated_at = utcnow()
                if r.request_id in served:
                    fresh.status, fresh.refusal = "accepted", None
                    fresh.promise = promises.promise_from_plan(problem, plan, r.request_id)
                    if fresh.promise is not None:
                        fare = pricing.promise_fare(
                            self.ctx, problem, fresh.promise["vehicle_id"], r.request_id
                        )
                        ticket = self.tickets.issue(
                            s, job.day, r.request_id, fare, fresh.owner_key_id
                        )
                        fresh.promise = {**fresh.promise, "fare": fare.to_dict(), "ticket": ticket}
                else:
                    fresh.status, fresh.promise = "refused", None
                    self.tickets.void(s, job.day, [r.request_id])
                    held_out = r.request_id in live.too_late or r.request_id in unfit
                    fresh.refusal = (
                        _refused_before(_held_out(r.request_id, live.too_late, unfit, now_s))
                        if held_out
                        else _refused(r.request_id, rejections.get(r.request_id, {}))
                    )
            stored.status, stored.result = "done", summary

    def _read_job(self, job_id: str) -> _JobInput:
        """What a job plans, read in one session: its day's requests (bookings already refused
        left out; promises first by priority), the fleet, the stored plan, offers, volunteers."""
        store = self.ctx.store
        with store.read() as s:
            job = s.get(Job, job_id)
            assert job is not None
            day, params = job.day, dict(job.params)
            rows = [
                r
                for r in store.requests_in(s, day, ["pending", "accepted", "refused"])
                if not (r.source == "booking" and r.status == "refused")
            ]
            old_plan, stored_problem = stored_plan(store, s, store.day_row(s, day), locked=False)
            return _JobInput(
                day=day,
                kind=job.kind,
                params=params,
                base_version=job.base_version,
                rows=rows,
                vehicles=params.get("vehicles") or store.list_vehicles_in(s),
                old_plan=old_plan,
                stored_problem=stored_problem,
                offers=Mobility.active_offers_in(s, day),
                volunteers=Mobility.volunteers_in(s),
            )

    def _problem_of(self, job: _JobInput) -> tuple[Problem, list[dict[str, Any]], list[str]]:
        """The job's Problem over the fleet, the volunteers and the day's carpools (and the
        vehicles these add), with the promises made binding; and the halves of linked trips that
        cannot be planned around their other half, promised already on its own."""
        limit = float(job.params.get("time_limit_s", self.ctx.settings.plan_time_limit_s))
        sp = SolverParams(time_limit_s=limit, seed=int(job.params.get("seed", 0)))
        dicts = [
            promises.with_priority(r.data, PROMISE_PRIORITY) if r.status == "accepted" else r.data
            for r in job.rows
        ]
        if not dicts:
            raise InputError(f"no requests to plan on {job.day.isoformat()}", "day")
        extra = self.fleet.extra_vehicle_dicts(job.day, job.offers, job.volunteers)
        if not job.vehicles and not extra:
            raise InputError(
                "the fleet is empty; add vehicles first (POST /v1/vehicles)", "vehicles"
            )
        problem = self.compiler.compile(job.day, dicts, [*job.vehicles, *extra], sp)
        # Promises are binding: the accepted requests keep the windows they were promised (stored
        # in the day's live problem), not the wider ones they asked for.
        problem = promises.keep_promises(problem, job.stored_problem, job.promised)
        # A linked trip of which one half was promised on its own (its other half asked for
        # later, or planned apart): the other half is planned after (or before) it, unlinked.
        problem, unfit = anchor(problem, job.old_plan, set(job.promised))
        return problem, extra, list(unfit)

    def _solve(self, problem: Problem, mixed: bool, live: _Live) -> tuple[Problem, Plan]:
        """The plan, in the solver process when there is one; a mixed day answers its re-priced
        mixed problem (carpools first for the riders who accept them)."""
        pool = self._pool()
        if not problem.requests:
            return problem, Plan(routes=())
        if mixed:
            return pool.submit(_solve_mixed, problem).result() if pool else _solve_mixed(problem)
        if live.initial is not None and live.pinned is not None:
            args = (problem, live.initial, live.pinned)
            return problem, pool.submit(_solve_live, *args).result() if pool else _solve_live(*args)
        return problem, pool.submit(_solve, problem).result() if pool else _solve(problem)


@dataclass(frozen=True)
class _JobInput:
    day: date
    kind: str
    params: dict[str, Any]
    base_version: int
    rows: list[RequestRow]
    vehicles: list[dict[str, Any]]
    old_plan: Plan | None
    stored_problem: Problem | None
    offers: list[dict[str, Any]]
    volunteers: list[dict[str, Any]]

    @property
    def promised(self) -> list[str]:
        return [r.request_id for r in self.rows if r.status == "accepted"]


@dataclass
class _Live:
    """A job on the day itself: requests too late to plan, the routes it starts from, what is
    pinned to its vehicle, and the done visits (request, kind) -> (vehicle, start)."""

    too_late: dict[str, tuple[str, str] | None] = field(default_factory=dict)
    initial: dict[str, list[Stop]] | None = None
    pinned: dict[str, str] | None = None
    done: dict[Stop, tuple[str, int]] = field(default_factory=dict)


def _why_not_stored(job: _JobInput, plan: Plan, live: _Live, check_ok: bool) -> str | None:
    """Why the new plan may not replace the current one (a promise broken, something done or
    promised changed, the checker's verdict), or None."""
    served = set(plan.served_ids)
    broken = [rid for rid in job.promised if rid not in served]
    if broken:
        return (
            f"the new plan would break {len(broken)} promise(s) ({', '.join(broken[:10])}); "
            "the current plan is kept"
        )
    moved = [
        f"{r} {k}"
        for (r, k), (vid, t) in live.done.items()
        if not any(v.request_id == r and v.kind == k and v.start_s == t for v in _visits(plan, vid))
    ]
    # each promise checked on its own too (the checker judges the windows of the new problem)
    stored = job.stored_problem
    for rid in job.promised if stored is not None else ():
        assert stored is not None
        if rid not in {r.id for r in stored.requests}:
            continue
        window = stored.pickup_tw(stored.request(rid))
        pick = next(
            v.start_s
            for rt in plan.routes
            for v in rt.visits
            if v.request_id == rid and v.kind == "pickup"
        )
        if not window.contains(pick):
            moved.append(f"{rid} pickup outside its promised window")
    if moved:
        return (
            f"the new plan would change what is done or promised ({', '.join(moved[:10])}); "
            "the current plan is kept"
        )
    if not check_ok:
        return "the new plan failed the independent check; the current plan is kept"
    return None


def _refusal(
    request_id: str, reason: Any, message: str, message_en: str, details: Any
) -> dict[str, Any]:
    return {
        "error": "Refused",
        "where": "plan",
        "status": "refused",
        "request_id": request_id,
        "reason": reason,
        "message": message,
        "message_en": message_en,
        "details": details,
    }


def _refused_before(rejection: Rejection) -> dict[str, Any]:
    """The record of a request refused before the search (``_held_out``)."""
    return _refusal(
        rejection.request_id,
        rejection.reason.value,
        rejection.message,
        rejection.message_en,
        promises.jsonable(rejection.details),
    )


def _refused(request_id: str, rejection: Mapping[str, Any]) -> dict[str, Any]:
    return _refusal(
        request_id,
        rejection.get("reason"),
        rejection.get("message", ""),
        rejection.get("message_en", ""),
        promises.jsonable(rejection.get("details", {})),
    )
