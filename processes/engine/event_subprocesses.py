"""Event sub-processes (``subProcess triggeredByEvent="true"``) as BPMN means them, on SpiffWorkflow 3.2.

SpiffWorkflow runs an event sub-process as a separate workflow that starts with a copy of the data of its
task, which hangs below the process's ``Start`` (so it sees nothing of the case data), and when it ends its
data stays on that task: what it set (``approval_status = "revoked"``) never reaches the case. It ignores
``isInterrupting``: an interrupting one leaves the main flow waiting, so the case never ends. And a
sub-process started by a timer is a start path of its own, so a case whose main flow ended before the timer
waits for it forever. Here, as BPMN 2.0 (10.3.5) says:

* **Data.** When its start event fires (a message caught, a timer due), the sub-process is given the
  case data of that moment with the message's payload laid over it. When it ends, what it changed
  (against what it was given: the payload included) is written into the live part of its parent process,
  so later steps and the case data see it.
* **Interrupting** (``isInterrupting`` absent or ``true`` on its start event): when its start event fires,
  everything else running in the parent process is cancelled (open tasks, waiting events, other event
  sub-processes); when it ends, the parent process ends, with the sub-process's data.
* **Non-interrupting**: the main flow goes on; when the sub-process ends, its finished run is dropped
  from the state (its data is merged), so a case that takes many such messages does not grow with them.
* **End of the parent**: once nothing but event sub-processes that have not started is left in a process,
  those are cancelled and the process ends.

``CaseEventSubprocess`` is the task spec the parser makes for each event sub-process (``AmflowParser``);
:func:`on_task_completed` and :func:`close_idle` are called by ``runtime`` after each engine step.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from SpiffWorkflow.bpmn.parser.task_parsers import SubprocessParser
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import CallActivity, SubWorkflowTask
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.spiff.parser.task_spec import SubWorkflowParser
from SpiffWorkflow.spiff.specs.defaults import EventSubprocess as SpiffEventSubprocess
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_GIVEN = "amflow_given"  # internal data of the event sub-process task: the data its run was given
_FINISHED = TaskState.FINISHED_MASK
_UNFINISHED = TaskState.NOT_FINISHED_MASK


class CaseEventSubprocess(SpiffEventSubprocess):
    """An event sub-process that shares the case data with its parent and may interrupt it."""

    def __init__(self, wf_spec: Any, bpmn_id: str, subworkflow_spec: str, interrupting: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(wf_spec, bpmn_id, subworkflow_spec, **kwargs)
        self.interrupting = interrupting

    def copy_data(self, my_task: Task, subworkflow: Any) -> None:
        """Nothing yet: it is given the case data when its start event fires (:func:`_started`)."""

    def update_data(self, my_task: Task, subworkflow: Any) -> None:
        """Write what the run changed into the parent's live tasks; the task carries the merged data on."""
        given = my_task.internal_data.pop(_GIVEN, None) or {}
        final = subworkflow.last_task.data if subworkflow.last_task is not None else {}
        updates = {key: value for key, value in final.items() if key not in given or given[key] != value}
        deletions = [key for key in given if key not in final]
        holders = _live_holders(my_task.workflow, exclude=my_task)
        base = _merged(holders) if holders else dict(given)
        for holder in holders:
            _apply(holder.data, updates, deletions)
        my_task.data = deepcopy(_apply(base, updates, deletions))


class EventSubprocessParser(SubWorkflowParser):
    """Spiff's sub-process parser, making :class:`CaseEventSubprocess` with its start event's ``isInterrupting``."""

    def create_task(self) -> Any:
        # Spiff looks for a namespaced ``bpmn:triggeredByEvent`` attribute, which no modeller writes, and so
        # makes an event sub-process a plain sub-process; the attribute is read as written here.
        if self.node.get("triggeredByEvent", "false").strip().lower() != "true":
            return super().create_task()
        extensions = self.parse_extensions()
        starts = self.node.findall(f"{{{BPMN_NS}}}startEvent")
        return CaseEventSubprocess(
            self.spec, self.bpmn_id, subworkflow_spec=SubprocessParser.get_subprocess_spec(self),
            # BPMN: isInterrupting defaults to true
            interrupting=any(start.get("isInterrupting", "true").strip().lower() != "false" for start in starts),
            prescript=extensions.get("preScript"), postscript=extensions.get("postScript"),
            **self.bpmn_attributes,
        )


