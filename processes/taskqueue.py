"""The task queue as index range scans: one arm per visibility rule, merged by the sort key.

Who sees a task is an OR (assigned to me, or my local group in one of my units, or my central group in
any unit). A database cannot walk one index in sort order for an OR, so it reads every visible row and
sorts them. Here the OR is split into arms that each are one index range with equalities only:

- one arm per (status, group, unit) the caller sees through a group: `ix_tasks_queue_*` (status, group,
  unit, <sort column>, id) hands its rows over already in sort order;
- one arm per status for the tasks assigned to the caller (`ix_tasks_assignee`: assignee, status,
  created_at, id; `ix_tasks_assignee_due` for the due sort; other sorts sort the caller's own tasks); the
  group arms leave those out, so each task comes once.

The arms are a UNION ALL with the sort as its ORDER BY: SQLite merges them ("MERGE (UNION ALL)"), so a
page reads about `offset + limit` index entries, whatever the queue's size. PostgreSQL does not merge them
(see statements()), so there each arm has its own ORDER BY and LIMIT `offset + limit + 1` (an index scan
that stops) and the few rows they give are sorted: at most that many rows per arm.

A nullable sort column (due_at, assignee) splits every arm in an IS NOT NULL and an IS NULL part,
which keeps "NULLS LAST" an index order. The total is counted up to COUNT_CAP (a LIMIT in the subquery),
and pages after the first can go by a keyset cursor instead of an offset. A page is one statement: the
merged arms in a subquery, the count as a scalar subquery, and the page's cases joined by id for their
words (``page_statement``), read as Core rows (no ORM objects for a page that is only shown).

Admins see every task of a case that is not restricted: one arm per status (no split by group; not tuned
for size). The tasks of a restricted case they see only as a member would (their own groups and units, or
assigned to them): the arms of the same user without ``admins``, kept to restricted cases (``access.may``
stops the admins' right to work every task at a restricted case, issue #14).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, func, or_, select, true, union_all
from sqlalchemy.orm import InstrumentedAttribute, Session, load_only

from processes.errors import InvalidData
from processes.people.organisation import CENTRAL_GROUPS
from processes.store.models import Case, TaskRecord, Unit
from processes.views import OPEN_TASK_STATUSES, UserView

COUNT_CAP = 1000  # the total is exact up to this many tasks; beyond it the answer is "COUNT_CAP or more"

SORTABLE: dict[str, InstrumentedAttribute[Any]] = {
    "created_at": TaskRecord.created_at, "due_at": TaskRecord.due_at, "title": TaskRecord.title,
    "unit": TaskRecord.unit, "case_id": TaskRecord.case_id, "assignee": TaskRecord.assignee,
}
NULLABLE_SORTS = frozenset({"due_at", "assignee"})
_DATETIME_SORTS = frozenset({"created_at", "due_at"})
_OPEN = tuple(status.value for status in OPEN_TASK_STATUSES)


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: the sort, its direction, and the last row's sort value and id."""

    sort: str
    descending: bool
    value: Any  # the last row's sort value (None: the last row was in the NULLS LAST tail)
    id: str

    def encode(self) -> str:
        value = self.value.isoformat() if isinstance(self.value, datetime) else self.value
        raw = json.dumps([self.sort, self.descending, value, self.id], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, *, sort: str, descending: bool) -> Cursor:
        """Read a cursor of this sort and direction; anything else is a 400 naming `cursor`."""
        try:
            raw = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            c_sort, c_descending, value, last_id = raw
            if c_sort != sort or c_descending is not descending:
                raise InvalidData("the cursor belongs to another sort",
                                  fields={"cursor": "a cursor works only with the sort and order it came from"})
            if not isinstance(last_id, str) or not (value is None or isinstance(value, str)):
                raise ValueError(text)
            if value is not None and sort in _DATETIME_SORTS:
                value = datetime.fromisoformat(value)
                if value.tzinfo is None:
                    raise ValueError(text)
            if value is None and sort not in NULLABLE_SORTS:
                raise ValueError(text)
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
            raise InvalidData("invalid cursor", fields={"cursor": "use next_cursor from the previous page"}) from None
        return cls(sort, descending, value, last_id)


@dataclass(frozen=True)
class QueueRequest:
    """What one queue page asks for, already checked by processes.tasks."""

    statuses: tuple[str, ...]
    group: str | None
    unit: str | None
    assignee: str | None  # a username or "none"
    process: str | None
    case_id: str | None
    due_before: datetime | None  # only tasks due before this instant
    not_due_before: datetime | None  # only tasks with no due time or one at or after this instant
    sort: str
    descending: bool
    limit: int
    offset: int
    cursor: Cursor | None


