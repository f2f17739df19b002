"""Deploying BPMN: validation at deploy time, immutable numbered versions."""

from __future__ import annotations

import pytest
from lxml import etree
from SpiffWorkflow.spiff.parser.process import VALIDATOR

from processes import Database, create_user, deploy, get_process_xml, list_processes, start_case
from processes.engine.checks import spec_expressions
from processes.engine.loader import AmflowParser, parse_xml
from processes.errors import Forbidden, InvalidModel

from .conftest import BPMN_DIR

NOTE_LOOP = (BPMN_DIR / "note_loop.bpmn").read_text()


def variant(old: str, new: str) -> bytes:
    assert old in NOTE_LOOP
    return NOTE_LOOP.replace(old, new).encode()


def test_a_deployed_process_gets_version_1_then_2_when_its_file_changes(db, owner):
    first = deploy(db, NOTE_LOOP.encode(), "note_loop.bpmn", actor=owner)
    again = deploy(db, NOTE_LOOP.encode(), "note_loop.bpmn", actor=owner)
    changed = deploy(db, variant('name="Write a note"', 'name="Write a short note"'), "note_loop.bpmn", actor=owner)
    assert (first.version, again.version, changed.version) == (1, 1, 2)
    [listed] = list_processes(db)
    assert (listed.key, listed.version, listed.versions) == ("note_loop", 2, [1, 2])


@pytest.mark.parametrize(
    ("old", "new", "element", "problem"),
    [
        ('value="free_note"', 'value="no_such_form"', "write_note", "form 'no_such_form' does not exist"),
        ('name="employees"', 'name="janitors"', "lane_employees", "not a known group"),
        ("last_note_length = len(note)", "x = __import__('os').system('id')", "count", "not allowed"),
        ("last_note_length = len(note)", "import os", "count", "only contain assignments"),
        ('note != "stop"', "().__class__.__base__.__subclasses__()", "f4", "not allowed"),
        ('<spiffworkflow:property name="form" value="free_note"/>', "", "write_note", "must name its form"),
    ],
)
def test_an_invalid_model_is_refused_naming_file_element_and_problem(db, owner, old, new, element, problem):
    with pytest.raises(InvalidModel) as caught:
        deploy(db, variant(old, new), "broken.bpmn", actor=owner)
    assert caught.value.filename == "broken.bpmn"
    assert caught.value.element == element
    assert problem in caught.value.message
    assert list_processes(db) == []


def test_a_business_rule_task_naming_an_unknown_rule_set_is_refused(db, owner):
    xml = variant(
        '<bpmn:scriptTask id="count" name="Count the rounds">',
        '<bpmn:businessRuleTask id="count" name="Decide"><bpmn:extensionElements><spiffworkflow:calledDecisionId>'
        "no_such_rules</spiffworkflow:calledDecisionId></bpmn:extensionElements>",
    ).replace(b"<bpmn:script>last_note_length = len(note)\nshouting = note.upper() == note</bpmn:script>\n"
              b"    </bpmn:scriptTask>", b"</bpmn:businessRuleTask>")
    with pytest.raises(InvalidModel, match="rule set 'no_such_rules' does not exist"):
        deploy(db, xml, "rules.bpmn", actor=owner)


@pytest.mark.parametrize(
    "xml",
    [
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><x>&lol2;</x>',
        b"this is not xml",
        b"<bpmn:definitions xmlns:bpmn='http://www.omg.org/spec/BPMN/20100524/MODEL'/>",
    ],
)
def test_hostile_or_broken_xml_is_refused(db, owner, xml):
    with pytest.raises(InvalidModel) as caught:
        deploy(db, xml, "hostile.bpmn", actor=owner)
    assert "hostile.bpmn" in caught.value.message


def test_an_oversized_file_is_refused(db, owner):
    with pytest.raises(InvalidModel, match="larger than"):
        deploy(db, NOTE_LOOP.encode() + b" " * (3 * 1024 * 1024), "big.bpmn", actor=owner)


def test_only_process_owners_may_deploy(db, anna):
    with pytest.raises(Forbidden):
        deploy(db, NOTE_LOOP.encode(), "note_loop.bpmn", actor=anna)


def test_the_parsed_spec_cache_never_mixes_up_two_databases(make_database_url, owner, db):
    """Row id 1 of one database is not row id 1 of another: the cache is keyed by both."""
    deploy(db, NOTE_LOOP.encode(), "note_loop.bpmn", actor=owner)
    other = Database(make_database_url("other"))
    other.upgrade()
    other_owner = create_user(other, "owner", password="owner-password", groups=["process-owners"], units=[])
    timer_xml = (BPMN_DIR / "timer_escalation.bpmn").read_bytes()
    deploy(other, timer_xml, "timer_escalation.bpmn", actor=other_owner)
    karl = create_user(other, "karl", password="karl-password", groups=["amk"], units=["kemi"])
    case = start_case(other, process="timer_escalation", unit="kemi", data={}, actor=karl)
    assert [task.name for task in case.tasks] == ["handle"]
    anna = create_user(db, "anna", password="anna-password", groups=["employees"], units=["kemi"])
    assert [task.name for task in start_case(db, process="note_loop", unit="kemi", data={}, actor=anna).tasks] == [
        "write_note"]
    other.dispose()


