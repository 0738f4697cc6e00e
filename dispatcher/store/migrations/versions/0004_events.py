"""Operating the day: driver keys (a key tied to one vehicle of one day), the append-only log of
vehicles' events, the live state each day's events built, and the outbox of rider notifications.

Revision ID: 0004_events
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_events"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION vehicle_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'vehicle_events is append-only';
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("vehicle_id", sa.String(100), nullable=True))
        batch.add_column(sa.Column("day", sa.Date, nullable=True))
    op.create_table(
        "vehicle_events",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("day", sa.Date, sa.ForeignKey("service_days.day"), nullable=False),
        sa.Column("vehicle_id", sa.String(100), nullable=False),
        sa.Column("event_id", sa.String(100), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("time_s", sa.Integer, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("key_id", sa.Integer, nullable=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.UniqueConstraint("day", "event_id", name="uq_vehicle_events_day_event_id"),
    )
    op.create_index("ix_vehicle_events_day", "vehicle_events", ["day"])
    op.create_table(
        "live_days",
        sa.Column("day", sa.Date, sa.ForeignKey("service_days.day"), primary_key=True),
        sa.Column("state", sa.JSON, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("day", sa.Date, sa.ForeignKey("service_days.day"), nullable=False),
        sa.Column("request_id", sa.String(100), nullable=False),
        sa.Column("rider_ref", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS, nullable=True),
    )
    op.create_index("ix_notifications_day", "notifications", ["day"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute(
            "CREATE TRIGGER vehicle_events_append_only BEFORE UPDATE OR DELETE ON vehicle_events "
            "FOR EACH ROW EXECUTE FUNCTION vehicle_events_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER vehicle_events_no_{event.lower()} BEFORE {event} ON "
                "vehicle_events BEGIN SELECT RAISE(ABORT, 'vehicle_events is append-only'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS vehicle_events_append_only ON vehicle_events")
        op.execute("DROP FUNCTION IF EXISTS vehicle_events_append_only()")
    op.drop_index("ix_notifications_day", table_name="notifications")
    op.drop_table("notifications")
    op.drop_table("live_days")
    op.drop_index("ix_vehicle_events_day", table_name="vehicle_events")
    op.drop_table("vehicle_events")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("day")
        batch.drop_column("vehicle_id")
