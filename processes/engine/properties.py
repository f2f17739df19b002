"""What a BPMN file declares about its process besides the flow: the ``spiffworkflow:properties``.

Read from the XML at deploy and checked (``loader.load_process`` puts them in ``ParsedProcess``, whose
fields say what each means): who may read the cases (``sensitivity``, ``readers``, ``subject``), what lists
show of a case (``caseTitle``, ``caseSummary``, ``caseBadge``, ``listColumns``, ``listLabels``,
``listValues``), statistics and retention, ``statusBoard``, ``exports``, ``caseRefs``, ``startedFrom``,
``linkHeader``, ``startByLink``, and the English names (``nameEn``) of the process and its elements.
"""

from __future__ import annotations

import json
from typing import Any

from lxml import etree

import forms
from processes.engine.sandbox import SandboxViolation
from processes.engine.titles import check_template
from processes.errors import InvalidModel

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS}
SENSITIVITIES = ("normal", "restricted")
CASE_TEMPLATES = ("caseTitle", "caseSummary", "caseBadge")


def properties_of(node: etree._Element) -> dict[str, str]:
    """An element's ``spiffworkflow:properties``, name -> value."""
    return {
        prop.get("name"): prop.get("value", "")
        for prop in node.findall("bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", NS)
    }


def names(text: str) -> tuple[str, ...]:
    """A property holding names (group codes, fields, task ids, process keys) separated by spaces or commas,
    in order, each once."""
    return tuple(dict.fromkeys(name for name in text.replace(",", " ").split() if name))


def access(
    process: etree._Element, filename: str, groups: frozenset[str], problems: list[InvalidModel],
) -> dict[str, Any]:
    """Who may read the cases: the ``sensitivity``, ``readers`` and ``subject`` properties, checked (a problem
    is added to ``problems``)."""
    properties = properties_of(process)
    sensitivity = properties.get("sensitivity", "normal").strip() or "normal"
    if sensitivity not in SENSITIVITIES:
        problems.append(InvalidModel(f"{filename}: sensitivity must be one of {', '.join(SENSITIVITIES)}",
                                     filename=filename, element=process.get("id")))
    readers = names(properties.get("readers", ""))
    unknown = sorted(set(readers) - groups)
    if unknown:
        problems.append(InvalidModel(f"{filename}: readers names unknown groups: {', '.join(unknown)}",
                                     filename=filename, element=process.get("id")))
    return {"sensitivity": sensitivity, "readers": readers, "subject": properties.get("subject", "").strip() or None}


def case_templates(process: etree._Element, filename: str) -> dict[str, str | None]:
    """The caseTitle, caseSummary and caseBadge templates, checked (only {field} placeholders); raises
    InvalidModel naming the first bad one."""
    found: dict[str, str] = {}
    for name, value in properties_of(process).items():
        if name in CASE_TEMPLATES and value.strip():
            try:
                check_template(value)
            except SandboxViolation as exc:
                raise InvalidModel(f"{filename}: property {name}: {exc}", filename=filename,
                                   element=process.get("id")) from None
            found[name] = value.strip()
    return {"case_title": found.get("caseTitle"), "case_summary": found.get("caseSummary"),
            "case_badge": found.get("caseBadge")}


def described(root: etree._Element, process: etree._Element, filename: str, groups: frozenset[str]) -> dict[str, Any]:
    """Every other property of the process (and the English names and decision variables of its elements),
    checked; raises InvalidModel naming the first bad one."""
    properties = properties_of(process)
    list_columns = names(properties.get("listColumns", ""))
    return {
        "start_form": _start_form(process),
        "status_board": names(properties.get("statusBoard", "")),
        "exports": names(properties.get("exports", "")),
        "started_from": names(properties.get("startedFrom", "")),
        **_statistics_and_retention(process, filename, groups),
        "list_columns": list_columns,
        **_list_words(process, filename, list_columns),
        "case_refs": names(properties.get("caseRefs", "")),
        "documentation": " ".join((process.findtext("bpmn:documentation", "", NS) or "").split()),
        "link_header": properties.get("linkHeader", "").strip() or None,
        "start_by_link": properties.get("startByLink", "").strip().lower() == "true",
        "name_en": properties.get("nameEn", "").strip(),
        "english_names": english_names(root),
        "decision_variables": _decision_variables(root),
    }


