"""Erasing a closed case's personal data once its process's retention period has passed (issue #14).

A process declares the case data fields that hold names and free text (``personalData``) and the parameter
holding how long a closed case keeps them (``retention``, an ISO-8601 duration such as ``P5Y``; checked at
deploy). The timer worker calls :func:`erase_expired` on every pass. For each closed case (completed,
rejected, cancelled) whose closing lies the retention period (the parameter's value today) or more in the
past, ONE transaction

- removes the declared fields from the case data, from the workflow's run state (the data of the workflow
  and of every task), from the audit trail's details, from the facts of its decisions, from its mails' data
  and from the drafts of its tasks;
- blanks the comments' bodies and deletes the attachments (the rows, which hold the files);
- sets ``cases.erased_at`` and writes a ``personal_data_erased`` event naming the fields and counts.

What the statistics count (``statistics``: codes such as the event type and the track; task due and done
times) is not personal data and stays, so a case is counted after its erasure as before. The usernames in
the columns that say who did what (starter, task holders, the audit trail's actors, ``case_reads``) stay:
they are the accountability of the handling, not the case's content.

Exactly once: the claim is ``erased_at IS NULL`` on the case row, taken with ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL (SQLite: the ``BEGIN IMMEDIATE`` write lock), and the update also bumps the case's revision, so
two workers never erase the same case twice and a second pass finds nothing to do.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from processes import advance, bundles
from processes.clock import Clock
from processes.deployments import SPEC_CACHE
from processes.engine import runtime, serializer, timers
from processes.store.audit import AuditKind, record
from processes.store.db import Database, unit_of_work
from processes.store.models import (
    Attachment,
    AuditEvent,
    Case,
    Comment,
    DecisionRecord,
    Notification,
    ProcessVersion,
    TaskDraft,
    TaskRecord,
)
from processes.views import CaseStatus

logger = logging.getLogger("amflow.retention")

CLOSED = (CaseStatus.COMPLETED.value, CaseStatus.REJECTED.value, CaseStatus.CANCELLED.value)
MAX_ERASURES_PER_PASS = 200
ERASED_COMMENT = ""
"""A comment's body after the erasure (the row stays: the history says a comment was added, and by whom)."""


@dataclass(frozen=True)
class ErasurePass:
    """What one erasure pass did."""

    erased: int = 0


@dataclass(frozen=True)
class _Plan:
    version_id: int
    fields: frozenset[str]
    retention: str  # the duration, e.g. "P5Y"
    closed_before: dt.datetime  # a case closed at or before this instant is due


def _plans(session: Session, now: dt.datetime) -> list[_Plan]:
    """Per process version that declares personal data: its fields and the closing instant now due."""
    plans = []
    for version_id in session.scalars(select(ProcessVersion.id).order_by(ProcessVersion.id)):
        parsed = SPEC_CACHE.get(session, version_id).parsed
        if not parsed.personal_data or not parsed.retention:
            continue
        try:
            retention = str(bundles.for_version(session, version_id).parameter(parsed.retention, now.date()))
            closed_before = timers.before(now, retention)
        except Exception as exc:  # a parameter gone or not a duration: skip this version, never block the worker
            logger.warning("process version %s: no retention period from %r: %s", version_id, parsed.retention, exc)
            continue
        plans.append(_Plan(version_id, frozenset(parsed.personal_data), retention, closed_before))
    return plans


def _scrub(value: Any, names: frozenset[str]) -> tuple[Any, int]:
    """``value`` without the keys ``names`` at any depth; and how many were removed."""
    if isinstance(value, dict):
        removed = 0
        out = {}
        for key, item in value.items():
            if key in names:
                removed += 1
                continue
            out[key], inner = _scrub(item, names)
            removed += inner
        return out, removed
    if isinstance(value, list):
        items = [_scrub(item, names) for item in value]
        return [item for item, _ in items], sum(count for _, count in items)
    return value, 0


def _claim(session: Session, db: Database, plan: _Plan) -> Case | None:
    query = (select(Case).where(Case.process_version_id == plan.version_id, Case.erased_at.is_(None),
                                Case.status.in_(CLOSED), Case.completed_at <= plan.closed_before)
             .order_by(Case.completed_at).limit(1))
    if not db.is_sqlite:
        query = query.with_for_update(skip_locked=True)
    return session.scalar(query)


def _erase(session: Session, case: Case, plan: _Plan, now: dt.datetime) -> dict[str, Any]:
    """Erase the case's personal data in ``session``; returns what was erased (for the audit event)."""
    names = plan.fields
    present = sorted(names & case.data.keys()) if isinstance(case.data, dict) else []
    case.data, _ = _scrub(case.data, names)
    case.state, in_state = serializer.erase_fields(case.state, names)
    in_history = 0
    for event in session.scalars(select(AuditEvent).where(AuditEvent.case_id == case.id)):
        event.detail, removed = _scrub(event.detail, names)
        in_history += removed
    for decision in session.scalars(select(DecisionRecord).where(DecisionRecord.case_id == case.id)):
        decision.facts, _ = _scrub(decision.facts, names)
        decision.derived, _ = _scrub(decision.derived, names)
    for mail in session.scalars(select(Notification).where(Notification.case_id == case.id)):
        mail.data, _ = _scrub(mail.data, names)
    task_ids = select(TaskRecord.id).where(TaskRecord.case_id == case.id).scalar_subquery()
    drafts = len(list(session.scalars(select(TaskDraft.task_id).where(TaskDraft.task_id.in_(task_ids)))))
    session.execute(delete(TaskDraft).where(TaskDraft.task_id.in_(task_ids)))
    comments = 0
    for comment in session.scalars(select(Comment).where(Comment.case_id == case.id)):
        comment.body = ERASED_COMMENT
        comments += 1
    attachments = len(list(session.scalars(select(Attachment.id).where(Attachment.case_id == case.id))))
    session.execute(delete(Attachment).where(Attachment.case_id == case.id))
    case.erased_at = now
    advance.describe_for_lists(session, case, SPEC_CACHE.get(session, case.process_version_id).parsed,
                               bundles.for_version(session, case.process_version_id))
    return {"fields": present, "retention": plan.retention, "state_values": in_state, "history_values": in_history,
            "drafts": drafts, "comments": comments, "attachments": attachments}


def _erase_one(db: Database, plan: _Plan, now: dt.datetime) -> str | None:
    with unit_of_work(db) as session:
        case = _claim(session, db, plan)
        if case is None:
            return None
        detail = _erase(session, case, plan, now)
        record(session, case_id=case.id, actor=None, kind=AuditKind.PERSONAL_DATA_ERASED, at=now, detail=detail)
        return case.id


def erase_expired(db: Database, *, clock: Clock, limit: int = MAX_ERASURES_PER_PASS) -> ErasurePass:
    """Erase the personal data of every closed case past its retention period (at most ``limit``)."""
    now = runtime.now_utc(clock)
    with db.read() as session:
        plans = _plans(session, now)
    erased = 0
    for plan in plans:
        while erased < limit:
            case_id = _erase_one(db, plan, now)
            if case_id is None:
                break
            logger.info("erased the personal data of case %s (retention %s)", case_id, plan.retention)
            erased += 1
    return ErasurePass(erased=erased)
