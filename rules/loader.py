"""Loading rule and parameter files: JSON Schema first, then the cross-references, then compiling.

Rule data is edited by process owners, not programmers, so everything that could go wrong at decision
time is checked here instead, with a message naming the place in the file: the JSON Schema (every rule has
``all`` or ``any``, fewer than 100 rules: durable-rules crashes otherwise), unknown facts or parameters in
conditions and outcomes, parameter values (in every dated entry) that do not fit the fact they are
compared with, decision values outside their allowed list, and rule ids without a description.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, ValidationError

from rules import computed, engine, lookup
from rules.errors import InvalidRuleSet
from rules.model import (
    Citation,
    DecisionField,
    DerivedFact,
    FactSpec,
    ParameterRef,
    Rule,
    RuleSet,
)
from rules.parameters import ParameterTable, duplicate_dates, freeze, table_from_document

RULESET_SUFFIX = ".rules.json"
PARAMETERS_FILE = "parameters.json"
Problems = dict[str, str]


def data_directory() -> Traversable:
    """The shipped data directory, ``rules/data``."""
    return resources.files("rules") / "data"


def read_json(source: Traversable | Path) -> Any:
    """Parse one JSON file, reporting a syntax error as ``InvalidRuleSet`` naming the file."""
    try:
        return json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InvalidRuleSet(f"{source.name}: cannot read JSON: {error}", {source.name: str(error)}) from error


@cache
def _validator(schema_name: str) -> Draft202012Validator:
    schema = read_json(data_directory() / schema_name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _describe(error: ValidationError) -> str:
    """A schema error in words a process owner can act on, without echoing the whole rule back."""
    if error.validator == "oneOf" and error.json_path.startswith("$.rules["):
        return "a rule needs exactly one of 'all' or 'any'"
    if error.validator == "maxItems":
        return f"has more than {error.validator_value} items"
    if error.validator == "minItems":
        return f"needs at least {error.validator_value} item(s)"
    message = str(error.message)
    return message if len(message) <= 200 else message[:197] + "..."


def _schema_problems(schema_name: str, document: Any) -> Problems:
    problems: Problems = {}
    for error in _validator(schema_name).iter_errors(document):
        path = error.json_path.removeprefix("$.").removeprefix("$") or "(document)"
        problems.setdefault(path, _describe(error))
    return problems


def _raise_if(problems: Problems, what: str) -> None:
    if problems:
        raise InvalidRuleSet(f"{what} is invalid", dict(sorted(problems.items())))


def load_parameters(document: Any, what: str = PARAMETERS_FILE) -> ParameterTable:
    """A parameter table from a ``parameters.json`` document, checked against its schema."""
    _raise_if(_schema_problems("parameters.schema.json", document), what)
    problems: Problems = {}
    for key, entries in document.items():
        for index, entry in enumerate(entries if not key.startswith("$") else []):
            try:
                datetime.date.fromisoformat(entry["valid_from"])
            except ValueError:
                problems[f"{key}[{index}].valid_from"] = f"not a date: {entry['valid_from']!r}"
    _raise_if(problems, what)
    table = table_from_document(document)
    _raise_if(duplicate_dates(table), what)
    return table


# --- building the model from a schema-valid document -------------------------------------------------


def _facts(document: Mapping[str, Any]) -> tuple[FactSpec, ...]:
    return tuple(
        FactSpec(
            name=name,
            type=spec["type"],
            required=spec.get("required", True),
            default=freeze(spec.get("default")),
            values=tuple(spec.get("values", ())),
            minimum=spec.get("minimum"),
            maximum=spec.get("maximum"),
            later_than=spec.get("later_than"),
            only_when=next(iter(spec["only_when"].items())) if "only_when" in spec else None,
            derive=computed.computation(spec["derive"]) if "derive" in spec else None,
        )
        for name, spec in document["facts"].items()
    )


def _derived(document: Mapping[str, Any]) -> tuple[DerivedFact, ...]:
    return tuple(
        DerivedFact(name=name, op=spec["op"], fact=spec["fact"], parameter=spec.get("parameter"))
        for name, spec in document.get("derived", {}).items()
    )


def _decision(document: Mapping[str, Any]) -> tuple[DecisionField, ...]:
    return tuple(
        DecisionField(
            name=name,
            type=spec["type"],
            values=tuple(spec.get("values", ())),
            nullable=spec.get("nullable", False),
            has_default="default" in spec,
            default=freeze(spec.get("default")),
            missing_from=spec.get("missing_from"),
            title=dict(spec.get("title", {})),
            value_titles={value: dict(text) for value, text in spec.get("value_titles", {}).items()},
            source=spec.get("from"),
            collect=spec.get("collect", False),
            compute=computed.computation(spec["compute"]) if "compute" in spec else None,
        )
        for name, spec in document["decision"].items()
    )


def _outcome(value: Any) -> Any:
    if isinstance(value, dict):
        return ParameterRef(value["parameter"])
    return freeze(value)


def _rules(document: Mapping[str, Any]) -> tuple[Rule, ...]:
    return tuple(
        Rule(
            name=spec["name"],
            cites=tuple(spec["cites"]),
            pri=spec["pri"],
            condition={key: spec[key] for key in ("all", "any") if key in spec},
            sets={name: _outcome(value) for name, value in spec.get("set", {}).items()},
            requires={name: tuple(keys) for name, keys in spec.get("require", {}).items()},
            adds={name: tuple(items) for name, items in spec.get("add", {}).items()},
        )
        for spec in document["rules"]
    )


def _citations(document: Mapping[str, Any]) -> dict[str, Citation]:
    return {
        rule_id: Citation(da=text["da"], en=text["en"], source=text["source"])
        for rule_id, text in document["citations"].items()
    }


# --- cross-reference checks ----------------------------------------------------------------------------


_SCALAR_FITS: dict[str, Any] = {
    "boolean": lambda value: isinstance(value, bool),
    "integer": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "number": lambda value: isinstance(value, (int, float)) and not isinstance(value, bool),
}


def _fits(kind: FactSpec | DecisionField, value: Any) -> bool:
    """Whether ``value`` is a valid value of a fact or decision field."""
    if kind.type in computed.TEMPORAL_TYPES:
        return computed.fits_temporal(kind, value)
    if value is None:
        return isinstance(kind, DecisionField) and kind.nullable
    if kind.type in _SCALAR_FITS:
        return bool(_SCALAR_FITS[kind.type](value))
    if kind.type == "string":
        return isinstance(value, str) and (not kind.values or value in kind.values)
    return isinstance(value, tuple) and all(
        isinstance(item, str) and (not kind.values or item in kind.values) for item in value
    )


def _parameter_problems(
    path: str, key: str, parameters: ParameterTable, expected: FactSpec | DecisionField
) -> Problems:
    """Every dated value of ``key`` must fit ``expected``, not only today's."""
    if key not in parameters.history:
        return {path: f"unknown parameter {key!r}"}
    for entry in parameters.history[key]:
        if not _fits(expected, entry.value):
            return {path: f"parameter {key!r} from {entry.valid_from} does not fit {expected.name!r}"}
    return {}


