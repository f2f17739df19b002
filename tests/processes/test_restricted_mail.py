"""A restricted case's e-mails carry no details, only a link (issue #14), enforced by the outbox whatever
the process's own template says: a template that reaches for a case field gets nothing."""

from __future__ import annotations

import datetime as dt
import shutil
from importlib import resources
from pathlib import Path

import pytest
from sqlalchemy import event, select

from processes import Database, FixedClock, create_user, deploy, start_case
from processes.bundlesources import Sources
from processes.store.models import Notification

SECRET = "Bullied by Bo in room 3.14"
LEAKY_TEMPLATE = """Subject: {{ data.note }} | {{ case_title }} | {{ task_title | default('') }}

Hello {{ recipient_name }}
Note: {{ data.note }} / {{ data['note'] }} / {{ data.get('note') if data.get is defined else '' }}
Title: {{ case_title }}
Details: {{ data.details.who }}
Case: {{ case_id }}
"""
PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="leaky_definitions" targetNamespace="http://amflow.dtu.dk/test">
  <bpmn:process id="{key}" name="Leaky mail (test)" isExecutable="true">
    <bpmn:extensionElements><spiffworkflow:properties>
      {sensitivity}
      <spiffworkflow:property name="caseTitle" value="{{note}}"/>
    </spiffworkflow:properties></bpmn:extensionElements>
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_employees" name="employees">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>tell</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
      <bpmn:lane id="lane_amk" name="amk"><bpmn:flowNodeRef>follow_up</bpmn:flowNodeRef></bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="form" value="free_note"/>
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:outgoing>f1</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:serviceTask id="tell" name="Tell the starter">
      <bpmn:extensionElements><spiffworkflow:serviceTaskOperator id="notify"><spiffworkflow:parameters>
        <spiffworkflow:parameter id="recipient" type="str" value="'starter'"/>
        <spiffworkflow:parameter id="template" type="str" value="'leaky_note'"/>
      </spiffworkflow:parameters></spiffworkflow:serviceTaskOperator></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:userTask id="follow_up" name="Follow up">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="form" value="free_note"/>
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="tell"/>
    <bpmn:sequenceFlow id="f2" sourceRef="tell" targetRef="follow_up"/>
    <bpmn:sequenceFlow id="f3" sourceRef="follow_up" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""
NOW = FixedClock(dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC))


@pytest.fixture
def sources(tmp_path: Path) -> Sources:
    """The shipped folders, and a process owner's template that tries to put the case's note into the mail."""
    shutil.copytree(str(resources.files("processes.notify") / "mail"), tmp_path / "mail")
    for language in ("da", "en"):
        (tmp_path / "mail" / f"leaky_note.{language}.txt").write_text(LEAKY_TEMPLATE, encoding="utf-8")
    return Sources(mail=tmp_path / "mail")


def mails(db: Database, case_id: str) -> list[Notification]:
    with db.read() as session:
        return list(session.scalars(select(Notification).where(Notification.case_id == case_id)
                                    .order_by(Notification.template)))


def run(db: Database, owner, sources: Sources, *, restricted: bool, written: list[str] | None = None,
        ) -> list[Notification]:
    key = "leaky_restricted" if restricted else "leaky_normal"
    sensitivity = '<spiffworkflow:property name="sensitivity" value="restricted"/>' if restricted else ""
    deploy(db, PROCESS.format(key=key, sensitivity=sensitivity).encode(), f"{key}.bpmn", actor=owner,
           sources=sources)
    ulla = create_user(db, "ulla", password="ulla-password", email="ulla@dtu.example", groups=["employees"],
                       units=["kemi"])
    create_user(db, "kim", password="kim-password", email="kim@dtu.example", groups=["amk"], units=["kemi"])

    def statement(_conn, _cursor, text: str, *_args) -> None:
        if written is not None and text.lstrip().upper().startswith(("INSERT INTO CASES ", "UPDATE CASES ")):
            written.append(text.split(maxsplit=1)[0].upper())

    event.listen(db.write_engine, "before_cursor_execute", statement)
    try:
        case = start_case(db, process=key, unit="kemi", actor=ulla, clock=NOW,
                          data={"note": SECRET, "details": {"who": "Bo"}})
    finally:
        event.remove(db.write_engine, "before_cursor_execute", statement)
    found = mails(db, case.id)
    assert [(mail.template, mail.to_address) for mail in found] == [
        ("leaky_note", "ulla@dtu.example"), ("task_assigned", "kim@dtu.example")]
    return found


def test_a_restricted_cases_mails_show_no_case_field_whatever_the_template_says(db, owner, sources):
    found = run(db, owner, sources, restricted=True)

    for mail in found:
        text = mail.subject + mail.body + repr(mail.data)
        assert SECRET not in text and "Bo" not in text, (mail.template, text)
        assert mail.case_id in mail.body  # the case is named, so the recipient can open it
    leaky, assigned = found
    assert leaky.body.startswith("Hello ulla\n")  # the recipient and generic text stay
    assert "Note:  /  / \n" in leaky.body and "Title: \n" in leaky.body
    assert "Follow up" in assigned.subject  # the task's title is no case detail
    assert set(assigned.data) <= {"case_id", "process", "process_name", "unit", "task_title", "task_id", "due_at"}


def test_a_new_restricted_cases_mails_are_restricted_though_its_row_is_written_once_at_the_end(db, owner, sources):
    """The outbox learns that a case started in the step is restricted without writing its row early."""
    written: list[str] = []

    found = run(db, owner, sources, restricted=True, written=written)

    assert written == ["INSERT"]
    assert all(SECRET not in mail.subject + mail.body for mail in found)


def test_the_same_template_on_a_case_that_is_not_restricted_shows_the_field(db, owner, sources):
    leaky, assigned = run(db, owner, sources, restricted=False)

    assert leaky.subject.startswith(SECRET) and "Details: Bo" in leaky.body
    assert SECRET in assigned.subject  # the case title, from caseTitle = {note}
