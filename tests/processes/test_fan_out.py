"""Fan-out (issue #12, item 6): a parallel multi-instance user task over a list of units puts one task in each
unit's queue and nowhere else, each instance's state is visible from the case, and the case ends when every
unit has answered — also with the parsed-spec cache cleared between the steps (another worker, a restart)."""

from __future__ import annotations

import pytest

from processes import (
    TaskFilter,
    complete_task,
    create_user,
    deploy,
    get_case,
    list_tasks,
    start_case,
)
from processes.deployments import SPEC_CACHE
from processes.views import UserView

UNITS = ("kemi", "energi", "fysik", "food", "compute")
FAN_OUT_BPMN = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="fan_out_definitions" targetNamespace="http://amflow.dtu.dk/test">
  <bpmn:process id="fan_out_units" name="One answer per unit (test)" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_employees" name="employees">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>choose_units</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>count</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
      <bpmn:lane id="lane_amk" name="amk">
        <bpmn:flowNodeRef>answer</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="choose_units" name="Every unit of the campaign">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>units = ["kemi", "energi", "fysik", "food", "compute"]</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:userTask id="answer" name="The unit's answer">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="form" value="free_note"/>
          <spiffworkflow:property name="unit" value="unit"/>
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:multiInstanceLoopCharacteristics isSequential="false">
        <bpmn:loopDataInputRef>units</bpmn:loopDataInputRef>
        <bpmn:loopDataOutputRef>answers</bpmn:loopDataOutputRef>
        <bpmn:inputDataItem id="unit" name="unit"/>
        <bpmn:outputDataItem id="note" name="note"/>
      </bpmn:multiInstanceLoopCharacteristics>
    </bpmn:userTask>
    <bpmn:scriptTask id="count" name="Count the answers">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:script>answered = len(answers)</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="choose_units"/>
    <bpmn:sequenceFlow id="f2" sourceRef="choose_units" targetRef="answer"/>
    <bpmn:sequenceFlow id="f3" sourceRef="answer" targetRef="count"/>
    <bpmn:sequenceFlow id="f4" sourceRef="count" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.fixture
def amks(make_amks) -> dict[str, UserView]:
    """One AMK per unit of the campaign, and one of a unit outside it."""
    return make_amks((*UNITS, "wind"))


@pytest.mark.parametrize("restart_between_steps", [False, True])
def test_a_fan_out_over_five_units_puts_one_task_in_each_units_queue_and_nowhere_else(
    db, owner, amks, restart_between_steps
):
    deploy(db, FAN_OUT_BPMN, "fan_out_units.bpmn", actor=owner)
    starter = create_user(db, "coordinator", password="coordinator-password", groups=["employees"], units=["kemi"])

    case = start_case(db, process="fan_out_units", unit="kemi", data={}, actor=starter)

    assert sorted(task.unit for task in case.tasks) == sorted(UNITS)
    assert {task.group for task in case.tasks} == {"amk"}
    for unit, amk in amks.items():
        queue, _total = list_tasks(db, actor=amk, filters=TaskFilter())
        expected = [task.id for task in case.tasks if task.unit == unit]
        assert [task.id for task in queue] == expected, unit  # its own unit's one task; "wind" sees none
    for unit in UNITS:
        if restart_between_steps:
            SPEC_CACHE.clear()  # what a second worker or a restart sees
        amk = amks[unit]
        (task,) = list_tasks(db, actor=amk, filters=TaskFilter())[0]
        progress = complete_task(db, task.id, data={"note": f"{unit} handles none"}, actor=amk)
        assert unit not in {open_task.unit for open_task in progress.tasks}  # each instance's state on the case

    done = get_case(db, case.id, actor=amks["kemi"])
    assert done.status.value == "completed"
    assert done.data["answered"] == len(UNITS)
    assert sorted(done.data["answers"]) == sorted(f"{u} handles none" for u in UNITS)
