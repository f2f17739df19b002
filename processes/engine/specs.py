"""Task specs of our own, with their serializer converters."""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.spiff.serializer.task_spec import SpiffBpmnTaskConverter
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition as SpiffMessageEventDefinition
from SpiffWorkflow.spiff.specs.spiff_task import SpiffBpmnTask
from SpiffWorkflow.task import Task


class RuleTask(SpiffBpmnTask):
    """A business-rule task that asks our rules engine (``rules.decide``) instead of a DMN table.

    The script engine the runtime attaches to the workflow is built with a ``rules`` collaborator
    (``sandbox.RulesEngine``) whose ``decide(task, ruleset)`` records the
    decision (rule ids fired, parameter values used) for the case and the audit trail and returns the
    decision dict; it is stored in the task data under ``result_variable``.
    """

    def __init__(self, wf_spec: Any, name: str, ruleset: str, result_variable: str, **kwargs: Any) -> None:
        super().__init__(wf_spec, name, **kwargs)
        self.ruleset = ruleset
        self.result_variable = result_variable

    def _run_hook(self, my_task: Any) -> bool:
        rules = my_task.workflow.script_engine.rules
        if rules is None:
            raise RuntimeError("no rules engine attached to the workflow's script engine")
        my_task.data[self.result_variable] = rules.decide(my_task, self.ruleset)
        return True


class CaseMessageEventDefinition(SpiffMessageEventDefinition):
    """Spiff's message event, but a payload without a ``messageVariable`` is merged into the data.

    Spiff drops such a payload; a message with a form is a form posted into the case, so its fields
    become case data like a user task's. Serialized with Spiff's own converter (``serializer.py``).
    """

    def update_task_data(self, my_task: Task) -> None:
        if self.message_var is not None:
            super().update_task_data(my_task)
            return
        payload = my_task.internal_data.pop(self.name, None)
        if isinstance(payload, dict):
            my_task.set_data(**payload)


class RuleTaskConverter(SpiffBpmnTaskConverter):
    """Serializer converter for RuleTask (SpiffWorkflow needs one for every custom spec class)."""

    def to_dict(self, spec: RuleTask) -> dict[str, Any]:
        dct = super().to_dict(spec)
        dct["ruleset"] = spec.ruleset
        dct["result_variable"] = spec.result_variable
        return dct


def connect_loop_tasks(spec: BpmnProcessSpec) -> int:
    """Wire every loop and multi-instance task to the completion of its child spec; return how many were wired.

    A loop task (standard loop, sequential or parallel multi-instance) learns that one of its instances
    finished only through ``child_spec.completed_event``, which calls its ``merge_child`` (collect the
    output item, count the instance, move on when all are done). SpiffWorkflow connects that callback
    lazily, when the loop task creates its first instance in *this* process, and its own spec deserializer
    connects it on restore; a spec freshly parsed from XML has none. So a second worker or a restarted
    server that restores a case with instances already running completes them without merging them: the
    outputs are lost and the loop never ends. Connect them once, right after parsing and before the spec
    is shared, so no two threads race to connect the same callback twice (which would merge twice).
    """
    wired = 0
    for task_spec in spec.task_specs.values():
        if isinstance(task_spec, LoopTask):
            child_spec = spec.task_specs[task_spec.task_spec]
            if not child_spec.completed_event.is_connected(task_spec.merge_child):
                child_spec.completed_event.connect(task_spec.merge_child)
                wired += 1
    return wired


def wire_event_subprocess_triggers(spec: BpmnProcessSpec) -> int:
    """Give each event sub-process started by a caught event its edges now, without making it a start path.

    When such an event (signal, message, error, ...) is caught, SpiffWorkflow's ``BpmnStartTask.trigger_wf``
    connects the event sub-process on first use: ``Start -> sub-process -> EndJoin``, mutating the spec.
    With one parsed spec shared by all cases of a version that goes wrong twice:

    * in a process that never saw the event (another worker, a restart) a case that already caught it has
      an unconnected sub-process task: ``No input task connected`` when it is resumed;
    * once one case has caught it, ``Start`` lists the sub-process among its outputs, so every later case
      of that version in the same process starts it at once, waits in it for an event that may never come,
      and its end join never fires: the case never ends.

    So the edges ``trigger_wf`` needs are made once at parse time, except ``Start``'s output: the
    sub-process knows ``Start`` as its input (so ``trigger_wf`` sees it connected and changes nothing) and
    ``EndJoin`` as its output, but ``Start`` never predicts it. Returns how many were wired.
    """
    start, wired = spec.start, 0
    for name in getattr(start, "trigger_specs", []):
        task_spec = spec.task_specs[name]
        if start.name not in task_spec._inputs:
            task_spec._inputs.append(start.name)
            wired += 1
        if spec.end.name not in task_spec._outputs:
            task_spec.connect(spec.end)
    return wired
