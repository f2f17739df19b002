"""The rule-set model: a ``*.rules.json`` file after validation, as frozen dataclasses.

A rule set names its contract (the facts it accepts), the derived facts computed from them and the
effective-dated parameters, the decision fields it produces, its rules (durable-rules conditions plus
the outcome of each rule as data) and, for every rule id it cites, a Danish and English description
with the legal source, so a routing can be explained on the case page afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from rules.computed import Computation
    from rules.engine import Program

FactType = Literal["boolean", "integer", "string", "list", "date", "time_windows"]
POSTED_TYPES = ("boolean", "integer", "string")
DerivedOp = Literal["not_empty", "intersects", "less_than", "at_least"]


@dataclass(frozen=True)
class FactSpec:
    """One fact of the contract: its type, allowed values and whether it must be given."""

    name: str
    type: FactType
    required: bool = True
    default: Any = None
    values: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    derive: Computation | None = None  # how to compute the fact when it is left out (rules/computed.py)

    @property
    def is_scalar(self) -> bool:
        """Scalar facts are posted to durable-rules as they are; lists, dates and time windows only
        through derived facts and computations."""
        return self.type in POSTED_TYPES


@dataclass(frozen=True)
class DerivedFact:
    """A boolean computed from a fact and (usually) a parameter, e.g. ``has_prohibited_hazard``.

    Derived facts keep set and threshold arithmetic out of the rule conditions, so the lists and
    thresholds can be effective-dated parameters while the rules stay plain boolean conditions.
    """

    name: str
    op: DerivedOp
    fact: str
    parameter: str | None = None


@dataclass(frozen=True)
class DecisionField:
    """One field of the decision and how it gets its value.

    Either a rule sets it (``default`` applies when none does; no default means a rule must), or, with
    ``missing_from``, it is the sorted list of required items (from the rules' ``require``) not given
    in that list fact.
    """

    name: str
    type: FactType
    values: tuple[str, ...] = ()
    nullable: bool = False
    has_default: bool = False
    default: Any = None
    missing_from: str | None = None
    compute: Computation | None = None  # computed from facts and parameters, not set by a rule


@dataclass(frozen=True)
class ParameterRef:
    """A decision value taken from an effective-dated parameter, e.g. a reporting deadline in days."""

    key: str


@dataclass(frozen=True)
class Rule:
    """One rule: a durable-rules condition and its outcome, both data.

    ``cites`` lists the DOMAIN.md rule ids (e.g. ``B-R3``) that justify it; they make up
    ``Decision.fired``.
    """

    name: str
    cites: tuple[str, ...]
    pri: int
    condition: Mapping[str, Any]
    sets: Mapping[str, Any] = field(default_factory=dict)
    requires: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Citation:
    """What a rule id means, in Danish and English, and where the law (or DTU practice) says so."""

    da: str
    en: str
    source: str

    def to_dict(self) -> dict[str, str]:
        """The description as the case page shows it."""
        return {"da": self.da, "en": self.en, "source": self.source}


@dataclass(frozen=True)
class RuleSet:
    """A validated rule set, ready to run."""

    name: str
    title: Mapping[str, str]
    facts: tuple[FactSpec, ...]
    derived: tuple[DerivedFact, ...]
    decision: tuple[DecisionField, ...]
    rules: tuple[Rule, ...]
    citations: Mapping[str, Citation]
    program: Program | None = None

    def with_program(self, program: Program) -> RuleSet:
        """The same rule set, compiled for durable-rules."""
        return replace(self, program=program)

    @cached_property
    def fact_names(self) -> tuple[str, ...]:
        """The facts of the contract, in the order the rule file lists them."""
        return tuple(spec.name for spec in self.facts)

    @cached_property
    def parameter_keys(self) -> tuple[str, ...]:
        """Every parameter the rule set reads (derived facts, rule outcomes, requirements), sorted."""
        keys = {item.parameter for item in self.derived if item.parameter}
        for rule in self.rules:
            keys.update(value.key for value in rule.sets.values() if isinstance(value, ParameterRef))
            for required in rule.requires.values():
                keys.update(required)
        for computation in self.computations:
            keys.update(computation.parameters.values())
        return tuple(sorted(keys))

    @cached_property
    def computations(self) -> tuple[Computation, ...]:
        """The computations of derived facts and computed decision fields."""
        found = [spec.derive for spec in self.facts] + [item.compute for item in self.decision]
        return tuple(item for item in found if item is not None)

    @cached_property
    def rules_by_name(self) -> Mapping[str, Rule]:
        """The rules by name (the name durable-rules knows them by)."""
        return {rule.name: rule for rule in self.rules}
