"""Who gets a new task: the lane's group in a unit, or one named person (issue #11).

The step (``advance._sync_task_index``) asks :func:`route` for each new task row:

- the unit is the user task's property ``unit`` (an expression over the case data, e.g. the item's unit
  in a multi-instance) when given, else the case's unit; a unit we do not know stops the step;
- the person is ``assignTo`` = ``starter`` (the case's starter) or a task in the lane "Process Initiator"
  (SpiffArena's convention: the starter), or property ``assignee`` (an expression
  giving a username or an e-mail address). A known user (by username, or by e-mail) gets the task in
  their own queue. An e-mail address without an account is kept as the assignee: the task waits for that
  person's first log-in (``identity.create_user`` hands it to the new account; the case's handlers may
  also give the person a signed link, processes.links). A name that is neither a user nor an e-mail
  address leaves the task with the lane's group, and the history says why.
- expressions may call ``next_level_leader(unit=None, passing=None)`` (:func:`organisation_functions`): the
  first leader (by username) of the nearest unit above the case's unit (or ``unit``) that has leaders,
  never ``passing``; None when there is none (the task then stays with the lane's group). Used when the
  nearest leader must not handle a case, e.g. because the case is about them.
- a task assigned to a person has no group: no group's queue shows it, and its case is visible to that
  person only (besides the case's other readers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from processes.engine.checks import INITIATOR_LANE
from processes.engine.elements import UserTask
from processes.errors import EngineFailure
from processes.people.organisation import next_level_leader
from processes.store.models import Case, Unit, User


@dataclass(frozen=True)
class Route:
    group: str | None
    unit: str
    assignee: str | None
    problem: str | None = None  # why a named person could not be given the task


def route(session: Session, case: Case, task: UserTask) -> Route:
    unit = task.unit or case.unit
    if unit != case.unit and session.get(Unit, unit) is None:
        raise EngineFailure(f"task {task.name}: unknown unit {unit!r}", fields={"unit": f"unknown unit {unit!r}"})
    if task.properties.get("assignTo") == "starter" and case.started_by:
        return Route(group=None, unit=unit, assignee=case.started_by)
    if task.lane == INITIATOR_LANE:
        if not case.started_by:
            raise EngineFailure(f"task {task.name}: the lane {INITIATOR_LANE!r} needs the case's starter, "
                                "and this case has none")
        return Route(group=None, unit=unit, assignee=case.started_by)
    if task.assignee is None:
        return Route(group=task.lane, unit=unit, assignee=None)
    person = person_named(session, task.assignee)
    if person is None:
        return Route(group=task.lane, unit=unit, assignee=None,
                     problem=f"{task.assignee!r} is neither a user nor an e-mail address")
    return Route(group=None, unit=unit, assignee=person)


def person_named(session: Session, name: str) -> str | None:
    """The username of the active user called ``name`` (username or e-mail), or the e-mail address itself
    (lower case) for a person without an account; None when ``name`` is neither."""
    by_name = session.scalar(select(User.username).where(User.username == name, User.active.is_(True)))
    if by_name is not None:
        return by_name
    if "@" not in name:
        return None
    address = name.strip().lower()
    by_email = session.scalar(select(User.username).where(func.lower(User.email) == address,
                                                          User.active.is_(True)).order_by(User.id).limit(1))
    return by_email or address


def organisation_functions(session: Session, case: Case) -> dict[str, Callable[..., Any]]:
    """The functions of the organisation a case's expressions may call (sandbox ``BOUND_FUNCTIONS``)."""

    def leader_above(unit: str | None = None, passing: str | None = None) -> str | None:
        if not isinstance(unit, str | None) or not isinstance(passing, str | None):
            raise EngineFailure("next_level_leader(unit, passing) takes texts")
        leaders = next_level_leader(session, unit or case.unit, passing=passing or None)
        return leaders[0] if leaders else None

    return {"next_level_leader": leader_above}
