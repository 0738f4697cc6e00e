"""A day's current plan and live problem in pieces (table ``day_pieces``: a route, a location, a
request, a vehicle, a matrix each, and a head per document) instead of two JSON columns of the
day's row, so that a booking writes what it changed. The stored plans and problems move into
pieces; ``downgrade`` puts them back whole.

The split is written out here (not imported from ``dispatcher.store.live``) so that this
migration keeps doing what it did when the code changes; it matches ``live.split``.

Revision ID: 0004_rows
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004_rows"
down_revision = "0003"
branch_labels = None
depends_on = None

LISTS = {"plan": ("routes",), "problem": ("locations", "requests", "vehicles")}
WHOLE = {"plan": (), "problem": ("duration_s", "distance_m")}

days = sa.table(
    "service_days",
    sa.column("day", sa.Date),
    sa.column("plan_json", sa.JSON),
    sa.column("problem_json", sa.JSON),
    sa.column("plan_updated_at", sa.DateTime(timezone=True)),
)
pieces = sa.table(
    "day_pieces", sa.column("day", sa.Date), sa.column("key", sa.String), sa.column("data", sa.JSON)
)


def split(doc: str, d: Mapping[str, Any]) -> dict[str, Any]:
    lists = [k for k in LISTS[doc] if isinstance(d.get(k), list)]
    whole = [k for k in WHOLE[doc] if k in d]
    out: dict[str, Any] = {
        doc: {
            "head": {k: v for k, v in d.items() if k not in lists and k not in whole},
            "order": list(d),
            "lists": lists,
        }
    }
    for k in lists:
        for i, x in enumerate(d[k]):
            out[f"{doc}/{k}/{i:06d}"] = x
    for k in whole:
        out[f"{doc}/{k}"] = d[k]
    return out


def join(doc: str, got: Mapping[str, Any]) -> dict[str, Any] | None:
    head = got.get(doc)
    if head is None:
        return None
    d: dict[str, Any] = dict(head["head"])
    for k in head["lists"]:
        prefix = f"{doc}/{k}/"
        d[k] = [got[p] for p in sorted(p for p in got if p.startswith(prefix))]
    for k in WHOLE[doc]:
        if f"{doc}/{k}" in got:
            d[k] = got[f"{doc}/{k}"]
    return {k: d[k] for k in head["order"] if k in d}


def upgrade() -> None:
    op.create_table(
        "day_pieces",
        sa.Column("day", sa.Date, sa.ForeignKey("service_days.day"), primary_key=True),
        sa.Column("key", sa.String(60), primary_key=True),
        sa.Column("data", sa.JSON, nullable=False),
    )
    conn = op.get_bind()
    stored = [
        d
        for (d,) in conn.execute(
            sa.select(days.c.day).where(
                days.c.plan_json.is_not(None), days.c.problem_json.is_not(None)
            )
        )
    ]
    for day in stored:  # one day at a time: a day is a few hundred kB
        plan, problem = conn.execute(
            sa.select(days.c.plan_json, days.c.problem_json).where(days.c.day == day)
        ).one()
        rows = {**split("plan", plan), **split("problem", problem)}
        conn.execute(
            sa.insert(pieces), [{"day": day, "key": k, "data": v} for k, v in rows.items()]
        )
        conn.execute(
            sa.update(days)
            .where(days.c.day == day, days.c.plan_updated_at.is_(None))
            .values(plan_updated_at=sa.func.current_timestamp())
        )
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35 and later): a batch copy of the table would drop
    # service_days, which the foreign keys of the other tables refuse
    op.drop_column("service_days", "plan_json")
    op.drop_column("service_days", "problem_json")


def downgrade() -> None:
    op.add_column("service_days", sa.Column("plan_json", sa.JSON, nullable=True))
    op.add_column("service_days", sa.Column("problem_json", sa.JSON, nullable=True))
    conn = op.get_bind()
    stored = [d for (d,) in conn.execute(sa.select(pieces.c.day).distinct())]
    for day in stored:
        got = {
            k: v
            for k, v in conn.execute(
                sa.select(pieces.c.key, pieces.c.data).where(pieces.c.day == day)
            )
        }
        conn.execute(
            sa.update(days)
            .where(days.c.day == day)
            .values(plan_json=join("plan", got), problem_json=join("problem", got))
        )
    op.drop_table("day_pieces")
