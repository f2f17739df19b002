"""The append-only audit trail: every step of a case, who took it, when, and with which data."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import bindparam, event, insert, select
from sqlalchemy.orm import Session

from processes.store.models import AuditEvent, utcnow
from processes.views import HistoryEntry


class AuditKind(enum.StrEnum):
    """Every kind of event the audit trail holds, each with its words for people (Danish, English)."""

    words: dict[str, str]

    def __new__(cls, value: str, da: str, en: str) -> AuditKind:
        member = str.__new__(cls, value)
        member._value_ = value
        member.words = {"da": da, "en": en}
        return member

    CASE_STARTED = "case_started", "Sagen er startet", "Case started"
    CASE_ENDED = "case_ended", "Sagen er afsluttet", "Case ended"
    CASE_SPAWNED = "case_spawned", "Sagen startede en anden sag", "Case started another case"
    DECISION = "decision", "Afgørelse truffet", "Decision taken"
    ENGINE_STEPS = "engine_steps", "Automatiske trin", "Automatic steps"
    TASK_CREATED = "task_created", "Opgave oprettet", "Task created"
    TASK_CLAIMED = "task_claimed", "Opgave taget", "Task taken"
    TASK_UNCLAIMED = "task_unclaimed", "Opgave givet tilbage", "Task given back"
    TASK_ASSIGNED = "task_assigned", "Opgave tildelt", "Task assigned"
    TASK_COMPLETED = "task_completed", "Opgave afsluttet", "Task completed"
    TASK_CANCELLED = "task_cancelled", "Opgave annulleret", "Task cancelled"
    COMMENT_ADDED = "comment_added", "Kommentar tilføjet", "Comment added"
    ATTACHMENT_ADDED = "attachment_added", "Bilag tilføjet", "Attachment added"
    NOTIFICATION_QUEUED = "notification_queued", "Besked sat i kø", "Notification queued"
    NOTIFICATION_SKIPPED = "notification_skipped", "Besked ikke sendt", "Notification not sent"
    NOTIFICATION_FAILED = "notification_failed", "Besked kunne ikke leveres", "Notification could not be delivered"
    TIMER_FIRED = "timer_fired", "Frist udløbet", "Timer fired"
    TIMER_RETRY = "timer_retry", "Frist forsøges igen", "Timer retried"
    TIMER_STARTS_SKIPPED = ("timer_starts_skipped", "Missede starttidspunkter sprunget over",
                            "Missed start times skipped")
    INCIDENT = "incident", "Hændelse", "Incident"
    INCIDENT_RESOLVED = "incident_resolved", "Hændelse løst", "Incident resolved"
    PROCESS_DEPLOYED = "process_deployed", "Proces udrullet", "Process deployed"
    LINK_CREATED = "link_created", "Link til sagen oprettet", "Link to the case created"
    LINK_RENEWED = "link_renewed", "Link til sagen fornyet", "Link to the case renewed"
    LINK_EXTENDED = "link_extended", "Opgave føjet til link", "Task added to a link"
    LINK_REVOKED = "link_revoked", "Link til sagen tilbagekaldt", "Link to the case revoked"
    START_LINK_USED = "start_link_used", "Sag startet via et link", "Case started through a link"
    MESSAGE_RECEIVED = "message_received", "Meddelelse modtaget", "Message received"
    MESSAGE_SENT = "message_sent", "Meddelelse sendt til en anden sag", "Message sent to another case"
    PROCESS_CALLED = "process_called", "Delproces kaldt", "Process called"
    CALLED_PROCESS_ENDED = "called_process_ended", "Delproces afsluttet", "Called process ended"
    PERSONAL_DATA_ERASED = ("personal_data_erased", "Personoplysninger slettet efter opbevaringsperioden",
                            "Personal data erased after the retention period")
    WEBHOOK_QUEUED = "webhook_queued", "Besked til andet system sat i kø", "Message to another system queued"
    WEBHOOK_DELIVERED = "webhook_delivered", "Besked til andet system leveret", "Message to another system delivered"
    WEBHOOK_RETRY = "webhook_retry", "Besked til andet system forsøges igen", "Message to another system retried"
    WEBHOOK_SKIPPED = "webhook_skipped", "Besked til andet system ikke sendt", "Message to another system not sent"
    CASE_SPAWN_SKIPPED = "case_spawn_skipped", "Anden sag ikke startet", "Other case not started"
    CASE_MIGRATED = "case_migrated", "Sagen flyttet til en ny procesversion", "Case moved to a new process version"
    BUNDLE_CHANGED = "bundle_changed", "Formular eller regeldata ændret", "Form or rule data changed"
    DRAFT_SAVED = "draft_saved", "Procesudkast gemt", "Process draft saved"


HIDDEN_KINDS = frozenset({AuditKind.ENGINE_STEPS})
"""The engine's own bookkeeping: the case page shows it on the diagram, not in the history."""


