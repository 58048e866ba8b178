"""grouped delivery: subscription delivery options; held/folded alert changes

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("alert_subscriptions") as batch:
        batch.add_column(
            sa.Column("delivery_options", _JSON, nullable=False, server_default=sa.text("'{}'"))
        )
    with op.batch_alter_table("alert_deliveries") as batch:
        batch.add_column(sa.Column("group_key", sa.String(length=400), nullable=True))
        batch.add_column(sa.Column("alert_key", sa.String(length=400), nullable=True))
        batch.add_column(sa.Column("folded_into", sa.BigInteger(), nullable=True))
    op.create_index(
        "ix_alert_deliveries_sub_status", "alert_deliveries", ["subscription_id", "status"]
    )


def downgrade() -> None:
    op.drop_index("ix_alert_deliveries_sub_status", table_name="alert_deliveries")
    with op.batch_alter_table("alert_deliveries") as batch:
        batch.drop_column("folded_into")
        batch.drop_column("alert_key")
        batch.drop_column("group_key")
    with op.batch_alter_table("alert_subscriptions") as batch:
        batch.drop_column("delivery_options")
