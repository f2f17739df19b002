"""Use cases on a case as a whole: start one, read one, see its path on the diagram.

Each call is one transaction: it commits whole or changes nothing. A case moves on only through
``advance.advance_case``; the case row's revision is checked by the UPDATE, so a concurrent change of the
same case fails with Conflict; on SQLite writers are also serialised by ``BEGIN IMMEDIATE``, so the loser
sees the winner's result and gets Conflict before doing anything.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from processes import bundles
from processes.access import Action, is_restricted, may, readable_cases, reading
from processes.advance import OPEN, new_case
from processes.caseview import case_view
from processes.clock import SYSTEM_CLOCK, Clock
from processes.deployments import SPEC_CACHE, latest_version, latest_versions, process_view
from processes.engine import elements, events
from processes.engine.elements import step_names
from processes.engine.loader import ParsedProcess
from processes.errors import Forbidden, InvalidData
from processes.people import organisation
from processes.people.identity import sees_all_units
from processes.store.audit import HIDDEN_KINDS, MAX_HISTORY_PAGE, RECENT_HISTORY, AuditKind, history, write_pending
from processes.store.db import Database, unit_of_work
from processes.store.models import AuditEvent, Case, ProcessVersion, TaskRecord, Unit
from processes.views import (
    CaseReference,
    CaseStatus,
    CaseView,
    FormView,
    HistoryPage,
    ProcessCaseList,
    ProcessCaseRow,
    ProcessDetail,
    ProcessView,
    UserView,
)


def _check_unit(actor: UserView, unit: str) -> None:
    if unit not in actor.units and not sees_all_units(actor):
        raise Forbidden(f"you are not a member of unit {unit!r}", fields={"unit": "not one of your units"})


HAND_STARTERS = "process-owners,admins"


def _check_hand_start(parsed: ParsedProcess, actor: UserView) -> None:
    """A process the worker starts by time (a campaign) is started by hand only by the groups its start names.

    Property ``startGroups`` of the timer start event: group codes separated by commas (default: process
    owners and administrators).
    """
    timer = events.timer_start_of(parsed.spec)
    if timer is None:
        return
    groups = {code.strip() for code in timer.properties.get("startGroups", HAND_STARTERS).split(",") if code.strip()}
    if not groups & set(actor.groups):
        raise Forbidden(f"only {', '.join(sorted(groups))} may start {parsed.key!r} by hand",
                        fields={"process": "started by time; by hand only by " + ", ".join(sorted(groups))})


def start_case(
    db: Database, *, process: str, unit: str | None, data: Any, actor: UserView, clock: Clock = SYSTEM_CLOCK,
    related_case: str | None = None,
) -> CaseView:
    """Start the newest version of a process for a unit, with the start form's data.

    A process with property ``startedFrom`` is started from a case (``related_case``): a running case of one
    of the named processes, by its starter; the new case is in that case's unit and gets its data as
    ``related`` (see ``_related``). ``unit`` may then be None.
    """
    with unit_of_work(db) as session:
        version = latest_version(session, process)  # an unknown process is a 404 before a unit question is a 403
        parsed = SPEC_CACHE.get(session, version.id).parsed
        related = _related(session, parsed, related_case, actor)
        if related is not None:
            unit = related.unit
        if not unit:
            raise InvalidData("a unit is needed", fields={"unit": "required"})
        _check_unit(actor, unit)
        _check_hand_start(parsed, actor)
        case = new_case(session, process=process, unit=unit, data=data, starter=actor.username, clock=clock,
                        related=None if related is None else _related_data(session, related), version=version)
        return case_view(session, case, new=True)


def _related(session: Session, parsed: ParsedProcess, related_case: str | None, actor: UserView) -> Case | None:
    """The case a ``startedFrom`` process is started from, checked; None for any other process."""
    if not parsed.started_from:
        if related_case is not None:
            raise InvalidData(f"{parsed.key!r} is not started from another case",
                              fields={"related_case": "this process is not started from a case"})
        return None
    wanted = f"start it from a running case of {', '.join(parsed.started_from)} that you started"
    if not related_case:
        raise InvalidData(f"{parsed.key!r} is started from another case", fields={"related_case": wanted})
    found = session.get(Case, related_case) if len(related_case) <= 36 else None
    if (found is None or found.process_key not in parsed.started_from or found.started_by != actor.username
            or found.status != CaseStatus.RUNNING.value):
        raise InvalidData(f"case {related_case!r} cannot start {parsed.key!r}", fields={"related_case": wanted})
    return found


def _related_data(session: Session, related: Case) -> dict[str, Any]:
    """What the new case knows of the case it is started from: its id, process and data. A case that another
    case started (a follow-up case) is seen with the data of the case that started it beneath its own."""
    data = dict(related.data or {})
    started = session.scalar(select(AuditEvent.detail).where(
        AuditEvent.case_id == related.id, AuditEvent.kind == AuditKind.CASE_STARTED.value).limit(1))
    parent_id = (started or {}).get("parent_case")
    parent = session.get(Case, parent_id) if parent_id else None
    if parent is not None:
        data = {**(parent.data or {}), **data}
    return {"case_id": related.id, "process": related.process_key, "data": data}


def related_starts(db: Database, case_id: str, *, actor: UserView) -> list[ProcessView]:
    """The processes the caller may start from this case now (``startedFrom`` names its process)."""
    with reading(db, case_id, actor, "case") as (session, case):
        if case.status != CaseStatus.RUNNING.value or case.started_by != actor.username:
            return []
        found = []
        for row in latest_versions(session):
            if case.process_key in SPEC_CACHE.get(session, row.id).parsed.started_from:
                found.append(process_view(row))
        return found


MAX_LISTED = 500
_SCANNED = 5_000


def process_cases(
    db: Database, *, process: str, actor: UserView, unit: str | None = None,
    where: dict[str, str] | None = None, limit: int = 200,
) -> ProcessCaseList:
    """The cases of a process the caller may read, newest first, each with the case data fields the process
    lists (its property ``listColumns``), e.g. the approvals of a unit with their status and end date.

    ``where`` keeps the cases whose listed field (or ``status``) has the given value. Who sees which case is
    ``access.may``'s decision on each (its starter, its handlers, the process's ``readers`` groups in its
    unit, the central groups). A restricted process's cases are never listed (every read of one is recorded).
    """
    with db.read() as session:
        version = latest_version(session, process)
        parsed = SPEC_CACHE.get(session, version.id).parsed
        if parsed.sensitivity == "restricted":
            raise Forbidden(f"the cases of {process!r} are restricted: they are not listed")
        columns = parsed.list_columns
        where = dict(where or {})
        unknown = sorted(set(where) - {*columns, "status"})
        if unknown:
            raise InvalidData(f"the cases of {process!r} are filtered by {', '.join(('status', *columns))} only",
                              fields=dict.fromkeys(unknown, "not a listed field"))
        rows = [_listed_row(case, columns) for case in session.scalars(_readable_of(process, actor, unit, where, limit))
                if _matches(case, columns, where)][:min(limit, MAX_LISTED)]
        return ProcessCaseList(process=process, columns=columns, rows=rows, labels=parsed.list_labels,
                               values=parsed.list_values, name=version.name, name_en=version.name_en)


def _readable_of(process: str, actor: UserView, unit: str | None, where: dict[str, str], limit: int) -> Select[Any]:
    """The process's cases the actor may read (``access.readable_cases``, one statement), newest first, in the
    unit and with the status asked; as many as are shown, or up to ``_SCANNED`` when listed fields filter them
    (those are compared on the case data, as the list shows them)."""
    query = select(Case).where(Case.process_key == process, readable_cases(actor))
    if unit is not None:
        query = query.where(Case.unit == unit)
    if "status" in where:
        query = query.where(Case.status == where["status"])
    shown = _SCANNED if set(where) - {"status"} else min(limit, MAX_LISTED)
    return query.order_by(Case.created_at.desc(), Case.id).limit(shown)


def _matches(case: Case, columns: tuple[str, ...], where: dict[str, str]) -> bool:
    """Whether the case's listed fields have the values ``where`` asks for."""
    data = case.data if isinstance(case.data, dict) else {}
    return all(str(data.get(name)) == value for name, value in where.items() if name != "status")


