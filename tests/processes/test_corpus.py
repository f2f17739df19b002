"""Every element that deploys also runs (#12 item 8): each model of our corpus is deployed as a process owner
would and driven to its end as people, senders of messages and the passing of time would drive it.

The corpus (tests/processes/bpmn) covers every element type the deploy accepts: user, manual and plain
tasks, script, service (notify), send and receive tasks, exclusive, parallel, inclusive and event-based
gateways, embedded, event and called sub-processes, standard loops and sequential and parallel
multi-instance, timer (date, duration, cycle start, boundary, behind an event-based gateway), message
(start split, intermediate, boundary, event sub-process, receive task), signal, error and terminate
events. The driver completes every open task with a note, delivers every message the case offers, and,
when a case only waits for time, moves the clock to its next wake-up; a case that still cannot move on is
stuck, and the test names the elements it waits in.
"""

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
    fire_due_starts,
    fire_due_timers,
    get_case,
    send_message,
    start_case,
)
from processes.store.models import Case, CaseTimer, ScheduledStart
from processes.views import UserView

from .conftest import BPMN_DIR

T0 = dt.datetime(2030, 3, 4, 9, 0, tzinfo=dt.UTC)
MAX_MOVES = 60
NOTE = {"note": "stop"}  # ends the loops (their condition is note != "stop")

# file -> the data its case starts with (models with a start form or start data need it)
CORPUS: dict[str, dict] = {
    "note_loop": {},
    "standard_loop_notes": {},
    "embedded_subprocess_notes": {},
    "event_subprocess_notes": {},
    "event_subprocess_messages": {},
    "mi_parallel_notes": {"people": ["a", "b", "c"]},
    "mi_sequential_notes": {"people": ["a", "b"]},
    "timer_escalation": {},
    "message_events": {},
    "message_start": {},
    "event_gateway": {},
    "every_element": {},
    "call_parent": {},
    "yearly_campaign": {},
    "correlated_reply": {"request_id": "R-1"},
    "bundle_accident": {"personal_injury": True, "exposure": "sudden", "absence_days_beyond_injury_day": 2,
                        "injury_date": "2026-06-29", "first_absence_day": "2026-06-30"},
    # contractor onboarding (#15): linkTo and webhook (the guest is the handler here), the accident stand-in
    "guest_portal": {"guest_email": "handler", "contact": "Kaj"},
    "work_accident_report": {},  # a stand-in for a work-accident process a contractor incident starts (A-R11)
    # start links and messages through a link (#14, #15): here run by the handler
    "guest_start": {"note": "Jeg blev truet i kantinen"},
    "guest_messages": {"guest_email": "handler"},
}
CALLED = ("call_child_review",)
CORRELATION_KEYS = ("request_id",)
# moves a model's run must include (the elements a person or a sender must do something for)
MUST_DO = {
    "every_element": {"task manual_b", "task plain_c", "task inner_task", "message go on"},
    "message_start": {"message by phone", "task handle"},
    "message_events": {"task work"},
    "event_gateway": {"message answer"},  # its timer branch: test_calls_and_elements.py
    "timer_escalation": {"task handle"},
    "call_parent": {"task ask", "task review"},
    "correlated_reply": {"message reply"},
    "event_subprocess_messages": {"task confirm"},
}


def test_the_corpus_is_every_bpmn_file_of_the_tests():
    assert {path.stem for path in BPMN_DIR.glob("*.bpmn")} == set(CORPUS) | set(CALLED)


@pytest.fixture
def handler(db: Database) -> UserView:
    """Someone who may work every task of the corpus (all its lanes' groups) in DTU Kemi."""
    return create_user(db, "handler", password="handler-password", groups=["employees", "amk", "admins"],
                       units=["kemi"])


def drive(db: Database, case_id: str, actor: UserView, clock: FixedClock) -> tuple[CaseStatus, list[str]]:
    """Move the case on until it ends; its status and what it did (or what it is stuck in)."""
    done: list[str] = []
    for _ in range(MAX_MOVES):
        case = get_case(db, case_id, actor=actor)
        if case.status != CaseStatus.RUNNING:
            return case.status, done
        if case.tasks:
            task = case.tasks[0]
            complete_task(db, task.id, data=NOTE if task.form_name else {}, actor=actor, clock=clock)
            done.append(f"task {task.name}")
            continue
        offered = case_messages(db, case_id, actor=actor, clock=clock)
        if offered:
            message = offered[0]
            payload = {**(NOTE if message.form_name else {}),  # a sender replies with the case's correlation key
                       **{key: case.data[key] for key in CORRELATION_KEYS if key in case.data}}
            send_message(db, case_id, message.name, data=payload, actor=actor, clock=clock)
            done.append(f"message {message.name}")
            continue
        with db.read() as session:
            wakeup = session.get(CaseTimer, case_id)
        if wakeup is None:
            return case.status, [*done, "stuck: no task, no message, no timer"]
        clock.at = max(clock.at, wakeup.due_at + dt.timedelta(minutes=1))
        fired = fire_due_timers(db, clock=clock)
        done.append(f"timer {fired.fired}")
    return get_case(db, case_id, actor=actor).status, [*done, "stuck: too many moves"]


def start(db: Database, key: str, data: dict, actor: UserView, clock: FixedClock) -> str:
    if key != "yearly_campaign":
        return start_case(db, process=key, unit="kemi", data=data, actor=actor, clock=clock).id
    clock.at = dt.datetime(2030, 3, 1, 12, 0, tzinfo=dt.UTC)  # a timer start: the worker starts it
    assert fire_due_starts(db, clock=clock).started == 1
    with db.read() as session:
        return session.scalars(select(Case.id).join(ScheduledStart, ScheduledStart.case_id == Case.id)).one()


@pytest.mark.parametrize("key", sorted(CORPUS))
def test_each_model_of_the_corpus_deploys_and_runs_to_its_end(db, owner, handler, key):
    for name in (*CALLED, key):
        deploy(db, (BPMN_DIR / f"{name}.bpmn").read_bytes(), f"{name}.bpmn", actor=owner)
    clock = FixedClock(T0)

    case_id = start(db, key, CORPUS[key], handler, clock)
    status, done = drive(db, case_id, handler, clock)

    assert status in (CaseStatus.COMPLETED, CaseStatus.REJECTED), done
    assert not any(step.startswith("stuck") for step in done), done
    assert MUST_DO.get(key, set()) <= set(done), done
