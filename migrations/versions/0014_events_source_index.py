"""events: an index for the last arrival per source (the stale-source check)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_events_tenant_source_received",
        "events",
        ["tenant_id", "source", "received_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_events_tenant_source_received", table_name="events")
