"""process bundles and explainable decisions

A process version keeps the forms, rule sets, parameters, registers and mail templates it was deployed
with (content-addressed entries shared between versions), and a decision keeps its facts, derived facts
and the versions of the rule set and parameters it used, so it can be explained and replayed.

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-01 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('bundle_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.CheckConstraint("kind IN ('form', 'ruleset', 'parameters', 'register', 'mail')", name='ck_bundle_kind'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kind', 'name', 'sha256')
    )
    op.create_table('process_version_entries',
    sa.Column('process_version_id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['bundle_entries.id'], ),
    sa.ForeignKeyConstraint(['process_version_id'], ['process_versions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('process_version_id', 'entry_id')
    )
    with op.batch_alter_table('process_version_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_process_version_entries_entry_id'), ['entry_id'], unique=False)
    with op.batch_alter_table('process_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bundle_digest', sa.String(length=64), nullable=True))
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('facts', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('derived', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('ruleset_version', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('parameters_version', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('law_date_from', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_column('law_date_from')
        batch_op.drop_column('parameters_version')
        batch_op.drop_column('ruleset_version')
        batch_op.drop_column('derived')
        batch_op.drop_column('facts')
    with op.batch_alter_table('process_versions', schema=None) as batch_op:
        batch_op.drop_column('bundle_digest')
    with op.batch_alter_table('process_version_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_process_version_entries_entry_id'))
    op.drop_table('process_version_entries')
    op.drop_table('bundle_entries')
