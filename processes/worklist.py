"""Use cases around the work itself: drafts, comments, attachments, assigning, bulk actions, saved filters,
and a task form posted with its files.

Each call is one transaction. Every permission is access.may's, so the web pages and the API can never
disagree.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, literal, or_, select, union_all
from sqlalchemy.orm import Session

from processes.access import Action, case_for, may, may_work, reading, task_for_work
from processes.caseview import task_view
from processes.clock import SYSTEM_CLOCK, Clock
from processes.deployments import keys_in
from processes.engine import runtime
from processes.engine.serializer import UnsafeValue, escape
from processes.errors import Conflict, Forbidden, InvalidData, NotFound
from processes.notify import inapp, outbox
from processes.people.identity import user_view
from processes.store.audit import AuditKind, record
from processes.store.db import Database, unit_of_work
from processes.store.models import (
    Attachment,
    Case,
    Comment,
    SavedFilter,
    TaskDraft,
    TaskRecord,
    User,
    user_groups,
    user_units,
)
from processes.tasks import TaskFilter, TaskPage, complete_in, page_in
from processes.views import LinkGrant, TaskStatus, TaskView, UserView

Principal = UserView | LinkGrant

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_COMMENT_LENGTH = 10_000
MAX_BULK = 200
_UNSAFE_FILENAME = re.compile(r"[^\w.\- ]+")


@dataclass(frozen=True)
class CommentView:
    id: int
    case_id: str
    author: str
    body: str
    at: datetime


@dataclass(frozen=True)
class AttachmentView:
    id: int
    case_id: str
    task_id: str | None
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: str
    at: datetime


@dataclass(frozen=True)
class SavedFilterView:
    id: int
    owner: str
    name: str
    query: dict[str, Any]
    shared_group: str | None


def _json_object(data: Any, field: str = "data") -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidData(f"{field} must be a JSON object", fields={field: "must be an object"})
    try:
        escape(data)
    except UnsafeValue as exc:
        raise InvalidData(str(exc), fields={exc.path: exc.problem}) from None
    return data


# --- drafts -------------------------------------------------------------------------------------------

def save_draft(db: Database, task_id: str, *, data: Any, actor: UserView, clock: Clock = SYSTEM_CLOCK) -> None:
    """Keep a half-filled form for later (not validated: a draft may be incomplete)."""
    data = _json_object(data)
    with unit_of_work(db) as session:
        keep_draft(session, task_id, data=data, actor=actor, clock=clock)


def keep_draft(session: Session, task_id: str, *, data: Any, actor: Principal, clock: Clock) -> None:
    """save_draft inside the caller's transaction."""
    data = _json_object(data)
    task_for_work(session, task_id, actor)
    draft = session.get(TaskDraft, (task_id, actor.username))
    if draft is None:
        session.add(TaskDraft(task_id=task_id, username=actor.username, data=data, saved_at=runtime.now_utc(clock)))
    else:
        draft.data, draft.saved_at = data, runtime.now_utc(clock)


def get_draft(db: Database, task_id: str, *, actor: UserView) -> dict[str, Any] | None:
    with db.read() as session:
        draft = session.get(TaskDraft, (task_id, actor.username))
        return dict(draft.data) if draft is not None else None


def discard_drafts(session: Session, task_id: str) -> None:
    """A completed task needs no drafts any more (called in the completion's transaction)."""
    session.execute(delete(TaskDraft).where(TaskDraft.task_id == task_id))


# --- comments and attachments -------------------------------------------------------------------------

