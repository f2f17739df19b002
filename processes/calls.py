"""Call activities to processes of other files: the called process's newest version when the case calls it.

A call activity names the called process by its id (``calledElement``). When it lives in another file it is
not in the caller's parsed spec; its newest deployed version is handed to the workflow, and kept for the
case (``case_called_versions``) from the moment the case first calls it, so a case restored later runs the
child on the version it started with even if a newer one has been deployed since. (One case calls one
version of a given process: a second call of the same process in the same case uses the pinned version.)

The child's user tasks are tasks of the calling case (same workflow, the child's lanes), and each call and
its return are in the case's history with the data passed in and out.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import select
from sqlalchemy.orm import Session

from processes.deployments import SPEC_CACHE, latest_version
from processes.engine import events
from processes.engine.elements import Workflow
from processes.engine.loader import ParsedProcess
from processes.errors import EngineFailure, NotFound
from processes.store.audit import AuditKind, record
from processes.store.models import Case, CaseCalledVersion

MAX_CALL_DEPTH = 3


@dataclasses.dataclass(frozen=True)
class Resolved:
    """The case's parsed process with the called processes of other files, and which versions those are."""

    parsed: ParsedProcess
    versions: dict[str, int]  # process key -> process version id

    def snapshot(self, workflow: Workflow) -> dict[str, bool]:
        """Task id -> finished, for the calls the case has made so far (taken before a step)."""
        if not self.versions:
            return {}
        return {call.task_id: call.finished for call in events.external_calls(workflow, frozenset(self.versions))}


def with_called_processes(session: Session, case: Case, parsed: ParsedProcess) -> Resolved:
    """``parsed`` with the specs of every process of another file it (or what it calls) calls."""
    if not parsed.called_processes:
        return Resolved(parsed, {})
    pinned = dict(session.execute(
        select(CaseCalledVersion.process_key, CaseCalledVersion.process_version_id)
        .where(CaseCalledVersion.case_id == case.id)).all())
    specs = dict(parsed.subprocess_specs)
    versions: dict[str, int] = {}
    wanted, depth = set(parsed.called_processes), 0
    missing: set[str] = set()
    while wanted - versions.keys() - missing:
        depth += 1
        if depth > MAX_CALL_DEPTH:
            raise EngineFailure(f"call activities call other files more than {MAX_CALL_DEPTH} levels deep")
        for key in sorted(wanted - versions.keys() - missing):
            try:
                version_id = pinned.get(key) or latest_version(session, key).id
            except NotFound:  # not deployed (yet): the step that calls it fails, naming it
                missing.add(key)
                continue
            called = SPEC_CACHE.get(session, version_id).parsed
            versions[key] = version_id
            specs.setdefault(key, called.spec)
            for name, spec in called.subprocess_specs.items():
                specs.setdefault(name, spec)
            wanted |= called.called_processes
    return Resolved(dataclasses.replace(parsed, subprocess_specs=specs), versions)


def record_calls(session: Session, case: Case, workflow: Workflow, resolved: Resolved, before: dict[str, bool]) -> None:
    """Pin the version of each process the case called for the first time; write each call and return."""
    if not resolved.versions:
        return
    pinned = set(session.scalars(select(CaseCalledVersion.process_key).where(CaseCalledVersion.case_id == case.id)))
    for call in events.external_calls(workflow, frozenset(resolved.versions)):
        version_id = resolved.versions[call.process]
        if call.task_id not in before:
            if call.process not in pinned:
                session.add(CaseCalledVersion(case_id=case.id, process_key=call.process,
                                              process_version_id=version_id))
                pinned.add(call.process)
            record(session, case_id=case.id, actor=None, kind=AuditKind.PROCESS_CALLED, detail={
                "task": call.element, "process": call.process,
                "version": SPEC_CACHE.get(session, version_id).version, "data": call.data_in})
        if call.finished and not before.get(call.task_id, False):
            record(session, case_id=case.id, actor=None, kind=AuditKind.CALLED_PROCESS_ENDED, detail={
                "task": call.element, "process": call.process, "data": call.data_out or {}})
