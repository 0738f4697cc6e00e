"""The one independent plan checker: every constraint stated once, re-derived from the Problem.

``check_plan(problem, plan)`` recomputes everything from the Problem and the order of the
visits and never trusts the plan's own numbers (loads, ride times, distances are compared
with the recomputation, not used). It knows nothing of the solver that produced the plan.

Conventions (those of :mod:`dispatcher.model`):

* Times are integer seconds since midnight. A visit starts no earlier than it arrives
  (waiting allowed) and departs exactly when its service ends: ``departure_s = start_s +
  boarding`` for a pickup, ``+ alighting`` for a drop-off.
* The legs of a route are the gaps ``after = -1`` (start depot to first visit), ``0 ..
  len(visits) - 2`` and ``len(visits) - 1`` (last visit to the end depot). On a leg from ``prev``
  to ``next`` the vehicle leaves at ``prev.departure_s`` (``route.start_s`` for the depot),
  arrives at ``next.arrival_s`` (``route.end_s`` for the end depot) and starts service at
  ``next.start_s`` (``route.end_s`` for the end depot). The vehicle drives whenever it is not on
  a break: the time in ``[prev.departure_s, next.arrival_s]`` not covered by the breaks of that
  leg must hold the matrix travel time (this is implied by ``next.arrival_s >= prev.departure_s
  + travel + sum of the leg's breaks`` and also accepts a break taken while waiting at the stop).
* A break ``BreakTaken(start_s, duration_s, after)`` lies inside the leg ``after``
  (``[prev.departure_s, next.start_s]``), does not overlap another break, and matches one of
  the vehicle's ``Break``: same duration, entirely inside its window. Each Break of a used
  vehicle (a route with visits) is taken exactly once.
* Every visit starts within the service hours: pickups AND drop-offs.
* Time windows: a pickup starts in ``problem.pickup_tw(r)``, a drop-off in
  ``problem.dropoff_tw(r)``.
* Ride time = ``dropoff.start_s - (pickup.start_s + boarding)`` <= ``problem.max_ride_s(r)``.
* Loads after each visit are recomputed from the order, starting empty; never above the
  vehicle's capacity per dimension, never negative, empty at the end.
* Optional driver limits of a vehicle (a carpool driver's or a volunteer's): the route leaves
  its start within ``start_window`` and reaches its end within ``end_window`` (the driver's
  window), lasts at most ``max_duration_s`` from leaving to arriving (a driver's maximum duty;
  a carpool driver's direct drive plus the detour allowed), and carries only requests
  ``problem.may_carry`` allows (riders accepting carpools, the driver's meeting points, the
  volunteer's distance from home).
* Continuous driving (``max_driving_s``): the route's breaks of at least ``driving_break_s``
  (as taken) cut it into stretches, from ``route.start_s`` to the start of the first such break,
  from the end of each to the start of the next, and from the end of the last to
  ``route.end_s``; each stretch lasts at most ``max_driving_s``. Elapsed time counts, not
  driving alone (boarding, alighting, waiting and shorter breaks are in the stretch): the rule
  the solver holds, stricter than the EU rule.
* Linked trips (a request whose ``return_of`` names its outbound): both halves are served or
  neither, and the return's pickup starts no earlier than the outbound's drop-off start plus
  its alighting time plus the return's ``min_stay_s``, whichever routes they are on.
* An empty route (no visits) is an unused vehicle: only its id is checked (and its distance,
  which must be 0 or the depot-to-depot distance).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from dispatcher.model import (
    Break,
    BreakTaken,
    Plan,
    Problem,
    Reason,
    Request,
    Route,
    Vehicle,
    Visit,
    hhmm,
)

VIOLATION_CODES: dict[str, str] = {
    "unknown_vehicle": "a route names a vehicle that is not in the Problem",
    "duplicate_vehicle": "two routes use the same vehicle",
    "unknown_request": "a visit or a rejection names a request that is not in the Problem",
    "visit_kind": "a visit's kind is neither 'pickup' nor 'dropoff'",
    "duplicate_request": "a request has more than one pickup or drop-off, or is refused twice",
    "unpaired": "a request has a pickup without a drop-off or a drop-off without a pickup",
    "split_vehicle": "a request's pickup and drop-off are on different routes",
    "pickup_after_dropoff": "a request's drop-off comes before its pickup on the route",
    "served_and_refused": "a request is both served and refused",
    "missing_request": "a request is neither served nor refused",
    "reason": "a rejection carries no valid Reason",
    "location": "a visit's location is not the request's pickup/drop-off place",
    "capacity": "the recomputed load exceeds the vehicle's seats or wheelchair places",
    "wheelchair": "a request needing wheelchair places is on a vehicle with too few of them",
    "load_negative": "the recomputed load goes below zero (not reported when a pairing error "
    "explains it)",
    "load_mismatch": "a visit's reported load differs from the load recomputed from the order",
    "time_window": "a visit starts outside the request's pickup/drop-off window",
    "service_hours": "a visit starts outside the service hours",
    "travel_time": "a leg leaves less driving time than the matrix travel time (or no road)",
    "early_start": "a visit starts before the vehicle arrives there",
    "service_time": "a visit's departure is not its start plus the boarding/alighting time",
    "shift": "the route leaves its depot before the shift starts or returns after it ends",
    "break": "a break is missing, taken twice, outside its window, outside its leg, overlapping "
    "another break, or does not match any of the vehicle's breaks",
    "driver_window": "the route leaves its start outside the vehicle's start_window or reaches its "
    "end outside its end_window",
    "max_duration": "the route lasts longer than the vehicle's max_duration_s (the driver's "
    "maximum duty; a carpool driver's detour limit)",
    "max_driving": "a stretch of the route without a break of at least driving_break_s lasts "
    "longer than the vehicle's max_driving_s (continuous driving, in elapsed time)",
    "vehicle_rules": "a vehicle carries a request it may not (carpool refused, not a meeting "
    "point, too far from home)",
    "ride_time": "a passenger's ride time exceeds the maximum ride time",
    "ride_time_mismatch": "a drop-off's reported ride_time_s differs from the recomputed ride time",
    "distance": "a route's distance_m differs from the sum of matrix distances along it",
    "linked_trip_split": "one half of a linked trip (an outbound and its return) is served, "
    "the other is not",
    "return_before_outbound": "a return's pickup starts before its outbound's drop-off has "
    "ended plus the minimum stay",
}


@dataclass(frozen=True)
class Violation:
    """One broken constraint. ``code`` is a key of ``VIOLATION_CODES``; ``where`` names the
    route/visit/request (e.g. ``routes[2] (bus-3) visit 4 (r17 dropoff)``)."""

    code: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"[{self.code}] {self.where}: {self.message}"


@dataclass(frozen=True)
class CheckReport:
    violations: tuple[Violation, ...]
    recomputed: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def codes(self) -> set[str]:
        return {v.code for v in self.violations}

    def summary(self) -> str:
        rc = self.recomputed
        head = (
            f"{'OK' if self.ok else 'INVALID'}: {rc.get('served', 0)} served, "
            f"{rc.get('refused', 0)} refused, "
            f"{rc.get('vehicles_used', 0)} vehicles, {rc.get('distance_m', 0) / 1000:.1f} km, "
            f"{rc.get('duration_s', 0) / 3600:.2f} h"
        )
        if self.ok:
            return head
        counts: dict[str, int] = defaultdict(int)
        for v in self.violations:
            counts[v.code] += 1
        lines = [
            head
            + f"; {len(self.violations)} violation(s): "
            + ", ".join(f"{c} x{n}" for c, n in sorted(counts.items()))
        ]
        lines += [f"  {v}" for v in self.violations[:20]]
        if len(self.violations) > 20:
            lines.append(f"  ... and {len(self.violations) - 20} more")
        return "\n".join(lines)


def _t(t: int) -> str:
    """Times in violations to the second (a one-second miss is a miss)."""
    return hhmm(t, with_seconds=True)


def _overlap(a0: int, a1: int, b0: int, b1: int) -> int:
    return max(0, min(a1, b1) - max(a0, b0))


def _match_breaks(
    taken: Sequence[BreakTaken], required: Sequence[Break]
) -> tuple[list[int], list[int]]:
    """Maximum bipartite matching of taken breaks to the vehicle's breaks (same duration, inside
    the window). Returns (unmatched taken indices, unmatched required indices)."""
    fits = [
        [
            j
            for j, b in enumerate(required)
            if t.duration_s == b.duration_s
            and b.window.start_s <= t.start_s
            and t.start_s + t.duration_s <= b.window.end_s
        ]
        for t in taken
    ]
    owner: dict[int, int] = {}

    def augment(i: int, seen: set[int]) -> bool:
        for j in fits[i]:
            if j in seen:
                continue
            seen.add(j)
            if j not in owner or augment(owner[j], seen):
                owner[j] = i
                return True
        return False

    for i in range(len(taken)):
        augment(i, set())
    matched_taken = set(owner.values())
    return [i for i in range(len(taken)) if i not in matched_taken], [
        j for j in range(len(required)) if j not in owner
    ]


_REASON_VALUES = frozenset(x.value for x in Reason)


class _Checker:
    def __init__(self, problem: Problem, plan: Plan) -> None:
        self.p = problem
        self.plan = plan
        self.out: list[Violation] = []
        self.requests = {r.id: r for r in problem.requests}
        self.vehicles = {v.id: v for v in problem.vehicles}

    def add(self, code: str, where: str, message: str) -> None:
        assert code in VIOLATION_CODES, code
        self.out.append(Violation(code, where, message))

    # ---- where strings -------------------------------------------------------------------
    @staticmethod
    def rwhere(k: int, route: Route) -> str:
        return f"routes[{k}] ({route.vehicle_id})"

    def vwhere(self, k: int, route: Route, i: int) -> str:
        v = route.visits[i]
        return f"{self.rwhere(k, route)} visit {i} ({v.request_id} {v.kind})"

    # ---- the checks ----------------------------------------------------------------------
    def run(self) -> CheckReport:
        p = self.p
        pickups, dropoffs = self.check_visits()
        paired = self.check_pairing(pickups, dropoffs)
        served = set(pickups) | set(dropoffs)
        broken = served - set(paired)
        refused_seen = self.check_accounting(served)
        self.check_linked(served, paired)
        used, total_distance, total_duration = self.check_routes(paired, broken)
        recomputed = {
            "requests": len(p.requests),
            "served": len([r for r in paired if r not in refused_seen]),
            "refused": len(refused_seen),
            "vehicles_used": used,
            "distance_m": total_distance,
            "duration_s": total_duration,
        }
        return CheckReport(tuple(self.out), recomputed)

    def check_visits(
        self,
    ) -> tuple[dict[str, list[tuple[int, int]]], dict[str, list[tuple[int, int]]]]:
        """Vehicles known and used once, visits of known requests at their places; returns
        where each request is picked up and dropped off (route, visit index)."""
        seen_vehicles: dict[str, int] = {}
        pickups: dict[str, list[tuple[int, int]]] = defaultdict(list)
        dropoffs: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for k, route in enumerate(self.plan.routes):
            where = self.rwhere(k, route)
            if route.vehicle_id not in self.vehicles:
                self.add(
                    "unknown_vehicle", where, f"vehicle {route.vehicle_id!r} is not in the problem"
                )
            elif route.vehicle_id in seen_vehicles:
                self.add(
                    "duplicate_vehicle",
                    where,
                    f"vehicle {route.vehicle_id!r} already has "
                    f"routes[{seen_vehicles[route.vehicle_id]}]",
                )
            else:
                seen_vehicles[route.vehicle_id] = k
            for i, v in enumerate(route.visits):
                self.check_visit(k, route, i, v, pickups, dropoffs)
        return pickups, dropoffs

    def check_visit(
        self,
        k: int,
        route: Route,
        i: int,
        v: Visit,
        pickups: dict[str, list[tuple[int, int]]],
        dropoffs: dict[str, list[tuple[int, int]]],
    ) -> None:
        vw = self.vwhere(k, route, i)
        r = self.requests.get(v.request_id)
        if r is None:
            self.add("unknown_request", vw, f"request {v.request_id!r} is not in the problem")
            return
        if v.kind == "pickup":
            pickups[r.id].append((k, i))
            if v.location_id != r.pickup:
                self.add(
                    "location",
                    vw,
                    f"at {v.location_id!r}, but the request's pickup is {r.pickup!r}",
                )
        elif v.kind == "dropoff":
            dropoffs[r.id].append((k, i))
            if v.location_id != r.dropoff:
                self.add(
                    "location",
                    vw,
                    f"at {v.location_id!r}, but the request's drop-off is {r.dropoff!r}",
                )
        else:
            self.add("visit_kind", vw, f"kind {v.kind!r} is neither 'pickup' nor 'dropoff'")

    def check_pairing(
        self,
        pickups: dict[str, list[tuple[int, int]]],
        dropoffs: dict[str, list[tuple[int, int]]],
    ) -> dict[str, tuple[int, int, int]]:
        """The requests whose pickup and drop-off are one each, same route, in order: id ->
        (route, pickup index, drop-off index)."""
        plan = self.plan
        paired: dict[str, tuple[int, int, int]] = {}
        for rid in sorted(set(pickups) | set(dropoffs)):
            ps, ds = pickups.get(rid, []), dropoffs.get(rid, [])
            where = f"request {rid}"
            if len(ps) > 1 or len(ds) > 1:
                places = ", ".join(f"routes[{k}] visit {i}" for k, i in sorted(ps + ds))
                self.add(
                    "duplicate_request",
                    where,
                    f"{len(ps)} pickup(s) and {len(ds)} drop-off(s): {places}",
                )
                continue
            if not ps or not ds:
                (k, i), what = (ps or ds)[0], ("drop-off" if ps else "pickup")
                self.add("unpaired", where, f"routes[{k}] visit {i} has no matching {what}")
                continue
            (kp, ip), (kd, id_) = ps[0], ds[0]
            if kp != kd:
                self.add(
                    "split_vehicle",
                    where,
                    f"picked up on routes[{kp}] ({plan.routes[kp].vehicle_id}), dropped off on "
                    f"routes[{kd}] ({plan.routes[kd].vehicle_id})",
                )
                continue
            if ip > id_:
                self.add(
                    "pickup_after_dropoff",
                    where,
                    f"routes[{kp}] ({plan.routes[kp].vehicle_id}): drop-off at visit {id_} before "
                    f"the pickup at visit {ip}",
                )
                continue
            paired[rid] = (kp, ip, id_)
        return paired

    def check_accounting(self, served: set[str]) -> dict[str, int]:
        """Every request served once or refused once, for a known reason; returns the refused
        ids and where they are in the rejections."""
        refused_seen: dict[str, int] = {}
        for j, rej in enumerate(self.plan.rejections):
            where = f"rejections[{j}] ({rej.request_id})"
            if rej.request_id not in self.requests:
                self.add(
                    "unknown_request", where, f"request {rej.request_id!r} is not in the problem"
                )
                continue
            if not isinstance(rej.reason, Reason) and rej.reason not in _REASON_VALUES:
                self.add(
                    "reason",
                    where,
                    f"{rej.reason!r} is not one of {', '.join(x.value for x in Reason)}",
                )
            if rej.request_id in refused_seen:
                self.add(
                    "duplicate_request",
                    where,
                    f"already refused in rejections[{refused_seen[rej.request_id]}]",
                )
                continue
            refused_seen[rej.request_id] = j
            if rej.request_id in served:
                self.add("served_and_refused", where, "the request is also on a route")
        for r in self.p.requests:
            if r.id not in served and r.id not in refused_seen:
                self.add("missing_request", f"request {r.id}", "neither served nor refused")
        return refused_seen

    def check_routes(
        self, paired: dict[str, tuple[int, int, int]], broken: set[str]
    ) -> tuple[int, int, int]:
        """Per route: loads, times, breaks, distance; per served request: its ride. Returns the
        vehicles used, the total distance and the total duration."""
        total_distance = 0
        total_duration = 0
        used = 0
        for k, route in enumerate(self.plan.routes):
            vehicle = self.vehicles.get(route.vehicle_id)
            total_distance += self.check_distance(k, route, vehicle)
            if not route.visits or vehicle is None:
                continue
            used += 1
            total_duration += route.end_s - route.start_s
            self.check_loads(k, route, vehicle, broken)
            self.check_times(k, route, vehicle)
            self.check_breaks(k, route, vehicle)
            self.check_driving(k, route, vehicle)
        for rid, (k, ip, id_) in paired.items():
            self.check_ride(k, ip, id_, self.requests[rid])
        return used, total_distance, total_duration

    def check_linked(self, served: set[str], paired: dict[str, tuple[int, int, int]]) -> None:
        """Each outbound and its return (``return_of``): both served or neither; the return picked
        up after the outbound's drop-off, its alighting and the minimum stay."""
        routes = self.plan.routes
        for ret in self.p.requests:
            out = self.requests.get(ret.return_of) if ret.return_of is not None else None
            if out is None or out.id == ret.id:
                continue
            if (out.id in served) != (ret.id in served):
                half, other, what = (
                    (out, ret, "return") if out.id in served else (ret, out, "outbound")
                )
                self.add(
                    "linked_trip_split",
                    f"request {half.id}",
                    f"served, but its linked {what} {other.id} is not",
                )
                continue
            if out.id not in paired or ret.id not in paired:
                continue  # not served, or a pairing error reported above
            ko, _, do = paired[out.id]
            kr, pr, _ = paired[ret.id]
            drop, pick = routes[ko].visits[do], routes[kr].visits[pr]
            alight = self.p.alighting_s(out)
            ready = drop.start_s + alight + ret.min_stay_s
            if pick.start_s < ready:
                self.add(
                    "return_before_outbound",
                    self.vwhere(kr, routes[kr], pr),
                    f"starts at {_t(pick.start_s)}, before {_t(ready)}: its outbound {out.id} "
                    f"is dropped off at {_t(drop.start_s)} ({self.rwhere(ko, routes[ko])}), "
                    f"then {alight} s alighting and a stay of {ret.min_stay_s} s",
                )

    def check_distance(self, k: int, route: Route, vehicle: Vehicle | None) -> int:
        if vehicle is None:
            return 0
        p = self.p
        if not route.visits:
            depot = p.travel_m(vehicle.start, vehicle.end)
            if route.distance_m not in (0, depot):
                self.add(
                    "distance",
                    self.rwhere(k, route),
                    f"an unused vehicle reports {route.distance_m} m",
                )
            return 0
        try:
            stops = [vehicle.start, *(v.location_id for v in route.visits), vehicle.end]
            dist = sum(p.travel_m(a, b) for a, b in zip(stops, stops[1:], strict=False))
        except KeyError:
            return 0  # unknown location, reported as "location"
        if dist != route.distance_m:
            self.add(
                "distance",
                self.rwhere(k, route),
                f"reports {route.distance_m} m, the matrix gives {dist} m",
            )
        return dist

    def check_loads(self, k: int, route: Route, vehicle: Vehicle, broken: set[str]) -> None:
        """Loads recomputed naively from the order (pickup +, drop-off -), starting empty. A
        negative load or a non-empty vehicle at the end is only reported when no pairing error
        on this route already explains it."""
        seats = wheelchairs = 0
        onboard: set[str] = set()
        pairing_error = any(v.request_id in broken for v in route.visits)
        for i, v in enumerate(route.visits):
            r = self.requests.get(v.request_id)
            if r is None or v.kind not in ("pickup", "dropoff"):
                continue
            vw = self.vwhere(k, route, i)
            sign = 1 if v.kind == "pickup" else -1
            seats += sign * r.seats
            wheelchairs += sign * r.wheelchairs
            if v.kind == "pickup":
                onboard.add(r.id)
                if r.wheelchairs > vehicle.wheelchairs:
                    self.add(
                        "wheelchair",
                        vw,
                        f"needs {r.wheelchairs} wheelchair place(s), the vehicle has "
                        f"{vehicle.wheelchairs}",
                    )
            else:
                onboard.discard(r.id)
            if seats > vehicle.seats:
                self.add(
                    "capacity",
                    vw,
                    f"{seats} seated passengers on board, the vehicle has {vehicle.seats} seats",
                )
            incompatible = any(self.requests[x].wheelchairs > vehicle.wheelchairs for x in onboard)
            if wheelchairs > vehicle.wheelchairs and not incompatible:
                self.add(
                    "capacity",
                    vw,
                    f"{wheelchairs} wheelchairs on board, the vehicle has {vehicle.wheelchairs} "
                    "places",
                )
            if (seats < 0 or wheelchairs < 0) and not pairing_error:
                self.add(
                    "load_negative",
                    vw,
                    f"load goes negative ({seats} seats, {wheelchairs} wheelchairs)",
                )
            if (v.seats, v.wheelchairs) != (seats, wheelchairs):
                self.add(
                    "load_mismatch",
                    vw,
                    f"reports a load of {v.seats} seats and {v.wheelchairs} wheelchairs, the order "
                    f"gives {seats} and {wheelchairs}",
                )

    def service_s(self, r: Request | None, v: Visit) -> int | None:
        if r is None:
            return None
        return (
            self.p.boarding_s(r)
            if v.kind == "pickup"
            else self.p.alighting_s(r)
            if v.kind == "dropoff"
            else None
        )

    def check_times(self, k: int, route: Route, vehicle: Vehicle) -> None:
        self.check_duty(k, route, vehicle)
        rw = self.rwhere(k, route)
        carried: set[str] = set()
        for v in route.visits:
            r = self.requests.get(v.request_id)
            if r is None or r.id in carried:
                continue
            carried.add(r.id)
            why = self.p.may_carry(vehicle, r)
            if why is not None:
                self.add("vehicle_rules", f"{rw} request {r.id}", why)
        for i, v in enumerate(route.visits):
            self.check_visit_times(k, route, i, v)
        by_gap: dict[int, list[BreakTaken]] = defaultdict(list)
        for b in route.breaks:
            by_gap[b.after].append(b)
        for g in range(-1, len(route.visits)):
            self.check_leg(k, route, vehicle, g, sorted(by_gap.get(g, []), key=lambda b: b.start_s))

    def check_duty(self, k: int, route: Route, vehicle: Vehicle) -> None:
        """The route within the driver's shift, start and end windows and maximum duty."""
        rw = self.rwhere(k, route)
        if route.start_s < vehicle.shift.start_s:
            self.add(
                "shift",
                rw,
                f"leaves the depot at {_t(route.start_s)}, before the shift starts at "
                f"{_t(vehicle.shift.start_s)}",
            )
        if route.end_s > vehicle.shift.end_s:
            self.add(
                "shift",
                rw,
                f"returns to the depot at {_t(route.end_s)}, after the shift ends at "
                f"{_t(vehicle.shift.end_s)}",
            )
        for name, t, what in (
            ("start_window", route.start_s, "leaves its start"),
            ("end_window", route.end_s, "reaches its end"),
        ):
            w = getattr(vehicle, name)
            if w is not None and not w.start_s <= t <= w.end_s:
                self.add(
                    "driver_window",
                    rw,
                    f"{what} at {_t(t)}, outside the driver's {name} {_t(w.start_s)}-{_t(w.end_s)}",
                )
        if (
            vehicle.max_duration_s is not None
            and route.end_s - route.start_s > vehicle.max_duration_s
        ):
            self.add(
                "max_duration",
                rw,
                f"lasts {route.end_s - route.start_s} s ({_t(route.start_s)} to "
                f"{_t(route.end_s)}), the maximum is {vehicle.max_duration_s} s",
            )

    def check_visit_times(self, k: int, route: Route, i: int, v: Visit) -> None:
        """A visit's start after its arrival, its service time, the service hours, its window."""
        p = self.p
        sh = p.rules.service_hours
        vw = self.vwhere(k, route, i)
        r = self.requests.get(v.request_id)
        if v.start_s < v.arrival_s:
            self.add(
                "early_start",
                vw,
                f"starts at {_t(v.start_s)}, before arriving at {_t(v.arrival_s)}",
            )
        svc = self.service_s(r, v)
        if svc is not None and v.departure_s != v.start_s + svc:
            self.add(
                "service_time",
                vw,
                f"departs at {_t(v.departure_s)}, the service ends at {_t(v.start_s + svc)} "
                f"({svc} s from {_t(v.start_s)})",
            )
        if not sh.contains(v.start_s):
            self.add(
                "service_hours",
                vw,
                f"starts at {_t(v.start_s)}, outside the service hours "
                f"{_t(sh.start_s)}-{_t(sh.end_s)}",
            )
        if r is not None and v.kind in ("pickup", "dropoff"):
            tw = p.pickup_tw(r) if v.kind == "pickup" else p.dropoff_tw(r)
            if v.start_s < tw.start_s:
                self.add(
                    "time_window",
                    vw,
                    f"starts at {_t(v.start_s)}, before the window start {_t(tw.start_s)}",
                )
            elif v.start_s > tw.end_s:
                self.add(
                    "time_window",
                    vw,
                    f"starts at {_t(v.start_s)}, after the window end {_t(tw.end_s)}",
                )

    def leg_ends(
        self, route: Route, vehicle: Vehicle, g: int
    ) -> tuple[str, int, str, str, int, int, str]:
        """The leg after visit ``g`` (-1: from the start depot): where and when it leaves, where
        it arrives, the arrival and the start of service there, and names for messages."""
        n = len(route.visits)
        if g == -1:
            prev_loc, prev_dep, what_prev = vehicle.start, route.start_s, "the start depot"
        else:
            pv = route.visits[g]
            prev_loc, prev_dep, what_prev = pv.location_id, pv.departure_s, f"visit {g}"
        if g == n - 1:
            return (
                prev_loc,
                prev_dep,
                what_prev,
                vehicle.end,
                route.end_s,
                route.end_s,
                ("the end depot"),
            )
        nv = route.visits[g + 1]
        return (
            prev_loc,
            prev_dep,
            what_prev,
            nv.location_id,
            nv.arrival_s,
            nv.start_s,
            (f"visit {g + 1}"),
        )

    def check_leg(
        self, k: int, route: Route, vehicle: Vehicle, g: int, breaks: list[BreakTaken]
    ) -> None:
        """The leg after visit ``g``: its breaks within it and apart, and time enough to drive."""
        rw = self.rwhere(k, route)
        prev_loc, prev_dep, what_prev, next_loc, next_arr, next_start, what_next = self.leg_ends(
            route, vehicle, g
        )
        try:
            travel = self.p.travel_s(prev_loc, next_loc)
        except KeyError:
            return  # unknown location, reported as "location"
        for b in breaks:
            if b.start_s < prev_dep or b.start_s + b.duration_s > next_start:
                self.add(
                    "break",
                    f"{rw} break at {_t(b.start_s)} (after {g})",
                    f"{_t(b.start_s)}-{_t(b.start_s + b.duration_s)} is not within its leg "
                    f"{_t(prev_dep)}-{_t(next_start)} ({what_prev} to {what_next})",
                )
        for a, b in zip(breaks, breaks[1:], strict=False):
            if b.start_s < a.start_s + a.duration_s:
                self.add(
                    "break",
                    f"{rw} break at {_t(b.start_s)} (after {g})",
                    f"overlaps the break at {_t(a.start_s)}",
                )
        on_break = sum(
            _overlap(b.start_s, b.start_s + b.duration_s, prev_dep, next_arr) for b in breaks
        )
        driving = next_arr - prev_dep - on_break
        if driving < travel:
            where = f"{rw} leg {g} ({what_prev} to {what_next})"
            self.add(
                "travel_time",
                where,
                f"leaves {_t(prev_dep)}, arrives {_t(next_arr)}: {driving} s of driving for a "
                f"{travel} s trip" + (f" ({on_break} s on break)" if on_break else ""),
            )

    def check_breaks(self, k: int, route: Route, vehicle: Vehicle) -> None:
        rw = self.rwhere(k, route)
        n = len(route.visits)
        for b in route.breaks:
            if not -1 <= b.after <= n - 1:
                self.add(
                    "break",
                    f"{rw} break at {_t(b.start_s)}",
                    f"after={b.after} is not a leg of a route with {n} visits",
                )
        extra, missing = _match_breaks(route.breaks, vehicle.breaks)
        for i in extra:
            b = route.breaks[i]
            self.add(
                "break",
                f"{rw} break at {_t(b.start_s)} (after {b.after})",
                f"{b.duration_s} s from {_t(b.start_s)} matches none of the vehicle's breaks "
                "(duration, window)",
            )
        for j in missing:
            need = vehicle.breaks[j]
            self.add(
                "break",
                f"{rw} ({vehicle.id}) breaks[{j}]",
                f"the {need.duration_s // 60} min break in "
                f"{_t(need.window.start_s)}-{_t(need.window.end_s)} is not taken",
            )

    def check_driving(self, k: int, route: Route, vehicle: Vehicle) -> None:
        """Continuous driving: stretches between the route's ends and its long enough breaks."""
        limit = vehicle.max_driving_s
        if limit is None:
            return
        rests = sorted(
            (b for b in route.breaks if b.duration_s >= vehicle.driving_break_s),
            key=lambda b: b.start_s,
        )
        t, what = route.start_s, "leaving the start"
        stretches: list[tuple[int, str, int, str]] = []
        for b in rests:
            stretches.append((t, what, b.start_s, f"the break at {_t(b.start_s)}"))
            t = max(t, b.start_s + b.duration_s)
            what = f"the end of the break at {_t(b.start_s)}"
        stretches.append((t, what, route.end_s, "reaching the end"))
        for a, from_what, z, to_what in stretches:
            if z - a > limit:
                self.add(
                    "max_driving",
                    self.rwhere(k, route),
                    f"{z - a} s on duty from {from_what} ({_t(a)}) to {to_what} ({_t(z)}) "
                    f"without a break of at least {vehicle.driving_break_s} s; the maximum is "
                    f"{limit} s",
                )

    def check_ride(self, k: int, ip: int, id_: int, r: Request) -> None:
        route = self.plan.routes[k]
        pv, dv = route.visits[ip], route.visits[id_]
        ride = dv.start_s - (pv.start_s + self.p.boarding_s(r))
        mx = self.p.max_ride_s(r)
        vw = self.vwhere(k, route, id_)
        if ride > mx:
            self.add(
                "ride_time",
                vw,
                f"ride of {ride} s ({_t(pv.start_s)} to {_t(dv.start_s)}), the maximum is {mx} s",
            )
        if dv.ride_time_s != ride:
            self.add(
                "ride_time_mismatch",
                vw,
                f"reports ride_time_s={dv.ride_time_s}, the schedule gives {ride} s",
            )


def check_plan(problem: Problem, plan: Plan) -> CheckReport:
    """Check ``plan`` against ``problem``: every constraint, recomputed; see the module doc."""
    return _Checker(problem, plan).run()


__all__ = ["VIOLATION_CODES", "CheckReport", "Violation", "check_plan"]
