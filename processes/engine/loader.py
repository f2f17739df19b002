"""Parse a BPMN file, check it, and build what the runtime needs from it.

The XML is parsed with entity resolution, DTDs and network access off, and any DOCTYPE is refused. The
checks on the XML run (``checks.check_diagram``), then SpiffWorkflow parses the tree (with our
business-rule task, which calls ``rules.decide`` instead of DMN) and the checks on the parsed specs run
(``checks.check_specs``). Each problem is reported with file, element id and text, and every problem of a
file is reported at once (``InvalidModel.problems``), not the first alone. A checked file becomes a
``ParsedProcess``: its specs readied for the runtime (lanes mapped to groups, loops, event sub-process
triggers, messages) and the process properties it declares (``properties.py``).

A lane names a group, directly or through a lane -> group mapping given at deploy (a model from elsewhere
whose lanes are named otherwise).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from lxml import etree
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import BusinessRuleTaskParser
from SpiffWorkflow.spiff.specs.defaults import SubWorkflowTask as SpiffSubWorkflowTask

import forms
from processes.engine.checks import Known, check_diagram, check_specs
from processes.engine.event_subprocesses import EventSubprocessParser
from processes.engine.events import adopt_message_definitions
from processes.engine.properties import BPMN_NS, NS, access, case_templates, described
from processes.engine.rulebook import PACKAGE_RULES, Rulebook
from processes.engine.specs import RuleTask, connect_loop_tasks, wire_event_subprocess_triggers
from processes.errors import InvalidModel

MAX_BPMN_BYTES = 2 * 1024 * 1024

_XML_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True,
    dtd_validation=False,
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
    known = Known(groups, form_exists, dict(lanes or {}))
    root = parse_xml(xml, filename)
    process = _executable_process(root, filename)
    check_diagram(root, filename, known, problems)
    declared = {**access(process, filename, groups, problems), **case_templates(process, filename)}
    spec, subprocess_specs, called = _parse(root, process, filename, problems)
    specs = [spec, *subprocess_specs.values()]
    check_specs(specs, filename, problems, book)
    if problems:
        raise InvalidModel.of(problems, filename=filename)
    for process_spec in specs:
        _ready(process_spec, known)
    key = process.get("id")
    return ParsedProcess(
        key=key, name=process.get("name") or key, spec=spec, subprocess_specs=subprocess_specs,
        called_processes=frozenset(called), **declared, **described(root, process, filename, known.groups),
    )


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


def _ready(process_spec: BpmnProcessSpec, known: Known) -> None:
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


def _map_lanes(process_spec: BpmnProcessSpec, known: Known) -> None:
    """Each task spec's lane becomes the group its lane name is mapped to (the initiator lane stays)."""
    if not known.lanes:
        return
    for task_spec in process_spec.task_specs.values():
        lane = getattr(task_spec, "lane", None)
        if lane and lane in known.lanes:
            task_spec.lane = known.lanes[lane]
