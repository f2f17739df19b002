"""case titles, summaries, badges and full-text search (issue #17)

What the case lists and the search read from the case row without loading the workflow: title, summary,
badge (from the process's caseTitle/caseSummary/caseBadge templates), the user the case is about, whether
it is restricted and its reader groups, and its searchable words. SQLite gets an FTS5 table
``case_search`` (case_id, body) and PostgreSQL a GIN index on to_tsvector('simple', search_text): neither
can be described by a model, so they exist only here. Existing cases get their title and words at their
next step; a case of a restricted process is marked restricted at once.

Revision ID: 0019
Revises: 0016
Create Date: 2026-12-01 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0019'
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('title', sa.String(length=300), server_default='', nullable=False))
        batch_op.add_column(sa.Column('summary', sa.String(length=500), server_default='', nullable=False))
        batch_op.add_column(sa.Column('badge', sa.String(length=200), server_default='', nullable=False))
        batch_op.add_column(sa.Column('subject', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('restricted', sa.Boolean(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('readers', sa.String(length=300), server_default='', nullable=False))
        batch_op.add_column(sa.Column('search_text', sa.Text(), server_default='', nullable=False))
        batch_op.create_index('ix_cases_subject', ['subject'], unique=False)
        batch_op.create_index('ix_cases_started_by', ['started_by', 'created_at'], unique=False)
        batch_op.create_index('ix_cases_unit_created', ['unit', 'created_at'], unique=False)
    # Lists must not show a restricted case before its next step writes the flag: err on the safe side
    # (its reader groups and subject find it again after that step).
    op.execute(sa.text(
        "UPDATE cases SET restricted = :yes WHERE process_version_id IN (SELECT id FROM process_versions "
        "WHERE bpmn_xml LIKE '%name=\"sensitivity\" value=\"restricted\"%')").bindparams(yes=True))
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE VIRTUAL TABLE case_search USING fts5(case_id UNINDEXED, body, "
                   "tokenize = 'unicode61 remove_diacritics 2')")
    else:
        op.execute("CREATE INDEX ix_cases_search ON cases USING gin (to_tsvector('simple', search_text))")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE case_search")
    else:
        op.execute("DROP INDEX ix_cases_search")
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_unit_created')
        batch_op.drop_index('ix_cases_started_by')
        batch_op.drop_index('ix_cases_subject')
        for column in ('search_text', 'readers', 'restricted', 'subject', 'badge', 'summary', 'title'):
            batch_op.drop_column(column)