def _listed_row(case: Case, columns: tuple[str, ...]) -> ProcessCaseRow:
    data = case.data if isinstance(case.data, dict) else {}
    return ProcessCaseRow(id=case.id, process=case.process_key, unit=case.unit, status=CaseStatus(case.status),
                          started_by=case.started_by, created_at=case.created_at,
                          columns={name: data.get(name) for name in columns},
                          title=case.title or "", title_en=case.title_en or "")


def listed_processes(db: Database) -> list[ProcessView]:
    """The processes whose cases have a list of their own (property ``listColumns``), restricted ones not."""
    with db.read() as session:
        found = []
        for row in latest_versions(session):
            parsed = SPEC_CACHE.get(session, row.id).parsed
            if parsed.list_columns and parsed.sensitivity != "restricted":
                found.append(process_view(row))
        return found


def case_references(db: Database, case_id: str, *, actor: UserView) -> list[CaseReference]:
    """The other cases named in a case's data (its process's ``caseRefs``), each with its title when the
    reader may read that case (a restricted one shows only its id: reading its title would be a read)."""
    with reading(db, case_id, actor, "case") as (session, case):
        refs = SPEC_CACHE.get(session, case.process_version_id).parsed.case_refs
        named: dict[str, str] = {}
        for path in refs:
            value: Any = case.data if isinstance(case.data, dict) else {}
            for part in path.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if isinstance(value, str) and value and value != case.id:
                named[path] = value
        if not named:
            return []
        others = {row.id: row for row in session.scalars(select(Case).where(Case.id.in_(set(named.values()))))}
        found = []
        for path, other_id in named.items():
            other = others.get(other_id)
            if other is None:
                continue
            readable = not is_restricted(session, other) and may(session, actor, Action.READ, other)
            found.append(CaseReference(path=path, case_id=other.id, readable=readable,
                                       title=other.title if readable else None,
                                       title_en=other.title_en if readable else None))
        return found


