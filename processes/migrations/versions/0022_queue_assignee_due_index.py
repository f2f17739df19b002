"""assignee due index: the assigned-to-me arm of the queue in due order

Sorting the queue by due date (the everyday "what is due first") read every task assigned to the caller
and sorted them (ix_tasks_assignee is in created_at order); (assignee, status, due_at, id) hands them over
in due order, as ix_tasks_queue_due does for the group arms.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-30 08:30:00
"""
from alembic import op


revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index('ix_tasks_assignee_due', ['assignee', 'status', 'due_at', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_assignee_due')
