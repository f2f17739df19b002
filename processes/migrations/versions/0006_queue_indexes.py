"""queue indexes: one (status, group, unit, sort column, id) index per queue sort

The task queue reads one index range per visibility arm (processes.taskqueue) in sort order; the old
(status, group, unit) and (assignee, status) indexes made every queue page sort all visible tasks.

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-30 05:10:00
"""
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

QUEUE = ("status", "group", "unit")
NEW = {
    "ix_tasks_queue_due": [*QUEUE, "due_at", "id"],
    "ix_tasks_queue_title": [*QUEUE, "title", "id"],
    "ix_tasks_queue_case": [*QUEUE, "case_id", "id"],
    "ix_tasks_queue_assignee": [*QUEUE, "assignee", "id"],
    "ix_tasks_queue_unit": [*QUEUE, "id"],
}


def upgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_queue')
        batch_op.drop_index('ix_tasks_assignee')
        batch_op.create_index('ix_tasks_queue', [*QUEUE, 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_tasks_assignee', ['assignee', 'status', 'created_at', 'id'], unique=False)
        for name, columns in NEW.items():
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        for name in NEW:
            batch_op.drop_index(name)
        batch_op.drop_index('ix_tasks_assignee')
        batch_op.drop_index('ix_tasks_queue')
        batch_op.create_index('ix_tasks_assignee', ['assignee', 'status'], unique=False)
        batch_op.create_index('ix_tasks_queue', ['status', 'group', 'unit'], unique=False)
