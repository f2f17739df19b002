"""The e-mail outbox (*udbakke*): messages written with the step that causes them, delivered later over SMTP.

``queue`` runs inside the caller's write transaction: it resolves the recipients, renders subject and body
in each recipient's language and adds one ``pending`` row per recipient, so a step that rolls back sends
nothing and a step that commits cannot lose its messages. ``mailer.send_pending`` delivers the due rows: it
claims them in one short transaction (status ``sending`` with a lease), talks SMTP outside any transaction,
and marks each row in its own short transaction, so no database lock is held while a mail server is slow.
A sender that dies mid-batch leaves leased rows that another sender re-claims when the lease has run out.
Delivery is at least once; the stored ``Message-ID`` stays the same on a resend.

**Restricted cases** (process property ``sensitivity`` = ``restricted``, the case row's ``restricted``):
their mails carry no details, only a link (issue #14). Whatever a template says, it is rendered with the
``RESTRICTED_KEYS`` of the context alone (the task's title and id, the process, the unit, the case id and
link, the due time, the recipient), never the case data or the case title, and anything else it names
renders as nothing; the row keeps only those keys too. So no process's template can leak the case.
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

from jinja2 import ChainableUndefined, StrictUndefined, Template
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import ColumnElement, Select, and_, bindparam, func, or_, select, true
from sqlalchemy.orm import Session

from processes.clock import LOCAL_ZONE
from processes.notify import inapp
from processes.people.organisation import UNITS
from processes.store.audit import AuditKind, record
from processes.store.models import Case, Group, Notification, NotificationSetting, Unit, User

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


def _environment(undefined: type[StrictUndefined] | type[ChainableUndefined]) -> SandboxedEnvironment:
    environment = SandboxedEnvironment(
        autoescape=False,  # plain-text e-mail, never HTML
        undefined=undefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False,
    )
    environment.filters["local_time"] = _local_time
    return environment


_ENVIRONMENT = _environment(StrictUndefined)
# A restricted case's mail: what the context does not hold (the case data, its title) renders as nothing,
# however deep the template reaches into it (``data.person.name``), instead of failing the step.
_RESTRICTED_ENVIRONMENT = _environment(ChainableUndefined)

RESTRICTED_KEYS = frozenset({
    "case_id", "case_url", "process", "process_name", "unit", "task_title", "task_id", "due_at", "link_url",
    "link_expires_at",
})


def restricted_context(context: Mapping[str, Any]) -> dict[str, Any]:
    """What a restricted case's mail may show of ``context``: the ``RESTRICTED_KEYS``, nothing of the case."""
    return {key: value for key, value in context.items() if key in RESTRICTED_KEYS}


def _is_restricted(session: Session, case_id: str | None) -> bool:
    """Whether the case is restricted (the row the step has in hand, so usually no query)."""
    case = session.get(Case, case_id) if case_id is not None else None
    return bool(case is not None and case.restricted)


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
def _compiled(template: str, language: str, restricted: bool = False) -> _CompiledTemplate:
    if not _TEMPLATE_NAME.fullmatch(template):
        raise ValueError(f"invalid e-mail template name {template!r}")
    folder = _template_folder()
    for candidate in dict.fromkeys((language, DEFAULT_LANGUAGE)):
        source = folder / f"{template}.{candidate}.txt"
        if source.is_file():
            return _parse(source.read_text(encoding="utf-8"), f"{template}.{candidate}.txt", candidate, restricted)
    raise ValueError(f"unknown e-mail template {template!r}: no notify/mail/{template}.{DEFAULT_LANGUAGE}.txt")


def template_folder() -> Traversable:
    """The folder of the shipped templates (what a process bundle takes its versions from)."""
    return _template_folder()


@functools.lru_cache(maxsize=256)
def _parsed(text: str, filename: str, language: str, restricted: bool = False) -> _CompiledTemplate:
    return _parse(text, filename, language, restricted)


def _template(
    template: str, language: str, texts: Mapping[str, str] | None, restricted: bool = False,
) -> _CompiledTemplate:
    """The template from ``texts`` ("NAME.LANG" -> file text, e.g. a process bundle's) if it has it, else
    the shipped file; English falls back to Danish either way."""
    if texts is not None:
        for candidate in dict.fromkeys((language, DEFAULT_LANGUAGE)):
            text = texts.get(f"{template}.{candidate}")
            if text is not None:
                return _parsed(text, f"{template}.{candidate}.txt", candidate, restricted)
    return _compiled(template, language, restricted)


def check_template_text(text: str, filename: str) -> None:
    """Raise ValueError if a template's text is not 'Subject: ...', a blank line and a body Jinja accepts."""
    _parse(text, filename, DEFAULT_LANGUAGE)


