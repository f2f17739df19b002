"""BPMN messages into running cases (#12 item 4): delivered to whatever waits, or 409 with nothing changed."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from processes import (
    Database,
    case_messages,
    complete_task,
    create_user,
    deploy,
    errors,
    get_case,
    send_message,
    start_case,
)
from processes.store.models import AuditEvent, Case, TaskRecord
from processes.views import CaseStatus, UserView

from .conftest import BPMN_DIR


@pytest.fixture
def kim(db: Database) -> UserView:
    return create_user(db, "kim", password="kim-password", groups=["amk"], units=["kemi"])


@pytest.fixture
def message_case(db: Database, owner: UserView, anna: UserView) -> str:
    deploy(db, (BPMN_DIR / "message_events.bpmn").read_bytes(), "message_events.bpmn", actor=owner)
    return start_case(db, process="message_events", unit="kemi", data={}, actor=anna).id


def snapshot(db: Database, case_id: str) -> tuple:
    """Everything a refused message must leave as it was."""
    with db.read() as session:
        case = session.get(Case, case_id)
        assert case is not None
        events = session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.case_id == case_id))
        tasks = session.execute(select(TaskRecord.name, TaskRecord.status).where(TaskRecord.case_id == case_id)
                                .order_by(TaskRecord.name)).all()
        return case.state, case.revision, case.data, events, tasks


def test_the_case_offers_the_messages_it_waits_for_with_their_forms(db, anna, message_case):
    offered = {message.name: message.form_name for message in case_messages(db, message_case, actor=anna)}

    assert offered == {"report an incident": "free_note", "first day of absence": None}


def test_a_message_to_a_waiting_boundary_event_advances_the_case_in_one_step(db, anna, message_case):
    case = send_message(db, message_case, "report an incident", data={"note": "a fire in lab 3"}, actor=anna)

    assert [task.name for task in case.tasks] == ["handle_incident"]  # the boundary interrupted the work
    assert case.data["note"] == "a fire in lab 3"
    received = [entry for entry in case.history if entry.kind == "message_received"]
    assert [(entry.actor, entry.detail["message"]) for entry in received] == [("anna", "report an incident")]
    assert {entry.kind for entry in case.history} >= {"task_cancelled", "task_created"}


def test_a_message_starts_an_event_sub_process_and_lands_in_its_message_variable(db, anna, message_case):
    case = send_message(db, message_case, "first day of absence", data={"day": "2026-12-01"}, actor=anna)

    assert sorted(task.name for task in case.tasks) == ["absence_task", "work"]
    assert case.data["absence"] == {"day": "2026-12-01"}
    assert {task.group for task in case.tasks if task.name == "absence_task"} == {"amk"}  # a manualTask: its lane


def test_a_message_to_an_intermediate_catch_event_moves_the_case_on(db, anna, kim, message_case):
    work = get_case(db, message_case, actor=anna).tasks[0]
    complete_task(db, work.id, data={"note": "done"}, actor=anna)
    assert "report a change" in {m.name for m in case_messages(db, message_case, actor=anna)}

    case = send_message(db, message_case, "report a change", data={"note": "new room"}, actor=anna)

    assert [task.name for task in case.tasks] == ["review_change"]
    case = complete_task(db, case.tasks[0].id, data={"note": "ok"}, actor=kim)
    assert case.status == CaseStatus.COMPLETED


def test_a_message_nobody_waits_for_is_a_conflict_and_changes_nothing(db, anna, message_case):
    before = snapshot(db, message_case)

    with pytest.raises(errors.Conflict) as refused:
        send_message(db, message_case, "report a change", data={"note": "too early"}, actor=anna)

    assert "report a change" in refused.value.message
    assert snapshot(db, message_case) == before


def test_a_payload_that_does_not_fit_the_form_is_invalid_and_changes_nothing(db, anna, message_case):
    before = snapshot(db, message_case)

    with pytest.raises(errors.InvalidData) as refused:
        send_message(db, message_case, "report an incident", data={"note": ""}, actor=anna)

    assert "note" in refused.value.fields
    assert snapshot(db, message_case) == before


def test_an_ended_case_takes_no_message(db, anna, kim, message_case):
    case = send_message(db, message_case, "report an incident", data={"note": "x"}, actor=anna)
    complete_task(db, case.tasks[0].id, data={"note": "handled"}, actor=kim)
    before = snapshot(db, message_case)

    assert case_messages(db, message_case, actor=anna) == []
    with pytest.raises(errors.Conflict):
        send_message(db, message_case, "first day of absence", data={}, actor=anna)
    assert snapshot(db, message_case) == before


def test_a_stranger_cannot_send_a_message_to_the_case(db, emil, message_case):
    with pytest.raises(errors.Forbidden):
        send_message(db, message_case, "report an incident", data={"note": "x"}, actor=emil)


# --- correlation by a key declared in the BPMN ---------------------------------------------------------------

@pytest.fixture
def waiting_for_reply(db: Database, owner: UserView, kim: UserView) -> str:
    """A case that sent message "ask" with correlation key request_id = R-17 and waits for the "reply"."""
    deploy(db, (BPMN_DIR / "correlated_reply.bpmn").read_bytes(), "correlated_reply.bpmn", actor=owner)
    return start_case(db, process="correlated_reply", unit="kemi", data={"request_id": "R-17"}, actor=kim).id


def test_a_reply_with_the_cases_correlation_key_is_caught(db, kim, waiting_for_reply):
    case = send_message(db, waiting_for_reply, "reply", data={"request_id": "R-17", "answer": "yes"}, actor=kim)

    assert [task.name for task in case.tasks] == ["read_reply"]
    assert case.data["answer"] == "yes"


def test_a_reply_with_another_correlation_key_is_a_conflict_and_changes_nothing(db, kim, waiting_for_reply):
    before = snapshot(db, waiting_for_reply)

    with pytest.raises(errors.Conflict):
        send_message(db, waiting_for_reply, "reply", data={"request_id": "R-99"}, actor=kim)

    assert snapshot(db, waiting_for_reply) == before


def test_a_reply_without_the_correlation_key_is_invalid_naming_it(db, kim, waiting_for_reply):
    before = snapshot(db, waiting_for_reply)

    with pytest.raises(errors.InvalidData) as refused:
        send_message(db, waiting_for_reply, "reply", data={"answer": "yes"}, actor=kim)

    assert set(refused.value.fields) == {"request_id"}
    assert snapshot(db, waiting_for_reply) == before
