"""indexes for the worker's purge of old notifications

The worker deletes read in-app notifications and finished outbox rows older than
``notifications.retention_days`` (``processes/notify/retention.py``): both by ``created_at``.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-12 09:00:00
"""
from alembic import op


revision = '0027'
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_inbox_items_created_at', 'inbox_items', ['created_at'], unique=False)
    op.create_index('ix_notifications_created_at', 'notifications', ['created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_notifications_created_at', table_name='notifications')
    op.drop_index('ix_inbox_items_created_at', table_name='inbox_items')
