"""General capabilities the lone-work watch (B-R10) needed, each on its own model:

- process property ``startedFrom``: a case started from a running case of a named process, by its starter,
  with that case's data (and, for a follow-up case, its parent's) as ``related``;
- ``notify`` to an e-mail address, and through a channel registry (``processes.notify.channels``);
- the sandbox's ``now()``, ``today()`` (the run's clock) and ``add_minutes``;
- a task inside an embedded sub-process in the lane that names it.
"""

from __future__ import annotations

import datetime as dt

import pytest

from processes import (
    FixedClock,
    complete_task,
    create_user,
    deploy,
    errors,
    related_starts,
    send_pending,
    start_case,
)
from processes.notify import channels
from processes.store.models import Notification

from .conftest import BPMN_DIR

PROPS = '<bpmn:extensionElements><spiffworkflow:properties>{}</spiffworkflow:properties></bpmn:extensionElements>'
FORM = PROPS.format('<spiffworkflow:property name="form" value="free_note"/>')


def model(key: str, body: str, *, process_properties: str = "", leaders: str = "") -> bytes:
    lanes = '<bpmn:lane id="l_emp" name="employees"/>' + (
        f'<bpmn:lane id="l_lead" name="leaders"><bpmn:flowNodeRef>{leaders}</bpmn:flowNodeRef></bpmn:lane>'
        if leaders else "")
    return f'''<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d_{key}" targetNamespace="t">
  <bpmn:process id="{key}" name="{key} (test)" isExecutable="true">
    {PROPS.format(process_properties) if process_properties else ""}
    <bpmn:laneSet id="ls_{key}">{lanes}</bpmn:laneSet>
    {body}
  </bpmn:process>
</bpmn:definitions>'''.encode()


NOTIFY = '''<bpmn:serviceTask id="{id}"><bpmn:extensionElements><spiffworkflow:serviceTaskOperator id="notify">
  <spiffworkflow:parameters>
    <spiffworkflow:parameter id="recipient" type="str" value="{recipient}"/>
    <spiffworkflow:parameter id="template" type="str" value="'task_reminder'"/>
    <spiffworkflow:parameter id="channel" type="str" value="{channel}"/>
  </spiffworkflow:parameters></spiffworkflow:serviceTaskOperator></bpmn:extensionElements>
  <bpmn:incoming>{incoming}</bpmn:incoming><bpmn:outgoing>{outgoing}</bpmn:outgoing></bpmn:serviceTask>'''

FOLLOW_UP = model("follow_up", f'''
  <bpmn:startEvent id="s">{FORM}<bpmn:outgoing>a</bpmn:outgoing></bpmn:startEvent>
  <bpmn:scriptTask id="plan"><bpmn:incoming>a</bpmn:incoming><bpmn:outgoing>b</bpmn:outgoing>
    <bpmn:script>started = now()
day = today()
later = add_minutes(started, 90)
from_related = related['data']['note']</bpmn:script></bpmn:scriptTask>
  {NOTIFY.format(id="tell", recipient="details['contact']", channel="details['channel']", incoming="b", outgoing="c")}
  <bpmn:subProcess id="inner"><bpmn:incoming>c</bpmn:incoming><bpmn:outgoing>d</bpmn:outgoing>
    <bpmn:startEvent id="is"><bpmn:outgoing>i1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="lead_task">{FORM}
      <bpmn:incoming>i1</bpmn:incoming><bpmn:outgoing>i2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="ie"><bpmn:incoming>i2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="i1" sourceRef="is" targetRef="lead_task"/>
    <bpmn:sequenceFlow id="i2" sourceRef="lead_task" targetRef="ie"/>
  </bpmn:subProcess>
  <bpmn:endEvent id="e"><bpmn:incoming>d</bpmn:incoming></bpmn:endEvent>
  <bpmn:sequenceFlow id="a" sourceRef="s" targetRef="plan"/>
  <bpmn:sequenceFlow id="b" sourceRef="plan" targetRef="tell"/>
  <bpmn:sequenceFlow id="c" sourceRef="tell" targetRef="inner"/>
  <bpmn:sequenceFlow id="d" sourceRef="inner" targetRef="e"/>''',
    process_properties='<spiffworkflow:property name="startedFrom" value="message_events, note_loop"/>',
    leaders="lead_task")

T0 = dt.datetime(2026, 12, 2, 17, 5, 30, tzinfo=dt.UTC)


@pytest.fixture
def setup(db, owner, anna):
    deploy(db, (BPMN_DIR / "message_events.bpmn").read_bytes(), "message_events.bpmn", actor=owner)
    deploy(db, FOLLOW_UP, "follow_up.bpmn", actor=owner)
    first = start_case(db, process="message_events", unit="kemi", data={"note": "from the first case"}, actor=anna)
    return first.id


def follow(db, anna, first, **data):
    return start_case(db, process="follow_up", unit=None, related_case=first, actor=anna, clock=FixedClock(T0),
                      data={"note": "n", "details": {"contact": "anna", "channel": "email", **data}})


