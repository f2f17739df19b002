"""Events that come into a running case from outside: BPMN messages, and the timer that starts a process.

SpiffWorkflow catches a message with ``workflow.send_event(BpmnEvent(...))``; finding the case is our job
(the URL names it). A message is caught by whatever waits for it: an intermediate catch event, a boundary
event, a branch of an event-based gateway, a message start event (a start split) or the start event of an
event sub-process. Its payload lands in the case data: under ``spiffworkflow:messageVariable`` if the
message names one, else merged field by field (as a form's data is).

A process whose start event is a timer is started by the worker at each occurrence (``processes/starts.py``);
the case it starts does not wait for that timer again.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.specs.base import TaskSpec
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition as SpiffMessageEventDefinition
from SpiffWorkflow.util.task import TaskState

import forms
from processes.clock import LOCAL_ZONE
from processes.engine.properties import names
from processes.engine.rulebook import Rulebook, param_function
from processes.engine.sandbox import SandboxViolation, evaluate
from processes.engine.serializer import escape, unescape
from processes.engine.specs import CaseMessageEventDefinition
from processes.engine.timers import using_clock
from processes.errors import EngineFailure, InvalidData


def adopt_message_definitions(spec: BpmnProcessSpec) -> int:
    """Make every message event definition of a freshly parsed spec a :class:`CaseMessageEventDefinition`."""
    adopted = 0
    for task_spec in spec.task_specs.values():
        for definition in _definitions(getattr(task_spec, "event_definition", None)):
            if type(definition) is SpiffMessageEventDefinition:
                definition.__class__ = CaseMessageEventDefinition
                adopted += 1
    return adopted


def _definitions(definition: Any) -> Iterator[Any]:
    if isinstance(definition, MultipleEventDefinition):
        for item in definition.event_definitions:
            yield from _definitions(item)
    elif definition is not None:
        yield definition


@dataclass(frozen=True)
class WaitingMessage:
    """A message the case can take now: its name, the element that waits for it, and its form."""

    name: str
    element: str
    title: str
    form: str | None
    # property ``senders``: who may post it (group codes, ``starter``; ``process`` = only other cases);
    # empty: whoever may read the case
    senders: tuple[str, ...] = ()


def _properties(task_spec: TaskSpec) -> dict[str, str]:
    return dict((getattr(task_spec, "extensions", None) or {}).get("properties", {}))


def _waiting(workflow: BpmnWorkflow) -> Iterator[tuple[SpiffMessageEventDefinition, TaskSpec]]:
    """(message definition, the element whose properties describe it) for every message the case waits for."""
    if workflow.completed:
        return
    for task in list(workflow.event_manager.tasks.values()):
        spec = task.task_spec
        definition = getattr(spec, "event_definition", None)
        if isinstance(definition, MultipleEventDefinition):  # an event-based gateway: one branch per event
            outputs = spec.outputs
            for index, item in enumerate(definition.event_definitions):
                if isinstance(item, SpiffMessageEventDefinition):
                    yield item, outputs[index] if index < len(outputs) else spec
        elif isinstance(definition, SpiffMessageEventDefinition):
            yield definition, spec
    start = workflow.spec.start
    for name in getattr(start, "trigger_specs", []):  # event sub-processes started by a message
        sub_spec = workflow.subprocess_specs.get(name)
        for start_event in getattr(sub_spec, "bpmn_start_events", []) if sub_spec else []:
            if isinstance(start_event.event_definition, SpiffMessageEventDefinition):
                yield start_event.event_definition, start_event


def waiting_messages(workflow: BpmnWorkflow) -> list[WaitingMessage]:
    """The messages the case can take now, one per name (the first element waiting for it describes it)."""
    seen: dict[str, WaitingMessage] = {}
    for definition, spec in _waiting(workflow):
        if definition.name not in seen:
            seen[definition.name] = WaitingMessage(
                name=definition.name, element=spec.bpmn_id or spec.name, title=spec.bpmn_name or definition.name,
                form=_form_of(_properties(spec)),
                senders=names(_properties(spec).get("senders", "")),
            )
    return list(seen.values())


def _form_of(properties: dict[str, str]) -> str | None:
    return forms.form_name_from_properties(properties)


class NotWaiting(Exception):
    """Nothing in the case waits for this message (or its correlation key does not match)."""


def deliver_message(workflow: BpmnWorkflow, name: str, payload: dict[str, Any], clock: Any) -> None:
    """Let the case catch message ``name`` with ``payload`` (the engine runs on afterwards).

    Correlation keys declared in the BPMN (``correlationProperty`` with a retrieval expression over the
    payload) are computed from the payload; SpiffWorkflow lets a waiting event catch the message only
    if they match the case's own (set by an earlier message or a message it sent).
    """
    definitions = [definition for definition, _spec in _waiting(workflow) if definition.name == name]
    if not definitions:
        raise NotWaiting(f"the case is not waiting for message {name!r}")
    definition = definitions[0]
    event_payload = escape(payload)
    try:
        correlations = definition.calculate_correlations(
            workflow.script_engine, definition.correlation_properties, event_payload)
    except SandboxViolation as exc:
        names = sorted(prop.name for prop in definition.correlation_properties)
        raise InvalidData(f"message {name!r}: the payload does not give its correlation key ({exc})",
                          fields=dict.fromkeys(names, "needed to find the case's waiting event")) from None
    try:
        event = BpmnEvent(type(definition)(name, definition.correlation_properties), event_payload, correlations)
        with using_clock(clock):
            workflow.send_event(event)
    except SandboxViolation as exc:
        raise EngineFailure(f"message {name!r}: {exc}") from None
    except SpiffWorkflowException as exc:
        raise NotWaiting(f"the case is not waiting for message {name!r} with these correlation keys ({exc})") from None


# --- timer start events ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class TimerStart:
    """The timer of a process's start event: ``kind`` is date, cycle or duration; ``expression`` its text in
    the diagram; ``value`` what the expression gave (None until ``evaluated``)."""

    element: str
    kind: str
    expression: str
    properties: dict[str, str]
    value: str | None = None

    @property
    def dynamic(self) -> bool:
        """Whether the value can change without a new version: the expression is more than a quoted text
        (it calls ``param()`` or ``today()``), so it is evaluated again at each scheduling."""
        try:
            return not isinstance(ast.parse(self.expression.strip(), mode="eval").body, ast.Constant)
        except SyntaxError:
            return True

    @property
    def yearly(self) -> bool:
        """Whether the value is a date without a year (``--03-01``): once each calendar year."""
        return self.kind == "cycle" and self.value is not None and YEARLY_DATE.fullmatch(self.value.strip()) is not None


YEARLY_DATE = re.compile(r"--(\d{2})-(\d{2})")


def timer_start_of(spec: BpmnProcessSpec) -> TimerStart | None:
    """The timer start event of the process (its top level), not evaluated; None if it starts otherwise."""
    for task_spec in spec.task_specs.values():
        definition = getattr(task_spec, "event_definition", None)
        if isinstance(task_spec, StartEvent) and isinstance(definition, TimerEventDefinition):
            kind = ("cycle" if isinstance(definition, CycleTimerEventDefinition)
                    else "duration" if isinstance(definition, DurationTimerEventDefinition) else "date")
            return TimerStart(element=task_spec.bpmn_id, kind=kind, expression=str(definition.expression),
                              properties=_properties(task_spec))
    return None


def timer_functions(book: Rulebook, today: dt.date) -> dict[str, Any]:
    """What a timer start's expression may call: ``param(key)`` (the version's parameters in force on
    ``today``, or ``on=`` a date) and ``today()``."""
    return {"param": param_function(book, lambda: today), "today": today.isoformat}


def evaluated(timer: TimerStart, functions: Mapping[str, Any] | None = None) -> TimerStart:
    """The timer with its expression evaluated in the sandbox (``functions``: ``timer_functions``); a
    refusal or an error of the expression is an EngineFailure naming the event."""
    try:
        value = evaluate(timer.expression, {}, functions)
    except SandboxViolation as exc:
        raise EngineFailure(f"timer start {timer.element}: {exc}") from None
    except Exception as exc:  # an unknown parameter, a function not offered, a bad argument
        raise EngineFailure(f"timer start {timer.element}: {timer.expression!r}: {exc}") from None
    return replace(timer, value=str(value))


def occurrences(timer: TimerStart, origin: dt.datetime) -> Iterator[dt.datetime]:
    """The moments the process is due to start, in order (``origin``: when its version was deployed).

    A date starts it once; a cycle ``R[n]/start/period`` at start + k periods, each computed from the
    start in calendar terms (``P1Y`` from 1 March is 1 March every year, leap years or not); a yearly date
    ``--MM-DD`` (a cycle) at 00:00 Copenhagen time on that day of each year from ``origin``'s year on; a
    duration once, that long after ``origin``. ``timer`` must be ``evaluated``.
    """
    value = timer.value
    if value is None:
        raise EngineFailure(f"timer start {timer.element}: not evaluated")
    try:
        if timer.kind == "date":
            yield _aware(TimerEventDefinition.get_datetime(value))
            return
        if timer.kind == "duration":
            parsed = TimerEventDefinition.parse_iso_duration(value)
            yield origin + TimerEventDefinition.get_timedelta_from_start(parsed, origin)
            return
        yearly = YEARLY_DATE.fullmatch(value.strip())
        if yearly:
            month, day = int(yearly[1]), int(yearly[2])
            dt.date(2027, month, day)  # a day every year has: not 29 February
            year = origin.astimezone(LOCAL_ZONE).year
            while True:
                yield dt.datetime(year, month, day, tzinfo=LOCAL_ZONE)
                year += 1
        components = value.upper().replace("--", "/").strip("R").split("/")
        cycles = int(components[0]) if components[0] else -1
        if len(components) != 3 or not components[2].startswith("P"):
            raise ValueError("a timer start cycle is R[n]/start/period, e.g. R/2027-03-01T00:00:00+01:00/P1Y, "
                             "or a yearly date --MM-DD")
        start = _aware(TimerEventDefinition.get_datetime(components[1]))
        period = TimerEventDefinition.parse_iso_duration(components[2])
    except Exception as exc:  # Spiff raises bare exceptions for bad timer text
        raise EngineFailure(f"timer start {timer.element}: {value!r}: {exc}") from None
    index = 0
    while cycles < 0 or index < cycles:
        scaled = {unit: amount * index for unit, amount in period.items()}
        yield start + TimerEventDefinition.get_timedelta_from_start(scaled, start)
        index += 1


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def start_timer_fired(workflow: BpmnWorkflow) -> None:
    """A new case of a timer-start process starts now: its start event does not wait for the timer.

    A cycle timer's event in SpiffWorkflow never predicts what follows it (it adds the next elements each
    time a cycle comes round, and waits for the next one forever), so its outgoing elements are added here:
    the case is one occurrence, and the start event completes at once.
    """
    for task in workflow.get_tasks(state=TaskState.NOT_FINISHED_MASK):
        spec = task.task_spec
        if (isinstance(spec, StartEvent) and task.workflow is workflow
                and isinstance(getattr(spec, "event_definition", None), TimerEventDefinition)):
            task._set_internal_data(event_fired=True)
            if isinstance(spec.event_definition, CycleTimerEventDefinition) and not task.children:
                for output in spec.outputs:  # as Spiff's own cycle does when a cycle comes round
                    child = task._add_child(output, TaskState.FUTURE)
                    child.task_spec._predict(child, mask=TaskState.NOT_FINISHED_MASK)


__all__ = [
    "YEARLY_DATE", "CaseMessageEventDefinition", "NotWaiting", "TimerStart", "WaitingMessage",
    "adopt_message_definitions", "deliver_message", "evaluated", "occurrences", "start_timer_fired",
    "timer_functions", "timer_start_of", "waiting_messages",
]


# --- call activities to processes of other files ---------------------------------------------------------

@dataclass(frozen=True)
class Call:
    """A call activity of the case to a process of another file, as it stands."""

    task_id: str
    element: str
    process: str
    finished: bool
    data_in: dict[str, Any]  # the calling task's data (what the child was given, without data inputs declared)
    data_out: dict[str, Any] | None  # the child's data at its end


def _visible(data: dict[str, Any]) -> dict[str, Any]:
    return unescape({key: value for key, value in data.items() if not key.startswith("spiff__")})


def external_calls(workflow: BpmnWorkflow, processes: frozenset[str]) -> list[Call]:
    """The case's calls (running or finished) to the processes named (ids of other files)."""
    found = []
    for task_id, subprocess in list(workflow.subprocesses.items()):
        if subprocess.spec.name not in processes:
            continue
        task = workflow.get_task_from_id(task_id)
        if task is None:
            continue
        last = subprocess.last_task
        found.append(Call(
            task_id=str(task_id), element=task.task_spec.bpmn_id, process=subprocess.spec.name,
            finished=subprocess.completed,
            data_in=_visible(task.data),
            data_out=_visible(last.data) if subprocess.completed and last is not None else None,
        ))
    return found
