"""The e-mail outbox (*udbakke*): messages written with the step that causes them, delivered later over SMTP.

``queue`` runs inside the caller's write transaction: it resolves the recipients, renders subject and body
in each recipient's language and adds one ``pending`` row per recipient, so a step that rolls back sends
nothing and a step that commits cannot lose its messages. ``send_pending`` delivers the due rows: it
claims them in one short transaction (status ``sending`` with a lease), talks SMTP outside any transaction,
and marks each row in its own short transaction, so no database lock is held while a mail server is slow.
A sender that dies mid-batch leaves leased rows that another sender re-claims when the lease has run out.
Delivery is at least once; the stored ``Message-ID`` stays the same on a resend.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import enum
import functools
import json
import logging
import re
import smtplib
import ssl
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from importlib import resources
from importlib.resources.abc import Traversable
from types import TracebackType
from typing import Any, Self, cast
from urllib.parse import unquote, urlsplit

from jinja2 import StrictUndefined, Template
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import CursorResult, and_, or_, select, update
from sqlalchemy.orm import Session

from processes.audit import record
from processes.catalogue import UNITS
from processes.clock import LOCAL_ZONE, Clock
from processes.db import Database
from processes.models import Group, Notification, Unit, User

logger = logging.getLogger("amflow.mail")

LANGUAGES = ("da", "en")
DEFAULT_LANGUAGE = "da"
LEASE = dt.timedelta(minutes=5)
SMTP_TIMEOUT_SECONDS = 30.0
SUBJECT_MAX_LENGTH = 300  # the column's size
ERROR_MAX_LENGTH = 1000
_TEMPLATE_NAME = re.compile(r"[a-z][a-z0-9_]*")


class MailStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    LOGGED = "logged"  # no SMTP server configured: written to the log, which counts as delivered
    FAILED = "failed"


# --- Templates -------------------------------------------------------------------------------------------

def _local_time(value: Any) -> str:
    """A moment as Copenhagen wall-clock time, e.g. ``2026-11-23 14:00``; anything else unchanged."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(LOCAL_ZONE).strftime("%Y-%m-%d %H:%M")
    return str(value)


def _environment() -> SandboxedEnvironment:
    environment = SandboxedEnvironment(
        autoescape=False,  # plain-text e-mail, never HTML
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False,
    )
    environment.filters["local_time"] = _local_time
    return environment


_ENVIRONMENT = _environment()


@dataclass(frozen=True)
class _CompiledTemplate:
    language: str  # the language of the file actually used (English falls back to Danish)
    subject: Template
    body: Template


def _template_folder() -> Traversable:
    return resources.files("processes") / "mail"


def template_names() -> list[str]:
    """The templates shipped in ``processes/mail`` (each as ``NAME.da.txt``, usually also ``NAME.en.txt``)."""
    return sorted({entry.name.split(".")[0] for entry in _template_folder().iterdir() if entry.name.endswith(".txt")})


@functools.lru_cache(maxsize=256)
def _compiled(template: str, language: str) -> _CompiledTemplate:
    if not _TEMPLATE_NAME.fullmatch(template):
        raise ValueError(f"invalid e-mail template name {template!r}")
    folder = _template_folder()
    for candidate in dict.fromkeys((language, DEFAULT_LANGUAGE)):
        source = folder / f"{template}.{candidate}.txt"
        if source.is_file():
            return _parse(source.read_text(encoding="utf-8"), f"{template}.{candidate}.txt", candidate)
    raise ValueError(f"unknown e-mail template {template!r}: no processes/mail/{template}.{DEFAULT_LANGUAGE}.txt")


def _parse(text: str, filename: str, language: str) -> _CompiledTemplate:
    """``Subject: ...`` on the first line, a blank line, then the body."""
    first, _, rest = text.partition("\n")
    blank, _, body = rest.partition("\n")
    if not first.startswith("Subject:") or blank.strip():
        raise ValueError(f"e-mail template {filename}: the first line must be 'Subject: ...', then a blank line")
    return _CompiledTemplate(
        language=language,
        subject=_ENVIRONMENT.from_string(first.removeprefix("Subject:").strip()),
        body=_ENVIRONMENT.from_string(body),
    )


def render(template: str, language: str, context: Mapping[str, Any]) -> tuple[str, str, str]:
    """(language used, subject, body) of a template; raises ValueError for an unknown template."""
    compiled = _compiled(template, language if language in LANGUAGES else DEFAULT_LANGUAGE)
    subject = " ".join(compiled.subject.render(context).split())  # one header line, whatever the data holds
    body = compiled.body.render(context).strip() + "\n"
    return compiled.language, subject[:SUBJECT_MAX_LENGTH], body


