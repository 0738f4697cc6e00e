"""The tables: API keys, service days (with the day's current plan), vehicles, requests, jobs;
carpool offers per day, volunteer drivers, and the last carpool matching of each day; the
append-only log of reads of personal data and the service's secrets (``docs/privacy.md``).

Requests and vehicles are stored in the input vocabulary of ``dispatcher.io`` (the same dicts
the CLI reads from JSON or CSV), so that a stored day can always be re-planned by the same code
path. The current plan of a day is stored with the compiled problem it answers (schemas
``dispatcher/plan/1`` and ``dispatcher/problem/1``), so that it can be checked and drawn later:
in pieces (a route, a request, a vehicle, a matrix each; ``dispatcher.store.live``), so that a
booking writes only the pieces it changed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class _Document:
    """The columns of a table of documents by id (a ``dispatcher.io`` input dict in ``data``),
    read and written by ``dispatcher.store.db.Documents``."""

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class _DayItem:
    """The first columns of an item of a service day (a request, a carpool offer): its own key
    and the day (``sort_order``: before the columns of the table's class)."""

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True, sort_order=-1)
    day: Mapped[date] = mapped_column(
        Date, ForeignKey("service_days.day"), index=True, sort_order=-1
    )


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the token
    prefix: Mapped[str] = mapped_column(
        String(16)
    )  # first characters of the token, to recognise it
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # a driver key: the one vehicle of the one day it speaks for (None for the other roles)
    vehicle_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    day: Mapped[date | None] = mapped_column(Date, nullable=True)


class ServiceDay(Base):
    """A day of the service calendar. ``version`` grows on every change of the day's requests or
    plan (optimistic check for plan jobs); the row is also the lock taken by bookings."""

    __tablename__ = "service_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | closed
    note: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=0)
    # set when the day has a plan (stored in ``day_pieces``)
    plan_updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # when the retention period's purge pseudonymised the day's personal data (None: not yet)
    purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class DayPiece(Base):
    """A piece of a day's current plan or of the live problem it answers (``key``: e.g.
    ``plan/route/00003``, ``problem/request/00042``, ``problem/duration_s``; the pieces of a
    list sort in its order), written by ``dispatcher.store.live``."""

    __tablename__ = "day_pieces"

    day: Mapped[date] = mapped_column(Date, ForeignKey("service_days.day"), primary_key=True)
    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    data: Mapped[Any] = mapped_column(JSON)


class VehicleRow(_Document, Base):
    """A vehicle of the fleet (``dispatcher.io`` vehicle dict)."""

    __tablename__ = "vehicles"


class RequestRow(_DayItem, Base):
    """A trip request of a day. ``status``: pending (submitted, not planned yet), accepted (served
    by the day's current plan: a promise), refused (with ``refusal``), cancelled."""

    __tablename__ = "requests"
    __table_args__ = (UniqueConstraint("day", "request_id", name="uq_requests_day_request_id"),)

    request_id: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(20))  # batch | booking
    status: Mapped[str] = mapped_column(String(20))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    owner_key_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    promise: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    refusal: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Job(Base):
    """A planning job (``plan``: becomes the day's plan; ``scenario``: a what-if, stored only
    here)."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # plan | scenario
    day: Mapped[date] = mapped_column(Date, ForeignKey("service_days.day"), index=True)
    status: Mapped[str] = mapped_column(String(20))  # queued | running | done | failed
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    base_version: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class CarpoolOfferRow(_DayItem, Base):
    """A private driver's trip on a service day that riders may share (``dispatcher.io`` offer
    dict in ``data``; its ``driver_id`` is the offer's id within the day). ``status``: active, or
    withdrawn (the row is kept, like a cancelled request)."""

    __tablename__ = "carpool_offers"
    __table_args__ = (UniqueConstraint("day", "driver_id", name="uq_carpool_offers_day_driver_id"),)

    driver_id: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))  # active | withdrawn
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    owner_key_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class VolunteerRow(_Document, Base):
    """A volunteer driver with their own car (``dispatcher.io`` volunteer dict), not bound to a
    day: available on the half-days they give, like the fleet's vehicles."""

    __tablename__ = "volunteers"


