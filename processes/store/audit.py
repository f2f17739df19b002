"""The append-only audit trail: every step of a case, who took it, when, and with which data."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from processes.store.models import AuditEvent
from processes.views import HistoryEntry


def record(
    session: Session, *, case_id: str | None, actor: str | None, kind: str, detail: dict[str, Any],
    at: dt.datetime | None = None,
) -> None:
    """Append one event (never updated or deleted by the application)."""
    event = AuditEvent(case_id=case_id, actor=actor, kind=kind, detail=detail)
    if at is not None:
        event.at = at
    session.add(event)


def history(session: Session, case_id: str) -> list[HistoryEntry]:
    """The case's events in order; read as plain rows (no ORM identity map: a long history stays cheap)."""
    query = (
        select(AuditEvent.at, AuditEvent.actor, AuditEvent.kind, AuditEvent.detail)
        .where(AuditEvent.case_id == case_id).order_by(AuditEvent.id)
    )
    rows = session.execute(query)
    return [HistoryEntry(at=at, actor=actor, kind=kind, detail=detail) for at, actor, kind, detail in rows]
