"""Use cases on the rules without a case: try a rule set on facts, read its rules and its decision in words."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

import rules
from processes import bundles
from processes.access import reading
from processes.errors import InvalidData, NotFound
from processes.store.db import Database
from processes.store.models import DecisionRecord
from processes.views import UserView


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


def decision_value_words(ruleset: str) -> tuple[dict[str, dict[str, dict[str, str]]], dict[str, str]]:
    """The names for people of a rule set's decision values (field -> value -> {da, en}), and for each list
    of missing items the case data field whose choices it names (its form labels them)."""
    if not rules.ruleset_exists(ruleset):
        raise NotFound(f"no rule set {ruleset!r}")
    return rules.decision_value_labels(ruleset), rules.decision_list_sources(ruleset)


def replay_decision(db: Database, case_id: str, *, index: int, actor: UserView) -> dict[str, Any]:
    """Decide the case's ``index``-th decision (0 = the first) again from what it stored: its facts, its
    date, its rule-set and parameter versions. ``same`` tells whether the outcome is the stored one."""
    with reading(db, case_id, actor, f"decision {index}") as (session, case):
        rows = list(session.scalars(
            select(DecisionRecord).where(DecisionRecord.case_id == case.id).order_by(DecisionRecord.id)))
        if not 0 <= index < len(rows):
            raise NotFound(f"case {case_id!r} has no decision {index}", fields={"index": "no such decision"})
        row = rows[index]
        try:
            again = bundles.replay(session, case.process_version_id, row)
        except rules.RulesError as exc:
            raise InvalidData(exc.message, fields=exc.fields) from None
        replayed = again.to_dict()
        same = (replayed["decision"], replayed["fired"], replayed["parameters"]) == (
            row.decision, row.fired, row.parameters)
        return {**replayed, "same": same}