def _parse(text: str, filename: str, language: str, restricted: bool = False) -> _CompiledTemplate:
    """``Subject: ...`` on the first line, a blank line, then the body."""
    environment = _RESTRICTED_ENVIRONMENT if restricted else _ENVIRONMENT
    first, _, rest = text.partition("\n")
    blank, _, body = rest.partition("\n")
    if not first.startswith("Subject:") or blank.strip():
        raise ValueError(f"e-mail template {filename}: the first line must be 'Subject: ...', then a blank line")
    return _CompiledTemplate(
        language=language,
        subject=environment.from_string(first.removeprefix("Subject:").strip()),
        body=environment.from_string(body),
    )


def render(
    template: str, language: str, context: Mapping[str, Any], texts: Mapping[str, str] | None = None,
    *, restricted: bool = False,
) -> tuple[str, str, str]:
    """(language used, subject, body) of a template; raises ValueError for an unknown template.

    ``texts`` ("NAME.LANG" -> file text) are the versions a process bundle keeps; others are read from the files.
    ``restricted``: a restricted case's mail, rendered from ``restricted_context(context)`` alone.
    """
    compiled = _template(template, language if language in LANGUAGES else DEFAULT_LANGUAGE, texts, restricted)
    if restricted:
        context = {key: value for key, value in context.items()
                   if key in RESTRICTED_KEYS or key in ("recipient_name", "recipient_group", "unit_name")}
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
    kind: str | None = None,
) -> tuple[list[_Recipient], set[str]]:
    """The active users addressed, in one query: the named user, the user whose e-mail address is
    ``address``, and the group's members in the unit (every member of a central group, whatever their units);
    and of those, the usernames who chose no mail of this ``kind`` of notification (``inapp.KINDS``)."""
    if not (user or address or group):
        return [], set()
    query = _recipients_query(bool(user), bool(address), bool(group), bool(group and unit), kind)
    params = {"user": user, "address": (address or "").lower(), "group": group, "unit": unit}
    people = User | Group | Unit | NotificationSetting
    if any(isinstance(changed, people) for changed in (*session.new, *session.dirty)):
        rows = session.execute(query, params).all()
    else:  # the step's own rows (a new task) need not be written before people are read: no flush
        with session.no_autoflush:
            rows = session.execute(query, params).all()
    recipients, declined = [], set()
    for username, name, email, language, wants in rows:
        recipients.append(_Recipient(username, name, email, language))
        if not wants:
            declined.add(username)
    return recipients, declined


@functools.cache
def _recipients_query(
    user: bool, address: bool, group: bool, unit: bool, kind: str | None,
) -> Select[str, str, str | None, str, bool]:
    """The recipients' query for the parts that are asked and the notification's kind (a handful of shapes),
    built once per shape: its values are parameters."""
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
    wants_mail = inapp.mail_wanted(kind) if kind is not None else true()
    return (select(User.username, User.name, User.email, User.language, wants_mail.label("wants_mail"))
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
    context: Mapping[str, Any], now: dt.datetime, texts: Mapping[str, str] | None = None, kind: str | None = None,
) -> int:
    """Write one pending Notification row per recipient, in the caller's transaction; return how many.

    ``kind``: the in-app notification this mail goes with (``inapp.KINDS``); a user who chose no mail of that
    kind gets none (not audited: their choice, and the notification is in the app).

    Recipients: ``recipient_user`` (if active), and the active members of ``recipient_group`` who belong
    to ``unit`` (all active members of a central group), each once. A recipient without an e-mail address,
    and an address that reaches nobody, is recorded as a ``notification_skipped`` audit event on the case
    (and logged), never lost silently; an unknown template raises ValueError.

    Subject and body are rendered now, in the recipient's language, from ``context`` plus
    ``recipient_name``, ``recipient_group`` and ``unit_name``; the row keeps ``context`` without ``data``.
    ``texts`` are the template versions of the case's process bundle (see ``render``).

    ``recipient_address`` is an e-mail address (a buddy, DTU Security): the active user with that address
    if there is one (their name and language), else the address itself, in Danish.

    A restricted case's messages carry only ``restricted_context(context)`` (see the module's text).
    """
    _template(template, DEFAULT_LANGUAGE, texts)  # an unknown template fails even when nobody is addressed
    restricted = _is_restricted(session, case_id)
    context = restricted_context(context) if restricted else context
    mail = _Mail(case_id, template, recipient_group, unit, context, _summary(context), texts, restricted, now)
    address = _checked_address(session, mail, recipient_address)
    recipients, declined = _recipients(session, user=recipient_user, group=recipient_group, unit=unit,
                                       address=address, kind=kind)
    recipients = _with_address(recipients, address)
    _skip_the_missing(session, mail, recipients, user=recipient_user, address=address)
    written = 0
    for recipient in recipients:
        if recipient.username in declined:
            continue
        if not recipient.email:
            _skip(session, case_id, template=template, reason="no e-mail address", now=now,
                  user=recipient.username)
            continue
        session.add(mail.to(recipient))
        written += 1
    return written


