"""bundle entries of kind lanes

A process version may be deployed with a lane -> group mapping (a model from elsewhere whose lanes are not
named after our groups, issue #18); it is kept in the version's bundle as an entry of kind ``lanes``.

Revision ID: 0012
Revises: 0010
Create Date: 2026-11-30 08:10:00
"""
from alembic import op


revision = '0012'
down_revision = "0010"
branch_labels = None
depends_on = None

OLD = "kind IN ('form', 'ruleset', 'parameters', 'register', 'mail')"
NEW = "kind IN ('form', 'ruleset', 'parameters', 'register', 'mail', 'lanes')"


def upgrade() -> None:
    with op.batch_alter_table("bundle_entries") as batch:
        batch.drop_constraint("ck_bundle_kind", type_="check")
        batch.create_check_constraint("ck_bundle_kind", NEW)


def downgrade() -> None:
    op.execute("DELETE FROM bundle_entries WHERE kind = 'lanes'")
    with op.batch_alter_table("bundle_entries") as batch:
        batch.drop_constraint("ck_bundle_kind", type_="check")
        batch.create_check_constraint("ck_bundle_kind", OLD)
