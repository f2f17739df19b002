"""In-app notifications (issue #17): what is new for me, how many I have not opened, marking them read, and
my choice per kind of whether the outbox also mails me.

The rows are written by ``notify.inapp`` in the step's or comment's transaction; here they are read by
membership (a group's task is one row its members share) in a fixed number of statements per page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import and_, exists, func, insert, select
from sqlalchemy.orm import Session

from processes.clock import SYSTEM_CLOCK, Clock
from processes.engine import runtime
from processes.errors import InvalidData, NotFound
from processes.notify import inapp
from processes.store.db import Database, unit_of_work
from processes.store.models import Case, InboxItem, InboxRead, NotificationSetting, TaskRecord
from processes.views import NoticePage, NoticeView, UserView

KINDS = inapp.KINDS
MAX_PAGE = 100
UNREAD_CAP = 100  # the header shows "99+" past this; counting further would cost a read of every row


MAX_ROW_ID = 2**31 - 1  # row ids are database integers (PostgreSQL refuses a larger parameter)

def _mine_unread(actor: UserView) -> Any:
    return and_(inapp.for_user(actor),
                ~exists().where(InboxRead.item_id == InboxItem.id, InboxRead.username == actor.username))


def _unread_in(session: Session, actor: UserView) -> int:
    capped = select(InboxItem.id).where(_mine_unread(actor)).limit(UNREAD_CAP).subquery()
    return int(session.scalar(select(func.count()).select_from(capped)) or 0)


def unread_count(db: Database, *, actor: UserView) -> int:
    """How many of my notifications I have not opened (at most UNREAD_CAP): one statement."""
    with db.read() as session:
        return _unread_in(session, actor)


def _page_query(actor: UserView) -> Any:
    return (
        select(InboxItem, Case.title, Case.title_en, Case.restricted, TaskRecord.title, TaskRecord.title_en,
               InboxRead.read_at)
        .join(Case, Case.id == InboxItem.case_id)
        .outerjoin(TaskRecord, TaskRecord.id == InboxItem.task_id)
        .outerjoin(InboxRead, and_(InboxRead.item_id == InboxItem.id, InboxRead.username == actor.username))
        .where(inapp.for_user(actor))
    )


def _view(row: Any) -> NoticeView:
    item, case_title, case_title_en, restricted, task_title, task_title_en, read_at = row
    hidden = bool(restricted)  # a restricted case's notice shows only its kind: no case or task title
    return NoticeView(
        id=item.id, kind=item.kind, case_id=item.case_id, task_id=item.task_id,
        case_title=None if hidden else case_title, case_title_en=None if hidden else case_title_en,
        task_title=None if hidden else task_title, task_title_en=None if hidden else task_title_en,
        restricted=hidden, actor=item.actor, created_at=item.created_at, read=read_at is not None,
    )


def list_notices(
    db: Database, *, actor: UserView, before: int | None = None, limit: int = 50, mark_read: bool = False,
    clock: Clock = SYSTEM_CLOCK,
) -> NoticePage:
    """A page of my notifications, newest first (``before``: the previous page's ``next_cursor``), each with
    whether I had opened it; ``mark_read`` (the list page opened) marks the page's unread ones read.

    Three statements (four when marking), however long the page."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidData("limit out of range", fields={"limit": f"1 to {MAX_PAGE}"})
    query = _page_query(actor)
    if before is not None:  # every row id is below a cursor past the largest database integer: no page is lost
        query = query.where(InboxItem.id < min(before, MAX_ROW_ID))
    with unit_of_work(db) if mark_read else db.read() as session:
        rows = session.execute(query.order_by(InboxItem.id.desc()).limit(limit + 1)).all()
        items = [_view(row) for row in rows[:limit]]
        unread = [item.id for item in items if not item.read]
        if mark_read and unread:
            now = runtime.now_utc(clock)
            session.execute(insert(InboxRead), [{"item_id": item_id, "username": actor.username, "read_at": now}
                                                for item_id in unread])
        return NoticePage(items=items, unread=_unread_in(session, actor),
                          next_cursor=items[-1].id if len(rows) > limit else None)


def open_notice(db: Database, notice_id: int, *, actor: UserView, clock: Clock = SYSTEM_CLOCK) -> NoticeView:
    """Mark one of my notifications read and return it (NotFound if it is not mine)."""
    with unit_of_work(db) as session:
        row = session.execute(_page_query(actor).where(InboxItem.id == notice_id)).first()
        if row is None:
            raise NotFound(f"no notification {notice_id}")
        view = _view(row)
        if not view.read:
            session.add(InboxRead(item_id=notice_id, username=actor.username, read_at=runtime.now_utc(clock)))
        return view


def notice_settings(db: Database, *, actor: UserView) -> dict[str, bool]:
    """Per kind, whether I also get an e-mail (my choice, else the kind's default)."""
    with db.read() as session:
        chosen = dict(session.execute(
            select(NotificationSetting.kind, NotificationSetting.email)
            .where(NotificationSetting.username == actor.username)).all())
    return {kind: bool(chosen.get(kind, inapp.EMAIL_DEFAULTS[kind])) for kind in KINDS}


def set_notice_settings(db: Database, settings: Mapping[str, Any], *, actor: UserView) -> dict[str, bool]:
    """Choose per kind whether I also get an e-mail; kinds not named keep their setting. Unknown kinds and
    values that are not true/false are refused, naming each, and nothing changes."""
    if not isinstance(settings, Mapping):
        raise InvalidData("settings must be an object", fields={"email": "must be an object"})
    problems = {f"email.{kind}": "unknown kind of notification" for kind in settings if kind not in KINDS}
    problems |= {f"email.{kind}": "must be true or false"
                 for kind, value in settings.items() if kind in KINDS and not isinstance(value, bool)}
    if problems:
        raise InvalidData("invalid notification settings", fields=problems)
    with unit_of_work(db) as session:
        for kind, value in settings.items():
            row = session.get(NotificationSetting, (actor.username, kind))
            if row is None:
                session.add(NotificationSetting(username=actor.username, kind=kind, email=value))
            else:
                row.email = value
    return notice_settings(db, actor=actor)
