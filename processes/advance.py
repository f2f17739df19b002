"""One step of a case: the single path by which anything moves a case on, and everything that follows from it.

Every use case that moves a case (start, complete a task, a timer falling due; a BPMN message would be
one more ``Move``) calls :func:`advance_case` inside its own transaction with the event that moves it.
The step restores the workflow, lets the event happen, runs the engine until the workflow waits, and
then writes what the run did, one named job each: decisions, engine steps, the task index, outbox
messages, child cases, the wake-up row, compaction, the stored state, the status.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

import forms
import rules
from processes import bundles, calls, links
from processes.clock import Clock
from processes.deployments import SPEC_CACHE, LoadedProcess, deployed, latest_version
from processes.engine import events, runtime, titles
from processes.engine.elements import UserTask, Workflow, describe_user_task
from processes.engine.loader import ParsedProcess
from processes.engine.serializer import SERIALIZER_VERSION, UnsafeValue, dump_state, escape, load_state
from processes.engine.timers import next_due
from processes.errors import Conflict, EngineFailure, InvalidData, NotFound
from processes.notify import channels, inapp, outbox, webhooks
from processes.routing import organisation_functions, route
from processes.store import search
from processes.store.audit import AuditKind, record
from processes.store.db import DECISIONS_RECORDED, OPEN_ROWS_KNOWN
from processes.store.models import Case, CaseTimer, DecisionRecord, Incident, ProcessVersion, TaskRecord, Unit
from processes.views import OPEN_TASK_STATUSES, CaseStatus, TaskStatus

OPEN = [status.value for status in OPEN_TASK_STATUSES]
MAX_CASE_NESTING = 3

Move = Callable[[Workflow, runtime.Run], None]
"""What moves a case on, applied to its restored workflow before the engine runs (may record audit events)."""


def organisation_units(session: Session) -> list[str]:
    """Every unit below the organisation's root, by code (the sandbox's ``organisation_units()``)."""
    return list(session.scalars(select(Unit.code).where(Unit.parent.is_not(None)).order_by(Unit.code)))


def advance_case(
    session: Session, case: Case, move: Move, *, clock: Clock, depth: int = 0,
    open_rows: list[TaskRecord] | None = None,
) -> None:
    """Apply ``move`` to the case, run it until it waits, and write what happened, in the caller's transaction.

    ``open_rows``: the case's open task rows, if the caller has just loaded them all (no query for them then).
    """
    bundle = bundles.for_version(session, case.process_version_id)
    run = runtime.Run(case_id=case.id, unit=case.unit, starter=case.started_by, clock=clock, book=bundle,
                      mail=bundle.mail, units=lambda: organisation_units(session),
                      organisation=organisation_functions(session, case))
    workflow, loaded, resolved = _restore(session, case, run)
    had_timer = case.state != "" and next_due(workflow) is not None  # the case has a wake-up row
    calls_before = resolved.snapshot(workflow)
    move(workflow, run)
    runtime.advance(workflow, run)
    now = runtime.now_utc(clock)
    data = runtime.case_data(workflow)
    context = {"case_id": case.id, "process": case.process_key, "process_name": loaded.parsed.name,
               "unit": case.unit, "data": data, "case_title": titles.fill(loaded.parsed.case_title, data)}
    _record_decisions(session, case, run, now)
    _record_engine_steps(session, case, run)
    still_open = _sync_task_index(session, case, workflow, run, context=context, open_rows=open_rows)
    session.info.setdefault(OPEN_ROWS_KNOWN, {})[case.id] = still_open  # the case view after the step reuses them
    _queue_notifications(session, case, run, _about_the_waiting_task(context, still_open), now)
    _queue_webhooks(session, case, run, now)
    _start_children(session, case, run, depth)
    calls.record_calls(session, case, workflow, resolved, calls_before)
    status = runtime.case_status(workflow, loaded.end_statuses)  # before compaction drops the end events
    _schedule_wakeup(session, case, workflow, now, had_timer=had_timer)
    runtime.compact(workflow)
    _save_state(case, workflow, now, data)
    _describe_case(session, case, loaded.parsed, run.book)
    runtime.release(workflow)  # saved: free the task tree now rather than at the next garbage collection
    _update_status(session, case, status, now)
    _send_messages(session, case, run, depth)


# --- the moves --------------------------------------------------------------------------------------------

def starting_with(data: dict[str, Any]) -> Move:
    """A new case receives its start form's data (and starts now, whatever timer its start event has)."""
    def move(workflow: Workflow, _run: runtime.Run) -> None:
        events.start_timer_fired(workflow)
        runtime.set_start_data(workflow, data)
    return move


