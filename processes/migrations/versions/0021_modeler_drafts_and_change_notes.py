"""the modeler: drafts of processes and the change note of each deployed version

A process owner edits BPMN in the browser (issue #18): a draft is kept per process until it is deployed,
and each version deployed from the modeler carries its change note.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 09:00:00
"""
import sqlalchemy as sa
from alembic import op


revision = '0021'
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("process_versions") as batch:
        batch.add_column(sa.Column("change_note", sa.String(length=1000), nullable=True))
    op.create_table(
        "process_drafts",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("bpmn_xml", sa.Text(), nullable=False),
        sa.Column("lanes", sa.JSON(), nullable=True),
        sa.Column("based_on", sa.Integer(), nullable=True),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("process_drafts")
    with op.batch_alter_table("process_versions") as batch:
        batch.drop_column("change_note")
