"""The timer worker: wakes the cases whose BPMN timers are due, then delivers the outbox; then it erases what is
past its retention (closed cases' personal data, old notifications: ``notify/retention.py``).

A pass claims due rows from the wake-up table (``case_timers``), never by scanning open cases, and
handles each in ONE transaction that also consumes the row: if the worker dies mid-way the transaction
rolls back and the timer is still due, and two workers never fire the same timer (SQLite: the
``BEGIN IMMEDIATE`` write lock; PostgreSQL: ``FOR UPDATE SKIP LOCKED``). A timer whose handling fails is
retried with back-off and, after ``MAX_ATTEMPTS``, becomes an incident on the case instead of blocking
the worker.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from processes.advance import advance_case, timers_due
from processes.clock import Clock
from processes.engine import runtime
from processes.errors import Conflict
from processes.notify.mailer import SendReport, send_pending
from processes.notify.retention import PurgePass, purge_expired
from processes.notify.webhooks import WebhookReport, deliver_pending
from processes.retention import ErasurePass, erase_expired
from processes.starts import StartPass, fire_due_starts
from processes.store.audit import AuditKind, record
from processes.store.db import Database, unit_of_work
from processes.store.models import Case, CaseTimer, Incident, WorkerHeartbeat, utcnow

logger = logging.getLogger("amflow.worker")

MAX_ATTEMPTS = 5
MAX_TIMERS_PER_PASS = 1_000


@dataclass(frozen=True)
class TimerPass:
    """What one pass over the due timers did."""

    fired: int = 0
    retried: int = 0
    incidents: int = 0


def backoff(attempts: int) -> dt.timedelta:
    """1, 2, 4, 8 ... minutes, capped at an hour."""
    return dt.timedelta(minutes=min(60, 2 ** max(0, attempts - 1)))


def _claim_due(session: Session, db: Database, now: dt.datetime) -> CaseTimer | None:
    query = (
        select(CaseTimer)
        .where(CaseTimer.status == "scheduled", CaseTimer.due_at <= now)  # due at its instant (engine/timers.py)
        .order_by(CaseTimer.due_at)
        .limit(1)
    )
    if not db.is_sqlite:
        query = query.with_for_update(skip_locked=True)
    return session.scalar(query)


def _fire_one(db: Database, clock: Clock) -> str | None:
    """Fire the timers of the case that is due first; return its id, or None when nothing is due."""
    now = runtime.now_utc(clock)
    with unit_of_work(db) as session:
        timer = _claim_due(session, db, now)
        if timer is None:
            return None
        case_id = timer.case_id
        case = session.get(Case, case_id)
        assert case is not None  # the foreign key cascades
        try:
            advance_case(session, case, timers_due(session, case, timer.due_at, now), clock=clock)
            session.flush()
        except Exception as exc:  # any failure: roll back, then back off in a new transaction
            raise _TimerFailed(case_id, exc) from exc
    return case_id


class _TimerFailed(Exception):
    def __init__(self, case_id: str, error: BaseException) -> None:
        super().__init__(f"case {case_id}: {error}")
        self.case_id = case_id
        self.error = error


def _record_failure(db: Database, case_id: str, error: BaseException, clock: Clock) -> bool:
    """Back off a failing timer; after MAX_ATTEMPTS make it an incident. True if it became one."""
    now = runtime.now_utc(clock)
    message = getattr(error, "message", None) or f"{type(error).__name__}: {error}"
    with unit_of_work(db) as session:
        timer = session.get(CaseTimer, case_id)
        if timer is None:
            return False
        timer.attempts += 1
        timer.last_error = message
        if timer.attempts < MAX_ATTEMPTS:
            timer.due_at = now + backoff(timer.attempts)
            record(session, case_id=case_id, actor=None, kind=AuditKind.TIMER_RETRY, at=now,
                   detail={"attempt": timer.attempts, "error": message, "next_at": timer.due_at.isoformat()})
            return False
        timer.status = "incident"
        session.add(Incident(case_id=case_id, kind="timer", message=message, at=now))
        record(session, case_id=case_id, actor=None, kind=AuditKind.INCIDENT, at=now,
               detail={"kind": "timer", "attempts": timer.attempts, "error": message})
        return True


def fire_due_timers(db: Database, *, clock: Clock, limit: int = MAX_TIMERS_PER_PASS) -> TimerPass:
    """Fire every timer due at ``clock.now()`` (at most ``limit`` cases), each in its own transaction."""
    fired = retried = incidents = 0
    for _ in range(limit):
        try:
            case_id = _fire_one(db, clock)
        except Conflict:
            continue  # the case changed under us (a user completed a task): it is rescheduled, try again
        except _TimerFailed as failure:
            logger.warning("timer of case %s failed: %s", failure.case_id, failure.error)
            if _record_failure(db, failure.case_id, failure.error, clock):
                incidents += 1
            else:
                retried += 1
            continue
        if case_id is None:
            break
        fired += 1
    return TimerPass(fired=fired, retried=retried, incidents=incidents)


@dataclass(frozen=True)
class WorkerPass:
    """One pass of the worker: cases started by time, timers fired, the outbox delivered, then the personal
    data of closed cases past their retention period erased and old notifications deleted."""

    timers: TimerPass
    mail: SendReport
    starts: StartPass = field(default_factory=StartPass)
    erasures: ErasurePass = field(default_factory=ErasurePass)
    webhooks: WebhookReport = field(default_factory=WebhookReport)
    purged: PurgePass = field(default_factory=PurgePass)


MAIL_BATCH = 100
HEARTBEAT_RETENTION = dt.timedelta(days=1)  # rows of workers gone longer than this are deleted


def worker_id() -> str:
    """This process as a worker: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def record_heartbeat(db: Database, worker: str, *, at: dt.datetime) -> None:
    """Note that ``worker`` is alive at ``at`` (wall-clock time), and forget workers long gone."""
    with db.write() as session:
        row = session.get(WorkerHeartbeat, worker)
        if row is None:
            session.add(WorkerHeartbeat(worker_id=worker, last_seen=at))
        else:
            row.last_seen = at
        session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.last_seen < at - HEARTBEAT_RETENTION))


