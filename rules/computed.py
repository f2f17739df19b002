"""Computed values in rule sets: date, time and time-window facts, checks between facts, and one registry of
named operations used by ``derive`` (facts) and ``compute`` (decision fields).

Generic capabilities any rule set can declare in its JSON (none of them knows a rule set by name):

* fact types ``date`` (``"YYYY-MM-DD"``), ``time`` (``"HH:MM"``) and ``time_windows`` (a list of
  ``{days, from, to, from_date?, to_date?}``, see ``rules/calendar.py``). They are not posted to
  durable-rules (conditions stay on booleans, integers and strings); optional ones default to ``null``,
  "not known".
* checks between facts: ``"later_than": "<date fact>"`` (e.g. the first day of absence comes after the
  injury day) and ``"only_when": {"<fact>": value}`` (a fact may leave its default only when another fact
  has that value).
* the derived op ``one_of``: a string fact is one of the values of a list parameter.
* ``"law_date_fact": "<date fact>"`` on the rule set: the law of that date applies when ``decide`` is
  called without ``on`` (e.g. an accident is judged by the law of its injury day).
* computations, one format for both uses: ``{"op": NAME, ROLE: operand, ...}``.

  - a fact with ``"derive"``: when the caller leaves the fact out, it is computed before the rules from
    other facts and parameters (``outside_normal_hours`` from ``time_windows`` and the dates); a fact
    that is given is used as it is; one that cannot be computed takes its ``default``.
  - a decision field with ``"compute"``: computed after the rules from facts, the decision fields the
    rules decided and parameters (``deadline``, ``hours_after``, ``latest_valid_until``); ``null`` when
    it cannot be computed.

  ``OPERATIONS`` says which roles each operation takes, of which ``KINDS``, and what it gives. An operand
  is the name of a fact (or, in ``compute``, of a decision field a rule sets), ``{"parameter": key}``, or
  a literal the role's kind accepts (a whole number, an ``"HH:MM"`` time of day, a time zone name). The
  loader checks every binding, and every dated value of the parameters, when the rule file is loaded, so
  an operation never meets a broken parameter. A computation that cannot use the facts it was given
  raises ``InvalidFacts`` naming the fact.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from rules import calendar
from rules.calendar import deadline, hours_after, local_instant, parse_time
from rules.errors import InvalidFacts
from rules.model import Computation, DecisionField, FactSpec, RuleSet
from rules.parameters import thaw

__all__ = ["OPERATIONS", "deadline", "hours_after", "local_instant", "parse_time"]

Checked = tuple[Any, str | None]
Problems = dict[str, str]

NO_ANCHOR = "none"  # the value of a field naming the date a deadline runs from that means "no deadline"


# --- date, time and time-window facts --------------------------------------------------------------------


def _checker(parse: Callable[[Any], Any]) -> Callable[[FactSpec, Any], Checked]:
    def check(_spec: FactSpec, value: Any) -> Checked:
        try:
            return parse(value), None
        except ValueError as error:
            return None, str(error)

    return check


def _time_fact(value: Any) -> datetime.time:
    if isinstance(value, datetime.time) and value.tzinfo is None:
        return value.replace(second=0, microsecond=0)
    try:
        return parse_time(value)
    except ValueError:
        raise ValueError("expected a time of day (HH:MM)") from None


FACT_CHECKS: dict[str, Callable[[FactSpec, Any], Checked]] = {
    "date": _checker(calendar.parse_date),
    "time": _checker(_time_fact),
    "time_windows": _checker(calendar.parse_time_windows),
}
TEMPORAL_TYPES = tuple(FACT_CHECKS)


def fits_temporal(kind: FactSpec | DecisionField, value: Any) -> bool:
    """Whether ``value`` fits a date, time or time-windows fact: only ``null`` ("not known") as a default."""
    return value is None and isinstance(kind, FactSpec)


def _one_of(value: Any, parameter: Any) -> bool:
    return value in parameter


DERIVED_OPS: dict[str, Callable[[Any, Any], bool]] = {"one_of": _one_of}
DERIVED_FACT_TYPES = {"one_of": "string"}


def derived_parameter_kind(op: str, spec: FactSpec) -> FactSpec:
    """What a derived op's parameter must fit: for ``one_of``, a list of the string fact's values."""
    return FactSpec(spec.name, "list", values=spec.values) if op == "one_of" else spec


def constraint_problems(specs: tuple[FactSpec, ...], checked: Mapping[str, Any]) -> Problems:
    """Facts that are valid each on their own but contradict another fact (``later_than``, ``only_when``)."""
    problems: Problems = {}
    for spec in specs:
        value = checked.get(spec.name)
        if spec.later_than and value is not None:
            other = checked.get(spec.later_than)
            if other is not None and value <= other:
                problems[spec.name] = f"must be after {spec.later_than} ({other.isoformat()})"
        if spec.only_when and value != spec.default:
            name, wanted = spec.only_when
            if name in checked and checked[name] != wanted:
                problems[spec.name] = f"only applies when {name} is {json.dumps(wanted)}"
    return problems


def law_date(ruleset: RuleSet, checked: Mapping[str, Any]) -> datetime.date | None:
    """The date of the rule set's ``law_date_fact`` in these facts, or ``None`` (none declared or not given)."""
    if not ruleset.law_date_fact:
        return None
    value = checked.get(ruleset.law_date_fact)
    return value if isinstance(value, datetime.date) else None


