"""What refuses a BPMN diagram at deploy: the checks on its XML and on the specs SpiffWorkflow parsed from it.

On the XML (``check_diagram``): lanes name known groups (directly or through the lane -> group mapping
given at deploy, which may name only lanes of the diagram), user tasks and the start event name forms that
exist, business-rule tasks name rule sets that exist, service tasks name operators we offer (a webhook a
quoted target and a payload), message events name known senders, end events a case status, and every
expression and script passes the sandbox check. On the parsed specs (``check_specs``): every expression and
script the engine would evaluate, whichever XML it came from; a task a person does sits in a lane; a timer
start names its unit and has an occurrence. Each problem is added to the caller's list with file, element
id and text, so every problem of a file is reported at once.

The lane called "Process Initiator" (:data:`INITIATOR_LANE`, SpiffArena's convention) means whoever
started the case.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import SpiffWorkflow.bpmn.parser
from lxml import etree
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.operators import Operator
from SpiffWorkflow.specs.base import TaskSpec
from SpiffWorkflow.specs.WorkflowSpec import WorkflowSpec

import forms
import rules
from processes.clock import LOCAL_ZONE
from processes.engine.events import evaluated, occurrences, timer_functions, timer_start_of
from processes.engine.properties import BPMN_NS, NS, SPIFF_NS, names, properties_of
from processes.engine.rulebook import Rulebook
from processes.engine.sandbox import SandboxViolation, check_expression, check_script
from processes.errors import EngineFailure, InvalidModel

SERVICE_OPERATORS = frozenset({"notify", "start_case", "send_message", "webhook"})
WEBHOOK_TARGET = re.compile(r"[a-z][a-z0-9_]{0,63}")
CASE_END_STATUSES = frozenset({"completed", "rejected", "cancelled"})
INITIATOR_LANE = "Process Initiator"  # SpiffArena's lane for whoever started the case: the starter gets its tasks


def _bpmn_expression_tags() -> frozenset[str]:
    """Every BPMN element whose content is an expression, read from the BPMN schema Spiff ships.

    Elements of type ``tExpression`` or ``tFormalExpression``: conditionExpression, condition (conditional
    events), timeDate/timeDuration/timeCycle, loopCondition, loopCardinality, completionCondition,
    messagePath, formalExpression (correlation retrieval), dataPath, activationCondition, ...
    """
    schema = etree.parse(str(Path(SpiffWorkflow.bpmn.parser.__file__).parent / "schema" / "Semantic.xsd"))
    xsd = {"xsd": "http://www.w3.org/2001/XMLSchema"}
    return frozenset(
        element.get("name")
        for element in schema.iterfind(".//xsd:element", xsd)
        if element.get("name") and element.get("type") in ("tExpression", "tFormalExpression")
    )


_EXPRESSION_TAGS = _bpmn_expression_tags()
# Spiff properties whose value is an expression over the case data.
EXPRESSION_PROPERTIES = ("dueAt", "dueInWorkingDays", "assignee", "unit", "refuseWhen", "title", "titleEn", "factsFrom",
                         "linkTo",
                         "linkName", "linkLanguage", "linkHeader")
# SpiffWorkflow's extension elements whose text it evaluates (expressions; the scripts are below).
_SPIFF_EXPRESSION_TAGS = ("messagePayload", "expression", "payloadExpression")
_SPIFF_SCRIPT_TAGS = ("preScript", "postScript")

# Attributes of parsed task specs (and what hangs off them: event definitions, correlation properties)
# that the engine evaluates: what :func:`spec_expressions` looks for, whichever XML they came from.
_SPEC_CODE_ATTRIBUTES: dict[str, Callable[[str], None]] = {
    "expression": check_expression,        # timer, conditional, message and signal payload
    "condition": check_expression,         # loop and multi-instance completion conditions
    "cardinality": check_expression,
    "completion_condition": check_expression,
    "retrieval_expression": check_expression,  # message correlation
    "script": check_script,
    "prescript": check_script,
    "postscript": check_script,
}


def _element_id(node: etree._Element) -> str | None:
    while node is not None:
        if node.get("id"):
            return node.get("id")
        node = node.getparent()
    return None


def _check_duration(text: str) -> None:
    try:
        TimerEventDefinition.parse_iso_duration(text.strip())
    except Exception:  # Spiff raises a bare Exception("Invalid duration")
        raise SandboxViolation(f"{text!r} is not an ISO-8601 duration such as P14D or PT4H") from None


def _check_expressions(root: etree._Element, filename: str, problems: list[InvalidModel]) -> None:
    checks: list[tuple[etree._Element, str, Any]] = []
    for tag in _EXPRESSION_TAGS:
        checks += [(node, node.text or "", check_expression) for node in root.iter(f"{{{BPMN_NS}}}{tag}")]
    checks += [(node, node.text or "", check_script) for node in root.iter(f"{{{BPMN_NS}}}script")]
    for tag in _SPIFF_EXPRESSION_TAGS:
        checks += [(node, node.text or "", check_expression) for node in root.iter(f"{{{SPIFF_NS}}}{tag}")]
    for tag in _SPIFF_SCRIPT_TAGS:
        checks += [(node, node.text or "", check_script) for node in root.iter(f"{{{SPIFF_NS}}}{tag}")]
    checks += [(node, node.get("value", ""), check_expression) for node in root.iter(f"{{{SPIFF_NS}}}parameter")]
    for node in root.iter(f"{{{SPIFF_NS}}}property"):
        if node.get("name") in EXPRESSION_PROPERTIES:
            checks.append((node, node.get("value", ""), check_expression))
        elif node.get("name") in ("dueIn", "linkTtl"):
            checks.append((node, node.get("value", ""), _check_duration))
    for node, text, check in checks:
        if not text.strip():
            continue
        try:
            check(text)
        except SandboxViolation as exc:
            element = _element_id(node)
            problems.append(InvalidModel(f"{filename}: element {element}: {exc}", filename=filename, element=element))


def spec_expressions(specs: list[BpmnProcessSpec]) -> Iterator[tuple[str | None, str, Callable[[str], None]]]:
    """Every expression and script the engine would evaluate, found by walking the parsed specs.

    A safety net behind the XML check: whatever element or extension it came from, an attribute named
    like one Spiff evaluates (:data:`_SPEC_CODE_ATTRIBUTES`), a sequence-flow condition, or a service-task
    parameter value is yielded as ``(element id, text, check)``.
    """
    for process in specs:
        for name in ("completion_condition",):
            value = getattr(process, name, None)
            if isinstance(value, str):
                yield process.name, value, _SPEC_CODE_ATTRIBUTES[name]
        for task_spec in process.task_specs.values():
            yield from _walk_spec(task_spec, getattr(task_spec, "bpmn_id", None) or task_spec.name)


def _walk_spec(root: TaskSpec, element: str) -> Iterator[tuple[str | None, str, Callable[[str], None]]]:
    seen: set[int] = set()
    stack: list[tuple[Any, str | None]] = [(root, None)]
    while stack:
        value, attribute = stack.pop()
        if isinstance(value, str):
            if attribute in _SPEC_CODE_ATTRIBUTES:
                yield element, value, _SPEC_CODE_ATTRIBUTES[attribute]
            continue
        if id(value) in seen or (value is not root and isinstance(value, TaskSpec | WorkflowSpec)):
            continue  # other task specs are walked on their own
        seen.add(id(value))
        if isinstance(value, Operator):  # a sequence-flow condition: _BpmnCondition(expression)
            stack.extend((arg, "expression") for arg in value.args)
        elif attribute == "operation_params" and isinstance(value, dict):  # service-task parameters
            stack.extend((param.get("value"), "expression") for param in value.values() if isinstance(param, dict))
        elif isinstance(value, dict):
            stack.extend((item, attribute) for item in value.values() if not isinstance(item, str))
        elif isinstance(value, list | tuple | set):
            stack.extend((item, attribute) for item in value)
        elif type(value).__module__.startswith(("SpiffWorkflow", "processes")) and hasattr(value, "__dict__"):
            stack.extend((item, name) for name, item in vars(value).items())


def _check_spec_expressions(specs: list[BpmnProcessSpec], filename: str, problems: list[InvalidModel]) -> None:
    for element, text, check in spec_expressions(specs):
        if not text.strip():
            continue
        try:
            check(text)
        except SandboxViolation as exc:
            problems.append(InvalidModel(f"{filename}: element {element}: {exc}", filename=filename, element=element))


@dataclass(frozen=True)
class Known:
    """What a diagram may name: the groups, the forms (a test of a name), and the lane -> group mapping."""

    groups: frozenset[str]
    form_exists: Callable[[str], bool]
    lanes: Mapping[str, str] = field(default_factory=dict)

    def group_of_lane(self, lane: str) -> str:
        return self.lanes.get(lane, lane)


def _lane_problem(lane: etree._Element, known: Known) -> str | None:
    name = (lane.get("name") or "").strip()
    if name == INITIATOR_LANE or known.group_of_lane(name) in known.groups:
        return None
    if name in known.lanes:
        return f"lane {name!r} is mapped to {known.lanes[name]!r}, which is not a known group"
    return (f"lane name {lane.get('name')!r} is not a known group ({', '.join(sorted(known.groups))}); "
            "create the group or map the lane to one")


def _user_task_problem(task: etree._Element, known: Known) -> str | None:
    name = forms.form_name_from_properties(properties_of(task))
    if name is None:
        return "a user task must name its form (spiffworkflow property 'form')"
    return None if known.form_exists(name) else f"form {name!r} does not exist"


def _rule_task_problem(task: etree._Element, _known: Known) -> str | None:
    ruleset = (task.findtext("bpmn:extensionElements/spiffworkflow:calledDecisionId", "", NS)).strip()
    return None if rules.ruleset_exists(ruleset) else f"rule set {ruleset!r} does not exist"


def _service_task_problem(task: etree._Element, _known: Known) -> str | None:
    operator = task.find("bpmn:extensionElements/spiffworkflow:serviceTaskOperator", NS)
    if operator is None or operator.get("id") not in SERVICE_OPERATORS:
        return f"service task operator must be one of {sorted(SERVICE_OPERATORS)}"
    if operator.get("id") == "webhook":
        parameters = {parameter.get("id"): parameter.get("value", "")
                      for parameter in operator.iterfind("spiffworkflow:parameters/spiffworkflow:parameter", NS)}
        try:
            target = ast.literal_eval((parameters.get("target") or "").strip())
        except (ValueError, SyntaxError):
            target = None
        if not isinstance(target, str) or not WEBHOOK_TARGET.fullmatch(target):
            return "a webhook names its target as a quoted lower-case word (e.g. 'fm'), never a URL"
        if not (parameters.get("payload") or "").strip():
            return "a webhook needs a payload (an expression giving a JSON object)"
    return None


def _event_form_problem(event: etree._Element, known: Known) -> str | None:
    properties = properties_of(event)
    name = forms.form_name_from_properties(properties)
    if name is not None and not known.form_exists(name):
        return f"form {name!r} does not exist"
    unknown = sorted(set(senders_of(properties)) - known.groups - MESSAGE_SENDER_WORDS)
    if unknown:
        return (f"senders names unknown groups: {', '.join(unknown)} (a group code, "
                f"{' or '.join(sorted(MESSAGE_SENDER_WORDS))})")
    return None


MESSAGE_SENDER_WORDS = frozenset({"starter", "process", "readers", "link"})


def senders_of(properties: dict[str, str]) -> tuple[str, ...]:
    """Property ``senders`` of a message's catching event: who may post it (group codes, ``starter``, ``readers``,
    ``link``, ``process``)."""
    return names(properties.get("senders", ""))


def _end_event_problem(end: etree._Element, _known: Known) -> str | None:
    if properties_of(end).get("caseStatus", "completed") not in CASE_END_STATUSES:
        return f"caseStatus must be one of {sorted(CASE_END_STATUSES)}"
    return None


# element -> its check, in the order the problems are reported
_ELEMENT_CHECKS = {
    "lane": _lane_problem,
    "userTask": _user_task_problem,
    "businessRuleTask": _rule_task_problem,
    "serviceTask": _service_task_problem,
    "endEvent": _end_event_problem,
    "startEvent": _event_form_problem,  # a message's form: on the event that catches it
    "intermediateCatchEvent": _event_form_problem,
    "boundaryEvent": _event_form_problem,
}


def _check_elements(root: etree._Element, filename: str, known: Known, problems: list[InvalidModel]) -> None:
    for element, check in _ELEMENT_CHECKS.items():
        for node in root.iter(f"{{{BPMN_NS}}}{element}"):
            problem = check(node, known)
            if problem is not None:
                problems.append(InvalidModel(f"{filename}: element {node.get('id')}: {problem}", filename=filename,
                                             element=node.get("id")))


def check_diagram(root: etree._Element, filename: str, known: Known, problems: list[InvalidModel]) -> None:
    """The checks on the XML: each element, the lane mapping against the lanes, every expression and script."""
    _check_elements(root, filename, known, problems)
    lane_names = {(lane.get("name") or "").strip() for lane in root.iter(f"{{{BPMN_NS}}}lane")}
    problems += [InvalidModel(f"{filename}: the lane mapping names {name!r}, which is no lane of the diagram",
                              filename=filename) for name in sorted(set(known.lanes) - lane_names)]
    _check_expressions(root, filename, problems)


def check_specs(specs: list[BpmnProcessSpec], filename: str, problems: list[InvalidModel], book: Rulebook) -> None:
    """The checks on the parsed specs (the process's first): expressions, tasks in lanes, a timer start."""
    _check_spec_expressions(specs, filename, problems)
    _check_task_lanes(specs, filename, problems)
    _check_timer_start(specs[0], filename, problems, book)


def _check_task_lanes(specs: list[BpmnProcessSpec], filename: str, problems: list[InvalidModel]) -> None:
    """A task a person does (user, manual or plain task) must sit in a lane: the lane is the group that does it."""
    for process_spec in specs:
        for task_spec in process_spec.task_specs.values():
            if getattr(task_spec, "manual", False) and not getattr(task_spec, "lane", None):
                element = task_spec.bpmn_id
                problems.append(InvalidModel(
                    f"{filename}: element {element}: a user, manual or plain task must sit in a lane that names "
                    "the group who does it", filename=filename, element=element))


def _check_timer_start(spec: BpmnProcessSpec, filename: str, problems: list[InvalidModel], book: Rulebook) -> None:
    """A process started by a timer names the unit its cases belong to, and its timer has an occurrence
    (its expression evaluated now, with the parameters of ``book`` in force today); it has no starter, so
    no task of it may sit in the initiator lane."""
    try:
        timer = timer_start_of(spec)
        if timer is None:
            return
        now = dt.datetime.now(dt.UTC)
        next(occurrences(evaluated(timer, timer_functions(book, now.astimezone(LOCAL_ZONE).date())), now), None)
    except EngineFailure as exc:
        problems.append(InvalidModel(f"{filename}: {exc.message}", filename=filename))
        return
    if not timer.properties.get("unit"):
        problems.append(InvalidModel(
            f"{filename}: element {timer.element}: a timer start event must name the unit of the cases it starts "
            "(spiffworkflow property 'unit')", filename=filename, element=timer.element))
    for task_spec in spec.task_specs.values():
        if getattr(task_spec, "manual", False) and getattr(task_spec, "lane", None) == INITIATOR_LANE:
            problems.append(InvalidModel(
                f"{filename}: element {task_spec.bpmn_id}: a process started by a timer has no starter for the "
                f"lane {INITIATOR_LANE!r}", filename=filename, element=task_spec.bpmn_id))