class CarpoolMatchingRow(Base):
    """The last carpool matching run on a day (the API's answer, as stored), with the day's
    ``version`` it was computed at (an older version: requests or offers changed since)."""

    __tablename__ = "carpool_matchings"

    day: Mapped[date] = mapped_column(Date, ForeignKey("service_days.day"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AccessLogRow(Base):
    """One read of personal data (or one export, erasure or purge): who (``key_id`` and ``role``;
    no key for the command line), what (``action``, the ``day``, how many ``records``) and when.
    It holds no personal data itself: persons appear only as rider ids (keyed hashes of their
    phone numbers, ``dispatcher.service.privacy``). Append-only: the database refuses to update
    or delete a row (triggers of migration 0003)."""

    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    key_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    role: Mapped[str] = mapped_column(String(20))  # a key's role, or cli / system
    action: Mapped[str] = mapped_column(String(60))
    day: Mapped[date | None] = mapped_column(Date, nullable=True)
    records: Mapped[int] = mapped_column(Integer, default=0)
    rider_ids: Mapped[list[str]] = mapped_column(JSON, default=list)


class SecretRow(Base):
    """A secret of the service, made once at random and shared by every worker: the key of the
    pseudonyms planners read and of the rider ids."""

    __tablename__ = "secrets"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class VehicleEventRow(Base):
    """One event of a vehicle on a service day, as received (``data``: the body sent), with who
    sent it (``key_id``, ``role``) and when it arrived. ``seq`` orders the day's events as they
    were accepted; ``event_id`` (the client's) makes a replay idempotent. Append-only: the
    database refuses to update or delete a row (triggers of migration 0004)."""

    __tablename__ = "vehicle_events"
    __table_args__ = (UniqueConstraint("day", "event_id", name="uq_vehicle_events_day_event_id"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date, ForeignKey("service_days.day"), index=True)
    vehicle_id: Mapped[str] = mapped_column(String(100))
    event_id: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(20))
    time_s: Mapped[int] = mapped_column(Integer)  # the event's time, seconds since the day's 00:00
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    key_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    role: Mapped[str] = mapped_column(String(20))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LiveDayRow(Base):
    """What a day's events have established so far (``dispatcher.solver.tracking.FleetState`` as
    JSON): per vehicle its status, last position and stop, declared delay, what is done, who is
    on board. Rewritten under the day's lock by each accepted event."""

    __tablename__ = "live_days"

    day: Mapped[date] = mapped_column(Date, ForeignKey("service_days.day"), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class NotificationRow(Base):
    """An entry of the outbox of rider notifications: a promised time changed, or a promise was
    withdrawn (a refusal after a promise). ``rider_ref`` is the rider id (keyed hash of the
    phone, ``dispatcher.service.privacy``), never the number; a gateway would read the number
    from the request. ``sent_at``: when a gateway marked it drained."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date, ForeignKey("service_days.day"), index=True)
    request_id: Mapped[str] = mapped_column(String(100))
    rider_ref: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class TicketRow(Base):
    """A ticket issued by the service (``dispatcher.fares.tickets``): a trip ticket of an accepted
    booking (``kind`` T: its day and request), a card of trips (C: ``trips_left``) or a pass (P:
    ``valid_from``..``valid_to``). The code itself is not stored: it is made again from the
    serial under the ticket key. ``payment`` is what a payment integration sets (``unpaid``,
    ``paid``, ``on_board``); ``status`` ``cancelled`` voids it (its booking was cancelled)."""

    __tablename__ = "tickets"

    serial: Mapped[str] = mapped_column(String(16), primary_key=True)
    kind: Mapped[str] = mapped_column(String(1))
    day: Mapped[date | None] = mapped_column(Date, nullable=True, index=True)
    request_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    owner_key_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    product: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(64), default="")
    passengers: Mapped[int] = mapped_column(Integer, default=1)
    amount_cents: Mapped[int] = mapped_column(Integer, default=0)
    payment: Mapped[str] = mapped_column(String(10), default="unpaid")
    status: Mapped[str] = mapped_column(String(10), default="valid")
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    trips_left: Mapped[int | None] = mapped_column(Integer, nullable=True)
    valid_from: Mapped[date | None] = mapped_column(Date, nullable=True)
    valid_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TicketCheckRow(Base):
    """One check of a code on board: when, for which day, the verdict, the ticket's serial when
    the code was well signed, who checked (key and role; ``cli`` for the command line) and the
    vehicle when told. No personal data."""

    __tablename__ = "ticket_checks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    day: Mapped[date] = mapped_column(Date)
    serial: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    result: Mapped[str] = mapped_column(String(20))
    key_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    role: Mapped[str] = mapped_column(String(20))
    vehicle_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
