"""The status board of a fan-out (process property statusBoard) and the engine features the precursor campaign
uses, each on its own: notify to an instance's unit, a task title per instance, factsFrom on a rule task,
today() and organisation_units() in expressions (issue #16)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from processes import (
    Database,
    FixedClock,
    case_board,
    case_table,
    complete_task,
    create_user,
    deploy,
    errors,
    start_case,
)
from processes.store.models import DecisionRecord, Notification, TaskRecord

BOARD_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="board_definitions" targetNamespace="http://amflow.dtu.dk/test">
  <bpmn:process id="board_units" name="A board over units (test)" isExecutable="true">
    <bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="statusBoard" value="answer"/>
    </spiffworkflow:properties></bpmn:extensionElements>
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_employees" name="employees">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>setup</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>classify</bpmn:flowNodeRef><bpmn:flowNodeRef>tell</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
      <bpmn:lane id="lane_amk" name="amk"><bpmn:flowNodeRef>answer</bpmn:flowNodeRef></bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="setup" name="Units and deadline">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>units = [u for u in organisation_units() if u in data.get('wanted', [])]
deadline = add_days(today(), 10)
lines = [{'substance': 'toluene'}, {'substance': 'ephedrine', 'dtu_licence_covers': True}]
pairs = [a + b for a, b in zip(['x', 'y'], ['1', '2'])]</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:businessRuleTask id="classify" name="Classify each line">
      <bpmn:extensionElements>
        <spiffworkflow:calledDecisionId>precursor_classification</spiffworkflow:calledDecisionId>
        <spiffworkflow:properties>
          <spiffworkflow:property name="resultVariable" value="classification"/>
          <spiffworkflow:property name="factsFrom" value="line"/>
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:multiInstanceLoopCharacteristics isSequential="true">
        <bpmn:loopDataInputRef>lines</bpmn:loopDataInputRef>
        <bpmn:loopDataOutputRef>classifications</bpmn:loopDataOutputRef>
        <bpmn:inputDataItem id="line" name="line"/>
        <bpmn:outputDataItem id="classification" name="classification"/>
      </bpmn:multiInstanceLoopCharacteristics>
    </bpmn:businessRuleTask>
    <bpmn:userTask id="answer" name="The unit's answer">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="form" value="free_note"/>
        <spiffworkflow:property name="unit" value="unit"/>
        <spiffworkflow:property name="title" value="'Answer for ' + unit"/>
        <spiffworkflow:property name="dueAt" value="end_of_day(deadline)"/>
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:multiInstanceLoopCharacteristics isSequential="false">
        <bpmn:loopDataInputRef>units</bpmn:loopDataInputRef>
        <bpmn:loopDataOutputRef>answers</bpmn:loopDataOutputRef>
        <bpmn:inputDataItem id="unit" name="unit"/>
        <bpmn:outputDataItem id="note" name="note"/>
      </bpmn:multiInstanceLoopCharacteristics>
    </bpmn:userTask>
    <bpmn:serviceTask id="tell" name="Tell the leaders of another unit">
      <bpmn:extensionElements><spiffworkflow:serviceTaskOperator id="notify"><spiffworkflow:parameters>
        <spiffworkflow:parameter id="group" type="str" value="'leaders'"/>
        <spiffworkflow:parameter id="unit" type="str" value="'fysik'"/>
        <spiffworkflow:parameter id="template" type="str" value="'task_reminder'"/>
      </spiffworkflow:parameters></spiffworkflow:serviceTaskOperator></bpmn:extensionElements>
      <bpmn:incoming>f4</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="setup"/>
    <bpmn:sequenceFlow id="f2" sourceRef="setup" targetRef="classify"/>
    <bpmn:sequenceFlow id="f3" sourceRef="classify" targetRef="answer"/>
    <bpmn:sequenceFlow id="f4" sourceRef="answer" targetRef="tell"/>
    <bpmn:sequenceFlow id="f5" sourceRef="tell" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""
UNITS = ["compute", "energi", "food", "kemi"]


def at(month: int, day: int) -> FixedClock:
    return FixedClock(dt.datetime(2026, month, day, 10, tzinfo=dt.UTC))


def task_of(db: Database, case_id: str, unit: str) -> TaskRecord:
    with db.read() as session:
        return session.scalars(select(TaskRecord).where(TaskRecord.case_id == case_id,
                                                        TaskRecord.unit == unit)).one()


@pytest.fixture
def board_case(db: Database, owner, anna, make_amks):
    deploy(db, BOARD_BPMN.encode(), "board_units.bpmn", actor=owner)
    amks = make_amks(UNITS)
    create_user(db, "lea", password="lea-password", groups=["leaders"], units=["fysik"], email="lea@example.dtu.dk")
    case = start_case(db, process="board_units", unit="kemi", data={"wanted": [*UNITS, "nowhere"]}, actor=anna,
                      clock=at(3, 1))
    return case, amks


def test_the_board_shows_each_unit_answered_on_time_late_or_open(db, board_case, anna):
    case, amks = board_case
    assert case.data["deadline"] == "2026-03-11"  # today() + 10 days; organisation_units() knows no "nowhere"
    assert sorted(task.unit for task in case.tasks) == UNITS
    assert {task.title for task in case.tasks} == {f"Answer for {unit}" for unit in UNITS}
    complete_task(db, task_of(db, case.id, "kemi").id, data={"note": "none"}, actor=amks["kemi"], clock=at(3, 5))
    complete_task(db, task_of(db, case.id, "food").id, data={"note": "late"}, actor=amks["food"], clock=at(3, 20))

    board = case_board(db, case.id, actor=anna, clock=at(3, 21))

    assert {row.unit: row.state for row in board.rows} == {
        "compute": "late", "energi": "late", "food": "answered_late", "kemi": "answered"}
    assert board.counts == {"answered": 1, "answered_late": 1, "late": 2, "open": 0}
    assert {row.unit: row.state for row in case_board(db, case.id, actor=anna, clock=at(3, 6)).rows}["energi"] \
        == "open"
    with pytest.raises(errors.Forbidden):
        case_board(db, case.id, actor=create_user(db, "amk-wind", password="amk-password", groups=["amk"],
                                                  units=["wind"]))
    with pytest.raises(errors.NotFound):  # the process exports no tables
        case_table(db, case.id, "answers", actor=anna)


def test_a_rule_task_takes_its_facts_from_each_item_and_notify_names_another_unit(db, board_case):
    case, amks = board_case
    for unit in UNITS:
        done = complete_task(db, task_of(db, case.id, unit).id, data={"note": unit}, actor=amks[unit],
                             clock=at(3, 5))
    assert [c["category"] for c in done.data["classifications"]] == ["3", "1"]
    assert done.data["classifications"][1]["coordinator_action"] == []  # dtu_licence_covers came from the item
    assert done.data["pairs"] == ["x1", "y2"]
    with db.read() as session:
        facts = [row.facts for row in session.scalars(select(DecisionRecord).order_by(DecisionRecord.id))]
        sent = session.execute(select(Notification.recipient_group, Notification.unit)
                               .where(Notification.template == "task_reminder")).all()
    assert [fact["substance"] for fact in facts] == ["toluene", "ephedrine"]
    assert [tuple(row) for row in sent] == [("leaders", "fysik")]
