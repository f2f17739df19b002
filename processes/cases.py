"""Use cases on cases and tasks. Each call is one transaction: it commits whole or changes nothing.

Start a case / complete a task: load the case row with its revision, restore the workflow, validate the
form data, complete the task, run the engine until it waits, update the task index, write decisions,
outbox messages and audit events, save the state. The case row's revision is checked by the UPDATE, so a
concurrent change of the same case fails with Conflict; on SQLite writers are also serialised by
``BEGIN IMMEDIATE``, so the loser sees the winner's result and gets Conflict before doing anything.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

import forms
from processes import outbox, runtime
from processes.audit import history, record
from processes.clock import SYSTEM_CLOCK, Clock
from processes.db import Database
from processes.deployments import SPEC_CACHE, LoadedProcess, latest_version
from processes.errors import Conflict, EngineFailure, Forbidden, InvalidData, NotFound
from processes.identity import may_work, sees_all_units, visible_tasks_clause
from processes.models import (
    Case,
    CaseTimer,
    DecisionRecord,
    Incident,
    TaskDraft,
    TaskRecord,
)
from processes.serializer import SERIALIZER_VERSION, UnsafeValue, dump_state, escape, load_state
from processes.timers import next_due
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

_OPEN = [status.value for status in OPEN_TASK_STATUSES]


@contextlib.contextmanager
def unit_of_work(db: Database) -> Iterator[Session]:
    """db.write(), with a lost optimistic-lock race reported as Conflict."""
    try:
        with db.write() as session:
            yield session
    except StaleDataError:
        raise Conflict("the case was changed by someone else at the same time; reload and try again") from None


def _validate_form(form_name: str | None, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidData("data must be a JSON object", fields={"data": "must be an object"})
    if form_name is not None:
        errors = forms.validate(form_name, data)
        if errors:
            raise InvalidData(f"the form {form_name!r} has {len(errors)} invalid field(s)", fields=errors)
    try:
        escape(data)
    except UnsafeValue as exc:
        raise InvalidData(str(exc), fields={exc.path: exc.problem}) from None
    return data


def task_view(row: TaskRecord, form: FormView | None = None) -> TaskView:
    return TaskView(
        id=row.id, case_id=row.case_id, process=row.process_key, name=row.name, title=row.title,
        group=row.group, unit=row.unit, assignee=row.assignee, status=TaskStatus(row.status),
        due_at=row.due_at, created_at=row.created_at, completed_at=row.completed_at,
        completed_by=row.completed_by, form_name=row.form, form=form,
    )


def restore_workflow(session: Session, case: Case, run: runtime.Run) -> tuple[BpmnWorkflow, LoadedProcess]:
    loaded = SPEC_CACHE.get(session, case.process_version_id)
    workflow = load_state(case.state, case.serializer_version, loaded.parsed.spec, loaded.parsed.subprocess_specs)
    return runtime.attach(workflow, run), loaded


def _sync_task_index(
    session: Session, case: Case, workflow: BpmnWorkflow, open_rows: list[TaskRecord], run: runtime.Run, *,
    context: dict[str, Any],
) -> list[TaskRecord]:
    """Bring the task index in step with the workflow: new ready tasks in, vanished ones cancelled.

    Returns the rows that are open afterwards.
    """
    ready = {str(task.id): task for task in runtime.ready_user_tasks(workflow)}
    now = runtime.now_utc(run.clock)
    for row in open_rows:
        if row.id not in ready:
            row.status = TaskStatus.CANCELLED.value
            row.completed_at = now
            record(session, case_id=case.id, actor=None, kind="task_cancelled", detail={"task": row.name})
    known = {row.id for row in open_rows}
    created: list[TaskRecord] = []
    for task_id, task in ready.items():
        if task_id in known:
            continue
        properties = runtime.task_properties(task)
        row = TaskRecord(
            id=task_id, case_id=case.id, process_key=case.process_key, name=task.task_spec.bpmn_id,
            title=task.task_spec.bpmn_name or task.task_spec.bpmn_id, group=task.task_spec.lane, unit=case.unit,
            assignee=case.started_by if properties.get("assignTo") == "starter" else None,
            status=TaskStatus.READY.value, form=forms.form_name_from_properties(properties), created_at=now,
            due_at=runtime.due_at_of(task, run.clock),
        )
        session.add(row)
        created.append(row)
        record(session, case_id=case.id, actor=None, kind="task_created",
               detail={"task": row.name, "title": row.title, "group": row.group, "assignee": row.assignee})
        outbox.queue(  # "a new task for you / your group", in the same transaction as the task
            session, case_id=case.id, unit=case.unit, template="task_assigned",
            recipient_user=row.assignee, recipient_group=None if row.assignee else row.group,
            context={**context, "task_title": row.title, "task_id": row.id,
                     **({"due_at": row.due_at.isoformat()} if row.due_at else {})},
            now=now,
        )
    return [row for row in open_rows if row.status in _OPEN] + created


def persist_run(
    session: Session, *, case: Case, workflow: BpmnWorkflow, loaded: LoadedProcess, run: runtime.Run,
    open_rows: list[TaskRecord], depth: int = 0,
) -> None:
    now = runtime.now_utc(run.clock)
    for decision in run.decisions:
        session.add(DecisionRecord(
            case_id=case.id, task=decision["task"], ruleset=decision["ruleset"], decision=decision["decision"],
            fired=decision["fired"], parameters=decision["parameters"],
            on=runtime.local_date_of(decision["on"]), at=now,
        ))
        record(session, case_id=case.id, actor=None, kind="decision", detail={
            key: decision[key] for key in ("task", "ruleset", "decision", "fired", "parameters", "on")
        })
    context = {"case_id": case.id, "process": case.process_key, "process_name": loaded.parsed.name,
               "unit": case.unit, "data": runtime.case_data(workflow)}
    if run.passed:
        record(session, case_id=case.id, actor=None, kind="engine_steps", detail={"elements": run.passed})
    still_open = _sync_task_index(session, case, workflow, open_rows, run, context=context)
    if len(still_open) == 1:  # a reminder or escalation is about the one task the case waits in: name it
        waiting = still_open[0]
        context = {**context, "task_title": waiting.title, "task_id": waiting.id,
                   **({"due_at": waiting.due_at.isoformat()} if waiting.due_at else {})}
    for message in run.notifications:
        written = outbox.queue(
            session, case_id=case.id, unit=message["unit"], template=message["template"],
            recipient_user=message["recipient_user"], recipient_group=message["recipient_group"],
            context=context, now=now,
        )
        record(session, case_id=case.id, actor=None, kind="notification_queued",
               detail={**message, "messages": written})
    _start_children(session, case, run, depth)
    status = runtime.case_status(workflow, loaded.end_statuses)
    _schedule_wakeup(session, case, workflow, now)
    runtime.compact(workflow)
    case.state = dump_state(workflow)
    case.serializer_version = SERIALIZER_VERSION
    case.data = runtime.case_data(workflow)
    runtime.release(workflow)  # saved: free it now rather than at the next garbage collection
    case.updated_at = now
    if status != CaseStatus.RUNNING and case.status == CaseStatus.RUNNING.value:
        case.completed_at = now
        record(session, case_id=case.id, actor=None, kind="case_ended", detail={"status": status.value})
    case.status = status.value


def _schedule_wakeup(session: Session, case: Case, workflow: BpmnWorkflow, now: datetime) -> None:
    """Keep the case's row in the wake-up table in step with its earliest waiting timer."""
    due = next_due(workflow)
    timer = session.get(CaseTimer, case.id)
    if due is None:
        if timer is not None:
            session.delete(timer)
    elif timer is None:
        session.add(CaseTimer(case_id=case.id, due_at=due, status="scheduled", attempts=0))
    else:
        if timer.status == "incident":  # a person moved the case on: its timers get a fresh start
            for incident in session.scalars(select(Incident).where(
                    Incident.case_id == case.id, Incident.kind == "timer", Incident.resolved_at.is_(None))):
                incident.resolved_at = now
            record(session, case_id=case.id, actor=None, kind="incident_resolved", detail={"kind": "timer"})
        timer.due_at, timer.status, timer.attempts, timer.last_error = due, "scheduled", 0, None


