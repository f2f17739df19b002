"""Values computed by a named operation from several facts and parameters.

Two uses in a rule file, both data:

* a fact with ``"derive"``: when the caller leaves the fact out, it is computed from other facts, e.g.
  ``outside_normal_hours`` from ``time_windows``, ``start_date`` and ``end_date`` with the calendar
  parameter ``lone_work.normal_hours``. A fact that is given is used as it is; a fact that cannot be
  computed (its inputs are left out too) takes its ``default``.
* a decision field with ``"compute"``: its value is computed, not set by a rule, e.g.
  ``latest_valid_until`` from the dates and ``lone_work.max_validity_months``.

Both are written ``{"op": NAME, "facts": {ROLE: fact}, "parameters": {ROLE: key}}``; ``OPERATIONS`` says
which roles each operation takes, of which types. The loader checks the bindings and every dated
value of the parameters when the rule file is loaded, so an operation never meets a broken parameter.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from rules import calendar
from rules.errors import InvalidFacts
from rules.parameters import thaw

if TYPE_CHECKING:
    from rules.model import FactSpec


class FactProblem(ValueError):
    """A computation cannot use the facts it was given: ``role`` names the input at fault."""

    def __init__(self, role: str, message: str) -> None:
        super().__init__(message)
        self.role = role


@dataclass(frozen=True)
class Computation:
    """One use of an operation: which fact plays which role, which parameter which."""

    op: str
    facts: Mapping[str, str]
    parameters: Mapping[str, str]


@dataclass(frozen=True)
class Operation:
    """What an operation takes and gives.

    ``facts``: role -> (fact type, whether the role must be bound). ``parameters``: role -> a parser
    that raises ``ValueError`` for a bad value. ``run`` gets the facts by role (``None`` when left out)
    and the parsed parameters by role, and returns the value or ``None`` (cannot be computed).
    """

    facts: Mapping[str, tuple[str, bool]]
    parameters: Mapping[str, Callable[[Any], Any]]
    result: str
    run: Callable[[Mapping[str, Any], Mapping[str, Any]], Any]


def _positive_integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("expected a whole number of at least 1")
    return value


@lru_cache(maxsize=64)
def _calendar_from_text(text: str) -> calendar.Calendar:
    return calendar.parse_calendar(json.loads(text))


def _calendar(value: Any) -> calendar.Calendar:
    """A calendar parameter, parsed once per distinct value (parameters are shared, frozen data)."""
    return _calendar_from_text(json.dumps(thaw(value), sort_keys=True))


def _period_end(facts: Mapping[str, Any], months: int) -> datetime.date:
    first, last = facts["first_day"], facts.get("last_day")
    if last is not None and last < first:
        raise FactProblem("last_day", "is before the first day")
    return calendar.latest_valid_until(first, last, months)


def _outside_normal_hours(facts: Mapping[str, Any], parameters: Mapping[str, Any]) -> bool | None:
    """True when a time window, on a date of the period, lies outside normal hours (B-R11).

    The period runs from ``first_day`` to ``last_day``, but never past ``months`` (an approval cannot
    run longer); without ``last_day`` it is those months.
    """
    windows = facts["windows"]
    if windows is None:
        return None
    if facts["first_day"] is None:
        raise FactProblem("first_day", "is needed to place the time windows in the calendar")
    last = _period_end(facts, parameters["months"])
    return calendar.outside_normal_hours(windows, facts["first_day"], last, parameters["calendar"])


def _latest_valid_until(facts: Mapping[str, Any], parameters: Mapping[str, Any]) -> str | None:
    """The last day an approval may run (B-R9): at most ``months`` from the first day, never past the last."""
    if facts["first_day"] is None:
        return None
    return _period_end(facts, parameters["months"]).isoformat()


OPERATIONS: Mapping[str, Operation] = {
    "outside_normal_hours": Operation(
        facts={"windows": ("time_windows", True), "first_day": ("date", True), "last_day": ("date", False)},
        parameters={"calendar": _calendar, "months": _positive_integer},
        result="boolean",
        run=_outside_normal_hours,
    ),
    "latest_valid_until": Operation(
        facts={"first_day": ("date", True), "last_day": ("date", False)},
        parameters={"months": _positive_integer},
        result="date",
        run=_latest_valid_until,
    ),
}


def compute(ruleset: str, computation: Computation, facts: Mapping[str, Any], parameters: Mapping[str, Any]) -> Any:
    """Run ``computation`` on checked facts and the parameter values of the day; ``InvalidFacts`` names the fact."""
    operation = OPERATIONS[computation.op]
    by_role = {role: facts.get(name) for role, name in computation.facts.items()}
    for role in operation.facts:
        by_role.setdefault(role, None)
    parsed = {role: operation.parameters[role](parameters[key]) for role, key in computation.parameters.items()}
    try:
        return operation.run(by_role, parsed)
    except FactProblem as problem:
        raise InvalidFacts(ruleset, {computation.facts[problem.role]: str(problem)}) from None
    except ValueError as problem:
        raise InvalidFacts(ruleset, {computation.facts[next(iter(operation.facts))]: str(problem)}) from None


def complete(
    ruleset: str, specs: tuple[FactSpec, ...], facts: Mapping[str, Any], parameters: Mapping[str, Any]
) -> dict[str, Any]:
    """The checked facts with every fact that has ``derive`` and was left out computed, or its default."""
    completed = dict(facts)
    for spec in specs:
        if spec.derive is not None and completed[spec.name] is None:
            value = compute(ruleset, spec.derive, facts, parameters)
            completed[spec.name] = spec.default if value is None else value
    return completed


def _binding_problems(operation: Operation, computation: Computation, fact_types: Mapping[str, str]) -> Iterator[str]:
    for role, (kind, needed) in operation.facts.items():
        name = computation.facts.get(role)
        if name is None:
            if needed:
                yield f"{computation.op} needs a fact for {role!r}"
        elif name not in fact_types:
            yield f"unknown fact {name!r}"
        elif fact_types[name] != kind:
            yield f"{role!r} needs a fact of type {kind}, {name!r} is of type {fact_types[name]}"
    for role in sorted(set(computation.facts) - set(operation.facts)):
        yield f"{computation.op} has no role {role!r}"
    for role in sorted(set(computation.parameters) - set(operation.parameters)):
        yield f"{computation.op} has no role {role!r}"
    for role in sorted(set(operation.parameters) - set(computation.parameters)):
        yield f"{computation.op} needs a parameter for {role!r}"


def check(computation: Computation, fact_types: Mapping[str, str], result_type: str) -> str | None:
    """What is wrong with the bindings of ``computation`` (None if nothing); parameters are checked apart."""
    operation = OPERATIONS.get(computation.op)
    if operation is None:
        return f"unknown op {computation.op!r} (known: {', '.join(sorted(OPERATIONS))})"
    if operation.result != result_type:
        return f"{computation.op} gives a {operation.result}, not a {result_type}"
    return next(_binding_problems(operation, computation, fact_types), None)


def parameter_problem(computation: Computation, role: str, value: Any) -> str | None:
    """What is wrong with one dated value of the parameter bound to ``role`` (None if nothing)."""
    try:
        OPERATIONS[computation.op].parameters[role](value)
    except ValueError as error:
        return str(error)
    return None
