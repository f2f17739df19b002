"""A user task's ``refuseWhen`` property: a sandboxed expression that refuses a submission with field messages."""

from __future__ import annotations

from html import escape

import pytest
from sqlalchemy import select

from processes import complete_task, create_user, deploy, get_case, start_case
from processes.errors import EngineFailure, InvalidData, InvalidModel
from processes.store.models import AuditEvent

GUARDED_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="Definitions_guarded" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="guarded" name="Guarded" isExecutable="true">
    <bpmn:laneSet id="LaneSet_1">
      <bpmn:lane id="Lane_1" name="amk">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>write_note</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>to_task</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="write_note" name="Write the note">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="form" value="free_note" />
          <spiffworkflow:property name="refuseWhen" value="{refuse}" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>to_task</bpmn:incoming>
      <bpmn:outgoing>to_end</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>to_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="to_task" sourceRef="start" targetRef="write_note" />
    <bpmn:sequenceFlow id="to_end" sourceRef="write_note" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""

# Refuse a note that is one of the case's forbidden words, naming them; and a note that repeats the case's own.
REFUSE = ("{'note': ['not one of: ' + ', '.join(forbidden)] + (['not the same note again'] "
          "if submitted['note'] == data.get('previous') else [])} "
          "if note in forbidden or note == previous else {}")


def _deploy(db, owner, refuse: str) -> None:
    deploy(db, GUARDED_BPMN.replace("{refuse}", escape(refuse, quote=True)).encode(), "guarded.bpmn", actor=owner)


@pytest.fixture
def karl(db):
    return create_user(db, "karl", password=None, groups=["amk"], units=["kemi"])


def _completions(db, case_id: str) -> list[str]:
    with db.read() as session:
        return list(session.scalars(select(AuditEvent.kind).where(
            AuditEvent.case_id == case_id, AuditEvent.kind == "task_completed")))


def test_a_refused_submission_is_invalid_data_naming_the_field_and_changes_nothing(db, owner, anna, karl):
    _deploy(db, owner, REFUSE)
    case = start_case(db, process="guarded", unit="kemi",
                      data={"forbidden": ["secret", "hidden"], "previous": "same"}, actor=anna)
    task_id = case.tasks[0].id

    with pytest.raises(InvalidData) as refused:
        complete_task(db, task_id, data={"note": "hidden"}, actor=karl)
    with pytest.raises(InvalidData) as twice:
        complete_task(db, task_id, data={"note": "same"}, actor=karl)

    assert refused.value.fields == {"note": "not one of: secret, hidden"}
    assert twice.value.fields == {"note": "not one of: secret, hidden; not the same note again"}
    unchanged = get_case(db, case.id, actor=karl)
    assert unchanged.status == "running"
    assert [task.id for task in unchanged.tasks if task.status == "ready"] == [task_id]
    assert "note" not in unchanged.data
    assert _completions(db, case.id) == []

    done = complete_task(db, task_id, data={"note": "all is well"}, actor=karl)

    assert done.status == "completed"
    assert done.data["note"] == "all is well"
    assert _completions(db, case.id) == ["task_completed"]


def test_an_expression_the_sandbox_refuses_is_refused_at_deploy_naming_the_element(db, owner):
    with pytest.raises(InvalidModel, match="write_note") as caught:
        _deploy(db, owner, "__import__('os').system('true')")

    assert caught.value.element == "write_note"


def test_a_refuse_when_giving_something_other_than_field_messages_stops_the_step(db, owner, anna, karl):
    _deploy(db, owner, "'refused' if note else None")
    case = start_case(db, process="guarded", unit="kemi", data={}, actor=anna)

    with pytest.raises(EngineFailure, match="refuseWhen of task write_note"):
        complete_task(db, case.tasks[0].id, data={"note": "anything"}, actor=karl)

    assert get_case(db, case.id, actor=karl).status == "running"