def _check_unit(actor: UserView, unit: str) -> None:
    if unit not in actor.units and not sees_all_units(actor):
        raise Forbidden(f"you are not a member of unit {unit!r}", fields={"unit": "not one of your units"})


MAX_CASE_NESTING = 3


def _start_in_session(
    session: Session, *, process: str, unit: str, data: dict[str, Any], starter: str | None, clock: Clock,
    parent_id: str | None = None, depth: int = 0,
) -> Case:
    """Create and run a case of the newest version of ``process`` inside the caller's transaction."""
    version = latest_version(session, process)
    loaded = SPEC_CACHE.get(session, version.id)
    data = _validate_form(loaded.parsed.start_form, data)
    case = Case(
        id=str(uuid.uuid4()), process_version_id=version.id, process_key=version.key, unit=unit,
        status=CaseStatus.RUNNING.value, data={}, state="", serializer_version=SERIALIZER_VERSION,
        started_by=starter, created_at=runtime.now_utc(clock),
    )
    session.add(case)
    session.flush()  # the case row first: audit events and tasks refer to it
    run = runtime.Run(case_id=case.id, unit=unit, starter=starter, clock=clock)
    workflow = runtime.new_workflow(loaded.parsed, run)
    runtime.set_start_data(workflow, data)
    detail = {"process": version.key, "version": version.version, "unit": unit, "data": data}
    if parent_id is not None:
        detail["parent_case"] = parent_id
    record(session, case_id=case.id, actor=None if parent_id else starter, kind="case_started", detail=detail)
    runtime.advance(workflow, run)
    persist_run(session, case=case, workflow=workflow, loaded=loaded, run=run, open_rows=[], depth=depth)
    return case


