"""Real-time bookings: a promise or a refusal with its reason, stored before the answer; the
service's booking rules; a portal's own bookings. The day's lock serialises its bookings, so
simultaneous ones never over-fill a vehicle (``dispatcher.service.promises`` decides each).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from dispatcher.errors import InputError, NoServiceError
from dispatcher.fares.tickets import qr_svg
from dispatcher.io.plan import plan_to_dict
from dispatcher.io.problem import problem_to_dict, request_from_dict
from dispatcher.model import REASON_MESSAGES, Reason, SolverParams
from dispatcher.service import pricing, promises
from dispatcher.service.compiling import Compiler
from dispatcher.service.context import Context, Held
from dispatcher.service.day_fleet import DayFleet
from dispatcher.service.days import Days, stored_plan
from dispatcher.service.privacy import PRIVATE_KINDS, View
from dispatcher.service.tickets import Tickets
from dispatcher.solver.live import check_booking_rules
from dispatcher.store import ConflictError, KeyInfo
from dispatcher.store.models import RequestRow, utcnow


def owner_of(key: KeyInfo) -> int | None:
    """The key whose bookings a caller sees: a portal its own, other roles all (None)."""
    return key.id if key.role == "portal" else None


class Bookings:
    def __init__(self, ctx: Context, compiler: Compiler, days: Days, fleet: DayFleet) -> None:
        self.ctx, self.compiler, self.days, self.fleet = ctx, compiler, days, fleet
        self.tickets = Tickets(ctx)

    def list_bookings(self, day: date, key: KeyInfo) -> list[dict[str, Any]]:
        return self.days.list_requests(day, key, source="booking", owner=owner_of(key))

    def get(self, day: date, booking_id: str, key: KeyInfo) -> dict[str, Any]:
        """A booking, with its ticket as it stands (payment, status) and its QR code."""
        out = self.days.get_request(day, booking_id, key, source="booking", owner=owner_of(key))
        promise = out.get("promise")
        if isinstance(promise, dict) and isinstance(promise.get("ticket"), dict):
            got = self.tickets.of_request(day, booking_id, qr=True)
            if got is not None:
                promise["ticket"] = {k: got[k] for k in ("code", "payment", "status", "qr_svg")}
        return out

    def cancel(
        self, day: date, booking_id: str, key: KeyInfo, return_trip: str = "keep"
    ) -> dict[str, Any]:
        """Cancel a booking; its return trip is kept (a trip of its own) or cancelled too."""
        return self.days.cancel_request(
            day, booking_id, key, source="booking", return_trip=return_trip
        )

    def book(self, day: date, d: dict[str, Any], key: KeyInfo) -> tuple[int, dict[str, Any]]:
        """A booking: 201 and the promise, 409 and the refusal (both stored), 200 for a replay."""
        drivers: dict[str, str] = {}  # the day's private drivers, read under the lock
        # the day's status, the lock and a stored request of that id: one statement; the
        # checks then run in the order they always have (open day, then the body)
        with self.ctx.store.lock_request(day, str(d["id"]), missing_ok=True) as (s, row, existing):
            self.days.check_status(day, None if row is None else row.status)
            self.days.validate_requests(day, [d], "body", owner=owner_of(key), s=s)
            status, body, keep = self._book_locked(s, row, existing, day, d, key, drivers)
        # committed: the next booking of the day in this process starts from it without parsing it
        if keep is not None:
            self.ctx.memory.remember(keep, day)
        # the booker sees its own trip; a volunteer's or a carpool driver's id as the table says
        own = [str(d["id"])]
        answer = self.days.privacy.show(
            View.BOOKING_ANSWER,
            body,
            key,
            "",
            day,
            own_requests=own,
            log=False,
            drivers=drivers if status == 201 else None,
        )
        ticket = answer.get("ticket")
        if isinstance(ticket, dict) and ticket.get("code"):
            answer["ticket"] = {**ticket, "qr_svg": qr_svg(str(ticket["code"]))}
        return status, answer

    def _book_locked(
        self,
        s: Any,
        row: Any,
        existing: RequestRow | None,
        day: date,
        d: dict[str, Any],
        key: KeyInfo,
        drivers: dict[str, str],
    ) -> tuple[int, dict[str, Any], Held | None]:
        """``book`` under the day's lock (``existing``: the stored request of that id, read with
        the lock); also what the commit will store (to hold in memory). A promise names a
        vehicle of the day's fleet as read here: ``drivers`` gets the private ones (id -> kind),
        so that its answer is shown without reading them again."""
        store, memory = self.ctx.store, self.ctx.memory
        rid = str(d["id"])
        if existing is not None:
            if (
                existing.source == "booking"
                and existing.owner_key_id == key.id
                and existing.data == d
                and existing.status == "accepted"
            ):
                return 200, {**(existing.promise or {}), "replayed": True}, None
            if not (
                existing.source == "booking"
                and existing.status in ("refused", "cancelled")
                and existing.owner_key_id == key.id
            ):
                raise ConflictError(
                    f"request {rid!r} already exists on {day.isoformat()}", "body.id"
                )
        # under the lock the row's version is authoritative: memory holds the stored plan only
        # if this process wrote (or read) that very version
        got = memory.held(day, row.version)
        held = None if got is None else (got.plan, got.problem)
        refusal = self._rules_refusal(day, d)
        if refusal is not None:
            if existing is None:
                existing = RequestRow(
                    day=day,
                    request_id=rid,
                    source="booking",
                    data=d,
                    owner_key_id=key.id,
                    status="pending",
                )
                s.add(existing)
            body = refusal.to_dict(day, self.ctx.tz)
            existing.data, existing.updated_at = d, utcnow()
            existing.status, existing.refusal, existing.promise = "refused", body, None
            store.live.unchanged(s, row)
            row.version += 1
            return 409, body, None if got is None else replace(got, version=row.version)
        accepted = (
            got.accepted
            if got is not None and got.accepted is not None
            else [a.data for a in store.requests_in(s, day, ["accepted"])]
        )
        plan, problem = held if held is not None else stored_plan(store, s, row)
        refused: dict[str, Reason] = {}
        link = d.get("return_of")
        if link not in (None, ""):  # a return of a refused outbound is refused with it
            out = store.request_row(s, day, str(link))
            if out is not None and out.status == "refused":
                try:
                    refused[out.request_id] = Reason(str((out.refusal or {}).get("reason")))
                except ValueError:
                    refused[out.request_id] = Reason.DISPLACED
        # the fleet, volunteers and the day's carpools (a broken vehicle's shift ends then), and
        # what the events say is done and where vehicles stand: one read
        vehicles, live = self.fleet.vehicles_in(s, day)
        state = promises.DayState(
            day=day,
            accepted=accepted,
            vehicles=vehicles,
            compile=self.compiler.for_day(day),
            params=SolverParams(time_limit_s=self.ctx.settings.booking_time_limit_s),
            plan=plan,
            problem=problem,
            timezone=self.ctx.tz,
            now_s=self.ctx.now_s(day),
            live=live,
            window_s=self.ctx.service.promise_width_s,
            screens=memory.screens_of(day),
            refused=refused,
        )
        drivers.update(
            (str(v.get("id")).partition("/")[0], str(v["kind"]))
            for v in state.vehicles
            if v.get("kind") in PRIVATE_KINDS
        )
        if not state.vehicles:
            raise InputError(
                "the fleet is empty; add vehicles first (POST /v1/vehicles)", "vehicles"
            )
        outcome = promises.book(state, d)
        fresh_row = existing is None  # a new row comes last in the store's order
        if existing is None:
            existing = RequestRow(
                day=day,
                request_id=rid,
                source="booking",
                data=d,
                owner_key_id=key.id,
                status="pending",
            )
            s.add(existing)
        existing.data, existing.updated_at = d, utcnow()
        if isinstance(outcome, promises.Refusal):
            body = outcome.to_dict(day, self.ctx.tz)
            existing.status, existing.refusal, existing.promise = "refused", body, None
            store.live.unchanged(s, row)
            row.version += 1
            return (
                409,
                body,
                None
                if plan is None or problem is None
                else Held(row.version, plan, problem, list(accepted)),
            )
        body = outcome.to_dict()
        fare = pricing.promise_fare(self.ctx, outcome.problem, outcome.vehicle_id, rid)
        body["fare"] = fare.to_dict()
        body["ticket"] = self.tickets.issue(s, day, rid, fare, key.id, fresh=fresh_row)
        existing.status, existing.promise, existing.refusal = "accepted", body, None
        memo = memory.memo_of(day)
        plan_d = plan_to_dict(outcome.plan, outcome.problem, memo)
        problem_d = problem_to_dict(outcome.problem, memo)
        memo.sweep()
        store.live.write(s, row, plan_d, problem_d)
        row.version += 1
        return (
            201,
            body,
            Held(row.version, outcome.plan, outcome.problem, [*accepted, d] if fresh_row else None),
        )

    def _rules_refusal(self, day: date, d: dict[str, Any]) -> promises.Refusal | None:
        """The service's calendar (weekdays, public holidays, closures) and booking rules (cut-off
        the day before, same-day notice, how far ahead)."""
        msgs = REASON_MESSAGES[Reason.BOOKING_CLOSED]
        try:
            self.ctx.service.check_day(day)
        except NoServiceError as e:
            return promises.Refusal(
                request_id=str(d["id"]),
                reason=Reason.BOOKING_CLOSED,
                message=f"{msgs['fr']} {day.isoformat()} : pas de service "
                f"({(self.ctx.service.closed_reason(day) or ('', ''))[1]}).",
                message_en=f"{msgs['en']} {e.message}",
                details={"rule": "calendar", "day": e.day, "why": e.reason},
            )
        req = request_from_dict({**d, "return_of": None}, "body", day, self.ctx.tz)
        verdict = check_booking_rules(self.ctx.booking_rules, day, req, self.ctx.now_local())
        if verdict.ok:
            return None
        return promises.Refusal(
            request_id=str(d["id"]),
            reason=Reason.BOOKING_CLOSED,
            message=f"{msgs['fr']} {verdict.message}",
            message_en=f"{msgs['en']} {verdict.message_en}",
            details={"rule": verdict.rule},
        )
