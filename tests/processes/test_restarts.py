"""Loops, multi-instance tasks and sub-processes across restarts.

Every step below runs with the parsed-spec cache cleared first: what a second gunicorn worker or a restarted
server sees. The spec is then parsed again from the stored BPMN, and whatever SpiffWorkflow keeps on the spec
or in memory (such as which loop task merges a finished child) must be rebuilt from the stored state.
"""

from __future__ import annotations

import pytest

from processes import complete_task, create_user, deploy, get_case, start_case
from processes.deployments import SPEC_CACHE
from processes.views import UserView
from tests.processes.conftest import BPMN_DIR


def restart() -> None:
    """Forget every parsed spec, as a second worker process or a restarted server would have."""
    SPEC_CACHE.clear()


@pytest.fixture
def astrid(db) -> UserView:
    """A work-environment coordinator (AMK) of DTU Kemi."""
    return create_user(db, "astrid", password="astrid-password", groups=["amk"], units=["kemi"])


def deployed(db, owner, name: str) -> str:
    deploy(db, (BPMN_DIR / f"{name}.bpmn").read_bytes(), f"{name}.bpmn", actor=owner)
    restart()
    return name


PEOPLE = [f"p{index:02d}" for index in range(20)]


def test_parallel_multi_instance_keeps_every_output_when_each_completion_runs_after_a_restart(
        db, owner, anna, astrid):
    process = deployed(db, owner, "mi_parallel_notes")
    case = start_case(db, process=process, unit="kemi", data={"people": PEOPLE}, actor=anna)
    assert case.status == "running"
    assert len(case.tasks) == len(PEOPLE)
    assert {(task.name, task.group, task.unit) for task in case.tasks} == {("collect", "amk", "kemi")}
    open_ids = [task.id for task in case.tasks]
    # complete out of order: every output must still land at its item's index
    for done, task_id in enumerate(reversed(open_ids), start=1):
        restart()
        position = open_ids.index(task_id)
        case = complete_task(db, task_id, data={"note": f"note for {PEOPLE[position]}"}, actor=astrid)
        assert sorted(task.id for task in case.tasks) == sorted(open_ids[:len(open_ids) - done])
        if done < len(PEOPLE):
            assert case.status == "running"
    restart()
    case = get_case(db, case.id, actor=anna)
    assert case.status == "completed"
    assert case.tasks == []
    # SpiffWorkflow appends to a list output in the order the instances finish (here: last item first)
    assert case.data["notes"] == [f"note for {person}" for person in reversed(PEOPLE)]
    assert case.data["note_count"] == len(PEOPLE)
    assert case.data["items"] == [{"person": person, "room": "R" + person} for person in PEOPLE]
    kinds = [entry.kind for entry in case.history]
    assert kinds.count("task_completed") == len(PEOPLE)
    assert kinds[-1] == "case_ended"


def test_sequential_multi_instance_keeps_every_output_across_restarts(db, owner, anna, astrid):
    process = deployed(db, owner, "mi_sequential_notes")
    people = PEOPLE[:5]
    case = start_case(db, process=process, unit="kemi", data={"people": people}, actor=anna)
    for person in people:
        restart()
        [task] = case.tasks
        assert (task.name, task.group) == ("collect", "amk")
        assert case.status == "running"
        case = complete_task(db, task.id, data={"note": f"note for {person}"}, actor=astrid)
    restart()
    case = get_case(db, case.id, actor=anna)
    assert case.status == "completed"
    assert case.tasks == []
    assert case.data["notes"] == [f"note for {person}" for person in people]
    assert case.data["note_count"] == len(people)


def test_standard_loop_runs_until_its_condition_fails_across_restarts(db, owner, anna):
    process = deployed(db, owner, "standard_loop_notes")
    case = start_case(db, process=process, unit="kemi", data={}, actor=anna)
    for note in ("one", "two", "three", "stop"):
        restart()
        assert case.status == "running"
        [task] = case.tasks
        assert task.name == "write_note"
        case = complete_task(db, task.id, data={"note": note}, actor=anna)
    restart()
    case = get_case(db, case.id, actor=anna)
    assert case.status == "completed"
    assert case.tasks == []
    assert case.data["last_note"] == "stop"
    completed = [entry.detail["data"]["note"] for entry in case.history if entry.kind == "task_completed"]
    assert completed == ["one", "two", "three", "stop"]


def test_embedded_sub_process_hands_its_data_back_across_restarts(db, owner, anna):
    process = deployed(db, owner, "embedded_subprocess_notes")
    case = start_case(db, process=process, unit="kemi", data={}, actor=anna)
    for name, note in (("first_note", "alpha"), ("second_note", "beta")):
        restart()
        assert case.status == "running"
        [task] = case.tasks
        assert task.name == name
        case = complete_task(db, task.id, data={"note": note}, actor=anna)
    restart()
    case = get_case(db, case.id, actor=anna)
    assert case.status == "completed"
    assert case.tasks == []
    assert case.data["both"] == "alpha / beta"


@pytest.mark.parametrize("review_first", [True, False])
def test_event_sub_process_started_by_a_signal_completes_across_restarts(db, owner, anna, astrid, review_first):
    process = deployed(db, owner, "event_subprocess_notes")
    case = start_case(db, process=process, unit="kemi", data={}, actor=anna)
    restart()
    [task] = case.tasks
    case = complete_task(db, task.id, data={"note": "please review"}, actor=anna)
    assert case.status == "running"
    assert sorted((task.name, task.group) for task in case.tasks) == [("review", "amk"), ("second_note", "employees")]
    by_name = {task.name: task for task in case.tasks}
    steps = [("review", astrid), ("second_note", anna)]
    for name, actor in steps if review_first else reversed(steps):
        restart()
        case = complete_task(db, by_name[name].id, data={"note": f"{name} done"}, actor=actor)
    restart()
    case = get_case(db, case.id, actor=anna)
    assert case.tasks == []
    assert case.status == "completed"
    completed = {entry.detail["task"] for entry in case.history if entry.kind == "task_completed"}
    assert completed == {"first_note", "review", "second_note"}


@pytest.mark.parametrize("restarts", [False, True])
def test_a_case_that_never_catches_the_event_ends_even_after_another_case_caught_it(
        db, owner, anna, astrid, restarts):
    """SpiffWorkflow connects an event sub-process into the spec when the event is first caught; with one
    parsed spec shared by all cases, every later case started the sub-process at once and never ended."""
    process = deployed(db, owner, "event_subprocess_notes")
    reviewed = start_case(db, process=process, unit="kemi", data={}, actor=anna)
    reviewed = complete_task(db, reviewed.tasks[0].id, data={"note": "please review"}, actor=anna)
    assert {task.name for task in reviewed.tasks} == {"review", "second_note"}
    if restarts:
        restart()
    plain = start_case(db, process=process, unit="kemi", data={}, actor=anna)
    assert [task.name for task in plain.tasks] == ["first_note"]
    for step in ("first", "second"):
        if restarts:
            restart()
        plain = complete_task(db, plain.tasks[0].id, data={"note": f"{step}, no review"}, actor=anna)
    assert plain.tasks == []
    assert plain.status == "completed"
    # and the case that caught it still waits for its review, then ends
    for task in sorted(reviewed.tasks, key=lambda t: t.name):
        if restarts:
            restart()
        reviewed = complete_task(db, task.id, data={"note": "done"}, actor=astrid if task.name == "review" else anna)
    assert reviewed.status == "completed"