@dataclass(frozen=True)
class QueueResult:
    rows: list[Any]  # Rows of every task column, the total and the case's words (``case_title``, ...)
    total: int
    total_capped: bool
    next_cursor: str | None


@dataclass(frozen=True)
class _Caller:
    """What of the caller decides the queue's statements (with every unit, for a central group's member)."""

    username: str
    groups: tuple[str, ...]
    units: tuple[str, ...]
    all_units: tuple[str, ...]


def _caller(session: Session, actor: UserView) -> _Caller:
    central = any(g in CENTRAL_GROUPS for g in actor.groups)
    all_units = tuple(sorted(session.scalars(select(Unit.code)))) if central else ()
    return _Caller(actor.username, tuple(actor.groups), tuple(actor.units), all_units)


def _arm_conditions(actor: _Caller, request: QueueRequest, *, for_count: bool = False
                    ) -> list[list[ColumnElement[bool]]]:
    """The equality conditions of each arm; together they are the caller's visible tasks, each once.

    A task assigned to me in one of my (group, unit) ranges is in two arms: the page leaves it out of the
    group arm (its index has the assignee, so the arm stays an index range); the count leaves it out of my
    arm instead, so that a group arm needs no column beside those of the filter's index (the count of the
    overdue tasks reads (status, group, unit, due_at) alone, not every task's row for its assignee).
    """
    if "admins" in actor.groups:
        restricted = TaskRecord.case_id.in_(select(Case.id).where(Case.restricted.is_(True)))
        as_member = dataclasses.replace(actor, groups=tuple(group for group in actor.groups if group != "admins"))
        return ([[TaskRecord.status == status, ~restricted] for status in request.statuses]
                + [[*arm, restricted] for arm in _arm_conditions(as_member, request, for_count=for_count)])
    local = [g for g in actor.groups if g not in CENTRAL_GROUPS]
    central = [g for g in actor.groups if g in CENTRAL_GROUPS]
    pairs = [(g, u) for g in local for u in actor.units] + [(g, u) for g in central for u in actor.all_units]
    pairs = [(g, u) for g, u in pairs if request.group in (None, g) and request.unit in (None, u)]
    arms: list[list[ColumnElement[bool]]] = []
    me = actor.username
    if request.assignee != me:  # tasks assigned to me are all in my arm below when I ask for mine
        # without an assignee filter, my own tasks come from my arm only (IS DISTINCT FROM: NULL is not me)
        not_mine = [TaskRecord.assignee.is_distinct_from(me)] if request.assignee is None and not for_count else []
        arms += [[TaskRecord.status == status, TaskRecord.group == g, TaskRecord.unit == u, *not_mine]
                 for status in request.statuses for g, u in pairs]
    if request.assignee in (None, me):
        elsewhere = []  # counting: my tasks outside the group arms only (a task's group may be NULL)
        if for_count and request.assignee is None and pairs:
            elsewhere = [or_(TaskRecord.group.is_(None),
                             ~or_(*[and_(TaskRecord.group == g, TaskRecord.unit == u) for g, u in pairs]))]
        arms += [[TaskRecord.assignee == me, TaskRecord.status == status, *elsewhere] for status in request.statuses]
    return arms


def _filters(request: QueueRequest, *, for_page: bool) -> list[ColumnElement[bool]]:
    """The filters beside the arms' ranges.

    On the page query a filter on a column other than the sort column is kept off the indexes (an
    expression the planner does not match to one): otherwise the planner takes the index with the most
    equalities or the filter's range, and must sort every matching row, where the sort column's index
    hands over the first page after reading about a page of rows.
    """

    def plain(column: Any) -> Any:
        if for_page and column is not SORTABLE[request.sort]:
            return func.coalesce(column, column, type_=column.type)
        return column

    conditions: list[ColumnElement[bool]] = []
    for column, value in ((TaskRecord.group, request.group), (TaskRecord.unit, request.unit),
                          (TaskRecord.process_key, request.process)):
        if value is not None:
            conditions.append(plain(column) == value)
    if request.case_id is not None:  # a case has a handful of tasks: its own index is best
        conditions.append(TaskRecord.case_id == request.case_id)
    if request.assignee == "none":
        conditions.append(plain(TaskRecord.assignee).is_(None))
    elif request.assignee is not None:
        conditions.append(plain(TaskRecord.assignee) == request.assignee)
    if request.due_before is not None:  # "now" for the overdue filter: bound at each run (see _shape)
        conditions.append(plain(TaskRecord.due_at) < bindparam("due_before", request.due_before,
                                                               type_=TaskRecord.due_at.type))
    if request.not_due_before is not None:
        due = plain(TaskRecord.due_at)
        conditions.append(or_(due.is_(None), due >= bindparam("not_due_before", request.not_due_before,
                                                              type_=TaskRecord.due_at.type)))
    return conditions