def get_process(db: Database, key: str, *, actor: UserView) -> ProcessDetail:
    """The newest version of a process with its start form, so a client can start a case knowing only this."""
    with db.read() as session:
        version = latest_version(session, key)
        parsed = SPEC_CACHE.get(session, version.id).parsed
        form = None
        if parsed.start_form:
            definition = bundles.for_version(session, version.id).form(parsed.start_form)
            if definition is not None:
                form = FormView(name=definition.name, schema=definition.schema, ui=definition.ui)
        try:
            _check_hand_start(parsed, actor)
            may_start = True
        except Forbidden:
            may_start = False
        units = sorted(session.scalars(select(Unit.code))) if sees_all_units(actor) else sorted(actor.units)
        return ProcessDetail(key=version.key, name=version.name, version=version.version,
                             deployed_at=version.deployed_at, start_form=form, units=units, may_start=may_start,
                             documentation=parsed.documentation)


def get_case(db: Database, case_id: str, *, actor: UserView) -> CaseView:
    """A case with its data, decisions, open tasks and history, if the caller may see it."""
    with reading(db, case_id, actor, "case") as (session, case):
        return case_view(session, case)


def case_history(
    db: Database, case_id: str, *, actor: UserView, before: str | None = None, limit: int = RECENT_HISTORY,
    hide_bookkeeping: bool = False,
) -> HistoryPage:
    """A page of the case's history, oldest first: the ``limit`` events before the cursor ``before``.

    ``before`` is the ``next_cursor`` of a previous page, or a case view's ``history_next_cursor``; None
    gives the newest events. ``hide_bookkeeping`` leaves out the engine's own steps (``HIDDEN_KINDS``), as
    the case page does. Each page costs the same however old the case is.
    """
    if not 1 <= limit <= MAX_HISTORY_PAGE:
        raise InvalidData("limit out of range", fields={"limit": f"from 1 to {MAX_HISTORY_PAGE}"})
    position = _history_cursor(before)
    with reading(db, case_id, actor, "history") as (session, _case):
        entries, older = history(session, case_id, before=position, limit=limit,
                                 hidden=frozenset(HIDDEN_KINDS) if hide_bookkeeping else frozenset())
        return HistoryPage(entries=entries, next_cursor=None if older is None else str(older))


MAX_EVENT_ID = 2**31 - 1  # audit_events.id is a 32-bit integer on PostgreSQL


def _history_cursor(before: str | None) -> int | None:
    """The audit event id a history cursor stands for (it is that id as text, but clients treat it as opaque).

    A cursor past every possible id means "before every event": it is read as the largest id, since PostgreSQL
    refuses to compare the 32-bit id column with a larger number (a 500 the API fuzz run found).
    """
    if before is None:
        return None
    if not (before.isascii() and before.isdigit() and 0 < len(before) <= 18 and int(before) > 0):
        raise InvalidData("not a history cursor", fields={"before": "pass a next_cursor this API returned"})
    return min(int(before), MAX_EVENT_ID)


def case_diagram(db: Database, case_id: str, *, actor: UserView) -> tuple[str, list[str], list[str]]:
    """The BPMN XML of the case's version, the element ids it has passed, and those it waits in."""
    with reading(db, case_id, actor, "diagram") as (session, case):
        row = session.get(ProcessVersion, case.process_version_id)
        assert row is not None
        passed: list[str] = []
        write_pending(session)
        for kind, detail in session.execute(
            select(AuditEvent.kind, AuditEvent.detail)
            .where(AuditEvent.case_id == case_id,
                   AuditEvent.kind.in_((AuditKind.ENGINE_STEPS.value, AuditKind.TASK_COMPLETED.value)))
            .order_by(AuditEvent.id)
        ):
            passed.extend(detail.get("elements", []) if kind == AuditKind.ENGINE_STEPS else [detail.get("task")])
        waiting = list(session.scalars(select(TaskRecord.name).where(
            TaskRecord.case_id == case_id, TaskRecord.status.in_(OPEN))))
        return row.bpmn_xml, list(dict.fromkeys(item for item in passed if item)), waiting


def diagram_in_language(xml: str, language: str) -> str:
    """The case's diagram with its names in ``language`` (property nameEn in English) and its lanes named
    by their groups' names."""
    return elements.diagram_in_language(xml, language, organisation.group_words(language))


def passed_step_names(xml: str, ids: list[str]) -> list[str]:
    """The names of the passed elements of a case's diagram (no sequence flows), in order."""
    return step_names(xml, ids)
