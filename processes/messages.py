"""BPMN messages into a running case: which ones the case can take now, and delivering one.

A message is posted to a case by its id (the URL) with a payload; it must fit the form that the event
waiting for it names (property ``form`` of the catch event, boundary event or event sub-process start).
It is caught, and the case runs on until it waits again, in ONE transaction with the audit event of the
delivery. A message nothing in the case waits for (or whose correlation keys do not match the case's) is a
Conflict and changes nothing.
"""

from __future__ import annotations

from typing import Any

from processes.access import case_for_reading, case_view, may_send_message, reading
from processes.advance import advance_case, delivering, restored_workflow
from processes.clock import SYSTEM_CLOCK, Clock
from processes.engine import events
from processes.errors import Conflict, Forbidden
from processes.store.audit import AuditKind, record
from processes.store.db import Database, unit_of_work
from processes.views import CaseStatus, CaseView, MessageView, UserView


def case_messages(db: Database, case_id: str, *, actor: UserView, clock: Clock = SYSTEM_CLOCK) -> list[MessageView]:
    """The messages the case can take now (none once it has ended), each with its form's name."""
    with reading(db, case_id, actor, "messages") as (session, case):
        if case.status != CaseStatus.RUNNING.value:
            return []
        with restored_workflow(session, case, clock) as workflow:
            waiting = events.waiting_messages(workflow)
        offered = [message for message in waiting if may_send_message(session, case, actor, message.senders)]
    return [MessageView(name=message.name, title=message.title, form_name=message.form) for message in offered]


def send_message(
    db: Database, case_id: str, name: str, *, data: Any, actor: UserView, clock: Clock = SYSTEM_CLOCK,
) -> CaseView:
    """Deliver message ``name`` with ``data`` to the case and run it on (Conflict if nothing waits for it)."""
    with unit_of_work(db) as session:
        case = case_for_reading(session, case_id, actor)
        if case.status != CaseStatus.RUNNING.value:
            raise Conflict(f"the case is {case.status}: it takes no messages")
        with restored_workflow(session, case, clock) as workflow:
            senders = {message.name: message.senders for message in events.waiting_messages(workflow)}
        if name in senders and not may_send_message(session, case, actor, senders[name]):
            raise Forbidden(f"you may not send message {name!r} into this case")

        def delivered(payload: dict[str, Any]) -> None:
            record(session, case_id=case.id, actor=actor.username, kind=AuditKind.MESSAGE_RECEIVED,
                   detail={"message": name, "data": payload})

        advance_case(session, case, delivering(name, data, then=delivered), clock=clock)
        session.flush()
        return case_view(session, case)