def start_case(
    db: Database, *, process: str, unit: str, data: Any, actor: UserView, clock: Clock = SYSTEM_CLOCK
) -> CaseView:
    """Start the newest version of a process for a unit, with the start form's data."""
    with unit_of_work(db) as session:
        latest_version(session, process)  # an unknown process is a 404 before a unit question is a 403
        _check_unit(actor, unit)
        case = _start_in_session(session, process=process, unit=unit, data=data, starter=actor.username,
                                 clock=clock)
        session.flush()
        return _case_view(session, case)


def _start_children(session: Session, case: Case, run: runtime.Run, depth: int) -> None:
    """Cases a ``start_case`` service task asked for, started in the same transaction."""
    for request in run.started_cases:
        if depth >= MAX_CASE_NESTING:
            raise EngineFailure(f"cases start cases more than {MAX_CASE_NESTING} levels deep")
        try:
            child = _start_in_session(session, process=request["process"], unit=case.unit, data=request["data"],
                                      starter=case.started_by, clock=run.clock, parent_id=case.id, depth=depth + 1)
        except (NotFound, InvalidData) as exc:
            raise EngineFailure(f"task {request['task']} could not start {request['process']!r}: {exc.message}",
                                fields=exc.fields) from None
        record(session, case_id=case.id, actor=None, kind="case_spawned",
               detail={"task": request["task"], "process": request["process"], "case": child.id})


def open_task_rows(session: Session, case_id: str) -> list[TaskRecord]:
    return list(session.scalars(
        select(TaskRecord).where(TaskRecord.case_id == case_id, TaskRecord.status.in_(_OPEN))
    ))


def task_for_work(session: Session, task_id: str, actor: UserView) -> TaskRecord:
    row = session.get(TaskRecord, task_id)
    if row is None:
        raise NotFound(f"no task {task_id!r}")
    if not may_work(actor, row):
        raise Forbidden("this task belongs to another group or unit")
    if row.status not in _OPEN:
        raise Conflict(f"the task is already {row.status}")
    return row


