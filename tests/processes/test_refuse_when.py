"""A user task's ``refuseWhen`` property: a sandboxed expression that refuses a submission with field messages."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from processes import complete_task, create_user, deploy, get_case, start_case
from processes.errors import EngineFailure, InvalidData, InvalidModel
from processes.store.models import AuditEvent
from tests.samples import one_task_bpmn

# Refuse a note that is one of the case's forbidden words, naming them; and a note that repeats the case's own.
REFUSE = ("{'note': ['not one of: ' + ', '.join(forbidden)] + (['not the same note again'] "
          "if submitted['note'] == data.get('previous') else [])} "
          "if note in forbidden or note == previous else {}")


def _deploy(db, owner, refuse: str) -> None:
    """Process ``guarded``: one task (write_note, lane amk) refused when ``refuse`` says so."""
    xml = one_task_bpmn("guarded", name="Guarded", lane="amk", task_id="write_note", task_name="Write the note",
                        task_properties={"refuseWhen": refuse})
    deploy(db, xml, "guarded.bpmn", actor=owner)


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
