"""Following the day as it happens: vehicles' events applied to what the day knows, and the live
schedule of the rest of each route (ETAs). Pure: no clock, no store; the service passes ``now_s``.

What is done is what the events say, not the clock:

* ``boarded`` marks a request's pickup done (with the actual number of passengers), ``no_show``
  marks it done without anyone aboard, ``dropped_off`` marks its drop-off done (only for someone
  on board this vehicle); ``arrived``/``departed`` place the vehicle at a stop; ``position``
  pings place it anywhere (snapped to the nearest place of the day's problem for the travel-time
  matrix); ``delayed`` declares how late the vehicle runs against its plan (until its next stop
  event says when it actually is there); ``unavailable`` takes it off the road from a time.
* Nothing moves back: a ping older than the last one does not move the position, an event older
  than the last stop does not move the vehicle's last known place, and a done visit stays done
  (a contradictory event, e.g. a drop-off of someone not on board, is refused with a reason).

The live schedule of a vehicle that has sent events (:func:`vehicle_live`): from its current
place (the most recent of its last stop and its last ping) at ``ready_s`` (not before now, not
before the end of the service at its last stop), the visits still to do in the plan's order are
propagated along the travel-time matrix (waiting for a window's start, the breaks still to take,
the declared delay on the next stop). The result is also a *residual* problem and plan (the
vehicle starting where it stands, its passengers on board as pickups there, the windows of the
promises it can no longer keep widened to what it will do: those are reported, not hidden) that
the independent checker judges: the live plan from the current state on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from dispatcher.model import (
    Break,
    Plan,
    Problem,
    Request,
    Route,
    TimeWindow,
    Vehicle,
    Visit,
)
from dispatcher.solver.checker import CheckReport, check_plan
from dispatcher.solver.insertion import remove_from_plan
from dispatcher.solver.schedule import Stop, schedule_route

EVENT_TYPES = (
    "position",
    "arrived",
    "departed",
    "boarded",
    "no_show",
    "dropped_off",
    "unavailable",
    "delayed",
)
REQUEST_EVENTS = ("boarded", "no_show", "dropped_off")  # need a request_id
MAX_DELAY_S = 6 * 3600
LATE_ALERT_S = 300  # a vehicle is reported late beyond this


class EventRejected(Exception):
    """An event the day's plan and state contradict (a 409 at the API): what and where."""

    def __init__(self, message: str, where: str = "") -> None:
        self.message, self.where = message, where
        super().__init__(message)


@dataclass(frozen=True)
class Event:
    vehicle_id: str
    type: str
    time_s: int
    request_id: str | None = None
    passengers: int | None = None
    lon: float | None = None
    lat: float | None = None
    delay_s: int | None = None
    note: str = ""


@dataclass
class VehicleState:
    """What the events of one vehicle established."""

    status: str = "planned"  # planned | on_road | unavailable | done
    position: tuple[float, float, int] | None = None  # lon, lat, time_s
    stop: tuple[str, int, int] | None = None  # last stop: location id, time_s, service_s
    at_stop: str | None = None  # arrived there, not departed yet
    delay_s: int = 0  # declared lateness on the next stop
    delay_at_s: int | None = None
    boarded: dict[str, list[int]] = field(default_factory=dict)  # rid -> [passengers, time_s]
    dropped: dict[str, int] = field(default_factory=dict)  # rid -> time_s
    no_shows: dict[str, int] = field(default_factory=dict)  # rid -> time_s
    unavailable_from: int | None = None
    last_s: int | None = None  # the latest event time

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "position": list(self.position) if self.position else None,
            "stop": list(self.stop) if self.stop else None,
            "at_stop": self.at_stop,
            "delay_s": self.delay_s,
            "delay_at_s": self.delay_at_s,
            "boarded": self.boarded,
            "dropped": self.dropped,
            "no_shows": self.no_shows,
            "unavailable_from": self.unavailable_from,
            "last_s": self.last_s,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> VehicleState:
        pos, stop = d.get("position"), d.get("stop")
        return cls(
            status=str(d.get("status", "planned")),
            position=(float(pos[0]), float(pos[1]), int(pos[2])) if pos else None,
            stop=(str(stop[0]), int(stop[1]), int(stop[2])) if stop else None,
            at_stop=d.get("at_stop"),
            delay_s=int(d.get("delay_s") or 0),
            delay_at_s=d.get("delay_at_s"),
            boarded={str(k): [int(v[0]), int(v[1])] for k, v in (d.get("boarded") or {}).items()},
            dropped={str(k): int(v) for k, v in (d.get("dropped") or {}).items()},
            no_shows={str(k): int(v) for k, v in (d.get("no_shows") or {}).items()},
            unavailable_from=d.get("unavailable_from"),
            last_s=d.get("last_s"),
        )

    @property
    def on_board(self) -> dict[str, int]:
        """Requests on board: passengers aboard."""
        return {r: p for r, (p, _) in self.boarded.items() if r not in self.dropped}

    @property
    def has_events(self) -> bool:
        return self.last_s is not None

    def done(self, rid: str, kind: str) -> bool:
        """Whether the visit is done: a no-show's pickup and drop-off both (nobody aboard)."""
        if rid in self.no_shows:
            return True
        if kind == "pickup":
            return rid in self.boarded
        return rid in self.dropped


