"""What a case's readers see: the case view (bounded, so it costs the same at any age), its tasks and its
decisions with what explains them. Who may see it is decided in ``access``; this module only draws it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Select, bindparam, cast, literal, null, select, union_all
from sqlalchemy.orm import Session

from processes.access import OPEN
from processes.deployments import SPEC_CACHE
from processes.store.audit import RECENT_HISTORY, history, write_pending
from processes.store.db import DECISIONS_RECORDED, OPEN_ROWS_KNOWN
from processes.store.models import AuditEvent, Case, DecisionRecord, Incident, TaskRecord
from processes.views import (
    CaseStatus,
    CaseView,
    DecisionView,
    FormView,
    HistoryEntry,
    IncidentView,
    TaskStatus,
    TaskView,
)


def task_view(row: TaskRecord | Row[Any], form: FormView | None = None, case: Case | None = None) -> TaskView:
    """The task as its readers see it; with its case, what the case is about (title, summary, badge)."""
    return TaskView(
        id=row.id, case_id=row.case_id, process=row.process_key, name=row.name, title=row.title,
        title_en=row.title_en or "",
        group=row.group, unit=row.unit, assignee=row.assignee, status=TaskStatus(row.status),
        due_at=row.due_at, created_at=row.created_at, completed_at=row.completed_at,
        completed_by=row.completed_by, form_name=row.form, form=form,
        case_title=case.title if case is not None else "", case_summary=case.summary if case is not None else "",
        case_badge=case.badge if case is not None else "",
        case_title_en=case.title_en if case is not None else "",
        case_badge_en=case.badge_en if case is not None else "",
    )


RECENT_DECISIONS = 50
"""How many of a case's newest decisions a case view carries (a case that loops may take one per round)."""


@dataclass(frozen=True)
class _Decision:
    """A decision row of ``_CASE_PARTS``, as ``decision_view`` reads it."""

    id: int
    task: str | None
    ruleset: str
    decision: Any
    fired: Any
    parameters: Any
    on: Any
    at: Any
    facts: Any
    derived: Any
    ruleset_version: str | None
    parameters_version: str | None
    law_date_from: str | None


def decision_view(row: DecisionRecord | Row[Any] | _Decision) -> DecisionView:
    """A decision with what explains it: facts, derived facts, the law's date and the document versions."""
    return DecisionView(
        ruleset=row.ruleset, decision=row.decision, fired=row.fired, parameters=row.parameters, at=row.at,
        task=row.task, on=row.on.isoformat(), law_date_from=row.law_date_from, facts=row.facts or {},
        derived=row.derived or {}, ruleset_version=row.ruleset_version, parameters_version=row.parameters_version,
    )


# The case view's queries, built once (building a statement and its cache key costs as much as running it);
# read as plain rows on the session's connection, past the ORM (a view needs no identity map).
_OPEN_TASKS_OF_CASE = (select(TaskRecord.__table__)
                       .where(TaskRecord.case_id == bindparam("case_id"), TaskRecord.status.in_(OPEN))
                       .order_by(TaskRecord.created_at, TaskRecord.id))


_DECISION_COLUMNS = tuple(DecisionRecord.__table__.c[name] for name in (
    "id", "task", "ruleset", "decision", "fired", "parameters", "on", "at", "facts", "derived", "ruleset_version",
    "parameters_version", "law_date_from"))
_INCIDENT_COLUMNS = (Incident.id, Incident.kind, Incident.message, Incident.at, Incident.resolved_at)
_EVENT_COLUMNS = (AuditEvent.id, AuditEvent.at, AuditEvent.actor, AuditEvent.kind, AuditEvent.detail)
_PARTS = {"d": _DECISION_COLUMNS, "i": _INCIDENT_COLUMNS, "h": _EVENT_COLUMNS}
_PLACES = {name: (1 + sum(len(_PARTS[before]) for before in list(_PARTS)[:index]), len(columns))
           for index, (name, columns) in enumerate(_PARTS.items())}  # where each part's columns are in a row


