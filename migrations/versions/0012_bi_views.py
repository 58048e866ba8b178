"""paceline_bi: a read-only SQL model for BI tools, isolated per tenant (PostgreSQL only)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04

Schema version 1 of ``paceline_bi`` (docs/BI.md, "SQL access"; what it holds and how
tenants are isolated: :mod:`paceline.shared.db.bi_schema`), and the ``bi_progress``
snapshot table its ``progress`` view reads (both dialects: the scoring service writes it
in either mode; only PostgreSQL has the views).

Installing the schema creates two cluster-wide roles, which needs CREATEROLE (or a
superuser). When the migrating role has neither, the schema is skipped with a warning and
Paceline runs as before; ``paceline bi install``, run once by a role that may, installs
it later (the same code).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import paceline.shared.db.base
from paceline.shared.db import bi_schema

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NUMBER = sa.Numeric(38, 4)


def upgrade() -> None:
    op.create_table(
        "bi_progress",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column(
            "target_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("kpi", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=210), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("target_version", sa.Integer(), nullable=True),
        sa.Column("as_of", paceline.shared.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actual", NUMBER, nullable=True),
        sa.Column("target", NUMBER, nullable=True),
        sa.Column("baseline", NUMBER, nullable=True),
        sa.Column("stretch", NUMBER, nullable=True),
        sa.Column("expected", NUMBER, nullable=True),
        sa.Column("pace", NUMBER, nullable=True),
        sa.Column("projection_linear", NUMBER, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("sample", sa.BigInteger(), nullable=True),
        sa.Column("working_days_elapsed", sa.Integer(), nullable=True),
        sa.Column("working_days_total", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "target_id"),
    )
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    if not bi_schema.permitted(conn):
        logging.getLogger("alembic.runtime.migration").warning(
            "paceline_bi (SQL access for BI) not installed: the migrating role has no "
            "CREATEROLE; run 'paceline bi install' once as a role that has it (docs/BI.md)"
        )
        return
    bi_schema.install(conn)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql" and bi_schema.installed(conn):
        bi_schema.uninstall(conn)
    op.drop_table("bi_progress")
