"""Carpool offers per service day, volunteer drivers, and the last carpool matching of each day.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "carpool_offers",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("day", sa.Date, sa.ForeignKey("service_days.day"), nullable=False),
        sa.Column("driver_id", sa.String(100), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("owner_key_id", sa.Integer, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("day", "driver_id", name="uq_carpool_offers_day_driver_id"),
    )
    op.create_index("ix_carpool_offers_day", "carpool_offers", ["day"])
    op.create_table(
        "volunteers",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "carpool_matchings",
        sa.Column("day", sa.Date, sa.ForeignKey("service_days.day"), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("result", sa.JSON, nullable=False),
        sa.Column("created_by", sa.Integer, nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("carpool_matchings")
    op.drop_table("volunteers")
    op.drop_index("ix_carpool_offers_day", table_name="carpool_offers")
    op.drop_table("carpool_offers")
