"""Carpool offers of a day, volunteer drivers, and the carpool matching of a day's riders.

Places, times and the rules between fields are checked by ``dispatcher.io`` and the model exactly
as for the CLI's ``--carpool``/``--volunteers`` files; the matching is
``dispatcher.solver.carpool.match_carpool``, judged by the independent checker. Offers are
day-bound; volunteers are not (like the fleet's vehicles, they give the half-days they drive).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from dispatcher.errors import InputError, NotFoundError
from dispatcher.io.mobility import volunteers_from_dicts
from dispatcher.io.times import format_time
from dispatcher.model import SolverParams
from dispatcher.service.compiling import rewhere
from dispatcher.service.context import Context
from dispatcher.service.day_fleet import DayFleet
from dispatcher.service.days import Days
from dispatcher.service.privacy import Privacy, View
from dispatcher.service.promises import jsonable
from dispatcher.solver.carpool import carpool_problem, match_carpool
from dispatcher.solver.carpool import validate_offers as check_on_problem
from dispatcher.solver.checker import check_plan
from dispatcher.store import KeyInfo
from dispatcher.store.mobility import Mobility

# Requests that may ride: every live request of the day, except bookings already refused.
RIDER_STATUSES = ("pending", "accepted", "refused")


class Carpooling:
    def __init__(self, ctx: Context, days: Days, fleet: DayFleet, privacy: Privacy) -> None:
        self.ctx, self.days, self.fleet, self.privacy = ctx, days, fleet, privacy
        self.store = Mobility(ctx.store)

    # ---- offers ---------------------------------------------------------------------------------

    def validate_offers(
        self, day: date, dicts: Sequence[Mapping[str, Any]], where: str = "body.offers"
    ) -> None:
        """Every field, place and time of these offers, or an InputError naming the first bad one:
        places on the territory (an unknown name answered with the nearest names), windows on the
        day, an arrival the driver can make, a driver id that is not a vehicle of the fleet, and
        nothing already over when the day is today."""
        if not dicts:
            raise InputError("no offers given", where)
        try:
            problem, offers, _ = self.fleet.compile_mixed(day, [], [], dicts, [])
            check_on_problem(problem, offers)
        except InputError as e:
            raise rewhere(e, "offers", where) from None
        fleet = {str(v.get("id")) for v in self.ctx.store.list_vehicles()}
        for k, o in enumerate(offers):
            if o.driver_id in fleet:
                raise InputError(
                    f"{o.driver_id!r} is a vehicle of the fleet; give the offer another driver id",
                    f"{where}[{k}].driver_id",
                )
        now = self.ctx.now_local()
        if day < now.date():
            raise InputError(f"{day.isoformat()} is in the past", "day")
        if day == now.date():
            now_s = now.hour * 3600 + now.minute * 60 + now.second
            for k, o in enumerate(offers):
                last = max(w.end_s for w in (o.departure_window, o.arrival_window) if w is not None)
                if last < now_s:
                    window = (
                        "arrival_window" if o.arrival_window is not None else "departure_window"
                    )
                    raise InputError(
                        f"{format_time(last, day, self.ctx.tz)} is in the past (now "
                        f"{now.strftime('%H:%M')})",
                        f"{where}[{k}].{window}.end",
                    )

    def submit_offers(
        self, day: date, dicts: Sequence[Mapping[str, Any]], key: KeyInfo
    ) -> list[str]:
        self.days.check_open(day)
        self.validate_offers(day, dicts)
        return self.store.add_offers(day, dicts, owner=key.id)

    # ---- volunteers -----------------------------------------------------------------------------

    def validate_volunteer(self, d: Mapping[str, Any], where: str = "body") -> None:
        """The volunteer's fields and home (on the territory; an unknown name answered with the
        nearest names), or an InputError naming the field."""
        try:
            volunteers_from_dicts([d], self.ctx.territory, self.ctx.geocoder)
        except InputError as e:
            raise rewhere(e, "volunteers[0]", where) from None
        except (ValueError, TypeError, OverflowError) as e:
            raise InputError(f"invalid value: {e}", where) from None

    # ---- matching -------------------------------------------------------------------------------

    def run_matching(
        self, day: date, max_group: int, time_limit_s: float, statuses: Sequence[str], key: KeyInfo
    ) -> dict[str, Any]:
        """Match the day's riders (requests with the given statuses that accept carpools) to the
        day's active offers, judge the matches with the checker, store the answer as the day's last
        matching and return it."""
        mob = self.store
        wanted = [s for s in RIDER_STATUSES if s in statuses]
        with self.ctx.store.read() as s:
            version = self.ctx.store.day_row(s, day).version
            rows = [
                r
                for r in self.ctx.store.requests_in(s, day, wanted)
                if not (r.source == "booking" and r.status == "refused")
            ]
            offer_rows = mob.active_offers_in(s, day)
        if not offer_rows:
            raise InputError(
                f"no carpool offers on {day.isoformat()}; add some first (POST "
                f"/v1/days/{day.isoformat()}/carpool-offers)",
                "day",
            )
        declined = [r.request_id for r in rows if r.data.get("accepts_carpool") is False]
        # a matching is advice, trip by trip: a commuter's carpool takes one way, so an outbound
        # and its return are matched each on its own here (a plan job keeps them whole)
        riders = [
            {**r.data, "return_of": None}
            for r in rows
            if r.data.get("accepts_carpool") is not False
        ]
        limit = min(time_limit_s, self.ctx.settings.max_plan_time_limit_s)
        problem, offers, _ = self.fleet.compile_mixed(
            day, riders, [], offer_rows, [], SolverParams(time_limit_s=limit)
        )
        result = match_carpool(problem, offers, max_group=max_group, time_limit_s=limit)
        cp = carpool_problem(problem, offers)
        report = check_plan(cp, result.plan)

        def at(location_id: str, t: int) -> dict[str, Any]:
            loc = cp.location(location_id)
            return {
                "place": loc.name or loc.id,
                "location_id": loc.id,
                "time": format_time(t, day, self.ctx.tz),
            }

        matches = []
        for m in result.matches:
            v = cp.vehicle(m.driver_id)
            visits = m.route.visits
            riders_out = []
            for rid in m.rider_ids:
                pick = next(x for x in visits if x.request_id == rid and x.kind == "pickup")
                drop = next(x for x in visits if x.request_id == rid and x.kind == "dropoff")
                riders_out.append(
                    {
                        "request_id": rid,
                        "seats": cp.request(rid).seats,
                        "pickup": at(pick.location_id, pick.start_s),
                        "dropoff": at(drop.location_id, drop.start_s),
                    }
                )
            matches.append(
                {
                    "driver_id": m.driver_id,
                    "name": v.name,
                    "origin": at(v.start, m.route.start_s),
                    "destination": at(v.end, m.route.end_s),
                    "riders": riders_out,
                    "stops": [
                        {"request_id": x.request_id, "kind": x.kind, **at(x.location_id, x.start_s)}
                        for x in visits
                    ],
                    "direct_s": m.direct_s,
                    "detour_s": m.detour_s,
                    "detour_m": m.detour_m,
                }
            )
        out = {
            "day": day.isoformat(),
            "riders": len(riders),
            "drivers": len(cp.vehicles),
            "matched": result.riders_matched,
            "optimal": result.optimal,
            "total_detour_s": result.total_detour_s,
            "check": {
                "ok": report.ok,
                "summary": report.summary(),
                "violations": [
                    {"code": x.code, "where": x.where, "message": x.message}
                    for x in report.violations[:20]
                ],
            },
            "declined_carpool": declined,
            "matches": matches,
            "unmatched": [
                {
                    "request_id": j.request_id,
                    "reason": j.reason.value,
                    "message": j.message,
                    "message_en": j.message_en,
                    "details": jsonable(j.details),
                }
                for j in result.plan.rejections
            ],
        }
        saved = mob.save_matching(day, version, out, key.id)
        shown: dict[str, Any] = self.privacy.show(View.MATCHING, saved, key, "", day, log=False)
        return shown

    # ---- what is stored, as each reader may see it --------------------------------------------
    def list_offers(
        self, day: date, key: KeyInfo, status: str | None = None
    ) -> list[dict[str, Any]]:
        offers = self.store.list_offers(day, status)
        shown: list[dict[str, Any]] = self.privacy.show(View.OFFER, offers, key, "offers.list", day)
        return shown

    def get_offer(self, day: date, driver_id: str, key: KeyInfo) -> dict[str, Any]:
        ids = [o["driver_id"] for o in self.store.list_offers(day)]
        real = self.privacy.resolve(key, day, driver_id, ids, "carpool")
        if real is None:
            raise NotFoundError(f"no carpool offer {driver_id!r} on {day.isoformat()}", "driver_id")
        offer = self.store.get_offer(day, real)
        shown: dict[str, Any] = self.privacy.show(View.OFFER, offer, key, "offers.get", day)
        return shown

    def withdraw_offer(self, day: date, driver_id: str, key: KeyInfo) -> dict[str, Any]:
        offer = self.store.withdraw_offer(day, driver_id)
        shown: dict[str, Any] = self.privacy.show(View.OFFER, offer, key, "", day, log=False)
        return shown

    def get_matching(self, day: date, key: KeyInfo) -> dict[str, Any]:
        matching = self.store.get_matching(day)
        shown: dict[str, Any] = self.privacy.show(
            View.MATCHING, matching, key, "matchings.get", day
        )
        return shown

    def list_volunteers(self, key: KeyInfo) -> list[dict[str, Any]]:
        shown: list[dict[str, Any]] = self.privacy.show(
            View.VOLUNTEER, self.store.list_volunteers(), key, "volunteers.list"
        )
        return shown

    def get_volunteer(self, volunteer_id: str, key: KeyInfo) -> dict[str, Any]:
        ids = [str(v.get("id")) for v in self.store.list_volunteers()]
        real = self.privacy.resolve(key, None, volunteer_id, ids, "volunteer")
        if real is None:
            raise NotFoundError(f"no volunteer {volunteer_id!r}", "volunteer_id")
        volunteer = self.store.get_volunteer(real)
        shown: dict[str, Any] = self.privacy.show(View.VOLUNTEER, volunteer, key, "volunteers.get")
        return shown

    def put_volunteer(self, d: Mapping[str, Any], create_only: bool = False) -> bool:
        """Store a volunteer driver once validated; True if created."""
        self.validate_volunteer(d)
        return self.store.put_volunteer(d, create_only=create_only)

    def delete_volunteer(self, volunteer_id: str) -> None:
        self.store.delete_volunteer(volunteer_id)
