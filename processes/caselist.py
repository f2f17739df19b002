"""Case lists and full-text search (issue #17): "my cases", "my unit's cases", every case I may read.

One page is two statements whatever its size: a capped count and the page, each reading the case rows
(title, summary, badge, status: written by every step) joined to their process version's name. Who may
see a case is ``access.readable_cases``, the query form of ``access.may``; the search is
``store.search.matching`` (SQLite FTS5 or PostgreSQL full text).
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import load_only

from processes.access import readable_cases
from processes.clock import LOCAL_ZONE
from processes.errors import InvalidData
from processes.store import search
from processes.store.db import Database
from processes.store.models import Case, ProcessVersion
from processes.views import CaseStatus, CaseSummary, UserView

COUNT_CAP = 1000
MAX_LIMIT = 200


class Scope(enum.StrEnum):
    MINE = "mine"  # started by me, or about me (the process's subject field names me)
    UNIT = "unit"  # the cases of my units that I may read
    ALL = "all"  # every case I may read (central groups: every unit)


@dataclass(frozen=True)
class CaseFilter:
    scope: str = Scope.MINE.value
    process: str | None = None
    status: str | None = None  # running | completed | rejected | cancelled
    created_from: dt.date | None = None  # Copenhagen dates, both ends included
    created_to: dt.date | None = None
    q: str | None = None  # full-text search over titles and case data
    limit: int = 25
    offset: int = 0


@dataclass(frozen=True)
class CasePage:
    cases: list[CaseSummary]
    total: int
    total_capped: bool


def _start_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=LOCAL_ZONE).astimezone(dt.UTC)


def _checked_scope(filters: CaseFilter) -> Scope:
    try:
        scope = Scope(filters.scope)
    except ValueError:
        raise InvalidData("unknown scope", fields={"scope": "one of mine, unit, all"}) from None
    if filters.status is not None and filters.status not in {status.value for status in CaseStatus}:
        raise InvalidData("unknown status",
                          fields={"status": f"one of {', '.join(status.value for status in CaseStatus)}"})
    if not 1 <= filters.limit <= MAX_LIMIT:
        raise InvalidData("limit out of range", fields={"limit": f"from 1 to {MAX_LIMIT}"})
    if filters.offset < 0:
        raise InvalidData("negative offset", fields={"offset": "0 or more"})
    if filters.created_from and filters.created_to and filters.created_from > filters.created_to:
        raise InvalidData("created_from is after created_to", fields={"created_from": "on or before created_to"})
    return scope


def _conditions(filters: CaseFilter, actor: UserView, wanted: ColumnElement[bool] | None
                ) -> list[ColumnElement[bool]]:
    scope = _checked_scope(filters)
    conditions = [readable_cases(actor)]
    if scope is Scope.MINE:
        conditions.append(or_(Case.started_by == actor.username, Case.subject == actor.username))
    elif scope is Scope.UNIT:
        conditions.append(Case.unit.in_(actor.units))
    if filters.process:
        conditions.append(Case.process_key == filters.process)
    if filters.status:
        conditions.append(Case.status == filters.status)
    if filters.created_from:
        conditions.append(Case.created_at >= _start_of(filters.created_from))
    if filters.created_to:
        conditions.append(Case.created_at < _start_of(filters.created_to + dt.timedelta(days=1)))
    if wanted is not None:
        conditions.append(wanted)
    return conditions


def list_cases(db: Database, *, actor: UserView, filters: CaseFilter) -> CasePage:
    """One page of the cases the caller may read in the scope, newest first, and the capped total."""
    with db.read() as session:
        wanted = search.matching(session, filters.q) if filters.q and filters.q.strip() else None
        conditions = _conditions(filters, actor, wanted)
        counted = select(Case.id).where(*conditions).limit(COUNT_CAP + 1).subquery()
        found = session.scalar(select(func.count()).select_from(counted)) or 0
        rows = session.execute(
            select(Case, ProcessVersion.name, ProcessVersion.name_en)
            .options(load_only(*_LISTED))
            .join(ProcessVersion, ProcessVersion.id == Case.process_version_id)
            .where(*conditions).order_by(Case.created_at.desc(), Case.id.desc())
            .limit(filters.limit).offset(filters.offset))
        cases = [summary_of(case, name, name_en) for case, name, name_en in rows]
    return CasePage(cases, min(found, COUNT_CAP), found > COUNT_CAP)


_LISTED = (Case.id, Case.process_key, Case.unit, Case.status, Case.title, Case.summary, Case.badge,
           Case.title_en, Case.badge_en, Case.started_by, Case.subject, Case.created_at, Case.updated_at,
           Case.completed_at)


def summary_of(case: Case, process_name: str, process_name_en: str = "") -> CaseSummary:
    return CaseSummary(
        id=case.id, process=case.process_key, process_name=process_name, unit=case.unit,
        status=CaseStatus(case.status), title=case.title, summary=case.summary, badge=case.badge,
        started_by=case.started_by, subject=case.subject, created_at=case.created_at,
        updated_at=case.updated_at, completed_at=case.completed_at,
        title_en=case.title_en, badge_en=case.badge_en, process_name_en=process_name_en,
    )