@dataclass
class FleetState:
    """Every vehicle's state, and the relays (a new pickup where a broken vehicle stands, for
    its passengers on board): relay request id -> the request it carries on."""

    vehicles: dict[str, VehicleState] = field(default_factory=dict)
    relays: dict[str, str] = field(default_factory=dict)

    def of(self, vehicle_id: str) -> VehicleState:
        return self.vehicles.get(vehicle_id) or VehicleState()

    def to_dict(self) -> dict[str, Any]:
        return {
            "vehicles": {k: v.to_dict() for k, v in self.vehicles.items()},
            "relays": dict(self.relays),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> FleetState:
        vs = (d or {}).get("vehicles") or {}
        relays = {str(k): str(v) for k, v in ((d or {}).get("relays") or {}).items()}
        return cls({str(k): VehicleState.from_dict(v) for k, v in vs.items()}, relays)

    def copy(self) -> FleetState:
        return FleetState.from_dict(self.to_dict())

    def on_board_anywhere(self, rid: str) -> str | None:
        for vid, vs in self.vehicles.items():
            if rid in vs.on_board:
                return vid
        return None


# --------------------------------------------------------------------------------------------
# Applying an event
# --------------------------------------------------------------------------------------------


def _visit(route: Route | None, rid: str, kind: str) -> Visit | None:
    if route is None:
        return None
    return next((v for v in route.visits if v.request_id == rid and v.kind == kind), None)


@dataclass(frozen=True)
class _Ctx:
    """What an event's handler reads: the fleet's state (to be changed), the vehicle's, the day."""

    state: FleetState
    vs: VehicleState
    problem: Problem
    vehicle: Vehicle
    route: Route | None


def apply_event(state: FleetState, problem: Problem, plan: Plan, ev: Event) -> FleetState:
    """``state`` after ``ev`` (a new object), or :class:`EventRejected` saying why the plan and
    what is done contradict it."""
    try:
        vehicle = problem.vehicle(ev.vehicle_id)
    except KeyError:
        raise EventRejected(
            f"no vehicle {ev.vehicle_id!r} in the day's plan", "vehicle_id"
        ) from None
    out = state.copy()
    vs = out.vehicles.setdefault(ev.vehicle_id, VehicleState())
    if (
        vs.unavailable_from is not None
        and ev.type != "position"
        and ev.time_s >= vs.unavailable_from
    ):
        raise EventRejected(
            f"{ev.vehicle_id} is unavailable since {_hm(vs.unavailable_from)}", "type"
        )
    if ev.type in REQUEST_EVENTS and not ev.request_id:
        raise EventRejected(f"a {ev.type} event names its request_id", "request_id")
    if ev.type in REQUEST_EVENTS and ev.request_id not in {r.id for r in problem.requests}:
        # (a trip handed to another vehicle or refused after a breakdown, or never booked)
        raise EventRejected(
            f"request {ev.request_id!r} is not in the day's live plan any more", "request_id"
        )
    handler = _HANDLERS.get(ev.type)
    if handler is None:
        raise EventRejected(f"unknown event type {ev.type!r}", "type")
    handler(_Ctx(out, vs, problem, vehicle, plan.route(ev.vehicle_id)), ev)
    vs.last_s = ev.time_s if vs.last_s is None else max(vs.last_s, ev.time_s)
    if vs.status == "planned":
        vs.status = "on_road"
    return out


def _on_position(c: _Ctx, ev: Event) -> None:
    _need_point(ev)
    _ping(c.vs, ev)


def _ping(vs: VehicleState, ev: Event) -> None:
    """The position, if not older than the last one (a position never moves back)."""
    assert ev.lon is not None and ev.lat is not None
    if vs.position is None or ev.time_s >= vs.position[2]:
        vs.position = (ev.lon, ev.lat, ev.time_s)


def _on_boarded(c: _Ctx, ev: Event) -> None:
    assert ev.request_id is not None
    _board(c.state, c.vs, c.problem, c.vehicle, c.route, ev.request_id, ev)


def _on_no_show(c: _Ctx, ev: Event) -> None:
    rid, vs = ev.request_id, c.vs
    assert rid is not None
    if _visit(c.route, rid, "pickup") is None:
        raise EventRejected(f"request {rid!r} is not to be picked up by {ev.vehicle_id}")
    if rid in vs.boarded:
        raise EventRejected(f"request {rid!r} has boarded {ev.vehicle_id}: not a no-show")
    if rid in vs.no_shows:
        raise EventRejected(f"request {rid!r} is already reported as a no-show")
    vs.no_shows[rid] = ev.time_s
    _at(vs, c.problem.request(rid).pickup, ev.time_s, 0)


def _on_dropped_off(c: _Ctx, ev: Event) -> None:
    rid, vs = ev.request_id, c.vs
    assert rid is not None
    if rid not in vs.on_board:
        where = "dropped off already" if rid in vs.dropped else "not on board"
        raise EventRejected(f"request {rid!r} is {where} {ev.vehicle_id}: no drop-off")
    if ev.time_s < vs.boarded[rid][1]:
        raise EventRejected(f"request {rid!r} boarded at {_hm(vs.boarded[rid][1])}", "time")
    vs.dropped[rid] = ev.time_s
    r = c.problem.request(rid)
    _at(vs, r.dropoff, ev.time_s, c.problem.alighting_s(r))


def _on_stop(c: _Ctx, ev: Event) -> None:
    loc = _event_place(c.vs, c.problem, c.route, ev)
    if loc is not None:
        _at(c.vs, loc, ev.time_s, 0)
        c.vs.at_stop = loc if ev.type == "arrived" else None
    if ev.lon is not None or ev.lat is not None:
        _need_point(ev)
        _ping(c.vs, ev)


def _on_delayed(c: _Ctx, ev: Event) -> None:
    if ev.delay_s is None or not 0 <= ev.delay_s <= MAX_DELAY_S:
        raise EventRejected("a delayed event gives delay_min, 0 to 360", "delay_min")
    if c.vs.delay_at_s is None or ev.time_s >= c.vs.delay_at_s:
        c.vs.delay_s, c.vs.delay_at_s = ev.delay_s, ev.time_s


def _on_unavailable(c: _Ctx, ev: Event) -> None:
    c.vs.unavailable_from = ev.time_s
    c.vs.status = "unavailable"


_HANDLERS = {
    "position": _on_position,
    "boarded": _on_boarded,
    "no_show": _on_no_show,
    "dropped_off": _on_dropped_off,
    "arrived": _on_stop,
    "departed": _on_stop,
    "delayed": _on_delayed,
    "unavailable": _on_unavailable,
}


def _hm(s: int) -> str:
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}"


