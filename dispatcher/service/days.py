"""Service days and their requests: the calendar, a batch of requests (all or nothing), reading
and cancelling a request. Cancelling an accepted request takes it out of the day's live plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from dispatcher.errors import InputError, NotFoundError
from dispatcher.io.plan import plan_from_dict, plan_to_dict
from dispatcher.io.problem import problem_from_dict, problem_to_dict, request_from_dict
from dispatcher.io.times import format_time
from dispatcher.model import Plan, Problem
from dispatcher.service import pricing
from dispatcher.service.compiling import Compiler
from dispatcher.service.context import Context
from dispatcher.service.privacy import Privacy, View
from dispatcher.service.promises import remove_request
from dispatcher.store import KeyInfo, Store
from dispatcher.store.db import request_out
from dispatcher.store.models import utcnow
from dispatcher.store.tickets import TicketStore

RETURN_TRIP_CHOICES = ("keep", "cancel")  # what cancelling an outbound does to its return


def stored_plan(
    store: Store, s: Any, row: Any, locked: bool = True
) -> tuple[Plan | None, Problem | None]:
    """The day's stored live plan and problem (promises in its windows), or (None, None); read in
    the transaction ``s``, which holds the day's ``row`` locked unless ``locked`` is false."""
    if locked:
        plan_d, problem_d = store.live.read_locked(s, row)
    else:
        got = store.live.read(s, row.day)
        plan_d, problem_d = (None, None) if got is None else got[1:]
    if plan_d is None or problem_d is None:
        return None, None
    problem = problem_from_dict(problem_d)
    return plan_from_dict(plan_d, problem), problem


