"""Fixtures for the engine tests: a real database per test (SQLite file or PostgreSQL), at the newest schema."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest

from processes import Database, create_user, deploy, deploy_bundled
from processes.views import UserView

BPMN_DIR = Path(__file__).parent / "bpmn"


@pytest.fixture
def db(make_database_url: Callable[..., str], migrated_template: str) -> Iterator[Database]:
    """A new database for this test, migrated by the real Alembic migrations (copied from the run's template)."""
    database = Database(make_database_url("engine", template=migrated_template))
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def bundled_template(databases, migrated_template: str) -> str:
    """The migrated template with every shipped diagram deployed (``deploy_bundled``), made once per run."""
    url = databases.new("bundled", template=migrated_template)
    database = Database(url)
    try:
        deploy_bundled(database)
    finally:
        database.dispose()
    return url


@pytest.fixture
def bundled_db(make_database_url: Callable[..., str], bundled_template: str) -> Iterator[Database]:
    """A new database with every shipped diagram deployed, as ``deploy_bundled(db)`` leaves a new ``db``: a copy
    of the run's template (deploying them all takes about half a second of CPU a test). A module whose tests
    all need them overrides ``db`` with it."""
    database = Database(make_database_url("bundled", template=bundled_template))
    yield database
    database.dispose()


@pytest.fixture
def owner(db: Database) -> UserView:
    return create_user(db, "owner", password="owner-password", groups=["process-owners"], units=[])


@pytest.fixture
def anna(db: Database) -> UserView:
    """An employee of DTU Kemi."""
    return create_user(db, "anna", password="anna-password", groups=["employees"], units=["kemi"])


@pytest.fixture
def emil(db: Database) -> UserView:
    """An employee of DTU Energi."""
    return create_user(db, "emil", password="emil-password", groups=["employees"], units=["energi"])


@pytest.fixture
def make_amks(db: Database) -> Callable[..., dict[str, UserView]]:
    """One AMK per unit, ``amk-<unit>`` (for fan-outs over units): ``make_amks(units)`` -> {unit: user}."""

    def make(units: Iterable[str], *, email: bool = False) -> dict[str, UserView]:
        return {unit: create_user(db, f"amk-{unit}", password="amk-password", groups=["amk"], units=[unit],
                                  email=f"amk-{unit}@example.dtu.dk" if email else None)
                for unit in units}

    return make


@pytest.fixture
def note_loop(db: Database, owner: UserView) -> str:
    deploy(db, (BPMN_DIR / "note_loop.bpmn").read_bytes(), "note_loop.bpmn", actor=owner)
    return "note_loop"

