"""The rights of the person and the retention period (``docs/privacy.md``):

* ``export``: everything stored about a person (a rider, and a volunteer or a carpool driver
  by the same phone number), found by phone number or rider id, as one JSON document;
* ``erase``: the same, forgotten: trips still to come cancelled (their seats freed), then every
  stored copy rewritten (request rows, their promises and refusals, the day's plan and problem,
  carpool offers and matchings, jobs) with names and phone numbers removed, ids pseudonymised
  under a random key thrown away, free points made their commune; a volunteer's record is
  deleted. The trips stay, pseudonymous, for the statistics;
* ``purge``: the same rewrite for every service day older than the retention period
  (``DISPATCHER_RETENTION_DAYS``, 90 by default), at server start and by ``dispatcher privacy
  purge``; KPIs are unchanged;
* ``dump``: a day's files for planners and researchers (demand, fleet, offers, problem and
  plan), pseudonymised with a key of their own, stable within the dump and useless across dumps.

What was done is logged (counts, never the data) and written to the access log. Afterwards
the store lets go of the old row versions (``Store.compact``).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatcher.errors import InputError
from dispatcher.service.compiling import Compiler
from dispatcher.service.context import Context
from dispatcher.service.days import Days
from dispatcher.service.privacy import (
    EVERYTHING,
    NOTHING,
    SERVER,
    Kind,
    Lens,
    Privacy,
    Pseudonyms,
    View,
    Viewer,
    forgetting,
    lens_for,
    redact,
)
from dispatcher.service.settings import Settings
from dispatcher.store import ConflictError, KeyInfo
from dispatcher.store.db import iso_time
from dispatcher.store.mobility import Mobility
from dispatcher.store.models import (
    CarpoolMatchingRow,
    CarpoolOfferRow,
    DayPiece,
    Job,
    RequestRow,
    ServiceDay,
    VehicleRow,
    VolunteerRow,
    utcnow,
)
from dispatcher.store.tickets import TicketStore

log = logging.getLogger("dispatcher.service.personal_data")

EXPORT_SCHEMA = "dispatcher/personal-data/1"
RIDER_ID = re.compile(r"^rdr-[0-9a-f]{16}$")
PERSONAL_TABLES = (
    "requests",
    "service_days",
    "day_pieces",
    "carpool_offers",
    "carpool_matchings",
    "jobs",
    "volunteers",
    "vehicles",
)
ACTIVE = ("pending", "accepted")


@dataclass
class Found:
    """Where a person is stored: request ids and carpool offers per day, volunteer records,
    fleet vehicles (a staff member's), and the days whose stored copies name their
    volunteer vehicles."""

    rider_id: str
    requests: dict[date, list[str]] = field(default_factory=dict)
    offers: dict[date, list[str]] = field(default_factory=dict)
    volunteers: list[str] = field(default_factory=list)
    vehicles: list[str] = field(default_factory=list)
    volunteer_days: set[date] = field(default_factory=set)

    @property
    def days(self) -> list[date]:
        return sorted({*self.requests, *self.offers, *self.volunteer_days})

    @property
    def empty(self) -> bool:
        return not (self.requests or self.offers or self.volunteers or self.vehicles)


class PersonalData:
    def __init__(self, ctx: Context, privacy: Privacy, days: Days) -> None:
        self.ctx, self.privacy, self.days = ctx, privacy, days
        self.mobility = Mobility(ctx.store)

    # ---- who --------------------------------------------------------------------------------
    def rider_of(self, phone: str | None = None, rider_id: str | None = None) -> str:
        """The rider id of a phone number or the rider id given (exactly one of them)."""
        if (phone is None) == (rider_id is None):
            raise InputError("give a phone number or a rider id (one of them)", "body")
        if phone is not None:
            got = self.privacy.rider_id(phone)
            if got is None:
                raise InputError(f"{phone!r} holds no digit of a phone number", "body.phone")
            return got
        assert rider_id is not None
        if not RIDER_ID.match(rider_id):
            raise InputError(
                f"{rider_id!r} is not a rider id (rdr- and 16 hexadecimal digits)", "body.rider_id"
            )
        return rider_id

    def _is(self, d: Mapping[str, Any], rider: str) -> bool:
        phone = d.get("phone")
        return bool(phone) and self.privacy.rider_id(phone) == rider

    def find(self, rider: str) -> Found:
        """Every place the person of ``rider`` is stored (days already purged hold no phone
        number any more, so they are not looked at)."""
        pstore = self.privacy.store
        found = Found(rider)
        for day, rid, d in pstore.request_data():
            if self._is(d, rider):
                found.requests.setdefault(day, []).append(rid)
        for day, oid, d in pstore.offer_data():
            if self._is(d, rider):
                found.offers.setdefault(day, []).append(oid)
        found.volunteers = [str(d["id"]) for d in pstore.volunteer_data() if self._is(d, rider)]
        found.vehicles = [
            str(d["id"]) for d in self.ctx.store.list_vehicles() if self._is(d, rider)
        ]
        if found.volunteers or found.vehicles:
            mine = set(found.volunteers) | set(found.vehicles)
            with self.ctx.store.read() as s:
                q = (
                    select(DayPiece.day, DayPiece.data)
                    .join(ServiceDay, ServiceDay.day == DayPiece.day)
                    .where(
                        ServiceDay.purged_at.is_(None),
                        DayPiece.key.startswith("problem/vehicles/"),
                    )
                )
                for day, v in s.execute(q):  # the vehicles of the days' live problems
                    if isinstance(v, dict) and str(v.get("id")).partition("/")[0] in mine:
                        found.volunteer_days.add(day)
                q2 = (
                    select(Job.day, Job.params, Job.result)
                    .join(ServiceDay, ServiceDay.day == Job.day)
                    .where(ServiceDay.purged_at.is_(None))
                )
                for day, params, result in s.execute(q2):
                    text = repr((params, result))
                    if any(x in text for x in mine):
                        found.volunteer_days.add(day)
        return found

    # ---- the right of access ------------------------------------------------------------------
    def export(
        self,
        key: KeyInfo | Viewer,
        phone: str | None = None,
        rider_id: str | None = None,
    ) -> dict[str, Any]:
        """Everything stored about a person, as the person may read it: their own records in
        full, anyone else in them (another rider of a carpool, a volunteer driving them) by a
        pseudonym; and who read their data (the access log)."""
        rider = self.rider_of(phone, rider_id)
        found = self.find(rider)
        store = self.ctx.store
        requests, trips, offers, matchings = [], [], [], []
        for day in found.days:
            mine = found.requests.get(day, [])
            own_offers = found.offers.get(day, [])
            lens = self._subject_lens(day, mine, [*own_offers, *found.volunteers], found.vehicles)
            for rid in mine:
                requests.append(redact(View.REQUEST, store.get_request(day, rid), lens))
            for oid in own_offers:
                offers.append(redact(View.OFFER, self.mobility.get_offer(day, oid), lens))
            plan = store.get_plan_json(day)
            for route in (plan or {}).get("routes") or []:
                visits = [v for v in route.get("visits") or [] if v.get("request_id") in mine]
                driving = str(route.get("vehicle_id")).partition("/")[0] in found.volunteers
                if visits or driving:
                    trip = {"day": day.isoformat(), **route, "visits": visits or route["visits"]}
                    trips.append(redact(View.PLAN, {"routes": [trip]}, lens)["routes"][0])
            with store.read() as s:
                m = s.get(CarpoolMatchingRow, day)
                result = None if m is None else m.result
            for match in (result or {}).get("matches") or []:
                riders = {r.get("request_id") for r in match.get("riders") or []}
                if riders & set(mine) or match.get("driver_id") in own_offers:
                    shown = redact(View.MATCHING, {"matches": [match]}, lens)["matches"][0]
                    matchings.append({"day": day.isoformat(), **shown})
        volunteers = [self.mobility.get_volunteer(v) for v in found.volunteers]
        vehicles = [store.get_vehicle(v) for v in found.vehicles]
        out = {
            "schema": EXPORT_SCHEMA,
            "rider_id": rider,
            "exported_at": iso_time(utcnow()),
            "retention_days": self.ctx.settings.retention_days,
            "requests": requests,
            "trips": trips,
            "carpool_offers": offers,
            "carpool_matches": matchings,
            "volunteer": volunteers,
            "vehicles": vehicles,
            "access_log": self.privacy.access_log(rider_id=rider),
        }
        n = len(requests) + len(offers) + len(volunteers) + len(vehicles)
        viewer = Viewer.of(key)
        self.privacy.store.append(viewer.key_id, viewer.actor, "privacy.export", None, n, [rider])
        log.info("exported the personal data of one person: %d record(s)", n)
        return out

    def _subject_lens(
        self, day: date, requests: Iterable[str], drivers: Iterable[str], vehicles: Iterable[str]
    ) -> Lens:
        """The person's own view: their records in full, everyone else's hidden."""
        rs, ds, vs = frozenset(requests), frozenset(drivers), frozenset(vehicles)
        identity = frozenset({Kind.IDENTITY})
        return Lens(
            self.privacy.pseudonyms,
            self.privacy.communes,
            day=day.isoformat(),
            rider=lambda x: NOTHING if x in rs else EVERYTHING,
            driver=lambda x: NOTHING if x in ds else EVERYTHING,
            fleet=lambda x: NOTHING if x in vs else identity,
            kinds=self.privacy.drivers_of(day),
        )

    # ---- the right to erasure -----------------------------------------------------------------
    def erase(
        self,
        key: KeyInfo | Viewer,
        phone: str | None = None,
        rider_id: str | None = None,
    ) -> dict[str, Any]:
        """Forget a person (see the module doc); returns what was done, in counts."""
        rider = self.rider_of(phone, rider_id)
        found = self.find(rider)
        viewer = Viewer.of(key)
        counts: Counter[str] = Counter()
        if found.empty:
            self.privacy.store.append(
                viewer.key_id, viewer.actor, "privacy.erase", None, 0, [rider]
            )
            return {"rider_id": rider, "found": False, "counts": {}}
        self._cancel_trips_to_come(found, counts)
        drivers = [*found.volunteers]
        for day in found.days:
            lens = forgetting(
                self.privacy.communes,
                day.isoformat(),
                riders=found.requests.get(day, []),
                drivers=[*drivers, *found.offers.get(day, [])],
                kinds=self.privacy.drivers_of(day),
            )
            counts.update(self._rewrite(day, lens, vehicles=found.vehicles))
        if found.volunteers:
            with self.ctx.store.write() as s:
                for vid in found.volunteers:
                    row = s.get(VolunteerRow, vid)
                    if row is not None:
                        s.delete(row)
                        counts["volunteers"] += 1
        if found.vehicles:
            with self.ctx.store.write() as s:
                for vid in found.vehicles:
                    vrow = s.get(VehicleRow, vid)
                    if vrow is not None:
                        vrow.data = {**vrow.data, "name": "", "phone": ""}
                        vrow.updated_at = utcnow()
                        counts["vehicles"] += 1
        self.ctx.store.compact(PERSONAL_TABLES)
        n = sum(v for k, v in counts.items() if k != "cancelled")
        self.privacy.store.append(viewer.key_id, viewer.actor, "privacy.erase", None, n, [rider])
        log.info("erased one person: %s", ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
        return {"rider_id": rider, "found": True, "counts": dict(sorted(counts.items()))}

    def _cancel_trips_to_come(self, found: Found, counts: Counter[str]) -> None:
        """A person forgotten has no trip left to make: their requests of today and later are
        cancelled (a trip already under way is left as it is), their offers withdrawn."""
        today = self.ctx.now_local().date()
        operator = Viewer("operator", label="privacy")
        key = KeyInfo(0, "operator", operator.label, "")
        for day, rids in found.requests.items():
            if day < today:
                continue
            for r in self.ctx.store.list_requests(day):
                if r["id"] in rids and r["status"] in ACTIVE:
                    try:
                        self.days.cancel_request(day, r["id"], key)
                        counts["cancelled"] += 1
                    except ConflictError:
                        pass  # picked up already: the trip ends as planned
        for day, oids in found.offers.items():
            if day >= today:
                for oid in oids:
                    self.mobility.withdraw_offer(day, oid)

    def _rewrite(self, day: date, lens: Lens, vehicles: Iterable[str] = ()) -> Counter[str]:
        """Rewrite every stored copy of ``day``'s personal data through ``lens`` (under the day's
        lock, as a booking writes); returns the counts of what changed."""
        counts: Counter[str] = Counter()
        fleet = frozenset(vehicles)
        if fleet:
            before = lens.fleet
            identity = frozenset({Kind.IDENTITY})
            lens.fleet = lambda x: identity if x in fleet else before(x)
        with self.ctx.store.lock_day(day) as (s, row):
            reqs = list(s.execute(select(RequestRow).where(RequestRow.day == day)).scalars())
            lens.know([r.request_id for r in reqs])
            offers = list(
                s.execute(select(CarpoolOfferRow).where(CarpoolOfferRow.day == day)).scalars()
            )
            counts.update(self._rewrite_plan(s, row, lens))
            for r in reqs:
                new = (
                    lens.rid(r.request_id, shown=False),
                    lens.texts(lens.request_data(r.data)),
                    lens.texts(lens.promise(r.promise), True),
                    lens.texts(lens.refusal(r.refusal), True),
                )
                if new != (r.request_id, r.data, r.promise, r.refusal):
                    if new[0] != r.request_id:  # the trip's tickets follow its pseudonym
                        TicketStore.rename(s, day, r.request_id, new[0])
                    r.request_id, r.data, r.promise, r.refusal = new
                    r.updated_at = utcnow()
                    counts["requests"] += 1
            for o in offers:
                data = lens.offer_data(o.data)
                if data != o.data:
                    o.driver_id, o.data, o.updated_at = data["driver_id"], data, utcnow()
                    counts["carpool offers"] += 1
            m = s.get(CarpoolMatchingRow, day)
            if m is not None:
                result = redact(View.MATCHING, m.result, lens)
                if result != m.result:
                    m.result = result
                    counts["carpool matchings"] += 1
            counts.update(self._rewrite_jobs(s, day, lens))
            row.version += 1
        self.ctx.memory.forget(day)
        return counts

    def _rewrite_plan(self, s: Session, row: ServiceDay, lens: Lens) -> Counter[str]:
        counts: Counter[str] = Counter()
        plan, problem = self.ctx.store.live.read_locked(s, row)
        if plan is None or problem is None:
            return counts
        # the problem first: it fixes the new location ids of the plan
        new_problem = redact(View.PROBLEM, problem, lens)
        new_plan = redact(View.PLAN, plan, lens)
        if new_problem != problem:
            counts["problems"] += 1
        if new_plan != plan:
            counts["plans"] += 1
        if counts:
            self.ctx.store.live.write(s, row, new_plan, new_problem)
        return counts

    @staticmethod
    def _rewrite_jobs(s: Session, day: date, lens: Lens) -> Counter[str]:
        counts: Counter[str] = Counter()
        for job in s.execute(select(Job).where(Job.day == day)).scalars():
            out = redact(
                View.JOB,
                {"day": day.isoformat(), "params": job.params, "result": job.result},
                lens,
            )
            error = lens.texts(job.error, True)
            if (out["params"], out["result"], error) != (job.params, job.result, job.error):
                job.params, job.result, job.error = out["params"], out["result"], error
                counts["jobs"] += 1
        return counts

    # ---- the retention period -----------------------------------------------------------------
    def purge(
        self, key: KeyInfo | Viewer = SERVER, retention_days: int | None = None
    ) -> dict[str, Any]:
        """Pseudonymise every service day older than the retention period (see the module doc);
        days already purged are left alone, so that several workers starting at once purge each
        day once."""
        keep = self.ctx.settings.retention_days if retention_days is None else retention_days
        if keep < 0:
            raise InputError(f"must be a number of days >= 0, got {keep}", "retention_days")
        before = self.ctx.now_local().date() - timedelta(days=keep)
        counts: Counter[str] = Counter()
        purged: list[str] = []
        for day in self.privacy.store.days_before(before):
            with self.ctx.store.read() as s:
                done = s.execute(
                    select(ServiceDay.purged_at).where(ServiceDay.day == day)
                ).scalar_one_or_none()
            if done is not None:
                continue
            lens = forgetting(
                self.privacy.communes, day.isoformat(), kinds=self.privacy.drivers_of(day)
            )
            counts.update(self._rewrite(day, lens))
            with self.ctx.store.lock_day(day) as (_, row):
                row.purged_at = utcnow()
            purged.append(day.isoformat())
        if purged:
            self.ctx.store.compact(PERSONAL_TABLES)
            viewer = Viewer.of(key)
            self.privacy.store.append(
                viewer.key_id, viewer.actor, "privacy.purge", None, len(purged)
            )
            log.info(
                "purged the personal data of %d service day(s) before %s: %s",
                len(purged),
                before.isoformat(),
                ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "nothing stored",
            )
        return {
            "before": before.isoformat(),
            "retention_days": keep,
            "days": purged,
            "counts": dict(sorted(counts.items())),
        }

    # ---- dumps for planners and researchers ---------------------------------------------------
    def dump(self, day: date, key: KeyInfo | Viewer) -> dict[str, Any]:
        """A day's files for planners and researchers, each a JSON document: the demand
        (``requests.json``, the requests not cancelled, in the input vocabulary), the fleet
        (``fleet.json``), the carpool offers, and the stored problem and plan (checkable
        together with ``dispatcher check``). Pseudonymised as a planner reads them, with a key of
        their own: the same person has the same pseudonym throughout the dump, and another dump
        gives everyone other pseudonyms."""
        store = self.ctx.store
        store.get_day(day)
        got = store.get_plan(day)
        problem = None if got is None else got[1]
        lens = lens_for(
            Viewer("planner"),
            Pseudonyms.fresh(),
            self.privacy.communes,
            day.isoformat(),
            kinds=self.privacy.drivers_of(day, problem),
        )
        requests = [r["request"] for r in store.list_requests(day) if r["status"] != "cancelled"]
        lens.know(str(r.get("id")) for r in requests)
        files: dict[str, Any] = {}
        if got is not None:
            files["problem.json"] = redact(View.PROBLEM, got[1], lens)
            files["plan.json"] = redact(View.PLAN, got[0], lens)
        files["requests.json"] = {"requests": redact(View.REQUEST_DATA, requests, lens)}
        files["fleet.json"] = {"vehicles": redact(View.VEHICLE, store.list_vehicles(), lens)}
        offers = [o["offer"] for o in self.mobility.list_offers(day, "active")]
        files["carpool-offers.json"] = {"offers": redact(View.OFFER_DATA, offers, lens)}
        viewer = Viewer.of(key)
        self.privacy.store.append(viewer.key_id, viewer.actor, "privacy.dump", day, len(files))
        return files


def standalone(settings: Settings) -> PersonalData:
    """The use case alone over the store ``settings`` name, for the command line: nothing else
    of a server is started (no job pool; the jobs a running server holds are left alone)."""
    ctx = Context(settings)
    privacy = Privacy(ctx)
    return PersonalData(ctx, privacy, Days(ctx, Compiler(ctx), privacy))
