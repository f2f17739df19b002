"""Start links: a signed link that starts one case of a process in a unit, for a person without an account
(a student or a guest reporting a psychological work accident, issue #14).

A process allows them with its property ``startByLink`` = ``true``. Those who would handle the case it starts
make one (``access.may(..., MANAGE_START_LINKS, StartOf(process, unit))``: the process's ``readers`` groups in
the unit, the central groups) for a named person: their name and e-mail address, how long it lives. The token
is signed like a case link's (``LinkKeys``) under its own salt, so neither kind of token opens the other's
page. On the link's page the person sees the process's start form; sending it starts the case in the link's
unit with the person as its starter (their e-mail address, else "link for <name>"), once: the link is then
used. It may be revoked until then. The link reads nothing: not the case it started, nor any other.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from processes import bundles
from processes.access import Action, StartOf, may
from processes.advance import new_case
from processes.clock import SYSTEM_CLOCK, Clock
from processes.deployments import SPEC_CACHE, latest_version
from processes.errors import Forbidden, InvalidData, NotFound
from processes.links import LINK_LIMITS, MAX_TTL, LinkKeys, LinkRefused, Refusal
from processes.people.throttle import count_attempt, forgive_attempt
from processes.store.audit import AuditKind, record
from processes.store.db import Database, unit_of_work
from processes.store.models import StartLink, Unit
from processes.views import FormView, StartGrant, StartLinkView, UserView

START_SALT = "amflow.start-link.v1"
DEFAULT_START_TTL = dt.timedelta(days=14)


def _view(row: StartLink, token: str | None = None) -> StartLinkView:
    return StartLinkView(id=row.id, process=row.process_key, unit=row.unit, name=row.name, email=row.email,
                         created_by=row.created_by, created_at=row.created_at, expires_at=row.expires_at,
                         revoked_at=row.revoked_at, case_id=row.case_id, token=token)


def create_start_link(
    db: Database, *, process: str, unit: str, name: str, email: str, keys: LinkKeys, actor: UserView,
    ttl: dt.timedelta = DEFAULT_START_TTL, language: str = "da", clock: Clock = SYSTEM_CLOCK,
) -> StartLinkView:
    """A new start link of ``process`` in ``unit`` for the named person; its token is in the view."""
    name, email = (name or "").strip(), (email or "").strip().lower()
    problems = {}
    if not name and not email:
        problems["name"] = "give the person's name or e-mail"
    if email and ("@" not in email or len(email) > 320 or any(char.isspace() for char in email)):
        problems["email"] = "not an e-mail address"
    if len(name) > 200:
        problems["name"] = "at most 200 characters"
    if language not in ("da", "en"):
        problems["language"] = "da or en"
    if not dt.timedelta(minutes=5) <= ttl <= MAX_TTL:
        problems["ttl_days"] = "1 to 180 days"
    if problems:
        raise InvalidData("the start link is not complete", fields=problems)
    now = clock.now()
    with unit_of_work(db) as session:
        version = latest_version(session, process)  # NotFound for an unknown process
        if not SPEC_CACHE.get(session, version.id).parsed.start_by_link:
            raise InvalidData(f"{process!r} is not started by link",
                              fields={"process": "the process does not allow start links (startByLink)"})
        if session.get(Unit, unit) is None:
            raise InvalidData(f"no unit {unit!r}", fields={"unit": "not a unit"})
        if not may(session, actor, Action.MANAGE_START_LINKS, StartOf(process, unit)):
            raise Forbidden(f"you may not give start links of {process!r} in {unit!r}")
        row = StartLink(process_key=process, unit=unit, name=name, email=email, language=language, serial=1,
                        created_by=actor.username, created_at=now, expires_at=now + ttl)
        session.add(row)
        session.flush()
        return _view(row, keys.sign(row.id, row.serial, START_SALT))


def _managed(session: Any, link_id: int, actor: UserView) -> StartLink:
    row = session.get(StartLink, link_id)
    if row is None:
        raise NotFound(f"no start link {link_id}")
    if not may(session, actor, Action.MANAGE_START_LINKS, StartOf(row.process_key, row.unit)):
        raise Forbidden("you may not manage this start link")
    return row


def revoke_start_link(db: Database, link_id: int, *, actor: UserView, clock: Clock = SYSTEM_CLOCK) -> StartLinkView:
    """The start link stops working now (a case it already started goes on)."""
    with unit_of_work(db) as session:
        row = _managed(session, link_id, actor)
        if row.revoked_at is None:
            row.revoked_at = clock.now()
        session.flush()
        return _view(row)


def list_start_links(db: Database, *, process: str, unit: str, actor: UserView) -> list[StartLinkView]:
    """The start links of a process in a unit (never their tokens), newest first."""
    with db.read() as session:
        if not may(session, actor, Action.MANAGE_START_LINKS, StartOf(process, unit)):
            raise Forbidden(f"you may not see the start links of {process!r} in {unit!r}")
        rows = session.scalars(select(StartLink).where(StartLink.process_key == process, StartLink.unit == unit)
                               .order_by(StartLink.id.desc()).limit(500))
        return [_view(row) for row in rows]


def _live(row: StartLink | None, serial: int, now: dt.datetime) -> StartLink:
    if row is None or row.serial != serial or row.revoked_at is not None:
        raise LinkRefused(Refusal.REVOKED)
    if row.case_id is not None:
        raise LinkRefused(Refusal.USED)
    if row.expires_at <= now:
        raise LinkRefused(Refusal.EXPIRED)
    return row


def start_grant_for(
    db: Database, token: str, *, keys: LinkKeys, address: str | None = None, clock: Clock = SYSTEM_CLOCK,
) -> StartGrant:
    """The principal a start token stands for, or LinkRefused (altered, expired, revoked, used) / TooManyAttempts."""
    now = clock.now()
    counted = f"start:{(token or '')[:60]}"
    count_attempt(db, LINK_LIMITS, counted, address, now)
    link_id, serial = keys.read(token, START_SALT)
    with db.read() as session:
        row = _live(session.get(StartLink, link_id), serial, now)
        grant = StartGrant(id=row.id, process=row.process_key, unit=row.unit, name=row.name, email=row.email,
                           expires_at=row.expires_at, language=row.language)
    forgive_attempt(db, LINK_LIMITS, counted, address)
    return grant


@dataclass(frozen=True)
class StartLinkPage:
    """What a start link's page shows: the process's name and documentation, the unit, and its start form."""

    grant: StartGrant
    process_name: str
    unit_name: str
    documentation: str
    form: FormView | None


def start_link_page(db: Database, grant: StartGrant) -> StartLinkPage:
    with db.read() as session:
        version = latest_version(session, grant.process)
        parsed = SPEC_CACHE.get(session, version.id).parsed
        form = None
        if parsed.start_form:
            definition = bundles.for_version(session, version.id).form(parsed.start_form)
            if definition is not None:
                form = FormView(name=definition.name, schema=definition.schema, ui=definition.ui)
        unit = session.get(Unit, grant.unit)
        return StartLinkPage(grant=grant, process_name=version.name, unit_name=unit.name if unit else grant.unit,
                             documentation=parsed.documentation, form=form)


def start_case_by_link(db: Database, grant: StartGrant, *, data: Any, clock: Clock = SYSTEM_CLOCK) -> str:
    """Start the link's case with the start form's ``data``; the link is used up in the same transaction.

    Returns only the new case's id: the person may not read the case (they are told its number)."""
    now = clock.now()
    with unit_of_work(db) as session:
        row = session.scalars(select(StartLink).where(StartLink.id == grant.id).with_for_update()).one_or_none()
        row = _live(row, row.serial if row is not None else -1, now)
        if not may(session, grant, Action.START, StartOf(row.process_key, row.unit)):
            raise Forbidden("this link starts another process")
        version = latest_version(session, row.process_key)
        if not SPEC_CACHE.get(session, version.id).parsed.start_by_link:
            raise LinkRefused(Refusal.REVOKED)  # the process no longer allows it
        case = new_case(session, process=row.process_key, unit=row.unit, data=data, starter=grant.username,
                        clock=clock, version=version)
        row.case_id = case.id
        record(session, case_id=case.id, actor=grant.username, kind=AuditKind.START_LINK_USED, at=now,
               detail={"start_link": row.id, "for": row.name or row.email, "created_by": row.created_by})
        session.flush()
        return case.id
