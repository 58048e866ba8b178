"""history imports: import runs and their row reports

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import paceline.shared.db.base
from sqlalchemy.dialects import postgresql

revision: str = '0006'
down_revision: str | Sequence[str] | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('import_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('format', sa.String(length=8), nullable=False),
    sa.Column('file_name', sa.String(length=400), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('mapping', _JSON, nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('rows_total', sa.Integer(), nullable=False),
    sa.Column('rows_accepted', sa.Integer(), nullable=False),
    sa.Column('rows_unchanged', sa.Integer(), nullable=False),
    sa.Column('rows_duplicate', sa.Integer(), nullable=False),
    sa.Column('rows_rejected', sa.Integer(), nullable=False),
    sa.Column('warnings', _JSON, nullable=False),
    sa.Column('positions', _JSON, nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('started_at', paceline.shared.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', paceline.shared.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_runs'))
    )
    with op.batch_alter_table('import_runs', schema=None) as batch_op:
        batch_op.create_index('ix_import_runs_tenant_started', ['tenant_id', 'started_at'], unique=False)

    op.create_table('import_row_issues',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('import_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('event_id', sa.String(length=200), nullable=True),
    sa.Column('errors', _JSON, nullable=False),
    sa.Column('row', _JSON, nullable=False),
    sa.ForeignKeyConstraint(['import_id'], ['import_runs.id'], name=op.f('fk_import_row_issues_import_id_import_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_row_issues'))
    )
    with op.batch_alter_table('import_row_issues', schema=None) as batch_op:
        batch_op.create_index('ix_import_row_issues_run_line', ['import_id', 'line'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('import_row_issues', schema=None) as batch_op:
        batch_op.drop_index('ix_import_row_issues_run_line')

    op.drop_table('import_row_issues')
    with op.batch_alter_table('import_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_import_runs_tenant_started')

    op.drop_table('import_runs')
