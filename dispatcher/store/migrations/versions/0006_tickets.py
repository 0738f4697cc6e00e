"""Tickets: the tickets the service issued (trip tickets of bookings, cards, passes) and the
log of their checks on board.

Revision ID: 0006_tickets
Revises: 0005_events
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_tickets"
down_revision = "0005_events"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("serial", sa.String(16), primary_key=True),
        sa.Column("kind", sa.String(1), nullable=False),
        sa.Column("day", sa.Date, nullable=True),
        sa.Column("request_id", sa.String(100), nullable=True),
        sa.Column("owner_key_id", sa.Integer, nullable=True),
        sa.Column("product", sa.String(64), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("passengers", sa.Integer, nullable=False),
        sa.Column("amount_cents", sa.Integer, nullable=False),
        sa.Column("payment", sa.String(10), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("used_at", TS, nullable=True),
        sa.Column("trips_left", sa.Integer, nullable=True),
        sa.Column("valid_from", sa.Date, nullable=True),
        sa.Column("valid_to", sa.Date, nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_tickets_day", "tickets", ["day"])
    op.create_index("ix_tickets_day_request", "tickets", ["day", "request_id"])
    op.create_table(
        "ticket_checks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("serial", sa.String(16), nullable=True),
        sa.Column("result", sa.String(20), nullable=False),
        sa.Column("key_id", sa.Integer, nullable=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("vehicle_id", sa.String(100), nullable=True),
    )
    op.create_index("ix_ticket_checks_at", "ticket_checks", ["at"])
    op.create_index("ix_ticket_checks_serial", "ticket_checks", ["serial"])


def downgrade() -> None:
    op.drop_table("ticket_checks")
    op.drop_table("tickets")
