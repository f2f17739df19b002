"""The one wrapper around a running SpiffWorkflow: create, restore, advance, and read back what happened.

Nothing here touches the database; ``processes/advance.py`` does that inside their transaction. A
``Run`` collects the side effects of one engine run (decisions taken, notifications to send, tasks that
completed) so the use case can write them to the case, the task index, the outbox and the audit trail.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

import rules
from processes.clock import LOCAL_ZONE, Clock, local_date
from processes.engine import event_subprocesses, rulebook
from processes.engine.datefunctions import end_of_day
from processes.engine.limits import SandboxViolation
from processes.engine.loader import ParsedProcess
from processes.engine.sandbox import SandboxScriptEngine, evaluate
from processes.engine.serializer import UnsafeValue, escape, unescape
from processes.engine.timers import using_clock
from processes.errors import EngineFailure, InvalidData
from processes.views import CaseStatus

MAX_ENGINE_STEPS = 500
_FINISHED = TaskState.COMPLETED | TaskState.CANCELLED


@dataclass
class Run:
    """Side effects of one engine run, to be persisted by the caller in the same transaction."""

    case_id: str
    unit: str
    starter: str | None
    clock: Clock
    decisions: list[dict[str, Any]] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    started_cases: list[dict[str, Any]] = field(default_factory=list)
    sent_messages: list[dict[str, Any]] = field(default_factory=list)  # to other cases (operator send_message)
    webhooks: list[dict[str, Any]] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)  # BPMN ids of the elements completed in this run
    steps: int = 0
    # The rule sets and parameters of the case's process version (its bundle), and its mail templates
    # ("NAME.LANG" -> text); the shipped files for a version deployed before bundles.
    book: rulebook.Rulebook = rulebook.PACKAGE_RULES
    mail: Mapping[str, str] | None = None
    # The organisation's unit codes, read only when an expression calls ``organisation_units()``.
    units: Callable[[], list[str]] = list
    # Functions bound to the organisation for this case's expressions (``next_level_leader``, see sandbox
    # BOUND_FUNCTIONS); given by the caller, which has the database.
    organisation: Mapping[str, Any] = field(default_factory=dict)
    # The language of the person whose action moves the case ("da" for the worker): refusals and labels use it.
    language: str = "da"

    def today(self) -> dt.date:
        return local_date(self.clock.now())

    def decide(self, task: Task, ruleset: str) -> dict[str, Any]:
        facts_data = unescape(task.data)
        where = f"rule set {ruleset!r} in task {task.task_spec.bpmn_id}"
        facts_from = task_properties(task).get("factsFrom")
        if facts_from:  # the facts are one mapping the expression gives, e.g. the item of a multi-instance
            given = evaluate(facts_from, unescape(task.data), self.functions())
            if not isinstance(given, dict):
                raise EngineFailure(f"{where}: factsFrom must give a mapping of facts")
            facts_data = {**facts_data, **unescape(given)}
        try:
            facts = {name: facts_data[name] for name in self.book.fact_names(ruleset) if name in facts_data}
            on, law_date_from = rulebook.law_date(self.book, ruleset, task_properties(task), facts_data, facts,
                                                  task=task.task_spec.bpmn_id)
            decision = self.book.decide(ruleset, facts, on, today=self.today())
        except rules.RulesError as exc:
            raise EngineFailure(f"{where}: {exc.message}", fields=exc.fields) from None
        ruleset_version, parameters_version = self.book.versions(ruleset)
        self.decisions.append({
            **decision.to_dict(), "facts": decision.facts, "derived": decision.derived,
            "ruleset_version": ruleset_version, "parameters_version": parameters_version,
            "law_date_from": law_date_from, "task": task.task_spec.bpmn_id, "at": self.clock.now(),
        })
        return escape(dict(decision.decision))

    def notify(self, task: Task, params: dict[str, Any]) -> None:
        """Service operator ``notify``: parameters ``recipient`` ('starter', a username or an e-mail address)
        and/or ``group``, ``template``, and ``channel`` (default 'email', see ``processes.notify.channels``)."""
        recipient = params.get("recipient")
        if recipient is not None and not isinstance(recipient, str):
            raise EngineFailure(f"task {task.task_spec.bpmn_id}: notify recipient must be text, not {recipient!r}")
        recipient = self.starter if recipient == "starter" else (recipient or "").strip() or None
        address = recipient if recipient and "@" in recipient else None
        self.notifications.append({
            "template": str(params.get("template") or task.task_spec.bpmn_id),
            "recipient_user": None if address else recipient,
            "recipient_group": params.get("group"),
            "unit": str(params.get("unit") or self.unit),  # parameter ``unit``: e.g. a fan-out instance's unit
            "task": task.task_spec.bpmn_id,
            **({"recipient_address": address} if address else {}),
            **({"channel": str(params["channel"])} if params.get("channel") else {}),
        })

    def start_case(self, task: Task, params: dict[str, Any]) -> None:
        """Service operator ``start_case``: start another process for the same unit and starter.

        ``data`` is checked by the process's start form; ``context`` (optional) is put into the new case's
        data as it is, beside the form's fields: what the case came from (``{'previous_case': case_id()}``).
        """
        data = params.get("data") or {}
        context = params.get("context") or {}
        if not isinstance(data, dict) or not isinstance(context, dict):
            raise EngineFailure(f"task {task.task_spec.bpmn_id}: start_case data and context must be dicts")
        self.started_cases.append({"process": str(params.get("process")), "data": unescape(data),
                                   "context": unescape(context), "task": task.task_spec.bpmn_id,
                                   "optional": params.get("optional") is True})

    def send_message(self, task: Task, params: dict[str, Any]) -> None:
        """Service operator ``send_message``: message ``message`` with ``data`` into case ``case`` (an id).

        Delivered in the same transaction after this run, as if posted to that case; a ``case`` that
        evaluates to nothing sends nothing (``data.get('previous_case')`` on a case that has none).
        """
        target = params.get("case")
        if target in (None, ""):
            return
        payload = params.get("data") or {}
        if not isinstance(target, str) or not isinstance(payload, dict) or not params.get("message"):
            raise EngineFailure(f"task {task.task_spec.bpmn_id}: send_message needs a case id, a message name "
                                "and a dict of data")
        self.sent_messages.append({"case": target, "message": str(params["message"]), "data": unescape(payload),
                                   "task": task.task_spec.bpmn_id})

    def webhook(self, task: Task, params: dict[str, Any]) -> None:
        """Service operator ``webhook``: post ``payload`` (a JSON object) to the configured ``target`` later."""
        payload = unescape(params.get("payload"))
        if not isinstance(payload, dict):
            raise EngineFailure(f"task {task.task_spec.bpmn_id}: a webhook payload must be a dict")
        self.webhooks.append({"target": str(params.get("target")), "payload": payload,
                              "task": task.task_spec.bpmn_id})

    def engine(self) -> SandboxScriptEngine:
        return SandboxScriptEngine(services={"notify": self.notify, "start_case": self.start_case,
                                             "send_message": self.send_message,
                                             "webhook": self.webhook}, rules=self,
                                   functions=self.functions())

    def functions(self) -> dict[str, Any]:
        """The run's bound functions (``sandbox.BOUND_FUNCTIONS``): the organisation's, ``param``, ``labels``,
        ``case_id()``, ``now()``, ``today()`` and ``organisation_units()``."""
        return {**self.organisation, "param": rulebook.param_function(self.book, self.today),
                "labels": rulebook.labels_function(self.book, lambda: self.language),
                "case_id": lambda: self.case_id,
                "now": self.now_text, "today": self.today_text,
                "organisation_units": lambda: list(self.units())}

    def now_text(self) -> str:
        """The sandbox's ``now()``: this run's clock, to the second, as Copenhagen time with its offset."""
        return self.clock.now().astimezone(LOCAL_ZONE).replace(microsecond=0).isoformat()

    def today_text(self) -> str:
        """The sandbox's ``today()``: the date in Copenhagen, ``YYYY-MM-DD``."""
        return self.today().isoformat()

    def count_step(self, _task: Task) -> None:
        self.steps += 1
        if self.steps > MAX_ENGINE_STEPS:
            raise EngineFailure(f"more than {MAX_ENGINE_STEPS} automatic steps in one run: a loop in the model?")