class Days:
    def __init__(self, ctx: Context, compiler: Compiler, privacy: Privacy) -> None:
        self.ctx, self.compiler, self.privacy = ctx, compiler, privacy

    # ---- the calendar -------------------------------------------------------------------------
    def calendar(self) -> list[dict[str, Any]]:
        return self.ctx.store.list_days()

    def put(self, day: date, status: str, note: str = "") -> tuple[dict[str, Any], bool]:
        """Open (or close) a service day: from a year back (to close or annotate the past) to
        two years ahead."""
        today = self.ctx.now_local().date()
        first, last = today - timedelta(days=366), today + timedelta(days=2 * 366)
        if not first <= day <= last:
            raise InputError(
                f"{day.isoformat()} is outside the days a service can open "
                f"({first.isoformat()} to {last.isoformat()})",
                "day",
            )
        if status == "open":  # a day the service configuration has no service on cannot open
            self.ctx.service.check_day(day)
        return self.ctx.store.put_day(day, status, note)

    def get(self, day: date) -> dict[str, Any]:
        return self.ctx.store.get_day(day)

    def check_open(self, day: date) -> None:
        """``day`` is open for bookings (an InputError says why not)."""
        self.check_status(day, self.ctx.store.day_status(day))

    def check_status(self, day: date, status: str | None) -> None:
        """``check_open`` with the day's status already read (None: not a service day)."""
        if status is None:
            days = self.ctx.store.service_days()
            listed = ", ".join(days) if days else "none yet"
            raise InputError(
                f"{day.isoformat()} is not in the service calendar (open days: {listed})", "day"
            )
        if status != "open":
            raise InputError(f"{day.isoformat()} is closed for bookings", "day")
        if day < self.ctx.now_local().date():
            raise InputError(f"{day.isoformat()} is in the past", "day")

    def check_not_past(self, day: date, d: Mapping[str, Any], where: str) -> None:
        now = self.ctx.now_local()
        if day > now.date():
            return
        if day < now.date():
            raise InputError(f"{day.isoformat()} is in the past", "day")
        r = request_from_dict(d, where, day, self.ctx.tz)
        now_s = now.hour * 3600 + now.minute * 60 + now.second
        last = r.pickup_window.end_s if r.pickup_window is not None else r.arrive_by_s
        if last is not None and last < now_s:
            field = "pickup_window.end" if r.pickup_window is not None else "arrive_by"
            raise InputError(
                f"{format_time(last, day, self.ctx.tz)} is in the past (now "
                f"{now.strftime('%H:%M')})",
                f"{where}.{field}",
            )

    # ---- requests -----------------------------------------------------------------------------
    def validate_requests(
        self,
        day: date,
        dicts: Sequence[Mapping[str, Any]],
        where: str,
        owner: int | None = None,
        s: Any = None,
    ) -> None:
        """Every field, place and time of these requests, or an InputError naming the first bad one;
        a ``return_of`` link names a request of the same batch or one already stored for the day
        (of key ``owner`` only, if given: a portal links only to its own bookings, and learns
        nothing of the others'); nothing already over when the day is today. ``s``: a booking's
        open transaction, where the stored outbound of its return is read (one statement)."""
        batch_ids = {str(d.get("id")) for d in dicts if isinstance(d, Mapping)}
        links = {
            str(d["return_of"])
            for d in dicts
            if isinstance(d, Mapping) and d.get("return_of") not in (None, "")
        }
        wanted = sorted(links - batch_ids)
        # a return is checked against its stored outbound, and no outbound gets two returns
        # (a batch reads the day's returns; a booking leaves that to the day's compile)
        outbounds: dict[str, dict[str, Any]] = {}
        returns: dict[str, str] = {}
        batch = where.endswith("requests")
        if s is not None and not batch:
            stored, outbounds = (
                self.ctx.store.links_in(s, day, wanted, owner) if wanted else (set(), {})
            )
        else:
            stored = self.ctx.store.request_ids(day, wanted, owner) if wanted else set()
            if links and (wanted or batch):
                outbounds, returns = self.ctx.store.linked_requests(
                    day, sorted(links), owner, returns=batch
                )
        pricing.check_fare_fields(self.ctx, dicts, where)
        self.compiler.validate_requests(
            day,
            dicts,
            where,
            stored,
            each=lambda d, at: self.check_not_past(day, d, at),
            stored=outbounds,
            returns=returns,
        )

    def submit_requests(
        self,
        day: date,
        dicts: Sequence[Mapping[str, Any]],
        key: KeyInfo,
        where: str = "body.requests",
    ) -> list[str]:
        if not dicts:
            raise InputError("no requests given", where)
        self.check_open(day)
        self.validate_requests(day, dicts, where)
        return self.ctx.store.add_requests(day, dicts, source="batch", owner=key.id)

    def list_requests(
        self,
        day: date,
        key: KeyInfo,
        status: str | None = None,
        source: str | None = None,
        owner: int | None = None,
    ) -> list[dict[str, Any]]:
        """The day's requests as ``key`` may see them (``owner``: of that key only)."""
        rows = self.ctx.store.list_requests(day, status=status, source=source, owner=owner)
        shown: list[dict[str, Any]] = self.show(
            rows, day, key, f"{source or 'request'}s.list", owner
        )
        return shown

    def get_request(
        self,
        day: date,
        request_id: str,
        key: KeyInfo,
        source: str | None = None,
        owner: int | None = None,
    ) -> dict[str, Any]:
        row = self.ctx.store.get_request(day, request_id, source=source, owner=owner)
        out: dict[str, Any] = self.show(row, day, key, f"{source or 'request'}s.get", owner)
        return out

    def show(
        self, rows: Any, day: date, key: KeyInfo, action: str, owner: int | None = None
    ) -> Any:
        """Requests as answered (one or a list), seen by ``key`` (a portal: its own, ``owner``);
        a read (``action``) is logged, the answer to a write (no action) is not."""
        own = [r["id"] for r in (rows if isinstance(rows, list) else [rows])]
        return self.privacy.show(
            View.REQUEST,
            rows,
            key,
            action,
            day,
            own_requests=own if owner is not None else (),
            log=bool(action),
        )

    def cancel_request(
        self,
        day: date,
        request_id: str,
        key: KeyInfo,
        source: str | None = None,
        return_trip: str = "keep",
    ) -> dict[str, Any]:
        """Cancel a request (a portal key: only its own); an accepted one leaves the day's plan.
        Its return trip, if any (still in the day, the caller's own for a portal key): with
        ``return_trip="keep"`` it stays, a trip of its own (unlinked); with "cancel" it is
        cancelled too. The answer says what became of it (``return_trip``: its id, status, what
        was done)."""
        if return_trip not in RETURN_TRIP_CHOICES:
            raise InputError(
                f"must be one of {', '.join(RETURN_TRIP_CHOICES)}, got {return_trip!r}", "return"
            )
        store = self.ctx.store
        owner = key.id if key.role == "portal" else None
        with store.lock_day(day) as (s, row):
            req = store.request_row(s, day, request_id)
            if (
                req is None
                or (source and req.source != source)
                or (owner is not None and req.owner_key_id != owner)
            ):
                raise NotFoundError(
                    f"no {source or 'request'} {request_id!r} on {day.isoformat()}", "request_id"
                )
            backs = [
                r
                for r in store.requests_in(s, day, ["pending", "accepted"])
                if isinstance(r.data, dict)
                and str(r.data.get("return_of") or "") == request_id
                and (owner is None or r.owner_key_id == owner)
            ]
            leaving = [req] if req.status != "cancelled" else []
            if return_trip == "cancel":
                leaving += backs
            held = {r.request_id for r in leaving if r.status == "accepted"}
            plan, problem = stored_plan(store, s, row) if held else (None, None)
            if plan is not None and problem is not None:
                now_s = self.ctx.now_s(day)
                ids = {r.id for r in problem.requests}
                # the return first, then its outbound (a kept return is unlinked by the removal)
                for rid in [r.request_id for r in leaving if r.request_id in held][::-1]:
                    if rid in ids:
                        problem, plan = remove_request(problem, plan, rid, now_s)
                memo = self.ctx.memory.memo_of(day)
                store.live.write(
                    s, row, plan_to_dict(plan, problem, memo), problem_to_dict(problem, memo)
                )
            for r in leaving:
                r.status, r.updated_at = "cancelled", utcnow()
            TicketStore.void(s, day, [r.request_id for r in leaving])  # their tickets are void
            if leaving:
                row.version += 1
            out = request_out(req)
            out["return_trip"] = (
                {
                    "request_id": backs[0].request_id,
                    "status": backs[0].status,
                    "action": "cancelled" if return_trip == "cancel" else "kept",
                    "linked": False,
                }
                if backs
                else None
            )
        shown: dict[str, Any] = self.show(out, day, key, "", owner)
        return shown
