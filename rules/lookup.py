"""Registers, lookups and list-valued decisions: general capabilities any rule set can use.

Kept out of the core modules on purpose (they only register what is here), and free of rule-set names:

* A **register** (``rules/data/NAME.register.json``, checked against ``register.schema.json``) is a
  list of entries a process owner extends without code: a canonical name, synonyms, CAS numbers (of the
  substance and of its salts), the dates the entry is valid and typed attributes (a category, a CN
  code, a quantity threshold per unit ...). An entry that changes from a date is closed with
  ``valid_until`` and followed by a new entry, like an effective-dated parameter.
* A rule set's **lookups** find the entry a free-text fact names (case-insensitive, tolerant of
  whitespace and hyphens; CAS numbers normalised) on the decision date, and turn it into facts the rules
  can test: ``found`` (boolean), ``provide``d attributes, and ``quantity_above`` (a quantity fact in a
  unit compared with the entry's threshold in that unit).
* **Derived ops** ``greater_than`` and ``at_most`` (next to ``less_than`` and ``at_least``).
* Decision fields **from** a computed value (a fact, a derived fact or a lookup result), and list fields
  that **collect** the items the fired rules ``add`` (once each, in the order of the field's ``values``),
  so several rules can each contribute an item without contradicting each other.
"""

from __future__ import annotations

import datetime
import json
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, cast

from jsonschema import Draft202012Validator

from rules.errors import InvalidRuleSet
from rules.model import FactSpec, FactType, RuleSet
from rules.parameters import freeze

REGISTER_SUFFIX = ".register.json"
REGISTER_SCHEMA = "register.schema.json"
Problems = dict[str, str]

# --- derived ops -----------------------------------------------------------------------------------------


def _greater_than(value: Any, parameter: Any) -> bool:
    return bool(value > parameter)


def _at_most(value: Any, parameter: Any) -> bool:
    return bool(value <= parameter)


DERIVED_OPS: dict[str, Callable[[Any, Any], bool]] = {"greater_than": _greater_than, "at_most": _at_most}
# The fact type each op needs (``number`` facts are accepted wherever ``integer`` ones are).
DERIVED_OP_FACT_TYPES: dict[str, str] = {"greater_than": "integer", "at_most": "integer"}


# --- matching keys -----------------------------------------------------------------------------------------

_DASHES = frozenset("-\u2010\u2011\u2012\u2013\u2014\u2015\u2212")


def text_key(text: str) -> str:
    """The key a name matches by: Unicode-normalised, case-folded, without whitespace or hyphens."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(char for char in folded if not char.isspace() and char not in _DASHES)


def cas_digits(text: str) -> str | None:
    """The digits of a CAS number without leading zeros (``"0050-00-0"`` -> ``"50000"``), or None.

    Whitespace and hyphens are ignored, so ``"299-42-3"``, ``"299 42 3"`` and ``"299423"`` are one
    number. The check digit is not tested here (an unknown number simply matches nothing).
    """
    digits = text_key(text).lstrip("0")
    return digits if digits.isdigit() and 5 <= len(digits) <= 10 else None


def cas_check_digit_ok(digits: str) -> bool:
    """Whether the last digit is the CAS check digit of the others (weights 1, 2, 3 ... from the right)."""
    body = digits[:-1]
    return sum(weight * int(digit) for weight, digit in enumerate(reversed(body), start=1)) % 10 == int(digits[-1])


def format_cas(digits: str) -> str:
    """The canonical written form of a CAS number: ``"299423"`` -> ``"299-42-3"``."""
    return f"{digits[:-3]}-{digits[-3:-1]}-{digits[-1]}"


def query_key(text: str) -> str:
    """The index key of a query: its CAS digits if it is a CAS number, else its text key."""
    return cas_digits(text) or text_key(text)


# --- registers ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttributeSpec:
    """A typed attribute of a register's entries; ``quantity`` is a threshold per unit, e.g. {"l": 100}."""

    name: str
    type: str
    values: tuple[str, ...] = ()
    units: tuple[str, ...] = ()
    required: bool = False

    def as_fact(self, name: str, missing: Any) -> FactSpec:
        """The fact a rule condition sees when this attribute is provided under ``name``."""
        values = self.values + ((missing,) if isinstance(missing, str) and missing not in self.values else ())
        kind = cast("FactType", "string" if self.type == "quantity" else self.type)
        return FactSpec(name=name, type=kind, values=values)


BUILT_IN_ATTRIBUTES = {
    "name": AttributeSpec("name", "string", required=True),
    "cas": AttributeSpec("cas", "string"),
}


