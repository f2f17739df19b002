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
    from rules.engine import Program
    from rules.lookup import Lookup

FactType = Literal["boolean", "integer", "number", "string", "list", "date", "time", "time_windows"]
DerivedOp = Literal["not_empty", "given", "intersects", "less_than", "at_least", "greater_than", "at_most", "one_of"]
POSTED_TYPES = ("boolean", "integer", "string")


@dataclass(frozen=True)
class FactSpec:
    """One fact of the contract: its type, allowed values and whether it must be given."""

    name: str
    type: FactType
    required: bool = True
    default: Any = None
    values: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    later_than: str | None = None  # a date fact that must be after this other date fact (rules/computed.py)
    only_when: tuple[str, Any] | None = None  # (fact, value): this fact may leave its default only then
    derive: Computation | None = None  # how to compute the fact when it is left out (rules/computed.py)

    @property
    def is_scalar(self) -> bool:
        """Scalar facts are posted to durable-rules as they are; lists, numbers, dates, times and time windows
        only through derived facts, lookups and computations.

        durable-rules 2.0.28 cannot parse a float in exponent notation (``1e-05``, ``1e+16``: error 204), so
        a ``number`` fact is compared in Python, never by a rule condition.
        """
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
class Computation:
    """A use of an operation of ``rules/computed.py``: a fact's ``derive`` or a decision field's ``compute``.

    ``arguments`` are the op's roles bound to operands as the rule file gives them; ``parameters`` the
    parameter keys they read, so those are looked up on the decision's date and reported with it.
    """

    op: str
    arguments: Mapping[str, Any]
    parameters: tuple[str, ...] = ()


@dataclass(frozen=True)
class DecisionField:
    """One field of the decision and how it gets its value.

    Either a rule sets it (``default`` applies when none does; no default means a rule must), or, with
    ``missing_from``, it is the sorted list of required items (from the rules' ``require``) not given
    in that list fact, or, with ``compute``, it is computed from facts, other decision fields and
    parameters after the rules have run (e.g. a deadline instant).
    """

    name: str
    type: FactType
    values: tuple[str, ...] = ()
    nullable: bool = False
    has_default: bool = False
    default: Any = None
    missing_from: str | None = None
    title: Mapping[str, str] = field(default_factory=dict)  # {"da", "en"}: the field's name for people
    # ``value_titles``: each value's name for people, {value: {"da", "en"}} (issue #17: no codes on pages)
    value_titles: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    source: str | None = None  # ``from``: the value of a fact, derived fact or lookup result (rules/lookup.py)
    collect: bool = False  # the sorted union of what the fired rules ``add`` (rules/lookup.py)
    compute: Computation | None = None  # a value computed from facts and parameters (rules/computed.py)


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
    adds: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


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
    lookups: tuple[Lookup, ...] = ()
    law_date_fact: str | None = None  # the date fact whose law applies when ``decide`` gets no ``on``

    def with_program(self, program: Program) -> RuleSet:
        """The same rule set, compiled for durable-rules."""
        return replace(self, program=program)

    @cached_property
    def fact_names(self) -> tuple[str, ...]:
        """The facts of the contract, in the order the rule file lists them."""
        return tuple(spec.name for spec in self.facts)

    @cached_property
    def parameter_keys(self) -> tuple[str, ...]:
        """Every parameter the rule set reads (derived facts, computations, rule outcomes, requirements), sorted."""
        keys = {item.parameter for item in self.derived if item.parameter}
        keys.update(key for item in self.decision if item.compute for key in item.compute.parameters)
        keys.update(key for spec in self.facts if spec.derive for key in spec.derive.parameters)
        for rule in self.rules:
            keys.update(value.key for value in rule.sets.values() if isinstance(value, ParameterRef))
            for required in rule.requires.values():
                keys.update(required)
        return tuple(sorted(keys))

    @cached_property
    def rules_by_name(self) -> Mapping[str, Rule]:
        """The rules by name (the name durable-rules knows them by)."""
        return {rule.name: rule for rule in self.rules}
