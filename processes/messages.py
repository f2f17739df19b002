"""BPMN messages into a running case: which ones the case can take now, and delivering one.

A message is posted to a case by its id (the URL) with a payload; it must fit the form that the event
waiting for it names (property ``form`` of the catch event, boundary event or event sub-process start).
It is caught, and the case runs on until it waits again, in ONE transaction with the audit event of the
delivery. A message nothing in the case waits for (or whose correlation keys do not match the case's) is a
Conflict and changes nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy.orm import Session

from processes.access import Principal, case_for_reading, may_send_message, reading
from processes.advance import advance_case, delivering, restored_workflow
from processes.caseview import case_view
from processes.clock import SYSTEM_CLOCK, Clock
from processes.engine import events
from processes.errors import Conflict, Forbidden, NotFound
from processes.store.audit import AuditKind, record
from processes.store.db import Database, unit_of_work
from processes.store.models import Case, CaseLink
from processes.views import CaseStatus, CaseView, LinkGrant, MessageView, UserView


def _linked_case(session: Session, case_id: str, link: LinkGrant) -> Case:
    """A signed link's own case (it reads nothing of it: it may only post the messages that name ``link``)."""
    case = session.get(Case, case_id) if case_id == link.case_id else None
    if case is None:
        raise NotFound(f"no case {case_id!r} for this link")
    return case


@contextlib.contextmanager
def _case_for_messages(db: Database, case_id: str, actor: Principal) -> Iterator[tuple[Session, Case]]:
    if isinstance(actor, LinkGrant):
        with db.read() as session:
            yield session, _linked_case(session, case_id, actor)
    else:
        with reading(db, case_id, actor, "messages") as found:
            yield found


def case_messages(db: Database, case_id: str, *, actor: Principal, clock: Clock = SYSTEM_CLOCK) -> list[MessageView]:
    """The messages the case can take now from the caller (none once it has ended), each with its form's name.

    A signed link (``LinkGrant``) gets the messages whose ``senders`` name ``link``, of its own case only.
    """
    with _case_for_messages(db, case_id, actor) as (session, case):
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
        _deliver(session, case, name, data, actor=actor, clock=clock)
        return case_view(session, case)


def send_link_message(
    db: Database, link: LinkGrant, name: str, *, data: Any, clock: Clock = SYSTEM_CLOCK,
) -> None:
    """A signed link posts message ``name`` into its own case: only a message whose catching event's ``senders``
    name ``link`` (Forbidden otherwise). The link reads nothing of the case, so nothing is returned."""
    with unit_of_work(db) as session:
        case = _linked_case(session, link.case_id, link)
        live = session.get(CaseLink, link.id)  # revoked or renewed since the token was read: refused
        if live is None or live.revoked_at is not None or live.case_id != case.id:
            raise Forbidden("this link has been withdrawn")
        _deliver(session, case, name, data, actor=link, clock=clock)


def _deliver(session: Session, case: Case, name: str, data: Any, *, actor: UserView | LinkGrant, clock: Clock) -> None:
    if case.status != CaseStatus.RUNNING.value:
        raise Conflict(f"the case is {case.status}: it takes no messages")
    with restored_workflow(session, case, clock) as workflow:
        senders = {message.name: message.senders for message in events.waiting_messages(workflow)}
    link = isinstance(actor, LinkGrant)
    if (name in senders or link) and not may_send_message(session, case, actor, senders.get(name, ())):
        raise Forbidden(f"you may not send message {name!r} into this case")

    def delivered(payload: dict[str, Any]) -> None:
        record(session, case_id=case.id, actor=actor.username, kind=AuditKind.MESSAGE_RECEIVED,
               detail={"message": name, "data": payload})

    advance_case(session, case, delivering(name, data, then=delivered), clock=clock)
    session.flush()
