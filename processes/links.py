"""Signed links for people without an account (issue #11): a contractor's site lead, a worker, a guest.

A link is scoped to one case and the user tasks it names (by BPMN id: open tasks its creator may work
themselves, so nobody hands on more than they hold), and lives until it expires; the
case's handlers create, renew and revoke it (``access.may(..., MANAGE_LINKS, case)``). The token is
``<key id>.<payload>.<signature>``: the payload names the link row and its serial, signed with HMAC by
itsdangerous under the key the key id names, so keys can rotate (old tokens keep working while their key
is still configured; a token of a removed key is refused). A renewal bumps the serial, so earlier tokens
of the same link stop working; a revocation stops all of them at once. Every try is counted by the
log-in throttle (per address, and per link), so guessing runs into TooManyAttempts.

Everything done through a link is in the case's history as "link for <name/e-mail>".
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from processes.access import OPEN, Action, case_for, may
from processes.caseview import task_view
from processes.clock import SYSTEM_CLOCK, Clock
from processes.deployments import SPEC_CACHE
from processes.engine.sandbox import evaluate
from processes.errors import Forbidden, InvalidData, NotFound
from processes.notify import outbox
from processes.people.throttle import LoginLimits, count_attempt, forgive_attempt
from processes.store.audit import AuditKind, record
from processes.store.db import Database, unit_of_work
from processes.store.models import Case, CaseLink, ProcessVersion, TaskRecord
from processes.views import CaseStatus, LinkGrant, LinkView, TaskView, UserView

logger = logging.getLogger("amflow.links")

SALT = "amflow.case-link.v1"
DEFAULT_TTL = dt.timedelta(days=14)
MAX_TTL = dt.timedelta(days=180)
LINK_LIMITS = LoginLimits(per_account=20, per_address=30, window=dt.timedelta(minutes=15))
LINK_URL = "link_url"  # Database.settings key: (link id, serial) -> the absolute URL of the link's page
ENGINE = "amflow"  # created_by of the links the engine makes and mails itself (user-task property linkTo)
DEFAULT_LINK_TEMPLATE = "task_link"


@dataclass(frozen=True)
class LinkKeys:
    """The signing keys by key id; ``current`` signs new tokens, every listed key still verifies."""

    keys: dict[str, str]
    current: str

    def __post_init__(self) -> None:
        if self.current not in self.keys or any(len(secret) < 16 for secret in self.keys.values()):
            raise ValueError("the current key id must name a key, and every key must have 16+ characters")
        if any("." in kid or not kid for kid in self.keys):
            raise ValueError("a key id is a non-empty word without dots")

    def sign(self, link_id: int, serial: int, salt: str = SALT) -> str:
        """A token for the row and serial; ``salt`` names the purpose (a case link, a start link), so a token
        of one purpose is never read as one of another."""
        return f"{self.current}.{URLSafeSerializer(self.keys[self.current], salt=salt).dumps([link_id, serial])}"

    def read(self, token: str, salt: str = SALT) -> tuple[int, int]:
        kid, _, signed = (token or "").partition(".")
        if kid not in self.keys:
            raise LinkRefused(Refusal.ALTERED)
        try:
            link_id, serial = URLSafeSerializer(self.keys[kid], salt=salt).loads(signed)
        except (BadSignature, ValueError, TypeError):
            raise LinkRefused(Refusal.ALTERED) from None
        if not isinstance(link_id, int) or not isinstance(serial, int):
            raise LinkRefused(Refusal.ALTERED)
        return link_id, serial


class Refusal(enum.StrEnum):
    ALTERED = "altered"  # not a token we signed (a character changed, a key no longer configured)
    EXPIRED = "expired"
    REVOKED = "revoked"  # revoked, or replaced by a renewal
    CLOSED = "closed"  # the case is over
    USED = "used"  # a start link that has started its case


class LinkRefused(Forbidden):
    """A link that does not (or no longer) open anything; ``reason`` says why, for the refused page."""

    def __init__(self, reason: Refusal) -> None:
        super().__init__(f"this link is {reason.value}")
        self.reason = reason


def configure_links(db: Database, keys: LinkKeys, base_url: str) -> None:
    """Let the engine mail links: sign with ``keys``, and point at ``base_url`` (the service's public address)."""
    base = base_url.rstrip("/")
    db.settings[LINK_URL] = lambda link_id, serial: f"{base}/link/{keys.sign(link_id, serial)}"


def mail_task_link(
    session: Session, case: Case, task: TaskRecord, *, email: str, name: str | None, language: str | None,
    ttl: dt.timedelta, template: str | None, context: dict[str, Any], now: dt.datetime,
    texts: Mapping[str, str] | None = None,
) -> None:
    """A user task with property ``linkTo`` became ready: give its person (an e-mail address) the task
    through a signed link, inside the step's transaction.

    One link per case and address: the first such task creates it and mails it (template ``linkTemplate``,
    default ``task_link``, in ``language``); later tasks for the same address join that link, so the person
    finds every task of the case meant for them on the one page (a portal) without a new e-mail. A link that
    has expired is renewed and mailed again; one a handler revoked stays revoked (the task joins it, and a
    handler's renewal gives it back). Without a configured signer (``configure``) the link is made but not
    mailed, and the history says so.
    """
    email = (email or "").strip().lower()
    template = template or DEFAULT_LINK_TEMPLATE
    ttl = min(max(ttl, dt.timedelta(minutes=5)), MAX_TTL)  # the bounds a handler's link has too
    if "@" not in email or len(email) > 320:
        record(session, case_id=case.id, actor=None, kind=AuditKind.NOTIFICATION_SKIPPED, at=now,
               detail={"task": task.name, "template": template, "reason": "linkTo is not an e-mail address",
                       "address": email[:320]})
        return
    language = language if language in outbox.LANGUAGES else outbox.DEFAULT_LANGUAGE
    row = session.scalars(select(CaseLink).where(CaseLink.case_id == case.id, CaseLink.email == email,
                                                 CaseLink.created_by == ENGINE).order_by(CaseLink.id.desc())).first()
    send = False
    if row is None:
        row = CaseLink(case_id=case.id, tasks=[task.name], name=(name or "").strip()[:200], email=email,
                       language=language, serial=1, created_by=ENGINE, created_at=now, expires_at=now + ttl)
        session.add(row)
        session.flush()
        record(session, case_id=case.id, actor=None, kind=AuditKind.LINK_CREATED, at=now,
               detail={"link": row.id, "for": row.name or email, "tasks": row.tasks,
                       "expires_at": row.expires_at.isoformat(), "mailed": True})
        send = True
    else:
        if task.name not in row.tasks:
            row.tasks = sorted({*row.tasks, task.name})  # a new list: the JSON column sees the change
        if row.revoked_at is None and row.expires_at <= now:
            row.serial, row.expires_at = row.serial + 1, now + ttl
            record(session, case_id=case.id, actor=None, kind=AuditKind.LINK_RENEWED, at=now,
                   detail={"link": row.id, "expires_at": row.expires_at.isoformat(), "mailed": True})
            send = True
        record(session, case_id=case.id, actor=None, kind=AuditKind.LINK_EXTENDED, at=now,
               detail={"link": row.id, "task": task.name, "revoked": row.revoked_at is not None})
    if send:
        _mail_link(session, case, task, row, template=template, context=context, now=now, texts=texts)


def _mail_link(
    session: Session, case: Case, task: TaskRecord, row: CaseLink, *, template: str, context: dict[str, Any],
    now: dt.datetime, texts: Mapping[str, str] | None,
) -> None:
    signer = session.info.get("settings", {}).get(LINK_URL)
    if signer is None:
        record(session, case_id=case.id, actor=None, kind=AuditKind.NOTIFICATION_SKIPPED, at=now,
               detail={"task": task.name, "template": template, "link": row.id,
                       "reason": "no link signer is configured (the service's base URL and keys)"})
        return
    written = outbox.queue_to_address(
        session, case_id=case.id, unit=task.unit, template=template, address=row.email, name=row.name,
        language=row.language, now=now, texts=texts,
        context={**context, "task_title": task.title, "task_id": task.id, "link_url": signer(row.id, row.serial),
                 "link_expires_at": row.expires_at.isoformat()})
    record(session, case_id=case.id, actor=None, kind=AuditKind.NOTIFICATION_QUEUED, at=now,
           detail={"template": template, "recipient_user": None, "recipient_group": None, "link": row.id,
                   "to": row.email, "task": task.name, "messages": written})


def _view(row: CaseLink, token: str | None = None) -> LinkView:
    return LinkView(id=row.id, case_id=row.case_id, tasks=list(row.tasks), name=row.name, email=row.email,
                    created_by=row.created_by, created_at=row.created_at, expires_at=row.expires_at,
                    revoked_at=row.revoked_at, token=token)


def _checked_ttl(ttl: dt.timedelta) -> dt.timedelta:
    if not dt.timedelta(minutes=5) <= ttl <= MAX_TTL:
        raise InvalidData("a link lives from 5 minutes to 180 days", fields={"ttl_days": "1 to 180 days"})
    return ttl


def _grantable(session: Session, case: Case, actor: UserView) -> set[str]:
    """The names of the case's open tasks the creator may work: nobody hands on more than they hold."""
    rows = session.scalars(select(TaskRecord).where(TaskRecord.case_id == case.id, TaskRecord.status.in_(OPEN)))
    return {row.name for row in rows if may(session, actor, Action.WORK, row)}


def create_link(
    db: Database, case_id: str, *, name: str, email: str, tasks: list[str], keys: LinkKeys, actor: UserView,
    ttl: dt.timedelta = DEFAULT_TTL, language: str = "da", clock: Clock = SYSTEM_CLOCK,
) -> LinkView:
    """A new link to the case's named tasks for a person without an account; its token is in the view."""
    name, email = (name or "").strip(), (email or "").strip().lower()
    problems = {}
    if not name and not email:
        problems["name"] = "give the person's name or e-mail"
    if email and ("@" not in email or len(email) > 320):
        problems["email"] = "not an e-mail address"
    if len(name) > 200:
        problems["name"] = "at most 200 characters"
    if not tasks or not all(isinstance(task, str) for task in tasks):
        problems["tasks"] = "name at least one task (its BPMN id)"
    if language not in ("da", "en"):
        problems["language"] = "da or en"
    if problems:
        raise InvalidData("the link is not complete", fields=problems)
    ttl = _checked_ttl(ttl)
    now = clock.now()
    with unit_of_work(db) as session:
        case = case_for(session, case_id, actor, Action.MANAGE_LINKS)
        unknown = sorted(set(tasks) - _grantable(session, case, actor))
        if unknown:
            raise InvalidData("the case has no such open task that you may work",
                              fields={"tasks": f"not an open task of yours: {', '.join(unknown)}"})
        row = CaseLink(case_id=case.id, tasks=sorted(set(tasks)), name=name, email=email, language=language,
                       serial=1, created_by=actor.username, created_at=now, expires_at=now + ttl)
        session.add(row)
        session.flush()
        record(session, case_id=case.id, actor=actor.username, kind=AuditKind.LINK_CREATED,
               detail={"link": row.id, "for": name or email, "tasks": row.tasks,
                       "expires_at": row.expires_at.isoformat()})
        return _view(row, keys.sign(row.id, row.serial))


def _managed(session: Session, link_id: int, actor: UserView) -> CaseLink:
    row = session.get(CaseLink, link_id)
    if row is None:
        raise NotFound(f"no link {link_id}")
    case_for(session, row.case_id, actor, Action.MANAGE_LINKS)
    return row


def renew_link(
    db: Database, link_id: int, *, keys: LinkKeys, actor: UserView, ttl: dt.timedelta = DEFAULT_TTL,
    clock: Clock = SYSTEM_CLOCK,
) -> LinkView:
    """A fresh token and expiry for the link (also a revoked one); every earlier token stops working. The new
    link is returned to the handler and mailed to its holder's address, if the link has one."""
    ttl = _checked_ttl(ttl)
    now = clock.now()
    with unit_of_work(db) as session:
        row = _managed(session, link_id, actor)
        row.serial, row.expires_at, row.revoked_at = row.serial + 1, now + ttl, None
        record(session, case_id=row.case_id, actor=actor.username, kind=AuditKind.LINK_RENEWED,
               detail={"link": row.id, "expires_at": row.expires_at.isoformat(), "mailed": bool(row.email)})
        session.flush()
        if row.email:
            _mail_renewed(session, row, now=now)
        return _view(row, keys.sign(row.id, row.serial))


RENEWED_TEMPLATE = "link_renewed"


def _mail_renewed(session: Session, row: CaseLink, *, now: dt.datetime) -> None:
    """Mail the renewed link to its holder (template ``link_renewed``, in the link's language): the earlier
    tokens stopped working, so without this mail the holder would be locked out until the handler passed
    the new one on. The mail names the case and the expiry only, never the case data."""
    case = session.get(Case, row.case_id)
    assert case is not None
    signer = session.info.get("settings", {}).get(LINK_URL)
    if signer is None:
        record(session, case_id=case.id, actor=None, kind=AuditKind.NOTIFICATION_SKIPPED, at=now,
               detail={"template": RENEWED_TEMPLATE, "link": row.id,
                       "reason": "no link signer is configured (the service's base URL and keys)"})
        return
    process_name = session.scalar(select(ProcessVersion.name).where(ProcessVersion.id == case.process_version_id))
    written = outbox.queue_to_address(
        session, case_id=case.id, unit=case.unit, template=RENEWED_TEMPLATE, address=row.email, name=row.name,
        language=row.language, now=now,
        context={"case_id": case.id, "process": case.process_key, "process_name": process_name or case.process_key,
                 "case_title": case.title or "", "link_url": signer(row.id, row.serial),
                 "link_expires_at": row.expires_at.isoformat()})
    record(session, case_id=case.id, actor=None, kind=AuditKind.NOTIFICATION_QUEUED, at=now,
           detail={"template": RENEWED_TEMPLATE, "recipient_user": None, "recipient_group": None, "link": row.id,
                   "to": row.email, "messages": written})


def revoke_link(db: Database, link_id: int, *, actor: UserView, clock: Clock = SYSTEM_CLOCK) -> LinkView:
    """The link stops working now, wherever its tokens are."""
    with unit_of_work(db) as session:
        row = _managed(session, link_id, actor)
        if row.revoked_at is None:
            row.revoked_at = clock.now()
            record(session, case_id=row.case_id, actor=actor.username, kind=AuditKind.LINK_REVOKED,
                   detail={"link": row.id})
        session.flush()
        return _view(row)


def list_links(db: Database, case_id: str, *, actor: UserView) -> list[LinkView]:
    with db.read() as session:
        case_for(session, case_id, actor, Action.MANAGE_LINKS)
        rows = session.scalars(select(CaseLink).where(CaseLink.case_id == case_id).order_by(CaseLink.id))
        return [_view(row) for row in rows]


def grant_for(
    db: Database, token: str, *, keys: LinkKeys, address: str | None = None, clock: Clock = SYSTEM_CLOCK
) -> LinkGrant:
    """The principal a link token stands for, or LinkRefused (altered, expired, revoked) / TooManyAttempts."""
    now = clock.now()
    counted = f"link:{(token or '')[:60]}"
    count_attempt(db, LINK_LIMITS, counted, address, now)
    link_id, serial = keys.read(token)
    with db.read() as session:
        row = session.get(CaseLink, link_id)
        if row is None or row.serial != serial or row.revoked_at is not None:
            raise LinkRefused(Refusal.REVOKED)
        if row.expires_at <= now:
            raise LinkRefused(Refusal.EXPIRED)
        grant = LinkGrant(id=row.id, case_id=row.case_id, tasks=tuple(row.tasks), name=row.name, email=row.email,
                          expires_at=row.expires_at, language=row.language)
    forgive_attempt(db, LINK_LIMITS, counted, address)
    return grant


@dataclass(frozen=True)
class LinkPage:
    """What a link page shows: the case's number and process, and the open tasks it grants. Nothing else."""

    grant: LinkGrant
    case_id: str
    process: str
    tasks: list[TaskView]
    header: str | None = None  # the process's linkHeader over the case data (e.g. the contact person)


def link_page(db: Database, grant: LinkGrant) -> LinkPage:
    with db.read() as session:
        case = session.get(Case, grant.case_id)
        if case is None:
            raise LinkRefused(Refusal.REVOKED)
        if case.status != CaseStatus.RUNNING.value:
            raise LinkRefused(Refusal.CLOSED)
        rows = session.scalars(select(TaskRecord).where(TaskRecord.case_id == case.id, TaskRecord.status.in_(OPEN),
                                                        TaskRecord.name.in_(grant.tasks))
                               .order_by(TaskRecord.created_at, TaskRecord.id))
        tasks = [task_view(row) for row in rows if may(session, grant, Action.READ, row)]
        return LinkPage(grant=grant, case_id=case.id, process=case.process_key, tasks=tasks,
                        header=_header(session, case))


def _header(session: Session, case: Case) -> str | None:
    """The process's ``linkHeader`` over the case data; a failing expression shows nothing (and is logged)."""
    expression = SPEC_CACHE.get(session, case.process_version_id).parsed.link_header
    if not expression:
        return None
    data = dict(case.data or {})
    try:
        value = evaluate(expression, {**data, "data": data})
    except Exception as exc:
        logger.warning("linkHeader of case %s could not be computed: %s", case.id, exc)
        return None
    return None if value is None else str(value)
