"""In-app notifications (issue #17), written in the transaction of the step or comment that causes them.

Three kinds: ``group_task`` (a new task for a group in a unit: ONE row for the group and unit, which its
members read by membership, so a step costs one insert however large the group), ``task_assigned`` (a task
given to one person, by the process or by a colleague) and ``comment`` (a comment on a case the reader
started or works on: one row per such person, never the author). The rows keep ids only; what a reader sees
of the case is joined in when read (``processes.notices``), so a restricted case's title is never copied.

Each user chooses per kind whether the outbox also mails them (``notification_settings``; without a row the
kind's default in ``EMAIL_DEFAULTS``): ``mail_wanted`` is the SQL the outbox filters its recipients by.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, and_, exists, not_, or_, select
from sqlalchemy.orm import Session

from processes.people.organisation import CENTRAL_GROUPS
from processes.store.models import Case, InboxItem, NotificationSetting, TaskRecord, User
from processes.views import UserView

GROUP_TASK = "group_task"
TASK_ASSIGNED = "task_assigned"
COMMENT = "comment"
KINDS = (GROUP_TASK, TASK_ASSIGNED, COMMENT)
# tasks were always mailed; comments were never mailed before, so nobody gets a new kind of mail unasked
EMAIL_DEFAULTS = {GROUP_TASK: True, TASK_ASSIGNED: True, COMMENT: False}


def mail_wanted(kind: str, username: ColumnElement[str] | None = None) -> ColumnElement[bool]:
    """SQL: the user (``User.username`` by default) wants mail of this kind (their setting, else the default)."""
    who = User.username if username is None else username
    setting = (NotificationSetting.username == who) & (NotificationSetting.kind == kind)
    if EMAIL_DEFAULTS[kind]:
        return not_(exists().where(setting, NotificationSetting.email.is_(False)))
    return exists().where(setting, NotificationSetting.email.is_(True))


def task_kind(assignee: str | None) -> str:
    """The kind of a new task's notification: given to one person, or for a group."""
    return TASK_ASSIGNED if assignee else GROUP_TASK


def task_created(session: Session, row: TaskRecord, *, now: dt.datetime) -> None:
    """A new task: for its assignee (a user, not an e-mail address: they get a link), or its group in its unit."""
    if row.assignee:
        if "@" not in row.assignee:
            session.add(InboxItem(kind=TASK_ASSIGNED, recipient=row.assignee, case_id=row.case_id, task_id=row.id,
                                  created_at=now))
    elif row.group:
        session.add(InboxItem(kind=GROUP_TASK, group=row.group, unit=row.unit, case_id=row.case_id, task_id=row.id,
                              created_at=now))


def task_assigned(session: Session, row: TaskRecord, *, actor: str, now: dt.datetime) -> None:
    """A colleague gave a task to someone else (taking it yourself tells nobody)."""
    if row.assignee and row.assignee != actor:
        session.add(InboxItem(kind=TASK_ASSIGNED, recipient=row.assignee, case_id=row.case_id, task_id=row.id,
                              actor=actor, created_at=now))


def comment_readers(session: Session, case_id: str, *, author: str) -> list[str]:
    """Who hears of a comment: the case's starter and whoever holds or did one of its tasks, not the author.

    One query; only active users (an e-mail address holding a task by link is no account)."""
    involved = or_(
        exists().where(Case.id == case_id, Case.started_by == User.username),
        exists().where(TaskRecord.case_id == case_id,
                       or_(TaskRecord.assignee == User.username, TaskRecord.completed_by == User.username)),
    )
    return list(session.scalars(
        select(User.username).where(User.active.is_(True), involved, User.username != author)
        .order_by(User.username)
    ))


def comment_added(session: Session, case_id: str, readers: list[str], *, author: str, now: dt.datetime) -> None:
    session.add_all([InboxItem(kind=COMMENT, recipient=reader, case_id=case_id, actor=author, created_at=now)
                     for reader in readers])


def for_user(actor: UserView) -> ColumnElement[bool]:
    """SQL: the inbox rows meant for this user: theirs, or their group's in one of their units (any unit for
    a central group), the rule of the queue (``people.identity.visible_tasks_clause``)."""
    arms: list[ColumnElement[bool]] = [InboxItem.recipient == actor.username]
    local = [code for code in actor.groups if code not in CENTRAL_GROUPS]
    central = [code for code in actor.groups if code in CENTRAL_GROUPS]
    if local and actor.units:
        arms.append(and_(InboxItem.group.in_(local), InboxItem.unit.in_(actor.units)))
    if central:
        arms.append(InboxItem.group.in_(central))
    return or_(*arms)
