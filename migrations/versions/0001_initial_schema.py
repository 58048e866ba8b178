"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import paceline.shared.db.base
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('consumer_offsets',
    sa.Column('group_id', sa.String(length=200), nullable=False),
    sa.Column('topic', sa.String(length=200), nullable=False),
    sa.Column('partition', sa.Integer(), nullable=False),
    sa.Column('next_offset', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', paceline.shared.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('group_id', 'topic', 'partition', name=op.f('pk_consumer_offsets'))
    )
    op.create_table('events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('event_id', sa.String(length=200), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('record_id', sa.String(length=200), nullable=False),
    sa.Column('version_rank', sa.String(length=40), nullable=False),
    sa.Column('rep_id', sa.String(length=200), nullable=False),
    sa.Column('occurred_at', paceline.shared.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('received_at', paceline.shared.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('log_partition', sa.Integer(), nullable=False),
    sa.Column('log_offset', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events')),
    sa.UniqueConstraint('tenant_id', 'source', 'event_id', name=op.f('uq_events_tenant_id_source_event_id'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_tenant_record', ['tenant_id', 'type', 'record_id'], unique=False)

    op.create_table('jobs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('params', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', paceline.shared.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', paceline.shared.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('result', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index('ix_jobs_status_kind', ['status', 'kind'], unique=False)

    op.create_table('kpi_fact_members',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('kpi', sa.String(length=64), nullable=False),
    sa.Column('measure', sa.SmallInteger(), nullable=False),
    sa.Column('rep_id', sa.String(length=200), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('member', sa.String(length=200), nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'kpi', 'measure', 'rep_id', 'day', 'member', name=op.f('pk_kpi_fact_members'))
    )
    with op.batch_alter_table('kpi_fact_members', schema=None) as batch_op:
        batch_op.create_index('ix_kpi_fact_members_tenant_kpi_day', ['tenant_id', 'kpi', 'day'], unique=False)

    op.create_table('kpi_facts',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('kpi', sa.String(length=64), nullable=False),
    sa.Column('measure', sa.SmallInteger(), nullable=False),
    sa.Column('rep_id', sa.String(length=200), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'kpi', 'measure', 'rep_id', 'day', name=op.f('pk_kpi_facts'))
    )
    with op.batch_alter_table('kpi_facts', schema=None) as batch_op:
        batch_op.create_index('ix_kpi_facts_tenant_kpi_day', ['tenant_id', 'kpi', 'day'], unique=False)

    op.create_table('log_rejects',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('topic', sa.String(length=200), nullable=False),
    sa.Column('partition', sa.Integer(), nullable=False),
    sa.Column('offset', sa.BigInteger(), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('created_at', paceline.shared.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_log_rejects'))
    )
    op.create_table('records',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('record_id', sa.String(length=200), nullable=False),
    sa.Column('event_pk', sa.BigInteger(), nullable=False),
    sa.Column('version_rank', sa.String(length=40), nullable=False),
    sa.Column('rep_id', sa.String(length=200), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('state', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('contributions', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('updated_at', paceline.shared.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'type', 'record_id', name=op.f('pk_records'))
    )
    op.create_table('tenants',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('fiscal_year_start_month', sa.SmallInteger(), nullable=False),
    sa.Column('locale', sa.String(length=10), nullable=False),
    sa.Column('options', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', paceline.shared.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', paceline.shared.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tenants'))
    )
    op.create_table('api_keys',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('prefix', sa.String(length=32), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('scopes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', paceline.shared.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', paceline.shared.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', paceline.shared.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', paceline.shared.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_api_keys_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash'))
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_keys_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('reps',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('id', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=100), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('updated_at', paceline.shared.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_reps_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_reps'))
    )
    op.create_table('teams',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('id', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('parent_id', sa.String(length=200), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('updated_at', paceline.shared.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_teams_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_teams'))
    )
    op.create_table('rep_memberships',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('rep_id', sa.String(length=200), nullable=False),
    sa.Column('team_id', sa.String(length=200), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id', 'rep_id'], ['reps.tenant_id', 'reps.id'], name=op.f('fk_rep_memberships_tenant_id_reps')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rep_memberships'))
    )
    with op.batch_alter_table('rep_memberships', schema=None) as batch_op:
        batch_op.create_index('ix_rep_memberships_tenant_rep', ['tenant_id', 'rep_id'], unique=False)
        batch_op.create_index('ix_rep_memberships_tenant_team', ['tenant_id', 'team_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('rep_memberships', schema=None) as batch_op:
        batch_op.drop_index('ix_rep_memberships_tenant_team')
        batch_op.drop_index('ix_rep_memberships_tenant_rep')

    op.drop_table('rep_memberships')
    op.drop_table('teams')
    op.drop_table('reps')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_keys_tenant_id'))

    op.drop_table('api_keys')
    op.drop_table('tenants')
    op.drop_table('records')
    op.drop_table('log_rejects')
    with op.batch_alter_table('kpi_facts', schema=None) as batch_op:
        batch_op.drop_index('ix_kpi_facts_tenant_kpi_day')

    op.drop_table('kpi_facts')
    with op.batch_alter_table('kpi_fact_members', schema=None) as batch_op:
        batch_op.drop_index('ix_kpi_fact_members_tenant_kpi_day')

    op.drop_table('kpi_fact_members')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_status_kind')

    op.drop_table('jobs')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_tenant_record')

    op.drop_table('events')
    op.drop_table('consumer_offsets')
