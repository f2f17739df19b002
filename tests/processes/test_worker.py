"""The timer worker in-process: BPMN timers fire at the right moment, once, and a failing one cannot block others.

Time only moves when a test moves its ``FixedClock``. The diagram is tests/processes/bpmn/timer_escalation.bpmn:
user task ``handle`` (lane ``amk``, due in two days) with a non-interrupting reminder timer after 24 hours (a
``task_reminder`` mail to the unit's AMKs) and an interrupting escalation timer after three days (the task
moves to ``handle_escalated`` in lane ``leaders``).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from processes import (
    MAX_ATTEMPTS,
    FixedClock,
    TaskFilter,
    TimerPass,
    complete_task,
    create_user,
    deploy,
    fire_due_timers,
    get_case,
    list_tasks,
    run_pass,
    start_case,
)
from processes.store.models import AuditEvent, CaseTimer, Notification

BPMN_DIR = Path(__file__).parent / "bpmn"
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)  # a Monday morning, winter time in Copenhagen
SECOND = dt.timedelta(seconds=1)
REMIND_AFTER = dt.timedelta(hours=24)
ESCALATE_AFTER = dt.timedelta(days=3)
KEMI_AMKS_WITH_MAIL = {"karl": "karl@example.dtu.dk", "kim": "kim@example.dtu.dk"}


@pytest.fixture
def people(db):
    """The AMKs and leaders of DTU Kemi and DTU Energi; one Kemi AMK has no e-mail address."""
    users = {
        username: create_user(db, username, password=f"{username}-password", email=address,
                              groups=["amk", "employees"], units=["kemi"])
        for username, address in KEMI_AMKS_WITH_MAIL.items()
    }
    users["nora"] = create_user(db, "nora", password="nora-password", groups=["amk"], units=["kemi"])
    users["eva"] = create_user(db, "eva", password="eva-password", email="eva@example.dtu.dk", groups=["amk"],
                               units=["energi"])
    users["lene"] = create_user(db, "lene", password="lene-password", email="lene@example.dtu.dk",
                                groups=["leaders", "employees"], units=["kemi"])
    users["erik"] = create_user(db, "erik", password="erik-password", email="erik@example.dtu.dk",
                                groups=["leaders"], units=["energi"])
    return users


@pytest.fixture
def timer_escalation(db, owner):
    deploy(db, (BPMN_DIR / "timer_escalation.bpmn").read_bytes(), "timer_escalation.bpmn", actor=owner)
    return "timer_escalation"


NOTIFY_AMKS = """<spiffworkflow:serviceTaskOperator id="notify">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="group" type="str" value="'amk'"/>
            <spiffworkflow:parameter id="template" type="str" value="'task_reminder'"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>"""
START_MISSING_PROCESS = """<spiffworkflow:serviceTaskOperator id="start_case">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="process" type="str" value="'no_such_process'"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>"""
# After `handle`, wait an hour (an intermediate timer) before the case ends.
HANDLED_ENDS = '<bpmn:sequenceFlow id="f2" sourceRef="handle" targetRef="end_handled"/>'
HANDLED_PAUSES = """<bpmn:sequenceFlow id="f2" sourceRef="handle" targetRef="pause"/>
    <bpmn:intermediateCatchEvent id="pause">
      <bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>f7</bpmn:outgoing>
      <bpmn:timerEventDefinition id="pause_definition">
        <bpmn:timeDuration>"PT1H"</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f7" sourceRef="pause" targetRef="end_handled"/>"""
PAUSE_IN_LANE = ("<bpmn:flowNodeRef>end_handled</bpmn:flowNodeRef>",
                 "<bpmn:flowNodeRef>end_handled</bpmn:flowNodeRef><bpmn:flowNodeRef>pause</bpmn:flowNodeRef>")


def deploy_variant(db, owner, process_id, *replacements):
    """Deploy timer_escalation.bpmn under another process id, with (old, new) text replacements."""
    xml = (BPMN_DIR / "timer_escalation.bpmn").read_text(encoding="utf-8")
    for old, new in (('"timer_escalation"', f'"{process_id}"'), *replacements):
        assert old in xml, old
        xml = xml.replace(old, new)
    deploy(db, xml.encode(), f"{process_id}.bpmn", actor=owner)
    return process_id


@pytest.fixture
def timer_failure(db, owner):
    """timer_escalation, but the reminder path starts a process that does not exist: the timer's run fails."""
    return deploy_variant(db, owner, "timer_failure", (NOTIFY_AMKS, START_MISSING_PROCESS))


@pytest.fixture
def clock():
    return FixedClock(T0)


def wakeup(db, case_id):
    """The case's row in the wake-up table, or None."""
    with db.read() as session:
        return session.get(CaseTimer, case_id)


