"""The service's own state, for operators: what /metrics counts and what /readyz checks.

Read with cheap, indexed queries at the moment they are asked for, so several processes (gunicorn
workers, timer workers) report the same numbers.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from importlib import resources
from typing import Any

from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from processes.store.db import Database
from processes.store.models import CaseTimer, Incident, Notification, TaskRecord, utcnow
from processes.worker import last_heartbeat

OPEN_TASK_STATUSES = ("ready", "claimed")
OUTBOX_STATUSES = ("pending", "sending", "failed")


@dataclass(frozen=True)
class OperationalCounts:
    """The gauges of `/metrics`, read from the database at scrape time."""

    tasks: dict[tuple[str, str], int]
    due_timers: int
    outbox: dict[str, int]
    incidents: dict[str, int]
    heartbeat_age: float | None


def operational_counts(database: Database, now: dt.datetime) -> OperationalCounts:
    """What operators watch, counted with indexed queries: open tasks, due timers, the outbox, incidents."""
    with database.read() as session:
        tasks = session.execute(
            select(TaskRecord.process_key, TaskRecord.status, func.count())
            .where(TaskRecord.status.in_(OPEN_TASK_STATUSES))
            .group_by(TaskRecord.process_key, TaskRecord.status)
        ).all()
        due = session.scalar(
            select(func.count()).select_from(CaseTimer)
            .where(CaseTimer.status == "scheduled", CaseTimer.due_at < now)
        )
        outbox = session.execute(
            select(Notification.status, func.count())
            .where(Notification.status.in_(OUTBOX_STATUSES)).group_by(Notification.status)
        ).all()
        incidents = session.execute(
            select(Incident.kind, func.count()).where(Incident.resolved_at.is_(None)).group_by(Incident.kind)
        ).all()
    newest = last_heartbeat(database)
    return OperationalCounts(
        tasks={(process, status): count for process, status, count in tasks},
        due_timers=int(due or 0),
        outbox={status: int(count) for status, count in outbox},
        incidents={kind: int(count) for kind, count in incidents},
        heartbeat_age=(now - newest).total_seconds() if newest is not None else None,
    )


MIN_HEARTBEAT_WINDOW = 30.0  # seconds
HEARTBEAT_INTERVALS = 3  # passes a worker may miss before it counts as gone


@functools.cache
def migration_heads() -> frozenset[str]:
    """The newest Alembic revision(s) of the migrations shipped with this code."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(resources.files("processes") / "migrations"))
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def heartbeat_window(worker_interval: float) -> float:
    """Seconds within which a worker's heartbeat counts as fresh."""
    return max(MIN_HEARTBEAT_WINDOW, HEARTBEAT_INTERVALS * worker_interval)


def _check_database(database: Database) -> dict[str, Any]:
    with database.read() as session:
        session.execute(text("SELECT 1"))
    return {"ok": True}


def _check_migrations(database: Database) -> dict[str, Any]:
    with database.read() as session:  # the table Alembic keeps (MigrationContext would log on every probe)
        current = frozenset(session.scalars(text("SELECT version_num FROM alembic_version")))
    head = migration_heads()
    result: dict[str, Any] = {"ok": current == head, "current": sorted(current), "head": sorted(head)}
    if not result["ok"]:
        result["message"] = "the database schema is not at the newest migration: run `amflow db upgrade`"
    return result


def _check_worker(database: Database, window: float) -> dict[str, Any]:
    newest = last_heartbeat(database)
    if newest is None:
        return {"ok": False, "message": "no timer worker has ever run (start `amflow worker`)"}
    age = (utcnow() - newest).total_seconds()
    result: dict[str, Any] = {"ok": age <= window, "last_seen": newest.isoformat(), "age_seconds": round(age, 1),
                              "window_seconds": window}
    if not result["ok"]:
        result["message"] = f"no timer worker heartbeat for {round(age)} s (more than {window:g} s)"
    return result


def readiness(database: Database, *, worker_interval: float) -> dict[str, dict[str, Any]]:
    """Each check's result: `{"ok": bool, "message"?: why not, ...details}`."""
    try:
        checks = {"database": _check_database(database)}
    except SQLAlchemyError as error:
        unknown = {"ok": False, "message": "not checked: the database is unreachable"}
        return {"database": {"ok": False, "message": f"the database is unreachable ({type(error).__name__})"},
                "migrations": unknown, "worker": dict(unknown)}
    for name, check in (("migrations", lambda: _check_migrations(database)),
                        ("worker", lambda: _check_worker(database, heartbeat_window(worker_interval)))):
        try:
            checks[name] = check()
        except SQLAlchemyError as error:  # e.g. a table missing in a database at an old migration
            checks[name] = {"ok": False, "message": f"the check's query failed ({type(error).__name__})"}
    return checks
