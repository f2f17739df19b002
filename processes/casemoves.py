"""Moving a process's running cases from one version to a newer one (issue #18, the modeler): the dry run
says which cases can move and why the others cannot (``engine/migration.py``); the move is audited per case
and each moved case takes the steps the new version allows now.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from processes import advance, modeler
from processes.clock import SYSTEM_CLOCK, Clock
from processes.deployments import SPEC_CACHE
from processes.engine import migration
from processes.errors import InvalidData
from processes.store.audit import AuditKind, record
from processes.store.db import Database
from processes.store.models import Case, ProcessVersion
from processes.views import CaseStatus, UserView


@dataclass(frozen=True)
class CaseMove:
    case_id: str
    movable: bool
    reasons: list[str]
    moved: bool = False


def _plan(session: Session, key: str, old: int, new: int) -> tuple[ProcessVersion, ProcessVersion,
                                                                    list[tuple[Case, migration.Migrated]]]:
    source, target = modeler.version_row(session, key, old), modeler.version_row(session, key, new)
    if target.version <= source.version:
        raise InvalidData("migrate to a newer version", fields={"to": "must be newer than the version migrated"})
    old_parsed, new_parsed = SPEC_CACHE.get(session, source.id).parsed, SPEC_CACHE.get(session, target.id).parsed
    cases = session.scalars(select(Case).where(Case.process_version_id == source.id,
                                               Case.status == CaseStatus.RUNNING.value).order_by(Case.created_at))
    plan = []
    for case in cases:
        if not case.state:
            plan.append((case, migration.Migrated(None, ("the case has not run yet",))))
            continue
        plan.append((case, migration.migrate(case.state, case.serializer_version, old_parsed, new_parsed)))
    return source, target, plan


def migration_plan(db: Database, actor: UserView, key: str, old: int, new: int) -> list[CaseMove]:
    """The dry run: which running cases of version ``old`` can move to ``new``, and why the others cannot."""
    with db.read() as session:
        modeler.require(session, actor)
        _source, _target, plan = _plan(session, key, old, new)
        return [CaseMove(case.id, moved.state is not None, list(moved.reasons)) for case, moved in plan]


def migrate_cases(db: Database, actor: UserView, key: str, old: int, new: int, *,
                  clock: Clock = SYSTEM_CLOCK) -> list[CaseMove]:
    """Move every movable running case of version ``old`` to ``new`` (audited per case), in one transaction."""
    result = []
    with db.write() as session:
        modeler.require(session, actor)
        source, target, plan = _plan(session, key, old, new)
        for case, moved in plan:
            if moved.state is None:
                result.append(CaseMove(case.id, False, list(moved.reasons)))
                continue
            case.state, case.process_version_id = moved.state, target.id
            record(session, case_id=case.id, actor=actor.username, kind=AuditKind.CASE_MIGRATED,
                   detail={"process": key, "from": source.version, "to": target.version})
            advance.advance_case(session, case, _stay, clock=clock)  # re-predicted paths, the task index
            result.append(CaseMove(case.id, True, [], moved=True))
    return result


def _stay(_workflow: Any, _run: Any) -> None:
    """No event: the engine only takes the steps the new version allows now."""


