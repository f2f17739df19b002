"""in-app notifications

What is new for a user (``inbox_items``: a task for a group in a unit, one row read by membership; a task
given to one person; a comment on a case they started or work on), who has read which (``inbox_reads``),
and each user's choice of e-mail per kind (``notification_settings``), issue #17.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-05 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0025'
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('inbox_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('recipient', sa.String(length=100), nullable=True),
    sa.Column('group', sa.String(length=64), nullable=True),
    sa.Column('unit', sa.String(length=64), nullable=True),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('task_id', sa.String(length=36), nullable=True),
    sa.Column('actor', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_inbox_items_recipient', 'inbox_items', ['recipient', 'id'], unique=False)
    op.create_index('ix_inbox_items_group_unit', 'inbox_items', ['group', 'unit', 'id'], unique=False)
    op.create_index(op.f('ix_inbox_items_case_id'), 'inbox_items', ['case_id'], unique=False)
    op.create_table('inbox_reads',
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=100), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['inbox_items.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('item_id', 'username')
    )
    op.create_table('notification_settings',
    sa.Column('username', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('email', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('username', 'kind')
    )


def downgrade() -> None:
    op.drop_table('notification_settings')
    op.drop_table('inbox_reads')
    op.drop_index(op.f('ix_inbox_items_case_id'), table_name='inbox_items')
    op.drop_index('ix_inbox_items_group_unit', table_name='inbox_items')
    op.drop_index('ix_inbox_items_recipient', table_name='inbox_items')
    op.drop_table('inbox_items')