def outbox(db, case_id, template):
    """(recipient, address) of the outbox rows of one template for one case, sorted."""
    with db.read() as session:
        rows = session.scalars(select(Notification).where(Notification.case_id == case_id,
                                                          Notification.template == template))
        return sorted((row.recipient_user, row.to_address) for row in rows)


def events(db, case_id, kind):
    """The details of the case's audit events of one kind, in order."""
    with db.read() as session:
        return list(session.scalars(select(AuditEvent.detail).where(AuditEvent.case_id == case_id,
                                                                    AuditEvent.kind == kind)
                                    .order_by(AuditEvent.id)))


def at(clock, moment):
    """Set the clock to ``moment`` (and hand it on, for a call's ``clock=``)."""
    clock.at = moment
    return clock


def test_a_pass_at_exactly_the_due_instant_fires_the_timer_and_the_engine_agrees(db, people, timer_escalation,
                                                                                clock):
    case = start_case(db, process=timer_escalation, unit="kemi", data={}, actor=people["karl"], clock=clock)
    due = wakeup(db, case.id).due_at

    assert fire_due_timers(db, clock=at(clock, due - dt.timedelta(microseconds=1))) == TimerPass()
    assert fire_due_timers(db, clock=at(clock, due)) == TimerPass(fired=1)

    assert outbox(db, case.id, "task_reminder") == sorted(KEMI_AMKS_WITH_MAIL.items())  # Spiff fired it too
    assert [detail["due_at"] for detail in events(db, case.id, "timer_fired")] == [due.isoformat()]
    assert wakeup(db, case.id).due_at == T0 + ESCALATE_AFTER  # on to the next timer, not the same one again
    assert fire_due_timers(db, clock=clock) == TimerPass()


def test_the_reminder_fires_once_after_a_day_and_the_escalation_hands_the_case_to_the_leaders_after_three(
    db, people, timer_escalation, clock,
):
    case = start_case(db, process=timer_escalation, unit="kemi", data={}, actor=people["karl"], clock=clock)
    [handle] = case.tasks
    assert wakeup(db, case.id).due_at == T0 + REMIND_AFTER

    assert fire_due_timers(db, clock=at(clock, T0 + REMIND_AFTER - SECOND)) == TimerPass()
    assert outbox(db, case.id, "task_reminder") == []
    assert events(db, case.id, "timer_fired") == []

    assert fire_due_timers(db, clock=at(clock, T0 + REMIND_AFTER + SECOND)) == TimerPass(fired=1)
    assert outbox(db, case.id, "task_reminder") == sorted(KEMI_AMKS_WITH_MAIL.items())
    skipped = [e for e in events(db, case.id, "notification_skipped") if e["template"] == "task_reminder"]
    assert [e["user"] for e in skipped] == ["nora"]  # an AMK without an address is audited, not lost
    assert [task.id for task in get_case(db, case.id, actor=people["karl"]).tasks] == [handle.id]
    assert wakeup(db, case.id).due_at == T0 + ESCALATE_AFTER

    assert fire_due_timers(db, clock=clock) == TimerPass()  # a second pass at the same instant
    assert len(events(db, case.id, "timer_fired")) == 1
    assert outbox(db, case.id, "task_reminder") == sorted(KEMI_AMKS_WITH_MAIL.items())

    assert fire_due_timers(db, clock=at(clock, T0 + ESCALATE_AFTER + SECOND)) == TimerPass(fired=1)
    escalated = get_case(db, case.id, actor=people["karl"])
    assert [(t.name, t.group, t.unit, t.status) for t in escalated.tasks] == [
        ("handle_escalated", "leaders", "kemi", "ready")]
    assert events(db, case.id, "task_cancelled") == [{"task": "handle"}]
    leader_queue, _ = list_tasks(db, actor=people["lene"], filters=TaskFilter(case_id=case.id))
    assert [task.name for task in leader_queue] == ["handle_escalated"]
    assert list_tasks(db, actor=people["erik"], filters=TaskFilter(case_id=case.id)) == ([], 0)
    assert list_tasks(db, actor=people["karl"], filters=TaskFilter(case_id=case.id)) == ([], 0)
    assert wakeup(db, case.id) is None
    assert len(events(db, case.id, "timer_fired")) == 2
    assert fire_due_timers(db, clock=at(clock, T0 + dt.timedelta(days=30))) == TimerPass()


def test_the_task_is_due_two_days_after_it_was_created(db, people, timer_escalation, clock):
    case = start_case(db, process=timer_escalation, unit="kemi", data={}, actor=people["karl"], clock=clock)

    assert [(task.name, task.due_at) for task in case.tasks] == [("handle", T0 + dt.timedelta(days=2))]