@dataclass(frozen=True)
class Entry:
    """One register entry, valid from ``valid_from`` up to and including ``valid_until``."""

    name: str
    synonyms: tuple[str, ...]
    cas: tuple[str, ...]
    salts: tuple[tuple[str, str], ...]  # (name, CAS)
    valid_from: datetime.date
    valid_until: datetime.date | None
    attributes: Mapping[str, Any]
    source: str = ""

    def valid_on(self, day: datetime.date) -> bool:
        """Whether the entry applies on ``day``."""
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)

    def overlaps(self, other: Entry) -> bool:
        """Whether the two entries' validity periods share a day."""
        far = datetime.date.max
        return self.valid_from <= (other.valid_until or far) and other.valid_from <= (self.valid_until or far)

    def keys(self) -> Iterable[tuple[str, str]]:
        """(key, what) pairs the entry is found by: its names, synonyms and CAS numbers, salts included."""
        for text in (self.name, *self.synonyms, *(name for name, _ in self.salts if name)):
            yield text_key(text), text
        for cas in (*self.cas, *(cas for _, cas in self.salts if cas)):
            yield cas_digits(cas) or cas, cas

    def value(self, attribute: str) -> Any:
        """An attribute's value (``name``, the first ``cas`` or a declared attribute), or None."""
        if attribute == "name":
            return self.name
        if attribute == "cas":
            return self.cas[0] if self.cas else None
        return self.attributes.get(attribute)

    def summary(self) -> dict[str, Any]:
        """What the decision's audit trail records about the entry used."""
        return {
            "name": self.name,
            "cas": list(self.cas),
            "valid_from": self.valid_from.isoformat(),
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
            "attributes": json.loads(json.dumps(self.attributes, default=list)),
            "source": self.source,
        }


@dataclass(frozen=True)
class Register:
    """A checked register with its key index (key -> entries with that key, in file order)."""

    name: str
    attributes: Mapping[str, AttributeSpec]
    entries: tuple[Entry, ...]
    index: Mapping[str, tuple[Entry, ...]] = field(default_factory=dict)

    def attribute(self, name: str) -> AttributeSpec | None:
        """A declared or built-in attribute."""
        return BUILT_IN_ATTRIBUTES.get(name) or self.attributes.get(name)

    def find(self, text: str, day: datetime.date) -> Entry | None:
        """The entry ``text`` names (name, synonym, salt or CAS number) that is valid on ``day``, or None."""
        for entry in self.index.get(query_key(text), ()):
            if entry.valid_on(day):
                return entry
        return None