def record(
    session: Session, *, case_id: str | None, actor: str | None, kind: AuditKind, detail: dict[str, Any],
    at: dt.datetime | None = None,
) -> None:
    """Append one event (never updated or deleted by the application).

    The events of a transaction are written together, in the order recorded, as one multi-row INSERT
    before it commits (or before the history is read in it): a step records several, and one INSERT
    each, with the id read back for the ORM, was a fifth of a step's statements.
    """
    pending = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = []
    pending.append({"case_id": case_id, "actor": actor, "kind": kind.value, "detail": detail,
                    "at": at if at is not None else utcnow()})


_PENDING = "amflow_pending_audit_events"


def write_pending(session: Session) -> None:
    """Write the events recorded in this transaction and not yet written (after the rows they refer to)."""
    pending = session.info.pop(_PENDING, None)
    if pending:
        session.flush()
        session.connection().execute(insert(AuditEvent), pending)


@event.listens_for(Session, "before_commit")
def _write_before_commit(session: Session) -> None:
    write_pending(session)


@event.listens_for(Session, "after_soft_rollback")
def _forget_on_rollback(session: Session, _previous: object) -> None:
    session.info.pop(_PENDING, None)


RECENT_HISTORY = 50
"""How many of a case's newest events a case view carries; older ones are read page by page."""

MAX_HISTORY_PAGE = 500


_EVENT_COLUMNS = select(AuditEvent.id, AuditEvent.at, AuditEvent.actor, AuditEvent.kind, AuditEvent.detail)
_NEWEST_EVENTS = (_EVENT_COLUMNS.where(AuditEvent.case_id == bindparam("case_id")).order_by(AuditEvent.id.desc())
                  .limit(bindparam("limit")))


def history(
    session: Session, case_id: str, *, before: int | None = None, limit: int | None = None,
    hidden: frozenset[str] = frozenset(),
) -> tuple[list[HistoryEntry], int | None]:
    """A page of the case's events, oldest first, and the cursor of the page before it (None: no older events).

    The page is the ``limit`` newest events older than the event ``before`` (an audit event id; None: the
    newest), leaving out the kinds in ``hidden``; ``limit=None`` reads them all. It walks the index
    ``ix_audit_case (case_id, id)`` backwards from ``before`` and stops after ``limit + 1`` rows, so its
    cost does not grow with the case's age. Rows are read as plain tuples (no ORM identity map).
    """
    write_pending(session)
    if before is None and not hidden and limit is not None:  # a case view's newest events: the query built once
        session.flush()
        rows = session.connection().execute(_NEWEST_EVENTS, {"case_id": case_id, "limit": limit + 1}).all()
    else:
        query = _EVENT_COLUMNS.where(AuditEvent.case_id == case_id)
        if before is not None:
            query = query.where(AuditEvent.id < before)
        if hidden:
            query = query.where(AuditEvent.kind.not_in(sorted(hidden)))
        query = query.order_by(AuditEvent.id.desc())
        if limit is not None:
            query = query.limit(limit + 1)
        rows = session.execute(query).all()
    older = None
    if limit is not None and len(rows) > limit:
        rows = rows[:limit]
        older = rows[-1][0]
    return [HistoryEntry(at=at, actor=actor, kind=kind, detail=detail)
            for _id, at, actor, kind, detail in reversed(rows)], older