@dataclass(frozen=True)
class _Mail:
    """One mail of ``queue``: what is the same for every recipient (the context is the restricted one if need be)."""

    case_id: str | None
    template: str
    group: str | None
    unit: str | None
    context: Mapping[str, Any]
    data: dict[str, Any]  # what the row keeps of the context
    texts: Mapping[str, str] | None
    restricted: bool
    now: dt.datetime

    def to(self, recipient: _Recipient) -> Notification:
        """The pending row for one recipient, its subject and body rendered in their language."""
        language, subject, body = render(self.template, recipient.language, {
            "data": {}, "unit_name": UNITS.get(self.unit or "", self.unit or ""), **self.context,
            "recipient_name": recipient.name, "recipient_group": self.group,
        }, self.texts, restricted=self.restricted)
        return Notification(
            case_id=self.case_id, template=self.template, recipient_user=recipient.username or None,
            recipient_group=self.group, unit=self.unit, to_address=recipient.email, language=language,
            subject=subject, body=body, message_id=f"<amflow-{uuid.uuid4().hex}@amflow.local>",
            data=self.data, status=MailStatus.PENDING.value, attempts=0, next_attempt_at=self.now,
            created_at=self.now,
        )


def _checked_address(session: Session, mail: _Mail, address: str | None) -> str | None:
    """The address given, if it is an e-mail address; else None, and its skip is recorded."""
    if address is not None and not is_address(address):
        _skip(session, mail.case_id, template=mail.template, reason="not an e-mail address", now=mail.now,
              user=None, address=str(address)[:320])
        return None
    return address


def _with_address(recipients: list[_Recipient], address: str | None) -> list[_Recipient]:
    """The recipients, and the address as one of its own (in Danish) unless a recipient has it."""
    if address and not any((r.email or "").lower() == address.lower() for r in recipients):
        return [*recipients, _Recipient(username="", name=address, email=address, language=DEFAULT_LANGUAGE)]
    return recipients


def _skip_the_missing(session: Session, mail: _Mail, recipients: list[_Recipient], *, user: str | None,
                      address: str | None) -> None:
    """Record who was asked for and is not there: an unknown or inactive user, a group with nobody in the
    unit, or no recipient at all."""
    if user and user not in {r.username for r in recipients}:
        _skip(session, mail.case_id, template=mail.template, reason="unknown or inactive user", now=mail.now,
              user=user)
    if mail.group and not recipients:
        _skip(session, mail.case_id, template=mail.template, reason="no active member of the group in the unit",
              now=mail.now, user=None, group=mail.group, unit=mail.unit)
    if not user and not mail.group and not address:
        _skip(session, mail.case_id, template=mail.template, reason="no recipient given", now=mail.now, user=None)


def queue_to_address(
    session: Session, *, case_id: str | None, unit: str | None, template: str, address: str, name: str,
    language: str, context: Mapping[str, Any], now: dt.datetime, texts: Mapping[str, str] | None = None,
) -> int:
    """Write one pending message to an e-mail address that need not belong to a user (a contractor's site
    lead), rendered in ``language``; return 1, or 0 (audited) for an address that is not one. A restricted
    case's message carries only ``restricted_context(context)``."""
    address = (address or "").strip()
    if "@" not in address or len(address) > 320 or any(char.isspace() for char in address):
        _skip(session, case_id, template=template, reason="not an e-mail address", now=now, user=None,
              address=address[:320])
        return 0
    restricted = _is_restricted(session, case_id)
    if restricted:
        context = restricted_context(context)
    used, subject, body = render(template, language if language in LANGUAGES else DEFAULT_LANGUAGE, {
        "data": {}, "unit_name": UNITS.get(unit or "", unit or ""), **context,
        "recipient_name": name or address, "recipient_group": None,
    }, texts, restricted=restricted)
    session.add(Notification(
        case_id=case_id, template=template, recipient_user=None, recipient_group=None, unit=unit,
        to_address=address, language=used, subject=subject, body=body,
        message_id=f"<amflow-{uuid.uuid4().hex}@amflow.local>", data=_summary(context),
        status=MailStatus.PENDING.value, attempts=0, next_attempt_at=now, created_at=now,
    ))
    return 1
