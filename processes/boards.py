"""What a coordinator watches in a case that fans out: the status board, and the tables the case exports.

**Status board.** A process names with its property ``statusBoard`` the user tasks of a fan-out (a
multi-instance over units, each instance's task in that unit's queue): the first id is the task, any later
ids its escalations (e.g. the same form for the unit's leader after the deadline). The board has one row
per unit, read from the task index (never from the workflow state): *answered* (one of them completed by
the due date of the first), *answered_late* (completed after it), *late* (still open past its due date, or
escalated) and *open*; with counts per state. Who may read the case may read its board (``access.may``).

**Exports.** Property ``exports`` names case data fields that hold a table, a list of flat records; the
service shows such a table as a page and exports it as CSV and XLSX.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from processes.access import case_for
from processes.clock import SYSTEM_CLOCK, Clock
from processes.deployments import SPEC_CACHE
from processes.errors import NotFound
from processes.store.db import Database
from processes.store.models import TaskRecord
from processes.views import BoardRow, BoardView, TableView, UserView

STATES = ("answered", "answered_late", "late", "open")


def _state(rows: list[TaskRecord], first: str, now: dt.datetime) -> BoardRow:
    """The state of one unit from its board tasks, oldest first."""
    deadline = next((row.due_at for row in rows if row.name == first), None)
    done = next((row for row in rows if row.status == "completed"), None)
    newest = rows[-1]
    if done is not None:
        late = deadline is not None and done.completed_at is not None and done.completed_at > deadline
        return BoardRow(unit=newest.unit, state="answered_late" if late else "answered", task=done.name,
                        due_at=deadline, completed_at=done.completed_at, completed_by=done.completed_by)
    open_rows = [row for row in rows if row.status in ("ready", "claimed")]
    current = open_rows[-1] if open_rows else newest
    overdue = current.name != first or (current.due_at is not None and current.due_at < now)
    return BoardRow(unit=newest.unit, state="late" if overdue else "open", task=current.name,
                    due_at=deadline, completed_at=None, completed_by=None)


def case_board(db: Database, case_id: str, *, actor: UserView, clock: Clock = SYSTEM_CLOCK) -> BoardView:
    """The status board of a case whose process declares ``statusBoard`` (NotFound otherwise)."""
    now = clock.now().astimezone(dt.UTC)
    with db.read() as session:
        case = case_for(session, case_id, actor)
        board = SPEC_CACHE.get(session, case.process_version_id).parsed.status_board
        if not board:
            raise NotFound(f"process {case.process_key!r} has no status board")
        found = session.scalars(select(TaskRecord).where(TaskRecord.case_id == case.id,
                                                         TaskRecord.name.in_(board))
                                .order_by(TaskRecord.created_at, TaskRecord.id)).all()
        by_unit: dict[str, list[TaskRecord]] = {}
        for row in found:
            by_unit.setdefault(row.unit, []).append(row)
        rows = [_state(unit_rows, board[0], now) for _unit, unit_rows in sorted(by_unit.items())]
        return BoardView(case_id=case.id, process=case.process_key, rows=rows, at=now,
                         counts={state: sum(1 for row in rows if row.state == state) for state in STATES})


def _plain(value: Any) -> Any:
    """A cell: numbers, text, booleans and None as they are; anything else as text."""
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


def case_table(db: Database, case_id: str, name: str, *, actor: UserView) -> TableView:
    """The table ``name`` of the case data, if the process exports it (NotFound otherwise, or before it exists)."""
    with db.read() as session:
        case = case_for(session, case_id, actor)
        if name not in SPEC_CACHE.get(session, case.process_version_id).parsed.exports:
            raise NotFound(f"process {case.process_key!r} exports no table {name!r}")
        records = (case.data or {}).get(name)
    if not isinstance(records, list):
        raise NotFound(f"the case has no table {name!r} yet")
    columns: list[str] = []
    for record in records:
        for key in record if isinstance(record, dict) else ():
            if key not in columns:
                columns.append(key)
    rows = [[_plain(record.get(column)) if isinstance(record, dict) else None for column in columns]
            for record in records]
    return TableView(case_id=case_id, name=name, columns=columns, rows=rows)


def case_overviews(db: Database, case_id: str, *, actor: UserView) -> tuple[bool, list[str]]:
    """Whether the case's process has a status board, and the tables of its data it exports now."""
    with db.read() as session:
        case = case_for(session, case_id, actor)
        parsed = SPEC_CACHE.get(session, case.process_version_id).parsed
        present = [name for name in parsed.exports if isinstance((case.data or {}).get(name), list)]
        return bool(parsed.status_board), present
