"""Who may see and act: ``may(principal, action, target)`` decides every read and write of a case, a task, a
comment, an attachment, a case's links and the reports; the use cases ask it and nothing else, so the web
pages, the API and a signed link's page can never disagree.

A principal is a user (``UserView``), a signed link (``LinkGrant``: one case and the tasks it names) or
nobody (None). The rules, in words:

- A task of lane G in unit U is for the members of G in U (central groups: every unit); a task assigned to
  one named person (``assignTo`` = starter, or property ``assignee``) is that person's only: its row has no
  group, so no queue of a group shows it. Admins may work every task.
- A case may be read by its starter, by whoever may see one of its tasks (open or done), by the central
  groups, and by the members of the groups the process property ``readers`` names (in the case's unit, or
  central); comments and attachments go with the case.
- A message is posted into a case by whoever may read it, unless the event waiting for it names its
  ``senders`` (``starter``, group codes, ``readers``, ``link`` for the case's signed links, ``process`` for
  other cases only): ``may_send_message``.
- A *restricted* case (process property ``sensitivity`` = ``restricted``) may be read only by its subject
  (the starter, or the user named by the case data field the process property ``subject`` names), the people
  holding or having held its tasks, those who may work one of its open tasks now, and the members of the
  groups the process property ``readers`` names (in the case's unit, or central). Central groups and admins
  do not see it by default, nor its tasks (the admins' right to work every task stops at a restricted
  case). Every read of it, allowed or refused, is recorded in ``case_reads``.
- A signed link reads and works the tasks it names (the link page) and attaches files through their
  forms; it posts the messages whose ``senders`` name ``link`` into its own case; it never reads the case
  itself, its comments or attachments, nor manages links.
- The case's handlers (who may work or have worked one of its tasks, and admins unless the case is
  restricted) create, renew and revoke its links.
- The reports (statistics) are for process owners, DTU Arbejdsmiljø and admins; a process's statistics
  (``StatisticsOf``) also for the groups its ``statisticsReaders`` names, in their own units.
- The modeler (its pages and API: drafts, validation, deploys, diffs, roll-backs, migrations, forms and
  rule data) is for process owners and admins; managing groups and their members is for admins.

:func:`readable_cases` is the READ rule for cases as a SQL condition (case lists and search); a test keeps
it equal to ``may`` over a matrix of users and cases.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    exists,
    false,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session

from processes.deployments import SPEC_CACHE
from processes.errors import Conflict, Forbidden, NotFound
from processes.people.identity import may_work, sees_all_units
from processes.people.organisation import CENTRAL_GROUPS
from processes.store.db import Database
from processes.store.models import (
    Attachment,
    Case,
    CaseRead,
    Comment,
    ProcessVersion,
    TaskRecord,
)
from processes.views import (
    OPEN_TASK_STATUSES,
    LinkGrant,
    StartGrant,
    TaskStatus,
    UserView,
)

OPEN = [status.value for status in OPEN_TASK_STATUSES]
REPORT_GROUPS = frozenset({"process-owners", "arbejdsmiljo", "admins"})
REPORTS = "reports"
MODELER = "modeler"
MODELER_GROUPS = frozenset({"process-owners", "admins"})
GROUPS = "groups"

Principal = UserView | LinkGrant | StartGrant | None


@dataclass(frozen=True)
class StatisticsOf:
    """The statistics of a process in one unit (``unit`` None: in every unit)."""

    process: str
    unit: str | None


@dataclass(frozen=True)
class StartOf:
    """Starting a case of a process in one unit (a start link's target)."""

    process: str
    unit: str


Target = Case | TaskRecord | Comment | Attachment | StatisticsOf | StartOf | str | None


class Action(enum.StrEnum):
    READ = "read"  # a case (page, API, diagram, history), a task, a comment, an attachment; the reports
    WORK = "work"  # claim, give back, keep a draft of, complete an open task
    COMMENT = "comment"  # add a comment to a case
    ATTACH = "attach"  # add a file to a case
    MANAGE_LINKS = "manage_links"  # create, renew, revoke a case's signed links; list them
    MODEL = "model"  # the modeler: edit, validate, deploy, diff, roll back, migrate; forms and rule data
    MANAGE = "manage"  # the groups and their members
    START = "start"  # start a case of the process in the unit (StartOf): only through a start link
    MANAGE_START_LINKS = "manage_start_links"  # create, revoke, list the start links of a process in a unit


def actor_name(principal: Principal) -> str | None:
    """How the history names the principal: a username, or "link for <name/e-mail>"."""
    return None if principal is None else principal.username


# --- the decision ----------------------------------------------------------------------------------------

def may(session: Session, principal: Principal, action: Action, target: Target) -> bool:
    """Whether ``principal`` may do ``action`` on ``target`` (a row, or REPORTS); never raises."""
    if principal is None:
        return False
    if isinstance(target, Comment | Attachment):  # a comment or a file goes with its case; never to a link
        case = session.get(Case, target.case_id)
        return (action is Action.READ and case is not None and not isinstance(principal, LinkGrant | StartGrant)
                and may(session, principal, action, case))
    if isinstance(principal, LinkGrant | StartGrant):
        return _link_may(principal, action, target)
    if isinstance(target, TaskRecord | Case):
        return (_user_may_task(session, principal, action, target) if isinstance(target, TaskRecord)
                else _user_may_case(session, principal, action, target))
    if isinstance(target, StatisticsOf | StartOf):
        return _user_may_process(session, principal, action, target)
    return _user_may_area(principal, action, target)


def _user_may_process(session: Session, actor: UserView, action: Action, target: StatisticsOf | StartOf) -> bool:
    """What concerns a process in a unit rather than one case: its statistics, its start links."""
    if isinstance(target, StartOf):
        return action is Action.MANAGE_START_LINKS and _user_may_start_links(session, actor, target)
    return action is Action.READ and _user_may_statistics(session, actor, target)


def _user_may_area(actor: UserView, action: Action, target: str | None) -> bool:
    """The areas that are no row: the reports, the modeler, the groups."""
    wanted = {REPORTS: (Action.READ, REPORT_GROUPS), MODELER: (Action.MODEL, MODELER_GROUPS),
              GROUPS: (Action.MANAGE, frozenset({"admins"}))}.get(target or "")
    return wanted is not None and action is wanted[0] and bool(set(actor.groups) & wanted[1])


def _user_may_task(session: Session, actor: UserView, action: Action, task: TaskRecord) -> bool:
    if action is Action.READ:
        return _may_work(session, actor, task) or task.completed_by == actor.username
    return action is Action.WORK and task.status in OPEN and _may_work(session, actor, task)


def _may_work(session: Session, actor: UserView, task: TaskRecord) -> bool:
    """``may_work``, except that the admins' bypass does not reach the tasks of a restricted case."""
    if not may_work(actor, task):
        return False
    if "admins" not in actor.groups:
        return True
    as_member = dataclasses.replace(actor, groups=[group for group in actor.groups if group != "admins"])
    if may_work(as_member, task):
        return True
    case = session.get(Case, task.case_id)
    return case is None or not is_restricted(session, case)


def _user_may_case(session: Session, actor: UserView, action: Action, case: Case) -> bool:
    if action in (Action.READ, Action.COMMENT, Action.ATTACH):
        return may_read_case(session, case, actor)
    return action is Action.MANAGE_LINKS and _handles(session, case, actor)


def _user_may_statistics(session: Session, actor: UserView, target: StatisticsOf) -> bool:
    """The reports' groups see every process's statistics; the groups a process names in
    ``statisticsReaders`` see its statistics of their own units (a central group: of every unit)."""
    if set(actor.groups) & REPORT_GROUPS:
        return True
    version = session.scalar(select(ProcessVersion.id).where(ProcessVersion.key == target.process)
                             .order_by(ProcessVersion.version.desc()).limit(1))
    if version is None:
        return False
    readers = set(SPEC_CACHE.get(session, version).parsed.statistics_readers) & set(actor.groups)
    if readers & CENTRAL_GROUPS:
        return True
    return bool(readers) and target.unit is not None and target.unit in actor.units


def _user_may_start_links(session: Session, actor: UserView, target: StartOf) -> bool:
    """Start links of a process that allows them (``startByLink``) are made by the members of its ``readers``
    groups in that unit (a central reader group: any unit) and by the central groups (DTU Arbejdsmiljø, CAS,
    admins, ...): those who would handle the case it starts."""
    version = session.scalar(select(ProcessVersion.id).where(ProcessVersion.key == target.process)
                             .order_by(ProcessVersion.version.desc()).limit(1))
    if version is None:
        return False
    parsed = SPEC_CACHE.get(session, version).parsed
    if not parsed.start_by_link:
        return False
    if set(actor.groups) & CENTRAL_GROUPS:
        return True
    readers = set(parsed.readers) & set(actor.groups)
    return any(group in CENTRAL_GROUPS or target.unit in actor.units for group in readers)


def _link_may(link: LinkGrant | StartGrant, action: Action, target: Target) -> bool:
    if isinstance(link, StartGrant):  # one start of its process in its unit, nothing else at all
        return (action is Action.START and isinstance(target, StartOf) and target.process == link.process
                and target.unit == link.unit)
    if isinstance(target, Case):  # the link page shows its tasks, not the case; files come with its forms
        return target.id == link.case_id and action is Action.ATTACH
    if isinstance(target, TaskRecord):
        if target.case_id != link.case_id or target.name not in link.tasks:
            return False
        return action is Action.READ or (action is Action.WORK and target.status in OPEN)
    return False


def _working_clause(actor: UserView) -> ColumnElement[bool]:
    """The tasks the user holds, held, or may work through a lane (no admin bypass)."""
    local = [g for g in actor.groups if g not in CENTRAL_GROUPS]
    central = [g for g in actor.groups if g in CENTRAL_GROUPS]
    clauses = [TaskRecord.assignee == actor.username, TaskRecord.completed_by == actor.username]
    if local and actor.units:
        clauses.append(and_(TaskRecord.group.in_(local), TaskRecord.unit.in_(actor.units)))
    if central:
        clauses.append(TaskRecord.group.in_(central))
    return or_(*clauses) if clauses else false()


def _has_task(session: Session, case: Case, clause: ColumnElement[bool]) -> bool:
    query = select(TaskRecord.id).where(TaskRecord.case_id == case.id, clause).limit(1)
    return session.scalar(query) is not None


def case_rules(session: Session, case: Case) -> tuple[bool, tuple[str, ...], str | None]:
    """(restricted, reader groups, the data field naming the subject) of the case's process version."""
    parsed = SPEC_CACHE.get(session, case.process_version_id).parsed
    return parsed.sensitivity == "restricted", parsed.readers, parsed.subject


def is_restricted(session: Session, case: Case) -> bool:
    return case_rules(session, case)[0]


def may_read_case(session: Session, case: Case, actor: UserView) -> bool:
    restricted, readers, subject_field = case_rules(session, case)
    if not restricted:
        if case.started_by == actor.username or sees_all_units(actor) or _reads_as_group(case, actor, readers):
            return True
        return _has_task(session, case, _working_clause(actor))
    subject = case.data.get(subject_field) if subject_field and isinstance(case.data, dict) else None
    if actor.username in (case.started_by, subject):
        return True
    if _reads_as_group(case, actor, readers):
        return True
    held = or_(TaskRecord.assignee == actor.username, TaskRecord.completed_by == actor.username)
    if _has_task(session, case, held):
        return True
    open_for_me = and_(TaskRecord.status.in_(OPEN), _working_clause(actor))
    return _has_task(session, case, open_for_me)


LINK_SENDER = "link"  # senders word: a signed link of the case (its holder, e.g. a contractor's site lead)
READERS_SENDER = "readers"  # senders word: whoever may read the case (the default without ``senders``)


def may_send_message(session: Session, case: Case, actor: Principal, senders: tuple[str, ...]) -> bool:
    """Whether the principal may post a message into the case: whoever may read it, unless the waiting event's
    property ``senders`` names who may (``starter``; group codes, in the case's unit or central; ``readers``:
    whoever may read the case; ``link``: a signed link of this case, whose holder has no account; ``process``
    alone: only another case's ``send_message`` task, never a person)."""
    if isinstance(actor, LinkGrant):  # a live link (grant_for checked it) of this very case, if the event says so
        return LINK_SENDER in senders and actor.case_id == case.id
    if not isinstance(actor, UserView) or not may_read_case(session, case, actor):
        return False
    if not senders or READERS_SENDER in senders:
        return True
    if "starter" in senders and case.started_by == actor.username:
        return True
    return any(group in CENTRAL_GROUPS or case.unit in actor.units for group in set(senders) & set(actor.groups))


def _reads_as_group(case: Case, actor: UserView, readers: tuple[str, ...]) -> bool:
    """A member of one of the process's ``readers`` groups, in the case's unit (or a central group)."""
    return any(group in CENTRAL_GROUPS or case.unit in actor.units for group in set(readers) & set(actor.groups))


def readable_cases(actor: UserView) -> ColumnElement[bool]:
    """``may(actor, READ, case)`` as a condition on ``cases``, for lists and search: the same rules, read
    from the case row (``restricted``, ``subject``, ``readers``, written by every step) and its tasks."""
    working = _working_clause(actor)
    mine = Case.started_by == actor.username

    def has_task(clause: ColumnElement[bool]) -> ColumnElement[bool]:
        return exists().where(TaskRecord.case_id == Case.id, clause)

    reader_groups: list[ColumnElement[bool]] = []
    for group in actor.groups:
        named = Case.readers.contains(f" {group} ", autoescape=True)
        if group in CENTRAL_GROUPS:
            reader_groups.append(named)
        elif actor.units:
            reader_groups.append(and_(named, Case.unit.in_(actor.units)))
    normal = or_(mine, true() if sees_all_units(actor) else false(), *reader_groups, has_task(working))
    restricted = or_(
        mine, Case.subject == actor.username, *reader_groups,
        has_task(or_(TaskRecord.assignee == actor.username, TaskRecord.completed_by == actor.username)),
        has_task(and_(TaskRecord.status.in_(OPEN), working)),
    )
    return or_(and_(Case.restricted.is_(False), normal), and_(Case.restricted.is_(True), restricted))


def _handles(session: Session, case: Case, actor: UserView) -> bool:
    """The case's handlers: who may work or has worked one of its tasks; admins unless it is restricted."""
    if "admins" in actor.groups and not is_restricted(session, case):
        return True
    return _has_task(session, case, _working_clause(actor))


# --- rows for the use cases --------------------------------------------------------------------------------

def task_for_work(session: Session, task_id: str, actor: Principal) -> TaskRecord:
    """The open task, if the caller may work on it (NotFound / Forbidden / Conflict otherwise)."""
    row = session.get(TaskRecord, task_id)
    if row is None:
        raise NotFound(f"no task {task_id!r}")
    if not may(session, actor, Action.WORK, _as_open(row)):
        raise Forbidden("this task belongs to another group or unit")
    if row.status not in OPEN:
        raise Conflict(f"the task is already {row.status}")
    return row


def _as_open(row: TaskRecord) -> TaskRecord:
    """The permission question for a task that is no longer open: would the caller have been allowed?

    A done task is a Conflict (409) for those who could have worked it, and a 403 for the others.
    """
    if row.status in OPEN:
        return row
    probe = TaskRecord(id=row.id, case_id=row.case_id, name=row.name, group=row.group, unit=row.unit,
                       assignee=row.assignee, status=TaskStatus.READY.value)
    return probe


def case_for(session: Session, case_id: str, actor: Principal, action: Action = Action.READ) -> Case:
    """The case, if the caller may do ``action`` on it (NotFound / Forbidden otherwise); no read audit."""
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"no case {case_id!r}")
    if not may(session, actor, action, case):
        raise Forbidden("you have no task in this case")
    return case