def test_a_case_is_started_from_a_running_case_of_the_named_process_with_its_data(db, anna, setup):
    assert [process.key for process in related_starts(db, setup, actor=anna)] == ["follow_up"]

    case = follow(db, anna, setup)

    assert case.unit == "kemi"  # the related case's
    assert case.data["related"]["case_id"] == setup
    assert case.data["from_related"] == "from the first case"
    [started] = [entry for entry in case.history if entry.kind == "case_started"]
    assert started.detail["related_case"] == setup


def test_without_a_related_case_or_from_a_case_not_ones_own_the_start_is_refused(db, anna, emil, setup):
    with pytest.raises(errors.InvalidData) as refused:
        start_case(db, process="follow_up", unit="kemi", data={"note": "n"}, actor=anna)
    assert set(refused.value.fields) == {"related_case"}
    kim = create_user(db, "kim", password="kim-password", groups=["employees"], units=["kemi"])
    for actor, related in ((kim, setup), (anna, "no-such-case")):
        with pytest.raises(errors.InvalidData) as refused:
            start_case(db, process="follow_up", unit=None, related_case=related, data={"note": "n"}, actor=actor)
        assert set(refused.value.fields) == {"related_case"}
    assert related_starts(db, setup, actor=anna) != []
    with pytest.raises(errors.InvalidData) as refused:  # a process without startedFrom takes no related case
        start_case(db, process="message_events", unit="kemi", related_case=setup, data={}, actor=anna)
    assert set(refused.value.fields) == {"related_case"}


def test_a_finished_case_starts_nothing(db, anna, note_loop, setup):
    first = start_case(db, process="note_loop", unit="kemi", data={}, actor=anna)
    assert [process.key for process in related_starts(db, first.id, actor=anna)] == ["follow_up"]
    done = complete_task(db, first.tasks[0].id, data={"note": "stop"}, actor=anna)
    assert done.status == "completed"
    assert related_starts(db, first.id, actor=anna) == []
    with pytest.raises(errors.InvalidData):
        follow(db, anna, first.id)


def test_now_today_and_add_minutes_read_the_runs_clock_in_copenhagen(db, anna, setup):
    case = follow(db, anna, setup)

    assert case.data["started"] == "2026-12-02T18:05:30+01:00"
    assert case.data["day"] == "2026-12-02"
    assert case.data["later"] == "2026-12-02T19:35:30+01:00"


def test_a_task_inside_an_embedded_subprocess_sits_in_the_lane_that_names_it(db, anna, setup):
    case = follow(db, anna, setup)

    [task] = case.tasks
    assert (task.name, task.group) == ("lead_task", "leaders")


def test_notify_reaches_an_address_without_an_account_and_a_user_by_address(db, anna, setup, smtp_server):
    outsider = follow(db, anna, setup, contact="vagt@example.org")
    known = follow(db, anna, setup, contact="ANNA@example.dtu.dk")  # no e-mail on anna: an address then
    with db.read() as session:
        rows = {row.case_id: row for row in session.query(Notification).filter_by(template="task_reminder")}
    assert (rows[outsider.id].to_address, rows[outsider.id].recipient_user) == ("vagt@example.org", None)
    assert rows[known.id].to_address == "ANNA@example.dtu.dk"

    send_pending(db, smtp_url=smtp_server.url, clock=FixedClock(T0))
    assert "vagt@example.org" in [mail.to for mail in smtp_server.received]


def test_notify_by_a_user_address_uses_the_users_name_and_language(db, owner, setup):
    lars = create_user(db, "lars", password="lars-password", groups=["employees"], units=["kemi"],
                       email="lars@example.dtu.dk", language="en")
    first = start_case(db, process="message_events", unit="kemi", data={"note": "x"}, actor=lars).id
    case = start_case(db, process="follow_up", unit=None, related_case=first, actor=lars,
                      data={"note": "n", "details": {"contact": "Lars@Example.dtu.dk", "channel": "email"}})
    with db.read() as session:
        row = session.query(Notification).filter_by(case_id=case.id, template="task_reminder").one()
    assert (row.recipient_user, row.language, row.to_address) == ("lars", "en", "lars@example.dtu.dk")


def test_an_unknown_channel_fails_the_step_and_a_new_channel_is_one_registry_entry(db, anna, setup, monkeypatch):
    with pytest.raises(errors.EngineFailure, match="no notification channel 'sms'"):
        follow(db, anna, setup, channel="sms")

    sent = []

    class Sms:
        def queue(self, session, notice, *, case_id, context, now, texts):
            sent.append((notice.template, notice.recipient_user, notice.recipient_address))
            return 1

    monkeypatch.setitem(channels.CHANNELS, "sms", Sms())
    follow(db, anna, setup, channel="sms", contact="+4512345678@sms.example")
    assert sent == [("task_reminder", None, "+4512345678@sms.example")]
