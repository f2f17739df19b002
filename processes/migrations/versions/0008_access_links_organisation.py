"""who may see and act (issue #11): the organisation's hierarchy, signed links, the read audit

Units get a parent (department -> DTU) and DTU's departments, centres and central offices are seeded;
``case_links`` holds the signed links for people without an account; ``case_reads`` records every read
of a restricted case.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 06:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# A frozen copy of processes/people/organisation.py's units as of this revision: code -> (name, parent).
UNITS = {
    "dtu": ("Danmarks Tekniske Universitet (DTU)", None),
    # departments and centres
    "aqua": ("DTU Aqua", "dtu"),
    "bioengineering": ("DTU Bioengineering", "dtu"),
    "biosustain": ("DTU Biosustain", "dtu"),
    "compute": ("DTU Compute", "dtu"),
    "construct": ("DTU Construct", "dtu"),
    "electro": ("DTU Electro", "dtu"),
    "energi": ("DTU Energi", "dtu"),
    "engineering-technology": ("DTU Engineering Technology", "dtu"),
    "entrepreneurship": ("DTU Entrepreneurship", "dtu"),
    "food": ("DTU Fødevareinstituttet (DTU Food)", "dtu"),
    "fysik": ("DTU Fysik (DTU Physics)", "dtu"),
    "kemi": ("DTU Kemi", "dtu"),
    "kemiteknik": ("DTU Kemiteknik", "dtu"),
    "learn-for-life": ("DTU Learn for Life", "dtu"),
    "management": ("DTU Management", "dtu"),
    "nanolab": ("DTU Nanolab", "dtu"),
    "offshore": ("DTU Offshore", "dtu"),
    "space": ("DTU Space", "dtu"),
    "sundhedsteknologi": ("DTU Sundhedsteknologi (DTU Health Tech)", "dtu"),
    "sustain": ("DTU Sustain", "dtu"),
    "wind": ("DTU Vindenergi (DTU Wind)", "dtu"),
    "skylab": ("DTU Skylab", "dtu"),
    "bibliotek": ("DTU Bibliotek (DTU Library)", "dtu"),
    "science-park": ("DTU Science Park", "dtu"),
    # central offices
    "cas": ("Campus Service (CAS)", "dtu"),
    "cas-ab": ("CAS Arbejdsmiljø & Beredskab", "cas"),
    "koncern-hr": ("Koncern HR", "dtu"),
    "aus": ("Afdelingen for Uddannelse og Studerende (AUS)", "dtu"),
    "okonomi": ("Økonomi (Finance)", "dtu"),
    "kommunikation": ("Kommunikation og Marketing", "dtu"),
    "it": ("DTU IT", "dtu"),
    "direktion": ("Direktionen (Executive Board)", "dtu"),
}


def upgrade() -> None:
    with op.batch_alter_table("units") as batch:
        batch.add_column(sa.Column("parent", sa.String(length=64), nullable=True))
        batch.create_index("ix_units_parent", ["parent"], unique=False)
        batch.create_foreign_key("fk_units_parent_units", "units", ["parent"], ["code"])
    units = sa.table("units", sa.column("code", sa.String), sa.column("name", sa.String),
                     sa.column("parent", sa.String))
    connection = op.get_bind()
    known = set(connection.execute(sa.select(units.c.code)).scalars())
    for code, (name, parent) in UNITS.items():  # parents first: "dtu" leads, "cas" before "cas-ab"
        if code in known:
            connection.execute(units.update().where(units.c.code == code).values(parent=parent))
        else:
            connection.execute(units.insert().values(code=code, name=name, parent=parent))

    op.create_table(
        "case_reads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=400), nullable=True),
        sa.Column("what", sa.String(length=100), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_case_reads_case", "case_reads", ["case_id", "id"], unique=False)
    op.create_table(
        "case_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("tasks", sa.JSON(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("serial", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_case_links_case_id"), "case_links", ["case_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_case_links_case_id"), table_name="case_links")
    op.drop_table("case_links")
    op.drop_index("ix_case_reads_case", table_name="case_reads")
    op.drop_table("case_reads")
    with op.batch_alter_table("units") as batch:
        batch.drop_constraint("fk_units_parent_units", type_="foreignkey")
        batch.drop_index("ix_units_parent")
        batch.drop_column("parent")
