"""kpi engine: custom kpis, fx, calendar, targets, templates, alerts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import paceline.shared.db.base
from sqlalchemy.dialects import postgresql

revision: str = '0002'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('alerts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('dedup_key', sa.String(length=400), nullable=False),
    sa.Column('scope', sa.String(length=210), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=400), nullable=False),
    sa.Column('detail', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('occurrences', sa.BigInteger(), nullable=False),
    sa.Column('first_seen_at', paceline.shared.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', paceline.shared.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_at', paceline.shared.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=200), nullable=True),
    sa.Column('resolved_at', paceline.shared.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts')),
    sa.UniqueConstraint('tenant_id', 'dedup_key', name=op.f('uq_alerts_tenant_id_dedup_key'))
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index('ix_alerts_tenant_status', ['tenant_id', 'status', 'kind'], unique=False)

    op.create_table('calendar_days',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('updated_at', paceline.shared.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_calendar_days_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', 'day', name=op.f('pk_calendar_days'))
    )
    op.create_table('fx_rates',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('rate', sa.String(length=40), nullable=False),
    sa.Column('updated_at', paceline.shared.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_fx_rates_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', 'currency', 'day', name=op.f('pk_fx_rates'))
    )
    op.create_table('kpi_definitions',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('name_zh', sa.String(length=200), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.Column('description_zh', sa.Text(), nullable=False),
    sa.Column('description_en', sa.Text(), nullable=False),
    sa.Column('unit', sa.String(length=32), nullable=False),
    sa.Column('direction', sa.String(length=8), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('formula', sa.Text(), nullable=False),
    sa.Column('min_sample', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', paceline.shared.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', paceline.shared.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_kpi_definitions_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', 'key', name=op.f('pk_kpi_definitions'))
    )
    op.create_table('role_templates',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('name_zh', sa.String(length=200), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.Column('items', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('updated_at', paceline.shared.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_role_templates_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', 'key', name=op.f('pk_role_templates'))
    )
    op.create_table('targets',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('kpi', sa.String(length=64), nullable=False),
    sa.Column('scope', sa.String(length=210), nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('period_kind', sa.String(length=8), nullable=False),
    sa.Column('start', sa.Date(), nullable=False),
    sa.Column('end', sa.Date(), nullable=False),
    sa.Column('parent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('current_version', sa.Integer(), nullable=False),
    sa.Column('created_at', paceline.shared.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('acknowledged_at', paceline.shared.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=200), nullable=True),
    sa.Column('acknowledged_version', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['parent_id'], ['targets.id'], name=op.f('fk_targets_parent_id_targets')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_targets_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_targets')),
    sa.UniqueConstraint('tenant_id', 'kpi', 'scope', 'period', name=op.f('uq_targets_tenant_id_kpi_scope_period'))
    )
    with op.batch_alter_table('targets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_targets_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('target_versions',
    sa.Column('target_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('baseline', sa.String(length=40), nullable=True),
    sa.Column('target', sa.String(length=40), nullable=False),
    sa.Column('stretch', sa.String(length=40), nullable=True),
    sa.Column('recorded_at', paceline.shared.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('author', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['target_id'], ['targets.id'], name=op.f('fk_target_versions_target_id_targets')),
    sa.PrimaryKeyConstraint('target_id', 'version', name=op.f('pk_target_versions'))
    )
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_day', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('last_day', sa.Date(), nullable=True))
        batch_op.create_index('ix_records_tenant_last_day', ['tenant_id', 'last_day'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.drop_index('ix_records_tenant_last_day')
        batch_op.drop_column('last_day')
        batch_op.drop_column('first_day')

    op.drop_table('target_versions')
    with op.batch_alter_table('targets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_targets_tenant_id'))

    op.drop_table('targets')
    op.drop_table('role_templates')
    op.drop_table('kpi_definitions')
    op.drop_table('fx_rates')
    op.drop_table('calendar_days')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_alerts_tenant_status')

    op.drop_table('alerts')
