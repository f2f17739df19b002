"""Liveness and readiness for load balancers and orchestrators; both unauthenticated and cheap.

- `GET /healthz`: the process is alive and answers HTTP. Always 200; touches no database, so a database
  outage does not get healthy web processes restarted.
- `GET /readyz`: this process can do its work. 200 when every check passes, else 503 naming the failing
  checks (in the usual error envelope, one field per failing check):
  `database` (a query answers), `migrations` (the schema is at the newest Alembic revision of this code),
  `worker` (a timer worker started a pass within 3 x AMFLOW_WORKER_INTERVAL, at least 30 s; failing when no
  worker has ever run, since timers and e-mail would then silently stop).
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from flask import Flask, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from processes import Database
from processes.models import utcnow
from processes.worker import last_heartbeat
from service.extensions import get_database

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


def init_health(app: Flask) -> None:
    """`GET /healthz` and `GET /readyz`."""

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify(status="alive")

    @app.get("/readyz")
    def readyz() -> Any:
        checks = readiness(get_database(), worker_interval=current_app.config["WORKER_INTERVAL"])
        failing = {name: check["message"] for name, check in checks.items() if not check["ok"]}
        if not failing:
            return jsonify(status="ready", checks=checks)
        body = {
            "status": "not ready",
            "checks": checks,
            "error": {"code": "not_ready", "message": f"failing checks: {', '.join(failing)}", "fields": failing},
        }
        response = jsonify(body)
        response.headers["Cache-Control"] = "no-store"
        return response, 503