def on_task_completed(task: Task) -> None:
    """After an engine step: a started or finished event sub-process does what BPMN says (module doc)."""
    spec = task.task_spec
    if isinstance(spec, StartEvent) and isinstance(task.workflow, BpmnSubWorkflow):
        owner = _event_subprocess_task(task.workflow)
        if owner is not None:
            _started(owner, task)
    elif isinstance(spec, CaseEventSubprocess) and task.has_state(TaskState.COMPLETED):
        _finished(task)


def _event_subprocess_task(workflow: BpmnSubWorkflow) -> Task | None:
    task = workflow.top_workflow.get_task_from_id(workflow.parent_task_id)
    return task if task is not None and isinstance(task.task_spec, CaseEventSubprocess) else None


def _started(owner: Task, start: Task) -> None:
    """Its start event fired: give the run the case data (payload on top); an interrupting one cancels the rest."""
    given = _merged(_live_holders(owner.workflow, exclude=owner))
    owner.internal_data[_GIVEN] = deepcopy(given)
    payload = start.data
    start.data = {**deepcopy(given), **payload}
    for child in start.children:  # already given the start event's data by Spiff when it became ready
        if not child.has_state(_FINISHED):
            child.data = {**deepcopy(given), **child.data}
    if owner.task_spec.interrupting:
        _cancel_all_but(owner)


def _cancel_all_but(owner: Task) -> None:
    """Cancel every unfinished task of the owner's process outside the owner's branch (BPMN interrupt)."""
    workflow = owner.workflow
    keep = {owner.id, *(task.id for task in owner)}  # the owner and what follows it (the process's end)
    for task in list(workflow.tasks.values()):
        if task.id in keep or task.id not in workflow.tasks or task.has_state(_FINISHED):
            continue
        parent = task.parent
        if parent is None or parent.has_state(_FINISHED):  # the topmost unfinished task of its branch
            task.cancel()


def _finished(task: Task) -> None:
    """Its run ended (its data is merged by ``update_data``): the process ends if nothing else is left in it.

    SpiffWorkflow gives an event sub-process task no path to the process's end join, so the end is made
    here: if nothing else of the process is unfinished (an interrupting one, or the main flow ended while
    it ran), the end join follows this task; otherwise a waiting end join is asked again. A non-interrupting
    run's finished workflow is dropped from the state (its data is merged): a case that takes many such
    messages does not grow with them. An interrupting one stays: its end event gives the case its status.
    """
    workflow = task.workflow
    top = workflow.top_workflow
    if not task.task_spec.interrupting and task.id in top.subprocesses:
        top.delete_subprocess(task)
    end = workflow.spec.end
    others = [t for t in workflow.tasks.values() if t.id != task.id and not t.has_state(_FINISHED)]
    if not others and not task.children:
        child = task._add_child(end, TaskState.FUTURE)
        end._predict(child, mask=TaskState.NOT_FINISHED_MASK)  # its End, as Spiff predicts a path
        end._update(child)
        return
    for join in others:
        if join.task_spec is end and join.state == TaskState.WAITING:
            end._update(join)


