"""Delivering the outbox over SMTP: claim due messages, send them outside any transaction, mark them.

Claims take one short write transaction (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite's write lock
serialises claimers); a failed delivery backs off and finally fails with an audit event on the case.
Delivery is at least once, with a stable Message-ID. Without an SMTP URL, mail goes to the log.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import smtplib
import ssl
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from types import TracebackType
from typing import Any, Self, cast
from urllib.parse import unquote, urlsplit

from sqlalchemy import CursorResult, and_, or_, select, update

from processes.clock import Clock
from processes.notify.outbox import MailStatus
from processes.store.audit import AuditKind, record
from processes.store.db import Database
from processes.store.models import Notification

logger = logging.getLogger("amflow.mail")

LEASE = dt.timedelta(minutes=5)
SMTP_TIMEOUT_SECONDS = 30.0
ERROR_MAX_LENGTH = 1000


@dataclass(frozen=True)
class SendReport:
    """What one ``send_pending`` call did: delivered over SMTP, written to the log, to retry, given up."""

    sent: int
    logged: int
    retried: int
    failed: int


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to deliver, from ``AMFLOW_SMTP_URL``: ``smtp://[user:password@]host[:port]``
    (plain, port 25), ``smtp+starttls://...`` (port 587) or ``smtps://...`` (TLS from the start, port 465)."""

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    implicit_tls: bool = False
    timeout: float = SMTP_TIMEOUT_SECONDS

    @classmethod
    def from_url(cls, url: str) -> SmtpSettings:
        parts = urlsplit(url)
        ports = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
        if parts.scheme not in ports or not parts.hostname:
            raise ValueError("the SMTP URL must look like smtp://host:port, smtp+starttls://... or smtps://...")
        return cls(
            host=parts.hostname, port=parts.port or ports[parts.scheme],
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            starttls=parts.scheme == "smtp+starttls", implicit_tls=parts.scheme == "smtps",
        )


@dataclass(frozen=True)
class _Outgoing:
    """A claimed row, detached from its session; ``lease_until`` proves the claim is still ours."""

    id: int
    case_id: str | None
    template: str
    to_address: str | None
    language: str
    subject: str
    body: str
    message_id: str | None
    created_at: dt.datetime
    attempts: int
    lease_until: dt.datetime


def _claim(db: Database, *, now: dt.datetime, limit: int) -> list[_Outgoing]:
    """Lease the due rows (and those of a sender that died mid-send) to this sender, in one transaction."""
    due = or_(
        and_(Notification.status == MailStatus.PENDING.value, Notification.next_attempt_at <= now),
        and_(Notification.status == MailStatus.SENDING.value, Notification.lease_until < now),
    )
    query = select(Notification).where(due).order_by(Notification.id).limit(limit)
    if not db.is_sqlite:  # SQLite: BEGIN IMMEDIATE already serialises claimers
        query = query.with_for_update(skip_locked=True)
    lease_until = now + LEASE
    with db.write() as session:
        rows = session.scalars(query).all()
        for row in rows:
            row.status = MailStatus.SENDING.value
            row.lease_until = lease_until
        return [
            _Outgoing(
                id=row.id, case_id=row.case_id, template=row.template, to_address=row.to_address,
                language=row.language, subject=row.subject, body=row.body, message_id=row.message_id,
                created_at=row.created_at, attempts=row.attempts, lease_until=lease_until,
            )
            for row in rows
        ]


def _mark_delivered(db: Database, message: _Outgoing, *, status: MailStatus, at: dt.datetime) -> None:
    """Delivered is the truth even if our lease ran out meanwhile; a row already delivered keeps its time."""
    with db.write() as session:
        session.execute(
            update(Notification)
            .where(Notification.id == message.id,
                   Notification.status.not_in((MailStatus.SENT.value, MailStatus.LOGGED.value)))
            .values(status=status.value, sent_at=at, lease_until=None)
        )


def _mark_undelivered(
    db: Database, message: _Outgoing, *, error: str, now: dt.datetime, max_attempts: int,
) -> MailStatus | None:
    """Back off (2, 4, 8, ... minutes) or give up after ``max_attempts``; None if the row is no longer ours."""
    attempts = message.attempts + 1
    status = MailStatus.FAILED if attempts >= max_attempts else MailStatus.PENDING
    with db.write() as session:
        result = cast("CursorResult[Any]", session.execute(
            update(Notification)
            .where(Notification.id == message.id, Notification.status == MailStatus.SENDING.value,
                   Notification.lease_until == message.lease_until)
            .values(status=status.value, attempts=attempts, last_error=error[:ERROR_MAX_LENGTH], lease_until=None,
                    next_attempt_at=now + dt.timedelta(minutes=2 ** attempts))
        ))
        if result.rowcount != 1:
            return None
        if status is MailStatus.FAILED:
            record(session, case_id=message.case_id, actor=None, kind=AuditKind.NOTIFICATION_FAILED, at=now, detail={
                "notification": message.id, "template": message.template, "to": message.to_address,
                "attempts": attempts, "error": error[:ERROR_MAX_LENGTH],
            })
    if status is MailStatus.FAILED:
        logger.error("mail %s to %s failed for good after %d attempts: %s",
                     message.id, message.to_address, attempts, error)
    else:
        logger.warning("mail %s to %s failed (attempt %d), next attempt in %d minutes: %s",
                       message.id, message.to_address, attempts, 2 ** attempts, error)
    return status


