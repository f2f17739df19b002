"""Read models the use cases return: plain frozen dataclasses, JSON-safe, no ORM objects leak out.

The service layer dumps these with marshmallow; their field names are the stable API shapes of issue #2.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class CaseStatus(enum.StrEnum):
    """Our own case states (SpiffWorkflow's are mapped onto these in the runtime)."""

    RUNNING = "running"
    COMPLETED = "completed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    ERROR = "error"


class TaskStatus(enum.StrEnum):
    """States of an entry in the task index."""

    READY = "ready"
    CLAIMED = "claimed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


OPEN_TASK_STATUSES = (TaskStatus.READY, TaskStatus.CLAIMED)


@dataclass(frozen=True)
class FormView:
    name: str
    schema: dict[str, Any]
    ui: dict[str, Any]


@dataclass(frozen=True)
class TaskView:
    id: str
    case_id: str
    process: str
    name: str  # BPMN element id
    title: str
    group: str | None
    unit: str
    assignee: str | None
    status: TaskStatus
    due_at: datetime | None
    created_at: datetime
    completed_at: datetime | None = None
    completed_by: str | None = None
    form_name: str | None = None
    form: FormView | None = None  # filled only by get_task
    # what the task's case is about (issue #17): its title, summary and badge (the process's templates)
    case_title: str = ""
    case_summary: str = ""
    case_badge: str = ""
    # in English (issue #17); "" where the process gives no English: then the Danish above is shown
    title_en: str = ""
    case_title_en: str = ""
    case_badge_en: str = ""


@dataclass(frozen=True)
class DecisionView:
    ruleset: str
    decision: dict[str, Any]
    fired: list[str]
    parameters: dict[str, Any]
    at: datetime
    task: str | None = None  # BPMN id of the business-rule task that took it
    # Why it was decided so (None/empty on decisions taken before process bundles):
    on: str | None = None  # the date whose law applied, YYYY-MM-DD
    law_date_from: str | None = None  # "field:<name>" (the task's onField), "fact:<name>" (law_date_fact), "today"
    facts: dict[str, Any] = field(default_factory=dict)  # the facts as given to the rule set
    derived: dict[str, Any] = field(default_factory=dict)  # derived facts and lookup results
    ruleset_version: str | None = None  # sha256 of the rule set in the case's process bundle
    parameters_version: str | None = None  # sha256 of the parameters in the bundle


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    actor: str | None
    kind: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class HistoryPage:
    """A page of a case's history, oldest first, and the cursor of the older page before it (None: no more)."""

    entries: list[HistoryEntry]
    next_cursor: str | None


@dataclass(frozen=True)
class IncidentView:
    """Something the engine could not do by itself (e.g. a timer that kept failing)."""

    kind: str
    message: str
    at: datetime
    resolved_at: datetime | None = None


@dataclass(frozen=True)
class CaseView:
    id: str
    process: str
    version: int
    unit: str
    status: CaseStatus
    data: dict[str, Any]
    decisions: list[DecisionView]
    tasks: list[TaskView]
    history: list[HistoryEntry]  # the newest events (audit.RECENT_HISTORY), oldest first
    created_at: datetime
    updated_at: datetime
    started_by: str | None
    revision: int  # the optimistic-lock counter of the case row
    incidents: list[IncidentView] = field(default_factory=list)
    history_next_cursor: str | None = None  # older events exist: read them with cases.case_history(before=)
    title: str = ""  # the process's caseTitle, caseSummary and caseBadge over the case data (issue #17)
    summary: str = ""
    badge: str = ""
    title_en: str = ""  # the same in English ("" -> the Danish)
    badge_en: str = ""
    process_name: str = ""  # the process's name (the bpmn:process name) and its English name (nameEn)
    process_name_en: str = ""


@dataclass(frozen=True)
class CaseSummary:
    """A case as lists show it, read from its row alone: title, summary and badge from the process's
    templates (caseTitle, caseSummary, caseBadge), its status and dates."""

    id: str
    process: str
    process_name: str
    unit: str
    status: CaseStatus
    title: str
    summary: str
    badge: str
    started_by: str | None
    subject: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    title_en: str = ""  # in English (issue #17); "" -> the Danish
    badge_en: str = ""
    process_name_en: str = ""


@dataclass(frozen=True)
class MessageView:
    """A BPMN message a case can take now: its name, the title of the event waiting for it, its form."""

    name: str
    title: str
    form_name: str | None


@dataclass(frozen=True)
class ProcessView:
    key: str
    name: str
    version: int
    deployed_at: datetime
    deployed_by: str | None
    start_form: str | None
    versions: list[int] = field(default_factory=list)
    name_en: str = ""  # property nameEn of the bpmn:process ("" -> name)


@dataclass(frozen=True)
class ProcessDetail:
    """One process as a client needs it to start a case: its newest version, the start form (JSON Schema and
    UI hints), the units the caller may start it in, and whether the caller may start it by hand."""

    key: str
    name: str
    version: int
    deployed_at: datetime
    start_form: FormView | None
    units: list[str]
    may_start: bool
    documentation: str = ""


@dataclass(frozen=True)
class UserView:
    username: str
    name: str
    email: str | None
    groups: list[str]
    units: list[str]
    language: str = "da"


@dataclass(frozen=True)
class TokenView:
    """An API token as its owner may see it: never the token itself, which only its holder knows."""

    id: int
    username: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class IssuedToken:
    """A token just created: the only moment its value is known."""

    token: str
    id: int
    expires_at: datetime


@dataclass(frozen=True)
class LinkGrant:
    """A signed link as a principal: a person without an account, allowed one case and the tasks it names.

    ``username`` is how the history names its actions ("link for <name/e-mail>"); it is never a user.
    """

    id: int
    case_id: str
    tasks: tuple[str, ...]  # BPMN ids of the user tasks the link may read and work
    name: str
    email: str
    expires_at: datetime
    language: str = "da"

    @property
    def username(self) -> str:
        return f"link for {self.name or self.email}"[:100]

    groups: tuple[str, ...] = ()
    units: tuple[str, ...] = ()


@dataclass(frozen=True)
class LinkView:
    """A signed link as its case's handlers see it (the token itself only when it is issued or renewed)."""

    id: int
    case_id: str
    tasks: list[str]
    name: str
    email: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    token: str | None = None


@dataclass(frozen=True)
class StartGrant:
    """A signed start link as a principal: a person without an account (a student, a guest) who may start one
    case of ``process`` in ``unit`` and do nothing else. The case records them as its starter (``username``:
    their e-mail address, else "link for <name>")."""

    id: int
    process: str
    unit: str
    name: str
    email: str
    expires_at: datetime
    language: str = "da"

    @property
    def username(self) -> str:
        return (self.email or f"link for {self.name}")[:100]

    groups: tuple[str, ...] = ()
    units: tuple[str, ...] = ()


@dataclass(frozen=True)
class StartLinkView:
    """A start link as its creator sees it (the token only when it is issued)."""

    id: int
    process: str
    unit: str
    name: str
    email: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    case_id: str | None
    token: str | None = None


@dataclass(frozen=True)
class CaseReadView:
    """One read of a restricted case, allowed or refused."""

    case_id: str
    at: datetime
    actor: str | None
    what: str
    allowed: bool


@dataclass(frozen=True)
class BoardRow:
    """One unit of a fan-out: ``state`` is answered, answered_late, open or late (open past due / escalated)."""

    unit: str
    state: str
    task: str  # the BPMN id of its newest task (the task itself or an escalation)
    due_at: datetime | None
    completed_at: datetime | None
    completed_by: str | None


@dataclass(frozen=True)
class BoardView:
    """The status of the instances of a case's fan-out (process property ``statusBoard``), one row per unit."""

    case_id: str
    process: str
    counts: dict[str, int]
    rows: list[BoardRow]
    at: datetime


@dataclass(frozen=True)
class TableView:
    """A table the case data holds (process property ``exports``): column names and rows of plain values."""

    case_id: str
    name: str
    columns: list[str]
    rows: list[list[Any]]


@dataclass(frozen=True)
class ProcessCaseRow:
    """A case in a list of a process's cases: who, where, its status and the columns the process declares."""

    id: str
    process: str
    unit: str
    status: CaseStatus
    started_by: str | None
    created_at: datetime
    columns: dict[str, Any]
    title: str = ""
    title_en: str = ""


@dataclass(frozen=True)
class ProcessCaseList:
    """The cases of a process that the caller may read, with the case data fields it lists (``listColumns``)."""

    process: str
    columns: tuple[str, ...]
    rows: list[ProcessCaseRow]
    # the process's ``listLabels`` (field -> {da, en}) and ``listValues`` (field -> value -> {da, en})
    labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    values: Mapping[str, Mapping[str, Mapping[str, str]]] = field(default_factory=dict)
    name: str = ""
    name_en: str = ""


@dataclass(frozen=True)
class CaseReference:
    """Another case named in a case's data (process property ``caseRefs``): its id, and its title if the
    reader may read it (None: the reader sees only the id)."""

    path: str
    case_id: str
    readable: bool
    title: str | None = None
    title_en: str | None = None


@dataclass(frozen=True)
class NoticeView:
    """One in-app notification as its reader sees it (issue #17). ``kind``: group_task, task_assigned or
    comment. A restricted case's notice carries no titles (``restricted``): only its kind and ids."""

    id: int
    kind: str
    case_id: str
    task_id: str | None
    case_title: str | None
    case_title_en: str | None
    task_title: str | None
    task_title_en: str | None
    restricted: bool
    actor: str | None
    created_at: datetime
    read: bool


@dataclass(frozen=True)
class NoticePage:
    """A page of my notifications, newest first; ``unread`` counts all I have not opened (capped)."""

    items: list[NoticeView]
    unread: int
    next_cursor: int | None