def close_idle(workflow: Any) -> bool:
    """End every process that waits only for event sub-processes not started; True if anything changed.

    A timer-started event sub-process is a path of its own in SpiffWorkflow, so the process's end join
    would wait for its timer; BPMN ends the process when its main flow has ended and no event
    sub-process runs.
    """
    changed = False
    for owner in (workflow, *workflow.subprocesses.values()):
        if owner.completed:
            continue
        unfinished = [task for task in owner.tasks.values() if not task.has_state(_FINISHED)]
        idle = {task.id: task for task in unfinished
                if isinstance(task.task_spec, CaseEventSubprocess) and not _has_fired(task)}
        if not idle:
            continue
        ends = (owner.spec.end.name, "End")
        if any(task.id not in idle and task.task_spec.name not in ends
               and not any(node.id in idle for node in _ancestors(task)) for task in unfinished):
            continue  # something else still runs
        for task in idle.values():
            task.cancel()
        for join in [task for task in owner.tasks.values() if task.task_spec.name == owner.spec.end.name]:
            if join.state == TaskState.WAITING:
                join.task_spec._update(join)
        changed = True
    return changed


def _ancestors(task: Task) -> list[Task]:
    found, node = [], task.parent
    while node is not None:
        found.append(node)
        node = node.parent
    return found


def _has_fired(task: Task) -> bool:
    """Whether the event sub-process's start event has fired (its run is under way or done)."""
    subprocess = task.workflow.top_workflow.subprocesses.get(task.id)
    if subprocess is None:
        return task.has_state(_FINISHED)
    return any(isinstance(t.task_spec, StartEvent) and t.has_state(TaskState.COMPLETED)
               for t in subprocess.tasks.values())


def _scope(workflow: Any) -> list[Any]:
    """The workflow and the embedded sub-processes running in it (they share its data; calls and event
    sub-processes have their own)."""
    top = workflow.top_workflow
    found, stack = [], [workflow]
    while stack:
        owner = stack.pop()
        found.append(owner)
        for task_id, subprocess in top.subprocesses.items():
            task = owner.tasks.get(task_id)
            if (task is not None and not subprocess.completed and isinstance(task.task_spec, SubWorkflowTask)
                    and not isinstance(task.task_spec, CallActivity | CaseEventSubprocess)):
                stack.append(subprocess)
    return found


def _live_holders(workflow: Any, *, exclude: Task) -> list[Task]:
    """The tasks whose data the rest of the process goes on from, oldest change first.

    Each unfinished task of the process (and of its embedded sub-processes) that has data, or, for one
    that has none yet (a future task, a waiting join), the finished task it will take its data from. Event
    sub-processes and the excluded task's branch are left out.
    """
    skip = {exclude.id, *(task.id for task in exclude)}
    holders: dict[Any, Task] = {}
    for owner in _scope(workflow):
        for task in owner.tasks.values():
            if task.id in skip or not task.has_state(_UNFINISHED) or _in_event_subprocess_branch(task):
                continue
            if task.data:
                holders[task.id] = task
            elif task.parent is not None and task.parent.has_state(_FINISHED) and task.parent.id not in skip:
                holders[task.parent.id] = task.parent
    return sorted(holders.values(), key=lambda task: task.last_state_change)


def _in_event_subprocess_branch(task: Task) -> bool:
    return isinstance(task.task_spec, CaseEventSubprocess) or any(
        isinstance(node.task_spec, CaseEventSubprocess) for node in _ancestors(task))


def _merged(holders: list[Task]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for holder in holders:
        merged.update(holder.data)
    return {key: value for key, value in merged.items() if not key.startswith("spiff__")}


def _apply(data: dict[str, Any], updates: dict[str, Any], deletions: list[str]) -> dict[str, Any]:
    for key, value in updates.items():
        data[key] = deepcopy(value)
    for key in deletions:
        data.pop(key, None)
    return data


def event_subprocess_end_events(spec: Any, subprocess_specs: dict[str, Any]) -> list[Any]:
    """The end events of the process's interrupting event sub-processes: reaching one ends the case."""
    found: list[Any] = []
    for task_spec in spec.task_specs.values():
        if isinstance(task_spec, CaseEventSubprocess) and task_spec.interrupting:
            sub_spec = subprocess_specs.get(task_spec.spec)
            if sub_spec is not None:
                found.extend(s for s in sub_spec.task_specs.values() if isinstance(s, EndEvent))
    return found
