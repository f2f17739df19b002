"""Parse and validate a BPMN file before it may be deployed.

The XML is parsed with entity resolution, DTDs and network access off, and any DOCTYPE is refused. Then
SpiffWorkflow parses the tree (with our business-rule task, which calls ``rules.decide`` instead of DMN)
and every element is checked: lanes name known groups, user tasks and the start event name forms that
exist, business-rule tasks name rule sets that exist, service tasks name operators we offer, and every
expression and script passes the sandbox check. Each problem is reported with file, element id and text,
and every problem of a file is reported at once (``InvalidModel.problems``), not the first alone.

A lane names a group, directly or through a lane -> group mapping given at deploy (a model from elsewhere
whose lanes are named otherwise); the lane called "Process Initiator" (:data:`INITIATOR_LANE`, SpiffArena's
convention) means whoever started the case.
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
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.operators import Operator
from SpiffWorkflow.specs.base import TaskSpec
from SpiffWorkflow.specs.WorkflowSpec import WorkflowSpec
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import BusinessRuleTaskParser
from SpiffWorkflow.spiff.specs.defaults import SubWorkflowTask as SpiffSubWorkflowTask

import forms
import rules
from processes.clock import LOCAL_ZONE
from processes.engine.event_subprocesses import EventSubprocessParser
from processes.engine.events import adopt_message_definitions, evaluated, occurrences, timer_functions, timer_start_of
from processes.engine.properties import BPMN_NS, NS, SPIFF_NS, access, case_templates, described, names, properties_of
from processes.engine.rulebook import PACKAGE_RULES, Rulebook
from processes.engine.sandbox import SandboxViolation, check_expression, check_script
from processes.engine.specs import RuleTask, connect_loop_tasks, wire_event_subprocess_triggers
from processes.errors import EngineFailure, InvalidModel

MAX_BPMN_BYTES = 2 * 1024 * 1024
SERVICE_OPERATORS = frozenset({"notify", "start_case", "send_message", "webhook"})
WEBHOOK_TARGET = re.compile(r"[a-z][a-z0-9_]{0,63}")
CASE_END_STATUSES = frozenset({"completed", "rejected", "cancelled"})
INITIATOR_LANE = "Process Initiator"  # SpiffArena's lane for whoever started the case: the starter gets its tasks

_XML_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True,
    dtd_validation=False,
)


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


class RuleTaskParser(BusinessRuleTaskParser):
    """``<businessRuleTask>`` with ``spiffworkflow:calledDecisionId`` = a rule set of ``rules/``.

    Subclasses Spiff's parser because the DMN parser asks every business-rule parser for its decision
    reference; the task it creates calls ``rules.decide`` instead of a DMN engine.
    """

    def create_task(self) -> RuleTask:
        extensions = self.parse_extensions()
        ruleset = extensions.get("calledDecisionId")
        if not ruleset:
            raise ValidationException(
                "a business-rule task must name a rule set (spiffworkflow:calledDecisionId)",
                node=self.node, file_name=self.filename,
            )
        properties = extensions.get("properties", {})
        return RuleTask(
            self.spec, self.bpmn_id, ruleset=ruleset.strip(),
            result_variable=properties.get("resultVariable") or ruleset.strip(),
            prescript=extensions.get("preScript"), postscript=extensions.get("postScript"),
            **self.bpmn_attributes,
        )


class AmflowParser(SpiffBpmnParser):
    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("businessRuleTask"): (RuleTaskParser, RuleTask),
        full_tag("subProcess"): (EventSubprocessParser, SpiffSubWorkflowTask),  # event sub-processes: ours
    }


@dataclass(frozen=True)
class ParsedProcess:
    """A validated process: its key, the Spiff specs, and what the engine needs to know about it."""

    key: str
    name: str
    spec: BpmnProcessSpec
    subprocess_specs: dict[str, BpmnProcessSpec]
    start_form: str | None
    # Who may read its cases (issue #11): property ``sensitivity`` = ``restricted`` on the bpmn:process, and
    # ``readers`` = group codes (space or comma separated) that may read a restricted case besides its people.
    sensitivity: str = "normal"
    readers: tuple[str, ...] = ()
    subject: str | None = None  # property ``subject``: the case data field holding the username it is about
    called_processes: frozenset[str] = frozenset()  # call activities to processes of other files, by id
    # Property ``statusBoard``: the user-task ids of a fan-out whose instances, one per unit, make the case's
    # status board (the first names the task and its due date; later ones are its escalations).
    status_board: tuple[str, ...] = ()
    # Property ``exports``: case data fields holding a table (a list of flat records) to export as CSV/XLSX.
    exports: tuple[str, ...] = ()
    # Property ``startedFrom`` = process keys (space or comma separated): a case of this process is started
    # only from a running case of one of them, by that case's starter (processes/cases.py).
    started_from: tuple[str, ...] = ()
    # Statistics and retention (issue #14), properties on the bpmn:process, each a comma-separated list:
    # ``statistics`` = case data paths (``event_type``, ``classification.track``) counted per unit;
    # ``statisticsTasks`` = user-task ids counted as done on time / late against their due time;
    # ``statisticsReaders`` = groups that may read the statistics of their units (central: every unit);
    # ``personalData`` = the case data fields erased ``retention`` (a parameter key naming an ISO duration)
    # after the case closed.
    statistics: tuple[str, ...] = ()
    statistics_tasks: tuple[str, ...] = ()
    statistics_readers: tuple[str, ...] = ()
    personal_data: tuple[str, ...] = ()
    retention: str | None = None
    # property ``listColumns``: the case data fields a list of the process's cases shows (and filters on)
    list_columns: tuple[str, ...] = ()
    # Words for such a list (properties on the bpmn:process, JSON): ``listLabels`` = {field: {da, en}} names
    # the listed fields no form names; ``listValues`` = {field: {value: {da, en}}} names their values
    # (e.g. an approval's status), and a field with named values is a filter of the list.
    list_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    list_values: Mapping[str, Mapping[str, Mapping[str, str]]] = field(default_factory=dict)
    # property ``caseRefs``: case data fields (dotted paths into a record, e.g. ``previous.case``) holding
    # the id of another case; the case page shows each as a link to that case
    case_refs: tuple[str, ...] = ()
    # What lists show of a case (issue #17): properties caseTitle, caseSummary, caseBadge on the bpmn:process,
    # templates over the case data (processes.engine.titles)
    case_title: str | None = None
    case_summary: str | None = None
    case_badge: str | None = None
    documentation: str = ""  # the bpmn:process's documentation
    # property ``linkHeader``: an expression over the case data giving the text a signed link's page shows
    # above its tasks (e.g. who the contact person is), for people without an account
    link_header: str | None = None
    # property ``startByLink`` = ``true``: a case may be started through a signed start link by a person
    # without an account (processes.startlinks)
    start_by_link: bool = False
    # English names (issue #17): property ``nameEn`` beside an element's (Danish) ``name``: the process's,
    # and every element's by its id (the diagram in English, the steps taken)
    name_en: str = ""
    english_names: Mapping[str, str] = field(default_factory=dict)
    # the case data fields holding a business-rule task's decision (resultVariable) -> its rule set
    decision_variables: Mapping[str, str] = field(default_factory=dict)


def parse_xml(xml: bytes, filename: str) -> etree._Element:
    """Parse untrusted XML safely: size cap, no DOCTYPE, no entities, no network."""
    if len(xml) > MAX_BPMN_BYTES:
        raise InvalidModel(f"{filename}: larger than {MAX_BPMN_BYTES // 1024} KiB", filename=filename)
    if b"<!DOCTYPE" in xml.upper() or b"<!ENTITY" in xml.upper():
        raise InvalidModel(f"{filename}: a DOCTYPE or entity declaration is not allowed", filename=filename)
    try:
        root = etree.fromstring(xml, parser=_XML_PARSER)
    except etree.XMLSyntaxError as exc:
        raise InvalidModel(f"{filename}: not well-formed XML: {exc}", filename=filename) from None
    if root.getroottree().docinfo.doctype:
        raise InvalidModel(f"{filename}: a DOCTYPE is not allowed", filename=filename)
    return root


def utf8_xml(xml: bytes, filename: str) -> bytes:
    """The file as UTF-8, which is how it is stored and read back.

    A file in another encoding that lxml reads (its XML declaration says which, e.g. ISO-8859-1) is
    re-serialized as UTF-8 (comments dropped); one lxml cannot read is an InvalidModel naming the problem.
    """
    root = parse_xml(xml, filename)
    encoding = (root.getroottree().docinfo.encoding or "UTF-8").upper()
    if encoding in ("UTF-8", "UTF8"):
        return xml
    return etree.tostring(root.getroottree(), encoding="UTF-8", xml_declaration=True)


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
class _Known:
    """What a diagram may name: the groups, the forms (a test of a name), and the lane -> group mapping."""

    groups: frozenset[str]
    form_exists: Callable[[str], bool]
    lanes: Mapping[str, str] = field(default_factory=dict)

    def group_of_lane(self, lane: str) -> str:
        return self.lanes.get(lane, lane)


def _lane_problem(lane: etree._Element, known: _Known) -> str | None:
    name = (lane.get("name") or "").strip()
    if name == INITIATOR_LANE or known.group_of_lane(name) in known.groups:
        return None
    if name in known.lanes:
        return f"lane {name!r} is mapped to {known.lanes[name]!r}, which is not a known group"
    return (f"lane name {lane.get('name')!r} is not a known group ({', '.join(sorted(known.groups))}); "
            "create the group or map the lane to one")


def _user_task_problem(task: etree._Element, known: _Known) -> str | None:
    name = forms.form_name_from_properties(properties_of(task))
    if name is None:
        return "a user task must name its form (spiffworkflow property 'form')"
    return None if known.form_exists(name) else f"form {name!r} does not exist"


def _rule_task_problem(task: etree._Element, _known: _Known) -> str | None:
    ruleset = (task.findtext("bpmn:extensionElements/spiffworkflow:calledDecisionId", "", NS)).strip()
    return None if rules.ruleset_exists(ruleset) else f"rule set {ruleset!r} does not exist"


def _service_task_problem(task: etree._Element, _known: _Known) -> str | None:
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


def _event_form_problem(event: etree._Element, known: _Known) -> str | None:
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


def _end_event_problem(end: etree._Element, _known: _Known) -> str | None:
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


def _check_elements(root: etree._Element, filename: str, known: _Known, problems: list[InvalidModel]) -> None:
    for element, check in _ELEMENT_CHECKS.items():
        for node in root.iter(f"{{{BPMN_NS}}}{element}"):
            problem = check(node, known)
            if problem is not None:
                problems.append(InvalidModel(f"{filename}: element {node.get('id')}: {problem}", filename=filename,
                                             element=node.get("id")))


def _executable_process(root: etree._Element, filename: str) -> etree._Element:
    processes = root.findall("bpmn:process", NS)
    executable = [p for p in processes if p.get("isExecutable", "true").lower() == "true"] or processes
    if not executable:
        raise InvalidModel(f"{filename}: no bpmn:process element", filename=filename)
    return executable[0]


def load_process(
    xml: bytes, filename: str, *, groups: frozenset[str], form_exists: Callable[[str], bool] = forms.form_exists,
    lanes: Mapping[str, str] | None = None, problems: list[InvalidModel] | None = None,
    book: Rulebook = PACKAGE_RULES,
) -> ParsedProcess:
    """Parse and validate one BPMN file; raise InvalidModel listing every problem (file, element, text).

    ``form_exists`` tells the forms the diagram may name (default: the shipped ones); ``lanes`` maps a
    lane name to the group code it stands for (the parsed tasks carry the group). ``problems`` found
    before (in the documents the diagram uses, say) are reported together with the diagram's own.
    ``book`` holds the parameters a timer start's ``param()`` reads (default: the shipped ones).
    """
    problems = list(problems or [])
    known = _Known(groups, form_exists, dict(lanes or {}))
    root = parse_xml(xml, filename)
    process = _executable_process(root, filename)
    _check_diagram(root, filename, known, problems)
    declared = {**access(process, filename, groups, problems), **case_templates(process, filename)}
    spec, subprocess_specs, called = _parse(root, process, filename, problems)
    specs = [spec, *subprocess_specs.values()]
    _check_specs(specs, filename, problems, book)
    if problems:
        raise InvalidModel.of(problems, filename=filename)
    for process_spec in specs:
        _ready(process_spec, known)
    key = process.get("id")
    return ParsedProcess(
        key=key, name=process.get("name") or key, spec=spec, subprocess_specs=subprocess_specs,
        called_processes=frozenset(called), **declared, **described(root, process, filename, known.groups),
    )


def _check_diagram(root: etree._Element, filename: str, known: _Known, problems: list[InvalidModel]) -> None:
    """The checks on the XML: each element, the lane mapping against the lanes, every expression and script."""
    _check_elements(root, filename, known, problems)
    lane_names = {(lane.get("name") or "").strip() for lane in root.iter(f"{{{BPMN_NS}}}lane")}
    problems += [InvalidModel(f"{filename}: the lane mapping names {name!r}, which is no lane of the diagram",
                              filename=filename) for name in sorted(set(known.lanes) - lane_names)]
    _check_expressions(root, filename, problems)


def _parse(
    root: etree._Element, process: etree._Element, filename: str, problems: list[InvalidModel],
) -> tuple[BpmnProcessSpec, dict[str, BpmnProcessSpec], set[str]]:
    """SpiffWorkflow's specs of the process and of its sub-processes, and the ids it calls in other files;
    raises InvalidModel with every problem so far if SpiffWorkflow cannot parse the file."""
    parser = AmflowParser(validator=VALIDATOR)
    try:
        parser.add_bpmn_xml(etree.ElementTree(root), filename=filename)
        key = process.get("id")
        spec = parser.get_spec(key)
        subprocess_specs, called = _subprocess_specs(parser, key)
    except ValidationException as exc:
        element = getattr(exc, "id", None)
        problems.append(InvalidModel(f"{filename}: element {element}: {exc}", filename=filename, element=element))
        raise InvalidModel.of(problems, filename=filename) from None
    except (SpiffWorkflowException, KeyError, ValueError) as exc:
        problems.append(InvalidModel(f"{filename}: {exc}", filename=filename))
        raise InvalidModel.of(problems, filename=filename) from None
    _lanes_inside_subprocesses(process, subprocess_specs)
    return spec, subprocess_specs, called


def _check_specs(specs: list[BpmnProcessSpec], filename: str, problems: list[InvalidModel], book: Rulebook) -> None:
    """The checks on the parsed specs (the process's first): expressions, tasks in lanes, a timer start."""
    _check_spec_expressions(specs, filename, problems)
    _check_task_lanes(specs, filename, problems)
    _check_timer_start(specs[0], filename, problems, book)


def _ready(process_spec: BpmnProcessSpec, known: _Known) -> None:
    """Ready a checked spec for the runtime: lanes to groups, loops, event sub-process triggers, messages."""
    _map_lanes(process_spec, known)
    connect_loop_tasks(process_spec)
    wire_event_subprocess_triggers(process_spec)
    adopt_message_definitions(process_spec)


def _subprocess_specs(parser: AmflowParser, key: str) -> tuple[dict[str, BpmnProcessSpec], set[str]]:
    """The specs of the file's sub-processes and called processes, and the ids it calls that are not in it.

    A call activity may call a process of another file by its id: the runtime gives the workflow the
    newest deployed version of it when the case first calls it (``processes/advance.py``).
    """
    found: dict[str, BpmnProcessSpec] = {}
    external: set[str] = set()
    stack = [key]
    while stack:
        for task_spec in parser.get_spec(stack.pop()).task_specs.values():
            if not isinstance(task_spec, SubWorkflowTask):
                continue
            name = str(task_spec.spec)
            if name in found or name in external:
                continue
            called = parser.get_spec(name, required=False)
            if called is None:
                external.add(name)
            else:
                found[name] = called
                stack.append(name)
    return found, external


def _lanes_inside_subprocesses(process: etree._Element, subprocess_specs: dict[str, BpmnProcessSpec]) -> None:
    """A task inside an embedded sub-process sits in the lane whose ``flowNodeRef`` names it.

    SpiffWorkflow gives every element of an embedded sub-process the sub-process's own lane, so an
    escalation inside one could never reach another group; a lane of the process that names the inner
    element takes precedence (elements no lane names keep the sub-process's lane).
    """
    named = {(ref.text or "").strip(): lane.get("name")
             for lane in process.iter(f"{{{BPMN_NS}}}lane") for ref in lane.findall("bpmn:flowNodeRef", NS)}
    for sub_spec in subprocess_specs.values():
        for task_spec in sub_spec.task_specs.values():
            lane = named.get(getattr(task_spec, "bpmn_id", None) or "")
            if lane and hasattr(task_spec, "lane"):
                task_spec.lane = lane


def _map_lanes(process_spec: BpmnProcessSpec, known: _Known) -> None:
    """Each task spec's lane becomes the group its lane name is mapped to (the initiator lane stays)."""
    if not known.lanes:
        return
    for task_spec in process_spec.task_specs.values():
        lane = getattr(task_spec, "lane", None)
        if lane and lane in known.lanes:
            task_spec.lane = known.lanes[lane]


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