def _after(column: Any, request: QueueRequest, cursor: Cursor, null_part: bool) -> ColumnElement[bool] | None:
    """The keyset condition of one arm part: rows after the cursor; None drops the part (nothing after it)."""
    newer = (lambda a, b: a < b) if request.descending else (lambda a, b: a > b)
    if null_part:  # the NULLS LAST tail comes after every non-null row
        return true() if cursor.value is not None else newer(TaskRecord.id, cursor.id)
    if cursor.value is None:
        return None
    at_least = column <= cursor.value if request.descending else column >= cursor.value
    return and_(at_least, or_(newer(column, cursor.value), newer(TaskRecord.id, cursor.id)))


def _parts(column: Any, request: QueueRequest, arms: Sequence[list[ColumnElement[bool]]],
           filters: list[ColumnElement[bool]]) -> list[Select[Any]]:
    parts: list[Select[Any]] = []
    splits = (False, True) if request.sort in NULLABLE_SORTS else (None,)
    for arm in arms:
        for null_part in splits:
            conditions = [*arm, *filters]
            if null_part is not None:
                conditions.append(column.is_(None) if null_part else column.is_not(None))
            if request.cursor is not None:
                after = _after(column, request, request.cursor, bool(null_part))
                if after is None:
                    continue
                conditions.append(after)
            parts.append(select(TaskRecord).where(*conditions))
    return parts


def statements(session: Session, actor: UserView, request: QueueRequest) -> tuple[Any, Any]:
    """The capped count and the page query (limit + 1 rows, to know whether a next page exists).

    Either is None when there is nothing to read: no arm, or the cursor is past every arm. The statements
    of a caller and request are built once and kept (see ``_built``).
    """
    return _built(_caller(session, actor), _shape(request), session.get_bind().dialect.name)[:2]


def page_statement(session: Session, actor: UserView, request: QueueRequest) -> Any:
    """The one statement a page runs (see ``_with_cases``): the page query with its total and cases' words."""
    return _built(_caller(session, actor), _shape(request), session.get_bind().dialect.name)[2]


_SOME_INSTANT = datetime(2000, 1, 1, tzinfo=UTC)


def _shape(request: QueueRequest) -> QueueRequest:
    """The request as the statements' cache knows it: the due-date bounds (the overdue filter's "now", new
    on every request) only as set or not; their values are bound when the statement runs (``_bounds``)."""
    if request.due_before is None and request.not_due_before is None:
        return request
    return dataclasses.replace(request, due_before=request.due_before and _SOME_INSTANT,
                               not_due_before=request.not_due_before and _SOME_INSTANT)


def _bounds(request: QueueRequest) -> dict[str, datetime]:
    """The values of the due-date bounds of this request (the parameters ``_filters`` binds)."""
    bounds = {"due_before": request.due_before, "not_due_before": request.not_due_before}
    return {name: value for name, value in bounds.items() if value is not None}


@functools.lru_cache(maxsize=256)
def _built(actor: _Caller, request: QueueRequest, dialect: str) -> tuple[Any, Any, Any]:
    """``statements`` and the page with its cases' words, kept for the next request of the same caller,
    filters and database: building the arms and their cache key cost more than running them (a queue of a
    few tasks)."""
    count, page = _statements(actor, request, dialect)
    return count, page, None if page is None else _with_cases(page, count, request)


CASE_WORDS = ("title", "summary", "badge", "title_en", "badge_en")  # what a queue row shows of its case


def _with_cases(page: Any, count: Any, request: QueueRequest) -> Select[Any]:
    """The page's rows (every task column), the capped count as ``queue_total``, and their cases' words,
    ``case_<word>``, in the page's order: one statement where there were three (page, count, cases by id).

    The join is outside the page's UNION ALL (a subquery with its LIMIT), so the arms keep their index order
    and it looks up only the page's rows; the count is an uncorrelated scalar subquery, run once.
    """
    rows = page.subquery("page")
    words = [getattr(Case, word).label(f"case_{word}") for word in CASE_WORDS]
    return (select(*rows.c, count.scalar_subquery().label("queue_total"), *words)
            .select_from(rows).outerjoin(Case, Case.id == rows.c.case_id)
            .order_by(*_order(request, rows.c[SORTABLE[request.sort].key], rows.c.id)))


