"""The store behind a few functions: SQLite by default (WAL, one file in the state folder),
PostgreSQL by URL; schema migrations with Alembic, run on open.

Durability: every write is one transaction committed before the API answers (SQLite with
``synchronous=FULL`` in WAL mode; PostgreSQL's defaults). Validation happens before any write,
so bad input never touches what is stored.

Concurrency (documented choice: pessimistic row locks for bookings, optimistic versions for
plan jobs):

* Everything that changes a day's plan or requests runs in ``Store.lock_day(day)``: on
  PostgreSQL a ``SELECT ... FOR UPDATE`` of the day's row, on SQLite a ``BEGIN IMMEDIATE``
  transaction (SQLite has one writer at a time; the lock is the database's, held across
  processes). Two bookings on the same day are therefore serialised, each one sees the plan the
  previous one committed, and no vehicle is over-filled or promise broken, with one worker or
  several.
* A plan job solves outside any lock (it can take minutes), remembering the day's ``version``;
  it commits under ``lock_day`` only if the version is unchanged, and otherwise reports that
  the day changed while it was planning (run it again).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event, func, null, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dispatcher.errors import DispatcherError, InputError, NotFoundError
from dispatcher.store.live import Live
from dispatcher.store.models import ApiKey, Job, RequestRow, ServiceDay, VehicleRow, utcnow

ROLES = ("operator", "portal", "planner", "driver")
REQUEST_STATUSES = ("pending", "accepted", "refused", "cancelled", "no_show")
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
TOKEN_PREFIX = "dsp_"


class ConflictError(DispatcherError):
    """A write that conflicts with what is stored (a duplicate id, a day that changed)."""

    exit_code = 2
    http_status = 409


def sqlite_url(folder: str | Path) -> str:
    p = Path(folder).expanduser().resolve()
    return f"sqlite:///{p / 'dispatcher.db'}"


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY).decode()


JSON_CODEC: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}
"""The JSON columns' codec: a booking rewrites the day's plan and problem (hundreds of kB with
300 requests), several times faster with orjson than with the standard library."""


def make_engine(url: str) -> Engine:
    """An engine for ``url``. SQLite: WAL, synchronous FULL, foreign keys, a 60 s busy timeout,
    and transactions begun by us (``BEGIN IMMEDIATE`` for writes, see ``Store.write``)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": 60, "check_same_thread": False},
            pool_size=20,
            max_overflow=40,
            **JSON_CODEC,
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # let SQLAlchemy's begin event emit BEGIN
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return create_engine(url, pool_size=20, max_overflow=40, pool_pre_ping=True, **JSON_CODEC)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the Alembic migrations up to ``revision`` (safe to run by several workers at once)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option(
        "sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%")
    )
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn.execution_options(sqlite_begin="IMMEDIATE")
        command.upgrade(cfg, revision)


