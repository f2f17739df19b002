"""Users, groups, units and bearer tokens; and who may see and work which task.

Passwords are hashed with argon2id; bearer tokens are random 32-byte strings of which only the SHA-256
digest is stored.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.orm import Session

from processes.errors import InvalidData, NotFound, Unauthenticated
from processes.people.organisation import CENTRAL_GROUPS
from processes.store.db import Database
from processes.store.models import ApiToken, Group, TaskRecord, Unit, User
from processes.views import UserView

_HASHER = PasswordHasher()
_DUMMY_HASH = _HASHER.hash("timing-equaliser")
MIN_PASSWORD_LENGTH = 8


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
        return user_view(user)


def get_user(db: Database, username: str) -> UserView:
    with db.read() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(f"no user {username!r}")
        return user_view(user)


def authenticate(db: Database, username: str, password: str) -> UserView:
    """Check a password; the same error (and about the same time) whether the user exists or not."""
    with db.read() as session:
        user = session.scalar(select(User).where(User.username == username, User.active.is_(True)))
        try:
            _HASHER.verify(user.password_hash if user and user.password_hash else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            raise Unauthenticated("wrong username or password") from None
        if user is None:
            raise Unauthenticated("wrong username or password")
        return user_view(user)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(db: Database, username: str) -> str:
    """A new bearer token for the user; only its digest is stored."""
    token = secrets.token_urlsafe(32)
    with db.write() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(f"no user {username!r}")
        session.add(ApiToken(user_id=user.id, digest=_digest(token)))
    return token


def user_for_token(db: Database, token: str) -> UserView:
    with db.read() as session:
        row = session.scalar(select(ApiToken).where(ApiToken.digest == _digest(token)))
        if row is None or not row.user.active:
            raise Unauthenticated("invalid or expired token")
        return user_view(row.user)


def sees_all_units(actor: UserView) -> bool:
    return bool(set(actor.groups) & CENTRAL_GROUPS)


def visible_tasks_clause(actor: UserView) -> ColumnElement[bool]:
    """SQL condition: the task index rows this user may see and work.

    A task of group G in unit U is for members of G in U; central groups see every unit; a task assigned
    to the user is always theirs. Admins see everything.
    """
    if "admins" in actor.groups:
        return TaskRecord.id.is_not(None)
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
