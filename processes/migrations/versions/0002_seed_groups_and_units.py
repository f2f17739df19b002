"""Seed the stable groups and the DTU units.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from processes.catalogue import GROUPS, UNITS

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    groups = sa.table("groups", sa.column("code"), sa.column("name"), sa.column("central"))
    units = sa.table("units", sa.column("code"), sa.column("name"))
    op.bulk_insert(groups, [{"code": c, "name": n, "central": central} for c, (n, central) in GROUPS.items()])
    op.bulk_insert(units, [{"code": c, "name": n} for c, n in UNITS.items()])


def downgrade() -> None:
    op.execute("DELETE FROM groups")
    op.execute("DELETE FROM units")
