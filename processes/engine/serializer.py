"""Saving and restoring a case's workflow state.

Three decisions, each measured or forced by SpiffWorkflow's behaviour (TECH.md):

* **State only.** The process definition is stored once per deployed version; a case row holds only the
  run state. On restore the cached, already parsed spec objects are handed back to the workflow.
* **User data is escaped.** Spiff's serializer reads any dict with a ``typename`` key as a typed object,
  so form data such as ``{"vehicle": {"typename": "van"}}`` would make a case impossible to reload. Every
  dict key that is ``typename`` or starts with ``~`` gets a ``~`` prefix going in and loses it coming out:
  a bijection, so no user value can collide with an escaped one.
* **A version with every row** (``SERIALIZER_VERSION``): ours plus Spiff's, so a later format change can be
  migrated and tested.
"""

from __future__ import annotations

import gc
import json
import math
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, TaskConverter
from SpiffWorkflow.bpmn.serializer.workflow import VERSION as SPIFF_SERIALIZER_VERSION
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.specs.defaults import EventSubprocess as SpiffEventSubprocess
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition as SpiffMessageEventDefinition
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.task import TaskState

from processes.engine.event_subprocesses import CaseEventSubprocess
from processes.engine.specs import CaseMessageEventDefinition, RuleTask, RuleTaskConverter

SERIALIZER_VERSION = f"amflow-1/spiff-{SPIFF_SERIALIZER_VERSION}"
_ESCAPE = "~"