def new_workflow(process: ParsedProcess, run: Run) -> BpmnWorkflow:
    """A fresh workflow of the process, with the sandboxed engine of this run attached."""
    return BpmnWorkflow(process.spec, process.subprocess_specs, script_engine=run.engine())


def attach(workflow: BpmnWorkflow, run: Run) -> BpmnWorkflow:
    """Re-attach our engine after a restore: the script engine is not serialized (TECH.md)."""
    workflow.script_engine = run.engine()
    return workflow


def set_start_data(workflow: BpmnWorkflow, data: dict[str, Any]) -> None:
    """Put the start form's data into the workflow before it runs."""
    for task in workflow.get_tasks(state=TaskState.READY):
        task.set_data(**escape(data))


def advance(workflow: BpmnWorkflow, run: Run) -> None:
    """Run automatic steps until the workflow waits; turn any engine error into EngineFailure."""
    try:
        with using_clock(run.clock):
            workflow.do_engine_steps(did_complete_task=lambda task: _after(task, run))
            while event_subprocesses.close_idle(workflow):  # only event sub-processes not started are left
                workflow.do_engine_steps(did_complete_task=lambda task: _after(task, run))
    except EngineFailure:
        raise
    except (SpiffWorkflowException, SandboxViolation, UnsafeValue) as exc:
        raise EngineFailure(f"the process failed: {exc}") from None


