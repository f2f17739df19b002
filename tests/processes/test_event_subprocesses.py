"""Event sub-processes started by messages and timers, interrupting and not (docs/engine.md).

SpiffWorkflow 3.2 ran them but kept what they set to themselves (a revocation's ``status = "revoked"`` never
reached the case), ignored ``isInterrupting`` (the case stayed running after an interrupting one), gave them
none of the case data, and made a case wait for an event sub-process timer after its main flow had ended.
Every step below runs with the parsed-spec cache cleared first, as a second worker or a restart would.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select

from processes import (
    CaseStatus,
    FixedClock,
    case_messages,
    complete_task,
    deploy,
    fire_due_timers,
    get_case,
    send_message,
    start_case,
)
from processes.deployments import SPEC_CACHE
from processes.store.models import Case, CaseTimer, TaskRecord
from tests.processes.conftest import BPMN_DIR

PROCESS = "event_subprocess_messages"
T0 = dt.datetime(2030, 3, 4, 9, 0, tzinfo=dt.UTC)


def restart() -> None:
    SPEC_CACHE.clear()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def case_id(db, owner, anna, clock) -> str:
    deploy(db, (BPMN_DIR / f"{PROCESS}.bpmn").read_bytes(), f"{PROCESS}.bpmn", actor=owner)
    restart()
    case = start_case(db, process=PROCESS, unit="kemi", data={"subject": "R-12"}, actor=anna, clock=clock)
    assert [task.name for task in case.tasks] == ["confirm"]
    assert case.data["status"] == "active"
    return case.id


def later(db, clock: FixedClock, days: int) -> int:
    restart()
    clock.at = T0 + dt.timedelta(days=days)
    return fire_due_timers(db, clock=clock).fired


def timer_due(db, case_id: str) -> dt.datetime | None:
    with db.read() as session:
        row = session.get(CaseTimer, case_id)
        return row.due_at if row else None


def test_a_non_interrupting_message_writes_its_data_into_the_case_and_the_flow_goes_on(db, anna, clock, case_id):
    restart()
    assert {message.name for message in case_messages(db, case_id, actor=anna, clock=clock)} == {
        "add a note", "revoke"}
    case = send_message(db, case_id, "add a note", data={"note": "first"}, actor=anna, clock=clock)
    assert case.status == CaseStatus.RUNNING
    assert (case.data["last_note"], case.data["note"], case.data["status"]) == ("first", "first", "active")
    assert case.data["subject"] == "R-12"  # the sub-process was given the case data
    restart()
    case = send_message(db, case_id, "add a note", data={"note": "second"}, actor=anna, clock=clock)
    assert case.data["last_note"] == "second"
    [task] = case.tasks
    assert task.name == "confirm"  # the main flow still waits where it was
    restart()
    case = complete_task(db, task.id, data={"note": "confirmed"}, actor=anna, clock=clock)
    assert case.status == CaseStatus.RUNNING
    # what the sub-processes set goes on with the main flow, past the user task
    assert (case.data["last_note"], case.data["note"], case.data["status"]) == ("second", "confirmed", "active")
    with db.read() as session:
        state = json.loads(session.get(Case, case_id).state)
    assert len(state["subprocesses"]) == 2  # the two timer sub-processes waiting; the finished runs are gone


def test_a_non_interrupting_timer_writes_its_data_into_the_case(db, anna, clock, case_id):
    restart()
    case = complete_task(db, get_case(db, case_id, actor=anna).tasks[0].id, data={"note": "go"}, actor=anna,
                         clock=clock)
    assert timer_due(db, case_id) == T0 + dt.timedelta(days=20)
    assert later(db, clock, 21) == 1
    restart()
    case = get_case(db, case_id, actor=anna)
    assert case.status == CaseStatus.RUNNING
    assert case.data["reminded"] is True
    assert case.data["status"] == "active"
    assert timer_due(db, case_id) == T0 + dt.timedelta(days=60)


@pytest.mark.parametrize("confirmed_first", [False, True])
def test_an_interrupting_message_cancels_the_rest_and_ends_the_case_with_its_data(
        db, anna, clock, case_id, confirmed_first):
    restart()
    send_message(db, case_id, "add a note", data={"note": "before"}, actor=anna, clock=clock)
    if confirmed_first:
        restart()
        complete_task(db, get_case(db, case_id, actor=anna).tasks[0].id, data={"note": "go"}, actor=anna,
                      clock=clock)
    restart()
    case = send_message(db, case_id, "revoke", data={"note": "unsafe"}, actor=anna, clock=clock)
    assert case.status == CaseStatus.REJECTED  # the caseStatus of the sub-process's end event
    assert case.tasks == []
    assert (case.data["status"], case.data["revoked_because"], case.data["last_note"]) == (
        "revoked", "unsafe", "before")
    assert case.data["subject"] == "R-12"
    with db.read() as session:
        open_rows = session.scalar(select(func.count()).select_from(TaskRecord)
                                   .where(TaskRecord.case_id == case_id, TaskRecord.status == "ready"))
    assert open_rows == 0  # the confirmation task (if still open) was cancelled
    assert timer_due(db, case_id) is None  # no timer of the case is left
    restart()
    assert case_messages(db, case_id, actor=anna, clock=clock) == []
    history = get_case(db, case_id, actor=anna).history
    kinds = [entry.kind for entry in history]
    assert kinds[-1] == "case_ended"
    assert any(entry.kind == "notification_queued" and entry.detail["task"] == "tell_revoked" for entry in history)
    if not confirmed_first:
        assert "task_cancelled" in kinds


def test_an_interrupting_timer_ends_the_case_with_its_data(db, anna, clock, case_id):
    restart()
    complete_task(db, get_case(db, case_id, actor=anna).tasks[0].id, data={"note": "go"}, actor=anna, clock=clock)
    assert later(db, clock, 21) == 1
    assert later(db, clock, 61) == 1
    restart()
    case = get_case(db, case_id, actor=anna)
    assert case.status == CaseStatus.COMPLETED
    assert (case.data["status"], case.data["reminded"]) == ("lapsed", True)
    assert timer_due(db, case_id) is None


def test_a_case_whose_main_flow_ends_does_not_wait_for_its_event_sub_process_timers(db, anna, clock, case_id):
    restart()
    case = send_message(db, case_id, "add a note", data={"note": "kept"}, actor=anna, clock=clock)
    restart()
    case = complete_task(db, case.tasks[0].id, data={"note": "stop"}, actor=anna, clock=clock)
    assert case.status == CaseStatus.COMPLETED
    assert (case.data["status"], case.data["last_note"], case.data["note"]) == ("active", "kept", "stop")
    assert timer_due(db, case_id) is None
