"""Call activities across files (#12 item 7) and every element that deploys also runs (item 8)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from processes import (
    CaseStatus,
    Database,
    FixedClock,
    case_messages,
    complete_task,
    create_user,
    deploy,
    errors,
    fire_due_timers,
    get_case,
    send_message,
    start_case,
)
from processes.deployments import SPEC_CACHE
from processes.store.models import CaseCalledVersion, CaseTimer
from processes.views import UserView

from .conftest import BPMN_DIR

T0 = dt.datetime(2031, 1, 6, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def kim(db: Database) -> UserView:
    return create_user(db, "kim", password="kim-password", groups=["amk"], units=["kemi"])


def deploy_file(db: Database, owner: UserView, name: str, xml: bytes | None = None) -> None:
    deploy(db, xml or (BPMN_DIR / f"{name}.bpmn").read_bytes(), f"{name}.bpmn", actor=owner)


# --- call activities across files ----------------------------------------------------------------------------

def test_a_call_activity_runs_the_process_of_another_file_and_returns_its_data(db, owner, anna, kim):
    deploy_file(db, owner, "call_child_review")
    deploy_file(db, owner, "call_parent")
    case = start_case(db, process="call_parent", unit="kemi", data={}, actor=anna)
    case = complete_task(db, case.tasks[0].id, data={"note": "please look"}, actor=anna)

    assert [(task.name, task.group, task.case_id) for task in case.tasks] == [("review", "amk", case.id)]
    case = complete_task(db, case.tasks[0].id, data={"note": "looks fine"}, actor=kim)

    assert case.status == CaseStatus.COMPLETED
    assert case.data["review_note"] == "looks fine"  # set in the child, back in the parent
    assert case.data["outcome"] == "reviewed: looks fine"  # and used by the parent after the call
    called = [entry.detail for entry in case.history if entry.kind == "process_called"]
    ended = [entry.detail for entry in case.history if entry.kind == "called_process_ended"]
    assert called == [{"task": "call_child", "process": "call_child_review", "version": 1,
                       "data": {"note": "please look"}}]
    assert ended[0]["process"] == "call_child_review" and ended[0]["data"]["review_note"] == "looks fine"


def test_the_called_version_is_the_newest_at_call_time_and_stays_for_the_case(db, owner, anna, kim):
    deploy_file(db, owner, "call_child_review")
    deploy_file(db, owner, "call_parent")
    started_before_v2 = start_case(db, process="call_parent", unit="kemi", data={}, actor=anna)
    in_review = complete_task(db, started_before_v2.tasks[0].id, data={"note": "first"}, actor=anna)
    not_called_yet = start_case(db, process="call_parent", unit="kemi", data={}, actor=anna)
    v2 = (BPMN_DIR / "call_child_review.bpmn").read_bytes().replace(
        b"review_note = note", b'review_note = "v2 " + note')
    deploy_file(db, owner, "call_child_review", v2)
    SPEC_CACHE.clear()  # as a restarted server or another worker sees it

    old = complete_task(db, in_review.tasks[0].id, data={"note": "ok"}, actor=kim)
    new = complete_task(db, not_called_yet.tasks[0].id, data={"note": "second"}, actor=anna)
    new = complete_task(db, new.tasks[0].id, data={"note": "ok"}, actor=kim)

    assert old.data["review_note"] == "ok"  # the version it called (1), though 2 is out
    assert new.data["review_note"] == "v2 ok"  # called after 2 was deployed
    with db.read() as session:
        pins = dict(session.execute(select(CaseCalledVersion.case_id, CaseCalledVersion.process_version_id)).all())
    assert pins[old.id] != pins[new.id]


def test_a_call_to_a_process_nobody_deployed_fails_the_step_that_calls_it_and_changes_nothing(db, owner, anna):
    deploy_file(db, owner, "call_parent")

    case = start_case(db, process="call_parent", unit="kemi", data={}, actor=anna)

    with pytest.raises(errors.EngineFailure) as failed:
        complete_task(db, case.tasks[0].id, data={"note": "please look"}, actor=anna)

    assert "call_child_review" in failed.value.message
    assert get_case(db, case.id, actor=anna).tasks == case.tasks  # nothing changed


# --- event-based gateway: the timer branch fires ------------------------------------------------------------

def test_the_timer_branch_of_an_event_based_gateway_gets_a_wake_up_and_fires(db, owner, kim):
    deploy_file(db, owner, "event_gateway")
    case = start_case(db, process="event_gateway", unit="kemi", data={}, actor=kim, clock=FixedClock(T0))
    with db.read() as session:
        wakeup = session.get(CaseTimer, case.id)
        assert wakeup is not None and wakeup.due_at == T0 + dt.timedelta(days=3)

    assert fire_due_timers(db, clock=FixedClock(T0 + dt.timedelta(days=3, minutes=1))).fired == 1

    case = get_case(db, case.id, actor=kim)
    assert [(task.name, task.group) for task in case.tasks] == [("chase", "amk")]  # a plain bpmn:task: its lane
    assert case_messages(db, case.id, actor=kim) == []
    assert complete_task(db, case.tasks[0].id, data={}, actor=kim).status == CaseStatus.COMPLETED


def test_the_message_branch_of_an_event_based_gateway_takes_the_message_and_drops_the_timer(db, owner, kim):
    deploy_file(db, owner, "event_gateway")
    case = start_case(db, process="event_gateway", unit="kemi", data={}, actor=kim, clock=FixedClock(T0))
    assert [message.name for message in case_messages(db, case.id, actor=kim)] == ["answer"]

    case = send_message(db, case.id, "answer", data={"note": "yes"}, actor=kim, clock=FixedClock(T0))

    assert [task.name for task in case.tasks] == ["read_answer"]
    assert case.data["note"] == "yes"
    with db.read() as session:
        assert session.get(CaseTimer, case.id) is None


# --- a task a person does must have a group ----------------------------------------------------------------

@pytest.mark.parametrize("tag", ["task", "manualTask", "userTask"])
def test_a_task_for_a_person_outside_any_lane_is_refused_at_deploy(db, owner, tag):
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
  <bpmn:process id="laneless" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:{tag} id="do_it"><bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="form" value="free_note"/></spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:{tag}>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="do_it"/>
    <bpmn:sequenceFlow id="f2" sourceRef="do_it" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>""".encode()

    with pytest.raises(errors.InvalidModel) as refused:
        deploy(db, xml, "laneless.bpmn", actor=owner)

    assert refused.value.element == "do_it"
    assert "lane" in refused.value.message