def add_comment(db: Database, case_id: str, *, body: str, actor: UserView, clock: Clock = SYSTEM_CLOCK) -> CommentView:
    """Anyone who may read the case may comment on it."""
    text = (body or "").strip()
    if not text or len(text) > MAX_COMMENT_LENGTH:
        raise InvalidData("empty or too long comment", fields={"body": f"1 to {MAX_COMMENT_LENGTH} characters"})
    with unit_of_work(db) as session:
        case = case_for(session, case_id, actor, Action.COMMENT)
        now = runtime.now_utc(clock)
        comment = Comment(case_id=case_id, author=actor.username, body=text, at=now)
        session.add(comment)
        session.flush()
        record(session, case_id=case_id, actor=actor.username, kind=AuditKind.COMMENT_ADDED,
               detail={"comment": comment.id})
        _tell_of_comment(session, case, author=actor, now=now)
        return CommentView(comment.id, case_id, comment.author, comment.body, comment.at)


def _tell_of_comment(session: Session, case: Case, *, author: UserView, now: datetime) -> None:
    """The starter and task holders hear of a comment in the app, and by mail if they chose it (never the
    comment itself by mail: only who wrote on which case)."""
    readers = inapp.comment_readers(session, case.id, author=author.username)
    inapp.comment_added(session, case.id, readers, author=author.username, now=now)
    for reader in readers:
        outbox.queue(session, case_id=case.id, unit=case.unit, template="comment_added", recipient_user=reader,
                     context={"case_id": case.id, "process": case.process_key, "process_name": case.process_key,
                              "unit": case.unit, "case_title": case.title, "author_name": author.name},
                     now=now, kind=inapp.COMMENT)


def list_comments(db: Database, case_id: str, *, actor: Principal) -> list[CommentView]:
    with reading(db, case_id, actor, "comments") as (session, _case):
        if not may(session, actor, Action.READ, Comment(case_id=case_id)):
            raise Forbidden("you may not read the comments of this case")
        rows = session.scalars(select(Comment).where(Comment.case_id == case_id).order_by(Comment.id))
        return [CommentView(c.id, c.case_id, c.author, c.body, c.at) for c in rows]


def _attachment_view(row: Attachment) -> AttachmentView:
    return AttachmentView(row.id, row.case_id, row.task_id, row.filename, row.content_type, row.size, row.sha256,
                          row.uploaded_by, row.at)


def safe_filename(filename: str) -> str:
    """A file name with no path and no characters that could mislead a browser or a shell."""
    name = _UNSAFE_FILENAME.sub("_", (filename or "").replace("\\", "/").rsplit("/", 1)[-1]).strip(" .")
    return name[:200] or "attachment"


@dataclass(frozen=True)
class Upload:
    """A file posted with a form: ``field`` is the form field (path) whose value becomes the attachment id."""

    field: str
    filename: str
    content_type: str
    content: bytes


def check_upload(content: bytes) -> None:
    """An attachment must hold something and at most MAX_ATTACHMENT_BYTES."""
    if not content:
        raise InvalidData("the file is empty", fields={"file": "choose a file"})
    if len(content) > MAX_ATTACHMENT_BYTES:
        raise InvalidData("the file is too large", fields={"file": f"at most {MAX_ATTACHMENT_BYTES // 2**20} MB"})


def store_attachment(
    session: Session, case_id: str, *, filename: str, content_type: str, content: bytes, actor: Principal,
    task_id: str | None, clock: Clock,
) -> AttachmentView:
    """Attach a file to a case the caller may read, inside the caller's transaction."""
    check_upload(content)
    case_for(session, case_id, actor, Action.ATTACH)
    row = Attachment(
        case_id=case_id, task_id=task_id, filename=safe_filename(filename),
        content_type=(content_type or "application/octet-stream")[:100], size=len(content),
        sha256=hashlib.sha256(content).hexdigest(), content=content, uploaded_by=actor.username,
        at=runtime.now_utc(clock),
    )
    session.add(row)
    session.flush()
    record(session, case_id=case_id, actor=actor.username, kind=AuditKind.ATTACHMENT_ADDED,
           detail={"attachment": row.id, "filename": row.filename, "size": row.size})
    return _attachment_view(row)


