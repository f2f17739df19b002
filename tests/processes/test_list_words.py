"""The process properties that name a list's columns and values (listLabels, listValues) and the case data
fields naming other cases (caseRefs): read from the BPMN, and refused when malformed."""

from __future__ import annotations

from pathlib import Path

import pytest

from processes.engine.loader import load_process
from processes.errors import InvalidModel
from processes.people.organisation import GROUP_CODES

VALIDITY = Path(__file__).resolve().parents[2] / "bpmn" / "lone_work_validity.bpmn"
PROPERTY = '<spiffworkflow:property name="listLabels" value="'


def _load(xml: str):
    return load_process(xml.encode(), VALIDITY.name, groups=GROUP_CODES)


def test_the_words_of_a_list_and_the_case_references_are_read_from_the_process():
    parsed = _load(VALIDITY.read_text())
    assert parsed.list_labels["valid_until"] == {"da": "Gyldig til", "en": "Valid until"}
    assert parsed.list_values["approval_status"]["revoked"] == {"da": "Tilbagekaldt", "en": "Revoked"}
    assert parsed.case_refs == ("approval_case",)


@pytest.mark.parametrize("value", [
    "not json",
    "{&quot;hazards&quot;: {&quot;da&quot;: &quot;Farer&quot;}}",  # not a listed field
    "{&quot;valid_until&quot;: &quot;Gyldig til&quot;}",  # not {da, en}
    "{&quot;valid_until&quot;: {&quot;en&quot;: &quot;Valid until&quot;}}",  # no Danish
])
def test_a_malformed_list_label_is_refused_when_deployed(value):
    xml = VALIDITY.read_text()
    start = xml.index(PROPERTY) + len(PROPERTY)
    broken = xml[:start] + value + xml[xml.index('"', start):]
    with pytest.raises(InvalidModel, match="listLabels"):
        _load(broken)