def complete_task(
    db: Database, task_id: str, *, data: Any, actor: UserView, clock: Clock = SYSTEM_CLOCK
) -> CaseView:
    """Complete a user task with its form data and run the case on until it waits."""
    with unit_of_work(db) as session:
        row = task_for_work(session, task_id, actor)
        if row.assignee not in (None, actor.username):
            raise Conflict(f"the task is claimed by {row.assignee}")
        data = _validate_form(row.form, data)
        case = session.get(Case, row.case_id)
        assert case is not None  # a foreign key guarantees it
        run = runtime.Run(case_id=case.id, unit=case.unit, starter=case.started_by, clock=clock)
        workflow, loaded = restore_workflow(session, case, run)
        if runtime.complete_user_task(workflow, task_id, data, run) is None:
            raise Conflict("the task is not ready in the workflow")
        now = runtime.now_utc(clock)
        row.status, row.completed_at, row.completed_by = TaskStatus.COMPLETED.value, now, actor.username
        row.assignee = row.assignee or actor.username
        session.execute(delete(TaskDraft).where(TaskDraft.task_id == row.id))  # drafts of a done task go
        record(session, case_id=case.id, actor=actor.username, kind="task_completed",
               detail={"task": row.name, "title": row.title, "data": data})
        runtime.advance(workflow, run)
        open_rows = [r for r in open_task_rows(session, case.id) if r.id != row.id]
        persist_run(session, case=case, workflow=workflow, loaded=loaded, run=run, open_rows=open_rows)
        session.flush()
        return _case_view(session, case)


def _set_claim(db: Database, task_id: str, actor: UserView, *, claim: bool, clock: Clock) -> TaskView:
    with unit_of_work(db) as session:
        row = task_for_work(session, task_id, actor)
        if claim:
            if row.assignee not in (None, actor.username):
                raise Conflict(f"the task is already claimed by {row.assignee}")
            row.assignee, row.status = actor.username, TaskStatus.CLAIMED.value
        else:
            if row.assignee != actor.username and "admins" not in actor.groups:
                raise Conflict("only the user who claimed the task can unclaim it")
            row.assignee, row.status = None, TaskStatus.READY.value
        case = session.get(Case, row.case_id)
        assert case is not None
        case.updated_at = runtime.now_utc(clock)  # bumps the revision: a racing claim or completion loses
        record(session, case_id=row.case_id, actor=actor.username,
               kind="task_claimed" if claim else "task_unclaimed", detail={"task": row.name})
        session.flush()
        return task_view(row)


def claim_task(db: Database, task_id: str, *, actor: UserView, clock: Clock = SYSTEM_CLOCK) -> TaskView:
    """Take a task: it becomes yours and leaves your colleagues' unassigned queue."""
    return _set_claim(db, task_id, actor, claim=True, clock=clock)


def unclaim_task(db: Database, task_id: str, *, actor: UserView, clock: Clock = SYSTEM_CLOCK) -> TaskView:
    """Give a claimed task back to the group."""
    return _set_claim(db, task_id, actor, claim=False, clock=clock)


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


def _case_view(session: Session, case: Case) -> CaseView:
    decisions = session.scalars(select(DecisionRecord).where(DecisionRecord.case_id == case.id)
                                .order_by(DecisionRecord.id))
    open_rows = session.scalars(select(TaskRecord).where(TaskRecord.case_id == case.id, TaskRecord.status.in_(_OPEN))
                                .order_by(TaskRecord.created_at, TaskRecord.id))
    version = SPEC_CACHE.get(session, case.process_version_id).version
    return CaseView(
        id=case.id, process=case.process_key, version=version, unit=case.unit, status=CaseStatus(case.status),
        data=case.data,
        decisions=[DecisionView(ruleset=d.ruleset, decision=d.decision, fired=d.fired, parameters=d.parameters,
                                at=d.at, task=d.task) for d in decisions],
        tasks=[task_view(row) for row in open_rows], history=history(session, case.id),
        incidents=[IncidentView(kind=i.kind, message=i.message, at=i.at, resolved_at=i.resolved_at)
                   for i in session.scalars(select(Incident).where(Incident.case_id == case.id).order_by(Incident.id))],
        created_at=case.created_at, updated_at=case.updated_at, started_by=case.started_by, revision=case.revision,
    )


def get_case(db: Database, case_id: str, *, actor: UserView) -> CaseView:
    """A case with its data, decisions, open tasks and history, if the caller may see it."""
    with db.read() as session:
        case = case_for_reading(session, case_id, actor)
        return _case_view(session, case)
