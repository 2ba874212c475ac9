"""session diffs (backtest-vs-live diff per day)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 02:55:00
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel
import core.store.tables


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('session_diffs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('day', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('orders_live', sa.Integer(), nullable=False),
    sa.Column('orders_backtest', sa.Integer(), nullable=False),
    sa.Column('matched', sa.Integer(), nullable=False),
    sa.Column('match_pct', sa.Float(), nullable=False),
    sa.Column('pnl_live', sa.Float(), nullable=False),
    sa.Column('pnl_backtest', sa.Float(), nullable=False),
    sa.Column('pnl_diff', sa.Float(), nullable=False),
    sa.Column('divergences', sa.Integer(), nullable=False),
    sa.Column('first_ts', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('first_cause', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('first_order', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('first_detail', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('computed_at', core.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('account', 'day', name='uq_session_diffs_day')
    )
    with op.batch_alter_table('session_diffs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_session_diffs_account'), ['account'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('session_diffs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_session_diffs_account'))
    op.drop_table('session_diffs')
