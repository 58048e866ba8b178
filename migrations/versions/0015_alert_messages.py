"""alerts: the title as a catalog message; alert history notes likewise

``alerts.message`` holds the title as ``{"code", "params"}`` (paceline.shared.i18n), so
every reader renders it in its own language; ``alerts.title`` keeps the tenant-locale
text (the BI views and older readers). ``alert_events.note_message`` does the same for
the notes the system writes (``back on track``); people's notes stay text.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> Any:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.add_column("alerts", sa.Column("message", _json(), nullable=True))
    op.add_column("alert_events", sa.Column("note_message", _json(), nullable=True))


def downgrade() -> None:
    op.drop_column("alert_events", "note_message")
    op.drop_column("alerts", "message")
