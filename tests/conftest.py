"""Shared fixtures: a real SQLite file database (migrated, demo loaded), the Flask app and its client.

The demo database is built once per test session (migrations plus `processes.load_demo`, which hashes
passwords and deploys every bundled BPMN file) and then copied into each test's own `tmp_path`, so every
test starts from the same state and none can see another's writes.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

import processes
from service import create_app, get_database

API = "/api/v1"
TEST_SECRET_KEY = "test-secret-key-not-for-production"


@dataclass(frozen=True)
class DemoUser:
    """A demo log-in as `processes.load_demo` returns it."""

    username: str
    password: str
    groups: tuple[str, ...]
    units: tuple[str, ...]


@dataclass(frozen=True)
class DemoDatabase:
    """The session's migrated database with the demo loaded, to be copied per test."""

    path: Path
    users: tuple[DemoUser, ...]


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of an SQLite file."""
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def demo_database(tmp_path_factory: pytest.TempPathFactory) -> DemoDatabase:
    """Migrate a fresh database and load the demo into it, once per session."""
    path = tmp_path_factory.mktemp("demo") / "amflow.db"
    database = processes.Database(sqlite_url(path))
    try:
        database.upgrade()
        users = tuple(
            DemoUser(username, password, tuple(groups), tuple(units))
            for username, password, groups, units in processes.load_demo(database)
        )
    finally:
        database.dispose()
    return DemoDatabase(path, users)


@pytest.fixture
def database_url(tmp_path: Path, demo_database: DemoDatabase) -> str:
    """A private copy of the demo database for this test."""
    target = tmp_path / "amflow.db"
    for source in demo_database.path.parent.glob(demo_database.path.name + "*"):
        shutil.copyfile(source, target.with_name(source.name))
    return sqlite_url(target)


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Extra settings of this test's app (Flask keys); override the fixture, or parametrize it, to change them."""
    return {}


@pytest.fixture
def app(database_url: str, tmp_path: Path, app_config: dict[str, Any]) -> Iterator[Flask]:
    """The app on this test's database."""
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "TESTING": True,
            "SECRET_KEY": TEST_SECRET_KEY,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            **app_config,
        }
    )
    yield app
    get_database(app).dispose()


@pytest.fixture
def database(app: Flask) -> processes.Database:
    """The app's own `processes.Database`, for arranging state through the use cases."""
    return get_database(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of the app."""
    return app.test_client()


@dataclass
class Auth:
    """Bearer tokens for the demo users, obtained by logging in over the API."""

    client: FlaskClient
    users: tuple[DemoUser, ...]
    _tokens: dict[str, str] = field(default_factory=dict)

    def user(self, *, group: str | None = None, unit: str | None = None, not_group: str | None = None) -> str:
        """The username of the first demo user in `group` and `unit` (and not in `not_group`)."""
        for user in self.users:
            if (
                (group is None or group in user.groups)
                and (unit is None or unit in user.units)
                and (not_group is None or not_group not in user.groups)
            ):
                return user.username
        raise LookupError(f"no demo user with group={group} unit={unit} not_group={not_group}")

    def token(self, username: str) -> str:
        """A bearer token of a demo user, logged in with the demo password."""
        if username not in self._tokens:
            password = next(user.password for user in self.users if user.username == username)
            response = self.client.post(f"{API}/auth/token", json={"username": username, "password": password})
            assert response.status_code == 201, response.get_json()
            self._tokens[username] = response.get_json()["token"]
        return self._tokens[username]

    def headers(self, username: str) -> dict[str, str]:
        """The Authorization header of a demo user."""
        return {"Authorization": f"Bearer {self.token(username)}"}


@pytest.fixture
def demo_users(demo_database: DemoDatabase) -> tuple[DemoUser, ...]:
    """The demo log-ins."""
    return demo_database.users


@pytest.fixture
def auth(client: FlaskClient, demo_users: tuple[DemoUser, ...]) -> Auth:
    """Find demo users by group and unit, and get their bearer tokens."""
    return Auth(client, demo_users)
