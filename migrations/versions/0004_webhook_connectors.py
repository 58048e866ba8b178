"""webhook connectors, record snapshots, quarantine

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import paceline.shared.db.base
from sqlalchemy.dialects import postgresql

revision: str = '0004'
down_revision: str | Sequence[str] | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('webhook_connectors',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('adapter', sa.String(length=32), nullable=False),
    sa.Column('endpoint_id', sa.String(length=64), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('settings', _JSON, nullable=False),
    sa.Column('secrets', _JSON, nullable=False),
    sa.Column('mapping', _JSON, nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('created_at', paceline.shared.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', paceline.shared.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'source', name=op.f('pk_webhook_connectors')),
    sa.UniqueConstraint('endpoint_id', name=op.f('uq_webhook_connectors_endpoint_id'))
    )
    op.create_table('webhook_quarantine',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('item_key', sa.String(length=400), nullable=False),
    sa.Column('object_type', sa.String(length=100), nullable=True),
    sa.Column('record_id', sa.String(length=200), nullable=True),
    sa.Column('reason_code', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('item', _JSON, nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('occurrences', sa.Integer(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('received_at', paceline.shared.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', paceline.shared.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', paceline.shared.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_by', sa.String(length=200), nullable=True),
    sa.Column('result', _JSON, nullable=True),
    sa.Column('request_id', sa.String(length=128), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_quarantine')),
    sa.UniqueConstraint('tenant_id', 'source', 'item_key', name=op.f('uq_webhook_quarantine_tenant_id_source_item_key'))
    )
    with op.batch_alter_table('webhook_quarantine', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_quarantine_tenant_status', ['tenant_id', 'status', 'id'], unique=False)

    op.create_table('webhook_records',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('object_type', sa.String(length=100), nullable=False),
    sa.Column('record_id', sa.String(length=200), nullable=False),
    sa.Column('fields', _JSON, nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('deleted_at_us', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', paceline.shared.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'source', 'object_type', 'record_id', name=op.f('pk_webhook_records'))
    )


def downgrade() -> None:
    op.drop_table('webhook_records')
    with op.batch_alter_table('webhook_quarantine', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_quarantine_tenant_status')

    op.drop_table('webhook_quarantine')
    op.drop_table('webhook_connectors')