def _derived_problems(ruleset: RuleSet, parameters: ParameterTable) -> Problems:
    facts = {spec.name: spec for spec in ruleset.facts}
    problems: Problems = {}
    wanted = {"not_empty": "list", "given": "any", "intersects": "list", "less_than": "integer", "at_least": "integer",
              **computed.DERIVED_FACT_TYPES, **lookup.DERIVED_OP_FACT_TYPES}
    for item in ruleset.derived:
        path = f"derived.{item.name}"
        spec = facts.get(item.fact)
        if item.name in facts:
            problems[path] = "a derived fact cannot have the name of a fact"
        elif spec is None:
            problems[path] = f"unknown fact {item.fact!r}"
        elif item.op == "given":  # any type: whether a value is there at all
            continue
        elif spec.type != wanted[item.op] and not (spec.type == "number" and wanted[item.op] == "integer"):
            problems[path] = f"{item.op} needs a fact of type {wanted[item.op]}, {item.fact!r} is of type {spec.type}"
        elif item.parameter:
            expected = computed.derived_parameter_kind(item.op, spec)
            problems.update(_parameter_problems(path, item.parameter, parameters, expected))
    return problems


def _condition_names(condition: Any) -> Iterator[tuple[str, Any]]:
    """The (property, literal) pairs a durable-rules condition tests, e.g. ``("has_hazard", True)``."""
    for key, value in condition.items():
        if key in ("$and", "$or"):
            for item in value:
                yield from _condition_names(item)
        elif key.startswith("$"):
            yield from ((name, literal) for name, literal in value.items() if key not in ("$ex", "$nex"))
            yield from ((name, None) for name in value if key in ("$ex", "$nex"))
        else:
            yield key, value