def _need_point(ev: Event) -> None:
    if (
        ev.lon is None
        or ev.lat is None
        or not (math.isfinite(ev.lon) and math.isfinite(ev.lat))
        or not (-180 <= ev.lon <= 180 and -90 <= ev.lat <= 90)
    ):
        raise EventRejected("lon and lat must be finite coordinates", "lon")


def _board(
    state: FleetState,
    vs: VehicleState,
    problem: Problem,
    vehicle: Vehicle,
    route: Route | None,
    rid: str,
    ev: Event,
) -> None:
    if _visit(route, rid, "pickup") is None:
        raise EventRejected(f"request {rid!r} is not on {ev.vehicle_id}'s route", "request_id")
    if rid in vs.no_shows:
        raise EventRejected(f"request {rid!r} was reported as a no-show", "request_id")
    other = state.on_board_anywhere(rid)
    if rid in vs.boarded or other is not None:
        raise EventRejected(f"request {rid!r} has already boarded", "request_id")
    r = problem.request(rid)
    n = r.seats + r.wheelchairs if ev.passengers is None else ev.passengers
    if n < 0 or n > 50:
        raise EventRejected("passengers must be between 0 and 50", "passengers")
    known = {q.id: q for q in problem.requests}  # (a relayed passenger counts as seated)
    seated = sum(_seated(known[q], p) if q in known else p for q, p in vs.on_board.items())
    if seated + _seated(r, n) > vehicle.seats:
        raise EventRejected(
            f"{n} passenger(s) would exceed {ev.vehicle_id}'s {vehicle.seats} seats "
            f"({seated} taken)",
            "passengers",
        )
    vs.boarded[rid] = [n, ev.time_s]
    _at(vs, r.pickup, ev.time_s, problem.boarding_s(r))