def delivering(name: str, payload: Any, *, then: Callable[[dict[str, Any]], None]) -> Move:
    """A BPMN message comes into the case; its payload must fit the form of the event that waits for it.

    ``then`` records the delivery with the checked payload. Conflict if nothing waits for the message.
    """
    def move(workflow: Workflow, run: runtime.Run) -> None:
        waiting = {message.name: message for message in events.waiting_messages(workflow)}
        if name not in waiting:
            raise Conflict(f"the case is not waiting for message {name!r}",
                           fields={"message": f"not one of {sorted(waiting)}"})
        data = checked_data(waiting[name].form, payload)
        try:
            events.deliver_message(workflow, name, data, run.clock)
        except events.NotWaiting as exc:
            raise Conflict(str(exc), fields={"message": "no waiting event correlates with this payload"}) from None
        then(data)
    return move


def completing(task_id: str, data: dict[str, Any], *, then: Callable[[], None], language: str = "da") -> Move:
    """A person completes a user task with its form data; ``then`` records the completion.

    ``language`` is the person's: a refusal (``refuseWhen``) speaks it."""
    def move(workflow: Workflow, run: runtime.Run) -> None:
        run.language = language
        if runtime.complete_user_task(workflow, task_id, data, run) is None:
            raise Conflict("the task is not ready in the workflow")
        then()
    return move


def timers_due(session: Session, case: Case, due_at: datetime, now: datetime) -> Move:
    """The case's timers that are due at the run's clock fire."""
    def move(workflow: Workflow, run: runtime.Run) -> None:
        runtime.fire_timers(workflow, run)
        record(session, case_id=case.id, actor=None, kind=AuditKind.TIMER_FIRED, at=now,
               detail={"due_at": due_at.isoformat()})
    return move


# --- starting a case (also a child case, inside its parent's step) ----------------------------------------

def checked_data(form_name: str | None, data: Any, bundle: bundles.Bundle | None = None) -> dict[str, Any]:
    """The submitted data if it is a JSON object valid for the form (the version of ``bundle``, the case's
    process bundle; default the shipped file) and storable in a workflow."""
    if not isinstance(data, dict):
        raise InvalidData("data must be a JSON object", fields={"data": "must be an object"})
    if form_name is not None:
        errors = bundle.validate(form_name, data) if bundle is not None else forms.validate(form_name, data)
        if errors:
            raise InvalidData(f"the form {form_name!r} has {len(errors)} invalid field(s)", fields=errors)
    try:
        escape(data)
    except UnsafeValue as exc:
        raise InvalidData(str(exc), fields={exc.path: exc.problem}) from None
    return data