# --- Every expression of a model is checked at deploy (issue #9, finding 7) ----------------------------

BAD = "__import__('os').getcwd()"
XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'


def place_model(element: str, *, definitions: str = "", flow: str = "", extra: str = "") -> bytes:
    """A process start -> place -> end; `element` is the element with id "place"."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" {XSI}
                  id="places_definitions" targetNamespace="http://amflow.dtu.dk/test">
  {definitions}
  <bpmn:process id="places" name="Places (test)" isExecutable="true">
    <bpmn:laneSet id="places_lanes"><bpmn:lane id="places_lane" name="employees">
      <bpmn:flowNodeRef>place</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start"/>
    {element}
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="place"/>
    <bpmn:sequenceFlow id="f2" sourceRef="place" targetRef="end">{flow}</bpmn:sequenceFlow>
    {extra}
  </bpmn:process>
</bpmn:definitions>
""".encode()


def script_task(inner: str = "", script: str = "x = 1") -> str:
    return f'<bpmn:scriptTask id="place">{inner}<bpmn:script>{script}</bpmn:script></bpmn:scriptTask>'


def catch_event(definition: str) -> str:
    return f'<bpmn:intermediateCatchEvent id="place">{definition}</bpmn:intermediateCatchEvent>'


MESSAGE = '<bpmn:message id="msg" name="msg"/>'
PLACES = {
    "gateway condition": place_model(
        '<bpmn:exclusiveGateway id="place" default="f3"/>',
        flow=f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{BAD}</bpmn:conditionExpression>',
        extra='<bpmn:sequenceFlow id="f3" sourceRef="place" targetRef="end"/>'),
    "conditional event": catch_event(
        f'<bpmn:conditionalEventDefinition><bpmn:condition xsi:type="bpmn:tFormalExpression">{BAD}'
        "</bpmn:condition></bpmn:conditionalEventDefinition>"),
    "timer date": catch_event(f"<bpmn:timerEventDefinition><bpmn:timeDate>{BAD}</bpmn:timeDate>"
                              "</bpmn:timerEventDefinition>"),
    "timer duration": catch_event(f"<bpmn:timerEventDefinition><bpmn:timeDuration>{BAD}</bpmn:timeDuration>"
                                  "</bpmn:timerEventDefinition>"),
    "timer cycle": catch_event(f"<bpmn:timerEventDefinition><bpmn:timeCycle>{BAD}</bpmn:timeCycle>"
                               "</bpmn:timerEventDefinition>"),
    "loop condition": script_task(
        f"<bpmn:standardLoopCharacteristics><bpmn:loopCondition>{BAD}</bpmn:loopCondition>"
        "</bpmn:standardLoopCharacteristics>"),
    "multi-instance cardinality": script_task(
        f"<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>{BAD}</bpmn:loopCardinality>"
        "</bpmn:multiInstanceLoopCharacteristics>"),
    "multi-instance completion condition": script_task(
        "<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>3</bpmn:loopCardinality>"
        f"<bpmn:completionCondition>{BAD}</bpmn:completionCondition></bpmn:multiInstanceLoopCharacteristics>"),
    "script": script_task(script=f"x = {BAD}"),
    "pre-script": f'<bpmn:manualTask id="place"><bpmn:extensionElements><spiffworkflow:preScript>x = {BAD}'
                  "</spiffworkflow:preScript></bpmn:extensionElements></bpmn:manualTask>",
    "post-script": f'<bpmn:manualTask id="place"><bpmn:extensionElements><spiffworkflow:postScript>x = {BAD}'
                   "</spiffworkflow:postScript></bpmn:extensionElements></bpmn:manualTask>",
    "service-task parameter": (
        '<bpmn:serviceTask id="place"><bpmn:extensionElements><spiffworkflow:serviceTaskOperator id="notify">'
        f'<spiffworkflow:parameters><spiffworkflow:parameter id="group" type="str" value="{BAD}"/>'
        "</spiffworkflow:parameters></spiffworkflow:serviceTaskOperator></bpmn:extensionElements>"
        "</bpmn:serviceTask>"),
    "message payload": place_model(
        '<bpmn:intermediateThrowEvent id="place"><bpmn:messageEventDefinition messageRef="msg">'
        f"<bpmn:extensionElements><spiffworkflow:messagePayload>{BAD}</spiffworkflow:messagePayload>"
        "</bpmn:extensionElements></bpmn:messageEventDefinition></bpmn:intermediateThrowEvent>",
        definitions=MESSAGE),
    "message correlation": place_model(
        catch_event('<bpmn:messageEventDefinition messageRef="msg"/>'),
        definitions=MESSAGE + '<bpmn:correlationProperty id="case_ref" name="case_ref">'
        '<bpmn:correlationPropertyRetrievalExpression messageRef="msg">'
        f"<bpmn:formalExpression>{BAD}</bpmn:formalExpression>"
        "</bpmn:correlationPropertyRetrievalExpression></bpmn:correlationProperty>"),
    "process variable correlation": place_model(
        catch_event('<bpmn:messageEventDefinition messageRef="msg"><bpmn:extensionElements>'
                    "<spiffworkflow:processVariableCorrelation><spiffworkflow:propertyId>case_ref"
                    f"</spiffworkflow:propertyId><spiffworkflow:expression>{BAD}</spiffworkflow:expression>"
                    "</spiffworkflow:processVariableCorrelation></bpmn:extensionElements>"
                    "</bpmn:messageEventDefinition>"),
        definitions=MESSAGE),
    "signal payload": place_model(
        '<bpmn:intermediateThrowEvent id="place"><bpmn:signalEventDefinition signalRef="sig"/>'
        "</bpmn:intermediateThrowEvent>",
        definitions='<bpmn:signal id="sig" name="sig"><bpmn:extensionElements><spiffworkflow:payloadExpression>'
        f"{BAD}</spiffworkflow:payloadExpression></bpmn:extensionElements></bpmn:signal>"),
    "due date": place_model(
        '<bpmn:userTask id="place"><bpmn:extensionElements><spiffworkflow:properties>'
        '<spiffworkflow:property name="form" value="free_note"/>'
        f'<spiffworkflow:property name="dueAt" value="{BAD}"/>'
        "</spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>"),
}
PLACES = {name: xml if isinstance(xml, bytes) else place_model(xml) for name, xml in PLACES.items()}
ELEMENT = {"gateway condition": "f2", "service-task parameter": "group", "message correlation": "case_ref",
           "signal payload": "sig"}