def _seated(r: Request, passengers: int) -> int:
    """Seats taken by a party of ``passengers`` (its wheelchair users take wheelchair places)."""
    return max(0, passengers - r.wheelchairs)


def _at(vs: VehicleState, loc: str, t: int, service_s: int) -> None:
    """The vehicle was at ``loc`` at ``t`` (kept only if not older than its last stop)."""
    if vs.stop is None or t >= vs.stop[1]:
        vs.stop = (loc, t, service_s)
        vs.delay_s, vs.delay_at_s = 0, None  # its actual time is known again


def _event_place(vs: VehicleState, problem: Problem, route: Route | None, ev: Event) -> str | None:
    """Where an arrived/departed event is: its request's next stop on the route (the pickup
    before boarding, the drop-off after), else None."""
    if not ev.request_id:
        return None
    rid = ev.request_id
    if _visit(route, rid, "pickup") is None and rid not in vs.boarded:
        raise EventRejected(f"request {rid!r} is not on {ev.vehicle_id}'s route", "request_id")
    r = problem.request(rid)
    return r.dropoff if rid in vs.boarded else r.pickup


# --------------------------------------------------------------------------------------------
# The live schedule
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StopEta:
    kind: str  # pickup | dropoff | break | depot
    request_id: str | None
    location_id: str | None
    planned_s: int
    eta_s: int | None
    done: bool
    passengers: int = 0
    wheelchairs: int = 0
    late_s: int = 0  # beyond the promise (pickup window end, latest arrival)


@dataclass(frozen=True)
class VehicleLive:
    vehicle_id: str
    status: str
    position: tuple[float, float, int] | None
    delay_s: int
    stops: tuple[StopEta, ...]
    residual: tuple[Problem, Plan] | None  # the live plan from the current state on
    orphans: tuple[str, ...] = ()  # requests left on an unavailable vehicle (not yet handed on)

    @cached_property
    def report(self) -> CheckReport | None:
        """The checker's report on the live plan from the current state on (judged once)."""
        return None if self.residual is None else check_plan(*self.residual)

    def check(self) -> CheckReport | None:
        return self.report

    @property
    def holds(self) -> bool:
        """Whether the live plan from the current state on holds: nothing left to do, the
        vehicle unavailable (its stops are handed on), or its residual passes the checker."""
        todo = any(not st.done and st.request_id for st in self.stops)
        return self.status == "unavailable" or not todo or bool(self.report and self.report.ok)


def nearest_location(problem: Problem, lon: float, lat: float) -> str:
    """The place of ``problem`` nearest to (lon, lat) (equirectangular distance)."""
    k = math.cos(math.radians(lat))
    best = min(problem.locations, key=lambda p: ((p.lon - lon) * k) ** 2 + (p.lat - lat) ** 2)
    return best.id


