"""Checking facts against a rule set's contract, and computing the derived facts.

A decision is only as good as its facts: an unknown fact name, a wrong type or an unknown list value is
refused with ``InvalidFacts`` naming each bad field, instead of being silently ignored by a rule
condition that then never matches.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from rules import computed, lookup
from rules.errors import InvalidFacts
from rules.model import DerivedFact, FactSpec

Checked = tuple[Any, str | None]
FREE_TEXT_MAX_LENGTH = 500  # a string fact without a list of values (e.g. a substance name to look up)


def _check_boolean(_spec: FactSpec, value: Any) -> Checked:
    if isinstance(value, bool):
        return value, None
    return None, "expected a boolean"


def _check_integer(spec: FactSpec, value: Any) -> Checked:
    if isinstance(value, bool) or not isinstance(value, int):
        return None, "expected an integer"
    if spec.minimum is not None and value < spec.minimum:
        return None, f"must be at least {spec.minimum}"
    if spec.maximum is not None and value > spec.maximum:
        return None, f"must be at most {spec.maximum}"
    return value, None


def _check_number(spec: FactSpec, value: Any) -> Checked:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None, "expected a number"
    if spec.minimum is not None and value < spec.minimum:
        return None, f"must be at least {spec.minimum}"
    if spec.maximum is not None and value > spec.maximum:
        return None, f"must be at most {spec.maximum}"
    return value, None


def _check_string(spec: FactSpec, value: Any) -> Checked:
    if not isinstance(value, str):
        return None, "expected a string"
    if not spec.values and len(value) > FREE_TEXT_MAX_LENGTH:
        return None, f"must be at most {FREE_TEXT_MAX_LENGTH} characters"
    if not spec.values and not value.strip():
        return None, "must not be blank"
    if spec.values and value not in spec.values:
        return None, f"unknown value {value!r}"
    return value, None


def _check_list(spec: FactSpec, value: Any) -> Checked:
    if not isinstance(value, (list, tuple)):
        return None, "expected a list"
    if not all(isinstance(item, str) for item in value):
        return None, "expected a list of strings"
    unknown = sorted({item for item in value if item not in spec.values})
    if len(unknown) == 1:
        return None, f"unknown value {unknown[0]!r}"
    if unknown:
        return None, "unknown values " + ", ".join(repr(item) for item in unknown)
    return tuple(sorted(set(value))), None


_CHECKS: dict[str, Callable[[FactSpec, Any], Checked]] = {
    "boolean": _check_boolean,
    "integer": _check_integer,
    "number": _check_number,
    "string": _check_string,
    "list": _check_list,
    **computed.FACT_CHECKS,
}


def validate_facts(ruleset: str, specs: tuple[FactSpec, ...], facts: Any) -> dict[str, Any]:
    """The facts, checked and normalised (lists become sorted tuples without duplicates).

    ``None`` counts as "not given": a required fact is then missing, an optional one takes its default,
    except a fact with ``derive``, which stays ``None`` for ``rules.computed.complete`` to compute.
    """
    if not isinstance(facts, Mapping):
        raise InvalidFacts(ruleset, {"facts": "expected an object of facts"})
    known = {spec.name for spec in specs}
    problems = {str(name): "unknown fact" for name in facts if name not in known}
    checked: dict[str, Any] = {}
    for spec in specs:
        value = facts.get(spec.name)
        if value is None:
            if spec.required:
                problems[spec.name] = "missing required fact"
            else:
                checked[spec.name] = spec.default if spec.derive is None else None
            continue
        checked[spec.name], problem = _CHECKS[spec.type](spec, value)
        if problem:
            problems[spec.name] = problem
    if not problems:
        problems = computed.constraint_problems(specs, checked)
    if problems:
        raise InvalidFacts(ruleset, problems)
    return checked


def _not_empty(value: Any, _parameter: Any) -> bool:
    return len(value) > 0


def _given(value: Any, _parameter: Any) -> bool:
    """The fact has a value: not left out (None), not empty text or an empty list."""
    return value is not None and value not in ("", [], {})


def _intersects(value: Any, parameter: Any) -> bool:
    return not set(value).isdisjoint(parameter)


def _less_than(value: Any, parameter: Any) -> bool:
    return bool(value < parameter)


def _at_least(value: Any, parameter: Any) -> bool:
    return bool(value >= parameter)


DERIVED_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "not_empty": _not_empty,
    "given": _given,
    "intersects": _intersects,
    "less_than": _less_than,
    "at_least": _at_least,
    **computed.DERIVED_OPS,
}
DERIVED_OPS.update(lookup.DERIVED_OPS)


def derive(
    derived: tuple[DerivedFact, ...], facts: Mapping[str, Any], parameters: Mapping[str, Any]
) -> dict[str, bool]:
    """The derived booleans, e.g. ``has_prohibited_hazard`` = the hazards meet the prohibited list."""
    return {
        item.name: DERIVED_OPS[item.op](facts[item.fact], parameters[item.parameter] if item.parameter else None)
        for item in derived
    }
