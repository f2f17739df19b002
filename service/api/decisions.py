"""Decisions: run a rule set on facts, so process owners can test rules without a case."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

import processes
from service.api.parsing import json_body
from service.schemas import DecisionRequest, DecisionResultSchema

bp = Blueprint("decisions", __name__, url_prefix="/decisions")


@bp.post("/<ruleset>")
def run_decision(ruleset: str) -> Any:
    """Decide `facts` with a rule set and show the decision, the rules that fired and the parameters."""
    body = json_body(DecisionRequest())
    return DecisionResultSchema().dump(processes.run_decision(ruleset, body["facts"], on=body["on"]))
