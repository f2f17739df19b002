"""Parse and validate a BPMN file before it may be deployed.

The XML is parsed with entity resolution, DTDs and network access off, and any DOCTYPE is refused. Then
SpiffWorkflow parses the tree (with our business-rule task, which calls ``rules.decide`` instead of DMN)
and every element is checked: lanes name known groups, user tasks and the start event name forms that
exist, business-rule tasks name rule sets that exist, service tasks name operators we offer, and every
expression and script passes the sandbox check. Each problem is reported with file, element id and text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import BusinessRuleTaskParser

import forms
import rules
from processes.errors import InvalidModel
from processes.sandbox import SandboxViolation, check_expression, check_script
from processes.specs import RuleTask, connect_loop_tasks, wire_event_subprocess_triggers

MAX_BPMN_BYTES = 2 * 1024 * 1024
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS}
SERVICE_OPERATORS = frozenset({"notify", "start_case"})
CASE_END_STATUSES = frozenset({"completed", "rejected", "cancelled"})

_XML_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True,
    dtd_validation=False,
)

# Elements whose text is an expression evaluated by the engine.
_EXPRESSION_TAGS = (
    "conditionExpression", "timeDate", "timeDuration", "timeCycle", "completionCondition",
    "loopCondition", "loopCardinality",
)


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
    }


@dataclass(frozen=True)
class ParsedProcess:
    """A validated process: its key, the Spiff specs, and what the engine needs to know about it."""

    key: str
    name: str
    spec: BpmnProcessSpec
    subprocess_specs: dict[str, BpmnProcessSpec]
    start_form: str | None


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


def _check_expressions(root: etree._Element, filename: str) -> None:
    checks: list[tuple[etree._Element, str, Any]] = []
    for tag in _EXPRESSION_TAGS:
        checks += [(node, node.text or "", check_expression) for node in root.iter(f"{{{BPMN_NS}}}{tag}")]
    checks += [(node, node.text or "", check_script) for node in root.iter(f"{{{BPMN_NS}}}script")]
    for tag in ("preScript", "postScript"):
        checks += [(node, node.text or "", check_script) for node in root.iter(f"{{{SPIFF_NS}}}{tag}")]
    checks += [(node, node.get("value", ""), check_expression) for node in root.iter(f"{{{SPIFF_NS}}}parameter")]
    for node in root.iter(f"{{{SPIFF_NS}}}property"):
        if node.get("name") == "dueAt":
            checks.append((node, node.get("value", ""), check_expression))
        elif node.get("name") == "dueIn":
            checks.append((node, node.get("value", ""), _check_duration))
    for node, text, check in checks:
        if not text.strip():
            continue
        try:
            check(text)
        except SandboxViolation as exc:
            element = _element_id(node)
            raise InvalidModel(f"{filename}: element {element}: {exc}", filename=filename, element=element) from None


def _properties(node: etree._Element) -> dict[str, str]:
    return {
        prop.get("name"): prop.get("value", "")
        for prop in node.findall("bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", NS)
    }


def _start_form(process: etree._Element, filename: str) -> str | None:
    for start in process.findall("bpmn:startEvent", NS):
        name = forms.form_name_from_properties(_properties(start))
        if name is not None:
            if not forms.form_exists(name):
                raise InvalidModel(
                    f"{filename}: element {start.get('id')}: form {name!r} does not exist",
                    filename=filename, element=start.get("id"),
                )
            return name
    return None


def _check_elements(root: etree._Element, filename: str, groups: frozenset[str]) -> None:
    def fail(node: etree._Element, problem: str) -> None:
        raise InvalidModel(f"{filename}: element {node.get('id')}: {problem}", filename=filename,
                           element=node.get("id"))

    for lane in root.iter(f"{{{BPMN_NS}}}lane"):
        if (lane.get("name") or "").strip() not in groups:
            fail(lane, f"lane name {lane.get('name')!r} is not a known group ({', '.join(sorted(groups))})")
    for task in root.iter(f"{{{BPMN_NS}}}userTask"):
        name = forms.form_name_from_properties(_properties(task))
        if name is None:
            fail(task, "a user task must name its form (spiffworkflow property 'form')")
        elif not forms.form_exists(name):
            fail(task, f"form {name!r} does not exist")
    for task in root.iter(f"{{{BPMN_NS}}}businessRuleTask"):
        ruleset = (task.findtext("bpmn:extensionElements/spiffworkflow:calledDecisionId", "", NS)).strip()
        if not rules.ruleset_exists(ruleset):
            fail(task, f"rule set {ruleset!r} does not exist")
    for task in root.iter(f"{{{BPMN_NS}}}serviceTask"):
        operator = task.find("bpmn:extensionElements/spiffworkflow:serviceTaskOperator", NS)
        if operator is None or operator.get("id") not in SERVICE_OPERATORS:
            fail(task, f"service task operator must be one of {sorted(SERVICE_OPERATORS)}")
    for end in root.iter(f"{{{BPMN_NS}}}endEvent"):
        status = _properties(end).get("caseStatus", "completed")
        if status not in CASE_END_STATUSES:
            fail(end, f"caseStatus must be one of {sorted(CASE_END_STATUSES)}")


def _executable_process(root: etree._Element, filename: str) -> etree._Element:
    processes = root.findall("bpmn:process", NS)
    executable = [p for p in processes if p.get("isExecutable", "true").lower() == "true"] or processes
    if not executable:
        raise InvalidModel(f"{filename}: no bpmn:process element", filename=filename)
    return executable[0]


def load_process(xml: bytes, filename: str, *, groups: frozenset[str]) -> ParsedProcess:
    """Parse and validate one BPMN file; raise InvalidModel naming file, element and problem."""
    root = parse_xml(xml, filename)
    process = _executable_process(root, filename)
    _check_elements(root, filename, groups)
    _check_expressions(root, filename)
    parser = AmflowParser(validator=VALIDATOR)
    try:
        parser.add_bpmn_xml(etree.ElementTree(root), filename=filename)
        key = process.get("id")
        spec = parser.get_spec(key)
        subprocess_specs = parser.get_subprocess_specs(key)
    except ValidationException as exc:
        element = getattr(exc, "id", None)
        raise InvalidModel(f"{filename}: element {element}: {exc}", filename=filename, element=element) from None
    except (SpiffWorkflowException, KeyError, ValueError) as exc:
        raise InvalidModel(f"{filename}: {exc}", filename=filename) from None
    for process_spec in (spec, *subprocess_specs.values()):
        connect_loop_tasks(process_spec)
        wire_event_subprocess_triggers(process_spec)
    return ParsedProcess(
        key=key,
        name=process.get("name") or key,
        spec=spec,
        subprocess_specs=subprocess_specs,
        start_form=_start_form(process, filename),
    )