def add_attachment(
    db: Database, case_id: str, *, filename: str, content_type: str, content: bytes, actor: UserView,
    task_id: str | None = None, clock: Clock = SYSTEM_CLOCK,
) -> AttachmentView:
    """Attach a file (at most MAX_ATTACHMENT_BYTES) to a case the caller may read."""
    check_upload(content)
    with unit_of_work(db) as session:
        return store_attachment(session, case_id, filename=filename, content_type=content_type, content=content,
                                actor=actor, task_id=task_id, clock=clock)


def list_attachments(db: Database, case_id: str, *, actor: Principal) -> list[AttachmentView]:
    with reading(db, case_id, actor, "attachments") as (session, _case):
        if not may(session, actor, Action.READ, Attachment(case_id=case_id)):
            raise Forbidden("you may not read the attachments of this case")
        rows = session.scalars(select(Attachment).where(Attachment.case_id == case_id).order_by(Attachment.id))
        return [_attachment_view(row) for row in rows]


def get_attachment(db: Database, attachment_id: int, *, actor: Principal) -> tuple[AttachmentView, bytes]:
    with db.read() as session:
        case_id = session.scalar(select(Attachment.case_id).where(Attachment.id == attachment_id))
    if case_id is None:
        raise NotFound(f"no attachment {attachment_id}")
    with reading(db, case_id, actor, f"attachment {attachment_id}") as (session, _case):
        row = session.get(Attachment, attachment_id)
        if row is None or not may(session, actor, Action.READ, row):
            raise NotFound(f"no attachment {attachment_id}")
        return _attachment_view(row), row.content


# --- assigning and bulk actions ------------------------------------------------------------------------

def _assign(session: Session, row: TaskRecord, assignee: UserView, actor: UserView, clock: Clock) -> None:
    if not may_work(assignee, row):
        raise InvalidData(f"{assignee.username} may not work this task",
                          fields={"assignee": "not a member of the task's group and unit"})
    row.assignee, row.status = assignee.username, TaskStatus.CLAIMED.value
    case = session.get(Case, row.case_id)
    assert case is not None
    case.updated_at = runtime.now_utc(clock)
    record(session, case_id=row.case_id, actor=actor.username, kind=AuditKind.TASK_ASSIGNED,
           detail={"task": row.name, "assignee": assignee.username})
    if assignee.username != actor.username:
        inapp.task_assigned(session, row, actor=actor.username, now=runtime.now_utc(clock))
        outbox.queue(session, case_id=row.case_id, unit=row.unit, template="task_assigned",
                     recipient_user=assignee.username,
                     context={"case_id": row.case_id, "process": row.process_key, "process_name": row.process_key,
                              "unit": row.unit, "task_title": row.title, "task_id": row.id,
                              "case_title": case.title},
                     now=runtime.now_utc(clock), kind=inapp.TASK_ASSIGNED)


def _user(session: Session, username: str) -> UserView:
    user = session.scalar(select(User).where(User.username == username, User.active.is_(True)))
    if user is None:
        raise InvalidData(f"no user {username!r}", fields={"assignee": "unknown user"})
    return user_view(user)


def _rows_for_work(session: Session, task_ids: list[str], actor: UserView) -> list[TaskRecord]:
    if not task_ids or len(task_ids) > MAX_BULK:
        raise InvalidData("choose tasks", fields={"tasks": f"1 to {MAX_BULK} tasks"})
    return [task_for_work(session, task_id, actor) for task_id in dict.fromkeys(task_ids)]


def assign_tasks(
    db: Database, task_ids: list[str], *, assignee: str, actor: UserView, clock: Clock = SYSTEM_CLOCK
) -> list[TaskView]:
    """Give open tasks to a colleague who may work them (all or none), and tell them by e-mail."""
    with unit_of_work(db) as session:
        rows = _rows_for_work(session, task_ids, actor)
        target = _user(session, assignee)
        for row in rows:
            if row.assignee not in (None, actor.username) and "admins" not in actor.groups:
                raise Conflict(f"task {row.title!r} is claimed by {row.assignee}")
            _assign(session, row, target, actor, clock)
        session.flush()
        return [task_view(row) for row in rows]