def last_heartbeat(db: Database) -> dt.datetime | None:
    """When a timer worker (any) last started a pass, or None if none ever did (or all are long gone)."""
    with db.read() as session:
        newest = session.scalar(select(func.max(WorkerHeartbeat.last_seen)))
    if isinstance(newest, str):  # SQLite hands an aggregate back as text: the column type is not applied
        newest = dt.datetime.fromisoformat(newest)
    if newest is not None and newest.tzinfo is None:
        newest = newest.replace(tzinfo=dt.UTC)
    return newest


def run_pass(
    db: Database, *, clock: Clock, smtp_url: str | None, mail_from: str = "amflow@localhost",
    webhook_targets: Mapping[str, str] | None = None,
) -> WorkerPass:
    """Fire everything due at ``clock.now()``, then send all the outbox holds (also what this pass queued),
    then erase what is past its retention, post the due webhooks to ``webhook_targets`` (target name -> URL)
    and delete the notifications past ``notifications.retention_days``.

    Each pass first writes this process's heartbeat at the wall-clock time (not ``clock``: a replay of a past
    day with ``--now`` is still a live worker), which the readiness check reads.
    """
    record_heartbeat(db, worker_id(), at=utcnow())
    starts = fire_due_starts(db, clock=clock)
    fired = retried = incidents = 0
    while True:
        timers = fire_due_timers(db, clock=clock)
        fired, retried, incidents = fired + timers.fired, retried + timers.retried, incidents + timers.incidents
        if timers.fired + timers.retried + timers.incidents < MAX_TIMERS_PER_PASS:
            break
    totals = [0, 0, 0, 0]
    while True:
        mail = send_pending(db, smtp_url=smtp_url, clock=clock, sender=mail_from, limit=MAIL_BATCH)
        batch = (mail.sent, mail.logged, mail.retried, mail.failed)
        totals = [total + count for total, count in zip(totals, batch, strict=True)]
        if sum(batch) < MAIL_BATCH:
            break
    erasures = erase_expired(db, clock=clock)
    posted = deliver_pending(db, targets=webhook_targets or {}, clock=clock)
    purged = purge_expired(db, clock=clock)
    return WorkerPass(timers=TimerPass(fired, retried, incidents), mail=SendReport(*totals), starts=starts,
                      erasures=erasures, webhooks=posted, purged=purged)
