"""Rule-based decisions for amflow: ``decide(ruleset, facts, on=date) -> Decision``.

Rule sets are JSON data in ``rules/data/*.rules.json`` run by durable-rules; legal figures are
effective-dated parameters in ``rules/data/parameters.json`` (DOMAIN.md § 0.3). This package imports
nothing else of amflow and is the only one that imports durable-rules (STYLE.md 1 and 8).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from rules.bundled import catalog_of, decide_with, parameter_with
from rules.calendar import add_working_days
from rules.catalog import Catalog, default_catalog, reload
from rules.decision import Decision
from rules.errors import InvalidFacts, InvalidRuleSet, ParameterError, RulesError, RuleSetNotFound
from rules.loader import data_directory

__all__ = [
    "Catalog",
    "Decision",
    "InvalidFacts",
    "InvalidRuleSet",
    "ParameterError",
    "RuleSetNotFound",
    "RulesError",
    "add_working_days",
    "catalog_of",
    "data_directory",
    "decide",
    "decide_with",
    "decision_labels",
    "decision_list_sources",
    "decision_value_labels",
    "fact_names",
    "parameter",
    "parameter_with",
    "reload",
    "rule_descriptions",
    "ruleset_exists",
    "ruleset_names",
]


def decide(ruleset: str, facts: Mapping[str, Any], on: datetime.date | None = None) -> Decision:
    """Decide ``facts`` with rule set ``ruleset`` and the parameters in force on ``on`` (default: today).

    Raises ``RuleSetNotFound``, ``InvalidFacts`` (``fields`` names each bad fact) or ``RulesError``
    (e.g. a parameter has no value yet on ``on``).
    """
    return default_catalog().decide(ruleset, facts, on)


def ruleset_names() -> list[str]:
    """The names of the deployed rule sets, sorted."""
    return sorted(default_catalog().rulesets)


def ruleset_exists(name: str) -> bool:
    """Whether a rule set called ``name`` is deployed (checked when a BPMN model is deployed)."""
    return isinstance(name, str) and name in default_catalog().rulesets


def fact_names(ruleset: str) -> tuple[str, ...]:
    """The facts the rule set's contract names, in its own order."""
    return default_catalog().get(ruleset).fact_names


def rule_descriptions(ruleset: str) -> dict[str, dict[str, str]]:
    """For each rule id the rule set cites: ``{"da", "en", "source"}``, for the case page."""
    return {rule_id: text.to_dict() for rule_id, text in default_catalog().get(ruleset).citations.items()}


def decision_labels(ruleset: str) -> dict[str, dict[str, str]]:
    """For each decision field that has one, its name for people: ``{"da", "en"}``."""
    return {item.name: dict(item.title) for item in default_catalog().get(ruleset).decision if item.title}


def decision_value_labels(ruleset: str) -> dict[str, dict[str, dict[str, str]]]:
    """For each decision field whose values have names for people: ``{value: {"da", "en"}}``."""
    return {item.name: {value: dict(text) for value, text in item.value_titles.items()}
            for item in default_catalog().get(ruleset).decision if item.value_titles}


def decision_list_sources(ruleset: str) -> dict[str, str]:
    """For each decision list of missing items (``missing_from``): the list fact whose values it holds."""
    return {item.name: item.missing_from for item in default_catalog().get(ruleset).decision if item.missing_from}


def parameter(key: str, on: datetime.date | None = None) -> Any:
    """The value of an effective-dated parameter on ``on`` (default: today); ``ParameterError`` if none."""
    return default_catalog().parameter(key, on)