case_for_reading = case_for


@contextlib.contextmanager
def reading(db: Database, case_id: str, actor: Principal, what: str) -> Iterator[tuple[Session, Case]]:
    """A read transaction with the case, if the caller may read it; a restricted case's read is recorded.

    The record is written in its own transaction after the read (also when the read is refused), so a
    refused read leaves its trace although the caller gets Forbidden.
    """
    with db.read() as session:
        case = session.get(Case, case_id)
        if case is None:
            raise NotFound(f"no case {case_id!r}")
        restricted = is_restricted(session, case)
        allowed = may(session, actor, Action.READ, case)
        if allowed:
            yield session, case
    if restricted:
        record_read(db, case_id, actor, what, allowed=allowed)
    if not allowed:
        raise Forbidden("you have no task in this case")


def record_read(db: Database, case_id: str, actor: Principal, what: str, *, allowed: bool) -> None:
    with db.write() as session:
        session.add(CaseRead(case_id=case_id, actor=actor_name(actor), what=what[:100], allowed=allowed))


_TASK_AND_CASE = (select(TaskRecord, Case).join(Case, Case.id == TaskRecord.case_id)
                  .where(TaskRecord.id == bindparam("task_id")))


@contextlib.contextmanager
def task_for_reading(db: Database, task_id: str, actor: Principal) -> Iterator[tuple[Session, TaskRecord]]:
    """A read transaction with the task, if the caller may read it; reads of a restricted case's task are
    recorded like reads of the case."""
    with db.read() as session:
        loaded = session.execute(_TASK_AND_CASE, {"task_id": task_id}).first()  # the task and its case at once
        if loaded is None:
            raise NotFound(f"no task {task_id!r}")
        row, case = loaded
        assert case is not None
        restricted = is_restricted(session, case)
        allowed = may(session, actor, Action.READ, row)
        case_id = case.id
        if allowed:
            yield session, row
    if restricted:
        record_read(db, case_id, actor, f"task {task_id}", allowed=allowed)
    if not allowed:
        raise Forbidden("this task belongs to another group or unit")