def fire_timers(workflow: BpmnWorkflow, run: Run) -> None:
    """Let every timer that is due at the run's clock fire (``advance`` then runs on until the workflow waits)."""
    try:
        with using_clock(run.clock):
            workflow.refresh_timers()
    except (SpiffWorkflowException, SandboxViolation) as exc:
        raise EngineFailure(f"a timer failed: {exc}") from None


def _after(task: Task, run: Run) -> None:
    run.count_step(task)
    if task.task_spec.bpmn_id:  # Spiff's own bookkeeping tasks (Root, Start, End) have none
        run.passed.append(task.task_spec.bpmn_id)
    event_subprocesses.on_task_completed(task)
    prune(task)


def prune(task: Task) -> None:
    """Drop the data of finished tasks whose children are all finished, and merged loop instances.

    Spiff copies the whole data dict into every task, so without this a case's stored state grows with
    (steps x data size): quadratic. Only the frontier of the tree needs its data; the audit trail keeps
    what each completed task submitted.

    A finished instance of a loop or multi-instance task is removed from the tree once its loop task has
    merged it (its output item is in the output collection, its id in the loop's ``merged`` list): nothing
    reads it again, and with N instances every later restore and save of the case would otherwise handle
    all N of them, each carrying a copy of the loop's data (N completions x N instances: quadratic).
    """
    if _drop_merged_instance(task):
        return
    for node in (task.parent, task):
        if node is not None and node.has_state(_FINISHED) and node.children and all(
            child.has_state(_FINISHED) for child in node.children
        ):
            node.data = {}


def _drop_merged_instance(task: Task) -> bool:
    parent = task.parent
    if (
        parent is None
        or not isinstance(parent.task_spec, LoopTask)
        or task.task_spec.name != parent.task_spec.task_spec
        or not task.has_state(TaskState.COMPLETED)
        or task.children
        or str(task.id) not in parent.internal_data.get("merged", ())
    ):
        return False
    top = task.workflow.top_workflow
    if task.id in top.subprocesses:  # an instance that was a sub-process: its finished run goes too
        top.delete_subprocess(task)
    parent._children.remove(task.id)
    del task.workflow.tasks[task.id]
    if task.workflow.last_task is task:
        task.workflow.last_task = parent
    return True


def compact(workflow: BpmnWorkflow) -> int:
    """Cut the finished prefix of each task tree; return how many task instances were dropped.

    SpiffWorkflow keeps every task instance ever created, and its task iterator stops silently at depth
    1,000: a case that loops a few hundred times would then find no ready task at all. Above the live
    part of the tree there is only history (which the audit trail keeps), so the root is re-linked to the
    last finished task before the live part: that task keeps its data, which its waiting children will
    inherit. Only finished, single-file ancestors and fully finished side branches are dropped, so joins,
    boundary events and subprocesses in the live part are untouched.
    """
    dropped = 0
    for tree_owner in (workflow, *workflow.subprocesses.values()):
        dropped += _compact_tree(tree_owner)
    return dropped


def _has_unfinished(task: Task) -> bool:
    """Whether the task or any task below it is unfinished; stops at the first one found.

    Only the children of the finished single-file prefix are asked, so a step does not walk the whole
    tree (e.g. the hundreds of open instances of a multi-instance task below an unfinished loop task).
    """
    stack = [task]
    while stack:
        node = stack.pop()
        if not node.has_state(_FINISHED):
            return True
        stack.extend(node.children)
    return False