# --- the registry of operations --------------------------------------------------------------------------


class FactProblem(ValueError):
    """An operation cannot use the facts it was given: ``role`` names the input at fault."""

    def __init__(self, role: str, message: str) -> None:
        super().__init__(message)
        self.role = role


def _whole_number(minimum: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"not an integer: expected a whole number of at least {minimum}")
        if value < minimum:
            raise ValueError(f"expected a whole number of at least {minimum}")
        return value

    return parse


@lru_cache(maxsize=64)
def _calendar_from_text(text: str) -> calendar.Calendar:
    return calendar.parse_calendar(json.loads(text))


def _calendar(value: Any) -> calendar.Calendar:
    """A calendar parameter, parsed once per distinct value (parameters are shared, frozen data)."""
    return _calendar_from_text(json.dumps(thaw(value), sort_keys=True))


def _is_time_literal(operand: Any) -> bool:
    try:
        parse_time(operand)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Kind:
    """What a role takes.

    ``fact_types``: the types of the facts (or decision fields) that may be named; ``parse``: parses a
    parameter's value or a literal, raising ``ValueError`` (``None``: no parameter or literal);
    ``literal``: whether an operand is a literal of this kind rather than a name; ``noun``: for messages.
    """

    noun: str
    fact_types: tuple[str, ...] = ()
    parse: Callable[[Any], Any] | None = None
    literal: Callable[[Any], bool] = lambda _operand: False


KINDS: Mapping[str, Kind] = {
    # a date fact, or a string fact or field whose value names a date fact (or is "none": no date)
    "date": Kind("a date fact", ("date",)),
    "time": Kind("a time fact", ("time",), parse_time, _is_time_literal),
    "count": Kind("an integer", ("integer",), _whole_number(0), lambda operand: isinstance(operand, int)),
    "months": Kind("an integer", ("integer",), _whole_number(1), lambda operand: isinstance(operand, int)),
    "zone": Kind("a time zone", (), calendar.parse_zone, lambda operand: isinstance(operand, str)),
    "calendar": Kind("a calendar of normal hours", (), _calendar),
    "time_windows": Kind("a time_windows fact", ("time_windows",)),
}


@dataclass(frozen=True)
class Role:
    kind: str
    required: bool = True


@dataclass(frozen=True)
class Operation:
    """An operation's roles, the type of what it gives, and ``run``: the inputs by role (``None`` when
    not known) -> the value, or ``None`` when it cannot be computed (``FactProblem`` when the facts are wrong).
    """

    roles: Mapping[str, Role]
    result: str
    run: Callable[[Mapping[str, Any]], Any]


def _deadline(inputs: Mapping[str, Any]) -> datetime.datetime | None:
    """``anchor`` + ``days`` days, at ``time_of_day`` in ``zone``; ``None`` while the anchor or days are not known."""
    anchor, days, time_of_day = inputs["anchor"], inputs["days"], inputs["time_of_day"]
    if anchor is None or days is None or time_of_day is None:
        return None
    return deadline(anchor, days, time_of_day, inputs["zone"])


