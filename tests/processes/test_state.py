"""The stored run state of a case: what it keeps, how it grows, and that it reads back exactly."""

from __future__ import annotations

import datetime as dt
import gc
import json
from uuid import UUID

import pytest
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

from processes.clock import SYSTEM_CLOCK
from processes.engine import runtime
from processes.engine.loader import ParsedProcess, load_process
from processes.engine.serializer import SERIALIZER_VERSION, StateOnlyWorkflowConverter, dump_state, load_state
from processes.engine.specs import RuleTask, RuleTaskConverter
from processes.people.organisation import GROUP_CODES
from tests.processes.conftest import BPMN_DIR

MI = BPMN_DIR / "mi_parallel_notes.bpmn"


@pytest.fixture(scope="module")
def parsed() -> ParsedProcess:
    return load_process(MI.read_bytes(), MI.name, groups=GROUP_CODES)


def new_run() -> runtime.Run:
    return runtime.Run(case_id="state-test", unit="kemi", starter="anna", clock=SYSTEM_CLOCK)


def started(parsed: ParsedProcess, count: int) -> tuple[BpmnWorkflow, list[str]]:
    run = new_run()
    workflow = runtime.new_workflow(parsed, run)
    runtime.set_start_data(workflow, {"people": [f"p{index}" for index in range(count)]})
    runtime.advance(workflow, run)
    return workflow, [str(task.id) for task in runtime.ready_user_tasks(workflow)]


def save(workflow: BpmnWorkflow) -> str:
    runtime.compact(workflow)
    return dump_state(workflow)


def restore(state: str, parsed: ParsedProcess) -> BpmnWorkflow:
    return runtime.attach(load_state(state, SERIALIZER_VERSION, parsed.spec, parsed.subprocess_specs), new_run())


def complete_all(parsed: ParsedProcess, count: int) -> list[str]:
    """Every instance completed, each in its own restore -> complete -> save cycle; the states written."""
    workflow, open_ids = started(parsed, count)
    states = [save(workflow)]
    for index, task_id in enumerate(open_ids):
        workflow = restore(states[-1], parsed)
        run = new_run()
        assert runtime.complete_user_task(workflow, task_id, {"note": f"n{index}"}, run) is not None
        runtime.advance(workflow, run)
        states.append(save(workflow))
    assert workflow.completed
    assert workflow.data["notes"] == [f"n{index}" for index in range(count)]
    return states


def instance_count(state: str) -> int:
    return sum(1 for task in json.loads(state)["tasks"].values() if task["task_spec"] == "collect [child]")


def test_finished_instances_leave_the_stored_state_once_merged(parsed):
    states = complete_all(parsed, 12)
    assert [instance_count(state) for state in states] == list(range(12, -1, -1))


def test_the_stored_state_grows_linearly_with_the_items(parsed):
    small, large = complete_all(parsed, 30), complete_all(parsed, 90)
    # three times the items: about three times the state (nine times if each instance kept a copy of the list)
    assert max(map(len, large)) < 3.6 * max(map(len, small))
    assert len(large[-1]) < 3.6 * len(small[-1])


def spiff_stock_dump(workflow: BpmnWorkflow) -> str:
    """The state as SpiffWorkflow's own task converter writes it (rows written before the lean converter)."""
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = StateOnlyWorkflowConverter
    config[RuleTask] = RuleTaskConverter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config)).serialize_json(workflow)


def snapshot(workflow: BpmnWorkflow) -> dict[UUID, tuple]:
    return {task.id: (task.task_spec.name, task.state, task.data, task.internal_data, task.parent and task.parent.id,
                      [child.id for child in task.children]) for task in workflow.get_tasks()}


@pytest.mark.parametrize("completed", [0, 3, 7])
def test_a_state_reads_back_as_the_workflow_that_wrote_it_in_either_task_format(parsed, completed):
    workflow, open_ids = started(parsed, 7)
    for index, task_id in enumerate(open_ids[:completed]):
        run = new_run()
        runtime.complete_user_task(workflow, task_id, {"note": f"n{index}", "details": {"typename": "x"}}, run)
        runtime.advance(workflow, run)
    expected = snapshot(workflow)
    assert snapshot(restore(dump_state(workflow), parsed)) == expected
    assert snapshot(restore(spiff_stock_dump(workflow), parsed)) == expected


def test_values_that_json_cannot_hold_are_converted_and_restored(parsed):
    workflow, open_ids = started(parsed, 2)
    task = workflow.get_task_from_id(UUID(open_ids[0]))
    moment = dt.datetime(2030, 1, 2, 3, 4, tzinfo=dt.UTC)
    task.internal_data["seen_at"] = moment
    task.data["ref"] = UUID(open_ids[1])
    state = dump_state(workflow)
    assert "amflow_plain_values" not in json.loads(state)  # this state needs its values walked
    back = restore(state, parsed).get_task_from_id(UUID(open_ids[0]))
    assert back.internal_data["seen_at"] == moment
    assert back.data["ref"] == UUID(open_ids[1])
    plain, _ = started(parsed, 2)
    assert json.loads(dump_state(plain))["amflow_plain_values"] is True


@pytest.mark.parametrize("enabled", [True, False])
def test_restore_and_save_leave_garbage_collection_as_they_found_it(parsed, enabled):
    workflow, _ = started(parsed, 3)
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        restore(dump_state(workflow), parsed)
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
