"""Alembic environment of the store. Run by ``dispatcher.store.upgrade`` (which passes an open
connection in ``config.attributes["connection"]``) or by the alembic command with a URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from dispatcher.store.models import Base

config = context.config
target_metadata = Base.metadata
ADVISORY_LOCK_ID = 7_120_347  # serialises migrations of several workers on PostgreSQL


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK_ID})")
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(str(config.get_main_option("sqlalchemy.url")))
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