def _hours_after(inputs: Mapping[str, Any]) -> datetime.datetime | None:
    """``date`` + ``time`` (the start of the day when the time is not known, so a deadline counted from it is
    never late) plus ``hours`` elapsed hours, in ``zone``."""
    if inputs["date"] is None or inputs["hours"] is None:
        return None
    start = local_instant(inputs["date"], inputs["time"] or datetime.time(0, 0), inputs["zone"])
    return hours_after(start, inputs["hours"])


def _period_end(inputs: Mapping[str, Any]) -> datetime.date:
    first, last = inputs["first_day"], inputs["last_day"]
    if last is not None and last < first:
        raise FactProblem("last_day", "is before the first day")
    return calendar.latest_valid_until(first, last, inputs["months"])


def _outside_normal_hours(inputs: Mapping[str, Any]) -> bool | None:
    """True when a time window, on a date of the period, lies outside normal hours (B-R11).

    The period runs from ``first_day`` to ``last_day``, but never past ``months`` (an approval cannot run
    longer); without ``last_day`` it is those months.
    """
    if inputs["windows"] is None:
        return None
    if inputs["first_day"] is None:
        raise FactProblem("first_day", "is needed to place the time windows in the calendar")
    last = _period_end(inputs)
    return calendar.outside_normal_hours(inputs["windows"], inputs["first_day"], last, inputs["calendar"])


def _latest_valid_until(inputs: Mapping[str, Any]) -> datetime.date | None:
    """The last day an approval may run (B-R9): at most ``months`` from the first day, never past the last."""
    if inputs["first_day"] is None:
        return None
    return _period_end(inputs)


OPERATIONS: Mapping[str, Operation] = {
    "deadline": Operation(
        roles={"anchor": Role("date"), "days": Role("count"), "time_of_day": Role("time"), "zone": Role("zone")},
        result="string",
        run=_deadline,
    ),
    "hours_after": Operation(
        roles={"date": Role("date"), "time": Role("time", False), "hours": Role("count"), "zone": Role("zone")},
        result="string",
        run=_hours_after,
    ),
    "outside_normal_hours": Operation(
        roles={
            "windows": Role("time_windows"),
            "first_day": Role("date"),
            "last_day": Role("date", False),
            "calendar": Role("calendar"),
            "months": Role("months"),
        },
        result="boolean",
        run=_outside_normal_hours,
    ),
    "latest_valid_until": Operation(
        roles={"first_day": Role("date"), "last_day": Role("date", False), "months": Role("months")},
        result="date",
        run=_latest_valid_until,
    ),
}


def computation(spec: Mapping[str, Any]) -> Computation:
    """The model of a schema-valid ``derive`` or ``compute`` object."""
    arguments = {key: value for key, value in spec.items() if key not in ("op", "description")}
    keys = tuple(sorted({value["parameter"] for value in arguments.values() if isinstance(value, Mapping)}))
    return Computation(op=spec["op"], arguments=arguments, parameters=keys)


# --- running a computation -----------------------------------------------------------------------------------


class _Context:
    """What an operand can name: facts, the decision fields the rules decided (after the rules), parameters."""

    def __init__(
        self, facts: Mapping[str, Any], parameters: Mapping[str, Any], decision: Mapping[str, Any] | None = None
    ) -> None:
        self.facts, self.parameters, self.decision = facts, parameters, decision or {}

    def value(self, kind: Kind, operand: Any) -> Any:
        if isinstance(operand, Mapping):
            assert kind.parse is not None  # checked when loaded
            return kind.parse(self.parameters[operand["parameter"]])
        if kind.literal(operand):
            assert kind.parse is not None
            return kind.parse(operand)
        value = self.decision[operand] if operand in self.decision else self.facts.get(operand)
        if kind is KINDS["date"] and isinstance(value, str):  # a field naming the date fact to use
            value = self.facts.get(value) if value != NO_ANCHOR else None
        return value


def _run(ruleset: str, item: Computation, context: _Context) -> Any:
    operation = OPERATIONS[item.op]
    inputs = {
        role: context.value(KINDS[spec.kind], item.arguments[role]) if role in item.arguments else None
        for role, spec in operation.roles.items()
    }
    named = [operand for operand in item.arguments.values() if isinstance(operand, str) and operand in context.facts]
    try:
        return operation.run(inputs)
    except FactProblem as problem:
        raise InvalidFacts(ruleset, {item.arguments[problem.role]: str(problem)}) from None
    except ValueError as problem:  # e.g. a period too long to scan: the first fact it reads is at fault
        raise InvalidFacts(ruleset, {named[0] if named else "facts": str(problem)}) from None