@cache
def _schema_validator() -> Draft202012Validator:
    schema = json.loads((resources.files("rules") / "data" / REGISTER_SCHEMA).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _attribute_problems(register: Register, index: int, entry: Entry) -> Problems:
    problems: Problems = {}
    for name, value in entry.attributes.items():
        spec = register.attributes.get(name)
        path = f"entries[{index}].attributes.{name}"
        if spec is None:
            problems[path] = f"unknown attribute {name!r} (declare it in attributes)"
        elif spec.type == "string" and not (isinstance(value, str) and (not spec.values or value in spec.values)):
            problems[path] = f"{value!r} is not a valid value of {name!r}"
        elif spec.type == "boolean" and not isinstance(value, bool):
            problems[path] = "expected a boolean"
        elif spec.type == "number" and (isinstance(value, bool) or not isinstance(value, (int, float))):
            problems[path] = "expected a number"
        elif spec.type == "quantity" and not set(value) <= set(spec.units):
            problems[path] = f"units must be among {', '.join(spec.units)}"
    for name, spec in register.attributes.items():
        if spec.required and name not in entry.attributes:
            problems[f"entries[{index}].attributes"] = f"missing required attribute {name!r}"
    return problems


def _entry_problems(register: Register) -> Problems:
    problems: Problems = {}
    seen: dict[str, list[tuple[int, Entry]]] = {}
    for index, entry in enumerate(register.entries):
        problems.update(_attribute_problems(register, index, entry))
        if entry.valid_until is not None and entry.valid_until < entry.valid_from:
            problems[f"entries[{index}].valid_until"] = "is before valid_from"
        for cas in (*entry.cas, *(cas for _, cas in entry.salts if cas)):
            digits = cas_digits(cas)
            if digits is None or not cas_check_digit_ok(digits) or format_cas(digits) != cas:
                problems[f"entries[{index}].cas"] = f"{cas!r} is not a valid CAS number (format or check digit)"
        for key, what in dict(entry.keys()).items():
            for other_index, other in seen.get(key, []):
                if other is not entry and other.overlaps(entry):
                    problems[f"entries[{index}]"] = f"{what!r} also names entries[{other_index}] in the same period"
            seen.setdefault(key, []).append((index, entry))
    return problems


def _date(text: str | None) -> datetime.date | None:
    return datetime.date.fromisoformat(text) if text else None


def load_register(document: Any, what: str = "register") -> Register:
    """A checked register from a ``NAME.register.json`` document; ``InvalidRuleSet`` naming the place."""
    problems: Problems = {}
    for error in _schema_validator().iter_errors(document):
        path = error.json_path.removeprefix("$.").removeprefix("$") or "(document)"
        problems.setdefault(path, str(error.message)[:200])
    if problems:
        raise InvalidRuleSet(f"{what} is invalid", dict(sorted(problems.items())))
    try:
        entries = tuple(
            Entry(
                name=item["name"],
                synonyms=tuple(item.get("synonyms", ())),
                cas=tuple(item.get("cas", ())),
                salts=tuple((salt.get("name", ""), salt.get("cas", "")) for salt in item.get("salts", ())),
                valid_from=datetime.date.fromisoformat(item["valid_from"]),
                valid_until=_date(item.get("valid_until")),
                attributes=freeze(item.get("attributes", {})),
                source=item.get("source", ""),
            )
            for item in document["entries"]
        )
    except ValueError as error:
        raise InvalidRuleSet(f"{what} is invalid", {"entries": f"not a date: {error}"}) from error
    attributes = {
        name: AttributeSpec(
            name=name,
            type=spec["type"],
            values=tuple(spec.get("values", ())),
            units=tuple(spec.get("units", ())),
            required=spec.get("required", False),
        )
        for name, spec in document["attributes"].items()
    }
    register = Register(name=document["name"], attributes=attributes, entries=entries)
    problems = _entry_problems(register)
    if problems:
        raise InvalidRuleSet(f"{what} is invalid", dict(sorted(problems.items())))
    index: dict[str, tuple[Entry, ...]] = {}
    for entry in entries:
        for key in dict(entry.keys()):
            index[key] = (*index.get(key, ()), entry)
    return Register(name=register.name, attributes=attributes, entries=entries, index=index)


def load_registers(directory: Traversable | Path) -> dict[str, Register]:
    """Every ``NAME.register.json`` of a data directory, by name (which must match the file name)."""
    registers: dict[str, Register] = {}
    files = sorted((item for item in directory.iterdir() if item.name.endswith(REGISTER_SUFFIX)), key=lambda e: e.name)
    for path in files:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise InvalidRuleSet(f"{path.name}: cannot read JSON: {error}", {path.name: str(error)}) from error
        register = load_register(document, what=path.name)
        expected = path.name.removesuffix(REGISTER_SUFFIX)
        if register.name != expected:
            raise InvalidRuleSet(f"{path.name} is invalid", {"name": f"must be {expected!r} (the file name)"})
        registers[register.name] = register
    return registers


# --- lookups in a rule set -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Provide:
    """A posted fact taken from an entry's attribute; ``missing`` when not found or not given (None: not posted)."""

    attribute: str
    missing: Any = None


@dataclass(frozen=True)
class QuantityAbove:
    """A posted boolean: the quantity fact, in the unit the unit fact names, exceeds the entry's threshold.

    An entry without the threshold attribute has no threshold (any quantity above 0 counts); a threshold
    not given in the unit asked for cannot be compared and counts as exceeded (the safe side).
    """

    quantity: str
    unit: str
    threshold: str


@dataclass(frozen=True)
class Lookup:
    """A register lookup of one string fact, and the facts it posts."""

    name: str
    register_name: str
    fact: str
    found: str
    provide: Mapping[str, Provide]
    quantity_above: Mapping[str, QuantityAbove]
    register: Register | None = None

    def outputs(self) -> dict[str, FactSpec]:
        """The facts this lookup posts, with their types (for checking conditions and ``from``)."""
        specs = {self.found: FactSpec(self.found, "boolean")}
        specs.update({name: FactSpec(name, "boolean") for name in self.quantity_above})
        for name, item in self.provide.items():
            attribute = self.register.attribute(item.attribute) if self.register else None
            specs[name] = attribute.as_fact(name, item.missing) if attribute else FactSpec(name, "string")
        return specs


def lookups_from_document(document: Mapping[str, Any], registers: Mapping[str, Register]) -> tuple[Lookup, ...]:
    """The lookups of a schema-valid rule-set document, bound to their registers (None if unknown)."""
    return tuple(
        Lookup(
            name=name,
            register_name=spec["register"],
            fact=spec["fact"],
            found=spec["found"],
            provide={
                key: Provide(attribute=item["attribute"], missing=item.get("missing"))
                for key, item in spec.get("provide", {}).items()
            },
            quantity_above={
                key: QuantityAbove(quantity=item["quantity"], unit=item["unit"], threshold=item["threshold"])
                for key, item in spec.get("quantity_above", {}).items()
            },
            register=registers.get(spec["register"]),
        )
        for name, spec in document.get("lookups", {}).items()
    )


def output_specs(ruleset: RuleSet) -> dict[str, FactSpec]:
    """Every fact the rule set's lookups give (for ``from``)."""
    specs: dict[str, FactSpec] = {}
    for item in ruleset.lookups:
        specs.update(item.outputs())
    return specs


def condition_specs(ruleset: RuleSet) -> dict[str, FactSpec]:
    """The lookup results rule conditions may test: all but numbers (see ``postable``)."""
    return {name: spec for name, spec in output_specs(ruleset).items() if spec.is_scalar}


def postable(values: Mapping[str, Any]) -> dict[str, Any]:
    """The lookup results posted to durable-rules: not null, and no numbers (like number facts, see
    ``FactSpec.is_scalar``: durable-rules cannot parse a float in exponent notation)."""
    return {
        name: value
        for name, value in values.items()
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)))
    }


