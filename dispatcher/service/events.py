"""Operating the day as it happens: vehicles' events in (stored append-only, idempotent by the
client's ``event_id``, validated against the plan), the live day out (positions, ETAs, alerts,
the bookings' states), and what follows from an event, decided here and stored with it under
the day's lock:

* a no-show frees its seats (the request leaves the plan, status ``no_show``); its return trip
  is cancelled when the setting ``no_show_cancels_return`` says so, else kept and the operator is
  asked (an alert);
* a vehicle running late shifts its later stops; a promise it can no longer keep is handed to
  another vehicle that can keep it (re-insertion, the promise as hard windows), else reported
  (an alert: which rider, by how much) and the rider notified of the new estimated time;
* a breakdown (``unavailable``) hands the vehicle's stops still to come to the others
  (re-insertion within the promise, else within 30 minutes more, notified), and its passengers
  on board to a relay: a new pickup where the vehicle stands; what nobody can serve is refused
  with a reason (the request's refusal record) and the rider notified.

Every change of a promised time and every refusal after a promise appends an entry to the
outbox of rider notifications (``GET /v1/days/{day}/notifications``); no gateway is called.
The pure parts (applying an event, the live schedule) are ``dispatcher.solver.tracking``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from dispatcher.errors import ForbiddenError, InputError, NotFoundError
from dispatcher.io.plan import plan_to_dict
from dispatcher.io.problem import problem_to_dict
from dispatcher.io.times import format_time, parse_time
from dispatcher.model import Plan, Problem, Reason, Request, TimeWindow
from dispatcher.service.context import Context, Held
from dispatcher.service.days import stored_plan
from dispatcher.service.privacy import Privacy, View
from dispatcher.service.promises import promise_in, without_request
from dispatcher.solver.checker import check_plan
from dispatcher.solver.insertion import Insertion, find_insertion, remove_from_plan, with_request
from dispatcher.solver.kpis import compute_kpis
from dispatcher.solver.live import bookable_from
from dispatcher.solver.schedule import feasible_alone
from dispatcher.solver.tracking import (
    EVENT_TYPES,
    LATE_ALERT_S,
    Event,
    EventRejected,
    FleetState,
    VehicleLive,
    apply_event,
    current_place,
    fleet_live,
    settle,
    vehicle_live,
)
from dispatcher.store import ConflictError, KeyInfo
from dispatcher.store.events import Events as EventStore
from dispatcher.store.events import event_out
from dispatcher.store.models import utcnow

FUTURE_TOLERANCE_S = 120  # an event may be stamped this far ahead of the server's clock
NOTIFY_STEP_S = 300  # a rider is told again when the estimate moves by this much
WIDEN_S = 1800  # a breakdown's re-insertion may take this much longer than promised
RELAY_WINDOW_S = 1800
LIVE_LOGGED_AGAIN_S = 900  # a screen polling the live day: logged again after this, or when
# it shows other riders (the console polls every 5 s)
MAX_TRIES = 4  # vehicles a re-insertion tries (cheapest first) before giving up
EVENT_KEYS = (
    "event_id",
    "type",
    "time",
    "lon",
    "lat",
    "request_id",
    "passengers",
    "delay_min",
    "note",
)


class MoveRefused(ConflictError):
    """A manual move the plan cannot take (a 409): the reason in French (``message``, what
    the operator's console shows) and in English (``message_en``), as a booking's refusal."""

    def __init__(self, message: str, message_en: str, where: str = "") -> None:
        super().__init__(message, where)
        self.message_en = message_en

    def to_dict(self) -> dict[str, str]:
        return {**super().to_dict(), "message_en": self.message_en}


def hm(s: int) -> str:
    return f"{s // 3600}h{s % 3600 // 60:02d}"


def parse_event(vehicle_id: str, d: dict[str, Any], day: date, tz: str) -> Event:
    """An event body (the API's vocabulary) as an :class:`Event`, or an InputError naming the
    field: a known type, a time in ISO 8601 with its offset on the day, finite coordinates."""
    typ = d.get("type")
    if typ not in EVENT_TYPES:
        raise InputError(
            f"unknown event type {typ!r}; one of {', '.join(EVENT_TYPES)}", "body.type"
        )
    if not d.get("event_id") or not isinstance(d.get("event_id"), str):
        raise InputError("an event gives its event_id (the client's id of it)", "body.event_id")
    t = d.get("time")
    if not isinstance(t, str):
        raise InputError(
            "time is ISO 8601 with its offset, e.g. 2026-12-03T09:12:00+01:00", "body.time"
        )
    try:
        parsed = datetime.fromisoformat(t)
    except ValueError:
        raise InputError(f"not an ISO 8601 time: {t!r}", "body.time") from None
    if parsed.tzinfo is None:
        raise InputError(f"{t!r} has no UTC offset (e.g. +01:00)", "body.time")
    time_s = parse_time(t, "body.time", day, tz)
    lon, lat = d.get("lon"), d.get("lat")
    if (lon is None) != (lat is None):
        raise InputError("lon and lat go together", "body.lon" if lon is None else "body.lat")
    if lon is not None:
        for name, v, bound in (("lon", lon, 180), ("lat", lat, 90)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise InputError(f"{name} must be a finite number, got {v!r}", f"body.{name}")
            if abs(v) > bound:
                raise InputError(f"{name} must be within ±{bound}, got {v!r}", f"body.{name}")
    elif typ == "position":
        raise InputError("a position event gives lon and lat", "body.lon")
    passengers = d.get("passengers")
    if passengers is not None and (
        isinstance(passengers, bool) or not isinstance(passengers, int) or passengers < 0
    ):
        raise InputError(f"passengers is a count, got {passengers!r}", "body.passengers")
    delay = d.get("delay_min")
    if typ == "delayed" and delay is None:
        raise InputError("a delayed event gives delay_min", "body.delay_min")
    if delay is not None and (
        isinstance(delay, bool) or not isinstance(delay, (int, float)) or not 0 <= delay <= 360
    ):
        raise InputError(f"delay_min is 0 to 360 minutes, got {delay!r}", "body.delay_min")
    rid = d.get("request_id")
    return Event(
        vehicle_id=vehicle_id,
        type=str(typ),
        time_s=time_s,
        request_id=str(rid) if rid not in (None, "") else None,
        passengers=passengers,
        lon=None if lon is None else float(lon),
        lat=None if lat is None else float(lat),
        delay_s=None if delay is None else int(round(float(delay) * 60)),
        note=str(d.get("note") or ""),
    )


def scope(key: KeyInfo, day: date, vehicle_id: str | None = None) -> None:
    """A driver key reaches its own vehicle on its own day only (ForbiddenError otherwise)."""
    if key.role != "driver":
        return
    if key.day != day:
        raise ForbiddenError(
            f"this driver key is for {key.day.isoformat() if key.day else 'no day'}, not "
            f"{day.isoformat()}",
            "day",
        )
    if vehicle_id is not None and vehicle_id != key.vehicle_id:
        raise ForbiddenError(
            f"this driver key speaks for {key.vehicle_id}, not {vehicle_id}", "vehicle_id"
        )


@dataclass
class Aftermath:
    """The consequences of one event on the day's stored plan, problem and requests, inside the
    day's lock: what changed, the notifications to append."""

    ops: Operations
    s: Any
    day: date
    problem: Problem
    plan: Plan
    state: FleetState
    now_s: int  # the live day's current time
    plan_now: int | None  # the clock (the day is today), for what the stored plan keeps
    changed: bool = False
    notes: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)
    _last: dict[str, dict[str, Any]] | None = None

    @property
    def last(self) -> dict[str, dict[str, Any]]:
        """The last notification of each request of the day, read when first needed."""
        if self._last is None:
            self._last = EventStore.last_notified_in(self.s, self.day)
        return self._last

    # ---- building blocks -------------------------------------------------------------------
    def row(self, rid: str) -> Any:
        return self.ops.ctx.store.request_row(self.s, self.day, rid)

    def t(self, s: int) -> Any:
        return format_time(s, self.day, self.ops.ctx.tz)

    def remove(self, rid: str) -> None:
        problem = without_request(self.problem, rid)
        self.plan = remove_from_plan(problem, self.plan, rid, self.plan_now)
        self.problem = problem
        self.changed = True

    def insert(self, r: Request, exclude: set[str], only: str | None = None) -> Insertion | None:
        """``r`` (not in the plan) inserted into another available vehicle within its windows,
        nothing planned before the event's reaction margin, and kept by that vehicle's live
        schedule (from where it stands, not only by its plan: a vehicle running late is tried
        no further); None if no vehicle can."""
        earliest = self.now_s + self.ops.ctx.settings.event_reaction_s
        got = bookable_from(r, earliest)
        if got is None:
            return None
        try:
            full = with_request(self.problem, got)
        except Exception:  # the clipped windows do not hold together
            return None
        tried = set(exclude)
        for _ in range(MAX_TRIES):
            vehicles = tuple(
                v
                for v in self.problem.vehicles
                if v.id not in tried
                and (only is None or v.id == only)
                and self.state.of(v.id).unavailable_from is None
            )
            if not vehicles:
                return None
            ins = find_insertion(
                replace(full, vehicles=vehicles),
                self.plan,
                got,
                now_s=max(earliest, self.plan_now or 0),
                kpis=False,
            )
            if ins is None:
                return None
            lv = vehicle_live(full, ins.plan, self.state, ins.vehicle_id, self.now_s)
            report = lv.check()
            left = self.state.of(ins.vehicle_id).has_events
            if (
                (not left and ins.route.start_s < self.now_s)  # it would have had to leave
                or any(st.late_s > 0 for st in lv.stops if not st.done)
                or (report is not None and not report.ok)
            ):
                tried.add(ins.vehicle_id)  # its plan has room, its real day has not
                continue
            routes = _ordered(full, ins.plan)
            plan = replace(
                ins.plan, routes=routes, kpis=compute_kpis(full, routes, ins.plan.rejections)
            )
            before = {v.code for v in check_plan(self.problem, self.plan).violations}
            after = check_plan(full, plan)
            if any(v.code not in before for v in after.violations):
                return None  # e.g. a linked return no longer after its outbound
            self.problem, self.plan, self.changed = full, plan, True
            return ins
        return None

    def repromise(self, rid: str, new_windows: bool = False) -> None:
        """The request's stored promise after a move: its vehicle and planned times; its
        windows as promised before (a re-insertion keeps them), unless ``new_windows``."""
        row, got = self.row(rid), promise_in(self.problem, self.plan, rid)
        if row is None or got is None:
            return
        fresh = got.to_dict()
        old = row.promise or {}
        if not new_windows and old:
            for k in ("pickup", "dropoff"):
                if isinstance(old.get(k), dict) and "window" in old[k]:
                    fresh[k]["window"] = old[k]["window"]
        row.promise, row.updated_at = fresh, utcnow()

    def notify(self, rid: str, kind: str, message: str, data: dict[str, Any]) -> None:
        self.notes.append((rid, kind, message, data))

    def refuse(self, rid: str, cause: str, fr: str, en: str) -> None:
        """A promise withdrawn: the request leaves the plan, its refusal record says why, and
        the rider is told."""
        if any(q.id == rid for q in self.problem.requests):
            self.remove(rid)
        row = self.row(rid)
        details = {"after_promise": True, "cause": cause}
        if row is not None:
            row.status, row.updated_at = "refused", utcnow()
            row.refusal = {
                "error": "Refused",
                "where": "live",
                "status": "refused",
                "request_id": rid,
                "reason": Reason.DISPLACED.value,
                "message": fr,
                "message_en": en,
                "details": details,
            }
        self.notify(rid, "refused_after_promise", fr, details)

    # ---- the consequences --------------------------------------------------------------------
    def no_show(self, rid: str) -> None:
        backs = [q.id for q in self.problem.requests if q.return_of == rid]
        if any(q.id == rid for q in self.problem.requests):
            self.remove(rid)
        row = self.row(rid)
        if row is not None:
            row.status, row.updated_at = "no_show", utcnow()
        for back in backs:
            if not self.ops.ctx.settings.no_show_cancels_return:
                continue  # kept: the operator is asked (an alert of the live day)
            r = self.problem.request(back)
            self.remove(back)
            brow = self.row(back)
            if brow is not None:
                brow.status, brow.updated_at = "cancelled", utcnow()
            at = self.problem.pickup_tw(r).start_s if r.pickup_window else r.arrive_by_s or 0
            self.notify(
                back,
                "return_cancelled",
                f"Absent(e) au départ : votre trajet retour de {hm(at)} est annulé.",
                {"after_no_show": rid},
            )

    def breakdown(self, vid: str) -> None:
        route = self.plan.route(vid)
        if route is None:
            return
        vs = self.state.of(vid)
        aboard = vs.on_board
        # who is on board gets a relay where the vehicle stands, whatever the visit says
        waiting = list(
            dict.fromkeys(
                x.request_id
                for x in route.visits
                if x.kind == "pickup"
                and not vs.done(x.request_id, "pickup")
                and x.request_id not in aboard
            )
        )
        place, _ = current_place(self.problem, route, vs, self.now_s)
        for rid in waiting:
            r = self.problem.request(rid)
            self.remove(rid)
            self.hand_on(r, {vid}, "vehicle_unavailable", f"{vid} est en panne")
        known = {q.id for q in self.problem.requests}
        for rid, n in aboard.items():
            if rid in known:  # (not relayed or refused at an earlier breakdown already)
                self.relay(vid, rid, n, place)

    def hand_on(self, r: Request, exclude: set[str], cause: str, why_fr: str) -> bool:
        """``r`` (out of the plan) to another vehicle: within its promise, else within
        ``WIDEN_S`` more (the rider told of the new time), else refused (and refused at once
        when the service does not re-plan after events)."""
        if not self.ops.ctx.settings.replan_after_events:
            self.refuse(
                r.id, cause, f"{why_fr} ; votre trajet est annulé.", f"{why_fr} (in French)."
            )
            return False
        if self.insert(r, exclude) is not None:
            self.repromise(r.id)
            return True
        wider = _widened(r, WIDEN_S)
        if wider is not None and self.insert(wider, exclude) is not None:
            self.repromise(r.id, new_windows=True)
            got = promise_in(self.problem, self.plan, r.id)
            assert got is not None
            self.notify(
                r.id,
                "new_time",
                f"{why_fr} : un autre véhicule vous prendra en charge vers "
                f"{hm(got.pickup_s)} (créneau {hm(got.pickup_window.start_s)}–"
                f"{hm(got.pickup_window.end_s)}).",
                {"pickup_eta": self.t(got.pickup_s), "vehicle_id": got.vehicle_id},
            )
            return True
        self.refuse(
            r.id,
            cause,
            f"{why_fr} et aucun autre véhicule ne peut assurer votre trajet ; il est annulé. "
            "Le service vous rappelle.",
            f"{why_fr} (in French): no other vehicle can serve the trip.",
        )
        return False

    def relay(self, vid: str, rid: str, aboard: int, place: str) -> None:
        """A new pickup where the broken vehicle stands, for the passengers on board."""
        r = self.problem.request(rid)
        relay_id = f"{rid}~relais"
        start = self.now_s + self.ops.ctx.settings.event_reaction_s
        relay = Request(
            id=relay_id,
            pickup=place,
            dropoff=r.dropoff,
            seats=max(0, aboard - r.wheelchairs),
            wheelchairs=r.wheelchairs,
            pickup_window=TimeWindow(start, start + RELAY_WINDOW_S),
            priority=max(r.priority, 1000),
            name=r.name,
            phone=r.phone,
        )
        self.remove(rid)
        self.state.relays[relay_id] = rid
        replan = self.ops.ctx.settings.replan_after_events
        if replan and self.insert(relay, {vid}) is not None:
            got = promise_in(self.problem, self.plan, relay_id)
            assert got is not None
            self.notify(
                rid,
                "new_time",
                f"{vid} est en panne : {got.vehicle_id} vient vous reprendre vers "
                f"{hm(got.pickup_s)}, arrivée estimée {hm(got.dropoff_s)}.",
                {"relay_id": relay_id, "vehicle_id": got.vehicle_id},
            )
            return
        self.state.relays.pop(relay_id, None)
        self.refuse(
            rid,
            "vehicle_unavailable_on_board",
            f"{vid} est en panne et aucun véhicule ne peut vous reprendre : le service vous "
            "rappelle.",
            f"{vid} broke down and no vehicle can take its passengers on.",
        )

    def late(self, vid: str) -> VehicleLive:
        """Promises the vehicle no longer keeps: handed to another vehicle that keeps them,
        else the riders told of the new estimate; what its live plan cannot hold at all is
        handed on or refused (:meth:`hold`). The vehicle's live schedule after all that."""
        lv = vehicle_live(self.problem, self.plan, self.state, vid, self.now_s)
        vs = self.state.of(vid)
        moved = False
        for st in lv.stops:
            rid = st.request_id
            if st.done or st.late_s <= 0 or rid is None or st.kind != "pickup":
                continue
            if not self.ops.ctx.settings.replan_after_events:
                break
            if rid in vs.boarded:
                continue
            r = self.problem.request(rid)
            before = (self.problem, self.plan, self.changed)
            self.remove(rid)
            if self.insert(r, {vid}) is not None:
                self.repromise(rid)
                moved = True
            else:
                self.problem, self.plan, self.changed = before
        if moved:
            lv = vehicle_live(self.problem, self.plan, self.state, vid, self.now_s)
        report = lv.check()
        if lv.status != "unavailable" and (report is None or not report.ok) and self.hold(vid):
            lv = vehicle_live(self.problem, self.plan, self.state, vid, self.now_s)
        self.tell_late(lv)
        return lv

    def hold(self, vid: str) -> bool:
        """What the vehicle's live plan can no longer hold (a companion aboard leaves no seat
        for a later pickup, a stop it cannot time) is handed on, or refused."""
        before = {r.id: r for r in self.problem.requests}
        self.problem, self.plan, removed = settle(
            self.problem, self.plan, self.state, vid, self.now_s
        )
        for rid in removed:
            self.changed = True
            self.hand_on(
                before[rid], {vid}, "live_infeasible", f"{vid} ne peut plus assurer ce trajet"
            )
        return bool(removed)

    def tell_late(self, lv: VehicleLive) -> None:
        worst: dict[str, tuple[int, str, int]] = {}
        for st in lv.stops:
            if st.done or st.late_s <= 0 or st.request_id is None or st.eta_s is None:
                continue
            got = worst.get(st.request_id)
            if got is None or st.late_s > got[0]:
                worst[st.request_id] = (st.late_s, st.kind, st.eta_s)
        for rid, (late_s, kind, eta) in worst.items():
            last = self.last.get(rid)
            if (
                last is not None
                and last.get("kind") == "delay"
                and abs(int(last.get("eta_s", 0)) - eta) < NOTIFY_STEP_S
            ):
                continue
            r = self.problem.request(rid)
            if kind == "pickup":
                w = self.problem.pickup_tw(r)
                msg = (
                    f"Retard : prise en charge estimée à {hm(eta)} (créneau promis "
                    f"{hm(w.start_s)}–{hm(w.end_s)}, {math.ceil(late_s / 60)} min de retard)."
                )
            else:
                w = self.problem.dropoff_tw(r)
                msg = (
                    f"Retard : arrivée estimée à {hm(eta)} (au plus tard promis {hm(w.end_s)}, "
                    f"{math.ceil(late_s / 60)} min de retard)."
                )
            data = {
                "eta_s": eta,
                "eta": self.t(eta),
                "stop": kind,
                "late_min": math.ceil(late_s / 60),
            }
            self.notify(rid, "delay", msg, data)
            self.last[rid] = {**data, "kind": "delay"}


def ended_by_events(
    state: FleetState | None, day: date, vehicles: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The day's vehicle dicts with the shift of each vehicle its events made unavailable ended
    at that time (``state``: what the day's events established, None before any): a booking
    never lands on a broken vehicle."""
    if state is None:
        return vehicles
    out = []
    for d in vehicles:
        vs = state.vehicles.get(str(d.get("id")))
        if vs is not None and vs.unavailable_from is not None and isinstance(d.get("shift"), dict):
            start = parse_time(d["shift"].get("start"), "shift.start", day)
            d = {**d, "shift": {**d["shift"], "end": max(start + 60, vs.unavailable_from)}}
        out.append(d)
    return out


def _widened(r: Request, extra_s: int) -> Request | None:
    if r.pickup_window is None:
        return None
    return replace(
        r,
        pickup_window=TimeWindow(r.pickup_window.start_s, r.pickup_window.end_s + extra_s),
        arrive_by_s=None if r.arrive_by_s is None else r.arrive_by_s + extra_s,
    )


def _ordered(problem: Problem, plan: Plan) -> tuple[Any, ...]:
    order = {v.id: k for k, v in enumerate(problem.vehicles)}
    return tuple(sorted(plan.routes, key=lambda rt: order.get(rt.vehicle_id, len(order))))


class Operations:
    """The use cases of the day as it happens (``Service.operations``)."""

    def __init__(self, ctx: Context, privacy: Privacy) -> None:
        self.ctx, self.privacy = ctx, privacy
        self.events = EventStore(ctx.store)

    # ---- reading the day -----------------------------------------------------------------------
    def _now(self, day: date, state: FleetState) -> int:
        """The live day's current time: the clock when the day is today; another day is seen
        as of its last event (a replay, a simulation, a test of a future day)."""
        got = self.ctx.now_s(day)
        if got is not None:
            return got
        return max(
            (vs.last_s for vs in state.vehicles.values() if vs.last_s is not None), default=0
        )

    def _write(self, s: Any, row: Any, day: date, after: Any) -> Held:
        """The day's new live plan stored (under the day's lock) at the next version."""
        memo = self.ctx.memory.memo_of(day)
        self.ctx.store.live.write(
            s,
            row,
            plan_to_dict(after.plan, after.problem, memo),
            problem_to_dict(after.problem, memo),
        )
        row.version += 1
        return Held(row.version, after.plan, after.problem)

    def _stored(self, s: Any, row: Any, day: date) -> tuple[Plan, Problem]:
        got = self.ctx.memory.recall(day, row.version)
        plan, problem = got if got is not None else stored_plan(self.ctx.store, s, row)
        if plan is None or problem is None:
            raise ConflictError(
                f"{day.isoformat()} has no plan yet: events follow a planned day", "day"
            )
        return plan, problem

    def current(self, day: date) -> tuple[Plan, Problem, FleetState]:
        """The day's stored live plan and problem, and what its events established."""
        return self._read(day)

    def _read(self, day: date) -> tuple[Plan, Problem, FleetState]:
        held = self.ctx.memory.recall(day, self.ctx.store.day_version(day))
        if held is not None:  # this process holds the stored version: no JSON to parse
            return held[0], held[1], FleetState.from_dict(self.events.state(day))
        got = self.ctx.store.get_plan_versioned(day)
        if got is None:
            raise ConflictError(f"{day.isoformat()} has no plan yet", "day")
        version, pd, prd = got
        held = self.ctx.memory.recall(day, version)
        if held is not None:
            plan, problem = held
        else:
            from dispatcher.io.plan import plan_from_dict
            from dispatcher.io.problem import problem_from_dict

            problem = problem_from_dict(prd)
            plan = plan_from_dict(pd, problem)
            self.ctx.memory.remember(Held(version, plan, problem), day)
        return plan, problem, FleetState.from_dict(self.events.state(day))

    # ---- events ------------------------------------------------------------------------------
    def post(
        self, day: date, vehicle_id: str, body: dict[str, Any], key: KeyInfo
    ) -> tuple[int, dict[str, Any]]:
        """Store an event and apply it: 201 with the stored event and the vehicle's live summary;
        200 for a replay of the same event; 409 when the plan contradicts it."""
        scope(key, day, vehicle_id)
        data = {k: body[k] for k in EVENT_KEYS if body.get(k) is not None}
        ev = parse_event(vehicle_id, data, day, self.ctx.tz)
        _ = self.privacy.pseudonyms  # read (or made) before the day's lock
        light: tuple[Plan, Problem, FleetState, int] | None = None
        with self.ctx.store.lock_day(day) as (s, row):
            old = EventStore.event_in(s, day, data["event_id"])
            if old is not None:
                if old.vehicle_id != vehicle_id or old.data != data:
                    raise ConflictError(
                        f"event_id {data['event_id']!r} is already the id of another event "
                        f"(seq {old.seq})",
                        "body.event_id",
                    )
                stored, status, summary = event_out(old), 200, None
            elif ev.type == "position":
                stored, light = self._ping(s, row, day, ev, data, key)
                status, summary, keep = 201, None, None
            else:
                stored, summary, keep = self._apply(s, row, day, ev, data, key)
                status = 201
        if light is not None:  # a ping: the vehicle's live schedule derived after the lock
            summary, keep = self._ping_held(day, ev, int(stored["seq"]), light)
        if status == 201 and keep is not None:
            self.ctx.memory.remember(keep, day)
        if summary is None:
            plan, problem, state = self._read(day)
            summary = self._vehicle_json(
                day, problem, plan, state, vehicle_id, self._now(day, state)
            )
        own = self._own_requests(summary)
        drivers = self.privacy.drivers_of(day)  # read once for both records
        shown_ev = self.privacy.show(
            View.EVENT, stored, key, "", day, own_requests=own, log=False, drivers=drivers
        )
        shown = self.privacy.show(
            View.LIVE,
            {"vehicles": [summary]},
            key,
            "",
            day,
            own_requests=own,
            log=False,
            drivers=drivers,
        )
        return status, {"event": shown_ev, "live": shown["vehicles"][0]}

    def _accept(
        self, s: Any, row: Any, day: date, ev: Event, data: dict[str, Any], key: KeyInfo
    ) -> tuple[Plan, Problem, FleetState, Any, int | None]:
        """The event judged against the stored plan and what is done, and stored: the plan,
        the problem, the state after the event, the stored row, the clock (the day is today)."""
        plan, problem = self._stored(s, row, day)
        state = FleetState.from_dict(EventStore.state_in(s, day))
        clock = self.ctx.now_s(day)
        if clock is not None and ev.time_s > clock + FUTURE_TOLERANCE_S:
            raise InputError(
                f"{data['time']} is ahead of the server's clock "
                f"({format_time(clock, day, self.ctx.tz)})",
                "body.time",
            )
        try:
            new = apply_event(state, problem, plan, ev)
        except EventRejected as e:
            raise ConflictError(e.message, f"body.{e.where}" if e.where else "body") from None
        stored = EventStore.append(s, day, ev.vehicle_id, data, ev.time_s, key.id, key.role)
        return plan, problem, new, stored, clock

    def _ping(
        self, s: Any, row: Any, day: date, ev: Event, data: dict[str, Any], key: KeyInfo
    ) -> tuple[dict[str, Any], tuple[Plan, Problem, FleetState, int]]:
        """The light path of a position ping, the most frequent event: stored with the
        position, nothing re-timed, checked or re-planned under the lock (a ping moves no visit,
        no seat, no promise; the ETAs from the new position are derived on read, and a late
        vehicle is reacted to at its next stop event or declared delay). The vehicle's live
        plan from where it now stands is judged after the lock (:meth:`_ping_held`)."""
        plan, problem, new, stored, clock = self._accept(s, row, day, ev, data, key)
        EventStore.save_state(s, day, new.to_dict())
        now = max(self._now(day, new), ev.time_s) if clock is None else clock
        return event_out(stored), (plan, problem, new, now)

    def _apply(
        self, s: Any, row: Any, day: date, ev: Event, data: dict[str, Any], key: KeyInfo
    ) -> tuple[dict[str, Any], dict[str, Any], Held | None]:
        plan, problem, new, stored, clock = self._accept(s, row, day, ev, data, key)
        now = max(self._now(day, new), ev.time_s) if clock is None else clock
        summary, keep = self._react(s, row, day, ev, stored.seq, plan, problem, new, now, clock)
        return event_out(stored), summary, keep

    def _react(
        self,
        s: Any,
        row: Any,
        day: date,
        ev: Event,
        seq: int,
        plan: Plan,
        problem: Problem,
        state: FleetState,
        now: int,
        clock: int | None,
    ) -> tuple[dict[str, Any], Held | None]:
        """What follows from event ``ev`` (stored as ``seq``, ``state`` what the day knows after
        it), under the day's lock: its consequences stored, the notifications appended; the
        vehicle's live summary and what the commit stores."""
        after = Aftermath(self, s, day, problem, plan, state, now, clock)
        if ev.type == "no_show" and ev.request_id:
            after.no_show(ev.request_id)
        final = None
        if ev.type == "unavailable":
            after.breakdown(ev.vehicle_id)
        else:
            final = after.late(ev.vehicle_id)
        EventStore.save_state(s, day, after.state.to_dict())
        keep = self._write(s, row, day, after) if after.changed else None
        for rid, kind, message, ndata in after.notes:
            req = self.ctx.store.request_row(s, day, rid)
            phone = (req.data or {}).get("phone") if req is not None else None
            EventStore.notify(
                s,
                day,
                rid,
                self.privacy.rider_id(phone) or "",
                kind,
                message,
                {**ndata, "event_seq": seq, "vehicle_event": ev.type},
            )
        summary = (
            self._vehicle_out(day, after.problem, final)
            if final is not None
            else self._vehicle_json(day, after.problem, after.plan, after.state, ev.vehicle_id, now)
        )
        return summary, keep

    def _ping_held(
        self, day: date, ev: Event, seq: int, light: tuple[Plan, Problem, FleetState, int]
    ) -> tuple[dict[str, Any], Held | None]:
        """A ping's answer: the vehicle's live schedule from where it now stands. Should its
        live plan no longer pass the checker there (a passenger thought to be alighting where it
        stood is still aboard elsewhere, and a later pickup no longer fits), the consequences
        are decided as for any other event, under the day's lock again."""
        plan, problem, state, now = light
        lv = vehicle_live(problem, plan, state, ev.vehicle_id, now)
        if lv.holds:
            return self._vehicle_out(day, problem, lv), None
        with self.ctx.store.lock_day(day) as (s, row):
            plan, problem = self._stored(s, row, day)
            state = FleetState.from_dict(EventStore.state_in(s, day))
            clock = self.ctx.now_s(day)
            now = max(self._now(day, state), ev.time_s) if clock is None else clock
            return self._react(s, row, day, ev, seq, plan, problem, state, now, clock)

    def list_events(
        self, day: date, key: KeyInfo, vehicle_id: str | None = None, after_seq: int = 0
    ) -> list[dict[str, Any]]:
        scope(key, day, vehicle_id)
        if key.role == "driver":
            vehicle_id = key.vehicle_id
        rows = self.events.list_events(day, vehicle_id, after_seq)
        out: list[dict[str, Any]] = self.privacy.show(
            View.EVENT,
            rows,
            key,
            "events.list",
            day,
            own_requests=[str(r.get("request_id")) for r in rows if r.get("request_id")],
        )
        return out

    # ---- the live day ------------------------------------------------------------------------
    def live(self, day: date, key: KeyInfo) -> dict[str, Any]:
        scope(key, day)
        plan, problem, state = self._read(day)
        now = self._now(day, state)
        only = [key.vehicle_id] if key.role == "driver" and key.vehicle_id else None
        lives = fleet_live(problem, plan, state, now, only)
        rows = self.ctx.store.list_requests(day)
        out: dict[str, Any] = {
            "day": day.isoformat(),
            "as_of": format_time(now, day, self.ctx.tz),
            "vehicles": [self._vehicle_out(day, problem, lv) for lv in lives],
            "alerts": self._alerts(day, problem, state, lives, rows),
            "bookings": self._bookings(day, problem, plan, state, lives, rows),
        }
        own: list[str] = []
        if only is not None:
            vid = only[0]
            out["alerts"] = [a for a in out["alerts"] if a.get("vehicle_id") == vid]
            out["bookings"] = [b for b in out["bookings"] if b.get("vehicle_id") == vid]
            own = self._own_requests(*out["vehicles"]) + [b["request_id"] for b in out["bookings"]]
        shown: dict[str, Any] = self.privacy.show(
            View.LIVE,
            out,
            key,
            "live.get",
            day,
            own_requests=own,
            phones={r.id: r.phone for r in problem.requests},
            poll_s=LIVE_LOGGED_AGAIN_S,
        )
        return shown

    @staticmethod
    def _own_requests(*vehicles: dict[str, Any]) -> list[str]:
        return [
            str(st["request_id"])
            for v in vehicles
            for st in v.get("next_stops") or []
            if st.get("request_id")
        ]

    def _vehicle_json(
        self, day: date, problem: Problem, plan: Plan, state: FleetState, vid: str, now: int
    ) -> dict[str, Any]:
        try:
            problem.vehicle(vid)
        except KeyError:
            raise NotFoundError(f"no vehicle {vid!r} in the day's plan", "vehicle_id") from None
        return self._vehicle_out(day, problem, vehicle_live(problem, plan, state, vid, now))

    def _vehicle_out(self, day: date, problem: Problem, lv: VehicleLive) -> dict[str, Any]:
        tz = self.ctx.tz

        def t(x: int | None) -> Any:
            return None if x is None else format_time(x, day, tz)

        v = problem.vehicle(lv.vehicle_id)
        stops = []
        delay = 0
        for st in lv.stops:
            loc = problem.location(st.location_id) if st.location_id else None
            r = problem.request(st.request_id) if st.request_id else None
            window = None
            if r is not None:
                w = problem.pickup_tw(r) if st.kind == "pickup" else problem.dropoff_tw(r)
                window = {"start": t(w.start_s), "end": t(w.end_s)}
            if (
                not st.done
                and st.eta_s is not None
                and st.kind in ("pickup", "dropoff")
                and not delay
            ):
                delay = max(1, st.eta_s - st.planned_s) if st.eta_s > st.planned_s else -1
            stops.append(
                {
                    "kind": st.kind,
                    "request_id": st.request_id,
                    "place_name": (loc.name or loc.id) if loc is not None else None,
                    "location_id": st.location_id,
                    "lon": loc.lon if loc is not None else None,
                    "lat": loc.lat if loc is not None else None,
                    "planned": t(st.planned_s),
                    "eta": t(st.eta_s),
                    "promised_window": window,
                    "passengers": st.passengers,
                    "wheelchair": st.wheelchairs > 0,
                    "wheelchairs": st.wheelchairs,
                    "name": r.name if r is not None else "",
                    "phone": r.phone if r is not None else "",
                    "done": st.done,
                    "late_min": math.ceil(st.late_s / 60),
                }
            )
        report = lv.check()
        pos = lv.position
        return {
            "vehicle_id": lv.vehicle_id,
            "name": v.name or v.id,
            "position": None if pos is None else {"lon": pos[0], "lat": pos[1], "time": t(pos[2])},
            "status": lv.status,
            "delay_s": max(0, delay),
            "next_stops": stops,
            "check": None
            if report is None
            else {"ok": report.ok, "violations": [str(x) for x in report.violations[:10]]},
        }

    def _alerts(
        self,
        day: date,
        problem: Problem,
        state: FleetState,
        lives: list[VehicleLive],
        rows: list[dict[str, Any]],
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        byid = {r["id"]: r for r in rows}
        for lv in lives:
            nxt = next(
                (
                    s
                    for s in lv.stops
                    if not s.done and s.eta_s is not None and s.kind in ("pickup", "dropoff")
                ),
                None,
            )
            if (
                nxt is not None
                and nxt.eta_s is not None
                and nxt.eta_s - nxt.planned_s > LATE_ALERT_S
            ):
                m = math.ceil((nxt.eta_s - nxt.planned_s) / 60)
                out.append(
                    _alert(
                        "late",
                        lv.vehicle_id,
                        None,
                        f"{lv.vehicle_id} a {m} min de retard sur son plan.",
                        m,
                    )
                )
            seen: set[str] = set()
            for st in lv.stops:
                if st.done or st.late_s <= 0 or st.request_id is None or st.request_id in seen:
                    continue
                seen.add(st.request_id)
                m = math.ceil(st.late_s / 60)
                what = "prise en charge" if st.kind == "pickup" else "arrivée"
                out.append(
                    _alert(
                        "broken_promise",
                        lv.vehicle_id,
                        st.request_id,
                        f"Promesse non tenue pour {st.request_id} : {what} estimée à "
                        f"{hm(st.eta_s or 0)}, {m} min au-delà de la promesse.",
                        m,
                    )
                )
            if lv.status == "unavailable":
                since = state.of(lv.vehicle_id).unavailable_from or 0
                left = f" ; {len(lv.orphans)} trajet(s) à reprendre" if lv.orphans else ""
                out.append(
                    _alert(
                        "unavailable",
                        lv.vehicle_id,
                        None,
                        f"{lv.vehicle_id} indisponible depuis {hm(since)}{left}.",
                        None,
                    )
                )
        out += _linked_alerts(problem, lives)
        for vid, vs in state.vehicles.items():
            for rid, at in vs.no_shows.items():
                backs = [
                    r
                    for r in rows
                    if (r["request"] or {}).get("return_of") == rid and r["status"] == "accepted"
                ]
                extra = (
                    f" Son retour {backs[0]['id']} est conservé : à confirmer avec la personne."
                    if backs
                    else ""
                )
                out.append(
                    _alert("no_show", vid, rid, f"{rid} absent(e) à {hm(at)} ({vid}).{extra}", None)
                )
        for rid, r in byid.items():
            ref = r.get("refusal") or {}
            if r["status"] == "refused" and (ref.get("details") or {}).get("after_promise"):
                out.append(
                    _alert("refused_after_promise", None, rid, str(ref.get("message", "")), None)
                )
        return out

    def _bookings(
        self,
        day: date,
        problem: Problem,
        plan: Plan,
        state: FleetState,
        lives: list[VehicleLive],
        rows: list[dict[str, Any]],
    ) -> list[dict[str, Any]]:
        eta: dict[tuple[str, str], tuple[str, int | None]] = {}
        for lv in lives:
            for st in lv.stops:
                if st.request_id:
                    eta[(st.request_id, st.kind)] = (lv.vehicle_id, st.eta_s)
        relay_of = {orig: rel for rel, orig in state.relays.items()}
        out = []
        for r in rows:
            if r["status"] == "pending":
                continue
            rid = r["id"]
            live_id = relay_of.get(rid, rid)
            aboard = state.on_board_anywhere(live_id)
            dropped = any(live_id in vs.dropped for vs in state.vehicles.values())
            status = {
                "accepted": "promised",
                "no_show": "no_show",
                "refused": "refused",
                "cancelled": "cancelled",
            }[r["status"]]
            if status == "promised" and rid in relay_of and aboard is None and not dropped:
                status = "on_board"  # on board the broken vehicle, a relay coming
            if status == "promised" and aboard is not None:
                status = "on_board"
            if status == "promised" and dropped:
                status = "done"
            kind = "dropoff" if status == "on_board" else "pickup"
            vid, e = eta.get((live_id, kind), (None, None))
            if vid is None:
                vid = (r.get("promise") or {}).get("vehicle_id")
            pw = ((r.get("promise") or {}).get("pickup") or {}).get("window")
            out.append(
                {
                    "request_id": rid,
                    "state": status,
                    "vehicle_id": vid if status not in ("refused", "cancelled") else vid,
                    "promised_window": pw,
                    "eta": None
                    if e is None or status in ("done", "refused", "cancelled", "no_show")
                    else format_time(e, day, self.ctx.tz),
                }
            )
        return out

    # ---- notifications ---------------------------------------------------------------------
    def notifications(self, day: date, key: KeyInfo, pending: bool = False) -> list[dict[str, Any]]:
        rows = self.events.list_notifications(day, pending)
        out: list[dict[str, Any]] = self.privacy.show(
            View.NOTIFICATION, rows, key, "notifications.list", day
        )
        return out

    def mark_sent(self, day: date, notification_id: int, key: KeyInfo) -> dict[str, Any]:
        got = self.events.mark_sent(day, notification_id)
        out: dict[str, Any] = self.privacy.show(View.NOTIFICATION, got, key, "", day, log=False)
        return out

    # ---- a manual move -----------------------------------------------------------------------
    def move(self, day: date, request_id: str, vehicle_id: str, key: KeyInfo) -> dict[str, Any]:
        """Move a request not yet boarded to ``vehicle_id``, checked by the same insertion
        (its promise as hard windows) and the checker; ConflictError with the reason if not."""
        _ = self.privacy.pseudonyms
        with self.ctx.store.lock_day(day) as (s, row):
            plan, problem = self._stored(s, row, day)
            state = FleetState.from_dict(EventStore.state_in(s, day))
            try:
                target = problem.vehicle(vehicle_id)
            except KeyError:
                raise NotFoundError(
                    f"no vehicle {vehicle_id!r} in the day's plan", "body.vehicle_id"
                ) from None
            got = promise_in(problem, plan, request_id)
            if got is None:
                raise NotFoundError(
                    f"request {request_id!r} is not in the day's plan", "request_id"
                )
            if state.on_board_anywhere(request_id) or any(
                request_id in vs.boarded or request_id in vs.no_shows
                for vs in state.vehicles.values()
            ):
                raise MoveRefused(
                    f"{request_id} a déjà été pris(e) en charge",
                    f"request {request_id!r} has already been picked up",
                    "request_id",
                )
            if got.vehicle_id == vehicle_id:
                raise MoveRefused(
                    f"{request_id} est déjà sur {vehicle_id}",
                    f"request {request_id!r} is already on {vehicle_id}",
                    "body.vehicle_id",
                )
            if state.of(vehicle_id).unavailable_from is not None:
                raise MoveRefused(
                    f"{vehicle_id} est indisponible",
                    f"{vehicle_id} is unavailable",
                    "body.vehicle_id",
                )
            clock = self.ctx.now_s(day)
            now = clock if clock is not None else self._now(day, state)
            after = Aftermath(self, s, day, problem, plan, state, now, clock)
            r = problem.request(request_id)
            after.remove(request_id)
            if after.insert(r, set(), only=vehicle_id) is None:
                alone = replace(problem, requests=(replace(r, return_of=None),))
                if not feasible_alone(alone, alone.requests[0], target):
                    fr = (
                        f"{vehicle_id} ne peut pas assurer ce trajet, même seul (places, "
                        "fauteuils roulants, horaires du véhicule ou créneaux)"
                    )
                    en = (
                        f"{vehicle_id} cannot serve this trip even alone (capacity, wheelchair "
                        "places, shift or windows)"
                    )
                else:
                    fr = (
                        f"la tournée de {vehicle_id} n'a pas de place pour ce trajet sans manquer "
                        "une promesse (ses créneaux, ceux des autres passagers, les temps de "
                        "trajet, les places)"
                    )
                    en = (
                        f"{vehicle_id}'s route has no room for it without breaking a promise "
                        "(its windows, the other riders' windows, ride times, capacity)"
                    )
                raise MoveRefused(
                    f"impossible de passer {request_id} sur {vehicle_id} : {fr}",
                    f"cannot move {request_id!r} to {vehicle_id}: {en}",
                    "body.vehicle_id",
                )
            after.repromise(request_id)
            keep = self._write(s, row, day, after)
            moved = promise_in(after.problem, after.plan, request_id)
            assert moved is not None
            answer = moved.to_dict()
        self.ctx.memory.remember(keep, day)
        out: dict[str, Any] = self.privacy.show(
            View.BOOKING_ANSWER, answer, key, "", day, log=False
        )
        return out


def _linked_alerts(problem: Problem, lives: Sequence[VehicleLive]) -> list[dict[str, Any]]:
    """A return whose pickup comes, as the vehicles now stand, before its outbound's estimated
    arrival plus alighting and the minimum stay. A vehicle's live plan is judged on its own, so
    this is seen only here when the two trips are on two vehicles: the operator moves one."""
    eta: dict[tuple[str, str], tuple[int, str]] = {}
    for lv in lives:
        for st in lv.stops:
            if st.request_id is not None and not st.done and st.eta_s is not None:
                eta[(st.request_id, st.kind)] = (st.eta_s, lv.vehicle_id)
    out: list[dict[str, Any]] = []
    for outbound, back in problem.linked_pairs():
        drop, pick = eta.get((outbound.id, "dropoff")), eta.get((back.id, "pickup"))
        if drop is None or pick is None:
            continue
        ready = drop[0] + problem.alighting_s(outbound) + back.min_stay_s
        if pick[0] < ready:
            out.append(
                _alert(
                    "return_before_outbound",
                    pick[1],
                    back.id,
                    f"Le retour {back.id} ({pick[1]}) est prévu à {hm(pick[0])}, avant "
                    f"l'arrivée estimée de son aller {outbound.id} ({drop[1]}) à {hm(drop[0])} "
                    f"et {math.ceil(back.min_stay_s / 60)} min de séjour : retour à décaler.",
                    math.ceil((ready - pick[0]) / 60),
                )
            )
    return out


def _alert(
    kind: str, vid: str | None, rid: str | None, message: str, minutes: int | None
) -> dict[str, Any]:
    return {
        "kind": kind,
        "vehicle_id": vid,
        "request_id": rid,
        "message": message,
        "minutes": minutes,
    }
