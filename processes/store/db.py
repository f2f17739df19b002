"""Database access: one engine per URL, sessions as units of work, Alembic upgrades.

SQLite is the embedded default. Every write transaction on SQLite starts with ``BEGIN IMMEDIATE`` so two
writers never both read a case and then race to update it: the second waits (busy timeout) and then reads
the committed state. On PostgreSQL the optimistic version counter on the case row does that job.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from processes.errors import Conflict

SQLITE_BUSY_TIMEOUT_MS = 30_000


def _configure_sqlite(engine: Engine, *, begin: str) -> None:
    """WAL journal, enforced foreign keys, a busy timeout, and our own BEGIN statement."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # the driver must not emit BEGIN itself: we do, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL: a crash loses no committed txn order
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        connection.exec_driver_sql(begin)


class Database:
    """The engine(s) and session factories for one database URL.

    ``write()`` is the unit of work of a use case: it commits when the block ends without an exception and
    rolls back otherwise. ``read()`` is for queries that change nothing.
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite and parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        if self.is_sqlite:
            self.write_engine = create_engine(url, echo=echo)
            _configure_sqlite(self.write_engine, begin="BEGIN IMMEDIATE")
            self.read_engine = create_engine(url, echo=echo)
            _configure_sqlite(self.read_engine, begin="BEGIN")
        else:
            self.write_engine = create_engine(url, echo=echo, pool_pre_ping=True)
            self.read_engine = self.write_engine
        # What the deployment tells the engine beyond the database (e.g. how to sign a link it mails),
        # set by whoever runs the engine (the web app, the worker); every session carries it in
        # ``session.info["settings"]`` so a step can reach it without every use case passing it on.
        self.settings: dict[str, Any] = {}
        self._write_sessions = sessionmaker(self.write_engine, expire_on_commit=False,
                                            info={"settings": self.settings})
        self._read_sessions = sessionmaker(self.read_engine, expire_on_commit=False,
                                           info={"settings": self.settings})
        self._upgrade_lock = threading.Lock()

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """A session in one write transaction: commit on success, roll back on any exception."""
        with self._write_sessions() as session, session.begin():
            yield session

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; whatever it holds is rolled back at the end."""
        with self._read_sessions() as session, session.begin():
            yield session

    def upgrade(self) -> None:
        """Bring the schema to the newest Alembic revision (idempotent)."""
        with self._upgrade_lock:
            migrations = resources.files("processes") / "migrations"
            config = Config()
            config.set_main_option("script_location", str(migrations))
            config.attributes["connection_url"] = self.url
            with self.write_engine.connect() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                connection.commit()

    def dispose(self) -> None:
        """Close every pooled connection (before a fork, and at the end of tests)."""
        self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            self.read_engine.dispose()


@contextlib.contextmanager
def unit_of_work(db: Database) -> Iterator[Session]:
    """db.write() for a use case that changes a case: a lost optimistic-lock race is reported as Conflict."""
    try:
        with db.write() as session:
            yield session
    except StaleDataError:
        raise Conflict("the case was changed by someone else at the same time; reload and try again") from None