def _lookup_problems(ruleset: RuleSet) -> Problems:
    facts = {spec.name: spec for spec in ruleset.facts}
    taken = set(facts) | {item.name for item in ruleset.derived}
    problems: Problems = {}
    for item in ruleset.lookups:
        path = f"lookups.{item.name}"
        if item.register is None:
            problems[path] = f"unknown register {item.register_name!r}"
            continue
        spec = facts.get(item.fact)
        if spec is None or spec.type != "string":
            problems[f"{path}.fact"] = f"{item.fact!r} is not a string fact"
        for name in item.outputs():
            if name in taken:
                problems[f"{path}.{name}"] = f"{name!r} is already the name of a fact or derived fact"
            taken.add(name)
        problems.update(_provide_problems(item, path))
        problems.update(_quantity_problems(item, path, facts))
    return problems


def _provide_problems(item: Any, path: str) -> Problems:
    problems: Problems = {}
    for name, provide in item.provide.items():
        attribute = item.register.attribute(provide.attribute)
        if attribute is None or attribute.type == "quantity":
            problems[f"{path}.provide.{name}"] = f"{provide.attribute!r} is not a scalar attribute of the register"
        elif provide.missing is not None and not _fits(attribute.as_fact(name, provide.missing), provide.missing):
            problems[f"{path}.provide.{name}"] = f"missing value {provide.missing!r} does not fit {name!r}"
    return problems


def _quantity_problems(item: Any, path: str, facts: Mapping[str, Any]) -> Problems:
    problems: Problems = {}
    for name, above in item.quantity_above.items():
        threshold = item.register.attribute(above.threshold)
        quantity, unit = facts.get(above.quantity), facts.get(above.unit)
        if threshold is None or threshold.type != "quantity":
            problems[f"{path}.quantity_above.{name}"] = f"{above.threshold!r} is not a quantity attribute"
        elif quantity is None or quantity.type not in ("integer", "number"):
            problems[f"{path}.quantity_above.{name}"] = f"{above.quantity!r} is not a number fact"
        elif unit is None or unit.type != "string" or not set(unit.values) <= set(threshold.units):
            problems[f"{path}.quantity_above.{name}"] = (
                f"{above.unit!r} must be a string fact with units of {above.threshold!r}"
            )
    return problems


def _exceeds(above: QuantityAbove, entry: Entry, facts: Mapping[str, Any]) -> bool:
    quantity, unit = facts[above.quantity], facts[above.unit]
    threshold = entry.attributes.get(above.threshold)
    if threshold is None:
        return bool(quantity > 0)
    if unit not in threshold:
        return True
    return bool(quantity > threshold[unit])


