"""figures that hold still: fact change log, month closes, adjustments

The change log is rebuilt from the stored events (their receipt times are the knowledge
times), so every tenant with records gets a ``rebuild_facts`` job.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import paceline.shared.db.base
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts(name: str, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, paceline.shared.db.base.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "kpi_fact_changes",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("kpi", sa.String(length=64), nullable=False),
        sa.Column("measure", sa.SmallInteger(), nullable=False),
        sa.Column("rep_id", sa.String(length=200), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        _ts("known_at"),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id",
            "kpi",
            "measure",
            "rep_id",
            "day",
            "known_at",
            name=op.f("pk_kpi_fact_changes"),
        ),
    )
    with op.batch_alter_table("kpi_fact_changes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_kpi_fact_changes_tenant_kpi_known", ["tenant_id", "kpi", "known_at"], unique=False
        )
    op.create_table(
        "kpi_fact_member_changes",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("kpi", sa.String(length=64), nullable=False),
        sa.Column("measure", sa.SmallInteger(), nullable=False),
        sa.Column("rep_id", sa.String(length=200), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("member", sa.String(length=200), nullable=False),
        _ts("known_at"),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id",
            "kpi",
            "measure",
            "rep_id",
            "day",
            "member",
            "known_at",
            name=op.f("pk_kpi_fact_member_changes"),
        ),
    )
    with op.batch_alter_table("kpi_fact_member_changes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_kpi_fact_member_changes_tenant_kpi_known",
            ["tenant_id", "kpi", "known_at"],
            unique=False,
        )
    op.create_table(
        "period_closes",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("end", sa.Date(), nullable=False),
        sa.Column("policy", sa.String(length=16), nullable=False),
        _ts("closed_at"),
        sa.Column("closed_by", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _ts("reopened_at", nullable=True),
        sa.Column("reopened_by", sa.String(length=200), nullable=True),
        sa.Column("reopen_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_period_closes")),
    )
    with op.batch_alter_table("period_closes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_period_closes_tenant_period", ["tenant_id", "period"], unique=False
        )
    op.create_table(
        "kpi_fact_adjustments",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("kpi", sa.String(length=64), nullable=False),
        sa.Column("measure", sa.SmallInteger(), nullable=False),
        sa.Column("rep_id", sa.String(length=200), nullable=False),
        sa.Column("source_day", sa.Date(), nullable=False),
        sa.Column("source_period", sa.String(length=16), nullable=False),
        sa.Column("booked_day", sa.Date(), nullable=True),
        sa.Column("booked_period", sa.String(length=16), nullable=True),
        sa.Column("member", sa.String(length=200), nullable=True),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        _ts("known_at"),
        sa.Column("record_type", sa.String(length=16), nullable=False),
        sa.Column("record_id", sa.String(length=200), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_fact_adjustments")),
    )
    with op.batch_alter_table("kpi_fact_adjustments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_kpi_fact_adjustments_tenant_booked", ["tenant_id", "booked_day"], unique=False
        )
        batch_op.create_index(
            "ix_kpi_fact_adjustments_tenant_source", ["tenant_id", "source_day"], unique=False
        )
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.add_column(_ts("known_at", nullable=True))
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closes", _JSON, nullable=False, server_default="[]"))
    # Existing facts have no change log yet: rebuild it from the events (exact knowledge
    # times are their receipt times).
    bind = op.get_bind()
    tenants = [r[0] for r in bind.execute(sa.text("SELECT DISTINCT tenant_id FROM records"))]
    if tenants:
        jobs = sa.table(
            "jobs",
            sa.column("tenant_id", sa.String),
            sa.column("kind", sa.String),
            sa.column("params", _JSON),
            sa.column("status", sa.String),
            sa.column("created_at", paceline.shared.db.base.UTCDateTime(timezone=True)),
        )
        now = datetime.now(UTC)
        op.bulk_insert(
            jobs,
            [
                {
                    "tenant_id": t,
                    "kind": "rebuild_facts",
                    "params": {},
                    "status": "pending",
                    "created_at": now,
                }
                for t in tenants
            ],
        )


def downgrade() -> None:
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_column("closes")
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.drop_column("known_at")
    op.drop_table("kpi_fact_adjustments")
    op.drop_table("period_closes")
    op.drop_table("kpi_fact_member_changes")
    op.drop_table("kpi_fact_changes")