def migration_heads() -> list[str]:
    """The newest migrations of the chain (one when the chain is linear, as it must be)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return list(ScriptDirectory.from_config(cfg).get_heads())


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        try:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except Exception:
            return None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class KeyInfo:
    id: int
    role: str
    name: str
    prefix: str
    vehicle_id: str | None = None  # a driver key: its vehicle and its day
    day: date | None = None


def key_info(row: ApiKey) -> KeyInfo:
    return KeyInfo(row.id, row.role, row.name, row.prefix, row.vehicle_id, row.day)


def iso_time(dt: datetime | None) -> str | None:
    """A stored timestamp as ISO 8601 with its offset, in UTC (None stays None). Timestamps are
    written in UTC; SQLite hands them back without their zone, which a reader (the console's
    clock) would take for local time."""
    if dt is None:
        return None
    aware = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    return aware.isoformat()


def request_out(row: RequestRow) -> dict[str, Any]:
    return {
        "id": row.request_id,
        "day": row.day.isoformat(),
        "source": row.source,
        "status": row.status,
        "request": row.data,
        "promise": row.promise,
        "refusal": row.refusal,
        "created_at": iso_time(row.created_at),
        "updated_at": iso_time(row.updated_at),
    }


def day_out(row: ServiceDay, counts: Mapping[str, int] | None = None) -> dict[str, Any]:
    return {
        "day": row.day.isoformat(),
        "status": row.status,
        "note": row.note,
        "version": row.version,
        "has_plan": row.plan_updated_at is not None,
        "plan_updated_at": iso_time(row.plan_updated_at),
        "requests": dict(counts or {}),
    }


def job_out(row: Job) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "day": row.day.isoformat(),
        "status": row.status,
        "params": row.params,
        "result": row.result,
        "error": row.error,
        "created_at": iso_time(row.created_at),
        "started_at": iso_time(row.started_at),
        "finished_at": iso_time(row.finished_at),
    }


def batch_ids(dicts: Sequence[Mapping[str, Any]], key: str, noun: str, where: str) -> list[str]:
    """The ``key`` of every dict of a batch to add, refusing one given twice (at
    ``where[k].key``)."""
    ids = [str(d[key]) for d in dicts]
    seen: set[str] = set()
    for k, item_id in enumerate(ids):
        if item_id in seen:
            raise InputError(f"duplicate {noun} {item_id!r} in this batch", f"{where}[{k}].{key}")
        seen.add(item_id)
    return ids


def documents_in(s: Session, model: Any) -> list[dict[str, Any]]:
    """Every document of a table of documents (see :class:`Documents`) by id, read inside an
    open session."""
    return [r.data for r in s.execute(select(model).order_by(model.id)).scalars()]


class Documents:
    """A table of documents by id (``id``, ``data`` as the input dicts of ``dispatcher.io``,
    ``created_at``, ``updated_at``): the fleet's vehicles, the volunteer drivers."""

    def __init__(self, store: Store, model: Any, noun: str, path: str) -> None:
        self.store, self.model, self.noun, self.path = store, model, noun, path

    def list_in(self, s: Session) -> list[dict[str, Any]]:
        """Every document, read inside an open session."""
        return documents_in(s, self.model)

    def list(self) -> list[dict[str, Any]]:
        with self.store.read() as s:
            return self.list_in(s)

    def get(self, doc_id: str) -> dict[str, Any]:
        with self.store.read() as s:
            row = s.get(self.model, doc_id)
            if row is None:
                raise NotFoundError(f"no {self.noun} {doc_id!r}", f"{self.noun}_id")
            return dict(row.data)

    def put(self, data: Mapping[str, Any], create_only: bool = False) -> bool:
        """Create or replace a document (already validated); returns whether it was created."""
        doc_id = str(data["id"])
        with self.store.write() as s:
            row = s.get(self.model, doc_id)
            if row is not None and create_only:
                raise ConflictError(
                    f"{self.noun} {doc_id!r} already exists; "
                    f"replace it with PUT {self.path}/{doc_id}",
                    "body.id",
                )
            if row is None:
                s.add(self.model(id=doc_id, data=dict(data)))
                try:
                    s.flush()
                except IntegrityError:
                    raise ConflictError(
                        f"{self.noun} {doc_id!r} was added at the same time", "body.id"
                    ) from None
                return True
            row.data, row.updated_at = dict(data), utcnow()
            return False

    def delete(self, doc_id: str) -> None:
        with self.store.write() as s:
            row = s.get(self.model, doc_id)
            if row is None:
                raise NotFoundError(f"no {self.noun} {doc_id!r}", f"{self.noun}_id")
            s.delete(row)


