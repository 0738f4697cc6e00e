"""Initial schema: api keys, service days, vehicles, requests, jobs.

Revision ID: 0001
Revises:
Create Date: 2026-05-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
    )
    op.create_table(
        "service_days",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("plan_json", sa.JSON, nullable=True),
        sa.Column("problem_json", sa.JSON, nullable=True),
        sa.Column("plan_updated_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "vehicles",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "requests",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("day", sa.Date, sa.ForeignKey("service_days.day"), nullable=False),
        sa.Column("request_id", sa.String(100), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("owner_key_id", sa.Integer, nullable=True),
        sa.Column("promise", sa.JSON, nullable=True),
        sa.Column("refusal", sa.JSON, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("day", "request_id", name="uq_requests_day_request_id"),
    )
    op.create_index("ix_requests_day", "requests", ["day"])
    op.create_index("ix_requests_owner_key_id", "requests", ["owner_key_id"])
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("day", sa.Date, sa.ForeignKey("service_days.day"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("base_version", sa.Integer, nullable=False),
        sa.Column("result", sa.JSON, nullable=True),
        sa.Column("error", sa.JSON, nullable=True),
        sa.Column("created_by", sa.Integer, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
    )
    op.create_index("ix_jobs_day", "jobs", ["day"])


def downgrade() -> None:
    op.drop_table("jobs")
    op.drop_table("requests")
    op.drop_table("vehicles")
    op.drop_table("service_days")
    op.drop_table("api_keys")