def test_a_case_without_timers_never_gets_a_wake_up_row(db, anna, note_loop, clock):
    case = start_case(db, process=note_loop, unit="kemi", data={}, actor=anna, clock=clock)
    assert wakeup(db, case.id) is None

    case = complete_task(db, case.tasks[0].id, data={"note": "again"}, actor=anna, clock=clock)
    assert case.status == "running"
    assert wakeup(db, case.id) is None
    assert fire_due_timers(db, clock=at(clock, T0 + dt.timedelta(days=365))) == TimerPass()
    assert events(db, case.id, "timer_fired") == []


def test_completing_the_task_before_the_reminder_removes_the_wake_up_so_the_worker_never_touches_the_case(
    db, people, timer_escalation, clock,
):
    case = start_case(db, process=timer_escalation, unit="kemi", data={}, actor=people["karl"], clock=clock)
    assert wakeup(db, case.id) is not None

    done = complete_task(db, case.tasks[0].id, data={"note": "handled"}, actor=people["kim"],
                         clock=at(clock, T0 + dt.timedelta(hours=3)))

    assert done.status == "completed"
    assert wakeup(db, case.id) is None
    revision = done.revision
    assert fire_due_timers(db, clock=at(clock, T0 + dt.timedelta(days=4))) == TimerPass()
    assert events(db, case.id, "timer_fired") == []
    assert outbox(db, case.id, "task_reminder") == []
    assert get_case(db, case.id, actor=people["karl"]).revision == revision


def test_a_failing_timer_backs_off_then_becomes_an_incident_while_other_cases_keep_firing(
    db, people, timer_escalation, timer_failure, clock,
):
    failing = start_case(db, process=timer_failure, unit="kemi", data={}, actor=people["karl"], clock=clock)
    healthy = start_case(db, process=timer_escalation, unit="kemi", data={}, actor=people["karl"], clock=clock)

    attempted_at = [T0 + REMIND_AFTER + SECOND]
    first = fire_due_timers(db, clock=at(clock, attempted_at[0]))

    assert first == TimerPass(fired=1, retried=1)  # the failing case does not stop the healthy one
    assert len(events(db, healthy.id, "timer_fired")) == 1
    assert outbox(db, healthy.id, "task_reminder") == sorted(KEMI_AMKS_WITH_MAIL.items())
    assert fire_due_timers(db, clock=clock) == TimerPass()  # backing off: not claimed again at once

    for attempt in range(2, MAX_ATTEMPTS + 1):
        due = wakeup(db, failing.id).due_at
        assert fire_due_timers(db, clock=at(clock, due - SECOND)) == TimerPass()
        attempted_at.append(due + SECOND)
        expected = TimerPass(incidents=1) if attempt == MAX_ATTEMPTS else TimerPass(retried=1)
        assert fire_due_timers(db, clock=at(clock, due + SECOND)) == expected

    retries = events(db, failing.id, "timer_retry")
    assert [retry["attempt"] for retry in retries] == [1, 2, 3, 4]
    delays = [dt.datetime.fromisoformat(retry["next_at"]) - moment
              for retry, moment in zip(retries, attempted_at, strict=False)]
    assert delays == [dt.timedelta(minutes=minutes) for minutes in (1, 2, 4, 8)]
    assert all("no_such_process" in retry["error"] for retry in retries)

    row = wakeup(db, failing.id)
    assert (row.status, row.attempts) == ("incident", MAX_ATTEMPTS)
    assert "no_such_process" in row.last_error
    case = get_case(db, failing.id, actor=people["karl"])
    [incident] = case.incidents
    assert incident.kind == "timer" and "no_such_process" in incident.message
    assert incident.resolved_at is None
    [recorded] = [entry for entry in case.history if entry.kind == "incident"]
    assert recorded.detail["attempts"] == MAX_ATTEMPTS
    # every failed run was rolled back: the case still waits in `handle` and nothing of the timer path stayed
    assert [task.name for task in case.tasks] == ["handle"]
    assert {"timer_fired", "case_spawned", "notification_queued"}.isdisjoint(e.kind for e in case.history)
    assert outbox(db, failing.id, "task_reminder") == []

    # the incident is not claimed again; the healthy case still escalates in the same pass
    assert fire_due_timers(db, clock=at(clock, T0 + ESCALATE_AFTER + SECOND)) == TimerPass(fired=1)
    assert [task.name for task in get_case(db, healthy.id, actor=people["karl"]).tasks] == ["handle_escalated"]
    assert len(events(db, failing.id, "timer_retry")) == MAX_ATTEMPTS - 1
    assert len(events(db, failing.id, "incident")) == 1
    assert wakeup(db, failing.id).status == "incident"


