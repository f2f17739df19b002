"""The deployed rule sets and parameters, and ``decide``.

The data files are read and checked once (at first use) and cached: a decision then costs a fact check,
a few set operations and one durable-rules assertion, not a file read.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rules import computed, engine, lookup
from rules.decision import Decision, assemble
from rules.errors import InvalidRuleSet, ParameterError, RulesError, RuleSetNotFound
from rules.facts import derive, validate_facts
from rules.loader import (
    PARAMETERS_FILE,
    data_directory,
    load_parameters,
    load_ruleset,
    load_ruleset_file,
    read_json,
    ruleset_files,
)
from rules.model import RuleSet
from rules.parameters import ParameterTable, thaw

# Legal dates are Danish dates: a decision made at 00:30 in Copenhagen belongs to that day.
LEGAL_TIME_ZONE = ZoneInfo("Europe/Copenhagen")


def today() -> datetime.date:
    """Today's date in Denmark."""
    return datetime.datetime.now(LEGAL_TIME_ZONE).date()


_today = today  # ``Catalog.decide`` has a parameter of that name


def _decision_date(on: datetime.date | None) -> datetime.date:
    if on is None:
        return today()
    if isinstance(on, datetime.datetime):
        return on.astimezone(LEGAL_TIME_ZONE).date() if on.tzinfo else on.date()
    if isinstance(on, datetime.date):
        return on
    raise RulesError(f"'on' must be a date, not {type(on).__name__}", {"on": "expected a date"})


@dataclass(frozen=True)
class Catalog:
    """Rule sets by name plus the parameter table they read."""

    rulesets: Mapping[str, RuleSet]
    parameters: ParameterTable
    registers: Mapping[str, lookup.Register] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: Traversable | Path | None = None) -> Catalog:
        """Load and check every ``*.rules.json`` and ``parameters.json`` of ``directory``."""
        directory = directory if directory is not None else data_directory()
        parameters = load_parameters(read_json(directory / PARAMETERS_FILE))
        registers = lookup.load_registers(directory)
        rulesets: dict[str, RuleSet] = {}
        for path in ruleset_files(directory):
            ruleset = load_ruleset_file(path, parameters, registers)
            rulesets[ruleset.name] = ruleset
        if not rulesets:
            raise InvalidRuleSet(f"no *.rules.json files in {directory}")
        return cls(rulesets=rulesets, parameters=parameters, registers=registers)

    @classmethod
    def from_documents(
        cls,
        rulesets: Iterable[Mapping[str, Any]],
        parameters: Mapping[str, Any],
        registers: Iterable[Mapping[str, Any]] = (),
    ) -> Catalog:
        """A catalog of rule-set, parameter and register *documents* (the parsed JSON of their files),
        checked exactly as files are: e.g. the versions a process bundle keeps in the database."""
        table = load_parameters(parameters)
        loaded = {}
        for document in registers:
            register = lookup.load_register(document, what=f"register {document.get('name')!r}")
            loaded[register.name] = register
        sets: dict[str, RuleSet] = {}
        for document in rulesets:
            ruleset = load_ruleset(document, table, what=f"rule set {document.get('name')!r}", registers=loaded)
            sets[ruleset.name] = ruleset
        return cls(rulesets=sets, parameters=table, registers=loaded)

    def get(self, name: str) -> RuleSet:
        """The rule set called ``name``; ``RuleSetNotFound`` otherwise."""
        try:
            return self.rulesets[name]
        except (KeyError, TypeError):
            raise RuleSetNotFound(name) from None

    def parameter_values(self, ruleset: RuleSet, on: datetime.date) -> dict[str, Any]:
        """The values in force on ``on`` of every parameter the rule set reads."""
        try:
            return {key: self.parameters.value(key, on) for key in ruleset.parameter_keys}
        except ParameterError as error:
            raise ParameterError(
                f"rule set {ruleset.name!r} cannot decide on {on.isoformat()}: {error.message}", error.fields
            ) from error

    def parameter(self, key: str, on: datetime.date | None = None) -> Any:
        """A JSON-safe copy of the value of ``key`` in force on ``on`` (default: today)."""
        return thaw(self.parameters.value(key, _decision_date(on)))

    def decide(
        self, name: str, facts: Mapping[str, Any], on: datetime.date | None = None, *,
        today: datetime.date | None = None,
    ) -> Decision:
        """Run rule set ``name`` over ``facts`` with the parameters in force on ``on``.

        Without ``on``: the date of the rule set's ``law_date_fact`` if it declares one and it is given,
        else ``today`` (default: today in Denmark; a caller with its own clock gives its date).
        """
        ruleset = self.get(name)
        checked = validate_facts(ruleset.name, ruleset.facts, facts)
        fallback = _decision_date(today) if today is not None else None
        day = (
            _decision_date(on) if on is not None
            else computed.law_date(ruleset, checked) or fallback or _today()
        )
        parameters = self.parameter_values(ruleset, day)
        checked = computed.complete(ruleset, checked, parameters)
        derived = derive(ruleset.derived, checked, parameters)
        found, used = lookup.evaluate(ruleset.lookups, checked, day)
        posted = {spec.name: checked[spec.name] for spec in ruleset.facts if spec.is_scalar}
        posted.update(lookup.postable(found))
        if ruleset.program is None:
            raise RulesError(f"rule set {ruleset.name!r} is not compiled")
        outcome = engine.run(ruleset.program, {**posted, **derived})
        decision, fired = assemble(ruleset, outcome, {**checked, **derived, **found}, parameters)
        return Decision(
            ruleset=ruleset.name, decision=decision, fired=fired, parameters={**thaw(parameters), **used}, on=day,
            facts=thaw(dict(facts)), derived=thaw({**derived, **found}),
        )


@cache
def default_catalog() -> Catalog:
    """The catalog of the shipped data directory, loaded once per process."""
    return Catalog.load()


def reload() -> None:
    """Forget the loaded data, so the next call reads the (edited) files again."""
    default_catalog.cache_clear()