def new_case(
    session: Session, *, process: str, unit: str, data: Any, starter: str | None, clock: Clock,
    parent_id: str | None = None, depth: int = 0, related: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None, version: ProcessVersion | None = None,
) -> Case:
    """Create and run a case of the newest version of ``process`` (``version``, if the caller has just read
    it) inside the caller's transaction.

    ``related`` (a case it is started from, see ``cases.start_case``) lands in the case data as ``related``
    after the start form has checked the rest; ``context`` (from a ``start_case`` task) joins the data then too.
    """
    if version is None or version.key != process:
        version = latest_version(session, process)
    loaded = SPEC_CACHE.get(session, version.id)
    data = checked_data(loaded.parsed.start_form, data, bundles.for_version(session, version.id))
    if related is not None:
        data = {**data, "related": related}
    if context:
        data = {**data, **context}
    case = Case(
        id=str(uuid.uuid4()), process_version_id=version.id, process_key=version.key, unit=unit,
        status=CaseStatus.RUNNING.value, data={}, state="", serializer_version=SERIALIZER_VERSION,
        started_by=starter, created_at=runtime.now_utc(clock),
        restricted=loaded.parsed.sensitivity == "restricted",  # its first mails already carry no details
    )
    session.add(case)  # written once, with the state the step leaves it in (before the rows that refer to it)
    detail = {"process": version.key, "version": version.version, "unit": unit, "data": data}
    if parent_id is not None:
        detail["parent_case"] = parent_id
    if related is not None:
        detail["related_case"] = related["case_id"]
    record(session, case_id=case.id, actor=None if parent_id else starter, kind=AuditKind.CASE_STARTED,
           detail=detail)
    advance_case(session, case, starting_with(data), clock=clock, depth=depth)
    return case


_OPEN_TASK_ROWS = select(TaskRecord).where(TaskRecord.case_id == bindparam("case_id"), TaskRecord.status.in_(OPEN))


def open_task_rows(session: Session, case_id: str) -> list[TaskRecord]:
    return list(session.scalars(_OPEN_TASK_ROWS, {"case_id": case_id}))


# --- the jobs of a step -----------------------------------------------------------------------------------

def _restore(session: Session, case: Case, run: runtime.Run) -> tuple[Workflow, LoadedProcess, calls.Resolved]:
    """The case's workflow with this run's engine attached; a fresh one for a case that has not run yet."""
    loaded = SPEC_CACHE.get(session, case.process_version_id)
    resolved = calls.with_called_processes(session, case, loaded.parsed)
    parsed = resolved.parsed
    if not case.state:
        return runtime.new_workflow(parsed, run), loaded, resolved
    workflow = load_state(case.state, case.serializer_version, parsed.spec, parsed.subprocess_specs)
    return runtime.attach(workflow, run), loaded, resolved


@contextmanager
def restored_workflow(session: Session, case: Case, clock: Clock) -> Iterator[Workflow]:
    """The case's workflow as it is now, to be read (not run, not saved) inside the block."""
    run = runtime.Run(case_id=case.id, unit=case.unit, starter=case.started_by, clock=clock,
                      organisation=organisation_functions(session, case))
    workflow, _loaded, _resolved = _restore(session, case, run)
    try:
        yield workflow
    finally:
        runtime.release(workflow)


def _record_decisions(session: Session, case: Case, run: runtime.Run, now: datetime) -> None:
    recorded = session.info.setdefault(DECISIONS_RECORDED, {}).setdefault(case.id, [])
    for decision in run.decisions:
        recorded.append(row := DecisionRecord(
            case_id=case.id, task=decision["task"], ruleset=decision["ruleset"], decision=decision["decision"],
            fired=decision["fired"], parameters=decision["parameters"],
            on=runtime.local_date_of(decision["on"]), at=now, facts=decision["facts"], derived=decision["derived"],
            ruleset_version=decision["ruleset_version"], parameters_version=decision["parameters_version"],
            law_date_from=decision["law_date_from"],
        ))
        session.add(row)
        record(session, case_id=case.id, actor=None, kind=AuditKind.DECISION, detail={
            key: decision[key] for key in ("task", "ruleset", "decision", "fired", "parameters", "on", "facts",
                                           "derived", "ruleset_version", "parameters_version", "law_date_from")
        })


def _record_engine_steps(session: Session, case: Case, run: runtime.Run) -> None:
    if run.passed:
        record(session, case_id=case.id, actor=None, kind=AuditKind.ENGINE_STEPS, detail={"elements": run.passed})


