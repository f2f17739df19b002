"""Deploying BPMN: validation at deploy time, immutable numbered versions."""

from __future__ import annotations

import pytest

from processes import Database, create_user, deploy, list_processes, start_case
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