def evaluate(
    lookups: tuple[Lookup, ...], facts: Mapping[str, Any], day: datetime.date
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The lookups' facts (None: not found and no ``missing`` value) and, per lookup, what was used.

    The second mapping goes into ``Decision.parameters`` under ``lookup.NAME``, so a decision can be
    explained later with the register entry of its day.
    """
    values: dict[str, Any] = {}
    used: dict[str, Any] = {}
    for item in lookups:
        if item.register is None:  # cannot happen for a loaded rule set
            raise InvalidRuleSet(f"unknown register {item.register_name!r}")
        query = facts[item.fact]
        entry = item.register.find(query, day) if isinstance(query, str) else None
        values[item.found] = entry is not None
        for name, provide in item.provide.items():
            value = entry.value(provide.attribute) if entry else None
            values[name] = provide.missing if value is None else value
        for name, above in item.quantity_above.items():
            values[name] = entry is not None and _exceeds(above, entry, facts)
        used[f"lookup.{item.name}"] = {
            "register": item.register_name,
            "query": query,
            "entry": entry.summary() if entry else None,
        }
    return values, used


# --- decision fields ``from`` a value and list fields that ``collect`` -------------------------------------


def _fits(spec: FactSpec, value: Any) -> bool:
    if spec.type == "boolean":
        return isinstance(value, bool)
    if spec.type in ("integer", "number"):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if spec.type == "string":
        return isinstance(value, str) and (not spec.values or value in spec.values)
    return True


def known_specs(ruleset: RuleSet) -> dict[str, FactSpec]:
    """Every value a decision field may come ``from``: facts, derived facts and lookup results."""
    specs = {spec.name: spec for spec in ruleset.facts}
    specs.update({item.name: FactSpec(item.name, "boolean") for item in ruleset.derived})
    specs.update(output_specs(ruleset))
    return specs


def _field_problems(ruleset: RuleSet) -> Problems:
    known = known_specs(ruleset)
    nullable = {name for item in ruleset.lookups for name, provide in item.provide.items() if provide.missing is None}
    problems: Problems = {}
    for item in ruleset.decision:
        problem = _field_problem(item, known, nullable)
        if problem:
            problems[f"decision.{item.name}"] = problem
    return {**problems, **_rule_target_problems(ruleset)}


def _field_problem(item: Any, known: Mapping[str, Any], nullable: set[str]) -> str | None:
    if item.source is not None and item.collect:
        return "a field is either 'from' a value or 'collect'ed, not both"
    if item.collect and item.type != "list":
        return "only a list field can collect"
    return None if item.source is None else _source_problem(item, known.get(item.source), nullable)


def _source_problem(item: Any, source: Any, nullable: set[str]) -> str | None:
    """What is wrong with the fact a ``from`` field takes its value from (None if nothing)."""
    checks = (
        (source is None, f"unknown fact {item.source!r} in 'from'"),
        (source is not None and source.type != item.type and not {source.type, item.type} <= {"integer", "number"},
         f"{item.source!r} is of type {getattr(source, 'type', None)}, the field of type {item.type}"),
        (source is not None and bool(item.values) and not set(source.values) <= set(item.values),
         f"{item.source!r} can have values the field does not allow"),
        (item.source in nullable and not item.nullable,
         f"{item.source!r} is null when nothing is found: the field must be nullable"),
    )
    return next((message for failed, message in checks if failed), None)


def _rule_target_problems(ruleset: RuleSet) -> Problems:
    fields = {item.name: item for item in ruleset.decision}
    problems: Problems = {}
    for index, rule in enumerate(ruleset.rules):
        for name in rule.sets:
            target = fields.get(name)
            if target is not None and (target.source or target.collect):
                problems[f"rules[{index}].set.{name}"] = f"{name!r} is not a decision field a rule can set"
        for name, items in rule.adds.items():
            target = fields.get(name)
            if target is None or not target.collect:
                problems[f"rules[{index}].add.{name}"] = f"{name!r} is not a decision field with collect"
            elif target.values and not set(items) <= set(target.values):
                problems[f"rules[{index}].add.{name}"] = f"{sorted(set(items) - set(target.values))} not in its values"
    return problems


def problems(ruleset: RuleSet) -> Problems:
    """Everything this module's features can get wrong in a rule set, naming the place."""
    return {**_lookup_problems(ruleset), **_field_problems(ruleset)}


def decided_elsewhere(ruleset: RuleSet) -> set[str]:
    """Decision fields that get their value here, not from a rule's ``set`` (so need no default)."""
    return {item.name for item in ruleset.decision if item.source or item.collect}


def field_value(ruleset: RuleSet, name: str, fired: Iterable[str], known: Mapping[str, Any]) -> Any:
    """The value of a ``from`` or ``collect`` field for one decision."""
    item = next(field for field in ruleset.decision if field.name == name)
    if item.source is not None:
        value = known.get(item.source)
        return list(value) if isinstance(value, tuple) else value
    rules = ruleset.rules_by_name
    added = {value for rule in fired if rule in rules for value in rules[rule].adds.get(name, ())}
    if item.values:  # in the order the field lists its values (the contract's order), else sorted
        return [value for value in item.values if value in added]
    return sorted(added)