def current_place(problem: Problem, route: Route, vs: VehicleState, now_s: int) -> tuple[str, int]:
    """Where and when the rest of the route starts: the most recent of the last stop (after its
    service) and the last ping, not before now."""
    loc, t = problem.vehicle(route.vehicle_id).start, route.start_s
    if vs.stop is not None:
        loc, t = vs.stop[0], vs.stop[1] + vs.stop[2]
    if vs.position is not None and (vs.stop is None or vs.position[2] > vs.stop[1]):
        loc, t = nearest_location(problem, vs.position[0], vs.position[1]), vs.position[2]
    return loc, max(t, now_s)


def vehicle_live(
    problem: Problem, plan: Plan, state: FleetState, vehicle_id: str, now_s: int
) -> VehicleLive:
    """The live schedule of one vehicle (see the module doc)."""
    vs = state.of(vehicle_id)
    route = plan.route(vehicle_id)
    vehicle = problem.vehicle(vehicle_id)
    if route is None or not route.visits:
        status = "unavailable" if vs.unavailable_from is not None else "planned"
        if status == "planned" and vs.has_events:
            status = "done"
        return VehicleLive(vehicle_id, status, vs.position, 0, (), None)
    todo = [x for x in route.visits if not vs.done(x.request_id, x.kind)]
    done_stops = [
        StopEta(
            x.kind,
            x.request_id,
            x.location_id,
            x.start_s,
            None,
            True,
            *_party(problem, vs, x.request_id),
        )
        for x in route.visits
        if vs.done(x.request_id, x.kind)
    ]
    if vs.unavailable_from is not None:
        orphans = tuple(dict.fromkeys(x.request_id for x in todo))
        stops = done_stops + [
            StopEta(
                x.kind,
                x.request_id,
                x.location_id,
                x.start_s,
                None,
                False,
                *_party(problem, vs, x.request_id),
            )
            for x in todo
        ]
        return VehicleLive(
            vehicle_id, "unavailable", vs.position, vs.delay_s, tuple(stops), None, orphans
        )
    if not vs.has_events:
        # no word from the vehicle: it runs as planned
        stops = [
            StopEta(
                x.kind,
                x.request_id,
                x.location_id,
                x.start_s,
                x.start_s,
                False,
                *_party(problem, vs, x.request_id),
                late_s=_late(problem, problem.request(x.request_id), x.kind, x.start_s),
            )
            for x in route.visits
        ]
        stops.append(StopEta("depot", None, vehicle.end, route.end_s, route.end_s, False))
        sub = _single(problem, plan, vehicle_id)
        return VehicleLive(vehicle_id, "planned", None, 0, tuple(stops), sub)
    if not todo:
        loc, t0 = current_place(problem, route, vs, now_s)
        back = t0 + problem.travel_s(loc, vehicle.end)
        status = "done" if not vs.on_board else "on_road"
        stops = [*done_stops, StopEta("depot", None, vehicle.end, route.end_s, back, False)]
        return VehicleLive(vehicle_id, status, vs.position, 0, tuple(stops), None)
    loc0, t0 = current_place(problem, route, vs, now_s)
    if vs.delay_s:  # it cannot be at its next stop before the planned time and the delay
        t0 = max(t0, todo[0].start_s + vs.delay_s - problem.travel_s(loc0, todo[0].location_id))
    etas, breaks = _propagate(problem, route, todo, loc0, t0)
    res = _residual(problem, route, vehicle, vs, todo, loc0, t0, etas, breaks)
    rest = res[1].routes[0] if res is not None and res[1].routes else None
    timed = {(x.request_id, x.kind): x.start_s for x in rest.visits} if rest else {}
    stops = list(done_stops)
    for x, eta in zip(todo, etas, strict=True):
        e = timed.get((x.request_id, x.kind), eta)
        r = problem.request(x.request_id)
        stops.append(
            StopEta(
                x.kind,
                x.request_id,
                x.location_id,
                x.start_s,
                e,
                False,
                *_party(problem, vs, x.request_id),
                late_s=_late(problem, r, x.kind, e),
            )
        )
    timed_breaks = [b.start_s for b in rest.breaks] if rest else [s for s, _ in breaks]
    for planned_b, b_start in zip(
        sorted(b.start_s for b in route.breaks if b.start_s >= t0), timed_breaks, strict=False
    ):
        stops.append(StopEta("break", None, None, planned_b, b_start, False))
    end_eta = (
        rest.end_s
        if rest
        else etas[-1]
        + problem.travel_s(todo[-1].location_id, vehicle.end)
        + sum(d for _, d in breaks)
    )
    stops.append(StopEta("depot", None, vehicle.end, route.end_s, end_eta, False))
    stops.sort(key=lambda s: (not s.done, s.eta_s if s.eta_s is not None else s.planned_s))
    return VehicleLive(vehicle_id, "on_road", vs.position, vs.delay_s, tuple(stops), res)