def _arm(part: str, query: Any) -> Select[Any]:
    """One arm of ``_CASE_PARTS``: its part's columns in their own places, typed NULLs in the other parts'."""
    inner = query.subquery()
    columns: list[Any] = [literal(part).label("part")]
    for name, own in _PARTS.items():
        for index, column in enumerate(own):
            value = inner.c[column.name] if name == part else cast(null(), column.type)
            columns.append(value.label(f"{name}{index}"))
    return select(*columns)


_CASE_PARTS = union_all(
    _arm("d", select(*_DECISION_COLUMNS).where(DecisionRecord.case_id == bindparam("case_id"))
         .order_by(DecisionRecord.id.desc()).limit(RECENT_DECISIONS)),
    _arm("i", select(*_INCIDENT_COLUMNS).where(Incident.case_id == bindparam("case_id"))),
    _arm("h", select(*_EVENT_COLUMNS).where(AuditEvent.case_id == bindparam("case_id"))
         .order_by(AuditEvent.id.desc()).limit(RECENT_HISTORY + 1)),
)
"""A case's newest decisions, its incidents and its newest events (one more than a view shows: are there older
ones?), in one statement: each part in its own columns, NULL in the others' (so both databases type them)."""


def _case_parts(
    session: Session, case_id: str
) -> tuple[list[DecisionView], list[IncidentView], list[HistoryEntry], int | None]:
    """The parts of a case view that only a query can know: decisions, incidents, the newest history page."""
    write_pending(session)  # the events this transaction recorded are part of the history
    parts: dict[str, list[tuple[Any, ...]]] = {"d": [], "i": [], "h": []}
    for row in session.connection().execute(_CASE_PARTS, {"case_id": case_id}):
        start, count = _PLACES[row[0]]
        parts[row[0]].append(tuple(row[start:start + count]))
    decisions = [decision_view(_Decision(*values)) for values in sorted(parts["d"])]
    incidents = [IncidentView(kind=kind, message=message, at=at, resolved_at=resolved_at)
                 for _id, kind, message, at, resolved_at in sorted(parts["i"])]
    events = sorted(parts["h"], reverse=True)
    older = None
    if len(events) > RECENT_HISTORY:
        events = events[:RECENT_HISTORY]
        older = events[-1][0]
    history_page = [HistoryEntry(at=at, actor=actor, kind=kind, detail=detail)
                    for _id, at, actor, kind, detail in reversed(events)]
    return decisions, incidents, history_page, older


def case_view(session: Session, case: Case, *, new: bool = False) -> CaseView:
    """The case as its readers see it; every part is bounded, so reading it costs the same at any age.

    ``new``: the case was created in this transaction, so its decisions are the ones in the session and it
    has no incidents (only the timer worker and webhook deliveries record those, in transactions of their
    own): neither is queried.
    """
    session.flush()  # the rows read below past the ORM include this transaction's own
    connection = session.connection()
    incidents: list[IncidentView] = []
    if new:
        held: list[DecisionRecord] = session.info.get(DECISIONS_RECORDED, {}).get(case.id, [])
        decisions = [decision_view(row) for row in sorted(held, key=lambda row: row.id)[-RECENT_DECISIONS:]]
        recent, older = history(session, case.id, limit=RECENT_HISTORY)
    else:
        decisions, incidents, recent, older = _case_parts(session, case.id)
    known = session.info.get(OPEN_ROWS_KNOWN, {}).pop(case.id, None)  # a step just wrote them: no query
    open_rows = (sorted((row for row in known if row.status in OPEN), key=lambda row: (row.created_at, row.id))
                 if known is not None else connection.execute(_OPEN_TASKS_OF_CASE, {"case_id": case.id}).all())
    loaded = SPEC_CACHE.get(session, case.process_version_id)
    version = loaded.version
    return CaseView(
        id=case.id, process=case.process_key, version=version, unit=case.unit, status=CaseStatus(case.status),
        data=case.data,
        decisions=decisions,
        tasks=[task_view(row, case=case) for row in open_rows], history=recent,
        incidents=incidents,
        created_at=case.created_at, updated_at=case.updated_at, started_by=case.started_by, revision=case.revision,
        history_next_cursor=None if older is None else str(older),
        title=case.title, summary=case.summary, badge=case.badge, title_en=case.title_en, badge_en=case.badge_en,
        process_name=loaded.parsed.name, process_name_en=loaded.parsed.name_en,
    )
