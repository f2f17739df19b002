"""The e-mail outbox (*udbakke*): messages written with the step that causes them, delivered later over SMTP.

``queue`` runs inside the caller's write transaction: it resolves the recipients, renders subject and body
in each recipient's language and adds one ``pending`` row per recipient, so a step that rolls back sends
nothing and a step that commits cannot lose its messages. ``mailer.send_pending`` delivers the due rows: it
claims them in one short transaction (status ``sending`` with a lease), talks SMTP outside any transaction,
and marks each row in its own short transaction, so no database lock is held while a mail server is slow.
A sender that dies mid-batch leaves leased rows that another sender re-claims when the lease has run out.
Delivery is at least once; the stored ``Message-ID`` stays the same on a resend.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import json
import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

from jinja2 import StrictUndefined, Template
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import ColumnElement, Select, and_, bindparam, func, or_, select
from sqlalchemy.orm import Session

from processes.clock import LOCAL_ZONE
from processes.people.organisation import UNITS
from processes.store.audit import AuditKind, record
from processes.store.models import Group, Notification, Unit, User

logger = logging.getLogger("amflow.mail")

LANGUAGES = ("da", "en")
DEFAULT_LANGUAGE = "da"
SUBJECT_MAX_LENGTH = 300  # the column's size
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
    return resources.files("processes.notify") / "mail"


def template_names() -> list[str]:
    """The templates shipped in ``processes/notify/mail`` (each as ``NAME.da.txt``, usually also ``NAME.en.txt``)."""
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
    raise ValueError(f"unknown e-mail template {template!r}: no notify/mail/{template}.{DEFAULT_LANGUAGE}.txt")


def template_folder() -> Traversable:
    """The folder of the shipped templates (what a process bundle takes its versions from)."""
    return _template_folder()


@functools.lru_cache(maxsize=256)
def _parsed(text: str, filename: str, language: str) -> _CompiledTemplate:
    return _parse(text, filename, language)


def _template(template: str, language: str, texts: Mapping[str, str] | None) -> _CompiledTemplate:
    """The template from ``texts`` ("NAME.LANG" -> file text, e.g. a process bundle's) if it has it, else
    the shipped file; English falls back to Danish either way."""
    if texts is not None:
        for candidate in dict.fromkeys((language, DEFAULT_LANGUAGE)):
            text = texts.get(f"{template}.{candidate}")
            if text is not None:
                return _parsed(text, f"{template}.{candidate}.txt", candidate)
    return _compiled(template, language)


def check_template_text(text: str, filename: str) -> None:
    """Raise ValueError if a template's text is not 'Subject: ...', a blank line and a body Jinja accepts."""
    _parse(text, filename, DEFAULT_LANGUAGE)


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


def render(
    template: str, language: str, context: Mapping[str, Any], texts: Mapping[str, str] | None = None,
) -> tuple[str, str, str]:
    """(language used, subject, body) of a template; raises ValueError for an unknown template.

    ``texts`` ("NAME.LANG" -> file text) are the versions a process bundle keeps; others are read from the files.
    """
    compiled = _template(template, language if language in LANGUAGES else DEFAULT_LANGUAGE, texts)
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


_ADDRESS = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+")


def is_address(value: str | None) -> bool:
    """Whether a recipient is written as an e-mail address (``name@host.tld``) rather than a username."""
    return bool(value) and _ADDRESS.fullmatch(str(value)) is not None


def _recipients(
    session: Session, *, user: str | None, group: str | None, unit: str | None, address: str | None = None,
) -> list[_Recipient]:
    """The active users addressed, in one query: the named user, the user whose e-mail address is
    ``address``, and the group's members in the unit (every member of a central group, whatever their units)."""
    if not (user or address or group):
        return []
    query = _recipients_query(bool(user), bool(address), bool(group), bool(group and unit))
    params = {"user": user, "address": (address or "").lower(), "group": group, "unit": unit}
    if any(isinstance(changed, User | Group | Unit) for changed in (*session.new, *session.dirty)):
        rows = session.execute(query, params).all()
    else:  # the step's own rows (a new task) need not be written before people are read: no flush
        with session.no_autoflush:
            rows = session.execute(query, params).all()
    return [_Recipient(username, name, email, language) for username, name, email, language in rows]


@functools.cache
def _recipients_query(user: bool, address: bool, group: bool, unit: bool) -> Select[str, str, str | None, str]:
    """The recipients' query for the parts that are asked, built once per shape (its values are parameters)."""
    wanted: list[ColumnElement[bool]] = []
    if user:
        wanted.append(User.username == bindparam("user"))
    if address:
        wanted.append(func.lower(User.email) == bindparam("address"))
    if group:
        central_member = User.groups.any(and_(Group.code == bindparam("group"), Group.central.is_(True)))
        if unit:
            local_member = and_(User.groups.any(Group.code == bindparam("group")),
                                User.units.any(Unit.code == bindparam("unit")))
            wanted.append(or_(central_member, local_member))
        else:
            wanted.append(central_member)
    return (select(User.username, User.name, User.email, User.language)
            .where(User.active.is_(True), or_(*wanted)).order_by(User.username))


def _skip(
    session: Session, case_id: str | None, *, template: str, reason: str, now: dt.datetime, **who: Any,
) -> None:
    """A message that cannot be written is never silently lost: audited on the case, and logged."""
    logger.warning("mail %s not queued (case %s, %s): %s", template, case_id, who, reason)
    if case_id is not None:
        record(session, case_id=case_id, actor=None, kind=AuditKind.NOTIFICATION_SKIPPED, at=now,
               detail={**who, "template": template, "reason": reason})


def _summary(context: Mapping[str, Any]) -> dict[str, Any]:
    """What the row keeps of the context: everything but the case data, as JSON."""
    small = {key: value for key, value in context.items() if key != "data"}
    return json.loads(json.dumps(small, default=str))


def queue(
    session: Session, *, case_id: str | None, unit: str | None, template: str,
    recipient_user: str | None = None, recipient_group: str | None = None, recipient_address: str | None = None,
    context: Mapping[str, Any], now: dt.datetime, texts: Mapping[str, str] | None = None,
) -> int:
    """Write one pending Notification row per recipient, in the caller's transaction; return how many.

    Recipients: ``recipient_user`` (if active), and the active members of ``recipient_group`` who belong
    to ``unit`` (all active members of a central group), each once. A recipient without an e-mail address,
    and an address that reaches nobody, is recorded as a ``notification_skipped`` audit event on the case
    (and logged), never lost silently; an unknown template raises ValueError.

    Subject and body are rendered now, in the recipient's language, from ``context`` plus
    ``recipient_name``, ``recipient_group`` and ``unit_name``; the row keeps ``context`` without ``data``.
    ``texts`` are the template versions of the case's process bundle (see ``render``).

    ``recipient_address`` is an e-mail address (a buddy, DTU Security): the active user with that address
    if there is one (their name and language), else the address itself, in Danish.
    """
    _template(template, DEFAULT_LANGUAGE, texts)  # an unknown template fails even when nobody is addressed
    if recipient_address is not None and not is_address(recipient_address):
        _skip(session, case_id, template=template, reason="not an e-mail address", now=now,
              user=None, address=str(recipient_address)[:320])
        recipient_address = None
    recipients = _recipients(session, user=recipient_user, group=recipient_group, unit=unit,
                             address=recipient_address)
    if recipient_address and not any((r.email or "").lower() == recipient_address.lower() for r in recipients):
        recipients.append(_Recipient(username="", name=recipient_address, email=recipient_address,
                                     language=DEFAULT_LANGUAGE))
    if recipient_user and recipient_user not in {r.username for r in recipients}:
        _skip(session, case_id, template=template, reason="unknown or inactive user", now=now,
              user=recipient_user)
    if recipient_group and not recipients:
        _skip(session, case_id, template=template, reason="no active member of the group in the unit", now=now,
              user=None, group=recipient_group, unit=unit)
    if not recipient_user and not recipient_group and not recipient_address:
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
        }, texts)
        session.add(Notification(
            case_id=case_id, template=template, recipient_user=recipient.username or None,
            recipient_group=recipient_group, unit=unit, to_address=recipient.email, language=language,
            subject=subject, body=body, message_id=f"<amflow-{uuid.uuid4().hex}@amflow.local>", data=data,
            status=MailStatus.PENDING.value, attempts=0, next_attempt_at=now, created_at=now,
        ))
        written += 1
    return written