@pytest.mark.parametrize("place", list(PLACES))
def test_an_expression_is_checked_at_deploy_wherever_it_is_in_the_model(db, owner, place):
    deploy(db, PLACES[place].replace(BAD.encode(), b"1"), "fine.bpmn", actor=owner)  # the model itself is fine

    with pytest.raises(InvalidModel) as caught:
        deploy(db, PLACES[place], "evil.bpmn", actor=owner)
    assert caught.value.element == ELEMENT.get(place, "place")
    assert "'__import__' is not allowed" in caught.value.message
    assert [view.version for view in list_processes(db)] == [1]


@pytest.mark.parametrize("place", [place for place in PLACES if place != "due date"])  # dueAt is ours
def test_the_walk_of_the_parsed_spec_finds_every_expression_the_engine_evaluates(place):
    parser = AmflowParser(validator=VALIDATOR)
    parser.add_bpmn_xml(etree.ElementTree(parse_xml(PLACES[place], "evil.bpmn")), filename="evil.bpmn")
    spec = parser.get_spec("places")

    found = [(element, text) for element, text, _ in spec_expressions([spec])]

    assert any(BAD in text for _, text in found), found


# --- Deep expressions and XML encodings (issue #9, finding 5) --------------------------------------------

@pytest.mark.parametrize(
    ("old", "new", "element"),
    [
        ("last_note_length = len(note)", "x = " + "-" * 2000 + "1", "count"),
        ('note != "stop"', "-" * 1990 + "1", "f4"),
    ],
    ids=["script", "gateway condition"],
)
def test_a_deeply_nested_expression_is_refused_at_deploy_with_a_clear_error(db, owner, old, new, element):
    with pytest.raises(InvalidModel, match="nests more than") as caught:
        deploy(db, variant(old, new), "deep.bpmn", actor=owner)
    assert caught.value.element == element


def latin1_note_loop() -> bytes:
    return (
        NOTE_LOOP.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"')
        .replace('name="Write a note"', 'name="Skriv en bemærkning"')
        .encode("iso-8859-1")
    )


def test_a_file_in_another_xml_encoding_is_deployed_and_read_back_as_the_same_text(db, owner, anna):
    view = deploy(db, latin1_note_loop(), "latin1.bpmn", actor=owner)

    assert view.version == 1
    assert "Skriv en bemærkning" in get_process_xml(db, "note_loop")
    case = start_case(db, process="note_loop", unit="kemi", data={}, actor=anna)
    assert case.tasks[0].title == "Skriv en bemærkning"


def test_a_file_whose_bytes_do_not_match_its_encoding_is_refused_naming_the_problem(db, owner):
    xml = NOTE_LOOP.replace('name="Write a note"', 'name="Skriv en bemærkning"').encode("iso-8859-1")

    with pytest.raises(InvalidModel, match=r"not well-formed XML.*(UTF-8|encoding)"):
        deploy(db, xml, "latin1.bpmn", actor=owner)
    assert list_processes(db) == []
