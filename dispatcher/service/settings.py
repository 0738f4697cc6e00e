"""Settings of the service (the API server and anything else that runs the use cases), from the
environment (prefix ``DISPATCHER_``) or arguments.

``DISPATCHER_DATABASE_URL`` (default: SQLite in ``DISPATCHER_STATE_DIR``), ``DISPATCHER_SERVICE``
(the service configuration file, :mod:`dispatcher.service_config`: territory, time zone,
calendar, hours, booking rules, fares; default: the Pays du Coquelicot's),
``DISPATCHER_MAX_BODY_BYTES``,
``DISPATCHER_BOOKING_TIME_LIMIT_S``, ``DISPATCHER_RETENTION_DAYS``, ... (``DISPATCHER_DATA_DIR``
is the territory's data folder, read by ``dispatcher.territory``, hence ``STATE_DIR`` here).

``DISPATCHER_TERRITORY``, ``DISPATCHER_TIMEZONE`` and the ``DISPATCHER_BOOKING_*`` settings
override the service configuration's values when set (``off`` turns the cut-off or same-day
booking off); unset, the configuration's apply.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from dispatcher.errors import InputError
from dispatcher.io.times import parse_time
from dispatcher.service_config import ServiceConfig, load_service
from dispatcher.solver.live import BookingRules
from dispatcher.store import sqlite_url

TICKET_KEY_FILE = "ticket.key"


def _hex_key(path: Path) -> bytes:
    text = path.read_text(encoding="ascii").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 16:
        raise InputError("not a hex key; remove the file to make a new one", str(path))
    return key


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DISPATCHER_", extra="ignore")

    state_dir: Path = Field(
        default=Path("~/.local/share/dispatcher"),
        description="Folder of the SQLite database (when no database_url).",
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL, e.g. postgresql+psycopg://user:pw@host/db."
    )
    migrate_on_start: bool = True
    service: Path | None = Field(
        default=None,
        description="The service configuration (TOML: territory, time zone, hours, calendar, "
        "booking rules, agency); default: the Pays du Coquelicot's, embedded.",
    )
    territory: str | None = Field(
        default=None,
        description="Intercommunalities whose places are known (keys or SIREN, comma separated; "
        "'all'); default: the service configuration's.",
    )
    timezone: str | None = Field(
        default=None, description="Default: the service configuration's (Europe/Paris)."
    )
    max_body_bytes: int = Field(default=1_000_000, ge=1)
    booking_time_limit_s: float = Field(
        default=1.0, ge=0, description="Solver time limit of the re-planning fallback of a booking."
    )
    plan_time_limit_s: float = Field(
        default=10.0, ge=0, description="Default time limit of a plan job."
    )
    max_plan_time_limit_s: float = Field(default=600.0, ge=0)
    solver_processes: bool = Field(
        default=True,
        description="Run plan jobs in a separate process (keeps the server responsive).",
    )
    booking_cutoff_day_before: str | None = Field(
        default=None,
        description="Bookings for a day close at this time the day before (HH:MM; 'off': no "
        "cut-off), unless same-day booking is allowed; default: the service configuration's.",
    )
    booking_same_day_notice_min: int | Literal["off"] | None = Field(
        default=None,
        description="Same-day bookings need this much notice before the pickup (minutes; 'off': "
        "no same-day booking); default: the service configuration's.",
    )
    booking_max_days_ahead: int | None = Field(
        default=None,
        ge=0,
        description="How many days ahead a trip may be booked; default: the service "
        "configuration's.",
    )
    retention_days: int = Field(
        default=90,
        ge=0,
        description="Days after a service day when its riders' personal data is pseudonymised "
        "(names and phone numbers removed, ids pseudonymised, addresses made their commune; "
        "statistics, plans and scenario results stay): by `dispatcher privacy purge` and at "
        "server start. See docs/privacy.md.",
    )
    no_show_cancels_return: bool = Field(
        default=False,
        description="A no-show cancels the rider's return trip of the day; false (default): the "
        "return is kept and the operator is asked (an alert of the live day).",
    )
    replan_after_events: bool = Field(
        default=True,
        description="Hand on what a late or broken vehicle can no longer serve to the other "
        "vehicles (re-insertion); false: only report it (alerts, notifications, refusals).",
    )
    event_reaction_s: int = Field(
        default=300,
        ge=0,
        description="Re-planning after an event (a breakdown, a late vehicle) plans nothing "
        "sooner than this after the event (seconds).",
    )
    geocoder: str | None = Field(
        default=None,
        description="How postal addresses given as places ('12 rue de Corbie, Albert') are "
        "placed: offline (the road data's addresses and streets, else the commune's main stop; "
        "the default), ban:URL (the French national address base's API) or nominatim:URL.",
    )
    ticket_key: str | None = Field(
        default=None,
        description="Secret that signs tickets (HMAC-SHA256); unset: one generated and kept in "
        "the state folder (ticket.key).",
    )
    host: str = "127.0.0.1"
    port: int = 8000

    def service_config(self) -> ServiceConfig:
        """The service configuration (``service``, else ``$DISPATCHER_SERVICE``, else the
        default), read and validated."""
        return load_service(self.service)

    def booking_rules(self, service: ServiceConfig | None = None) -> BookingRules:
        """The service's booking rules, checked on every real-time booking: the configuration's,
        with the ``booking_*`` settings that are set instead."""
        svc = service or self.service_config()
        cutoff, notice = self.booking_cutoff_day_before, self.booking_same_day_notice_min
        rules: BookingRules = svc.booking_rules(
            cutoff_day_before_s="config"
            if cutoff is None
            else None
            if cutoff in ("", "off")
            else parse_time(cutoff, "DISPATCHER_BOOKING_CUTOFF_DAY_BEFORE"),
            same_day_notice_s="config"
            if notice is None
            else None
            if notice == "off"
            else notice * 60,
            max_days_ahead=self.booking_max_days_ahead,
        )
        return rules

    def secret_file(self, name: str, path: Path | None = None) -> bytes:
        """A secret kept in a file: ``path``, else ``name`` in the state folder, made once (32
        random bytes, hex, readable by its owner only; the first process to make it wins)."""
        path = path or Path(self.state_dir).expanduser() / name
        try:
            return _hex_key(path)
        except FileNotFoundError:
            pass
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return _hex_key(path)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(os.urandom(32).hex())
        return _hex_key(path)

    def ticket_secret(self) -> bytes:
        """The key that signs tickets: the SHA-256 of ``DISPATCHER_TICKET_KEY`` (any string), else
        32 random bytes made once and kept in the state folder (``ticket.key``, readable by its
        owner only; the first process to make it wins, the others read it)."""
        if self.ticket_key:
            return hashlib.sha256(self.ticket_key.encode()).digest()
        return self.secret_file(TICKET_KEY_FILE)

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return sqlite_url(self.state_dir)