class StateOnlyWorkflowConverter(BpmnWorkflowConverter):
    """Leaves the process definition out of the serialization and takes spec objects back in."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any]) -> BpmnWorkflow:
        spec = dct.pop("spec")
        subprocess_specs = dct.pop("subprocess_specs", {})
        if not isinstance(spec, BpmnProcessSpec):
            return super().from_dict({"spec": spec, "subprocess_specs": subprocess_specs, **dct})
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        # The registry's walk minus a dict copy per task, and each id parsed once (not as key, id, parent, child).
        task_from_dict = self.registry.convert_from_dict["Task"]
        ids = {key: UUID(key) for key in dct["tasks"]}
        plain = dct.pop(_PLAIN_KEY, False)
        workflow.tasks = {ids[key]: task_from_dict(value, workflow=workflow, ids=ids, plain=plain)
                          for key, value in dct["tasks"].items()}
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_CONTAINERS = (dict, list)
_COPIED = (dict, list, set)


class LeanTaskConverter(TaskConverter):
    """Spiff's task format, read and written with less work per task.

    A case is restored and saved on every request, and a multi-instance task has one task per item, so the
    per-task cost is paid (open instances x completions) times. Same dictionaries as Spiff's converter
    (rows written by either read with either); the differences are only in how they are made:

    * a task with no data of its own is written as ``data: {}`` with no delta, so reading it copies
      nothing from its parent (Spiff writes "delete every key of the parent", which reads back the same
      empty dict after copying the parent's data first);
    * values are restored by a walk that only calls the registry for dicts that carry a ``typename``
      (Spiff's registry is called for every nested value), and not walked at all when the state was
      written without converting any value (see :func:`dump_state`).
    """

    def to_dict(self, task: Task) -> dict[str, Any]:
        parent = task.parent
        if parent is None or not task.data:
            data, delta = task.data, {}
        else:
            data = {}
            delta = {
                "updates": DeepMerge.get_updated_keys(parent.data, task.data),
                "deletions": DeepMerge.get_deleted_keys(parent.data, task.data),
            }
        return {
            "id": str(task.id),
            "parent": str(task._parent) if parent is not None else None,
            "children": [str(child) for child in task._children],
            "last_state_change": task.last_state_change,
            "state": task.state,
            "task_spec": task.task_spec.name,
            "triggered": task.triggered,
            "internal_data": self.registry.convert(task.internal_data),
            "data": data,
            "delta": delta,
        }

    def from_dict(
        self, dct: dict[str, Any], workflow: Any, ids: Mapping[str, UUID] | None = None, plain: bool = False
    ) -> Task:
        def uuid(text: str) -> UUID:
            return ids.get(text) or UUID(text) if ids is not None else UUID(text)

        restore = _unchanged if plain else self._restore

        task_spec = workflow.spec.task_specs.get(dct["task_spec"])
        task = self.target_class(workflow, task_spec, state=dct["state"], id=uuid(dct["id"]))
        task._parent = uuid(dct["parent"]) if dct["parent"] is not None else None
        task._children = [uuid(child) for child in dct["children"]]
        task.last_state_change = dct["last_state_change"]
        task.triggered = dct["triggered"]
        task.internal_data = restore(dct["internal_data"])
        if isinstance(task_spec, CatchingEvent) and task.has_state(TaskState.WAITING):
            task.workflow.top_workflow.event_manager.add_task(task)
        delta = dct.get("delta") or {}
        parent = task.parent if delta else None
        if parent is not None:  # as DeepMerge.merge({}, parent.data): mutable values copied one level deep
            data = {key: value.copy() if type(value) in _COPIED else value for key, value in parent.data.items()}
            data.update(restore(delta.get("updates", {})))
            for key in delta.get("deletions", ()):
                data.pop(key, None)
        else:
            data = restore(dct["data"])
        task.data = data
        return task

    def _restore(self, value: Any) -> Any:
        if type(value) is dict:
            if "typename" in value:
                return self.registry.restore(value)
            return {key: self._restore(item) if type(item) in _CONTAINERS else item for key, item in value.items()}
        if type(value) is list:
            return [self._restore(item) if type(item) in _CONTAINERS else item for item in value]
        return value


def _make_serializer() -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = StateOnlyWorkflowConverter
    config[Task] = LeanTaskConverter
    config[RuleTask] = RuleTaskConverter
    config[CaseMessageEventDefinition] = config[SpiffMessageEventDefinition]  # Spiff's, for our subclass
    config[CaseEventSubprocess] = config[SpiffEventSubprocess]
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


_SERIALIZER = _make_serializer()


class _GcPause:
    """Cyclic garbage collection held off while a state is restored or written, for all threads at once.

    Restoring allocates a burst of thousands of containers (tasks, their data, copies of their parent's
    lists) that all live until the request ends; each burst set off several collections that traversed all
    of them again (about 40% of the time of a 300-instance case in bench/multi_instance.py). Collection
    resumes when the last thread leaves, and runs then if due. Nothing is held off if the process had
    disabled collection itself.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._resume = False

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._holders == 0:
                self._resume = gc.isenabled()
                gc.disable()
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0 and self._resume:
                    gc.enable()


gc_paused = _GcPause()


def _unchanged(value: Any) -> Any:
    return value


# Written when encoding the state converted no value inside task data (no date, UUID, event...): then no
# dict in it carries a ``typename`` (user data has such keys escaped), and restoring needs no walk of it.
_PLAIN_KEY = "amflow_plain_values"


class _CountingEncoder(_SERIALIZER._encoder_cls):  # type: ignore[name-defined]
    """Spiff's encoder, noting whether it had to convert any value that JSON cannot hold."""

    converted = False

    def default(self, obj: Any) -> Any:
        self.converted = True
        return super().default(obj)


def dump_state(workflow: BpmnWorkflow) -> str:
    """The workflow's run state as JSON text (no process definition); as Spiff's ``serialize_json``."""
    encoder = _CountingEncoder()
    with gc_paused():
        text = _encode(workflow, encoder)
    if not encoder.converted:
        text = f'{text[:-1]}, "{_PLAIN_KEY}": true}}'
    return text


def _encode(workflow: BpmnWorkflow, encoder: json.JSONEncoder) -> str:
    registry = _SERIALIZER.registry
    registry._encoder_mode = True
    try:
        dct = _SERIALIZER.to_dict(workflow)
        dct[_SERIALIZER.VERSION_KEY] = _SERIALIZER.VERSION
        text = encoder.encode(dct)
    finally:
        registry._encoder_mode = False
    return text


def load_state(
    state: str, version: str, spec: BpmnProcessSpec, subprocess_specs: Mapping[str, BpmnProcessSpec]
) -> BpmnWorkflow:
    """Restore a workflow from its run state and the cached specs of its process version."""
    if version != SERIALIZER_VERSION:
        raise ValueError(f"no migration from serializer version {version!r} to {SERIALIZER_VERSION!r}")
    with gc_paused():
        dct = json.loads(state)
        dct.pop(_SERIALIZER.VERSION_KEY, None)
        dct["spec"] = spec
        dct["subprocess_specs"] = dict(subprocess_specs)
        return _SERIALIZER.from_dict(dct)


def _escape_key(key: str) -> str:
    return _ESCAPE + key if key == "typename" or key.startswith(_ESCAPE) else key


def _unescape_key(key: str) -> str:
    return key[1:] if key.startswith(_ESCAPE) else key


class UnsafeValue(ValueError):
    """A value that cannot be stored as JSON (NaN, infinity, a non-string key, an unknown type)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path or 'data'}: {problem}")
        self.path = path or "data"
        self.problem = problem


def escape(value: Any, path: str = "") -> Any:
    """User data → workflow data: JSON types only, ``typename`` keys escaped."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise UnsafeValue(path, "object keys must be strings")
            out[_escape_key(key)] = escape(item, f"{path}.{key}" if path else key)
        return out
    if isinstance(value, list | tuple):
        return [escape(item, f"{path}.{index}") for index, item in enumerate(value)]
    if isinstance(value, float) and not math.isfinite(value):
        raise UnsafeValue(path, "numbers must be finite")
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise UnsafeValue(path, f"values of type {type(value).__name__} cannot be stored")


def unescape(value: Any) -> Any:
    """Workflow data → user data: the inverse of :func:`escape`."""
    if isinstance(value, dict):
        return {_unescape_key(key): unescape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unescape(item) for item in value]
    return value


def erase_fields(state: str, names: frozenset[str]) -> tuple[str, int]:
    """The run state with the data fields ``names`` removed from the workflow's and every task's data (its
    ``data`` and the ``updates`` of its ``delta``, also in sub-processes); returns (the new state, how many
    values were removed). Nothing else changes, so the state still restores."""
    removed = 0

    def walk(node: Any) -> None:
        nonlocal removed
        if isinstance(node, dict):
            delta = node.get("delta")  # a task's data is stored as its changes to its parent's
            for data in (node.get("data"), delta.get("updates") if isinstance(delta, dict) else None):
                if isinstance(data, dict):
                    for name in names & data.keys():
                        del data[name]
                        removed += 1
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    dct = json.loads(state)
    walk(dct)
    return json.dumps(dct), removed
