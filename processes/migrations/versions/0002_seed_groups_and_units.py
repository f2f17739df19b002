"""Seed the stable groups and the DTU units.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op


revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Frozen copies of processes/catalogue.py (now processes/people/organisation.py) as of this revision: a migration must not change when the
# catalogue does later.
GROUPS = {
    'employees': ('Medarbejdere / Employees', False),
    'leaders': ('Nærmeste ledere / Line managers', False),
    'amk': ('Arbejdsmiljøkoordinatorer (AMK) / Work-environment coordinators', False),
    'amr': ('Arbejdsmiljørepræsentanter (AMR) / Safety representatives', False),
    'hr': ('HR', False),
    'cas': ('Campus Service (CAS)', True),
    'arbejdsmiljo': ('DTU Arbejdsmiljø (CAS AB og Koncern HR)', True),
    'precursor-coordinator': ('Prækursorkoordinator / Precursor coordinator', True),
    'process-owners': ('Procesejere / Process owners', False),
    'admins': ('Administratorer / Administrators', True),
}

UNITS = {
    'kemi': 'DTU Kemi',
    'kemiteknik': 'DTU Kemiteknik',
    'energi': 'DTU Energi',
    'food': 'DTU Fødevareinstituttet (DTU Food)',
    'aqua': 'DTU Aqua',
    'wind': 'DTU Vindenergi (DTU Wind)',
    'sundhedsteknologi': 'DTU Sundhedsteknologi (DTU Health Tech)',
    'cas': 'Campus Service (CAS)',
}


def upgrade() -> None:
    groups = sa.table("groups", sa.column("code"), sa.column("name"), sa.column("central"))
    units = sa.table("units", sa.column("code"), sa.column("name"))
    op.bulk_insert(groups, [{"code": c, "name": n, "central": central} for c, (n, central) in GROUPS.items()])
    op.bulk_insert(units, [{"code": c, "name": n} for c, n in UNITS.items()])


def downgrade() -> None:
    op.execute("DELETE FROM groups")
    op.execute("DELETE FROM units")
