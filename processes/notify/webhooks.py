"""The webhook outbox: JSON posts to configured targets, written with the step, delivered by the worker.

A BPMN service task with operator ``webhook`` (parameters ``target``, a quoted name such as ``'fm'``, and
``payload``, an expression giving a JSON object) makes the step write one ``pending`` row in its own
transaction: the case goes on at once and never waits for the receiver. The worker (``deliver_pending``)
leases due rows in one short transaction, posts each outside any transaction, and marks it: ``delivered`` on
a 2xx answer; otherwise it backs off (1, 2, 4, ... minutes) and after ``MAX_ATTEMPTS`` the row is ``failed``
and an incident on the case says so (the case itself is not stopped). A target with no configured URL is
``skipped`` and the history says why. The body is ``{"delivery", "case_id", "task", "payload"}``. Delivery is
at least once: the delivery id (also in the header ``X-Amflow-Delivery``) lets the receiver tell a repeat.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import and_, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from processes.clock import Clock
from processes.store.audit import AuditKind, record
from processes.store.db import Database
from processes.store.models import Incident, WebhookDelivery

logger = logging.getLogger("amflow.webhooks")

MAX_ATTEMPTS = 5
LEASE = dt.timedelta(minutes=2)
TIMEOUT_SECONDS = 10.0
ERROR_MAX_LENGTH = 2000
TARGET_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


@dataclass(frozen=True)
class WebhookReport:
    """What one delivery pass did."""

    delivered: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0


def queue(session: Session, *, case_id: str, task: str, target: str, payload: Any, now: dt.datetime) -> int:
    """Write one pending delivery in the caller's transaction; return its id."""
    row = WebhookDelivery(case_id=case_id, task=task, target=target, payload=json.loads(json.dumps(payload)),
                          status="pending", attempts=0, next_attempt_at=now, created_at=now)
    session.add(row)
    session.flush()
    record(session, case_id=case_id, actor=None, kind=AuditKind.WEBHOOK_QUEUED, at=now,
           detail={"task": task, "target": target, "delivery": row.id})
    return row.id


def backoff(attempts: int) -> dt.timedelta:
    """1, 2, 4, 8 ... minutes after the failed attempt, capped at an hour."""
    return dt.timedelta(minutes=min(60, 2 ** max(0, attempts - 1)))


@dataclass(frozen=True)
class _Claimed:
    id: int
    case_id: str | None
    task: str
    target: str
    payload: Any
    attempts: int
    lease_until: dt.datetime


def _claim(db: Database, *, now: dt.datetime, limit: int) -> list[_Claimed]:
    due = or_(
        and_(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now),
        and_(WebhookDelivery.status == "sending", WebhookDelivery.lease_until < now),
    )
    query = select(WebhookDelivery).where(due).order_by(WebhookDelivery.id).limit(limit)
    if not db.is_sqlite:
        query = query.with_for_update(skip_locked=True)
    lease_until = now + LEASE
    with db.write() as session:
        rows = session.scalars(query).all()
        for row in rows:
            row.status, row.lease_until = "sending", lease_until
        return [_Claimed(row.id, row.case_id, row.task, row.target, row.payload, row.attempts, lease_until)
                for row in rows]


def _post(url: str, delivery: _Claimed) -> None:
    """POST the payload as JSON; raise OSError (or ValueError for a bad URL) unless the answer is 2xx."""
    if not url.startswith(("http://", "https://")):
        raise ValueError("a webhook URL must be http:// or https://")
    body = json.dumps(envelope(delivery.id, delivery.case_id, delivery.task, delivery.payload),
                      ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
        url, data=body, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8", "User-Agent": "amflow-webhook/1",
        "X-Amflow-Delivery": str(delivery.id), "X-Amflow-Case": delivery.case_id or "",
    })
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 (configured URL)
        if not 200 <= response.status < 300:
            raise OSError(f"HTTP {response.status}")


