"""Read models the use cases return: plain frozen dataclasses, JSON-safe, no ORM objects leak out.

The service layer dumps these with marshmallow; their field names are the stable API shapes of issue #2.
"""

from __future__ import annotations

import enum
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


@dataclass(frozen=True)
class DecisionView:
    ruleset: str
    decision: dict[str, Any]
    fired: list[str]
    parameters: dict[str, Any]
    at: datetime
    task: str | None = None  # BPMN id of the business-rule task that took it


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    actor: str | None
    kind: str
    detail: dict[str, Any]


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
    history: list[HistoryEntry]
    created_at: datetime
    updated_at: datetime
    started_by: str | None
    revision: int  # the optimistic-lock counter of the case row
    incidents: list[IncidentView] = field(default_factory=list)


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
