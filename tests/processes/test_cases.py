"""Use cases on a real SQLite file: start, claim, complete, the task index, the audit trail, concurrency."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import event, func, select

from processes import (
    TaskFilter,
    claim_task,
    complete_task,
    create_user,
    get_case,
    get_task,
    list_tasks,
    start_case,
    unclaim_task,
)
from processes.deployments import SPEC_CACHE
from processes.engine.serializer import escape, unescape
from processes.errors import Conflict, Forbidden, InvalidData, NotFound
from processes.store.models import AuditEvent, Case, TaskRecord


def open_task(db, case_id, actor):
    tasks, total = list_tasks(db, actor=actor, filters=TaskFilter(case_id=case_id))
    assert total == 1
    return tasks[0]


def test_starting_a_case_puts_its_first_user_task_in_the_queue_of_the_lane_group_and_unit(db, anna, note_loop):
    case = start_case(db, process=note_loop, unit="kemi", data={}, actor=anna)
    assert case.status == "running"
    [task] = case.tasks
    assert (task.name, task.title, task.group, task.unit, task.status) == (
        "write_note", "Write a note", "employees", "kemi", "ready")
    assert open_task(db, case.id, anna).id == task.id
    # anna has no e-mail address: the "new task" mail to her group is skipped, and that is audited too
    assert [entry.kind for entry in case.history] == [
        "case_started", "engine_steps", "task_created", "notification_skipped"]
    assert case.history[1].detail == {"elements": ["start"]}


def test_completing_tasks_runs_scripts_and_the_gateway_until_the_case_ends(db, anna, note_loop):
    case = start_case(db, process=note_loop, unit="kemi", data={}, actor=anna)
    case = complete_task(db, case.tasks[0].id, data={"note": "HELLO"}, actor=anna)
    assert case.status == "running"
    assert case.data == {"note": "HELLO", "last_note_length": 5, "shouting": True}
    case = complete_task(db, case.tasks[0].id, data={"note": "stop"}, actor=anna)
    assert case.status == "completed"
    assert case.tasks == []
    assert case.data["note"] == "stop"
    kinds = [entry.kind for entry in case.history]
    assert kinds.count("task_completed") == 2
    assert kinds[-1] == "case_ended"
    completed = [entry for entry in case.history if entry.kind == "task_completed"]
    assert [entry.detail["data"]["note"] for entry in completed] == ["HELLO", "stop"]
    assert all(entry.actor == "anna" for entry in completed)


@pytest.mark.parametrize(
    "details",
    [
        {"typename": "van", "model": "x"},
        {"typename": "UUID", "value": "not-a-uuid"},
        {"typename": "datetime", "value": "2026-01-01"},
        {"~typename": "x", "~": 1, "~~": [{"typename": "BpmnWorkflow"}]},
        {"nested": [{"typename": "TaskState"}, 1.5, True, None, "typename"]},
    ],
)
def test_form_data_that_looks_like_serializer_types_leaves_the_case_loadable_and_intact(db, anna, note_loop, details):
    case = start_case(db, process=note_loop, unit="kemi", data={}, actor=anna)
    case = complete_task(db, case.tasks[0].id, data={"note": "first", "details": details}, actor=anna)
    SPEC_CACHE.clear()  # as after a restart: the spec is parsed again from the stored version
    reloaded = get_case(db, case.id, actor=anna)
    assert reloaded.data["details"] == details
    case = complete_task(db, reloaded.tasks[0].id, data={"note": "stop"}, actor=anna)
    assert case.status == "completed"
    assert case.data["details"] == details


@pytest.mark.parametrize(
    "value",
    [{"typename": "a"}, {"~typename": "b"}, {"~~typename": "c"}, {"~": "d"}, [{"typename": {"typename": 1}}], "~x"],
)
def test_escaping_is_a_bijection(value):
    assert unescape(escape(value)) == value


def test_invalid_form_data_is_refused_with_every_bad_field_named_and_nothing_changes(db, anna, note_loop):
    case = start_case(db, process=note_loop, unit="kemi", data={}, actor=anna)
    task_id = case.tasks[0].id
    with pytest.raises(InvalidData) as caught:
        complete_task(db, task_id, data={"note": "", "unexpected": 1}, actor=anna)
    assert set(caught.value.fields) >= {"note", "unexpected"} or set(caught.value.fields) >= {"note", "_"}
    after = get_case(db, case.id, actor=anna)
    assert after.revision == case.revision
    assert get_task(db, task_id, actor=anna).status == "ready"


def test_non_finite_numbers_are_refused(db, anna, note_loop):
    case = start_case(db, process=note_loop, unit="kemi", data={}, actor=anna)
    with pytest.raises(InvalidData):
        complete_task(db, case.tasks[0].id, data={"note": "x", "details": {"v": float("nan")}}, actor=anna)


def test_a_user_of_another_unit_neither_sees_nor_works_the_task(db, anna, emil, note_loop):
    case = start_case(db, process=note_loop, unit="kemi", data={}, actor=anna)
    task_id = case.tasks[0].id
    assert list_tasks(db, actor=emil) == ([], 0)
    for attempt in (
        lambda: complete_task(db, task_id, data={"note": "x"}, actor=emil),
        lambda: claim_task(db, task_id, actor=emil),
        lambda: get_task(db, task_id, actor=emil),
        lambda: get_case(db, case.id, actor=emil),
    ):
        with pytest.raises(Forbidden):
            attempt()


def test_a_case_cannot_be_started_in_a_unit_the_user_does_not_belong_to(db, anna, note_loop):
    with pytest.raises(Forbidden):
        start_case(db, process=note_loop, unit="energi", data={}, actor=anna)


def test_unknown_process_and_task_are_not_found(db, anna, note_loop):
    with pytest.raises(NotFound):
        start_case(db, process="nope", unit="kemi", data={}, actor=anna)
    with pytest.raises(NotFound):
        complete_task(db, "00000000-0000-0000-0000-000000000000", data={}, actor=anna)


def test_a_claimed_task_is_worked_only_by_its_assignee_until_unclaimed(db, anna, note_loop):
    bent = create_user(db, "bent", password="bent-password", groups=["employees"], units=["kemi"])
    case = start_case(db, process=note_loop, unit="kemi", data={}, actor=anna)
    task_id = case.tasks[0].id
    claimed = claim_task(db, task_id, actor=anna)
    assert (claimed.status, claimed.assignee) == ("claimed", "anna")
    with pytest.raises(Conflict):
        claim_task(db, task_id, actor=bent)
    with pytest.raises(Conflict):
        complete_task(db, task_id, data={"note": "x"}, actor=bent)
    assert list_tasks(db, actor=bent, filters=TaskFilter(assignee="none"))[1] == 0
    unclaim_task(db, task_id, actor=anna)
    case = complete_task(db, task_id, data={"note": "mine now"}, actor=bent)
    kinds = [entry.kind for entry in case.history]
    assert kinds.index("task_claimed") < kinds.index("task_unclaimed") < kinds.index("task_completed")


def test_two_concurrent_completions_of_one_task_give_one_success_and_one_conflict(db, anna, note_loop):
    case = start_case(db, process=note_loop, unit="kemi", data={}, actor=anna)
    task_id = case.tasks[0].id
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def complete(note: str) -> None:
        barrier.wait()
        try:
            complete_task(db, task_id, data={"note": note}, actor=anna)
            outcomes.append("ok")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=complete, args=(note,)) for note in ("left", "right")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "ok"]
    with db.read() as session:
        completions = session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.case_id == case.id, AuditEvent.kind == "task_completed"))
        open_tasks = session.scalar(select(func.count()).select_from(TaskRecord).where(
            TaskRecord.case_id == case.id, TaskRecord.status == "ready"))
    assert (completions, open_tasks) == (1, 1)


class StatementCounter:
    def __init__(self, db) -> None:
        self.count = 0
        self.engines = {db.write_engine, db.read_engine}
        for engine in self.engines:
            event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *_args) -> None:
        self.count += 1

    def measure(self, action) -> int:
        before = self.count
        action()
        return self.count - before


def test_the_sql_statements_of_a_step_do_not_grow_with_the_tasks_already_completed(db, anna, note_loop):
    case = start_case(db, process=note_loop, unit="kemi", data={}, actor=anna)
    counter = StatementCounter(db)
    per_step = {}
    for step in range(1, 101):
        task_id = open_task(db, case.id, anna).id
        per_step[step] = counter.measure(
            lambda task_id=task_id, step=step: complete_task(db, task_id, data={"note": f"n{step}"}, actor=anna))
    assert per_step[2] == per_step[100]


def test_completed_tasks_keep_no_copy_of_the_case_data_so_state_grows_linearly(db, anna, note_loop):
    case = start_case(db, process=note_loop, unit="kemi", data={}, actor=anna)
    big = "x" * 5_000
    sizes = {}
    for step in range(1, 41):
        case = complete_task(db, case.tasks[0].id, data={"note": big}, actor=anna)
        with db.read() as session:
            sizes[step] = len(session.scalar(select(Case.state).where(Case.id == case.id)))
    # Without pruning every step would add another 5 KB copy (>= 200 KB at step 40).
    assert sizes[40] < 60_000
    assert sizes[40] - sizes[20] < 2 * (sizes[20] - sizes[1]) + 5_000


def test_a_case_that_loops_past_spiffs_depth_limit_still_finds_its_ready_task(db, anna, note_loop):
    """SpiffWorkflow's task iterator stops at depth 1,000 (about 330 rounds of this loop)."""
    case = start_case(db, process=note_loop, unit="kemi", data={}, actor=anna)
    for step in range(400):
        case = complete_task(db, case.tasks[0].id, data={"note": f"round {step}"}, actor=anna)
        assert len(case.tasks) == 1, f"no ready task after round {step}"
    case = complete_task(db, case.tasks[0].id, data={"note": "stop"}, actor=anna)
    assert case.status == "completed"
    assert case.data["note"] == "stop"
