"""What the carpool and volunteer routes call: validation of offers and volunteers on the
territory and road network, the carpool matching of a day; and, for plan jobs, the vehicles the
volunteers and the day's offers add to the fleet (``day_vehicle_dicts``) and the mixed solve.

Thin like ``dispatcher.api.service``: places, times and the rules between fields are checked by
``dispatcher.io`` and the model exactly as for the CLI's ``--carpool``/``--volunteers`` files;
the matching is ``dispatcher.solver.carpool.match_carpool``, judged by the independent checker;
a mixed plan is ``dispatcher.solver.mixed.plan_mixed``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from dispatcher.errors import InputError
from dispatcher.io.mobility import mixed_from_dicts
from dispatcher.io.times import format_time
from dispatcher.model import CarpoolOffer, Plan, Problem, SolverParams, Vehicle, VolunteerDriver
from dispatcher.store import KeyInfo
from dispatcher.store.mobility import Mobility

if TYPE_CHECKING:
    from dispatcher.api.service import Dispatch

# Requests that may ride: every live request of the day, except bookings already refused.
RIDER_STATUSES = ("pending", "accepted", "refused")


def _rewhere(e: InputError, old: str, new: str) -> InputError:
    where = new + e.where[len(old):] if e.where.startswith(old) else (f"{new}.{e.where}" if e.where else new)
    return type(e)(e.message, where)


def _unlinked(dicts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The request dicts with ``return_of`` kept only towards requests of the same list (a return
    whose outbound is cancelled or not taken stays a trip of its own)."""
    ids = {str(d.get("id")) for d in dicts}
    return [dict(d) if d.get("return_of") in (None, "") or str(d["return_of"]) in ids else {**d, "return_of": None} for d in dicts]


def compile_mixed(
    dispatch: Dispatch,
    day: date,
    requests: Sequence[Mapping[str, Any]],
    vehicles: Sequence[Mapping[str, Any]],
    offers: Sequence[Mapping[str, Any]],
    volunteers: Sequence[Mapping[str, Any]],
    params: SolverParams | None = None,
) -> tuple[Problem, list[CarpoolOffer], list[VolunteerDriver]]:
    """One Problem over the requests, the fleet, the offers' and the volunteers' places (one
    matrix for all), with the offers and volunteers to pass to ``plan_mixed``/``match_carpool``."""
    try:
        return mixed_from_dicts(_unlinked(requests), vehicles, offers, volunteers, dispatch.territory, dispatch.network,
                                day=day, timezone=dispatch.tz, **({"params": params} if params is not None else {}))
    except (ValueError, TypeError, OverflowError) as e:  # a stored value the readers did not expect
        raise InputError(f"invalid value: {e}", "offers") from None


def _vehicle_dict(v: Vehicle) -> dict[str, Any]:
    """A compiled vehicle back in the input vocabulary of ``dispatcher.io`` (places as location
    ids, which resolve to themselves; times in seconds), so that it compiles to ``v`` again."""
    d: dict[str, Any] = {
        "id": v.id, "start": v.start, "end": v.end, "shift": [v.shift.start_s, v.shift.end_s], "seats": v.seats,
        "wheelchairs": v.wheelchairs, "cost_per_km": v.cost_per_km, "cost_per_hour": v.cost_per_hour, "fixed_cost": v.fixed_cost,
        "kind": v.kind, "name": v.name, "phone": v.phone, "cost_per_passenger_km": v.cost_per_passenger_km,
    }
    if v.breaks:
        d["breaks"] = [{"window": [b.window.start_s, b.window.end_s], "duration_s": b.duration_s} for b in v.breaks]
    if v.max_duration_s is not None:
        d["max_duration_s"] = v.max_duration_s
    for name in ("start_window", "end_window"):
        w = getattr(v, name)
        if w is not None:
            d[name] = [w.start_s, w.end_s]
    if v.allowed_stops:
        d["allowed_stops"] = list(v.allowed_stops)
    if v.home is not None:
        d["home"] = v.home
    if v.max_km_from_home is not None:
        d["max_km_from_home"] = v.max_km_from_home
    return d


_EXTRA: dict[tuple[int, str], list[dict[str, Any]]] = {}
_EXTRA_LOCK = threading.Lock()