def _party(problem: Problem, vs: VehicleState, rid: str | None) -> tuple[int, int]:
    if rid is None:
        return 0, 0
    r = problem.request(rid)
    n = vs.boarded[rid][0] if rid in vs.boarded else r.seats + r.wheelchairs
    return n, r.wheelchairs


def _late(problem: Problem, r: Request, kind: str, t: int) -> int:
    tw = problem.pickup_tw(r) if kind == "pickup" else problem.dropoff_tw(r)
    return max(0, t - tw.end_s)


def _service(problem: Problem, r: Request, kind: str) -> int:
    return problem.boarding_s(r) if kind == "pickup" else problem.alighting_s(r)


def _propagate(
    problem: Problem,
    route: Route,
    todo: list[Visit],
    loc0: str,
    t0: int,
) -> tuple[list[int], list[tuple[int, int]]]:
    """Starts of service of the visits to do, driving from ``loc0`` at ``t0``: the travel times,
    waiting for each window's start, the breaks planned later than ``t0`` (taken where planned,
    or as soon as possible if late); and the breaks taken (start, duration)."""
    index = {(v.request_id, v.kind): k for k, v in enumerate(route.visits)}
    pending = sorted((b.start_s, b.duration_s, b.after) for b in route.breaks if b.start_s >= t0)
    taken: list[tuple[int, int]] = []
    etas: list[int] = []
    loc, t = loc0, t0
    for x in todo:
        k = index[(x.request_id, x.kind)]
        while pending and pending[0][2] < k:
            b_start, b_dur, _ = pending.pop(0)
            s = max(t, b_start)
            taken.append((s, b_dur))
            t = s + b_dur
        r = problem.request(x.request_id)
        arr = t + problem.travel_s(loc, x.location_id)
        tw = problem.pickup_tw(r) if x.kind == "pickup" else problem.dropoff_tw(r)
        start = max(arr, tw.start_s)
        etas.append(start)
        t, loc = start + _service(problem, r, x.kind), x.location_id
    for b_start, b_dur, _ in pending:  # taken before the way back
        s = max(t, b_start)
        taken.append((s, b_dur))
        t = s + b_dur
    return etas, taken


