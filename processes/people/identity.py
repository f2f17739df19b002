"""Users, groups, units, bearer tokens and web sessions; and who may see and work which task.

Passwords are hashed with argon2id. Bearer tokens and web session ids are random 32-byte strings of which
only the SHA-256 digest is stored; both expire, and revoking or logging out deletes the row, so the
credential stops working at once everywhere.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import secrets
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, and_, bindparam, delete, false, literal, or_, select, union_all, update
from sqlalchemy.orm import Session

from processes.clock import SYSTEM_CLOCK, Clock
from processes.errors import Forbidden, InvalidData, NotFound, Unauthenticated
from processes.people.organisation import CENTRAL_GROUPS
from processes.people.throttle import LoginLimits, count_attempt, forgive_attempt
from processes.store.db import Database
from processes.store.models import (
    ApiToken,
    Case,
    Group,
    TaskRecord,
    Unit,
    User,
    UTCDateTime,
    WebSession,
    user_groups,
    user_units,
)
from processes.views import IssuedToken, TokenView, UserView

_HASHER = PasswordHasher()
_DUMMY_HASH = _HASHER.hash("timing-equaliser")
MIN_PASSWORD_LENGTH = 8
DEFAULT_TOKEN_TTL = dt.timedelta(days=1)
DEFAULT_SESSION_TTL = dt.timedelta(hours=12)
DEFAULT_LOGIN_LIMITS = LoginLimits()


def user_view(user: User) -> UserView:
    return UserView(
        username=user.username,
        name=user.name,
        email=user.email,
        groups=sorted(group.code for group in user.groups),
        units=sorted(unit.code for unit in user.units),
        language=user.language,
    )


ModelT = TypeVar("ModelT", Group, Unit)


def _resolve(session: Session, model: type[ModelT], codes: list[str], field: str) -> list[ModelT]:
    found = {row.code: row for row in session.scalars(select(model).where(model.code.in_(codes)))}
    unknown = sorted(set(codes) - set(found))
    if unknown:
        raise InvalidData(f"unknown {field}: {', '.join(unknown)}", fields={field: f"unknown: {', '.join(unknown)}"})
    return [found[code] for code in dict.fromkeys(codes)]


def create_user(
    db: Database, username: str, *, password: str | None, name: str | None = None, email: str | None = None,
    groups: list[str] | None = None, units: list[str] | None = None, language: str = "da",
) -> UserView:
    """Create a user (or update the groups, units and password of an existing one: idempotent for demo)."""
    if not username or not username.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise InvalidData("invalid username", fields={"username": "letters, digits, '.', '-' and '_' only"})
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidData("password too short", fields={"password": f"at least {MIN_PASSWORD_LENGTH} characters"})
    with db.write() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            user = User(username=username, name=name or username)
            session.add(user)
        if name:
            user.name = name
        if email is not None:
            user.email = email
        user.language = language
        if password is not None:
            user.password_hash = _HASHER.hash(password)
        user.groups = _resolve(session, Group, groups or [], "groups")
        user.units = _resolve(session, Unit, units or [], "units")
        session.flush()
        if user.email:
            _hand_over_waiting_tasks(session, user)
        return user_view(user)


def _hand_over_waiting_tasks(session: Session, user: User) -> None:
    """Tasks named to this person's e-mail address before they had an account become theirs (issue #11)."""
    assert user.email is not None
    session.execute(update(TaskRecord).where(TaskRecord.assignee == user.email.strip().lower(),
                                             TaskRecord.status.in_(("ready", "claimed")))
                    .values(assignee=user.username))


def get_user(db: Database, username: str) -> UserView:
    with db.read() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(f"no user {username!r}")
        return user_view(user)