def _compact_tree(owner: Any) -> int:
    root = owner.task_tree
    anchor = root
    while anchor.has_state(_FINISHED):
        live = [child for child in anchor.children if _has_unfinished(child)]
        if len(live) != 1 or not live[0].has_state(_FINISHED):
            break
        anchor = live[0]
    if anchor is root or anchor.parent is root:
        return 0
    keep = {root.id, *_subtree_ids(anchor)}
    dropped = [task_id for task_id in _subtree_ids(root) if task_id not in keep]
    for task_id in dropped:
        del owner.tasks[task_id]
    root.children = [anchor]
    anchor.parent = root
    if owner.last_task is not None and owner.last_task.id not in owner.tasks:
        owner.last_task = None
    return len(dropped)


def _subtree_ids(root: Task) -> list[UUID]:
    ids, stack = [], [root]
    while stack:
        task = stack.pop()
        ids.append(task.id)
        stack.extend(task.children)
    return ids


def complete_user_task(workflow: BpmnWorkflow, task_id: str, data: dict[str, Any], run: Run) -> Task | None:
    """Complete a ready manual task with the submitted data; None if it is not ready (any more)."""
    task = workflow.get_task_from_id(UUID(task_id))
    if task is None or task.state != TaskState.READY or not task.task_spec.manual:
        return None
    refused = refusal(task, data, language=run.language, functions=run.functions())
    if refused:
        raise InvalidData(f"task {task.task_spec.bpmn_id} refuses the submission: "
                          + "; ".join(f"{field}: {message}" for field, message in refused.items()), fields=refused)
    task.set_data(**escape(data))
    try:
        with using_clock(run.clock):
            task.run()
    except (SpiffWorkflowException, SandboxViolation) as exc:
        raise EngineFailure(f"completing {task.task_spec.bpmn_id} failed: {exc}") from None
    prune(task)
    return task