def delivered(db, smtp_server):
    """Each received mail with the outbox row it came from (matched by Message-ID); none arrived twice."""
    with db.read() as session:
        rows = {row.message_id: row for row in session.scalars(select(Notification))}
    counts = Counter(mail.message_id for mail in smtp_server.received)
    assert set(counts) <= set(rows), "a mail arrived that the outbox never held"
    assert all(count == 1 for count in counts.values()), f"delivered more than once: {counts}"
    return [(rows[mail.message_id], mail) for mail in smtp_server.received]


def delivered_templates(db, smtp_server):
    """Counter of (template, address) of the delivered mails."""
    return Counter((row.template, mail.to) for row, mail in delivered(db, smtp_server))


def test_the_worker_delivers_the_reminder_and_the_escalation_mail_over_smtp_exactly_once(
    db, people, timer_escalation, clock, smtp_server,
):
    case = start_case(db, process=timer_escalation, unit="kemi", data={}, actor=people["karl"], clock=clock)
    started = run_pass(db, clock=clock, smtp_url=smtp_server.url)
    assert started.timers == TimerPass()
    new_task = Counter({("task_assigned", address): 1 for address in KEMI_AMKS_WITH_MAIL.values()})
    assert delivered_templates(db, smtp_server) == new_task

    reminded = run_pass(db, clock=at(clock, T0 + REMIND_AFTER + SECOND), smtp_url=smtp_server.url)
    again = run_pass(db, clock=clock, smtp_url=smtp_server.url)

    assert reminded.timers == TimerPass(fired=1)
    assert reminded.mail.sent == len(KEMI_AMKS_WITH_MAIL)
    assert again.timers == TimerPass() and again.mail.sent == 0
    reminders = Counter({("task_reminder", address): 1 for address in KEMI_AMKS_WITH_MAIL.values()})
    assert delivered_templates(db, smtp_server) == new_task + reminders
    [reminder] = [mail for row, mail in delivered(db, smtp_server)
                  if row.template == "task_reminder" and mail.to == "karl@example.dtu.dk"]
    assert case.id in reminder.body

    escalated = run_pass(db, clock=at(clock, T0 + ESCALATE_AFTER + SECOND), smtp_url=smtp_server.url)

    assert escalated.timers == TimerPass(fired=1)
    assert escalated.mail.sent == 1
    assert delivered_templates(db, smtp_server) == new_task + reminders + Counter(
        {("task_assigned", "lene@example.dtu.dk"): 1})


# --- Bugs found while writing these tests (they fail until the engine is fixed) -----------------------------

def test_the_reminder_mail_names_the_task_that_is_waiting_and_its_due_time(db, people, timer_escalation, clock):
    case = start_case(db, process=timer_escalation, unit="kemi", data={}, actor=people["karl"], clock=clock)
    fire_due_timers(db, clock=at(clock, T0 + REMIND_AFTER + SECOND))

    with db.read() as session:
        reminder = session.scalars(select(Notification).where(
            Notification.case_id == case.id, Notification.template == "task_reminder",
            Notification.recipient_user == "karl")).one()
    # the task_reminder template has "Opgave: {{ task_title }}" and "Frist: {{ due_at }}"; without them the
    # mail calls the process name the task and gives no due time (T0 + 2 days = 10:00 in Copenhagen)
    assert "Handle the case" in reminder.subject
    assert "Opgave: Handle the case" in reminder.body
    assert "Frist: 2026-03-04 10:00" in reminder.body


def test_a_case_moved_on_by_hand_after_a_timer_incident_still_gets_its_next_timer(db, people, owner, clock):
    """The incident is about the reminder of `handle`; once a person completes `handle`, the case waits on a
    new one-hour timer, which must be scheduled (today the wake-up row stays `incident` and it never fires)."""
    process = deploy_variant(db, owner, "timer_failure_then_pause", (NOTIFY_AMKS, START_MISSING_PROCESS),
                             (HANDLED_ENDS, HANDLED_PAUSES), PAUSE_IN_LANE)
    case = start_case(db, process=process, unit="kemi", data={}, actor=people["karl"], clock=clock)
    at(clock, T0 + REMIND_AFTER + SECOND)
    for _ in range(MAX_ATTEMPTS):
        fire_due_timers(db, clock=clock)
        at(clock, wakeup(db, case.id).due_at + SECOND)
    assert wakeup(db, case.id).status == "incident"

    done = complete_task(db, case.tasks[0].id, data={"note": "handled by hand"}, actor=people["kim"], clock=clock)
    assert done.status == "running"  # waiting in `pause`

    assert (wakeup(db, case.id).status, wakeup(db, case.id).due_at) == ("scheduled", clock.at + dt.timedelta(hours=1))
    assert fire_due_timers(db, clock=at(clock, clock.at + dt.timedelta(hours=1, seconds=1))) == TimerPass(fired=1)
    assert get_case(db, case.id, actor=people["karl"]).status == "completed"
