"""A fan-out case's status board and the tables a case exports (issue #16), as JSON, CSV and XLSX.

The same use cases as the web pages (``processes.case_board``, ``processes.case_table``), so the same
decision: who may read the case (``access.may``) may read these; others get 403, and a restricted case's
read is recorded like any other.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

import processes
from service.api.parsing import query_args
from service.auth import current_user
from service.exports import CSV_MIMETYPE, XLSX_MIMETYPE, download_name, to_csv, to_xlsx
from service.extensions import get_database
from service.schemas import BoardSchema, TableQuery, TableSchema

bp = Blueprint("boards", __name__, url_prefix="/cases")


@bp.get("/<case_id>/board")
def case_board(case_id: str) -> Any:
    """The status board of a fan-out case: counts per state and one row per unit (404 if the process has none)."""
    return BoardSchema().dump(processes.case_board(get_database(), case_id, actor=current_user()))


@bp.get("/<case_id>/tables/<name>")
def case_table(case_id: str, name: str) -> Any:
    """A table the case exports, as JSON or (`?format=csv|xlsx`) as a download."""
    query = query_args(TableQuery())
    table = processes.case_table(get_database(), case_id, name, actor=current_user())
    if query["format"] == "json":
        return TableSchema().dump(table)
    body, mimetype = ((to_csv(table), CSV_MIMETYPE) if query["format"] == "csv" else (to_xlsx(table), XLSX_MIMETYPE))
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{download_name(table, query["format"])}"'})