def refusal(
    task: Task, data: Mapping[str, Any], *, language: str = "da", functions: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Field -> message for a submission the user task's ``refuseWhen`` property refuses; empty if none.

    ``refuseWhen`` is a sandboxed expression over the case data with the submitted form data laid over it
    (each by name, the merged data whole as ``data``, the submission alone as ``submitted``, the acting
    person's language as ``language``; ``labels(form, field, values)`` names values as that form does), evaluated
    before the task completes. A message may be text or ``{"da": ..., "en": ...}`` (the person's language is
    taken). It gives nothing (None, False, an empty mapping) to let the submission
    through, or a mapping field -> message (or list of messages) to refuse it, e.g.
    ``{"decision": "..."} if decision == "approve" and missing else {}``. An expression that fails, or
    gives anything else, stops the step: a model error must not let a refused submission through.
    """
    expression = (task_properties(task).get("refuseWhen") or "").strip()
    if not expression:
        return {}
    submitted = dict(data)
    merged = {**unescape(task.data), **submitted}
    where = f"the refuseWhen of task {task.task_spec.bpmn_id}"
    try:
        value = evaluate(expression, {**merged, "data": merged, "submitted": submitted, "language": language},
                         functions)
    except Exception as exc:
        raise EngineFailure(f"{where} could not be computed: {exc}") from None
    if not value:
        return {}
    if not isinstance(value, Mapping):
        raise EngineFailure(f"{where} gave {value!r}, not a mapping of field to message")
    refused: dict[str, str] = {}
    for field_name, given in value.items():
        message = given.get(language) or given.get("en") or given.get("da") if isinstance(given, Mapping) else given
        messages = [message] if isinstance(message, str) else message
        if not isinstance(field_name, str) or not isinstance(messages, list | tuple) or not all(
                isinstance(item, str) for item in messages):
            raise EngineFailure(f"{where} gave {field_name!r}: {message!r}, not a field and its message(s)")
        if messages:
            refused[field_name] = "; ".join(messages)
    return refused


def release(workflow: BpmnWorkflow) -> None:
    """Break the workflow's reference cycles once its state is saved; it must not be used afterwards.

    Every task refers to its workflow and the workflow to its tasks, so a restored case is one cycle of
    thousands of objects that only the cyclic garbage collector frees; its passes over them, and over
    earlier requests' cases not yet collected, cost about as much as the restore itself for a case with
    hundreds of open instances (bench/multi_instance.py). Emptied, the tree is freed by reference counting
    as soon as the request lets go of it.
    """
    for owner in (*workflow.subprocesses.values(), workflow):
        owner.tasks.clear()
        owner.task_tree = None
        owner.last_task = None
    workflow.subprocesses.clear()
    workflow.event_manager.tasks.clear()


def ready_user_tasks(workflow: BpmnWorkflow) -> list[Task]:
    return workflow.get_tasks(state=TaskState.READY, manual=True)


def case_data(workflow: BpmnWorkflow) -> dict[str, Any]:
    """The case data as users see it: the workflow's data when finished, else the open frontier's.

    Spiff's own bookkeeping (a service task's ``spiff__<id>_result``) is left out.
    """
    merged: dict[str, Any] = {}
    if workflow.completed:
        merged = dict(workflow.data)
    else:
        frontier = workflow.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.STARTED)
        for task in sorted(frontier, key=lambda t: t.last_state_change):
            merged.update(task.data)
    return unescape({key: value for key, value in merged.items() if not key.startswith("spiff__")})


def case_status(workflow: BpmnWorkflow, end_statuses: dict[str, str]) -> CaseStatus:
    """Running until Spiff says completed; then the caseStatus property of the end event reached."""
    if not workflow.completed:
        return CaseStatus.RUNNING
    reached = [
        task.task_spec.bpmn_id
        for task in workflow.get_tasks(state=TaskState.COMPLETED)
        if isinstance(task.task_spec, EndEvent)
    ]
    statuses = {end_statuses.get(bpmn_id, "completed") for bpmn_id in reached}
    for status in (CaseStatus.REJECTED, CaseStatus.CANCELLED):
        if status.value in statuses:
            return status
    return CaseStatus.COMPLETED


def due_at_of(task: Task, clock: Clock) -> dt.datetime | None:
    """A user task's due time from its BPMN properties, computed when it becomes ready.

    ``dueIn`` is an ISO-8601 duration from now (``P14D``); ``dueAt`` is a sandboxed expression over the case
    data giving an ISO date (due at its end, Copenhagen time) or datetime with offset, e.g.
    ``end_of_day(add_days(first_absence_day, 14))``. ``dueInWorkingDays`` is a sandboxed expression giving a
    whole number of Danish working days (Monday to Friday except public holidays, from the ``holidays``
    package, ``rules.calendar``), e.g. ``5`` or ``param('lone_work.review_due_working_days')``: the task is
    due at the end (23:59:59 Copenhagen) of that working day after the day it became ready.
    """
    properties = task_properties(task)
    try:
        if properties.get("dueAt"):
            value = evaluate(properties["dueAt"], unescape(task.data), _bound_functions(task))
            return parse_due(str(value))
        if properties.get("dueInWorkingDays"):
            days = evaluate(properties["dueInWorkingDays"], unescape(task.data), _bound_functions(task))
            if isinstance(days, float) and days.is_integer():
                days = int(days)
            due = rules.add_working_days(local_date(now_utc(clock)), days)
            return parse_due(due.isoformat())
        if properties.get("dueIn"):
            start = now_utc(clock)
            parsed = TimerEventDefinition.parse_iso_duration(properties["dueIn"].strip())
            return start + TimerEventDefinition.get_timedelta_from_start(parsed, start)
    except Exception as exc:  # Spiff raises a bare Exception for a bad duration
        raise EngineFailure(f"the due date of task {task.task_spec.bpmn_id} could not be computed: {exc}") from None
    return None


def _bound_functions(task: Task) -> Mapping[str, Any]:
    """The run's own functions (``param``) of the workflow's script engine, if it has them."""
    environment = getattr(task.workflow.script_engine, "environment", None)
    return getattr(environment, "functions", None) or {}


def parse_due(text: str) -> dt.datetime:
    """ISO datetime with offset (kept) or ISO date (23:59:59 that day in Copenhagen), as UTC."""
    if "T" not in text:
        text = end_of_day(text)
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone: give Z or an offset")
    return moment.astimezone(dt.UTC)


def task_properties(task: Task) -> dict[str, str]:
    return dict((getattr(task.task_spec, "extensions", None) or {}).get("properties", {}))


def now_utc(clock: Clock) -> dt.datetime:
    return clock.now().astimezone(dt.UTC)


def local_date_of(value: str | dt.date) -> dt.date:
    """A decision's ``on`` date, given as ISO text or a date."""
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)