def _residual(
    problem: Problem,
    route: Route,
    vehicle: Vehicle,
    vs: VehicleState,
    todo: list[Visit],
    loc0: str,
    t0: int,
    etas: list[int],
    breaks: list[tuple[int, int]],
) -> tuple[Problem, Plan] | None:
    """The vehicle's rest of the day as a problem and plan of its own, timed exactly, or None if
    it cannot be timed (then the ETAs are the propagation's)."""
    eta = {(x.request_id, x.kind): e for x, e in zip(todo, etas, strict=True)}
    reqs: dict[str, Request] = {}
    on_board = vs.on_board
    # a passenger on board standing at its own drop-off alights there and then: not a trip of
    # the residual (a trip cannot start where it ends)
    todo = [
        x
        for x in todo
        if not (x.request_id in on_board and problem.request(x.request_id).dropoff == loc0)
    ]
    etas = [eta[(x.request_id, x.kind)] for x in todo]
    ids = list(dict.fromkeys(x.request_id for x in todo))
    for rid in ids:
        r = problem.request(rid)
        ptw, dtw = problem.pickup_tw(r), problem.dropoff_tw(r)
        e_d = eta.get((rid, "dropoff"), dtw.end_s)
        if rid in on_board:
            aboard = on_board[rid]
            ride = max(problem.max_ride_s(r), e_d - t0) + 1
            reqs[rid] = replace(
                r,
                pickup=loc0,
                seats=_seated(r, aboard),
                pickup_window=TimeWindow(t0, t0),
                arrive_by_s=max(dtw.end_s, e_d),
                not_before_s=min(dtw.start_s, e_d),
                boarding_s=0,
                max_ride_s=ride,
                return_of=None,
            )
            continue
        e_p = eta[(rid, "pickup")]
        lo = min(max(ptw.start_s, t0), e_p)
        hi = max(ptw.end_s, e_p, lo)
        ride = max(problem.max_ride_s(r), e_d - (e_p + problem.boarding_s(r)))
        reqs[rid] = replace(
            r,
            pickup_window=TimeWindow(lo, hi),
            arrive_by_s=max(dtw.end_s, e_d),
            not_before_s=min(dtw.start_s, e_d),
            max_ride_s=ride,
        )
    for rid, r in list(reqs.items()):
        if r.return_of is not None and r.return_of not in reqs:
            reqs[rid] = replace(r, return_of=None)
    last = max([*etas, t0])
    v2 = replace(
        vehicle,
        start=loc0,
        shift=TimeWindow(t0, max(vehicle.shift.end_s, last + 4 * 3600)),
        start_window=None,
        end_window=None,
        max_duration_s=None,
        max_driving_s=None,
        breaks=tuple(Break(TimeWindow(s, s + d), d) for s, d in breaks),
    )
    hours = problem.rules.service_hours
    rules = replace(
        problem.rules,
        service_hours=TimeWindow(min(hours.start_s, t0), max(hours.end_s, last + 3600)),
    )
    try:
        sub = replace(
            problem,
            requests=tuple(reqs[rid] for rid in ids),
            vehicles=(v2,),
            rules=rules,
        )
    except Exception:  # an inconsistent residual (cannot happen with consistent windows)
        return None
    boarded = [rid for rid in ids if rid in on_board]
    if not todo:
        return sub, Plan(routes=())
    stops: list[Stop] = [(sub.request(rid), "pickup") for rid in boarded]
    stops += [(sub.request(x.request_id), x.kind) for x in todo]
    hint = [t0, *([t0] * len(boarded)), *etas, last + 3600]
    timed = schedule_route(sub, v2, stops, hint, [s for s, _ in breaks] or None)
    if timed is None and breaks:
        timed = schedule_route(sub, v2, stops, hint, None)
    if timed is None:
        return None
    return sub, Plan(routes=(timed,))


def _single(problem: Problem, plan: Plan, vehicle_id: str) -> tuple[Problem, Plan] | None:
    """A vehicle's route as planned, as a problem and plan of its own (its linked trips with
    another vehicle unlinked)."""
    route = plan.route(vehicle_id)
    if route is None:
        return None
    ids = list(dict.fromkeys(v.request_id for v in route.visits))
    reqs = [problem.request(r) for r in ids]
    keep = set(ids)
    reqs = [
        r if r.return_of in keep or r.return_of is None else replace(r, return_of=None)
        for r in reqs
    ]
    try:
        sub = replace(problem, requests=tuple(reqs), vehicles=(problem.vehicle(vehicle_id),))
    except Exception:
        return None
    return sub, Plan(routes=(route,))


