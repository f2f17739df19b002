"""case erasure

A closed case's personal data is erased by the worker after its process's retention period (issue #14):
``cases.erased_at`` says when, and the index finds the cases still to erase per process version.

Revision ID: 0016
Revises: 0012
Create Date: 2026-11-30 08:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases') as batch:
        batch.add_column(sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_cases_erasure', 'cases', ['process_version_id', 'erased_at', 'completed_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_cases_erasure', table_name='cases')
    with op.batch_alter_table('cases') as batch:
        batch.drop_column('erased_at')