def _output(value: Any) -> Any:
    """A decision field's value as JSON: dates and instants as ISO 8601 text."""
    return value.isoformat() if isinstance(value, (datetime.date, datetime.datetime)) else value


def complete(
    ruleset: RuleSet, checked: Mapping[str, Any], parameters: Mapping[str, Any]
) -> dict[str, Any]:
    """The checked facts with every fact that has ``derive`` and was left out computed, or its default."""
    completed = dict(checked)
    context = _Context(checked, parameters)
    for spec in ruleset.facts:
        if spec.derive is not None and completed[spec.name] is None:
            value = _run(ruleset.name, spec.derive, context)
            completed[spec.name] = spec.default if value is None else value
    return completed


def compute(
    ruleset: RuleSet, decision: dict[str, Any], facts: Mapping[str, Any], parameters: Mapping[str, Any]
) -> None:
    """Fill in the computed fields of ``decision`` (the rules' fields are already there)."""
    context = _Context(facts, parameters, decision)
    for item in ruleset.decision:
        if item.compute is not None:
            decision[item.name] = _output(_run(ruleset.name, item.compute, context))


# --- load-time checks ---------------------------------------------------------------------------------------


class _Names:
    """The facts and decision fields of a rule set, for checking what a computation's operands name."""

    def __init__(self, ruleset: RuleSet, parameters: Any) -> None:
        self.facts = {spec.name: spec for spec in ruleset.facts}
        self.fields = {item.name: item for item in ruleset.decision}
        self.history = parameters.history

    def kind(self, name: str, *, fields: bool) -> FactSpec | DecisionField | str:
        """The fact or (when ``fields``) decision field called ``name``, or a problem."""
        if name in self.facts and name in self.fields:
            return f"{name!r} is both a fact and a decision field"
        if not fields and name in self.fields:
            return f"{name!r} is a decision field: derive runs before the rules, name a fact"
        found = self.facts.get(name) or self.fields.get(name)
        if found is None:
            return f"unknown fact or decision field {name!r}" if fields else f"unknown fact {name!r}"
        if isinstance(found, DecisionField) and (found.compute or found.missing_from):
            return f"{name!r} is computed after the rules: name a fact or a field a rule sets"
        if not fields and isinstance(found, FactSpec) and found.derive is not None:
            return f"{name!r} is derived: a computation cannot read another derived fact"
        return found

    def parameter_problem(self, kind: Kind, key: str) -> str | None:
        if kind.parse is None:
            return f"takes {kind.noun}, not a parameter"
        if key not in self.history:
            return f"unknown parameter {key!r}"
        for entry in self.history[key]:
            try:
                kind.parse(thaw(entry.value))
            except ValueError as error:
                return f"parameter {key!r} from {entry.valid_from}: {error}"
        return None


def _date_problem(names: _Names, operand: str, found: FactSpec | DecisionField) -> str | None:
    """A date fact, or a string fact or field whose every value names a date fact (or is ``"none"``)."""
    if isinstance(found, FactSpec) and found.type == "date":
        return None
    if found.type != "string" or not found.values:
        return f"{operand!r} is neither a date fact nor a field naming one"
    dates = {name for name, spec in names.facts.items() if spec.type == "date"}
    wrong = [value for value in found.values if value != NO_ANCHOR and value not in dates]
    return f"values of {operand!r} that name no date fact: {', '.join(wrong)}" if wrong else None


def _literal_problem(kind: Kind, operand: Any) -> str | None:
    assert kind.parse is not None  # a kind with literals parses them
    try:
        kind.parse(operand)
    except ValueError as error:
        return str(error)
    return None


def _operand_problem(names: _Names, kind: Kind, operand: Any, *, fields: bool) -> str | None:
    """What is wrong with one role's operand: a parameter, a literal, or a fact or field of the role's kind."""
    if isinstance(operand, Mapping):
        return names.parameter_problem(kind, operand["parameter"])
    if kind.literal(operand):
        return _literal_problem(kind, operand)
    if not kind.fact_types or not isinstance(operand, str):
        return f"{operand!r} is not {kind.noun}"
    found = names.kind(operand, fields=fields)
    if isinstance(found, str):
        return found
    if kind is KINDS["date"]:
        return _date_problem(names, operand, found)
    return None if found.type in kind.fact_types else f"{operand!r} is not {kind.noun}"