def authenticate(
    db: Database, username: str, password: str, *, address: str | None = None,
    limits: LoginLimits = DEFAULT_LOGIN_LIMITS, clock: Clock = SYSTEM_CLOCK,
) -> UserView:
    """Check a password; the same error (and about the same time) whether the user exists or not.

    Attempts are throttled per account and per client `address` (see processes.people.throttle): past the limit
    even the right password gets TooManyAttempts until the window ends.
    """
    count_attempt(db, limits, username, address, clock.now())
    with db.read() as session:
        user = session.scalar(select(User).where(User.username == username, User.active.is_(True)))
        try:
            _HASHER.verify(user.password_hash if user and user.password_hash else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            raise Unauthenticated("wrong username or password") from None
        if user is None:
            raise Unauthenticated("wrong username or password")
        view = user_view(user)
    forgive_attempt(db, limits, username, address)
    return view


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _user_id(session: Session, username: str) -> int:
    user_id = session.scalar(select(User.id).where(User.username == username))
    if user_id is None:
        raise NotFound(f"no user {username!r}")
    return user_id


def create_token(
    db: Database, username: str, *, ttl: dt.timedelta = DEFAULT_TOKEN_TTL, clock: Clock = SYSTEM_CLOCK
) -> IssuedToken:
    """A new bearer token for the user, valid for `ttl`; only its digest is stored."""
    if ttl <= dt.timedelta(0):
        raise InvalidData("a token must live a while", fields={"ttl": "must be positive"})
    token = secrets.token_urlsafe(32)
    now = clock.now()
    with db.write() as session:
        user_id = _user_id(session, username)
        session.execute(delete(ApiToken).where(ApiToken.user_id == user_id, ApiToken.expires_at <= now))
        row = ApiToken(user_id=user_id, digest=_digest(token), created_at=now, expires_at=now + ttl)
        session.add(row)
        session.flush()
        return IssuedToken(token=token, id=row.id, expires_at=row.expires_at)


def user_for_token(db: Database, token: str, *, clock: Clock = SYSTEM_CLOCK) -> UserView:
    """The owner of a bearer token that is known, unexpired and whose user is active."""
    with db.read() as session:
        view = _credential_owner(session, ApiToken, _digest(token), clock.now())
    if view is None:
        raise Unauthenticated("invalid or expired token")
    return view


def _owner_query(credential: type[ApiToken] | type[WebSession]) -> Any:
    """The owner of a credential by its digest (bound parameters ``digest`` and ``now``): built once, since
    building a statement costs more than running it on the request path."""
    owner = ((credential.digest == bindparam("digest"))
             & (credential.expires_at > bindparam("now", type_=UTCDateTime())) & User.active.is_(True))
    person = (User.username, User.name, User.email, User.language)
    return union_all(
        select(*person, literal("g").label("kind"), user_groups.c.group_code.label("code"))
        .select_from(credential).join(User, User.id == credential.user_id)
        .outerjoin(user_groups, user_groups.c.user_id == User.id).where(owner),
        select(*person, literal("u"), user_units.c.unit_code)
        .select_from(credential).join(User, User.id == credential.user_id)
        .join(user_units, user_units.c.user_id == User.id).where(owner),
    )


_OWNER_QUERIES = {ApiToken: _owner_query(ApiToken), WebSession: _owner_query(WebSession)}


def _credential_owner(
    session: Session, credential: type[ApiToken] | type[WebSession], digest: str, now: dt.datetime
) -> UserView | None:
    """The active owner of an unexpired token or web session, by its digest, in ONE statement (every request
    pays it): the owner's groups and units come as extra rows of a UNION ALL, not as two more queries."""
    rows = session.connection().execute(_OWNER_QUERIES[credential], {"digest": digest, "now": now}).all()
    if not rows:
        return None
    username, name, email, language = rows[0][:4]
    codes: dict[str, list[str]] = {"g": [], "u": []}
    for row in rows:
        if row[5] is not None:
            codes[row[4]].append(row[5])
    return UserView(username=username, name=name, email=email, groups=sorted(codes["g"]),
                    units=sorted(codes["u"]), language=language)


def _may_manage_tokens_of(actor: UserView, username: str) -> bool:
    return actor.username == username or "admins" in actor.groups


def list_tokens(db: Database, username: str, *, actor: UserView, clock: Clock = SYSTEM_CLOCK) -> list[TokenView]:
    """The unexpired API tokens of `username`, oldest first: for the user themself, or an admin."""
    if not _may_manage_tokens_of(actor, username):
        raise Forbidden("only the owner or an admin may see a user's tokens")
    with db.read() as session:
        user_id = _user_id(session, username)
        rows = session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user_id, ApiToken.expires_at > clock.now())
            .order_by(ApiToken.id)
        )
        return [TokenView(row.id, username, row.created_at, row.expires_at) for row in rows]