def _start_form(process: etree._Element) -> str | None:
    """The form of the start event (checked with the other events' forms by the loader)."""
    for start in process.findall("bpmn:startEvent", NS):
        name = forms.form_name_from_properties(properties_of(start))
        if name is not None:
            return name
    return None


def _statistics_and_retention(process: etree._Element, filename: str, groups: frozenset[str]) -> dict[str, Any]:
    """The process's ``statistics``, ``statisticsTasks``, ``statisticsReaders``, ``personalData`` and
    ``retention`` properties, checked (see ParsedProcess)."""
    properties = properties_of(process)
    readers = names(properties.get("statisticsReaders", ""))
    unknown = sorted(set(readers) - groups)
    if unknown:
        raise InvalidModel(f"{filename}: statisticsReaders names unknown groups: {', '.join(unknown)}",
                           filename=filename, element=process.get("id"))
    personal = names(properties.get("personalData", ""))
    retention = properties.get("retention", "").strip() or None
    if bool(personal) != bool(retention):
        raise InvalidModel(f"{filename}: personalData and retention go together", filename=filename,
                           element=process.get("id"))
    return {"statistics": names(properties.get("statistics", "")),
            "statistics_tasks": names(properties.get("statisticsTasks", "")),
            "statistics_readers": readers, "personal_data": personal, "retention": retention}


def _list_words(process: etree._Element, filename: str, columns: tuple[str, ...]) -> dict[str, Any]:
    """The properties ``listLabels`` and ``listValues``: JSON naming listed fields and their values in Danish
    and English; a field they name must be one of ``listColumns`` and each text an object with ``da``."""
    found: dict[str, Any] = {}
    for prop, key, depth in (("listLabels", "list_labels", 1), ("listValues", "list_values", 2)):
        text = properties_of(process).get(prop, "").strip()
        if not text:
            continue
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise InvalidModel(f"{filename}: {prop} is not JSON: {exc}", filename=filename, element=prop) from None
        if not isinstance(value, dict) or not set(value) <= set(columns):
            raise InvalidModel(f"{filename}: {prop} must be an object whose keys are listColumns fields",
                               filename=filename, element=prop)
        texts = list(value.values()) if depth == 1 else [
            text for named in value.values() for text in (named.values() if isinstance(named, dict) else [None])]
        if not all(isinstance(each, dict) and isinstance(each.get("da"), str)
                   and all(isinstance(words, str) for words in each.values()) for each in texts):
            raise InvalidModel(f"{filename}: {prop}: each text must be an object {{\"da\": ..., \"en\": ...}}",
                               filename=filename, element=prop)
        found[key] = value
    return found


def english_names(root: etree._Element) -> dict[str, str]:
    """Every element's English name by its id: its property ``nameEn`` (the ``name`` attribute is Danish)."""
    found: dict[str, str] = {}
    for node in root.iter():
        if not isinstance(node.tag, str) or not node.get("id"):
            continue
        english = properties_of(node).get("nameEn", "").strip()
        if english:
            found[node.get("id", "")] = english
    return found


def _decision_variables(root: etree._Element) -> dict[str, str]:
    """resultVariable (default: the rule set's name) -> rule set, of every business-rule task."""
    found: dict[str, str] = {}
    for task in root.iter(f"{{{BPMN_NS}}}businessRuleTask"):
        ruleset = task.findtext("bpmn:extensionElements/spiffworkflow:calledDecisionId", "", NS).strip()
        if ruleset:
            found[properties_of(task).get("resultVariable", "").strip() or ruleset] = ruleset
    return found
