"""Process definitions: list the deployed processes, deploy a BPMN file as a new version."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

import processes
from service.api.parsing import query_args, uploaded_bpmn
from service.auth import current_user, require_group
from service.extensions import get_database
from service.schemas import ProcessCaseListQuery, ProcessCaseListSchema, ProcessDetailSchema, ProcessSchema

bp = Blueprint("processes", __name__, url_prefix="/processes")

DEPLOYER_GROUPS = ("process-owners", "admins")


@bp.get("")
def list_processes() -> Any:
    """List the deployed processes, newest version of each."""
    return ProcessSchema(many=True).dump(processes.list_processes(get_database(), actor=current_user()))


@bp.get("/<key>")
def get_process(key: str) -> Any:
    """Show a process's newest version with its start form (JSON Schema and UI hints) and your units."""
    return ProcessDetailSchema().dump(processes.get_process(get_database(), key, actor=current_user()))


@bp.post("")
@require_group(*DEPLOYER_GROUPS)
def deploy_process() -> Any:
    """Validate a BPMN file and store it as the next version of its process."""
    xml, filename = uploaded_bpmn()
    process = processes.deploy(get_database(), xml, filename, actor=current_user())
    return ProcessSchema().dump(process), 201


@bp.get("/<key>/cases")
def list_process_cases(key: str) -> Any:
    """The cases of a process the caller may read, newest first, with the case data fields it lists
    (its property `listColumns`), e.g. a unit's lone-work approvals and their status."""
    query = query_args(ProcessCaseListQuery())
    where = dict(item.split(":", 1) for item in query["where"].split(",")) if query.get("where") else None
    try:
        found = processes.process_cases(get_database(), process=key, actor=current_user(), unit=query.get("unit"),
                                         where=where, limit=query["limit"])
    except processes.errors.InvalidData as exc:  # a field the process does not list: name it as part of `where`
        raise processes.errors.InvalidData(
            exc.message, fields={f"where.{name}": problem for name, problem in exc.fields.items()}) from None
    return ProcessCaseListSchema().dump(found)