def queue_to_address(
    session: Session, *, case_id: str | None, unit: str | None, template: str, address: str, name: str,
    language: str, context: Mapping[str, Any], now: dt.datetime, texts: Mapping[str, str] | None = None,
) -> int:
    """Write one pending message to an e-mail address that need not belong to a user (a contractor's site
    lead), rendered in ``language``; return 1, or 0 (audited) for an address that is not one."""
    address = (address or "").strip()
    if "@" not in address or len(address) > 320 or any(char.isspace() for char in address):
        _skip(session, case_id, template=template, reason="not an e-mail address", now=now, user=None,
              address=address[:320])
        return 0
    used, subject, body = render(template, language if language in LANGUAGES else DEFAULT_LANGUAGE, {
        "data": {}, "unit_name": UNITS.get(unit or "", unit or ""), **context,
        "recipient_name": name or address, "recipient_group": None,
    }, texts)
    session.add(Notification(
        case_id=case_id, template=template, recipient_user=None, recipient_group=None, unit=unit,
        to_address=address, language=used, subject=subject, body=body,
        message_id=f"<amflow-{uuid.uuid4().hex}@amflow.local>", data=_summary(context),
        status=MailStatus.PENDING.value, attempts=0, next_attempt_at=now, created_at=now,
    ))
    return 1
