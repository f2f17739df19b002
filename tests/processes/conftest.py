"""Fixtures for the engine tests: a real SQLite file per test, upgraded with the real migrations."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from processes import Database, create_user, deploy
from processes.views import UserView
from tests.processes.smtp import SmtpServer

BPMN_DIR = Path(__file__).parent / "bpmn"


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'amflow.db'}")
    database.upgrade()
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
def note_loop(db: Database, owner: UserView) -> str:
    deploy(db, (BPMN_DIR / "note_loop.bpmn").read_bytes(), "note_loop.bpmn", actor=owner)
    return "note_loop"


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server on 127.0.0.1 (aiosmtpd) that records what it accepts; see tests/processes/smtp.py."""
    with SmtpServer() as server:
        yield server
