"""The Alembic migrations build exactly the schema the models describe, and seed the stable groups."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from processes import GROUP_CODES, UNITS
from processes.store.models import Base, Group, Unit


def _not_full_text(name, type_, _parent_names) -> bool:
    """SQLite's FTS5 table of the case search with its shadow tables, and PostgreSQL's GIN index of the case
    search (migration 0019), have no model."""
    return not ((type_ == "table" and (name or "").startswith("case_search"))
                or (type_ == "index" and name == "ix_cases_search"))


def test_the_migrated_schema_matches_the_models(db):
    with db.write_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_name": _not_full_text})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_upgrading_twice_changes_nothing_and_the_stable_groups_and_units_are_there(db):
    db.upgrade()
    with db.read() as session:
        assert set(session.scalars(select(Group.code))) == GROUP_CODES
        assert set(session.scalars(select(Unit.code))) == set(UNITS)