def claim_tasks(db: Database, task_ids: list[str], *, actor: UserView, clock: Clock = SYSTEM_CLOCK) -> list[TaskView]:
    """Claim several open tasks at once (all or none)."""
    with unit_of_work(db) as session:
        rows = _rows_for_work(session, task_ids, actor)
        for row in rows:
            if row.assignee not in (None, actor.username):
                raise Conflict(f"task {row.title!r} is already claimed by {row.assignee}")
            row.assignee, row.status = actor.username, TaskStatus.CLAIMED.value
            case = session.get(Case, row.case_id)
            assert case is not None
            case.updated_at = runtime.now_utc(clock)
            record(session, case_id=row.case_id, actor=actor.username, kind=AuditKind.TASK_CLAIMED,
                   detail={"task": row.name})
        session.flush()
        return [task_view(row) for row in rows]


def colleagues_for(db: Database, task_id: str, *, actor: UserView) -> list[UserView]:
    """The active users who may work this task (to assign it to one of them)."""
    with db.read() as session:
        return _colleagues_in(session, task_id, actor)


def _colleagues_in(session: Session, task_id: str, actor: UserView) -> list[UserView]:
    return _who_may_work(session, task_for_work(session, task_id, actor))


def _who_may_work(session: Session, row: TaskRecord) -> list[UserView]:
    """The active users who may work the task (``row`` needs its group, unit and assignee), by name."""
    groups = [code for code in (row.group, "admins") if code]
    people: dict[str, tuple[tuple[str, str, str | None, str], dict[str, list[str]]]] = {}
    for username, name, email, language, kind, code in session.connection().execute(
            _CANDIDATES, {"groups": groups, "assignee": row.assignee}):
        _person, codes = people.setdefault(username, ((username, name, email, language), {"g": [], "u": []}))
        if code is not None:
            codes[kind].append(code)
    views = [UserView(username=username, name=name, email=email, groups=sorted(codes["g"]),
                      units=sorted(codes["u"]), language=language)
             for (username, name, email, language), codes in people.values()]
    return [view for view in views if may_work(view, row) and view.username != "admin"]


def _candidates() -> Any:
    """Who could pass may_work: the members of the task's group or of the admins, and its assignee (bound
    parameters ``groups`` and ``assignee``), not every user of the organisation, which the queue page would
    otherwise pay for on every view; each with their groups and units as extra rows of a UNION ALL (one
    statement, not three), ordered by name. Built once: its construction cost more than running it."""
    person = (User.username, User.name, User.email, User.language)
    candidate = User.active.is_(True) & or_(
        User.id.in_(select(user_groups.c.user_id).where(user_groups.c.group_code.in_(
            bindparam("groups", expanding=True)))),
        User.username == bindparam("assignee"))
    rows = union_all(
        select(*person, literal("g").label("kind"), user_groups.c.group_code.label("code"))
        .select_from(User).outerjoin(user_groups, user_groups.c.user_id == User.id).where(candidate),
        select(*person, literal("u"), user_units.c.unit_code)
        .select_from(User).join(user_units, user_units.c.user_id == User.id).where(candidate),
    )
    return rows.order_by(rows.selected_columns.name, rows.selected_columns.username)


_CANDIDATES = _candidates()


# --- saved filters -------------------------------------------------------------------------------------

FILTER_KEYS = frozenset({"group", "unit", "assignee", "status", "process", "overdue", "sort", "order"})


