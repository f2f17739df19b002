"""Read-only use cases: the task queue, one task with its form, the path of a case, rules in words.

Nothing here changes the database; the queue is one merged index query for the page and one capped count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

import forms
import rules
from processes import taskqueue
from processes.cases import case_for_reading, task_view
from processes.clock import SYSTEM_CLOCK, Clock
from processes.engine import runtime
from processes.errors import Forbidden, InvalidData, NotFound
from processes.people.identity import may_work
from processes.store.db import Database
from processes.store.models import AuditEvent, ProcessVersion, TaskRecord
from processes.views import OPEN_TASK_STATUSES, FormView, TaskStatus, TaskView, UserView

_OPEN = [status.value for status in OPEN_TASK_STATUSES]


@dataclass(frozen=True)
class TaskFilter:
    """Filters of the task queue; None means "any". Default: the open tasks the caller may work on."""

    group: str | None = None
    unit: str | None = None
    assignee: str | None = None  # a username, "me", or "none" for unassigned
    status: str | None = None  # ready|claimed|completed|cancelled|open (default open)
    process: str | None = None
    case_id: str | None = None
    overdue: bool | None = None  # True: due before now; False: not overdue (no due date, or later)
    due_before: datetime | None = None
    sort: str = "created_at"  # created_at | due_at | title | unit | case_id
    descending: bool = False
    limit: int = 50
    offset: int = 0
    cursor: str | None = None  # next_cursor of the previous page (keyset paging), instead of offset


SORTABLE = taskqueue.SORTABLE
COUNT_CAP = taskqueue.COUNT_CAP


@dataclass(frozen=True)
class TaskPage:
    """One page of the queue: its tasks, the total (exact up to COUNT_CAP), and the next page's cursor."""

    tasks: list[TaskView]
    total: int
    total_capped: bool  # True: there are more than COUNT_CAP tasks, and total says COUNT_CAP
    next_cursor: str | None  # None on the last page


def queue_request(filters: TaskFilter, actor: UserView, now: datetime) -> taskqueue.QueueRequest:
    status = filters.status or "open"
    if status not in ("open", *(s.value for s in TaskStatus)):
        raise InvalidData("unknown status", fields={"status": "one of open, ready, claimed, completed, cancelled"})
    if filters.sort not in SORTABLE:
        raise InvalidData("unknown sort", fields={"sort": f"one of {', '.join(SORTABLE)}"})
    if filters.cursor is not None and filters.offset:
        raise InvalidData("give an offset or a cursor, not both", fields={"cursor": "leave out offset with a cursor"})
    cursor = None if filters.cursor is None else taskqueue.Cursor.decode(
        filters.cursor, sort=filters.sort, descending=filters.descending)
    if filters.due_before is not None and filters.due_before.tzinfo is None:
        raise InvalidData("due_before needs a time zone", fields={"due_before": "give Z or an offset"})
    due_before = [at for at in (filters.due_before, now if filters.overdue is True else None) if at is not None]
    return taskqueue.QueueRequest(
        statuses=tuple(_OPEN) if status == "open" else (status,), group=filters.group, unit=filters.unit,
        assignee=actor.username if filters.assignee == "me" else filters.assignee, process=filters.process,
        case_id=filters.case_id, due_before=min(due_before) if due_before else None,
        not_due_before=now if filters.overdue is False else None, sort=filters.sort,
        descending=filters.descending, limit=filters.limit, offset=filters.offset, cursor=cursor,
    )


def task_page(
    db: Database, *, actor: UserView, filters: TaskFilter = TaskFilter(), clock: Clock = SYSTEM_CLOCK
) -> TaskPage:
    """The caller's queue: one merged index query for the page and one capped count (see processes.taskqueue)."""
    request = queue_request(filters, actor, runtime.now_utc(clock))
    with db.read() as session:
        result = taskqueue.queue_page(session, actor, request)
        return TaskPage([task_view(row) for row in result.rows], result.total, result.total_capped,
                        result.next_cursor)


def list_tasks(
    db: Database, *, actor: UserView, filters: TaskFilter = TaskFilter(), clock: Clock = SYSTEM_CLOCK
) -> tuple[list[TaskView], int]:
    """The caller's queue page and its total (exact up to COUNT_CAP); task_page also gives the next cursor."""
    page = task_page(db, actor=actor, filters=filters, clock=clock)
    return page.tasks, page.total


def get_task(db: Database, task_id: str, *, actor: UserView) -> TaskView:
    """One task with its form (JSON Schema and UI hints)."""
    with db.read() as session:
        row = session.get(TaskRecord, task_id)
        if row is None:
            raise NotFound(f"no task {task_id!r}")
        if not may_work(actor, row):
            raise Forbidden("this task belongs to another group or unit")
        form = None
        if row.form and forms.form_exists(row.form):
            definition = forms.get_form(row.form)
            form = FormView(name=definition.name, schema=definition.schema, ui=definition.ui)
        return task_view(row, form)


def run_decision(ruleset: str, facts: Any, on: Any = None) -> dict[str, Any]:
    """Run a rule set on facts without a case (for testing rules): decision, fired rules, parameters."""
    if not isinstance(facts, dict):
        raise InvalidData("facts must be a JSON object", fields={"facts": "must be an object"})
    if not rules.ruleset_exists(ruleset):
        raise NotFound(f"no rule set {ruleset!r}")
    try:
        decision = rules.decide(ruleset, facts, on=on)
    except rules.RulesError as exc:
        raise InvalidData(exc.message, fields=exc.fields) from None
    return decision.to_dict()


def case_diagram(db: Database, case_id: str, *, actor: UserView) -> tuple[str, list[str], list[str]]:
    """The BPMN XML of the case's version, the element ids it has passed, and those it waits in."""
    with db.read() as session:
        case = case_for_reading(session, case_id, actor)
        row = session.get(ProcessVersion, case.process_version_id)
        assert row is not None
        passed: list[str] = []
        for kind, detail in session.execute(
            select(AuditEvent.kind, AuditEvent.detail)
            .where(AuditEvent.case_id == case_id, AuditEvent.kind.in_(("engine_steps", "task_completed")))
            .order_by(AuditEvent.id)
        ):
            passed.extend(detail.get("elements", []) if kind == "engine_steps" else [detail.get("task")])
        waiting = list(session.scalars(select(TaskRecord.name).where(
            TaskRecord.case_id == case_id, TaskRecord.status.in_(_OPEN))))
        return row.bpmn_xml, list(dict.fromkeys(item for item in passed if item)), waiting


def describe_rules(ruleset: str) -> dict[str, dict[str, str]]:
    """The rule ids of a rule set in words (Danish, English) with their legal source, for the case page."""
    if not rules.ruleset_exists(ruleset):
        raise NotFound(f"no rule set {ruleset!r}")
    return rules.rule_descriptions(ruleset)
