"""Moving a running case's workflow onto another version of its process (issue #18, "migrate").

A case row holds only the run state; its tasks name their task specs by BPMN id. SpiffWorkflow 3.2's
``SpiffWorkflow.bpmn.util.diff`` aligns the specs of two versions (by id first, then by structure),
and ``migrate_workflow`` re-binds each task to its aligned spec, then resets and re-predicts the
waiting branches (READY | WAITING) so the new version's paths ahead are taken. A task keeps its id, so
the task index keeps its rows.

A case may move only when each of its waiting tasks has a spec with the same id in the new version
(a task aligned by structure to another id, or not aligned at all, would change what a person is
asked to do) and each of its running sub-processes exists in the new version.
"""

from __future__ import annotations

from dataclasses import dataclass

from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from processes.engine.loader import ParsedProcess
from processes.engine.serializer import _SERIALIZER, SERIALIZER_VERSION, dump_state, load_state

WAITING = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR


@dataclass(frozen=True)
class Migrated:
    """The outcome of moving one workflow: the new state, or why it cannot move."""

    state: str | None
    reasons: tuple[str, ...]


def _problems(workflow: BpmnWorkflow, new: ParsedProcess) -> tuple[list[str], object, dict[str, object]]:
    top, sub_diffs = diff_workflow(_SERIALIZER.registry, workflow, new.spec, new.subprocess_specs)
    reasons: list[str] = []
    for diff, owner in [(top, workflow), *((d, workflow.subprocesses[i]) for i, d in sub_diffs.items())]:
        if diff is None:
            reasons.append(f"its sub-process {owner.spec.name} is not in the new version")
            continue
        for task in owner.get_tasks(state=WAITING, skip_subprocesses=True):
            if not task.task_spec.bpmn_id:
                continue  # the engine's own joins and starts
            aligned = diff.alignment.get(task)
            if aligned is None or aligned.name != task.task_spec.name:
                reasons.append(f"waiting task {task.task_spec.bpmn_id} is not in the new version")
    return reasons, top, sub_diffs


def migrate(state: str, version: str, old: ParsedProcess, new: ParsedProcess) -> Migrated:
    """Re-bind the workflow stored as ``state`` (of version ``old``) to ``new``; nothing is written."""
    if version != SERIALIZER_VERSION:
        return Migrated(None, (f"its state has serializer version {version}",))
    workflow = load_state(state, version, old.spec, old.subprocess_specs)
    reasons, top, sub_diffs = _problems(workflow, new)
    if reasons:
        return Migrated(None, tuple(dict.fromkeys(reasons)))
    migrate_workflow(top, workflow, new.spec)
    for sub_id, diff in sub_diffs.items():
        sub = workflow.subprocesses[sub_id]
        migrate_workflow(diff, sub, new.subprocess_specs[sub.spec.name])
    workflow.subprocess_specs = dict(new.subprocess_specs)
    return Migrated(dump_state(workflow), ())
