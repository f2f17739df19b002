"""worker heartbeats

Each timer worker process writes the time of its latest pass here, so the web processes' readiness check
(`/readyz`) can tell whether a worker is alive.

Revision ID: 0007
Revises: 0005
Create Date: 2026-11-30 05:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('worker_heartbeats',
    sa.Column('worker_id', sa.String(length=200), nullable=False),
    sa.Column('last_seen', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('worker_id')
    )


def downgrade() -> None:
    op.drop_table('worker_heartbeats')