def day_vehicle_dicts(
    dispatch: Dispatch, day: date, offers: Sequence[Mapping[str, Any]], volunteers: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The vehicles the volunteers (one per half-day) and the day's carpool offers add to the
    fleet, as vehicle dicts priced by mode (``ModeCosts()``, as ``plan_mixed`` prices them): the
    fleet's dicts plus these compile, through the day's compiler, to the vehicles of
    ``dispatcher.solver.mixed.mixed_problem``. A carpool vehicle's limits depend on its direct
    drive, hence the road network; the answer is kept per (server, offers, volunteers)."""
    if not offers and not volunteers:
        return []
    key = (id(dispatch), json.dumps([day.isoformat(), list(offers), list(volunteers)], sort_keys=True, default=str))
    with _EXTRA_LOCK:
        got = _EXTRA.get(key)
    if got is not None:
        return got
    from dispatcher.solver.carpool import carpool_vehicle
    from dispatcher.solver.mixed import ModeCosts, volunteer_vehicles

    problem, offs, vols = compile_mixed(dispatch, day, [], [], offers, volunteers)
    costs = ModeCosts()
    out = [_vehicle_dict(v) for v in volunteer_vehicles(vols, costs)]
    out += [_vehicle_dict(carpool_vehicle(o, problem.travel_s(o.origin, o.destination), costs.carpool_per_passenger_km))
            for o in offs if o.runs_on(day)]
    with _EXTRA_LOCK:
        if len(_EXTRA) > 256:
            _EXTRA.clear()
        _EXTRA[key] = out
    return out


def day_vehicles_in(dispatch: Dispatch, s: Session, day: date) -> list[dict[str, Any]]:
    """The vehicle dicts of the day as a plan job plans it, read inside an open session: the
    fleet, then the volunteers' and the day's carpool offers' vehicles (``day_vehicle_dicts``)."""
    fleet = dispatch.store.list_vehicles_in(s)
    return [*fleet, *day_vehicle_dicts(dispatch, day, Mobility.active_offers_in(s, day), Mobility.volunteers_in(s))]


def solve_mixed(problem: Problem) -> tuple[Problem, Plan]:
    """A plan over the minibuses, the volunteers and the carpool drivers of ``problem``
    (``plan_mixed``, staged: carpools first for the riders who accept them); returns the mixed
    Problem the plan answers. Top-level so that a process pool can run it."""
    from dispatcher.solver.mixed import plan_mixed

    return plan_mixed(problem)


# ---- offers -----------------------------------------------------------------------------------


def validate_offers(dispatch: Dispatch, day: date, dicts: Sequence[Mapping[str, Any]], where: str = "body.offers") -> None:
    """Every field, place and time of these offers, or an InputError naming the first bad one:
    places on the territory (an unknown name answered with the nearest names), windows on the
    day, an arrival the driver can make, a driver id that is not a vehicle of the fleet, and
    nothing already over when the day is today."""
    from dispatcher.solver.carpool import validate_offers as check_on_problem

    if not dicts:
        raise InputError("no offers given", where)
    try:
        problem, offers, _ = compile_mixed(dispatch, day, [], [], dicts, [])
        check_on_problem(problem, offers)
    except InputError as e:
        raise _rewhere(e, "offers", where) from None
    fleet = {str(v.get("id")) for v in dispatch.store.list_vehicles()}
    for k, o in enumerate(offers):
        if o.driver_id in fleet:
            raise InputError(f"{o.driver_id!r} is a vehicle of the fleet; give the offer another driver id", f"{where}[{k}].driver_id")
    now = dispatch.now_local()
    if day < now.date():
        raise InputError(f"{day.isoformat()} is in the past", "day")
    if day == now.date():
        now_s = now.hour * 3600 + now.minute * 60 + now.second
        for k, o in enumerate(offers):
            last = max(w.end_s for w in (o.departure_window, o.arrival_window) if w is not None)
            if last < now_s:
                raise InputError(f"{format_time(last, day, dispatch.tz)} is in the past (now {now.strftime('%H:%M')})",
                                 f"{where}[{k}].{'arrival_window' if o.arrival_window is not None else 'departure_window'}.end")


def submit_offers(dispatch: Dispatch, day: date, dicts: Sequence[Mapping[str, Any]], key: KeyInfo) -> list[str]:
    dispatch.check_day_open(day)
    validate_offers(dispatch, day, dicts)
    return Mobility(dispatch.store).add_offers(day, dicts, owner=key.id)


# ---- volunteers -------------------------------------------------------------------------------


def validate_volunteer(dispatch: Dispatch, d: Mapping[str, Any], where: str = "body") -> None:
    """The volunteer's fields and home (on the territory; an unknown name answered with the
    nearest names), or an InputError naming the field."""
    from dispatcher.io.mobility import volunteers_from_dicts

    try:
        volunteers_from_dicts([d], dispatch.territory)
    except InputError as e:
        raise _rewhere(e, "volunteers[0]", where) from None
    except (ValueError, TypeError, OverflowError) as e:
        raise InputError(f"invalid value: {e}", where) from None


# ---- matching ---------------------------------------------------------------------------------


def run_matching(dispatch: Dispatch, day: date, max_group: int, time_limit_s: float, statuses: Sequence[str],
                 key: KeyInfo) -> dict[str, Any]:
    """Match the day's riders (requests with the given statuses that accept carpools) to the
    day's active offers, judge the matches with the checker, store the answer as the day's last
    matching and return it."""
    from dispatcher.solver.carpool import carpool_problem, match_carpool
    from dispatcher.solver.checker import check_plan

    mob = Mobility(dispatch.store)
    wanted = [s for s in RIDER_STATUSES if s in statuses]
    with dispatch.store.read() as s:
        version = dispatch.store.day_row(s, day).version
        rows = [r for r in dispatch.store.requests_in(s, day, wanted) if not (r.source == "booking" and r.status == "refused")]
        offer_rows = mob.active_offers_in(s, day)
    if not offer_rows:
        raise InputError(f"no carpool offers on {day.isoformat()}; add some first (POST /v1/days/{day.isoformat()}/carpool-offers)", "day")
    declined = [r.request_id for r in rows if r.data.get("accepts_carpool") is False]
    riders = [r.data for r in rows if r.data.get("accepts_carpool") is not False]
    limit = min(time_limit_s, dispatch.settings.max_plan_time_limit_s)
    problem, offers, _ = compile_mixed(dispatch, day, riders, [], offer_rows, [], SolverParams(time_limit_s=limit))
    result = match_carpool(problem, offers, max_group=max_group, time_limit_s=limit)
    cp = carpool_problem(problem, offers)
    report = check_plan(cp, result.plan)

    def at(location_id: str, t: int) -> dict[str, Any]:
        loc = cp.location(location_id)
        return {"place": loc.name or loc.id, "location_id": loc.id, "time": format_time(t, day, dispatch.tz)}

    matches = []
    for m in result.matches:
        v = cp.vehicle(m.driver_id)
        visits = m.route.visits
        riders_out = []
        for rid in m.rider_ids:
            pick = next(x for x in visits if x.request_id == rid and x.kind == "pickup")
            drop = next(x for x in visits if x.request_id == rid and x.kind == "dropoff")
            riders_out.append({"request_id": rid, "seats": cp.request(rid).seats,
                               "pickup": at(pick.location_id, pick.start_s), "dropoff": at(drop.location_id, drop.start_s)})
        matches.append({
            "driver_id": m.driver_id, "name": v.name,
            "origin": at(v.start, m.route.start_s), "destination": at(v.end, m.route.end_s),
            "riders": riders_out,
            "stops": [{"request_id": x.request_id, "kind": x.kind, **at(x.location_id, x.start_s)} for x in visits],
            "direct_s": m.direct_s, "detour_s": m.detour_s, "detour_m": m.detour_m,
        })
    from dispatcher.api.booking import _jsonable

    out = {
        "day": day.isoformat(),
        "riders": len(riders), "drivers": len(cp.vehicles), "matched": result.riders_matched,
        "optimal": result.optimal, "total_detour_s": result.total_detour_s,
        "check": {"ok": report.ok, "summary": report.summary(),
                  "violations": [{"code": x.code, "where": x.where, "message": x.message} for x in report.violations[:20]]},
        "declined_carpool": declined,
        "matches": matches,
        "unmatched": [{"request_id": j.request_id, "reason": j.reason.value, "message": j.message, "message_en": j.message_en,
                       "details": _jsonable(j.details)} for j in result.plan.rejections],
    }
    return mob.save_matching(day, version, out, key.id)