def _statements(actor: _Caller, request: QueueRequest, dialect: str) -> tuple[Any, Any]:
    arms = _arm_conditions(actor, request)
    if not arms:
        return None, None
    counted = union_all(*[select(TaskRecord.id).where(*arm, *_filters(request, for_page=False))
                          for arm in _arm_conditions(actor, request, for_count=True)]).limit(COUNT_CAP + 1)
    count = select(func.count()).select_from(counted.subquery())
    parts = _parts(SORTABLE[request.sort], request, arms, _filters(request, for_page=True))
    if not parts:
        return count, None
    if len(parts) > 1 and dialect == "postgresql":
        # PostgreSQL does not merge the arms of a UNION ALL in index order (its Merge Append needs the sort
        # keys in every arm's equivalence classes, and an arm's own equalities are not there): it would read
        # every visible row and sort them. So each arm stops by itself after the rows the page can use.
        wanted = request.offset + request.limit + 1
        parts = [part.order_by(*_order(request, SORTABLE[request.sort], TaskRecord.id)).limit(wanted)
                 for part in parts]
    compound = union_all(*parts)
    key, last = compound.selected_columns[SORTABLE[request.sort].key], compound.selected_columns["id"]
    return count, compound.order_by(*_order(request, key, last)).limit(request.limit + 1).offset(request.offset)


def _order(request: QueueRequest, key: Any, last: Any) -> list[Any]:
    """The page's order: the sort column (empty values last), then the id."""
    nullable = request.sort in NULLABLE_SORTS
    if request.descending:
        return [key.desc().nulls_last() if nullable else key.desc(), last.desc()]
    return [key.asc().nulls_last() if nullable else key.asc(), last.asc()]


def queue_page(session: Session, actor: UserView, request: QueueRequest) -> QueueResult:
    """One page of the caller's queue, the capped total, and the cursor of the next page.

    The rows are the page query's rows: every task column, the total, and the case's words for
    ``cases_of``. Only a page with no rows after an offset or a cursor runs the count by itself.
    """
    count, _page, page = _built(_caller(session, actor), _shape(request), session.get_bind().dialect.name)
    connection = session.connection()  # Core rows: no ORM objects to build for a page that is only shown
    bounds = _bounds(request)
    rows: list[Any] = list(connection.execute(page, bounds).all()) if page is not None else []
    if rows:
        found = rows[0].queue_total
    elif request.offset == 0 and request.cursor is None:
        found = 0  # the first page is empty: so is the queue
    else:
        found = (connection.scalar(count, bounds) or 0) if count is not None else 0
    next_cursor = None
    if len(rows) > request.limit:
        rows = rows[: request.limit]
        tail = rows[-1]
        key = SORTABLE[request.sort].key
        next_cursor = Cursor(request.sort, request.descending, getattr(tail, key), tail.id).encode()
    return QueueResult(rows, min(found, COUNT_CAP), found > COUNT_CAP, next_cursor)


@dataclass(frozen=True)
class CaseWords:
    """What a queue row shows of its case (the attributes of ``Case`` that ``caseview.task_view`` reads)."""

    title: str
    summary: str
    badge: str
    title_en: str
    badge_en: str


def cases_of(session: Session, rows: Sequence[Any]) -> dict[str, Any]:
    """The cases of a page's tasks (title, summary, badge for the rows): read with the page by ``queue_page``
    (no statement), or for task rows without them in one statement."""
    if all(hasattr(row, "case_title") for row in rows):
        words = -len(CASE_WORDS)  # the page's last columns (see _with_cases)
        return {row.case_id: CaseWords(*row[words:])
                for row in rows if row.case_title is not None}  # NULL: no case (the join is an outer one)
    ids = sorted({row.case_id for row in rows})
    if not ids:
        return {}
    return {case.id: case for case in session.scalars(_CASES_OF_ROWS, {"ids": ids})}


_CASES_OF_ROWS = (select(Case).options(load_only(Case.id, Case.title, Case.summary, Case.badge, Case.title_en,
                                                 Case.badge_en))
                  .where(Case.id.in_(bindparam("ids", expanding=True))))  # built once, like the arms