def _sync_task_index(
    session: Session, case: Case, workflow: Workflow, run: runtime.Run, *, context: dict[str, Any],
    open_rows: list[TaskRecord] | None,
) -> list[TaskRecord]:
    """Bring the task index in step with the workflow: new ready tasks in, vanished ones cancelled.

    Returns the rows that are open afterwards.
    """
    if not case.state:
        open_rows = []
    elif open_rows is None:
        open_rows = open_task_rows(session, case.id)
    open_rows = [row for row in open_rows if row.status in OPEN]  # a row the move completed is done
    ready = {str(task.id): task for task in runtime.ready_user_tasks(workflow)}
    now = runtime.now_utc(run.clock)
    _cancel_vanished(session, case, [row for row in open_rows if row.id not in ready], now)
    known = {row.id for row in open_rows}
    created: list[TaskRecord] = []
    for task_id, task in ready.items():
        if task_id not in known:
            user_task = describe_user_task(task, run.clock, run.functions())
            row = _index_new_task(session, case, task_id, user_task, now)
            _announce_new_task(session, case, row, user_task, run=run, context=context, now=now)
            created.append(row)
    return [row for row in open_rows if row.status in OPEN] + created


def _cancel_vanished(session: Session, case: Case, rows: list[TaskRecord], now: datetime) -> None:
    """Open rows whose task the workflow no longer waits in (a boundary event, a cancelled branch)."""
    for row in rows:
        row.status = TaskStatus.CANCELLED.value
        row.completed_at = now
        record(session, case_id=case.id, actor=None, kind=AuditKind.TASK_CANCELLED, detail={"task": row.name})


def _index_new_task(session: Session, case: Case, task_id: str, user_task: UserTask, now: datetime) -> TaskRecord:
    """A new ready task's row, routed to its lane's group in a unit or to one named person, and its history."""
    to = route(session, case, user_task)
    row = TaskRecord(
        id=task_id, case_id=case.id, process_key=case.process_key, name=user_task.name,
        title=user_task.title, title_en=user_task.title_en, group=to.group, unit=to.unit, assignee=to.assignee,
        status=TaskStatus.READY.value, form=forms.form_name_from_properties(user_task.properties),
        created_at=now, due_at=user_task.due_at,
    )
    session.add(row)
    record(session, case_id=case.id, actor=None, kind=AuditKind.TASK_CREATED,
           detail={"task": row.name, "title": row.title, **({"title_en": row.title_en} if row.title_en else {}),
                   "group": row.group, "assignee": row.assignee,
                   **({"unit": row.unit} if row.unit != case.unit else {}),
                   **({"problem": to.problem} if to.problem else {})})
    return row


def _announce_new_task(
    session: Session, case: Case, row: TaskRecord, user_task: UserTask, *, run: runtime.Run,
    context: dict[str, Any], now: datetime,
) -> None:
    """Tell whoever gets the new task, in the step's transaction: in-app, by mail, or by a mailed link."""
    inapp.task_created(session, row, now=now)
    mailed_as_link = bool(user_task.link_to and row.assignee and "@" in row.assignee)
    if not mailed_as_link:  # a person without an account gets the task by its link's mail instead
        outbox.queue(  # "a new task for you / your group"
            session, case_id=case.id, unit=row.unit, template="task_assigned",
            recipient_user=row.assignee, recipient_group=None if row.assignee else row.group,
            context={**context, "task_title": row.title, "task_id": row.id,
                     **({"due_at": row.due_at.isoformat()} if row.due_at else {})},
            now=now, texts=run.mail, kind=inapp.task_kind(row.assignee), restricted=case.restricted,
        )
    if user_task.link_to:  # property linkTo: the person gets the task through a signed link, by mail
        links.mail_task_link(session, case, row, email=user_task.link_to, name=user_task.link_name,
                             language=user_task.link_language, ttl=user_task.link_ttl,
                             template=user_task.link_template, context=context, now=now, texts=run.mail)


def _about_the_waiting_task(context: dict[str, Any], still_open: list[TaskRecord]) -> dict[str, Any]:
    """A reminder or escalation is about the one task the case waits in: name it."""
    if len(still_open) != 1:
        return context
    waiting = still_open[0]
    return {**context, "task_title": waiting.title, "task_id": waiting.id,
            **({"due_at": waiting.due_at.isoformat()} if waiting.due_at else {})}