def _condition_problems(ruleset: RuleSet, index: int, rule: Rule) -> Problems:
    """A condition may only test posted properties, with literals of their type (or it never matches)."""
    posted: dict[str, FactSpec | None] = {spec.name: spec for spec in ruleset.facts if spec.is_scalar}
    posted.update({item.name: FactSpec(item.name, "boolean") for item in ruleset.derived})
    posted.update(lookup.condition_specs(ruleset))
    posted["sid"] = None
    lists = {spec.name: spec.type for spec in ruleset.facts if not spec.is_scalar}
    problems: Problems = {}
    for kind in rule.condition.values():
        for pattern in kind:
            for name, literal in _condition_names(pattern["m"]):
                if name in lists:
                    problems[f"rules[{index}].{name}"] = (
                        f"{lists[name]} fact {name!r} cannot be tested: use a derived fact"
                    )
                elif name not in posted:
                    problems[f"rules[{index}].{name}"] = f"unknown fact {name!r} in the condition"
                elif literal is not None and (spec := posted[name]) is not None and not _fits(spec, literal):
                    problems[f"rules[{index}].{name}"] = f"{literal!r} is not a valid value of {name!r}"
    return problems


def _outcome_problems(ruleset: RuleSet, index: int, rule: Rule, parameters: ParameterTable) -> Problems:
    fields = {item.name: item for item in ruleset.decision}
    problems: Problems = {}
    for name, value in rule.sets.items():
        path = f"rules[{index}].set.{name}"
        field = fields.get(name)
        if field is None or field.missing_from or field.compute:
            problems[path] = f"{name!r} is not a decision field a rule can set"
        elif isinstance(value, ParameterRef):
            problems.update(_parameter_problems(path, value.key, parameters, field))
        elif not _fits(field, value):
            problems[path] = f"{value!r} is not a valid value of {name!r}"
    facts = {spec.name: spec for spec in ruleset.facts}
    for name, keys in rule.requires.items():
        path = f"rules[{index}].require.{name}"
        field = fields.get(name)
        if field is None or not field.missing_from:
            problems[path] = f"{name!r} is not a decision field with missing_from"
            continue
        for key in keys:
            problems.update(_parameter_problems(path, key, parameters, facts[field.missing_from]))
    return problems


def _rule_problems(ruleset: RuleSet, parameters: ParameterTable) -> Problems:
    problems: Problems = {}
    names = [rule.name for rule in ruleset.rules]
    for index, rule in enumerate(ruleset.rules):
        if names.count(rule.name) > 1:
            problems[f"rules[{index}].name"] = f"rule name {rule.name!r} is used twice"
        for rule_id in rule.cites:
            if rule_id not in ruleset.citations:
                problems[f"rules[{index}].cites"] = f"{rule_id} has no entry in citations"
        problems.update(_condition_problems(ruleset, index, rule))
        problems.update(_outcome_problems(ruleset, index, rule, parameters))
    return problems


