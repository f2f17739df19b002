"""Use cases on tasks: the queue, one task with its form, claiming and giving back, completing a task.

The queue is one merged index query for the page and one capped count (processes/taskqueue.py).
Completing a task moves its case on through ``advance.advance_case``, in the one transaction of the call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, exists, or_, select
from sqlalchemy.orm import Session

from processes import bundles, taskqueue
from processes.access import task_for_reading, task_for_work
from processes.advance import OPEN, advance_case, checked_data, completing
from processes.caseview import case_view, task_view
from processes.clock import SYSTEM_CLOCK, Clock
from processes.engine import runtime
from processes.errors import Conflict, InvalidData
from processes.store.audit import AuditKind, record
from processes.store.db import Database, unit_of_work
from processes.store.models import Case, TaskDraft, TaskRecord
from processes.views import OPEN_TASK_STATUSES, CaseView, FormView, LinkGrant, TaskStatus, TaskView, UserView

Principal = UserView | LinkGrant

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


def _english(row: Any) -> dict[str, str]:
    """The task's English title for a history entry, if its diagram gives one."""
    return {"title_en": row.title_en} if row.title_en else {}


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
    with db.read() as session:
        return page_in(session, actor, filters, clock)


def page_in(session: Session, actor: UserView, filters: TaskFilter, clock: Clock) -> TaskPage:
    """task_page inside the caller's transaction."""
    result = taskqueue.queue_page(session, actor, queue_request(filters, actor, runtime.now_utc(clock)))
    cases = taskqueue.cases_of(session, result.rows)
    return TaskPage([task_view(row, case=cases.get(row.case_id)) for row in result.rows], result.total,
                    result.total_capped, result.next_cursor)


def list_tasks(
    db: Database, *, actor: UserView, filters: TaskFilter = TaskFilter(), clock: Clock = SYSTEM_CLOCK
) -> tuple[list[TaskView], int]:
    """The caller's queue page and its total (exact up to COUNT_CAP); task_page also gives the next cursor."""
    page = task_page(db, actor=actor, filters=filters, clock=clock)
    return page.tasks, page.total


def get_task(db: Database, task_id: str, *, actor: Principal) -> TaskView:
    """One task with its form (JSON Schema and UI hints)."""
    with task_for_reading(db, task_id, actor) as (session, row):
        form = None
        case = session.get(Case, row.case_id)
        assert case is not None  # a foreign key guarantees it
        definition = bundles.for_version(session, case.process_version_id).form(row.form) if row.form else None
        if definition is not None:  # the form of the case's own process version
            form = FormView(name=definition.name, schema=definition.schema, ui=definition.ui)
        return task_view(row, form, case)


def complete_task(
    db: Database, task_id: str, *, data: Any, actor: Principal, clock: Clock = SYSTEM_CLOCK
) -> CaseView:
    """Complete a user task with its form data and run the case on until it waits."""
    with unit_of_work(db) as session:
        case = complete_in(session, task_id, data=data, actor=actor, clock=clock)
        session.flush()
        return case_view(session, case)


_DELETE_DRAFTS = delete(TaskDraft).where(TaskDraft.task_id == bindparam("task_id"))  # built once (see caseview)


_TASK_WITH_ITS_CASE = (
    select(TaskRecord, Case, exists().where(TaskDraft.task_id == bindparam("task_id")).label("has_drafts"))
    .outerjoin(Case, and_(Case.id == TaskRecord.case_id, TaskRecord.id == bindparam("task_id")))
    .where(TaskRecord.case_id == select(TaskRecord.case_id).where(TaskRecord.id == bindparam("task_id"))
           .scalar_subquery(),
           or_(TaskRecord.id == bindparam("task_id"), TaskRecord.status.in_(OPEN)))
)
"""A task, its case, the case's open tasks and whether the task has drafts, in one statement (a completion
needs all four). The case is joined to the task's own row only: joined to every open task's row, its data
and state were decoded once per open task (a 300-item fan-out read its case 300 times a completion)."""


def complete_in(session: Session, task_id: str, *, data: Any, actor: Principal, clock: Clock) -> Case:
    """complete_task inside the caller's transaction; the case it moved on."""
    loaded = session.execute(_TASK_WITH_ITS_CASE, {"task_id": task_id}).all()  # now in the identity map
    row = task_for_work(session, task_id, actor)
    if row.assignee not in (None, actor.username) and not isinstance(actor, LinkGrant):
        raise Conflict(f"the task is claimed by {row.assignee}")
    case = session.get(Case, row.case_id)
    assert case is not None  # a foreign key guarantees it
    data = checked_data(row.form, data, bundles.for_version(session, case.process_version_id))

    def completed() -> None:
        row.status, row.completed_at, row.completed_by = (
            TaskStatus.COMPLETED.value, runtime.now_utc(clock), actor.username)
        if row.assignee is None:  # worked without claiming first: the history still says who took it
            row.assignee = actor.username
            record(session, case_id=case.id, actor=actor.username, kind=AuditKind.TASK_CLAIMED,
                   detail={"task": row.name, "title": row.title, **_english(row)})
        if has_drafts:  # drafts of a done task go (a draft is saved in a transaction that checks the task open)
            session.connection().execute(_DELETE_DRAFTS, {"task_id": row.id})
        record(session, case_id=case.id, actor=actor.username, kind=AuditKind.TASK_COMPLETED,
               detail={"task": row.name, "title": row.title, **_english(row), "data": data})

    open_rows = [task for task, _case, _drafts in loaded if task.status in OPEN] if loaded else None
    has_drafts = loaded[0].has_drafts if loaded else True  # not loaded (cannot be, but then ask the database)
    advance_case(session, case, completing(task_id, data, then=completed, language=getattr(actor, "language", "da")),
                 clock=clock, open_rows=open_rows)
    return case


def _set_claim(db: Database, task_id: str, actor: UserView, *, claim: bool, clock: Clock) -> TaskView:
    with unit_of_work(db) as session:
        row = task_for_work(session, task_id, actor)
        if claim:
            if row.assignee not in (None, actor.username):
                raise Conflict(f"the task is already claimed by {row.assignee}")
            row.assignee, row.status = actor.username, TaskStatus.CLAIMED.value
        else:
            if row.group is None:
                raise Conflict("the task is assigned to one person by name: it has no group to go back to")
            if row.assignee != actor.username and "admins" not in actor.groups:
                raise Conflict("only the user who claimed the task can unclaim it")
            row.assignee, row.status = None, TaskStatus.READY.value
        case = session.get(Case, row.case_id)
        assert case is not None
        case.updated_at = runtime.now_utc(clock)  # bumps the revision: a racing claim or completion loses
        record(session, case_id=row.case_id, actor=actor.username,
               kind=AuditKind.TASK_CLAIMED if claim else AuditKind.TASK_UNCLAIMED, detail={"task": row.name})
        session.flush()
        return task_view(row)


def claim_task(db: Database, task_id: str, *, actor: UserView, clock: Clock = SYSTEM_CLOCK) -> TaskView:
    """Take a task: it becomes yours and leaves your colleagues' unassigned queue."""
    return _set_claim(db, task_id, actor, claim=True, clock=clock)


def unclaim_task(db: Database, task_id: str, *, actor: UserView, clock: Clock = SYSTEM_CLOCK) -> TaskView:
    """Give a claimed task back to the group."""
    return _set_claim(db, task_id, actor, claim=False, clock=clock)