def _email(message: _Outgoing, *, sender: str) -> EmailMessage:
    if not message.to_address:
        raise ValueError("no recipient address")
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = sender
    mail["To"] = message.to_address
    mail["Date"] = email.utils.format_datetime(message.created_at)
    mail["Message-ID"] = message.message_id or email.utils.make_msgid(domain="amflow.local")
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies to the robot
    mail.set_content(message.body, charset="utf-8")
    mail["Content-Language"] = message.language  # after set_content, which clears the Content-* headers
    return mail


def _describe(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        reply = error.smtp_error.decode(errors="replace") if isinstance(error.smtp_error, bytes) else error.smtp_error
        return f"{error.smtp_code} {reply}"
    if isinstance(error, SmtpUnavailable):
        return str(error)
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{to}: {code} {reply.decode(errors='replace')}"
                         for to, (code, reply) in error.recipients.items())
    return f"{type(error).__name__}: {error}"


class SmtpUnavailable(OSError):
    """The server could not be reached for this batch (the rest of the batch is not tried again)."""


class _SmtpConnection:
    """One SMTP connection for a batch: opened on first use, reopened after the server hung up."""

    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings
        self._smtp: smtplib.SMTP | None = None
        self._unavailable: str | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def send(self, mail: EmailMessage) -> None:
        smtp = self._connection()
        try:
            smtp.send_message(mail)
        except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused):
            if smtp.sock is None:  # smtplib hangs up itself on a 421 ("service not available")
                self._smtp = None
            raise  # otherwise the server answered and the connection is still good for the next message
        except OSError:  # smtplib.SMTPException is an OSError too: the connection is in doubt
            self.close()
            raise

    def _connection(self) -> smtplib.SMTP:
        if self._unavailable is not None:
            raise SmtpUnavailable(self._unavailable)
        if self._smtp is None:
            try:
                self._smtp = _connect(self._settings)
            except OSError as error:
                self._unavailable = f"cannot reach {self._settings.host}:{self._settings.port}: {_describe(error)}"
                raise SmtpUnavailable(self._unavailable) from error
        return self._smtp

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except OSError:
            smtp.close()


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    smtp: smtplib.SMTP
    if settings.implicit_tls:
        smtp = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout,
                                context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    try:
        if settings.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.username:
            smtp.login(settings.username, settings.password or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def _log(message: _Outgoing) -> None:
    logger.info("mail to %s: %s\n\n%s", message.to_address, message.subject, message.body)


def _deliver(
    db: Database, batch: Sequence[_Outgoing], *, settings: SmtpSettings, clock: Clock, sender: str,
    max_attempts: int,
) -> Counter[MailStatus | None]:
    outcomes: Counter[MailStatus | None] = Counter()
    with _SmtpConnection(settings) as connection:
        for message in batch:
            try:
                connection.send(_email(message, sender=sender))
            except (OSError, ValueError) as error:  # SMTP and socket errors; a malformed address
                outcomes[_mark_undelivered(db, message, error=_describe(error), now=clock.now(),
                                           max_attempts=max_attempts)] += 1
            else:
                _mark_delivered(db, message, status=MailStatus.SENT, at=clock.now())
                outcomes[MailStatus.SENT] += 1
    return outcomes


def send_pending(
    db: Database, *, smtp_url: str | None, clock: Clock, limit: int = 100, sender: str = "amflow@localhost",
    max_attempts: int = 5,
) -> SendReport:
    """Deliver up to ``limit`` due messages: over SMTP, or to the ``amflow.mail`` log without ``smtp_url``.

    Safe to run in several processes at once: each row is leased to one sender. Time comes only from
    ``clock`` (a failed message is due again ``2 ** attempts`` minutes later).
    """
    settings = SmtpSettings.from_url(smtp_url) if smtp_url else None  # a bad URL fails before claiming
    batch = _claim(db, now=clock.now(), limit=limit)
    outcomes: Counter[MailStatus | None] = Counter()
    if settings is None:
        for message in batch:
            _log(message)
            _mark_delivered(db, message, status=MailStatus.LOGGED, at=clock.now())
            outcomes[MailStatus.LOGGED] += 1
    elif batch:
        outcomes = _deliver(db, batch, settings=settings, clock=clock, sender=sender, max_attempts=max_attempts)
    return SendReport(
        sent=outcomes[MailStatus.SENT], logged=outcomes[MailStatus.LOGGED],
        retried=outcomes[MailStatus.PENDING], failed=outcomes[MailStatus.FAILED],
    )
