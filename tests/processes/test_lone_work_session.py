"""B-R10, watching over the lone worker (bpmn/lone_work_session.bpmn), through the real engine, worker and SMTP.

A session is started from an active approval (a running lone_work_validity case the worker started); a missed
check-in past the grace period alerts the buddy, then the leader, then DTU Security, each after its own wait,
until one of them acknowledges. Time is a FixedClock moved by the test; the worker's pass fires the timers
and delivers the outbox to a real SMTP server on loopback.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from processes import (
    FixedClock,
    case_messages,
    complete_task,
    create_user,
    get_case,
    run_pass,
    send_message,
    start_case,
)
from processes.errors import InvalidData
from processes.store.models import CaseTimer

from .test_lone_work_process import APPLICATION, APPROVE, REVIEW, only_task

T0 = dt.datetime(2026, 12, 2, 17, 0, tzinfo=dt.UTC)  # 18:00 in Copenhagen
ALARM = "ALARM"


@pytest.fixture
def clock():
    return FixedClock(T0)


@pytest.fixture
def db(bundled_db):
    """Every shipped diagram deployed (tests/processes/conftest.py's bundled_db)."""
    return bundled_db


@pytest.fixture
def people(db):
    return {
        "anna": create_user(db, "anna", password="anna-password", groups=["employees"], units=["kemi"],
                            email="anna@example.dtu.dk"),
        "karl": create_user(db, "karl", password="karl-password", groups=["amk"], units=["kemi"],
                            email="karl@example.dtu.dk"),
        "lene": create_user(db, "lene", password="lene-password", groups=["leaders"], units=["kemi"],
                            email="lene@example.dtu.dk"),
        "bo": create_user(db, "bo", password="bo-password", groups=["employees"], units=["kemi"],
                          email="bo@example.dtu.dk"),
    }


@pytest.fixture
def approval(db, people, clock):
    """Anna's approved G2 application (interval 30 minutes): the id of its running validity case."""
    case = start_case(db, process="lone_work_approval", unit="kemi", actor=people["anna"], clock=clock,
                      data={**APPLICATION, "check_in_interval_minutes": 30, "applicant_phone": "+45 1234 5678"})
    case = complete_task(db, only_task(case).id, data=REVIEW, actor=people["karl"], clock=clock)
    case = complete_task(db, only_task(case).id, data=APPROVE, actor=people["lene"], clock=clock)
    [spawned] = [entry.detail for entry in case.history if entry.kind == "case_spawned"]
    return spawned["case"]


def begin(db, people, clock, approval, **changes):
    return start_case(db, process="lone_work_session", unit=None, actor=people["anna"], clock=clock,
                      related_case=approval, data={"until": "21:00", "buddy": "bo", **changes})


def at(clock, minutes):
    clock.at = T0 + dt.timedelta(minutes=minutes)


def alarms(smtp_server):
    return [mail.to for mail in smtp_server.received if mail.subject.startswith(ALARM)]


def worker(db, clock, smtp_server):
    return run_pass(db, clock=clock, smtp_url=smtp_server.url)


def test_a_session_takes_the_interval_from_the_approval_and_the_rest_from_parameters(db, people, clock, approval):
    case = begin(db, people, clock, approval, place="207/112")

    assert case.unit == "kemi"
    assert case.data["related"]["case_id"] == approval
    assert (case.data["interval"], case.data["grace"]) == (30, 10)  # approval; lone_work.check_in_grace_minutes
    assert case.data["worker_name"] == "Anna Ansat"
    assert case.data["ends_at"] == "2026-12-02T21:00:00+01:00"
    assert case.data["check_in_due"] == "2026-12-02T18:40:00+01:00"  # 18:00 + 30 + 10
    assert {message.name for message in case_messages(db, case.id, actor=people["anna"])} == {
        "check_in", "end_session"}
    with db.read() as session:
        assert session.get(CaseTimer, case.id).due_at == dt.datetime(2026, 12, 2, 17, 40, tzinfo=dt.UTC)


def test_only_the_holder_of_an_active_approval_starts_a_session(db, people, clock, approval):
    with pytest.raises(InvalidData) as refused:
        start_case(db, process="lone_work_session", unit="kemi", actor=people["anna"], clock=clock,
                   data={"until": "21:00", "buddy": "bo"})
    assert "related_case" in refused.value.fields
    with pytest.raises(InvalidData) as refused:  # Bo holds no approval: Anna's is not his
        start_case(db, process="lone_work_session", unit=None, actor=people["bo"], clock=clock,
                   related_case=approval, data={"until": "21:00", "buddy": "anna"})
    assert "related_case" in refused.value.fields


def test_a_check_in_resets_the_timer_and_ending_the_session_ends_the_watch(db, people, clock, approval, smtp_server):
    case = begin(db, people, clock, approval)
    at(clock, 35)
    case = send_message(db, case.id, "check_in", data={}, actor=people["anna"], clock=clock)
    assert case.data["check_ins"] == 1
    assert case.data["check_in_due"] == "2026-12-02T19:15:00+01:00"  # 18:35 + 30 + 10
    at(clock, 45)  # past the first due time, but she checked in
    assert worker(db, clock, smtp_server).timers.fired == 0
    case = send_message(db, case.id, "end_session", data={"end_note": "done"}, actor=people["anna"], clock=clock)
    assert case.status == "completed"
    at(clock, 300)
    assert worker(db, clock, smtp_server).timers.fired == 0
    assert alarms(smtp_server) == []


def test_a_missed_check_in_alerts_buddy_then_leader_then_security_until_acknowledged(
        db, people, clock, approval, smtp_server):
    case = begin(db, people, clock, approval)
    at(clock, 39)
    worker(db, clock, smtp_server)
    assert alarms(smtp_server) == []  # within the grace period

    at(clock, 41)
    assert worker(db, clock, smtp_server).timers.fired == 1
    assert alarms(smtp_server) == ["bo@example.dtu.dk"]
    assert [mail.to for mail in smtp_server.received].count("bo@example.dtu.dk") == 2  # the alarm and the task
    [ack] = get_case(db, case.id, actor=people["anna"]).tasks
    assert (ack.name, ack.assignee) == ("ack_buddy", "bo")

    at(clock, 52)  # 10 minutes later: the leader (lone_work.escalation.leader_after_minutes)
    assert worker(db, clock, smtp_server).timers.fired == 1
    assert alarms(smtp_server) == ["bo@example.dtu.dk", "lene@example.dtu.dk"]
    at(clock, 63)  # then DTU Security, an address without an account (lone_work.security_email)
    assert worker(db, clock, smtp_server).timers.fired == 1
    assert alarms(smtp_server) == ["bo@example.dtu.dk", "lene@example.dtu.dk", "security@dtu.dk"]
    case = get_case(db, case.id, actor=people["lene"])
    assert sorted(task.name for task in case.tasks) == ["ack_buddy", "ack_leader", "ack_security"]

    leader_task = next(task for task in case.tasks if task.name == "ack_leader")
    case = complete_task(db, leader_task.id, data={"outcome": "worker_ok", "acknowledge_note": "Ringede, OK"},
                         actor=people["lene"], clock=clock)
    assert case.status == "completed"
    assert case.tasks == []
    at(clock, 300)
    assert worker(db, clock, smtp_server).timers.fired == 0
    assert len(alarms(smtp_server)) == 3  # the chain stopped
    kinds = [entry.kind for entry in case.history]
    assert kinds.count("timer_fired") == 3
    assert "task_completed" in kinds and kinds.count("task_cancelled") == 2


def test_the_buddy_acknowledging_stops_the_chain_before_the_leader(db, people, clock, approval, smtp_server):
    case = begin(db, people, clock, approval)
    at(clock, 41)
    worker(db, clock, smtp_server)
    [ack] = get_case(db, case.id, actor=people["bo"]).tasks
    case = complete_task(db, ack.id, data={"outcome": "help_sent"}, actor=people["bo"], clock=clock)
    assert case.status == "completed" and case.data["outcome"] == "help_sent"
    at(clock, 120)
    worker(db, clock, smtp_server)
    assert alarms(smtp_server) == ["bo@example.dtu.dk"]


def test_a_late_check_in_by_the_worker_stops_the_alarm_and_the_watch_goes_on(db, people, clock, approval, smtp_server):
    case = begin(db, people, clock, approval)
    at(clock, 41)
    worker(db, clock, smtp_server)
    case = send_message(db, case.id, "check_in", data={"check_in_note": "phone was off"}, actor=people["anna"],
                        clock=clock)
    assert case.status == "running" and case.tasks == []
    assert case.data["check_in_due"] == "2026-12-02T19:21:00+01:00"
    at(clock, 70)
    worker(db, clock, smtp_server)
    assert alarms(smtp_server) == ["bo@example.dtu.dk"]


def test_two_worker_processes_at_once_alert_each_buddy_exactly_once(db, people, clock, approval, smtp_server, tmp_path):
    """The installed `amflow worker --once --now` twice at the same moment on the same database: every
    missed check-in fires once, and each buddy gets one alarm."""
    sessions = [begin(db, people, clock, approval).id for _ in range(3)]
    environment = {name: value for name, value in os.environ.items() if not name.startswith("AMFLOW_")}
    environment.update(AMFLOW_DATABASE_URL=db.url, AMFLOW_SMTP_URL=smtp_server.url)
    due = (T0 + dt.timedelta(minutes=41)).isoformat()
    amflow = Path(sys.executable).parent / "amflow"
    workers = [subprocess.Popen([str(amflow), "worker", "--once", "--now", due], env=environment, cwd=tmp_path,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    for worker_process in workers:
        _out, err = worker_process.communicate(timeout=120)
        assert worker_process.returncode == 0, err.decode()[-2000:]

    assert alarms(smtp_server) == ["bo@example.dtu.dk"] * 3
    for session_id in sessions:
        history = get_case(db, session_id, actor=people["anna"]).history
        assert [entry.kind for entry in history].count("timer_fired") == 1
