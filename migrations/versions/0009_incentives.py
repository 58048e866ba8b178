"""incentives: plans and versions, assignments, statements; reps' roles over time

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

import paceline.shared.db.base
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts(name: str, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, paceline.shared.db.base.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "incentive_plans",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name_zh", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("tenant_id", "key", name=op.f("pk_incentive_plans")),
    )
    op.create_table(
        "incentive_plan_versions",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("plan_key", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", _JSON, nullable=False),
        _ts("recorded_at"),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "plan_key", "version", name=op.f("pk_incentive_plan_versions")
        ),
    )
    op.create_table(
        "incentive_assignments",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("plan_key", sa.String(length=64), nullable=False),
        sa.Column("rep_id", sa.String(length=200), nullable=True),
        sa.Column("role", sa.String(length=100), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        _ts("created_at"),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incentive_assignments")),
    )
    with op.batch_alter_table("incentive_assignments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_incentive_assignments_tenant", ["tenant_id", "plan_key"], unique=False
        )
    op.create_table(
        "incentive_statements",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("rep_id", sa.String(length=200), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total", sa.String(length=40), nullable=False),
        sa.Column("lines", _JSON, nullable=False),
        sa.Column("plans", _JSON, nullable=False),
        _ts("known_at"),
        _ts("generated_at"),
        sa.Column("generated_by", sa.String(length=200), nullable=False),
        _ts("approved_at", nullable=True),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        _ts("paid_at", nullable=True),
        sa.Column("paid_by", sa.String(length=200), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incentive_statements")),
        sa.UniqueConstraint(
            "tenant_id",
            "rep_id",
            "period",
            name=op.f("uq_incentive_statements_tenant_id_rep_id_period"),
        ),
    )


    op.create_table(
        "rep_roles",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("rep_id", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=100), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rep_roles")),
    )
    with op.batch_alter_table("rep_roles", schema=None) as batch_op:
        batch_op.create_index("ix_rep_roles_tenant_rep", ["tenant_id", "rep_id"], unique=False)
    # Every rep's role so far applies to all their history (as a first team does).
    op.execute(
        "INSERT INTO rep_roles (tenant_id, rep_id, role, valid_from) "
        "SELECT tenant_id, id, role, DATE '1970-01-01' FROM reps"
        if op.get_bind().dialect.name == "postgresql"
        else "INSERT INTO rep_roles (tenant_id, rep_id, role, valid_from) "
        "SELECT tenant_id, id, role, '1970-01-01' FROM reps"
    )


def downgrade() -> None:
    with op.batch_alter_table("rep_roles", schema=None) as batch_op:
        batch_op.drop_index("ix_rep_roles_tenant_rep")
    op.drop_table("rep_roles")
    op.drop_table("incentive_statements")
    with op.batch_alter_table("incentive_assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_incentive_assignments_tenant")
    op.drop_table("incentive_assignments")
    op.drop_table("incentive_plan_versions")
    op.drop_table("incentive_plans")
