"""Database access: one engine per URL, sessions as units of work, Alembic upgrades.

SQLite is the embedded default. Every write transaction on SQLite starts with ``BEGIN IMMEDIATE`` so two
writers never both read a case and then race to update it: the second waits (busy timeout) and then reads
the committed state. On PostgreSQL the optimistic version counter on the case row does that job.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
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
from sqlalchemy.util import LRUCache

from processes.errors import Conflict

SQLITE_BUSY_TIMEOUT_MS = 30_000
OPEN_ROWS_KNOWN = "amflow_open_task_rows"
"""A session's ``info`` key: case id -> the case's task rows that were open when a step (advance_case) in the
session had written them, so the case view right after the step needs no query for them."""
DECISIONS_RECORDED = "amflow_decisions_recorded"
"""A session's ``info`` key: case id -> the decision rows the steps in the session recorded for the case (all
of a case created in the session, so its case view needs no query for them)."""


class StatementCache:
    """SQLAlchemy's cache of compiled statements, found first by the identity of a statement's cache key.

    SQLAlchemy finds a compiled statement by its cache key: a tuple of the statement's structure, several
    hundred elements for a join with a few conditions, hashed afresh at every execution (a tuple does not
    keep its hash). A statement built once (at import, with bind parameters: the hot path's) keeps the same
    key object, so it is found here by that object's identity, without hashing: that was 20-200 µs a statement,
    about 45 a W1 case. Any other statement (or a key seen for the first time) goes through SQLAlchemy's LRU
    cache as before. The identity table holds the keys it knows (so an id is never reused while it is there)
    and starts afresh when full (statements built per call add a key each time).
    """

    KNOWN = 1_000

    def __init__(self, size: int = 500) -> None:
        self._cache: LRUCache[Any, Any] = LRUCache(size)
        self._known: dict[int, tuple[Any, Any]] = {}  # id(statement key) -> (the whole key, compiled)

    def get(self, key: Any, default: Any = None) -> Any:
        known = self._known.get(id(key[1]))
        if known is not None and known[0] == key:  # the same statement key object: compared by identity
            return known[1]
        compiled = self._cache.get(key)
        if compiled is None:
            return default
        self._remember(key, compiled)
        return compiled

    def __setitem__(self, key: Any, compiled: Any) -> None:
        self._cache[key] = compiled
        self._remember(key, compiled)

    def _remember(self, key: Any, compiled: Any) -> None:
        if len(self._known) >= self.KNOWN:
            self._known = {}
        self._known[id(key[1])] = (key, compiled)


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


class RequestTransaction:
    """The one transaction of a request (see ``Database.request``): the blocks of the request join it."""

    def __init__(self, session: Session, *, write: bool) -> None:
        self.session = session
        self.write = write
        self.joined = False  # a block of the request is using the session now
        self.spent = False  # committed or rolled back: later blocks open their own transactions

    def usable_for(self, write: bool) -> bool:
        return not self.spent and not self.joined and (self.write or not write)

    def end(self, *, commit: bool) -> None:
        """Commit (or roll back) and close, unless a block already did."""
        if self.spent:
            return
        self.spent = True
        try:
            if commit:
                self.session.commit()
            else:
                self.session.rollback()
        finally:
            self.session.close()


_SCOPE_NAMES = itertools.count()


class Database:
    """The engine(s) and session factories for one database URL.

    ``write()`` is the unit of work of a use case: it commits when the block ends without an exception and
    rolls back otherwise. ``read()`` is for queries that change nothing.

    ``request()`` makes one transaction of a whole request (authentication and the use case): the first
    ``read()`` or ``write()`` blocks of the request join it instead of opening their own. A ``write()`` block
    that joins commits it when it ends, a block that fails rolls it back, and either way the blocks after it
    open their own transactions, exactly as without a request: so a request's authentication and its use case
    are one transaction, and nothing else changes. A read request (``write=False``) never takes writes:
    a ``write()`` block in it opens its own transaction (on SQLite a read transaction cannot safely become a
    write one). A ``write()`` block inside a block that joined a write request is part of the same
    transaction (on SQLite a transaction of its own would wait for the request's write lock).
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite and parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        cache = {"compiled_cache": StatementCache()}  # one per engine, like SQLAlchemy's own
        if self.is_sqlite:
            self.write_engine = create_engine(url, echo=echo, execution_options=cache)
            _configure_sqlite(self.write_engine, begin="BEGIN IMMEDIATE")
            self.read_engine = create_engine(url, echo=echo, execution_options={"compiled_cache": StatementCache()})
            _configure_sqlite(self.read_engine, begin="BEGIN")
        else:
            self.write_engine = create_engine(url, echo=echo, pool_pre_ping=True, execution_options=cache)
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
        self._request: contextvars.ContextVar[RequestTransaction | None] = contextvars.ContextVar(
            f"amflow_request_transaction_{next(_SCOPE_NAMES)}", default=None)

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """A session in one write transaction: commit on success, roll back on any exception."""
        scope = self._request.get()
        if scope is not None and scope.write and scope.joined and not scope.spent:
            # inside a block that joined the request's write transaction: on SQLite that transaction holds the
            # write lock, so a transaction of its own would wait for it forever; this block is part of it
            yield scope.session
            return
        if scope is not None and scope.usable_for(write=True):
            with self._joined(scope) as session:
                yield session
            scope.end(commit=True)
            return
        with self._write_sessions() as session, session.begin():
            yield session

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading, committed at the end (so it is the same as write() but for SQLite's lock)."""
        scope = self._request.get()
        if scope is not None and scope.usable_for(write=False):
            with self._joined(scope) as session:
                yield session
            return
        with self._read_sessions() as session, session.begin():
            yield session

    @staticmethod
    @contextlib.contextmanager
    def _joined(scope: RequestTransaction) -> Iterator[Session]:
        scope.joined = True
        try:
            yield scope.session
        except BaseException:
            scope.end(commit=False)
            raise
        finally:
            scope.joined = False

    def begin_request(self, *, write: bool) -> RequestTransaction:
        """Start the one transaction of a request in this thread/context; end it with ``end_request``.

        ``write``: the request may change something (on SQLite its transaction starts with BEGIN IMMEDIATE,
        like every write transaction, so it is serialised with the other writers from its first query).
        """
        self.end_request(commit=False)
        scope = RequestTransaction((self._write_sessions if write else self._read_sessions)(), write=write)
        scope.session.begin()
        self._request.set(scope)
        return scope

    def end_request(self, *, commit: bool = True) -> None:
        """End the request's transaction if no block ended it (commit: what the blocks read or wrote stands)."""
        scope = self._request.get()
        if scope is None:
            return
        self._request.set(None)
        scope.end(commit=commit)

    @contextlib.contextmanager
    def request(self, *, write: bool) -> Iterator[RequestTransaction]:
        """``begin_request`` ... ``end_request`` as a block (rolled back if the block raises)."""
        scope = self.begin_request(write=write)
        try:
            yield scope
        except BaseException:
            self.end_request(commit=False)
            raise
        self.end_request(commit=True)

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
