"""Old notifications are deleted: the in-app inbox and the e-mail outbox do not grow forever.

The timer worker calls :func:`purge_expired` on every pass. What is older than the parameter
``notifications.retention_days`` (``rules/data/parameters.json``; the value in force today in Copenhagen,
180 days if it is missing or not a whole number of at least 1), counted from the row's ``created_at``, is
deleted:

- an in-app notification (``inbox_items``) that has been opened: it has a read row (``inbox_reads``). A
  personal one is read by its recipient; a group's task is one row its members share, read once one member
  opened it. One nobody opened stays, however old: it may still be news to someone;
- an outbox row that is done (``notifications``: ``sent``, ``logged`` or ``failed``), and if it was
  delivered, delivered before the same limit too (a mail written before an outage and sent after it is kept
  as long as one sent on time). A ``pending`` or ``sending`` row is never deleted: it is still to be delivered.

In batches of ``batch`` rows, each its own short transaction, and at most ``max_batches`` batches of each
kind per pass, so a first pass over years of rows neither holds a lock for long nor delays the timers: what
is left is deleted by the next passes. Two workers may pass at once: a delete of a row already gone deletes
nothing. The cases' history is not touched: it never held the notifications (``notification_sent`` events
stay).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, delete, exists, or_, select

import rules
from processes.clock import Clock, local_date
from processes.store.db import Database
from processes.store.models import InboxItem, InboxRead, Notification

logger = logging.getLogger("amflow.worker")

RETENTION_PARAMETER = "notifications.retention_days"
DEFAULT_RETENTION_DAYS = 180
PURGE_BATCH = 500
MAX_PURGE_BATCHES = 20  # per kind and pass: at most 10,000 rows of each
DONE = ("sent", "logged", "failed")  # outbox.MailStatus: delivered, logged (no SMTP), given up


@dataclass(frozen=True)
class PurgePass:
    """What one pass deleted: read in-app notifications and finished outbox rows."""

    inbox: int = 0
    outbox: int = 0


def retention_days(on: dt.date) -> int:
    """How many days a read notification or a finished mail is kept (the parameter in force ``on``)."""
    try:
        value = rules.parameter(RETENTION_PARAMETER, on)
    except Exception as exc:  # the parameter gone: keep the default, never block the worker
        logger.warning("no %s on %s (%s): %d days", RETENTION_PARAMETER, on, exc, DEFAULT_RETENTION_DAYS)
        return DEFAULT_RETENTION_DAYS
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        logger.warning("%s is %r, not a whole number of days of at least 1: %d days", RETENTION_PARAMETER, value,
                       DEFAULT_RETENTION_DAYS)
        return DEFAULT_RETENTION_DAYS
    return value


def _read_inbox_items(cutoff: dt.datetime, batch: int) -> Select[Any]:
    return (select(InboxItem.id)
            .where(InboxItem.created_at < cutoff, exists().where(InboxRead.item_id == InboxItem.id))
            .order_by(InboxItem.created_at, InboxItem.id).limit(batch))


def _finished_mails(cutoff: dt.datetime, batch: int) -> Select[Any]:
    return (select(Notification.id)
            .where(Notification.created_at < cutoff, Notification.status.in_(DONE),
                   or_(Notification.sent_at.is_(None), Notification.sent_at < cutoff))
            .order_by(Notification.created_at, Notification.id).limit(batch))


def _purge_inbox(db: Database, cutoff: dt.datetime, batch: int) -> int:
    with db.write() as session:
        ids = list(session.scalars(_read_inbox_items(cutoff, batch)))
        if not ids:
            return 0
        session.execute(delete(InboxRead).where(InboxRead.item_id.in_(ids)))
        return _count(session.execute(delete(InboxItem).where(InboxItem.id.in_(ids))))


def _purge_outbox(db: Database, cutoff: dt.datetime, batch: int) -> int:
    with db.write() as session:
        ids = list(session.scalars(_finished_mails(cutoff, batch)))
        if not ids:
            return 0
        # the status again: a finished row never becomes pending, but a delete never takes one that is
        return _count(session.execute(delete(Notification).where(Notification.id.in_(ids),
                                                                Notification.status.in_(DONE))))


def _count(result: Any) -> int:
    """The rows a DELETE removed (fewer than selected if another worker deleted some first)."""
    return max(0, int(getattr(result, "rowcount", 0) or 0))


def purge_expired(
    db: Database, *, clock: Clock, days: int | None = None, batch: int = PURGE_BATCH,
    max_batches: int = MAX_PURGE_BATCHES,
) -> PurgePass:
    """Delete the read in-app notifications and the finished outbox rows created more than ``days`` (default:
    the parameter) before ``clock.now()``, ``batch`` rows a transaction, at most ``max_batches`` of each kind."""
    if batch < 1 or max_batches < 1:
        raise ValueError("batch and max_batches are at least 1")
    now = clock.now()
    cutoff = now - dt.timedelta(days=days if days is not None else retention_days(local_date(now)))
    counts = []
    for purge in (_purge_inbox, _purge_outbox):
        total = 0
        for _ in range(max_batches):
            deleted = purge(db, cutoff, batch)
            total += deleted
            if deleted < batch:
                break
        counts.append(total)
    if any(counts):
        logger.info("notifications older than %s deleted: %d read in-app, %d finished mails", cutoff.isoformat(),
                    *counts)
    return PurgePass(inbox=counts[0], outbox=counts[1])
