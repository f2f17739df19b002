"""Statistics of a process per unit, without names or free text (issue #14): counts by the case data values
the process declares and, for the tasks it names, how many were done on time and how many late.

A process declares what is counted (``bpmn:process`` properties, see ``engine.loader.ParsedProcess``):
``statistics`` = case data paths (``event_type``, ``classification.track``): each value is counted per
unit, texts only if they are one of a short list (a value is shown as it is; the process names fields that
hold codes, never free text); ``statisticsTasks`` = user-task ids: done on time (completed by the due time),
late, and still open past it. Who may read them: ``access.may(..., Action.READ, StatisticsOf(...))``.
Erasing a closed case's personal data (``retention.py``) keeps what is counted here.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from processes.access import Action, StatisticsOf, may
from processes.clock import SYSTEM_CLOCK, Clock
from processes.deployments import SPEC_CACHE, latest_version
from processes.errors import Forbidden, InvalidData
from processes.store.db import Database
from processes.store.models import Case, TaskRecord
from processes.views import UserView

MAX_VALUE_LENGTH = 60
"""A counted value longer than this is shown as "other": statistics never carry free text."""


@dataclass(frozen=True)
class UnitStatistics:
    unit: str
    cases: int
    by_status: dict[str, int]
    by: dict[str, dict[str, int]]  # dimension (data path) -> value -> count
    tasks: dict[str, dict[str, int]]  # task id -> {"on_time", "late", "open_overdue"} -> count


@dataclass(frozen=True)
class StatisticsView:
    process: str
    dimensions: tuple[str, ...]
    task_names: tuple[str, ...]
    units: list[UnitStatistics] = field(default_factory=list)


def _value(data: Any, path: str) -> str:
    for part in path.split("."):
        data = data.get(part) if isinstance(data, dict) else None
    if data is None:
        return "-"
    text = ("true" if data else "false") if isinstance(data, bool) else str(data)
    return text if len(text) <= MAX_VALUE_LENGTH and "\n" not in text else "other"


def _readable_units(session: Any, process: str, actor: UserView, unit: str | None) -> set[str] | None:
    """The units whose statistics the caller asks for and may read (None: every unit); Forbidden if none."""
    if unit is not None:
        if not may(session, actor, Action.READ, StatisticsOf(process, unit)):
            raise Forbidden(f"you may not read the statistics of {process} in {unit}")
        return {unit}
    if may(session, actor, Action.READ, StatisticsOf(process, None)):
        return None
    units = {u for u in actor.units if may(session, actor, Action.READ, StatisticsOf(process, u))}
    if not units:
        raise Forbidden(f"you may not read the statistics of {process}")
    return units


def process_statistics(
    db: Database, process: str, *, actor: UserView, unit: str | None = None, clock: Clock = SYSTEM_CLOCK,
) -> StatisticsView:
    """The process's statistics for ``unit`` (or every unit the caller may see), Forbidden otherwise."""
    now = clock.now()
    with db.read() as session:
        parsed = SPEC_CACHE.get(session, latest_version(session, process).id).parsed
        if not parsed.statistics and not parsed.statistics_tasks:
            raise InvalidData(f"the process {process!r} declares no statistics",
                              fields={"process": "declares no statistics"})
        units = _readable_units(session, process, actor, unit)
        cases = select(Case.id, Case.unit, Case.status, Case.data).where(Case.process_key == process)
        tasks = select(TaskRecord.unit, TaskRecord.case_id, TaskRecord.name, TaskRecord.status, TaskRecord.due_at,
                       TaskRecord.completed_at).where(TaskRecord.process_key == process,
                                                      TaskRecord.name.in_(parsed.statistics_tasks))
        if units is not None:
            cases = cases.where(Case.unit.in_(units))
        case_units: dict[str, str] = {}
        count: dict[str, int] = Counter()
        statuses: dict[str, Counter[str]] = defaultdict(Counter)
        by: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
        for case_id, case_unit, status, data in session.execute(cases):
            case_units[case_id] = case_unit
            count[case_unit] += 1
            statuses[case_unit][status] += 1
            for path in parsed.statistics:
                by[case_unit][path][_value(data, path)] += 1
        timing: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
        for _unit, case_id, name, status, due_at, completed_at in session.execute(tasks):
            if case_id not in case_units or due_at is None:
                continue
            due = due_at if due_at.tzinfo else due_at.replace(tzinfo=now.tzinfo)
            if status == "completed" and completed_at is not None:
                done = completed_at if completed_at.tzinfo else completed_at.replace(tzinfo=now.tzinfo)
                timing[case_units[case_id]][name]["on_time" if done <= due else "late"] += 1
            elif status in ("ready", "claimed") and due < now:
                timing[case_units[case_id]][name]["open_overdue"] += 1
    return StatisticsView(
        process=process, dimensions=parsed.statistics, task_names=parsed.statistics_tasks,
        units=[UnitStatistics(
            unit=u, cases=count[u], by_status=dict(sorted(statuses[u].items())),
            by={path: dict(sorted(by[u][path].items())) for path in parsed.statistics},
            tasks={name: {key: timing[u][name][key] for key in ("on_time", "late", "open_overdue")}
                   for name in parsed.statistics_tasks},
        ) for u in sorted(count)],
    )


def statistics_csv(view: StatisticsView) -> str:
    """One row per unit, dimension and value: ``unit,dimension,value,count`` (tasks as ``task:NAME``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["unit", "dimension", "value", "count"])
    for unit in view.units:
        writer.writerow([unit.unit, "cases", "all", unit.cases])
        for status, n in unit.by_status.items():
            writer.writerow([unit.unit, "status", status, n])
        for path, values in unit.by.items():
            for value, n in values.items():
                writer.writerow([unit.unit, path, value, n])
        for name, counts in unit.tasks.items():
            for key, n in counts.items():
                writer.writerow([unit.unit, f"task:{name}", key, n])
    return out.getvalue()
