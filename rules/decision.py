"""The result of a decision, and how it is assembled from what the fired rules recorded.

A decision carries what was decided, which rule ids fired and the parameter values in force on the date,
so the case data and the audit trail can explain every routing afterwards (DESIGN.md, "Rules").
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rules.engine import Outcome
from rules.errors import RulesError
from rules.model import DecisionField, RuleSet
from rules.parameters import thaw


@dataclass(frozen=True)
class Decision:
    """What a rule set decided for one set of facts on one date."""

    ruleset: str
    decision: dict[str, Any]
    fired: tuple[str, ...]
    parameters: dict[str, Any]
    on: datetime.date

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe copy, e.g. for the case data and the audit trail."""
        return {
            "ruleset": self.ruleset,
            "decision": thaw(self.decision),
            "fired": list(self.fired),
            "parameters": thaw(self.parameters),
            "on": self.on.isoformat(),
        }


def _check(ruleset: RuleSet, outcome: Outcome) -> None:
    """Raise if an action failed (durable-rules swallows action exceptions) or two rules contradict."""
    if outcome.exception is not None:
        reason = outcome.exception.split(", traceback", 1)[0]
        raise RulesError(f"a rule action of rule set {ruleset.name!r} failed: {reason}")
    if not outcome.evaluated:
        raise RulesError(f"rule set {ruleset.name!r} did not run to its end")
    if outcome.conflicts:
        fields = {item.split(":", 1)[0]: item for item in outcome.conflicts}
        raise RulesError(f"rules of rule set {ruleset.name!r} contradict each other", fields)


def _resolve(value: Any, parameters: Mapping[str, Any]) -> Any:
    """A recorded outcome; ``{"parameter": key}`` stands for the parameter's value on the date."""
    if isinstance(value, dict) and set(value) == {"parameter"}:
        return thaw(parameters[value["parameter"]])
    return thaw(value)


def _missing(
    field: DecisionField, required_keys: tuple[str, ...], facts: Mapping[str, Any], parameters: Mapping[str, Any]
) -> list[str]:
    """Required items (the union of the required parameter lists) not given in the fact, sorted."""
    required = {item for key in required_keys for item in parameters[key]}
    given = set(facts[field.missing_from]) if field.missing_from else set()
    return sorted(required - given)


def assemble(
    ruleset: RuleSet,
    outcome: Outcome,
    facts: Mapping[str, Any],
    parameters: Mapping[str, Any],
    computed: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The decision fields and the cited rule ids (in firing order, once each) from the rules' outcome.

    ``computed`` holds the values of the decision fields with ``compute`` (``rules.computed``).
    """
    _check(ruleset, outcome)
    decided, required = outcome.decision, outcome.required
    decision: dict[str, Any] = {}
    undecided: dict[str, str] = {}
    for field in ruleset.decision:
        if field.compute is not None:
            decision[field.name] = thaw((computed or {}).get(field.name))
        elif field.missing_from:
            decision[field.name] = _missing(field, required.get(field.name, ()), facts, parameters)
        elif field.name in decided:
            decision[field.name] = _resolve(decided[field.name], parameters)
        elif field.has_default:
            decision[field.name] = thaw(field.default)
        else:
            undecided[field.name] = "no rule decided it"
    if undecided:
        raise RulesError(f"rule set {ruleset.name!r} reached no decision for these facts", undecided)
    cited = (rule_id for name in outcome.fired for rule_id in ruleset.rules_by_name[name].cites)
    return decision, tuple(dict.fromkeys(cited))
