"""Finding a case or a task for the caller: the row if they may read or work on it, and the view they get.

The permission rules themselves are those of ``people.identity`` (``may_work``, ``visible_tasks_clause``);
this is where the use cases apply them to rows, so the web pages and the API can never disagree.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from processes.deployments import SPEC_CACHE
from processes.errors import Conflict, Forbidden, NotFound
from processes.people.identity import may_work, sees_all_units, visible_tasks_clause
from processes.store.audit import RECENT_HISTORY, history
from processes.store.models import Case, DecisionRecord, Incident, TaskRecord
from processes.views import (
    OPEN_TASK_STATUSES,
    CaseStatus,
    CaseView,
    DecisionView,
    FormView,
    IncidentView,
    TaskStatus,
    TaskView,
    UserView,
)

OPEN = [status.value for status in OPEN_TASK_STATUSES]


def task_view(row: TaskRecord, form: FormView | None = None) -> TaskView:
    return TaskView(
        id=row.id, case_id=row.case_id, process=row.process_key, name=row.name, title=row.title,
        group=row.group, unit=row.unit, assignee=row.assignee, status=TaskStatus(row.status),
        due_at=row.due_at, created_at=row.created_at, completed_at=row.completed_at,
        completed_by=row.completed_by, form_name=row.form, form=form,
    )


def task_for_work(session: Session, task_id: str, actor: UserView) -> TaskRecord:
    """The open task, if the caller may work on it (NotFound / Forbidden / Conflict otherwise)."""
    row = session.get(TaskRecord, task_id)
    if row is None:
        raise NotFound(f"no task {task_id!r}")
    if not may_work(actor, row):
        raise Forbidden("this task belongs to another group or unit")
    if row.status not in OPEN:
        raise Conflict(f"the task is already {row.status}")
    return row


def may_read_case(session: Session, case: Case, actor: UserView) -> bool:
    if case.started_by == actor.username or sees_all_units(actor):
        return True
    query = select(TaskRecord.id).where(TaskRecord.case_id == case.id, visible_tasks_clause(actor)).limit(1)
    return session.scalar(query) is not None


def case_for_reading(session: Session, case_id: str, actor: UserView) -> Case:
    """The case, if the caller may read it (NotFound / Forbidden otherwise)."""
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"no case {case_id!r}")
    if not may_read_case(session, case, actor):
        raise Forbidden("you have no task in this case")
    return case


RECENT_DECISIONS = 50
"""How many of a case's newest decisions a case view carries (a case that loops may take one per round)."""


def decision_view(row: DecisionRecord) -> DecisionView:
    """A decision with what explains it: facts, derived facts, the law's date and the document versions."""
    return DecisionView(
        ruleset=row.ruleset, decision=row.decision, fired=row.fired, parameters=row.parameters, at=row.at,
        task=row.task, on=row.on.isoformat(), law_date_from=row.law_date_from, facts=row.facts or {},
        derived=row.derived or {}, ruleset_version=row.ruleset_version, parameters_version=row.parameters_version,
    )


def case_view(session: Session, case: Case) -> CaseView:
    """The case as its readers see it; every part is bounded, so reading it costs the same at any age."""
    decisions = list(session.scalars(select(DecisionRecord).where(DecisionRecord.case_id == case.id)
                                     .order_by(DecisionRecord.id.desc()).limit(RECENT_DECISIONS)))
    open_rows = session.scalars(select(TaskRecord).where(TaskRecord.case_id == case.id, TaskRecord.status.in_(OPEN))
                                .order_by(TaskRecord.created_at, TaskRecord.id))
    version = SPEC_CACHE.get(session, case.process_version_id).version
    recent, older = history(session, case.id, limit=RECENT_HISTORY)
    return CaseView(
        id=case.id, process=case.process_key, version=version, unit=case.unit, status=CaseStatus(case.status),
        data=case.data,
        decisions=[decision_view(d) for d in reversed(decisions)],
        tasks=[task_view(row) for row in open_rows], history=recent,
        incidents=[IncidentView(kind=i.kind, message=i.message, at=i.at, resolved_at=i.resolved_at)
                   for i in session.scalars(select(Incident).where(Incident.case_id == case.id).order_by(Incident.id))],
        created_at=case.created_at, updated_at=case.updated_at, started_by=case.started_by, revision=case.revision,
        history_next_cursor=None if older is None else str(older),
    )
