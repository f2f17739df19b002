"""Shared fixtures: a real database (migrated, demo loaded), the Flask app and its client.

The suite runs on SQLite files by default and on a real PostgreSQL server with `--database=postgresql`
(`make test` runs both). On PostgreSQL a throw-away cluster is started for the run (tests/postgres.py).
The demo database is built once per run (migrations plus `processes.load_demo`, which hashes passwords
and deploys every bundled BPMN file) and then copied for each test (a file copy on SQLite, `CREATE
DATABASE ... TEMPLATE` on PostgreSQL), so every test starts from the same state and none can see another's
writes.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import make_url

import processes
from processes.people import identity
from service import create_app, get_database
from tests.postgres import PostgresServer, postgres_server
from tests.processes.smtp import SmtpServer

API = "/api/v1"
TEST_SECRET_KEY = "test-secret-key-not-for-production"
BACKENDS = ("sqlite", "postgresql")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database", choices=BACKENDS, default=os.environ.get("AMFLOW_TEST_DATABASE", "sqlite"),
        help="run the suite on SQLite files (default) or on a throw-away PostgreSQL server",
    )


def pytest_report_header(config: pytest.Config) -> str:
    return f"amflow database: {config.getoption('--database')}"


@dataclass(frozen=True)
class DemoUser:
    """A demo log-in as `processes.load_demo` returns it."""

    username: str
    password: str
    groups: tuple[str, ...]
    units: tuple[str, ...]


@dataclass(frozen=True)
class DemoDatabase:
    """The run's migrated database with the demo loaded, to be copied per test."""

    url: str
    users: tuple[DemoUser, ...]


class SqliteDatabases:
    """New databases as SQLite files in one folder; a template is copied file by file (WAL included)."""

    backend = "sqlite"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._numbers = itertools.count(1)

    def new(self, name: str, *, template: str | None = None) -> str:
        target = self.folder / f"{name}-{next(self._numbers)}" / "amflow.db"
        target.parent.mkdir(parents=True)
        if template is not None:
            source = Path(str(make_url(template).database))
            for part in source.parent.glob(source.name + "*"):
                shutil.copyfile(part, target.with_name(part.name))
        return f"sqlite:///{target}"

    def drop(self, url: str) -> None:
        shutil.rmtree(Path(str(make_url(url).database)).parent, ignore_errors=True)


class PostgresDatabases:
    """New databases on the run's PostgreSQL server; a template is copied by `CREATE DATABASE ... TEMPLATE`."""

    backend = "postgresql"

    def __init__(self, server: PostgresServer) -> None:
        self.server = server
        self._numbers = itertools.count(1)

    def new(self, name: str, *, template: str | None = None) -> str:
        database = f"{name.lower()}_{next(self._numbers)}"
        return self.server.create_database(database, template=make_url(template).database if template else None)

    def drop(self, url: str) -> None:
        self.server.drop_database(str(make_url(url).database))


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashes() -> Iterator[None]:
    """argon2id at its lowest cost in this process (1 pass, 8 KiB), instead of the production cost (3 passes,
    64 MiB): that takes about a second a hash on a loaded 2-core CI machine, and the suite hashes a password
    for every user it makes and verifies one at every log-in. Still the real argon2id hashing and checking,
    wrong passwords still refused; a hash carries its parameters, so a production hash still verifies. The
    served apps and the `amflow` commands run in their own processes, at the production cost.
    """
    with pytest.MonkeyPatch.context() as patch:
        cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
        patch.setattr(identity, "_HASHER", cheap)
        patch.setattr(identity, "_DUMMY_HASH", cheap.hash("timing-equaliser"))
        yield


@pytest.fixture(scope="session")
def databases(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[SqliteDatabases | PostgresDatabases]:
    """Where this run's databases are made: SQLite files, or a PostgreSQL server started for the run."""
    if request.config.getoption("--database") == "postgresql":
        with postgres_server() as server:
            yield PostgresDatabases(server)
    else:
        yield SqliteDatabases(tmp_path_factory.mktemp("databases"))


@pytest.fixture
def make_database_url(databases: SqliteDatabases | PostgresDatabases) -> Iterator[Callable[..., str]]:
    """Make a new database for this test (empty, or a copy of `template`); dropped when the test ends."""
    made: list[str] = []

    def make(name: str = "amflow", *, template: str | None = None) -> str:
        url = databases.new(name, template=template)
        made.append(url)
        return url

    yield make
    for url in made:
        databases.drop(url)


@pytest.fixture(scope="session")
def migrated_template(databases: SqliteDatabases | PostgresDatabases) -> str:
    """An empty database at the newest schema, to be copied by tests that arrange their own data."""
    url = databases.new("migrated")
    database = processes.Database(url)
    try:
        database.upgrade()
    finally:
        database.dispose()
    return url


@pytest.fixture(scope="session")
def demo_database(databases: SqliteDatabases | PostgresDatabases) -> DemoDatabase:
    """Migrate a fresh database and load the demo into it, once per run."""
    url = databases.new("demo")
    database = processes.Database(url)
    try:
        database.upgrade()
        users = tuple(
            DemoUser(username, password, tuple(groups), tuple(units))
            for username, password, groups, units in processes.load_demo(database)
        )
    finally:
        database.dispose()
    return DemoDatabase(url, users)


@pytest.fixture
def database_url(make_database_url: Callable[..., str], demo_database: DemoDatabase) -> str:
    """A private copy of the demo database for this test."""
    return make_database_url("test", template=demo_database.url)


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


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server on 127.0.0.1 (aiosmtpd) that records what it accepts; see tests/processes/smtp.py."""
    with SmtpServer() as server:
        yield server
