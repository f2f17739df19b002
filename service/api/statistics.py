"""A process's statistics per unit (issue #14) as JSON: the same counts as the statistics page, decided by
the same rule (processes.access: the reports' groups, and the groups the process names, in their units)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

import processes
from service.api.parsing import query_args
from service.auth import current_user
from service.extensions import get_database
from service.schemas import StatisticsQuery, StatisticsSchema

bp = Blueprint("statistics", __name__, url_prefix="/statistics")


@bp.get("/<process>")
def process_statistics(process: str) -> Any:
    """Count a process's cases per unit by the values it declares, and its timed tasks done on time or late."""
    query = query_args(StatisticsQuery())
    view = processes.process_statistics(get_database(), process, actor=current_user(), unit=query.get("unit"))
    return StatisticsSchema().dump(view)
