"""English names beside the Danish (issue #17: everything in words, in both languages)

A task's English title (property nameEn / titleEn of its element), a case's title and badge in English
(decision values and form choices by their English names) and a process version's English name (property
nameEn of the bpmn:process). Empty on existing rows: the pages show the Danish then, and a case's next
step writes its English title and badge.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-02 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('title_en', sa.String(length=300), server_default='', nullable=False))
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('title_en', sa.String(length=300), server_default='', nullable=False))
        batch_op.add_column(sa.Column('badge_en', sa.String(length=200), server_default='', nullable=False))
    with op.batch_alter_table('process_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_en', sa.String(length=300), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('process_versions', schema=None) as batch_op:
        batch_op.drop_column('name_en')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('badge_en')
        batch_op.drop_column('title_en')
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_column('title_en')
