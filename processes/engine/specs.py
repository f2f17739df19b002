"""Task specs of our own, with their serializer converters."""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.spiff.serializer.task_spec import SpiffBpmnTaskConverter
from SpiffWorkflow.spiff.specs.spiff_task import SpiffBpmnTask


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


class RuleTaskConverter(SpiffBpmnTaskConverter):
    """Serializer converter for RuleTask (SpiffWorkflow needs one for every custom spec class)."""

    def to_dict(self, spec: RuleTask) -> dict[str, Any]:
        dct = super().to_dict(spec)
        dct["ruleset"] = spec.ruleset
        dct["result_variable"] = spec.result_variable
        return dct
