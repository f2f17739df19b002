"""What the rest of amflow may know about a diagram's elements, in our own terms rather than SpiffWorkflow's.

Above ``engine/`` nobody imports SpiffWorkflow: a workflow is an opaque ``Workflow``, a user task that
became ready is a ``UserTask``, an end event is known by its id, an element by its name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task

from processes.clock import Clock
from processes.engine.event_subprocesses import event_subprocess_end_events
from processes.engine.loader import ParsedProcess
from processes.engine.runtime import due_at_of, task_properties
from processes.engine.sandbox import evaluate
from processes.engine.serializer import unescape
from processes.errors import EngineFailure

Workflow = BpmnWorkflow
"""A running case's workflow: only ``engine/`` looks inside it."""

BPMN_NAMESPACE = "http://www.omg.org/spec/BPMN/20100524/MODEL"


@dataclass(frozen=True)
class UserTask:
    """A ready user task as the task index stores it."""

    id: str
    name: str  # the BPMN id
    title: str  # the BPMN name, or the id when it has none
    lane: str | None  # a group code
    properties: dict[str, str]
    due_at: dt.datetime | None
    assignee: str | None = None  # property ``assignee``: an expression naming one person (username or e-mail)
    unit: str | None = None  # property ``unit``: an expression naming the task's unit (default: the case's)
    # property ``linkTo``: an expression giving an e-mail address that gets the task through a signed link,
    # mailed when the task is ready (``linkName``, ``linkLanguage``: expressions; ``linkTtl``: an ISO duration,
    # default P14D; ``linkTemplate``: the mail template, default task_link)
    link_to: str | None = None
    link_name: str | None = None
    link_language: str | None = None
    link_ttl: dt.timedelta = dt.timedelta(days=14)
    link_template: str | None = None
    # the English title (issue #17): property ``titleEn`` (an expression, beside ``title``), else the element's
    # English name, property ``nameEn``; "" when the diagram gives none (the title is shown then)
    title_en: str = ""


def describe_user_task(task: Task, clock: Clock, functions: Mapping[str, Any] | None = None) -> UserTask:
    """``functions`` are the run's bound functions (e.g. ``next_level_leader``) the expressions may call."""
    spec = task.task_spec
    properties = task_properties(task)
    # property ``title``: an expression giving this instance's title, e.g. the item of a multi-instance
    title = (_named(task, properties, "title", functions) or spec.bpmn_name or spec.bpmn_id)[:300]
    title_en = (_named(task, properties, "titleEn", functions) or properties.get("nameEn") or "").strip()[:300]
    return UserTask(id=str(task.id), name=spec.bpmn_id, title=title, title_en=title_en, lane=spec.lane,
                    properties=properties, due_at=due_at_of(task, clock),
                    assignee=_named(task, properties, "assignee", functions),
                    unit=_named(task, properties, "unit", functions),
                    **_link(task, properties, clock, functions))


def _link(task: Task, properties: dict[str, str], clock: Clock,
          functions: Mapping[str, Any] | None) -> dict[str, Any]:
    link_to = _named(task, properties, "linkTo", functions)
    if link_to is None:
        return {}
    ttl = dt.timedelta(days=14)
    if (duration := (properties.get("linkTtl") or "").strip()):
        try:
            start = clock.now().astimezone(dt.UTC)
            parsed = TimerEventDefinition.parse_iso_duration(duration)
            ttl = TimerEventDefinition.get_timedelta_from_start(parsed, start)
        except Exception as exc:  # Spiff raises a bare Exception for a bad duration
            raise EngineFailure(f"the linkTtl of task {task.task_spec.bpmn_id} is not a duration: {exc}") from None
    return {"link_to": link_to, "link_name": _named(task, properties, "linkName", functions),
            "link_language": _named(task, properties, "linkLanguage", functions), "link_ttl": ttl,
            "link_template": (properties.get("linkTemplate") or "").strip() or None}


def _named(task: Task, properties: dict[str, str], name: str, functions: Mapping[str, Any] | None) -> str | None:
    """The text an expression property evaluates to over the task's data, or None when it is not given.

    The case data is there by name and whole as ``data`` (``data.get('kontaktperson')``). An empty result
    (None, "") means "nobody named". An expression that fails, or gives something other than a text, stops
    the step: a task must not silently land in the wrong hands.
    """
    expression = (properties.get(name) or "").strip()
    if not expression:
        return None
    context = unescape(task.data)
    try:
        value = evaluate(expression, {**context, "data": context}, functions)
    except Exception as exc:
        raise EngineFailure(f"the {name} of task {task.task_spec.bpmn_id} could not be computed: {exc}") from None
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise EngineFailure(f"the {name} of task {task.task_spec.bpmn_id} is {value!r}, not a name")
    return value.strip() or None


def end_statuses(parsed: ParsedProcess) -> dict[str, str]:
    """End event id -> the case status its ``caseStatus`` property names (default ``completed``)."""
    statuses = {}
    ends = [spec for spec in parsed.spec.task_specs.values() if isinstance(spec, EndEvent)]
    # an interrupting event sub-process ends the case at its end event
    for spec in [*ends, *event_subprocess_end_events(parsed.spec, parsed.subprocess_specs)]:
        properties = (getattr(spec, "extensions", None) or {}).get("properties", {})
        statuses[spec.bpmn_id] = properties.get("caseStatus", "completed")
    return statuses


def step_names(xml: str, ids: list[str]) -> list[str]:
    """The names of the passed BPMN elements (no sequence flows), in order; an unnamed element by its id."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        root = etree.fromstring(xml.encode("utf-8"), parser)
    except etree.XMLSyntaxError:
        return ids
    elements = {element.get("id"): element for element in root.iter(f"{{{BPMN_NAMESPACE}}}*")}
    return [
        elements[element_id].get("name") or element_id if element_id in elements else element_id
        for element_id in ids
        if element_id not in elements or etree.QName(elements[element_id]).localname != "sequenceFlow"
    ]


SPIFF_NAMESPACE = "http://spiffworkflow.org/bpmn/schema/1.0/core"
_NAME_EN = (f"{{{BPMN_NAMESPACE}}}extensionElements/{{{SPIFF_NAMESPACE}}}properties/"
            f"{{{SPIFF_NAMESPACE}}}property[@name='nameEn']")


def diagram_in_language(xml: str, language: str, lane_names: Mapping[str, str]) -> str:
    """The diagram as its readers see it in ``language``: in English each element named by its property
    ``nameEn`` (kept Danish where it has none); in both languages a lane (a group code) by the group's name."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        root = etree.fromstring(xml.encode("utf-8"), parser)
    except etree.XMLSyntaxError:
        return xml
    for element in root.iter(f"{{{BPMN_NAMESPACE}}}*"):
        if etree.QName(element).localname == "lane":
            name = (element.get("name") or "").strip()
            if name in lane_names:
                element.set("name", lane_names[name])
            continue
        english = element.find(_NAME_EN) if language == "en" else None
        if english is not None and english.get("value", "").strip():
            element.set("name", english.get("value", "").strip())
    return etree.tostring(root, encoding="unicode")
