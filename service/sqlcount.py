"""Counting the SQL of each request, for benchmarks only (``bench/w1.py``): off unless the environment
variable ``AMFLOW_BENCH_COUNT_SQL`` is ``1``.

When on, every response carries ``X-Amflow-Sql: select=N insert=N update=N delete=N other=N begin=N
commit=N rollback=N``: the statements the request's thread sent to the database by their first word, and
the transactions it began, committed and rolled back (SQLAlchemy's engine events, so a SQLite ``BEGIN
IMMEDIATE`` counts as one ``begin``, not as a statement). Off, nothing is registered: no cost.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from typing import Any

from flask import Flask, Response
from sqlalchemy import Engine, event

from service.extensions import get_database

ENV = "AMFLOW_BENCH_COUNT_SQL"
HEADER = "X-Amflow-Sql"
KINDS = ("select", "insert", "update", "delete", "other", "begin", "commit", "rollback")

_local = threading.local()


def _counts() -> Counter[str]:
    counts = getattr(_local, "counts", None)
    if counts is None:
        counts = _local.counts = Counter()
    return counts


def _statement(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
    word = statement.lstrip().split(None, 1)[0].lower() if statement.strip() else "other"
    if word in ("begin", "commit", "rollback"):
        return  # counted by the transaction events below
    _counts()[word if word in KINDS else "other"] += 1


def _listen(engine: Engine) -> None:
    event.listen(engine, "before_cursor_execute", _statement)
    for name in ("begin", "commit", "rollback"):
        event.listen(engine, name, lambda *_args, kind=name: _counts().__setitem__(kind, _counts()[kind] + 1))


def init_sql_count(app: Flask) -> None:
    """Count each request's SQL into a response header, if ``AMFLOW_BENCH_COUNT_SQL=1``."""
    if os.environ.get(ENV) != "1":
        return
    database = get_database(app)
    _listen(database.write_engine)
    if database.read_engine is not database.write_engine:
        _listen(database.read_engine)

    @app.before_request
    def _reset() -> None:
        _counts().clear()

    @app.after_request
    def _report(response: Response) -> Response:
        counts = _counts()
        response.headers[HEADER] = " ".join(f"{kind}={counts[kind]}" for kind in KINDS)
        return response