def revoke_token(db: Database, token_id: int, *, actor: UserView | None, owner: str | None = None) -> TokenView:
    """Revoke one API token by its id (of `owner`, if given): its owner or an admin may (`actor` None: the
    console's operator).

    Another user's token is reported as not found, so ids of other users' tokens cannot be probed.
    """
    with db.write() as session:
        row = session.get(ApiToken, token_id)
        if (row is None or (owner is not None and row.user.username != owner)
                or (actor is not None and not _may_manage_tokens_of(actor, row.user.username))):
            raise NotFound(f"no token {token_id}" + (f" of user {owner!r}" if owner else ""))
        revoked = TokenView(row.id, row.user.username, row.created_at, row.expires_at)
        session.delete(row)
        return revoked


def revoke_presented_token(db: Database, token: str) -> None:
    """Log out an API client: the token it presents stops working now."""
    with db.write() as session:
        session.execute(delete(ApiToken).where(ApiToken.digest == _digest(token)))


def revoke_all(db: Database, username: str, *, actor: UserView | None) -> int:
    """Log a user out everywhere: revoke every API token and end every web session; the number of both."""
    if actor is not None and "admins" not in actor.groups and actor.username != username:
        raise Forbidden("only the user themself or an admin may do this")
    with db.write() as session:
        user_id = _user_id(session, username)
        tokens = session.execute(delete(ApiToken).where(ApiToken.user_id == user_id))
        sessions = session.execute(delete(WebSession).where(WebSession.user_id == user_id))
        return int(tokens.rowcount or 0) + int(sessions.rowcount or 0)  # type: ignore[attr-defined]


def start_session(
    db: Database, username: str, *, ttl: dt.timedelta = DEFAULT_SESSION_TTL, clock: Clock = SYSTEM_CLOCK
) -> str:
    """A web log-in: a random session id for the cookie (only its digest is stored), valid for `ttl`."""
    session_id = secrets.token_urlsafe(32)
    now = clock.now()
    with db.write() as session:
        user_id = _user_id(session, username)
        session.execute(delete(WebSession).where(WebSession.expires_at <= now))
        session.add(WebSession(user_id=user_id, digest=_digest(session_id), created_at=now, expires_at=now + ttl))
    return session_id


def user_for_session(db: Database, session_id: str, *, clock: Clock = SYSTEM_CLOCK) -> UserView:
    """The user of a live web session (not ended, not expired, user active)."""
    with db.read() as session:
        view = _credential_owner(session, WebSession, _digest(session_id), clock.now())
    if view is None:
        raise Unauthenticated("session ended")
    return view


def end_session(db: Database, session_id: str) -> None:
    """Log out of the web pages: the session id stops working now, wherever a copy of the cookie is."""
    with db.write() as session:
        session.execute(delete(WebSession).where(WebSession.digest == _digest(session_id)))


def sees_all_units(actor: UserView) -> bool:
    return bool(set(actor.groups) & CENTRAL_GROUPS)


def visible_tasks_clause(actor: UserView) -> ColumnElement[bool]:
    """SQL condition: the task index rows this user may see and work.

    A task of group G in unit U is for members of G in U; central groups see every unit; a task assigned
    to the user is always theirs. Admins see every task of a case that is not restricted, and a restricted
    case's tasks only as a member would (``access.may``, issue #14).
    """
    if "admins" in actor.groups:
        as_member = dataclasses.replace(actor, groups=[group for group in actor.groups if group != "admins"])
        restricted = TaskRecord.case_id.in_(select(Case.id).where(Case.restricted.is_(True)))
        return or_(~restricted, visible_tasks_clause(as_member))
    local = [g for g in actor.groups if g not in CENTRAL_GROUPS]
    central = [g for g in actor.groups if g in CENTRAL_GROUPS]
    clauses = [TaskRecord.assignee == actor.username]
    if local and actor.units:
        clauses.append(and_(TaskRecord.group.in_(local), TaskRecord.unit.in_(actor.units)))
    if central:
        clauses.append(TaskRecord.group.in_(central))
    return or_(*clauses) if clauses else false()


def may_work(actor: UserView, task: TaskRecord) -> bool:
    """The same rule as visible_tasks_clause, for one row already loaded."""
    if "admins" in actor.groups or task.assignee == actor.username:
        return True
    if task.group not in actor.groups:
        return False
    return task.group in CENTRAL_GROUPS or task.unit in actor.units
