"""timer starts and called process versions

Processes started by the timer of their start event (``process_schedules``: the next occurrence per process;
``scheduled_starts``: each occurrence started, unique so none starts twice) and the version of a process of
another file that a case's call activity called (``case_called_versions``).

Revision ID: 0010
Revises: 0007
Create Date: 2026-11-30 06:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('case_called_versions',
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('process_key', sa.String(length=200), nullable=False),
    sa.Column('process_version_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['process_version_id'], ['process_versions.id'], ),
    sa.PrimaryKeyConstraint('case_id', 'process_key')
    )
    op.create_table('process_schedules',
    sa.Column('process_key', sa.String(length=200), nullable=False),
    sa.Column('process_version_id', sa.Integer(), nullable=False),
    sa.Column('next_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['process_version_id'], ['process_versions.id'], ),
    sa.PrimaryKeyConstraint('process_key')
    )
    op.create_index('ix_process_schedules_due', 'process_schedules', ['next_at'], unique=False)
    op.create_table('scheduled_starts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('process_key', sa.String(length=200), nullable=False),
    sa.Column('occurrence_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('process_key', 'occurrence_at')
    )


def downgrade() -> None:
    op.drop_table('scheduled_starts')
    op.drop_index('ix_process_schedules_due', table_name='process_schedules')
    op.drop_table('process_schedules')
    op.drop_table('case_called_versions')
