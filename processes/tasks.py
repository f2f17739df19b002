"""Read-only use cases: the task queue, one task with its form, the path of a case, rules in words.

Nothing here changes the database; the queue is one indexed query for the page and one for the total.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

import forms
import rules
from processes.cases import case_for_reading, task_view
from processes.clock import SYSTEM_CLOCK, Clock
from processes.engine import runtime
from processes.errors import Forbidden, InvalidData, NotFound
from processes.people.identity import may_work, visible_tasks_clause
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


def _filtered_by_time(query: Any, filters: TaskFilter, now: datetime) -> Any:
    if filters.overdue is True:
        query = query.where(TaskRecord.due_at.is_not(None), TaskRecord.due_at < now)
    elif filters.overdue is False:
        query = query.where((TaskRecord.due_at.is_(None)) | (TaskRecord.due_at >= now))
    if filters.due_before is not None:
        if filters.due_before.tzinfo is None:
            raise InvalidData("due_before needs a time zone", fields={"due_before": "give Z or an offset"})
        query = query.where(TaskRecord.due_at.is_not(None), TaskRecord.due_at < filters.due_before)
    return query


def _filtered(query: Any, filters: TaskFilter, actor: UserView) -> Any:
    status = filters.status or "open"
    query = query.where(TaskRecord.status.in_(_OPEN) if status == "open" else TaskRecord.status == status)
    for column, value in ((TaskRecord.group, filters.group), (TaskRecord.unit, filters.unit),
                          (TaskRecord.process_key, filters.process), (TaskRecord.case_id, filters.case_id)):
        if value is not None:
            query = query.where(column == value)
    if filters.assignee == "none":
        query = query.where(TaskRecord.assignee.is_(None))
    elif filters.assignee is not None:
        query = query.where(TaskRecord.assignee == (actor.username if filters.assignee == "me" else filters.assignee))
    return query


SORTABLE = {
    "created_at": TaskRecord.created_at, "due_at": TaskRecord.due_at, "title": TaskRecord.title,
    "unit": TaskRecord.unit, "case_id": TaskRecord.case_id, "assignee": TaskRecord.assignee,
}


def list_tasks(
    db: Database, *, actor: UserView, filters: TaskFilter = TaskFilter(), clock: Clock = SYSTEM_CLOCK
) -> tuple[list[TaskView], int]:
    """The caller's queue: one indexed query for the page and one for the total."""
    if filters.status not in (None, "open", *(s.value for s in TaskStatus)):
        raise InvalidData("unknown status", fields={"status": "one of open, ready, claimed, completed, cancelled"})
    with db.read() as session:
        query = _filtered(select(TaskRecord).where(visible_tasks_clause(actor)), filters, actor)
        query = _filtered_by_time(query, filters, runtime.now_utc(clock))
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        column = SORTABLE.get(filters.sort)
        if column is None:
            raise InvalidData("unknown sort", fields={"sort": f"one of {', '.join(SORTABLE)}"})
        ordering = (column.desc().nulls_last(), TaskRecord.id.desc()) if filters.descending else (
            column.asc().nulls_last(), TaskRecord.id)
        rows = session.scalars(query.order_by(*ordering).limit(filters.limit).offset(filters.offset))
        return [task_view(row) for row in rows], total


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
