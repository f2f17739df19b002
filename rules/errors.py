"""Errors of the rules package.

Every error carries a human-readable ``message`` and a ``fields`` mapping (field name or data path →
what is wrong with it), so the service layer can map any of them to the JSON error payload
``{"error": {"code", "message", "fields"}}`` in one place without knowing the subclasses.
"""

from __future__ import annotations

from collections.abc import Mapping


class RulesError(Exception):
    """Base class: a decision could not be made (or rule data is broken)."""

    code = "rules_error"

    def __init__(self, message: str, fields: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields: dict[str, str] = dict(fields or {})

    def __str__(self) -> str:
        if not self.fields:
            return self.message
        details = "; ".join(f"{name}: {problem}" for name, problem in self.fields.items())
        return f"{self.message} ({details})"


class RuleSetNotFound(RulesError):
    """No rule set of that name is deployed."""

    code = "ruleset_not_found"

    def __init__(self, ruleset: object) -> None:
        super().__init__(f"unknown rule set {ruleset!r}")
        self.ruleset = ruleset


class InvalidFacts(RulesError):
    """The facts do not fit the rule set's contract; ``fields`` names each bad fact."""

    code = "invalid_facts"

    def __init__(self, ruleset: str, fields: Mapping[str, str]) -> None:
        names = ", ".join(sorted(fields))
        super().__init__(f"invalid facts for rule set {ruleset!r}: {names}", dict(sorted(fields.items())))
        self.ruleset = ruleset


class InvalidRuleSet(RulesError):
    """A rule or parameter file breaks its JSON Schema or refers to something that does not exist.

    Raised when the data is loaded, never half-way through a decision: a rule without ``all``/``any``
    is accepted by durable-rules and then crashes the process on the first decision (see TECH.md).
    """

    code = "invalid_ruleset"


class ParameterError(RulesError):
    """An effective-dated parameter is unknown, or has no value on the date asked for."""

    code = "parameter_error"
