"""A live day: the current time, what is done, the promises, and booking on top of them.

``LiveDay`` holds the day's *live problem* and its plan. Everything binding is written into
the live problem's windows, so that the independent checker (and every later insertion or
re-optimisation) enforces it without knowing about promises or clocks:

* a promise: the request's ``pickup_window`` becomes the promised window, ``arrive_by_s`` the
  promised latest arrival (``not_before_s`` keeps the earliest arrival the request allowed);
* what is done at ``now_s`` (visits whose start of service is before now): a done pickup's
  window is pinned to its start, a done drop-off's arrival too, a started break's window to its
  start; the departure from the depot of a vehicle that has done a visit is kept as it was;
* the future cannot move into the past: windows of visits still to come, and of breaks still to
  take, start no earlier than now (no earlier than their planned time if it is within the
  reaction margin); new requests start no earlier than ``now_s + reaction_s``.

The original requests are kept in ``LiveDay.originals`` for reports.

Linked trips (an outbound and its return, served both or neither): a return is booked once its
outbound is in the day, and refused with ``linked_trip_refused`` when its outbound is refused;
its pickup comes after the outbound's planned drop-off plus the stay, which is written into the
two requests' windows with the promise (:func:`dispatcher.solver.linked.settle_pair`) so that
no later re-timing of either route can break the order. A return whose outbound is not in the
day (cancelled, never booked) is a trip of its own.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from dispatcher.model import (
    REASON_MESSAGES,
    Break,
    Plan,
    Problem,
    Reason,
    Rejection,
    Request,
    TimeWindow,
    Vehicle,
    hhmm,
)
from dispatcher.solver.checker import CheckReport, check_plan
from dispatcher.solver.explain import alone_report, linked_rejection, rejection_for
from dispatcher.solver.insertion import (
    Insertion,
    InsertionStats,
    ScreenCache,
    find_insertion,
    locked_prefix,
    remove_from_plan,
    replace_request,
    shifted,
    with_request,
    without_request,
)
from dispatcher.solver.kpis import compute_kpis
from dispatcher.solver.linked import settle_pair, stay_s
from dispatcher.solver.reoptimise import reoptimise

DEFAULT_WINDOW_S = 900
DEFAULT_REACTION_S = 600
ALTERNATIVE_STEP_S = 600
ALTERNATIVE_RANGE_S = 3 * 3600


# --------------------------------------------------------------------------------------------
# Booking rules of the service
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BookingRules:
    """When a trip may be booked.

    * ``cutoff_day_before_s``: bookings for a day close at this time of the day before (17:00),
      unless ``same_day_notice_s`` is set, in which case same-day bookings are allowed up to that
      long before the pickup (None: no same-day booking);
    * ``service_days``: the calendar (None: every day); ``weekdays``: allowed weekdays (0 = Monday);
    * ``hours_by_weekday``: service hours per weekday (the trip's pickup window must meet them);
    * ``max_days_ahead``: how far ahead one may book.
    """

    cutoff_day_before_s: int | None = 17 * 3600
    same_day_notice_s: int | None = 2 * 3600
    service_days: frozenset[date] | None = None
    weekdays: frozenset[int] = frozenset(range(7))
    hours_by_weekday: Mapping[int, TimeWindow] = field(default_factory=dict)
    max_days_ahead: int = 60


@dataclass(frozen=True)
class RuleVerdict:
    ok: bool
    rule: str = ""
    message: str = ""
    message_en: str = ""


def check_booking_rules(
    rules: BookingRules,
    day: date,
    request: Request,
    booked_at: datetime,
    problem: Problem | None = None,
) -> RuleVerdict:
    """Whether ``request`` for ``day``, asked at ``booked_at`` (local time), may be booked."""

    def no(rule: str, fr: str, en: str) -> RuleVerdict:
        return RuleVerdict(False, rule, fr, en)

    today = booked_at.date()
    now_s = booked_at.hour * 3600 + booked_at.minute * 60 + booked_at.second
    if day < today:
        return no("past_day", "Ce jour est passé.", "That day is in the past.")
    if (day - today).days > rules.max_days_ahead:
        return no(
            "too_far_ahead",
            f"Réservation au plus {rules.max_days_ahead} jours à l'avance.",
            f"Bookings open {rules.max_days_ahead} days ahead at most.",
        )
    if rules.service_days is not None and day not in rules.service_days:
        return no("calendar", "Pas de service ce jour-là.", "No service on that day.")
    if day.weekday() not in rules.weekdays:
        return no("weekday", "Pas de service ce jour de la semaine.", "No service on that weekday.")
    pickup_lo, pickup_hi = _pickup_span(request, problem)
    hours = rules.hours_by_weekday.get(day.weekday())
    if hours is not None and (pickup_hi < hours.start_s or pickup_lo > hours.end_s):
        return no(
            "service_hours",
            f"Service ce jour-là de {hhmm(hours.start_s)} à {hhmm(hours.end_s)}.",
            f"Service that day runs {hhmm(hours.start_s)}-{hhmm(hours.end_s)}.",
        )
    if day == today:
        if rules.same_day_notice_s is None:
            return no("no_same_day", "Pas de réservation le jour même.", "No same-day booking.")
        if pickup_hi < now_s + rules.same_day_notice_s:
            return no(
                "notice",
                f"Réservation au moins {rules.same_day_notice_s // 60} min à l'avance le jour "
                "même.",
                f"Same-day bookings need {rules.same_day_notice_s // 60} min notice.",
            )
    elif (
        day == today + timedelta(days=1)
        and rules.cutoff_day_before_s is not None
        and rules.same_day_notice_s is None
        and now_s > rules.cutoff_day_before_s
    ):
        return no(
            "cutoff",
            f"Réservations closes la veille à {hhmm(rules.cutoff_day_before_s)}.",
            f"Bookings close at {hhmm(rules.cutoff_day_before_s)} the day before.",
        )
    return RuleVerdict(True)


def _pickup_span(r: Request, problem: Problem | None) -> tuple[int, int]:
    if problem is not None:
        try:
            w = problem.pickup_tw(r)
            return w.start_s, w.end_s
        except KeyError:
            pass
    if r.pickup_window is not None:
        return r.pickup_window.start_s, r.pickup_window.end_s
    assert r.arrive_by_s is not None
    return max(0, r.arrive_by_s - 4 * 3600), r.arrive_by_s


# --------------------------------------------------------------------------------------------
# Promises and refusals
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PromiseTerms:
    """What the passenger was told: a pickup window containing the planned pickup, the planned
    (estimated) arrival and the latest arrival; all binding."""

    request_id: str
    vehicle_id: str
    pickup_window: TimeWindow
    planned_pickup_s: int
    planned_dropoff_s: int
    latest_arrival_s: int
    earliest_arrival_s: int


@dataclass(frozen=True)
class BookingOutcome:
    """Accepted (``promise`` set) or refused (``reason`` set, with alternatives in details:
    ``earlier_pickup_s``/``later_pickup_s`` and their windows when found)."""

    request_id: str
    accepted: bool
    promise: PromiseTerms | None = None
    reason: Reason | None = None
    message: str = ""
    message_en: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
    elapsed_s: float = 0.0
    insertion: Insertion | None = None


def promise_window(planned_s: int, allowed: TimeWindow, width_s: int) -> TimeWindow:
    """A window of ``width_s`` (whole minutes where possible) containing ``planned_s``, inside
    ``allowed`` (narrower if ``allowed`` is)."""
    lo = max(allowed.start_s, (planned_s - width_s // 2) // 60 * 60)
    hi = min(allowed.end_s, lo + width_s)
    lo = max(allowed.start_s, min(lo, hi - width_s))
    lo, hi = min(lo, planned_s), max(hi, planned_s)
    return TimeWindow(lo, hi)


def promised_request(
    problem: Problem, r: Request, pickup_s: int, dropoff_s: int, width_s: int
) -> Request | None:
    """``r`` with the promise written in: the promised pickup window and latest arrival (and
    the earliest arrival it allowed). None if the promised windows would not hold the planned
    times (then the caller keeps the request's own windows as the promise)."""
    ptw = problem.pickup_tw(r)
    dtw = problem.dropoff_tw(r)
    w = promise_window(pickup_s, ptw, width_s)
    board = problem.boarding_s(r)
    latest = min(dtw.end_s, w.end_s + board + problem.max_ride_s(r))
    earliest = dtw.start_s
    try:
        out = replace(r, pickup_window=w, arrive_by_s=latest, not_before_s=min(earliest, latest))
        p2 = with_request(problem, out)
    except (
        Exception
    ):  # InputError: inconsistent windows (e.g. a matrix without the triangle inequality)
        return None
    if not (p2.pickup_tw(out).contains(pickup_s) and p2.dropoff_tw(out).contains(dropoff_s)):
        return None
    return out


def _refusal(
    rid: str, reason: Reason, details: Mapping[str, Any], fr: str = "", en: str = ""
) -> BookingOutcome:
    msgs = REASON_MESSAGES[reason]
    return BookingOutcome(
        rid,
        False,
        reason=reason,
        message=f"{msgs['fr']} {fr}".strip(),
        message_en=f"{msgs['en']} {en}".strip(),
        details=dict(details),
    )


def bookable_from(r: Request, earliest_s: int) -> Request | None:
    """``r`` with its pickup no earlier than ``earliest_s`` (now + the reaction margin), or None
    if its pickup window (or appointment) ends before then."""
    if r.pickup_window is not None:
        if r.pickup_window.end_s < earliest_s:
            return None
        if r.pickup_window.start_s < earliest_s:
            return replace(r, pickup_window=TimeWindow(earliest_s, r.pickup_window.end_s))
        return r
    assert r.arrive_by_s is not None
    if r.arrive_by_s < earliest_s:
        return None
    return replace(r, pickup_window=TimeWindow(earliest_s, max(earliest_s, r.arrive_by_s)))


# --------------------------------------------------------------------------------------------
# The live problem
# --------------------------------------------------------------------------------------------


def live_problem(
    problem: Problem, plan: Plan, now_s: int, reaction_s: int = DEFAULT_REACTION_S
) -> Problem:
    """``problem`` with what is done at ``now_s`` pinned and the future kept out of the past
    (see the module doc). The plan stays valid for the returned problem."""
    reqs = {r.id: r for r in problem.requests}
    vehicles = {v.id: v for v in problem.vehicles}
    for route in plan.routes:
        v = vehicles.get(route.vehicle_id)
        if v is None:
            continue
        locked = locked_prefix(route, now_s)
        picked: dict[str, int] = {}
        for k, vis in enumerate(route.visits):
            r = reqs[vis.request_id]
            done = k < locked
            if vis.kind == "pickup":
                picked[r.id] = vis.start_s
                if done:
                    reqs[r.id] = replace(r, pickup_window=TimeWindow(vis.start_s, vis.start_s))
                else:
                    reqs[r.id] = _clip_pickup(
                        problem, r, max(0, min(vis.start_s, now_s + reaction_s)), now_s
                    )
            else:
                r = reqs[r.id]
                if done:
                    reqs[r.id] = replace(r, arrive_by_s=vis.start_s, not_before_s=vis.start_s)
                else:
                    lo = min(vis.start_s, max(now_s, problem.dropoff_tw(r).start_s))
                    reqs[r.id] = _clip_dropoff(problem, r, lo)
        # breaks: started ones pinned, the others not before now
        vehicles[v.id] = _live_vehicle(v, route, now_s, locked)
    for v in problem.vehicles:
        if plan.route(v.id) is None or not plan.route(v.id).visits:  # type: ignore[union-attr]
            vehicles[v.id] = _live_vehicle(v, None, now_s, 0)
    return replace(
        problem,
        requests=tuple(reqs[r.id] for r in problem.requests),
        vehicles=tuple(vehicles[v.id] for v in problem.vehicles),
    )


def _clip_pickup(problem: Problem, r: Request, lo: int, now_s: int) -> Request:
    tw = problem.pickup_tw(r)
    if tw.start_s >= lo:
        return r
    base = r.pickup_window or TimeWindow(tw.start_s, tw.end_s)
    new_lo = min(max(base.start_s, lo), base.end_s)
    return replace(r, pickup_window=TimeWindow(new_lo, base.end_s))


def _clip_dropoff(problem: Problem, r: Request, lo: int) -> Request:
    dtw = problem.dropoff_tw(r)
    if dtw.start_s >= lo:
        return r
    arrive = r.arrive_by_s if r.arrive_by_s is not None else dtw.end_s
    return replace(r, arrive_by_s=arrive, not_before_s=min(lo, arrive))


def _live_vehicle(v: Vehicle, route: Any, now_s: int, locked: int) -> Vehicle:
    breaks: list[Break] = []
    taken = (
        sorted(route.breaks, key=lambda b: b.start_s) if route is not None and route.visits else []
    )
    used: set[int] = set()
    for b in v.breaks:
        match = next(
            (
                k
                for k, t in enumerate(taken)
                if k not in used
                and t.duration_s == b.duration_s
                and b.window.start_s <= t.start_s
                and t.start_s + t.duration_s <= b.window.end_s
            ),
            None,
        )
        if match is not None:
            used.add(match)
            t = taken[match]
            if t.start_s < now_s:
                breaks.append(Break(TimeWindow(t.start_s, t.start_s + t.duration_s), b.duration_s))
                continue
            lo = max(b.window.start_s, min(t.start_s, now_s))
        else:
            lo = max(b.window.start_s, now_s)
        if b.window.end_s - lo >= b.duration_s:
            breaks.append(Break(TimeWindow(lo, b.window.end_s), b.duration_s))
        else:
            breaks.append(b)
    shift = v.shift
    if locked == 0:
        start = now_s if route is None or not route.visits else min(route.start_s, now_s)
        if shift.start_s < start < shift.end_s:
            shift = TimeWindow(start, shift.end_s)
    return replace(v, breaks=tuple(breaks), shift=shift)


# --------------------------------------------------------------------------------------------
# The live day
# --------------------------------------------------------------------------------------------


class LiveDay:
    """A day being booked and driven: insert, cancel, advance the clock, re-optimise.

    ``problem``/``plan``: the day so far (a batch plan, or empty). Every request the plan
    serves is treated as promised (its windows, or a promise window around its planned pickup
    when ``promise_existing``). ``now_s`` None: the day has not started (nothing locked).
    ``refused``: requests of the day refused before (by id), besides the plan's rejections: a
    return trip of one of them is refused with ``linked_trip_refused``.
    """

    def __init__(
        self,
        problem: Problem,
        plan: Plan | None = None,
        *,
        now_s: int | None = None,
        window_s: int = DEFAULT_WINDOW_S,
        reaction_s: int = DEFAULT_REACTION_S,
        rules: BookingRules | None = None,
        promise_existing: bool = True,
        screens: ScreenCache | None = None,
        refused: Mapping[str, Rejection] | None = None,
    ) -> None:
        self.window_s = window_s
        # the routes' screen arrays, reused by the insertion tests while the routes stay the same
        # (a caller booking the same day again may pass the cache of the last booking)
        self.screens = screens if screens is not None else ScreenCache()
        self.reaction_s = reaction_s
        self.rules = rules
        self.originals: dict[str, Request] = {r.id: r for r in problem.requests}
        self.promises: dict[str, PromiseTerms] = {}
        self.stats = InsertionStats()
        plan = plan if plan is not None else Plan(routes=())
        served = set(plan.served_ids)
        # keep only what the plan serves (refused requests of a batch plan stay refused, outside)
        # (and those refused before, ``refused``: a return of one of them is refused too)
        self.refused: dict[str, Rejection] = {**(refused or {})}
        self.refused.update({j.request_id: j for j in plan.rejections})
        kept = [r for r in problem.requests if r.id in served]
        kept = [
            r if r.return_of is None or r.return_of in served else replace(r, return_of=None)
            for r in kept
        ]
        problem = problem.with_requests(kept)  # validated already: a subset, links to outside cut
        plan = replace(plan, rejections=())
        self.problem = problem
        self.plan = plan
        self.now_s: int | None = None
        self._byid = {r.id: r for r in self.problem.requests}
        if promise_existing:
            for route in plan.routes:
                for vis in route.visits:
                    if vis.kind == "pickup":
                        self._promise(vis.request_id, route.vehicle_id)
        if now_s is not None:
            self.advance(now_s)

    # ---- promises ----------------------------------------------------------------------------
    def _planned(self, rid: str) -> tuple[str, int, int]:
        for route in self.plan.routes:
            p = d = None
            for vis in route.visits:
                if vis.request_id == rid:
                    if vis.kind == "pickup":
                        p = vis.start_s
                    else:
                        d = vis.start_s
            if p is not None and d is not None:
                return route.vehicle_id, p, d
        raise KeyError(rid)

    def _promise(self, rid: str, vehicle_id: str | None = None) -> PromiseTerms:
        vid, p_s, d_s = self._planned(rid)
        r = self.problem.request(rid)
        pr = promised_request(self.problem, r, p_s, d_s, self.window_s)
        if pr is not None:
            self.problem = with_request_in_place(self.problem, pr)
            self._byid[rid] = pr
            r = pr
        ptw, dtw = self.problem.pickup_tw(r), self.problem.dropoff_tw(r)
        terms = PromiseTerms(rid, vid, ptw, p_s, d_s, dtw.end_s, dtw.start_s)
        self.promises[rid] = terms
        self._settle(rid)
        return terms

    def _settle(self, rid: str) -> None:
        """Once both halves of a linked trip are planned, write a split that the plan's times
        keep into their windows (:func:`dispatcher.solver.linked.settle_pair`)."""
        mate = self.problem.partner_id(rid)
        if mate is None or mate not in self.promises:
            return
        r, m = self.problem.request(rid), self.problem.request(mate)
        out, back = (m, r) if r.return_of is not None else (r, m)
        _, _, drop_s = self._planned(out.id)
        _, pick_s, _ = self._planned(back.id)
        settled = settle_pair(self.problem, out, back, drop_s, pick_s)
        if settled is None:  # cannot happen on a plan the checker passes
            return
        for q in settled:
            if q is not self._byid.get(q.id):
                self.problem = with_request_in_place(self.problem, q)
                self._byid[q.id] = q

    # ---- booking -----------------------------------------------------------------------------
    def _earliest_s(self) -> int | None:
        return None if self.now_s is None else self.now_s + self.reaction_s

    def _prepare(self, request: Request) -> tuple[Request, Request | None] | str:
        """The request as it can be booked now (not before now + reaction; a return after its
        outbound's planned drop-off and the stay) with its outbound's windows as they must then
        be (None: unchanged), or why it cannot be booked: "too_late", "linked_refused" (its
        outbound is refused), "linked_too_early" (its window ends before its outbound's planned
        drop-off and the stay)."""
        r = request
        if r.return_of is not None and r.return_of not in self._byid:
            if r.return_of in self.refused:
                return "linked_refused"
            r = replace(r, return_of=None)  # the outbound is not in the day (cancelled): alone
        earliest = self._earliest_s()
        if earliest is not None:
            got = bookable_from(r, earliest)
            if got is None:
                return "too_late"
            r = got
        outbound = None
        if r.return_of is not None:
            o = self._byid[r.return_of]
            _, _, drop_s = self._planned(o.id)
            settled = settle_pair(self.problem, o, r, drop_s)
            if settled is None:
                return "linked_too_early"
            o2, r = settled
            outbound = None if o2 is o else o2
        if earliest is not None:
            try:
                with_request(self._with(outbound), r)
            except Exception:
                return "too_late"
        return r, outbound

    def _with(self, outbound: Request | None) -> Problem:
        """The day's problem with the outbound's windows as a new return needs them."""
        return self.problem if outbound is None else replace_request(self.problem, outbound)

    def _linked_refusal(self, request: Request) -> BookingOutcome:
        """The refusal of a return whose outbound is refused, or asked for before its outbound's
        planned arrival and the stay."""
        oid = request.return_of
        assert oid is not None
        j = self.refused.get(oid)
        if j is not None:
            rej = linked_rejection(request.id, oid, "outbound", Reason(j.reason))
            return BookingOutcome(
                request.id,
                False,
                reason=rej.reason,
                message=rej.message,
                message_en=rej.message_en,
                details=dict(rej.details),
            )
        o = self._byid[oid]
        _, _, drop_s = self._planned(oid)
        ready = drop_s + stay_s(self.problem, o, request)
        return _refusal(
            request.id,
            Reason.DISPLACED,
            {"linked_trip": oid, "linked_role": "outbound", "earliest_pickup_s": ready},
            f"Le trajet aller {oid} arrive à {hhmm(drop_s)} : retour possible dès {hhmm(ready)}.",
            f"The outbound {oid} arrives at {hhmm(drop_s)}: a return is possible from "
            f"{hhmm(ready)}.",
        )

    def try_insert(
        self, request: Request, max_exact: int | None = None, cache: ScreenCache | None = None
    ) -> Insertion | None:
        """The insertion the day would make for ``request`` now, without committing it
        (``cache``: the routes' screen arrays, shared by tests against the current plan)."""
        got = self._prepare(request)
        if isinstance(got, str):
            return None
        r, outbound = got
        problem = with_request(self._with(outbound), r)
        byid = dict(self._byid)
        byid[r.id] = r
        if outbound is not None:
            byid[outbound.id] = outbound
        kw: dict[str, Any] = {} if max_exact is None else {"max_exact": max_exact}
        return find_insertion(
            problem,
            self.plan,
            r,
            now_s=self.now_s,
            stats=self.stats,
            requests_by_id=byid,
            cache=cache if cache is not None else self.screens,
            **kw,
        )

    def book(
        self,
        request: Request,
        *,
        booked_at: datetime | None = None,
        alternatives: bool = True,
    ) -> BookingOutcome:
        """Insert ``request`` and promise it, or refuse it with a reason and alternatives."""
        t0 = time.perf_counter()
        rid = request.id
        if rid in self._byid:
            raise KeyError(f"request {rid!r} is already in the day")
        if self.rules is not None and booked_at is not None and self.problem.day is not None:
            verdict = check_booking_rules(self.rules, self.problem.day, request, booked_at, None)
            if not verdict.ok:
                return replace(
                    _refusal(
                        rid,
                        Reason.BOOKING_CLOSED,
                        {"rule": verdict.rule},
                        verdict.message,
                        verdict.message_en,
                    ),
                    elapsed_s=time.perf_counter() - t0,
                )
        got = self._prepare(request)
        if got in ("linked_refused", "linked_too_early"):
            out = self._linked_refusal(request)
            if alternatives and got == "linked_too_early":
                out = replace(out, details={**out.details, **self.alternatives(request)})
            return replace(out, elapsed_s=time.perf_counter() - t0)
        if isinstance(got, str):
            return replace(
                _refusal(
                    rid,
                    Reason.BOOKING_CLOSED,
                    {"rule": "too_late", "earliest_pickup_s": self._earliest_s()},
                    "Trop tard pour ce trajet.",
                    "Too late for this trip.",
                ),
                elapsed_s=time.perf_counter() - t0,
            )
        prepared, outbound = got
        cache = self.screens
        ins = self.try_insert(request, cache=cache)
        if ins is not None:
            self.problem, self.plan = ins.problem, ins.plan
            self._byid[rid] = prepared
            if outbound is not None:
                self._byid[outbound.id] = outbound
            self.originals[rid] = request
            self.refused.pop(rid, None)
            terms = self._promise(rid)
            return BookingOutcome(
                rid, True, promise=terms, elapsed_s=time.perf_counter() - t0, insertion=ins
            )
        problem = with_request(self._with(outbound), prepared)
        report = alone_report(problem, prepared)
        rej = rejection_for(problem, prepared, report)
        details: dict[str, Any] = dict(rej.details)
        if alternatives:
            details.update(self.alternatives(request, cache=cache))
        self.refused[rid] = rej
        return BookingOutcome(
            rid,
            False,
            reason=rej.reason,
            message=rej.message,
            message_en=rej.message_en,
            details=details,
            elapsed_s=time.perf_counter() - t0,
        )

    def alternatives(
        self,
        request: Request,
        step_s: int = ALTERNATIVE_STEP_S,
        range_s: int = ALTERNATIVE_RANGE_S,
        cache: ScreenCache | None = None,
    ) -> dict[str, Any]:
        """The nearest earlier and later times (steps of ``step_s`` up to ``range_s``) at which the
        same trip could be inserted now: each a full insertion test (the routes' screen arrays
        computed once for all of them)."""
        cache = cache if cache is not None else self.screens
        out: dict[str, Any] = {}
        for sign, key in ((-1, "earlier"), (1, "later")):
            for k in range(1, range_s // step_s + 1):
                cand = shifted(request, sign * k * step_s)
                if cand.pickup_window is not None and cand.pickup_window.end_s <= 0:
                    break
                try:
                    ins = self.try_insert(cand, max_exact=10, cache=cache)
                except Exception:  # an impossible shifted request (e.g. before midnight)
                    ins = None
                if ins is not None:
                    out[f"{key}_pickup_s"] = ins.pickup_s
                    out[f"{key}_shift_s"] = sign * k * step_s
                    out[f"{key}_vehicle"] = ins.vehicle_id
                    break
        return out

    # ---- cancellation ------------------------------------------------------------------------
    def cancel(self, request_id: str, *, with_return: bool = False) -> bool:
        """Remove a request (no-op if unknown). A request already picked up cannot be cancelled
        (ValueError); the route is re-timed, the past kept. Its return trip, if any, is
        cancelled too with ``with_return``, else it stays, a trip of its own."""
        if request_id not in self._byid:
            return False
        back = self.problem.partner_id(request_id)
        if with_return and back is not None and self._byid[back].return_of == request_id:
            self.cancel(back)
        if self.now_s is not None:
            for route in self.plan.routes:
                for vis in route.visits:
                    if (
                        vis.request_id == request_id
                        and vis.kind == "pickup"
                        and vis.start_s < self.now_s
                    ):
                        raise ValueError(f"request {request_id!r} is already picked up")
        if any(r.return_of == request_id for r in self.problem.requests):
            problem = replace(
                self.problem,
                requests=tuple(
                    replace(r, return_of=None) if r.return_of == request_id else r
                    for r in self.problem.requests
                    if r.id != request_id
                ),
            )
            self._byid = {r.id: r for r in problem.requests}
        else:
            problem = without_request(self.problem, request_id)
        self.plan = remove_from_plan(problem, self.plan, request_id, self.now_s)
        self.problem = problem
        self._byid.pop(request_id, None)
        self.promises.pop(request_id, None)
        return True

    # ---- time ----------------------------------------------------------------------------------
    def advance(self, now_s: int) -> None:
        """Move the clock forward: what started before ``now_s`` is done and pinned."""
        if self.now_s is not None and now_s < self.now_s:
            raise ValueError(f"time goes forward only (now {self.now_s}, asked {now_s})")
        self.now_s = now_s
        self.problem = live_problem(self.problem, self.plan, now_s, self.reaction_s)
        self._byid = {r.id: r for r in self.problem.requests}

    # ---- re-optimisation -------------------------------------------------------------------
    def reoptimise(self, time_limit_s: float = 5.0, seed: int = 0) -> bool:
        """Improve the plan with OR-Tools from the current routes; True if it was replaced."""
        res = reoptimise(
            self.problem, self.plan, now_s=self.now_s, time_limit_s=time_limit_s, seed=seed
        )
        if res.improved:
            self.plan = res.plan
            for rid in self.promises:
                vid, p_s, d_s = self._planned(rid)
                self.promises[rid] = replace(
                    self.promises[rid], vehicle_id=vid, planned_pickup_s=p_s, planned_dropoff_s=d_s
                )
        return res.improved

    # ---- views ---------------------------------------------------------------------------------
    def check(self) -> CheckReport:
        return check_plan(self.problem, self.plan)

    def cost(self) -> float:
        return compute_kpis(self.problem, self.plan.routes, ()).cost_eur

    @property
    def served(self) -> list[str]:
        return self.plan.served_ids


def with_request_in_place(problem: Problem, request: Request) -> Problem:
    """``problem`` with the request of the same id replaced, order kept."""
    return replace_request(problem, request)


def build_day(
    problem: Problem, requests: Iterable[Request], **kw: Any
) -> tuple[LiveDay, list[BookingOutcome]]:
    """A LiveDay from ``problem`` (its requests ignored) booked request by request."""
    day = LiveDay(replace(problem, requests=()), Plan(routes=()), **kw)
    outcomes = [day.book(r) for r in requests]
    return day, outcomes


__all__ = [
    "BookingOutcome",
    "bookable_from",
    "BookingRules",
    "LiveDay",
    "PromiseTerms",
    "RuleVerdict",
    "build_day",
    "check_booking_rules",
    "live_problem",
    "promise_window",
    "promised_request",
]