def _decision_problems(ruleset: RuleSet) -> Problems:
    facts = {spec.name: spec for spec in ruleset.facts}
    set_somewhere = {name for rule in ruleset.rules for name in rule.sets} | lookup.decided_elsewhere(ruleset)
    problems: Problems = {}
    for field in ruleset.decision:
        path = f"decision.{field.name}"
        named = set(field.values) or set(getattr(facts.get(field.missing_from or ""), "values", ()) or ())
        unknown = sorted(set(field.value_titles) - named)
        if unknown or any(set(text) != {"da", "en"} for text in field.value_titles.values()):
            problems[f"{path}.value_titles"] = (f"names values it does not have: {', '.join(unknown)}" if unknown
                                                else "each value needs a Danish and an English name (da, en)")
        if field.compute:
            continue  # checked by computed.load_problems
        if field.missing_from:
            source = facts.get(field.missing_from)
            if field.type != "list" or source is None or source.type != "list":
                problems[path] = "missing_from needs a list field and a list fact"
        elif field.has_default and not _fits(field, field.default):
            problems[path] = f"default {field.default!r} is not a valid value"
        elif not field.has_default and field.name not in set_somewhere:
            problems[path] = "no default and no rule sets it"
    return problems


def _fact_problems(ruleset: RuleSet) -> Problems:
    problems: Problems = {}
    for spec in ruleset.facts:
        if not spec.required and not _fits(spec, spec.default):
            problems[f"facts.{spec.name}"] = "an optional fact needs a valid default"
    return problems


def load_ruleset(
    document: Any,
    parameters: ParameterTable,
    what: str = "rule set",
    registers: Mapping[str, lookup.Register] | None = None,
) -> RuleSet:
    """A checked, compiled rule set from a ``*.rules.json`` document; ``InvalidRuleSet`` otherwise.

    ``registers`` are the registers its lookups may use (see ``rules/lookup.py``).
    """
    _raise_if(_schema_problems("ruleset.schema.json", document), what)
    ruleset = RuleSet(
        name=document["name"],
        title=dict(document["title"]),
        facts=_facts(document),
        derived=_derived(document),
        decision=_decision(document),
        rules=_rules(document),
        citations=_citations(document),
        program=None,
        lookups=lookup.lookups_from_document(document, registers or {}),
        law_date_fact=document.get("law_date_fact"),
    )
    problems = {
        **_fact_problems(ruleset),
        **_derived_problems(ruleset, parameters),
        **_decision_problems(ruleset),
        **_rule_problems(ruleset, parameters),
        **lookup.problems(ruleset),
        **computed.load_problems(ruleset, parameters),
    }
    _raise_if(problems, what)
    return ruleset.with_program(engine.compile_program(ruleset.name, ruleset.rules))


def ruleset_files(directory: Traversable | Path) -> list[Traversable | Path]:
    """The ``NAME.rules.json`` files of a data directory, sorted by name."""
    entries: Iterable[Traversable | Path] = directory.iterdir()
    return sorted((entry for entry in entries if entry.name.endswith(RULESET_SUFFIX)), key=lambda e: e.name)


def load_ruleset_file(
    path: Traversable | Path, parameters: ParameterTable, registers: Mapping[str, lookup.Register] | None = None
) -> RuleSet:
    """Load one rule file; its ``name`` must match the file name (``NAME.rules.json``)."""
    ruleset = load_ruleset(read_json(path), parameters, what=path.name, registers=registers)
    expected = path.name.removesuffix(RULESET_SUFFIX)
    if ruleset.name != expected:
        raise InvalidRuleSet(f"{path.name} is invalid", {"name": f"must be {expected!r} (the file name)"})
    return ruleset