def settle(
    problem: Problem, plan: Plan, state: FleetState, vehicle_id: str, now_s: int
) -> tuple[Problem, Plan, list[str]]:
    """The day with the requests taken off ``vehicle_id`` that its live plan can no longer hold
    (e.g. a companion aboard leaves no seat for a later pickup, a stop it cannot time): those
    not yet picked up, the last pickup first, until the rest passes the checker. The caller
    hands each one on to another vehicle, or refuses it (with a record and a notification)."""
    vs = state.of(vehicle_id)
    removed: list[str] = []
    while True:
        lv = vehicle_live(problem, plan, state, vehicle_id, now_s)
        route = plan.route(vehicle_id)
        todo = (
            [] if route is None else [x for x in route.visits if not vs.done(x.request_id, x.kind)]
        )
        report = lv.check()
        if lv.status == "unavailable" or not todo or (report is not None and report.ok):
            return problem, plan, removed
        assert route is not None
        waiting = [
            x.request_id
            for x in reversed(route.visits)
            if x.kind == "pickup" and not vs.done(x.request_id, "pickup")
        ]
        if not waiting:
            return problem, plan, removed  # only passengers on board: nothing to hand on
        rid = waiting[0]
        problem = problem.with_requests(
            [
                q if q.return_of != rid else replace(q, return_of=None)
                for q in problem.requests
                if q.id != rid
            ]
        )
        plan = remove_from_plan(problem, plan, rid, None, retime=False)
        removed.append(rid)


def as_lived(problem: Problem, plan: Plan, state: FleetState, now_s: int) -> Plan:
    """``plan`` re-stamped so that what is done at ``now_s`` for an insertion (its visits
    starting before ``now_s``: ``dispatcher.solver.insertion.locked_prefix``) is what the events
    say, not the clock: for each vehicle that has sent events, its visits done (boarded, dropped
    off) at the times they were done (before now), the others not before now nor before their
    ETA from where the vehicle stands (its last stop or ping, its declared delay). A route whose
    done visits are not the first of its visits (events out of the route's order), an
    unavailable vehicle's and a silent vehicle's are kept as they are (the clock decides)."""
    routes = []
    for route in plan.routes:
        vs = state.of(route.vehicle_id)
        if not vs.has_events or vs.unavailable_from is not None or not route.visits:
            routes.append(route)
            continue
        done = [vs.done(x.request_id, x.kind) for x in route.visits]
        k = sum(done)
        if any(done[k:]) or not all(done[:k]):
            routes.append(route)
            continue
        eta = {
            (st.request_id, st.kind): st.eta_s
            for st in vehicle_live(problem, plan, state, route.vehicle_id, now_s).stops
            if not st.done and st.eta_s is not None
        }
        visits, last = [], -1
        for x, was in zip(route.visits, done, strict=True):
            if was:
                rid = x.request_id
                if rid in vs.no_shows:
                    at = vs.no_shows[rid]
                else:
                    at = vs.boarded[rid][1] if x.kind == "pickup" else vs.dropped[rid]
                t = max(last, min(at, now_s - 1))
            else:
                t = max(last, x.start_s, now_s, eta.get((x.request_id, x.kind), now_s))
            last, d = t, t - x.start_s
            visits.append(
                x
                if not d
                else replace(x, arrival_s=x.arrival_s + d, start_s=t, departure_s=x.departure_s + d)
            )
        if all(a is b for a, b in zip(visits, route.visits, strict=True)):
            routes.append(route)
        else:
            routes.append(replace(route, visits=tuple(visits)))
    if all(a is b for a, b in zip(routes, plan.routes, strict=True)):
        return plan
    return replace(plan, routes=tuple(routes))


def fleet_live(
    problem: Problem,
    plan: Plan,
    state: FleetState,
    now_s: int,
    vehicles: Iterable[str] | None = None,
) -> list[VehicleLive]:
    """The live schedule of every vehicle of the plan (or of ``vehicles``)."""
    want = None if vehicles is None else set(vehicles)
    out = []
    for v in problem.vehicles:
        if want is not None and v.id not in want:
            continue
        if plan.route(v.id) is None and not state.of(v.id).has_events:
            continue
        out.append(vehicle_live(problem, plan, state, v.id, now_s))
    return out


__all__ = [
    "EVENT_TYPES",
    "Event",
    "EventRejected",
    "FleetState",
    "StopEta",
    "VehicleLive",
    "VehicleState",
    "apply_event",
    "as_lived",
    "current_place",
    "fleet_live",
    "nearest_location",
    "settle",
    "vehicle_live",
]