class Store:
    """The store. ``Store(url)`` opens (and migrates, unless ``migrate=False``) the database."""

    def __init__(self, url: str, migrate: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._reader = (
            self.engine
            if self.is_sqlite
            else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        # SQLite has one writer at a time, and a writer waiting on its lock polls with growing
        # sleeps: under several clients at once, some waited seconds. The writers of this process
        # queue here instead and wake as soon as the previous one commits (other processes still
        # meet at SQLite's lock).
        self._writer = threading.RLock()
        self.live = Live()  # the days' plans and problems, in pieces
        self.vehicles = Documents(self, VehicleRow, "vehicle", "/v1/vehicles")
        # the fleet under the names its callers know (list_vehicles_in: inside an open session,
        # so that a booking sees it in its transaction; put_vehicle: returns whether created)
        self.list_vehicles, self.list_vehicles_in = self.vehicles.list, self.vehicles.list_in
        self.get_vehicle, self.put_vehicle = self.vehicles.get, self.vehicles.put
        self.delete_vehicle = self.vehicles.delete
        if migrate:
            upgrade(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    # ---- sessions ---------------------------------------------------------------------------
    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session to read. On PostgreSQL without a transaction (autocommit): under its READ
        COMMITTED isolation every statement sees its own snapshot anyway, and a read is then one
        round trip instead of three (BEGIN, the statement, COMMIT)."""
        with Session(self._reader, expire_on_commit=False) as s, s.begin():
            yield s

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction, committed on exit (rolled back on any exception); then the
        functions its writers left in ``s.info["after_commit"]`` run."""
        if not self.is_sqlite:
            with Session(self.engine, expire_on_commit=False) as s:
                with s.begin():
                    yield s
                for fn in s.info.pop("after_commit", ()):
                    fn()
            return
        with self._writer, Session(self.engine, expire_on_commit=False) as s:
            with s.begin():
                s.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
                yield s
            for fn in s.info.pop("after_commit", ()):
                fn()

    @contextmanager
    def lock_day(self, day: date) -> Iterator[tuple[Session, ServiceDay]]:
        """A write transaction holding the day's lock (see the module doc)."""
        with self.lock_request(day, None) as (s, row, _):
            assert row is not None  # not missing_ok: a missing day raised
            yield s, row

    @contextmanager
    def lock_request(
        self, day: date, request_id: str | None, missing_ok: bool = False
    ) -> Iterator[tuple[Session, ServiceDay | None, RequestRow | None]]:
        """``lock_day``, with the day's request ``request_id`` (None when it has no such
        request) read in the same statement as the lock (one round trip for a booking).
        ``missing_ok``: a day that is not a service day is yielded as None (the caller says
        why) instead of a NotFoundError."""
        with self.write() as s:
            # the stored plan and problem (``self.live``) are read only when needed (in this
            # transaction, under the lock): a booking that holds them in memory at this version
            # does not read them again
            q: Any
            if request_id is None:
                q = select(ServiceDay, null())
            else:
                q = select(ServiceDay, RequestRow).outerjoin(
                    RequestRow,
                    (RequestRow.day == ServiceDay.day) & (RequestRow.request_id == request_id),
                )
            got = s.execute(q.where(ServiceDay.day == day).with_for_update(of=ServiceDay)).first()
            if got is None and missing_ok:
                yield s, None, None
                return
            if got is None:
                raise NotFoundError(
                    f"{day.isoformat()} is not a service day; "
                    f"open it first (PUT /v1/days/{day.isoformat()})",
                    "day",
                )
            yield s, got[0], got[1]

    def compact(self, tables: Sequence[str]) -> None:
        """Let go of the old versions of rewritten rows (after an erasure or a purge). SQLite:
        ``VACUUM`` rebuilds the file from the live rows, so that nothing an update left in free
        pages remains, and the write-ahead log is checkpointed and truncated. PostgreSQL:
        ``VACUUM`` of ``tables`` (dead row versions are reclaimed and their space reused; backups
        and WAL archives follow the operator's own retention)."""
        if self.is_sqlite:
            with self._writer:
                raw = self.engine.raw_connection()
                try:
                    conn = raw.driver_connection
                    assert conn is not None
                    conn.execute("VACUUM")
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                finally:
                    raw.close()
            return
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f"VACUUM {', '.join(tables)}")

    def ping(self) -> bool:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True

    # ---- API keys ---------------------------------------------------------------------------
    def create_key(
        self, role: str, name: str = "", vehicle_id: str | None = None, day: date | None = None
    ) -> tuple[str, KeyInfo]:
        """A new random key of ``role``; returns the token (shown once, stored only hashed). A
        driver key names its vehicle and its day (and only a driver key does)."""
        if role not in ROLES:
            raise InputError(f"unknown role {role!r}; roles are {', '.join(ROLES)}", "role")
        if role == "driver" and (not vehicle_id or day is None):
            raise InputError("a driver key needs its vehicle and its day", "vehicle")
        if role != "driver" and (vehicle_id or day is not None):
            raise InputError("only a driver key is tied to a vehicle and a day", "vehicle")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.write() as s:
            row = ApiKey(
                name=name,
                role=role,
                key_hash=hash_token(token),
                prefix=token[:12],
                vehicle_id=vehicle_id,
                day=day,
            )
            s.add(row)
            s.flush()
            info = key_info(row)
        return token, info

    def authenticate(self, token: str) -> KeyInfo | None:
        if not token:
            return None
        q = select(
            ApiKey.id, ApiKey.role, ApiKey.name, ApiKey.prefix, ApiKey.vehicle_id, ApiKey.day
        ).where(ApiKey.key_hash == hash_token(token), ApiKey.revoked_at.is_(None))
        with self._reader.connect() as conn:  # every call: plain columns, no ORM object
            row = conn.execute(q).first()
        return None if row is None else KeyInfo(*row)

    def list_keys(self) -> list[dict[str, Any]]:
        with self.read() as s:
            return [
                {
                    "id": k.id,
                    "role": k.role,
                    "name": k.name,
                    "prefix": k.prefix,
                    "vehicle_id": k.vehicle_id,
                    "day": k.day.isoformat() if k.day else None,
                    "created_at": iso_time(k.created_at),
                    "revoked": k.revoked_at is not None,
                }
                for k in s.execute(select(ApiKey).order_by(ApiKey.id)).scalars()
            ]

    def revoke_key(self, key_id: int) -> None:
        with self.write() as s:
            row = s.get(ApiKey, key_id)
            if row is None:
                raise NotFoundError(f"no key {key_id}", "key")
            row.revoked_at = row.revoked_at or utcnow()

    # ---- service days -----------------------------------------------------------------------
    def _counts(self, s: Session, day: date) -> dict[str, int]:
        rows = s.execute(
            select(RequestRow.status, func.count())
            .where(RequestRow.day == day)
            .group_by(RequestRow.status)
        )
        return {status: int(n) for status, n in rows}

    def put_day(
        self, day: date, status: str = "open", note: str = ""
    ) -> tuple[dict[str, Any], bool]:
        """Open (or update) a service day; returns (day, created)."""
        with self.write() as s:
            row = s.get(ServiceDay, day)
            created = row is None
            if row is None:
                row = ServiceDay(day=day, status=status, note=note, version=0)
                s.add(row)
            else:
                row.status, row.note = status, note
                row.version += 1
            s.flush()
            return day_out(row, self._counts(s, day)), created

    def get_day(self, day: date) -> dict[str, Any]:
        with self.read() as s:
            row = s.get(ServiceDay, day)
            if row is None:
                raise NotFoundError(f"{day.isoformat()} is not a service day", "day")
            return day_out(row, self._counts(s, day))

    def day_row(self, s: Session, day: date) -> ServiceDay:
        row = s.get(ServiceDay, day)
        if row is None:
            raise NotFoundError(f"{day.isoformat()} is not a service day", "day")
        return row

    def list_days(self) -> list[dict[str, Any]]:
        with self.read() as s:
            return [
                day_out(r, self._counts(s, r.day))
                for r in s.execute(select(ServiceDay).order_by(ServiceDay.day)).scalars()
            ]

    def service_days(self, limit: int = 10) -> list[str]:
        with self.read() as s:
            q = (
                select(ServiceDay.day)
                .where(ServiceDay.status == "open")
                .order_by(ServiceDay.day.desc())
                .limit(limit)
            )
            return sorted(d.isoformat() for d in s.execute(q).scalars())

    def get_plan(self, day: date) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The day's current plan and its problem (dicts), or None."""
        got = self.get_plan_versioned(day)
        return None if got is None else (got[1], got[2])

    def day_status(self, day: date) -> str | None:
        """The day's status (``open``/``closed``), or None when it is not a service day."""
        with self.read() as s:
            return s.execute(
                select(ServiceDay.status).where(ServiceDay.day == day)
            ).scalar_one_or_none()

    def day_version(self, day: date) -> int:
        """The day's version (grows on every change of its requests or plan)."""
        with self.read() as s:
            v = s.execute(
                select(ServiceDay.version).where(ServiceDay.day == day)
            ).scalar_one_or_none()
            if v is None:
                raise NotFoundError(f"{day.isoformat()} is not a service day", "day")
            return int(v)

    def get_plan_versioned(self, day: date) -> tuple[int, dict[str, Any], dict[str, Any]] | None:
        """The day's version with its current plan and problem (dicts), read together; None
        without a plan."""
        with self.read() as s:
            got = self.live.read(s, day)
        if got is None:
            raise NotFoundError(f"{day.isoformat()} is not a service day", "day")
        version, plan, problem = got
        if plan is None or problem is None:
            return None
        return version, plan, problem

    def get_plan_json(self, day: date) -> dict[str, Any] | None:
        with self.read() as s:
            got = self.live.read(s, day, "plan")
        if got is None:
            raise NotFoundError(f"{day.isoformat()} is not a service day", "day")
        return got[1]

    # ---- requests ---------------------------------------------------------------------------
    def add_requests(
        self,
        day: date,
        dicts: Sequence[Mapping[str, Any]],
        source: str = "batch",
        owner: int | None = None,
    ) -> list[str]:
        """Add validated request dicts to a day as pending, all or nothing."""
        ids = batch_ids(dicts, "id", "request id", "requests")
        with self.lock_day(day) as (s, row):
            if row.status != "open":
                raise InputError(f"{day.isoformat()} is closed", "day")
            existing = set(
                s.execute(
                    select(RequestRow.request_id).where(
                        RequestRow.day == day, RequestRow.request_id.in_(ids)
                    )
                ).scalars()
            )
            for k, rid in enumerate(ids):
                if rid in existing:
                    raise ConflictError(
                        f"request {rid!r} already exists on {day.isoformat()}", f"requests[{k}].id"
                    )
            for d in dicts:
                s.add(
                    RequestRow(
                        day=day,
                        request_id=str(d["id"]),
                        source=source,
                        status="pending",
                        data=dict(d),
                        owner_key_id=owner,
                    )
                )
            self.live.unchanged(s, row)  # pending requests: the plan stays as it is
            row.version += 1
            try:
                s.flush()
            except IntegrityError:
                raise ConflictError(
                    "a request with one of these ids was added at the same time", "requests"
                ) from None
        return ids

    def list_requests(
        self,
        day: date,
        status: str | None = None,
        source: str | None = None,
        owner: int | None = None,
    ) -> list[dict[str, Any]]:
        with self.read() as s:
            self.day_row(s, day)
            q = select(RequestRow).where(RequestRow.day == day)
            if status:
                q = q.where(RequestRow.status == status)
            if source:
                q = q.where(RequestRow.source == source)
            if owner is not None:
                q = q.where(RequestRow.owner_key_id == owner)
            return [request_out(r) for r in s.execute(q.order_by(RequestRow.pk)).scalars()]

    def request_ids(self, day: date, ids: Sequence[str], owner: int | None = None) -> set[str]:
        """Which of ``ids`` are requests of ``day`` (any status); of key ``owner`` only, if
        given."""
        if not ids:
            return set()
        with self.read() as s:
            q = select(RequestRow.request_id).where(
                RequestRow.day == day, RequestRow.request_id.in_(list(ids))
            )
            if owner is not None:
                q = q.where(RequestRow.owner_key_id == owner)
            return set(s.execute(q).scalars())

    def linked_requests(
        self, day: date, ids: Sequence[str], owner: int | None = None, returns: bool = False
    ) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
        """For return links to ``ids``: the data of those of them still in ``day`` (pending or
        accepted; of key ``owner`` only, if given), and with ``returns`` (which reads every
        request of the day) outbound id -> id of its return for those that have one stored
        (pending or accepted)."""
        if not ids:
            return {}, {}
        want = set(ids)
        live = RequestRow.status.in_(["pending", "accepted"])
        with self.read() as s:
            q = select(RequestRow).where(RequestRow.day == day, live)
            if not returns:
                q = q.where(RequestRow.request_id.in_(sorted(want)))
            rows = list(s.execute(q).scalars())
        data = {
            r.request_id: dict(r.data)
            for r in rows
            if r.request_id in want and (owner is None or r.owner_key_id == owner)
        }
        back = {
            str(r.data.get("return_of")): r.request_id
            for r in rows
            if returns and isinstance(r.data, dict) and str(r.data.get("return_of")) in want
        }
        return data, back

    @staticmethod
    def links_in(
        s: Session, day: date, ids: Sequence[str], owner: int | None = None
    ) -> tuple[set[str], dict[str, dict[str, Any]]]:
        """``request_ids`` and the data of ``linked_requests`` (without ``returns``) together,
        in one statement of the open session ``s``: which of ``ids`` are requests of ``day``
        (any status), and the data of those still in it (pending or accepted); of key ``owner``
        only, if given."""
        q = select(RequestRow.request_id, RequestRow.status, RequestRow.data).where(
            RequestRow.day == day, RequestRow.request_id.in_(list(ids))
        )
        if owner is not None:
            q = q.where(RequestRow.owner_key_id == owner)
        rows = s.execute(q).all()
        live = {"pending", "accepted"}
        return {r[0] for r in rows}, {r[0]: dict(r[2]) for r in rows if r[1] in live}

    def get_request(
        self, day: date, request_id: str, source: str | None = None, owner: int | None = None
    ) -> dict[str, Any]:
        with self.read() as s:
            row = self._request_row(s, day, request_id)
            if (source and row.source != source) or (
                owner is not None and row.owner_key_id != owner
            ):
                raise NotFoundError(
                    f"no {source or 'request'} {request_id!r} on {day.isoformat()}", "request_id"
                )
            return request_out(row)

    def _request_row(self, s: Session, day: date, request_id: str) -> RequestRow:
        row = s.execute(
            select(RequestRow).where(RequestRow.day == day, RequestRow.request_id == request_id)
        ).scalar_one_or_none()
        if row is None:
            raise NotFoundError(f"no request {request_id!r} on {day.isoformat()}", "request_id")
        return row

    @staticmethod
    def requests_in(s: Session, day: date, statuses: Sequence[str]) -> list[RequestRow]:
        q = (
            select(RequestRow)
            .where(RequestRow.day == day, RequestRow.status.in_(list(statuses)))
            .order_by(RequestRow.pk)
        )
        return list(s.execute(q).scalars())

    @staticmethod
    def request_row(s: Session, day: date, request_id: str) -> RequestRow | None:
        return s.execute(
            select(RequestRow).where(RequestRow.day == day, RequestRow.request_id == request_id)
        ).scalar_one_or_none()

    # ---- jobs -------------------------------------------------------------------------------
    def create_job(
        self, kind: str, day: date, params: Mapping[str, Any], created_by: int | None
    ) -> dict[str, Any]:
        with self.write() as s:
            row = self.day_row(s, day)
            job = Job(
                id=secrets.token_hex(8),
                kind=kind,
                day=day,
                status="queued",
                params=dict(params),
                base_version=row.version,
                created_by=created_by,
            )
            s.add(job)
            s.flush()
            return job_out(job)

    def get_job(self, job_id: str) -> dict[str, Any]:
        with self.read() as s:
            job = s.get(Job, job_id)
            if job is None:
                raise NotFoundError(f"no job {job_id!r}", "job_id")
            return job_out(job)

    def update_job(self, job_id: str, **fields: Any) -> None:
        with self.write() as s:
            job = s.get(Job, job_id)
            if job is None:
                raise NotFoundError(f"no job {job_id!r}", "job_id")
            for k, v in fields.items():
                setattr(job, k, v)

    def fail_interrupted_jobs(self) -> int:
        """Jobs left queued or running by a server that stopped: mark them failed."""
        with self.write() as s:
            jobs = list(
                s.execute(select(Job).where(Job.status.in_(["queued", "running"]))).scalars()
            )
            for job in jobs:
                job.status = "failed"
                job.error = {
                    "error": "Interrupted",
                    "where": "job",
                    "message": "the server stopped before the job finished; run it again",
                }
                job.finished_at = utcnow()
            return len(jobs)
