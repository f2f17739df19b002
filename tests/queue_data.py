"""Many tasks at once for the queue tests: rows written straight into the task index (and their cases).

Running hundreds of cases through the engine would take minutes; the queue only reads the task index, so
the tests write its rows with one bulk insert, each with a case of its own of a deployed process version.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

import processes
from processes.store.models import Case, ProcessVersion, TaskRecord

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Row:
    """One task to insert; `created` and `due` are minutes after T0 (None: no due date)."""

    group: str | None
    unit: str
    assignee: str | None = None
    status: str = "ready"
    created: int = 0
    due: int | None = None
    title: str = "Vurder risikoen"
    process: str | None = None  # default: the deployed version's key


def insert_tasks(database: processes.Database, rows: list[Row]) -> list[str]:
    """Insert the rows (a case each) and return the task ids in the order given."""
    with database.write() as session:
        version = session.scalars(select(ProcessVersion).order_by(ProcessVersion.id)).first()
        assert version is not None, "deploy a process first"
        cases: list[dict[str, Any]] = []
        tasks: list[dict[str, Any]] = []
        for row in rows:
            case_id = str(uuid.uuid4())
            created = T0 + timedelta(minutes=row.created)
            cases.append({"id": case_id, "process_version_id": version.id, "process_key": version.key,
                          "unit": row.unit, "status": "running", "data": {}, "state": "{}",
                          "serializer_version": "1", "revision": 1, "created_at": created, "updated_at": created})
            tasks.append({"id": str(uuid.uuid4()), "case_id": case_id, "process_key": row.process or version.key,
                          "name": "task", "title": row.title, "group": row.group, "unit": row.unit,
                          "assignee": row.assignee, "status": row.status, "created_at": created,
                          "due_at": None if row.due is None else T0 + timedelta(minutes=row.due)})
        session.execute(insert(Case), cases)
        session.execute(insert(TaskRecord), tasks)
        return [task["id"] for task in tasks]
