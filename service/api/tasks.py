"""Tasks: the work queue, and claiming, releasing and completing a task."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

import processes
from service import metrics
from service.api.dumping import tree_dumper
from service.api.parsing import json_body, query_args
from service.auth import current_user
from service.extensions import get_database
from service.schemas import (
    AssignRequest,
    CaseSchema,
    CompleteTaskRequest,
    TaskDetailSchema,
    TaskQuery,
    TaskSchema,
    dump_task,
)

bp = Blueprint("tasks", __name__, url_prefix="/tasks")

# built once: a schema's construction (deep copies of its fields) costs more than a dump
_dump_case = tree_dumper(CaseSchema)  # what CaseSchema().dump gives, without marshmallow's cost per field
_dump_task_detail = tree_dumper(TaskDetailSchema)
_TASK_SCHEMA = TaskSchema()
_TASK_QUERY = TaskQuery()  # and the request schemas: loading keeps no state in the schema
_COMPLETE_TASK_REQUEST = CompleteTaskRequest()

ME = "me"


@bp.get("")
def list_tasks() -> Any:
    """List the tasks the caller may work on (default: the open ones), filtered, sorted and paged."""
    query = query_args(_TASK_QUERY)
    if query.get("assignee") == ME:
        query["assignee"] = current_user().username
    query["descending"] = query.pop("order", "asc") == "desc"
    page = processes.task_page(get_database(), actor=current_user(), filters=processes.TaskFilter(**query))
    # TaskPageSchema documents this; a page of tasks is dumped without marshmallow's cost per field
    return {"items": [dump_task(task) for task in page.tasks], "total": page.total,
            "total_capped": page.total_capped, "next_cursor": page.next_cursor}


@bp.get("/<task_id>")
def get_task(task_id: str) -> Any:
    """Show a task with its form's JSON Schema and UI hints."""
    return _dump_task_detail(processes.get_task(get_database(), task_id, actor=current_user()))


@bp.post("/<task_id>/claim")
def claim_task(task_id: str) -> Any:
    """Assign a task to the caller."""
    return _TASK_SCHEMA.dump(processes.claim_task(get_database(), task_id, actor=current_user()))


@bp.post("/<task_id>/unclaim")
def unclaim_task(task_id: str) -> Any:
    """Give a claimed task back to its group."""
    return _TASK_SCHEMA.dump(processes.unclaim_task(get_database(), task_id, actor=current_user()))


@bp.post("/<task_id>/complete")
def complete_task(task_id: str) -> Any:
    """Complete a task with its form's data and return the advanced case."""
    body = json_body(_COMPLETE_TASK_REQUEST)
    case = processes.complete_task(get_database(), task_id, data=body["data"], actor=current_user())
    metrics.count_steps("complete")
    return _dump_case(case)


@bp.post("/<task_id>/assign")
def assign_task(task_id: str) -> Any:
    """Give a task to a colleague who may work it (they are notified)."""
    body = json_body(AssignRequest())
    (task,) = processes.assign_tasks(get_database(), [task_id], assignee=body["assignee"], actor=current_user())
    return _TASK_SCHEMA.dump(task)