def _queue_notifications(
    session: Session, case: Case, run: runtime.Run, context: dict[str, Any], now: datetime
) -> None:
    for message in run.notifications:
        try:
            by = channels.channel(message.get("channel"))
        except channels.UnknownChannel as exc:
            raise EngineFailure(f"task {message['task']}: {exc}") from None
        written = by.queue(session, channels.Notice(
            template=message["template"], unit=message["unit"], recipient_user=message["recipient_user"],
            recipient_group=message["recipient_group"], recipient_address=message.get("recipient_address"),
        ), case_id=case.id, context=context, now=now, texts=run.mail)
        record(session, case_id=case.id, actor=None, kind=AuditKind.NOTIFICATION_QUEUED,
               detail={**message, "messages": written})


def _queue_webhooks(session: Session, case: Case, run: runtime.Run, now: datetime) -> None:
    """Posts a ``webhook`` service task asked for: rows in the webhook outbox, delivered by the worker."""
    for request in run.webhooks:
        webhooks.queue(session, case_id=case.id, task=request["task"], target=request["target"],
                       payload=request["payload"], now=now)


def _start_children(session: Session, case: Case, run: runtime.Run, depth: int) -> None:
    """Cases a ``start_case`` service task asked for, started in the same transaction.

    With parameter ``optional`` = True a process that is not deployed is skipped (the history says so)
    instead of stopping the step; a deployed one that refuses the data still stops it (a model error).
    """
    for request in run.started_cases:
        if depth >= MAX_CASE_NESTING:
            raise EngineFailure(f"cases start cases more than {MAX_CASE_NESTING} levels deep")
        if request.get("optional") and not deployed(session, request["process"]):
            record(session, case_id=case.id, actor=None, kind=AuditKind.CASE_SPAWN_SKIPPED,
                   detail={"task": request["task"], "process": request["process"], "reason": "not deployed"})
            continue
        try:
            child = new_case(session, process=request["process"], unit=case.unit, data=request["data"],
                             starter=case.started_by, clock=run.clock, parent_id=case.id, depth=depth + 1,
                             context=request.get("context") or {})
        except (NotFound, InvalidData) as exc:
            raise EngineFailure(f"task {request['task']} could not start {request['process']!r}: {exc.message}",
                                fields=exc.fields) from None
        record(session, case_id=case.id, actor=None, kind=AuditKind.CASE_SPAWNED,
               detail={"task": request["task"], "process": request["process"], "case": child.id})


def _send_messages(session: Session, case: Case, run: runtime.Run, depth: int) -> None:
    """Messages a ``send_message`` service task sent to other cases, delivered in the same transaction.

    The sender's state is saved first, so a reply to it finds it waiting. A case that no longer waits for
    the message (it ended, or took another path) is not an error of the sender: the history of the sender
    says so, and nothing of the target changes.
    """
    for request in run.sent_messages:
        if depth >= MAX_CASE_NESTING:
            raise EngineFailure(f"cases send messages to cases more than {MAX_CASE_NESTING} levels deep")
        detail = {"task": request["task"], "message": request["message"], "case": request["case"]}
        target = session.get(Case, request["case"])
        if target is None:
            raise EngineFailure(f"task {request['task']}: there is no case {request['case']!r} to send to")
        problem = None
        if target.status != CaseStatus.RUNNING.value:
            problem = f"the case is {target.status}"
        else:
            def received(payload: dict[str, Any], target_id: str = target.id, name: str = request["message"]) -> None:
                record(session, case_id=target_id, actor=None, kind=AuditKind.MESSAGE_RECEIVED,
                       detail={"message": name, "data": payload, "from_case": case.id})
            try:
                with session.begin_nested():
                    advance_case(session, target, delivering(request["message"], request["data"], then=received),
                                 clock=run.clock, depth=depth + 1)
            except Conflict as exc:
                problem = exc.message
        record(session, case_id=case.id, actor=None, kind=AuditKind.MESSAGE_SENT,
               detail={**detail, "delivered": problem is None, **({"problem": problem} if problem else {})})


