"""Use cases on the rules without a case: try a rule set on facts, read its rules and its decision in words."""

from __future__ import annotations

from typing import Any

import rules
from processes.errors import InvalidData, NotFound


def run_decision(ruleset: str, facts: Any, on: Any = None) -> dict[str, Any]:
    """Run a rule set on facts without a case (for testing rules): decision, fired rules, parameters."""
    if not isinstance(facts, dict):
        raise InvalidData("facts must be a JSON object", fields={"facts": "must be an object"})
    if not rules.ruleset_exists(ruleset):
        raise NotFound(f"no rule set {ruleset!r}")
    try:
        decision = rules.decide(ruleset, facts, on=on)
    except rules.RulesError as exc:
        raise InvalidData(exc.message, fields=exc.fields) from None
    return decision.to_dict()


def describe_rules(ruleset: str) -> dict[str, dict[str, str]]:
    """The rule ids of a rule set in words (Danish, English) with their legal source, for the case page."""
    if not rules.ruleset_exists(ruleset):
        raise NotFound(f"no rule set {ruleset!r}")
    return rules.rule_descriptions(ruleset)


def decision_labels(ruleset: str) -> dict[str, dict[str, str]]:
    """The names for people (Danish, English) of the values a rule set's decision holds, by key."""
    if not rules.ruleset_exists(ruleset):
        raise NotFound(f"no rule set {ruleset!r}")
    return rules.decision_labels(ruleset)