# --- Queueing (in the caller's transaction) ---------------------------------------------------------------

@dataclass(frozen=True)
class _Recipient:
    username: str
    name: str
    email: str | None
    language: str


def _recipients(
    session: Session, *, user: str | None, group: str | None, unit: str | None,
) -> list[_Recipient]:
    """The active users addressed, in one query: the named user, and the group's members in the unit
    (every member of a central group, whatever their units)."""
    wanted = []
    if user:
        wanted.append(User.username == user)
    if group:
        central_member = User.groups.any(and_(Group.code == group, Group.central.is_(True)))
        if unit:
            local_member = and_(User.groups.any(Group.code == group), User.units.any(Unit.code == unit))
            wanted.append(or_(central_member, local_member))
        else:
            wanted.append(central_member)
    if not wanted:
        return []
    rows = session.execute(
        select(User.username, User.name, User.email, User.language)
        .where(User.active.is_(True), or_(*wanted)).order_by(User.username)
    )
    return [_Recipient(username, name, email, language) for username, name, email, language in rows]


def _skip(
    session: Session, case_id: str | None, *, template: str, reason: str, now: dt.datetime, **who: Any,
) -> None:
    """A message that cannot be written is never silently lost: audited on the case, and logged."""
    logger.warning("mail %s not queued (case %s, %s): %s", template, case_id, who, reason)
    if case_id is not None:
        record(session, case_id=case_id, actor=None, kind="notification_skipped", at=now,
               detail={**who, "template": template, "reason": reason})


def _summary(context: Mapping[str, Any]) -> dict[str, Any]:
    """What the row keeps of the context: everything but the case data, as JSON."""
    small = {key: value for key, value in context.items() if key != "data"}
    return json.loads(json.dumps(small, default=str))


def queue(
    session: Session, *, case_id: str | None, unit: str | None, template: str,
    recipient_user: str | None = None, recipient_group: str | None = None,
    context: Mapping[str, Any], now: dt.datetime,
) -> int:
    """Write one pending Notification row per recipient, in the caller's transaction; return how many.

    Recipients: ``recipient_user`` (if active), and the active members of ``recipient_group`` who belong
    to ``unit`` (all active members of a central group), each once. A recipient without an e-mail address,
    and an address that reaches nobody, is recorded as a ``notification_skipped`` audit event on the case
    (and logged), never lost silently; an unknown template raises ValueError.

    Subject and body are rendered now, in the recipient's language, from ``context`` plus
    ``recipient_name``, ``recipient_group`` and ``unit_name``; the row keeps ``context`` without ``data``.
    """
    _compiled(template, DEFAULT_LANGUAGE)  # an unknown template fails even when nobody is addressed
    recipients = _recipients(session, user=recipient_user, group=recipient_group, unit=unit)
    if recipient_user and recipient_user not in {r.username for r in recipients}:
        _skip(session, case_id, template=template, reason="unknown or inactive user", now=now,
              user=recipient_user)
    if recipient_group and not recipients:
        _skip(session, case_id, template=template, reason="no active member of the group in the unit", now=now,
              user=None, group=recipient_group, unit=unit)
    if not recipient_user and not recipient_group:
        _skip(session, case_id, template=template, reason="no recipient given", now=now, user=None)
    data = _summary(context)
    written = 0
    for recipient in recipients:
        if not recipient.email:
            _skip(session, case_id, template=template, reason="no e-mail address", now=now,
                  user=recipient.username)
            continue
        language, subject, body = render(template, recipient.language, {
            "data": {}, "unit_name": UNITS.get(unit or "", unit or ""), **context,
            "recipient_name": recipient.name, "recipient_group": recipient_group,
        })
        session.add(Notification(
            case_id=case_id, template=template, recipient_user=recipient.username,
            recipient_group=recipient_group, unit=unit, to_address=recipient.email, language=language,
            subject=subject, body=body, message_id=f"<amflow-{uuid.uuid4().hex}@amflow.local>", data=data,
            status=MailStatus.PENDING.value, attempts=0, next_attempt_at=now, created_at=now,
        ))
        written += 1
    return written


# --- Sending -----------------------------------------------------------------------------------------------

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
            record(session, case_id=message.case_id, actor=None, kind="notification_failed", at=now, detail={
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