def save_filter(
    db: Database, *, name: str, query: dict[str, Any], shared_group: str | None, actor: UserView
) -> SavedFilterView:
    """Save (or replace) a named queue filter; share it with one of your own groups if you like."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise InvalidData("name the filter", fields={"name": "1 to 100 characters"})
    unknown = sorted(set(query) - FILTER_KEYS)
    if unknown:
        raise InvalidData("unknown filter fields", fields=dict.fromkeys(unknown, "not a queue filter"))
    if shared_group and shared_group not in actor.groups:
        raise InvalidData("you can only share with your own groups", fields={"shared_group": "not your group"})
    clean = {key: value for key, value in query.items() if value not in (None, "")}
    with unit_of_work(db) as session:
        row = session.scalar(select(SavedFilter).where(SavedFilter.owner == actor.username, SavedFilter.name == name))
        if row is None:
            row = SavedFilter(owner=actor.username, name=name, query=clean, shared_group=shared_group or None)
            session.add(row)
        else:
            row.query, row.shared_group = clean, shared_group or None
        session.flush()
        return SavedFilterView(row.id, row.owner, row.name, dict(row.query), row.shared_group)


def list_filters(db: Database, *, actor: UserView) -> list[SavedFilterView]:
    """Your own filters and those shared with your groups."""
    with db.read() as session:
        return _filters_in(session, actor)


def _filters_in(session: Session, actor: UserView) -> list[SavedFilterView]:
    rows = session.scalars(
        select(SavedFilter)
        .where(or_(SavedFilter.owner == actor.username, SavedFilter.shared_group.in_(actor.groups)))
        .order_by(SavedFilter.name)
    )
    return [SavedFilterView(r.id, r.owner, r.name, dict(r.query), r.shared_group) for r in rows]


@dataclass(frozen=True)
class QueueScreen:
    """What the web queue shows besides the page of tasks."""

    page: TaskPage
    filters: list[SavedFilterView]  # mine and those shared with my groups
    process_keys: list[str]
    colleagues: list[UserView]  # who may work the page's first open task (the bulk form's choice)


def queue_screen(db: Database, *, actor: UserView, filters: TaskFilter, clock: Clock = SYSTEM_CLOCK) -> QueueScreen:
    """The web queue's data in one read transaction and a fixed number of queries (none per task)."""
    with db.read() as session:
        page = page_in(session, actor, filters, clock)
        first_open = next((task for task in page.tasks if task.status in (TaskStatus.READY, TaskStatus.CLAIMED)),
                          None)
        colleagues: list[UserView] = []
        if first_open is not None:  # read in this transaction as one the actor may work: the queue's rule
            colleagues = _who_may_work(session, TaskRecord(id=first_open.id, group=first_open.group,
                                                           unit=first_open.unit, assignee=first_open.assignee))
        return QueueScreen(page, _filters_in(session, actor), keys_in(session), colleagues)


def delete_filter(db: Database, filter_id: int, *, actor: UserView) -> None:
    with unit_of_work(db) as session:
        row = session.get(SavedFilter, filter_id)
        if row is None:
            raise NotFound(f"no saved filter {filter_id}")
        if row.owner != actor.username:
            raise Forbidden("only its owner can delete a saved filter")
        session.delete(row)


# --- a task form posted with its files ----------------------------------------------------------------

def work_on_task(
    db: Database, task_id: str, *, data_with: Callable[[Mapping[str, str]], dict[str, Any]],
    uploads: Sequence[Upload] = (), draft: bool = False, actor: Principal, clock: Clock = SYSTEM_CLOCK,
) -> None:
    """A form posted with its files: store the files, then complete the task (or keep a draft), in ONE transaction.

    ``data_with`` turns the attachment ids by field into the form data, so a form that fails validation
    leaves no attachment behind.
    """
    for upload in uploads:
        check_upload(upload.content)
    with unit_of_work(db) as session:
        row = task_for_work(session, task_id, actor)
        files = {
            upload.field: str(store_attachment(
                session, row.case_id, filename=upload.filename, content_type=upload.content_type,
                content=upload.content, actor=actor, task_id=task_id, clock=clock).id)
            for upload in uploads
        }
        data = data_with(files)
        if draft:
            keep_draft(session, task_id, data=data, actor=actor, clock=clock)
        else:
            complete_in(session, task_id, data=data, actor=actor, clock=clock)