def _role_problems(names: _Names, path: str, item: Computation, *, fields: bool) -> Iterator[tuple[str, str]]:
    operation = OPERATIONS[item.op]
    for role, spec in operation.roles.items():
        kind = KINDS[spec.kind]
        if role not in item.arguments:
            if spec.required:
                binding = "a fact" if kind.parse is None else "a parameter" if not kind.fact_types else "an operand"
                yield path, f"{item.op} needs {binding} for {role!r}"
        elif problem := _operand_problem(names, kind, item.arguments[role], fields=fields):
            yield f"{path}.{role}", problem
    for role in sorted(set(item.arguments) - set(operation.roles)):
        yield path, f"{item.op} has no role {role!r}"


def _computation_problems(
    names: _Names, path: str, item: Computation, type_: str, *, fields: bool
) -> Problems:
    """The op, its result type against the fact's or field's, and every role's binding."""
    operation = OPERATIONS.get(item.op)
    if operation is None:
        return {path: f"unknown op {item.op!r} (known: {', '.join(sorted(OPERATIONS))})"}
    problems: Problems = {}
    if operation.result != type_:
        problems[path.rsplit(".", 1)[0]] = f"{item.op} gives a {operation.result}, not a {type_}"
    for where, problem in _role_problems(names, path, item, fields=fields):
        problems.setdefault(where, problem)
    return problems


def _fact_constraint_problems(ruleset: RuleSet) -> Problems:
    facts = {spec.name: spec for spec in ruleset.facts}
    problems: Problems = {}
    for spec in ruleset.facts:
        path = f"facts.{spec.name}"
        if spec.later_than:
            other = facts.get(spec.later_than)
            if spec.type != "date" or other is None or other.type != "date":
                problems[f"{path}.later_than"] = "later_than needs a date fact and names another date fact"
        if spec.only_when:
            name, wanted = spec.only_when
            other = facts.get(name)
            if other is None or not other.is_scalar or name == spec.name:
                problems[f"{path}.only_when"] = f"{name!r} is not another boolean, integer or string fact"
            elif type(wanted) is not {"boolean": bool, "integer": int, "string": str}[other.type] or (
                other.values and wanted not in other.values
            ):
                problems[f"{path}.only_when"] = f"{wanted!r} is not a valid value of {name!r}"
    return problems


def _derive_problems(names: _Names, ruleset: RuleSet) -> Problems:
    problems: Problems = {}
    for spec in ruleset.facts:
        if spec.derive is None:
            continue
        if spec.required:
            problems[f"facts.{spec.name}"] = "a fact with derive must not be required"
        problems.update(_computation_problems(names, f"facts.{spec.name}.derive", spec.derive, spec.type, fields=False))
    return problems


def _compute_problems(names: _Names, ruleset: RuleSet) -> Problems:
    set_by_rules = {name for rule in ruleset.rules for name in rule.sets}
    problems: Problems = {}
    for item in ruleset.decision:
        if item.compute is None:
            continue
        path = f"decision.{item.name}"
        operation = OPERATIONS.get(item.compute.op)
        if item.name in set_by_rules:
            problems[path] = "a computed field cannot also be set by a rule"
        elif operation is not None and (not item.nullable or item.missing_from):
            problems[path] = (
                f"a computed decision field must be a nullable {operation.result} without missing_from"
                " (null when it cannot be computed)"
            )
        problems.update(_computation_problems(names, f"{path}.compute", item.compute, item.type, fields=True))
    return problems


def load_problems(ruleset: RuleSet, parameters: Any) -> Problems:
    """Checks of everything this module adds to a rule set: constraints, derive, compute, the law's date."""
    names = _Names(ruleset, parameters)
    problems = {
        **_fact_constraint_problems(ruleset),
        **_derive_problems(names, ruleset),
        **_compute_problems(names, ruleset),
    }
    if ruleset.law_date_fact:
        spec = names.facts.get(ruleset.law_date_fact)
        if spec is None or spec.type != "date":
            problems["law_date_fact"] = f"{ruleset.law_date_fact!r} is not a date fact"
    return problems