def _schedule_wakeup(session: Session, case: Case, workflow: Workflow, now: datetime, *, had_timer: bool) -> None:
    """Keep the case's row in the wake-up table in step with its earliest waiting timer.

    The row exists exactly while the saved state has a waiting timer (every step, and only a step, writes
    both), so a case that waited for no timer and waits for none now has no row to look up.
    """
    due = next_due(workflow)
    if due is None and not had_timer:
        return
    timer = session.get(CaseTimer, case.id) if had_timer or case.state else None  # a new case has no row yet
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
            record(session, case_id=case.id, actor=None, kind=AuditKind.INCIDENT_RESOLVED, detail={"kind": "timer"})
        timer.due_at, timer.status, timer.attempts, timer.last_error = due, "scheduled", 0, None


def _save_state(case: Case, workflow: Workflow, now: datetime, data: dict[str, Any]) -> None:
    """The workflow's state and its case data (``data``: read after the run; compaction keeps the frontier and
    the workflow's data, so it is the same after it)."""
    case.state = dump_state(workflow)
    case.serializer_version = SERIALIZER_VERSION
    case.data = data
    case.updated_at = now


def value_labeller(parsed: ParsedProcess, book: Any, language: str) -> Callable[[str, Any], str | None]:
    """A template field's value by its name for people in ``language``: a decision value as its rule set
    names it (``value_titles``; the field's path is the rule task's resultVariable, then the decision field),
    a choice of the start form as the form's ``x-enum-labels`` name it; None: the value as it is."""

    def label(path: str, value: Any) -> str | None:
        head, _, rest = path.partition(".")
        ruleset = parsed.decision_variables.get(head)
        if ruleset and rest and "." not in rest:
            try:
                named = rules.decision_value_labels(ruleset).get(rest, {})
            except rules.RulesError:
                return None
            return (named.get(str(value)) or {}).get(language)
        form = book.form(parsed.start_form) if not rest and parsed.start_form else None
        if form is not None and isinstance(value, str):
            words = ((((form.ui or {}).get("fields") or {}).get(head) or {}).get("x-enum-labels") or {}).get(value)
            return words.get(language) if isinstance(words, dict) else None
        return None

    return label


def _describe_case(session: Session, case: Case, parsed: ParsedProcess, book: Any) -> None:
    """What lists and search read from the case row: its title, summary and badge (the process's templates
    over the case data, in Danish and English), whom it is about, who else may read it, and its searchable
    words."""
    data = case.data
    subject = data.get(parsed.subject) if parsed.subject and isinstance(data, dict) else None
    case.subject = subject[:100] if isinstance(subject, str) and subject else None
    case.restricted = parsed.sensitivity == "restricted"
    case.readers = f" {' '.join(parsed.readers)} " if parsed.readers else ""
    describe_for_lists(session, case, parsed, book)


def describe_for_lists(session: Session, case: Case, parsed: ParsedProcess, book: Any) -> None:
    """The case's title, summary, badge and searchable words from its data as it is now (after a step, or
    after its personal data was erased: what lists and search show must not keep what the data lost)."""
    data = case.data
    danish, english = value_labeller(parsed, book, "da"), value_labeller(parsed, book, "en")
    case.title = titles.fill(parsed.case_title, data, label=danish) or parsed.name
    case.title_en = titles.fill(parsed.case_title, data, label=english) or parsed.name_en or case.title
    case.summary = titles.fill(parsed.case_summary, data, limit=500)
    case.badge = titles.fill(parsed.case_badge, data, limit=200, label=danish)
    case.badge_en = titles.fill(parsed.case_badge, data, limit=200, label=english)
    search.index_case(session, case, titles.search_words(case.title, case.summary, data=data))


def _update_status(session: Session, case: Case, status: CaseStatus, now: datetime) -> None:
    if status != CaseStatus.RUNNING and case.status == CaseStatus.RUNNING.value:
        case.completed_at = now
        record(session, case_id=case.id, actor=None, kind=AuditKind.CASE_ENDED, detail={"status": status.value})
    case.status = status.value
