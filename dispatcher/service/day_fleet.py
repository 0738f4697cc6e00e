"""The vehicles of a service day as a plan job and a booking see them: the fleet, then the
volunteers (one vehicle per half-day) and the day's carpool offers, priced by mode; and the one
Problem (one matrix) over requests, fleet, offers and volunteers that mixed planning and the
carpool matching read.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from dispatcher.errors import InputError
from dispatcher.io.mobility import mixed_from_dicts
from dispatcher.io.problem import place_of, vehicle_to_dict
from dispatcher.model import CarpoolOffer, Problem, SolverParams, VolunteerDriver
from dispatcher.service.compiling import unlinked
from dispatcher.service.context import Context
from dispatcher.service.events import ended_by_events
from dispatcher.solver.carpool import carpool_vehicle
from dispatcher.solver.mixed import ModeCosts, volunteer_vehicles
from dispatcher.solver.tracking import FleetState
from dispatcher.store.day_fleet import day_vehicles_in

_MAX_KEPT = 256


def _addressed(d: dict[str, Any], problem: Problem) -> dict[str, Any]:
    """A vehicle dict whose places placed from a postal address are given as the address (the
    day's compiler places it again, and the driver's manifest shows it)."""

    def key(x: Any) -> Any:
        return place_of(problem.location(x)) if isinstance(x, str) and x else x

    out = {k: key(d.get(k)) for k in ("start", "end", "home") if d.get(k)}
    if d.get("allowed_stops"):
        out["allowed_stops"] = [key(x) for x in d["allowed_stops"]]
    return {**d, **out}


class DayFleet:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._extra: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def compile_mixed(
        self,
        day: date,
        requests: Sequence[Mapping[str, Any]],
        vehicles: Sequence[Mapping[str, Any]],
        offers: Sequence[Mapping[str, Any]],
        volunteers: Sequence[Mapping[str, Any]],
        params: SolverParams | None = None,
    ) -> tuple[Problem, list[CarpoolOffer], list[VolunteerDriver]]:
        """One Problem over the requests, the fleet, the offers' and the volunteers' places (one
        matrix for all), with the offers and volunteers to pass to ``plan_mixed`` or
        ``match_carpool``."""
        try:
            return mixed_from_dicts(
                unlinked(requests),
                vehicles,
                offers,
                volunteers,
                self.ctx.territory,
                self.ctx.network,
                day=day,
                timezone=self.ctx.tz,
                geocoder=self.ctx.geocoder,
                **({"params": params} if params is not None else {}),
            )
        except (
            ValueError,
            TypeError,
            OverflowError,
        ) as e:  # a stored value the readers did not expect
            raise InputError(f"invalid value: {e}", "offers") from None

    def extra_vehicle_dicts(
        self,
        day: date,
        offers: Sequence[Mapping[str, Any]],
        volunteers: Sequence[Mapping[str, Any]],
    ) -> list[dict[str, Any]]:
        """The vehicles the volunteers (one per half-day) and the day's carpool offers add to the
        fleet, as vehicle dicts priced by mode (``ModeCosts()``, as ``plan_mixed`` prices them): the
        fleet's dicts plus these compile, through the day's compiler, to the vehicles of
        ``dispatcher.solver.mixed.mixed_problem``. A carpool vehicle's limits depend on its direct
        drive, hence the road network; the answer is kept per (offers, volunteers)."""
        if not offers and not volunteers:
            return []
        key = json.dumps(
            [day.isoformat(), list(offers), list(volunteers)], sort_keys=True, default=str
        )
        with self._lock:
            got = self._extra.get(key)
        if got is not None:
            return got
        problem, offs, vols = self.compile_mixed(day, [], [], offers, volunteers)
        costs = ModeCosts()
        out = [vehicle_to_dict(v) for v in volunteer_vehicles(vols, costs)]
        out += [
            vehicle_to_dict(
                carpool_vehicle(
                    o, problem.travel_s(o.origin, o.destination), costs.carpool_per_passenger_km
                )
            )
            for o in offs
            if o.runs_on(day)
        ]
        out = [_addressed(d, problem) for d in out]
        with self._lock:
            if len(self._extra) > _MAX_KEPT:
                self._extra.clear()
            self._extra[key] = out
        return out

    def vehicles_in(self, s: Session, day: date) -> tuple[list[dict[str, Any]], FleetState | None]:
        """The vehicle dicts of the day as a booking sees them, read inside an open session (one
        statement): the fleet, then the volunteers' and the day's carpool offers' vehicles, as a
        plan job plans them; a vehicle its events made unavailable has its shift ended then.
        With them, what the day's events established (None before any), from the same read."""
        got = day_vehicles_in(s, day)
        extra = self.extra_vehicle_dicts(day, got.offers, got.volunteers)
        live = None if got.state is None else FleetState.from_dict(got.state)
        return ended_by_events(live, day, [*got.vehicles, *extra]), live