def envelope(delivery: int, case_id: str | None, task: str, payload: Any) -> dict[str, Any]:
    """The JSON body of a post: the delivery's id (the same on a repeat), the case, the task, the payload."""
    return {"delivery": delivery, "case_id": case_id, "task": task, "payload": payload}


def _describe(error: BaseException) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return f"cannot reach the target: {error.reason}"
    return f"{type(error).__name__}: {error}"


def _finish(db: Database, delivery: _Claimed, *, status: str, now: dt.datetime, error: str | None = None) -> None:
    with db.write() as session:
        session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery.id).values(
            status=status, lease_until=None, last_error=error,
            delivered_at=now if status == "delivered" else None))
        if delivery.case_id is not None and status == "delivered":
            record(session, case_id=delivery.case_id, actor=None, kind=AuditKind.WEBHOOK_DELIVERED, at=now,
                   detail={"task": delivery.task, "target": delivery.target, "delivery": delivery.id})
        if delivery.case_id is not None and status == "skipped":
            record(session, case_id=delivery.case_id, actor=None, kind=AuditKind.WEBHOOK_SKIPPED, at=now,
                   detail={"task": delivery.task, "target": delivery.target, "delivery": delivery.id,
                           "reason": error})


def _failed_attempt(db: Database, delivery: _Claimed, *, error: str, now: dt.datetime) -> str | None:
    """Back off, or after MAX_ATTEMPTS give up with an incident on the case; None if the row is not ours."""
    attempts = delivery.attempts + 1
    status = "failed" if attempts >= MAX_ATTEMPTS else "pending"
    error = error[:ERROR_MAX_LENGTH]
    with db.write() as session:
        result = cast("CursorResult[Any]", session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery.id, WebhookDelivery.status == "sending",
                   WebhookDelivery.lease_until == delivery.lease_until)
            .values(status=status, attempts=attempts, last_error=error, lease_until=None,
                    next_attempt_at=now + backoff(attempts))))
        if result.rowcount != 1:
            return None
        if delivery.case_id is not None:
            detail = {"task": delivery.task, "target": delivery.target, "delivery": delivery.id,
                      "attempt": attempts, "error": error}
            if status == "failed":
                message = f"webhook {delivery.target!r} of task {delivery.task} failed {attempts} times: {error}"
                session.add(Incident(case_id=delivery.case_id, kind="webhook", message=message, at=now))
                record(session, case_id=delivery.case_id, actor=None, kind=AuditKind.INCIDENT, at=now,
                       detail={"kind": "webhook", **detail})
            else:
                record(session, case_id=delivery.case_id, actor=None, kind=AuditKind.WEBHOOK_RETRY, at=now,
                       detail={**detail, "next_at": (now + backoff(attempts)).isoformat()})
    logger.warning("webhook delivery %s to %s failed (attempt %d%s): %s", delivery.id, delivery.target, attempts,
                   ", giving up" if status == "failed" else "", error)
    return status


def deliver_pending(
    db: Database, *, targets: Mapping[str, str], clock: Clock, limit: int = 100,
) -> WebhookReport:
    """Post up to ``limit`` due deliveries to the URLs ``targets`` names (target name -> URL)."""
    counts = {"delivered": 0, "pending": 0, "failed": 0, "skipped": 0}
    for delivery in _claim(db, now=clock.now(), limit=limit):
        url = targets.get(delivery.target)
        if not url:
            _finish(db, delivery, status="skipped", now=clock.now(),
                    error=f"no URL is configured for webhook target {delivery.target!r}")
            counts["skipped"] += 1
            continue
        try:
            _post(url, delivery)
        except (OSError, ValueError) as error:  # refused, timed out, an HTTP error status, a malformed URL
            outcome = _failed_attempt(db, delivery, error=_describe(error), now=clock.now())
            if outcome is not None:
                counts[outcome] += 1
            continue
        _finish(db, delivery, status="delivered", now=clock.now())
        counts["delivered"] += 1
    return WebhookReport(delivered=counts["delivered"], retried=counts["pending"], failed=counts["failed"],
                         skipped=counts["skipped"])
