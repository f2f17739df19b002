"""Dates in rule sets: date and time facts, checks between facts, and computed decision fields.

Generic capabilities any rule set can declare in its JSON (none of them knows a rule set by name):

* fact types ``date`` (``"YYYY-MM-DD"``) and ``time`` (``"HH:MM"``). They are not posted to durable-rules
  (conditions stay on booleans, integers and strings); optional ones may default to ``null``, "not known".
* checks between facts: ``"later_than": "<date fact>"`` (e.g. the first day of absence comes after the
  injury day) and ``"only_when": {"<fact>": value}`` (a fact may leave its default only when another fact
  has that value, e.g. "the perpetrator is the nearest leader" only when the perpetrator is a leader).
* the derived op ``one_of``: a string fact is one of the values of a list parameter.
* computed decision fields, ``"compute": {"op": ..., ...}``, evaluated after the rules from facts, the
  decision fields the rules decided and parameters:

  - ``deadline``: ``anchor`` + ``days`` days, at ``time_of_day`` in ``zone``, as ISO 8601 text with its
    UTC offset (``"2026-03-29T23:59:00+02:00"``). ``anchor`` names a date fact, or a string field whose
    value names one (``"none"``: no deadline); ``null`` when the anchor day or the days are not known.
  - ``hours_after``: the local instant ``date`` + ``time`` (start of the day when the time is not known,
    so a deadline counted from it is never late) plus ``hours`` elapsed hours, in ``zone``.

  An operand is the name of a fact or decision field, ``{"parameter": key}``, or a literal (an integer
  count, an ``"HH:MM"`` time of day).
* ``"law_date_fact": "<date fact>"`` on the rule set: the law of that date applies when ``decide`` is
  called without ``on`` (e.g. an accident is judged by the law of its injury day).

Times of day are wall-clock times in ``zone``: a deadline at 23:59 is 23:59 in Copenhagen on that day,
+01:00 in winter and +02:00 in summer. An instant that summer time skips (02:30 on the last Sunday of
March) is read with the offset before the change (it is 03:30 summer time); one it repeats (02:30 on the
last Sunday of October) is its first occurrence.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable, Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rules.model import Computation, DecisionField, FactSpec, RuleSet

Checked = tuple[Any, str | None]
Problems = dict[str, str]

_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
NO_ANCHOR = "none"  # the value of an anchor field that means "no deadline"


# --- date and time facts -------------------------------------------------------------------------------


def parse_time(text: str) -> datetime.time:
    """``"23:59"`` -> ``time(23, 59)``; ``ValueError`` for anything but HH:MM (00:00 to 23:59)."""
    if not isinstance(text, str) or not _TIME.match(text):
        raise ValueError(f"not a time of day HH:MM: {text!r}")
    return datetime.time(int(text[:2]), int(text[3:]))


def _check_date(_spec: FactSpec, value: Any) -> Checked:
    if isinstance(value, datetime.datetime):
        return None, "expected a date (YYYY-MM-DD), not a date and time"
    if isinstance(value, datetime.date):
        return value, None
    if isinstance(value, str) and _DATE.match(value):
        try:
            return datetime.date.fromisoformat(value), None
        except ValueError:
            return None, f"not a date: {value!r}"
    return None, "expected a date (YYYY-MM-DD)"


def _check_time(_spec: FactSpec, value: Any) -> Checked:
    if isinstance(value, datetime.time) and value.tzinfo is None:
        return value.replace(second=0, microsecond=0), None
    try:
        return parse_time(value), None
    except ValueError:
        return None, "expected a time of day (HH:MM)"


FACT_CHECKS: dict[str, Callable[[FactSpec, Any], Checked]] = {"date": _check_date, "time": _check_time}
TEMPORAL_TYPES = tuple(FACT_CHECKS)


def fits_temporal(kind: FactSpec | DecisionField, value: Any) -> bool:
    """Whether ``value`` fits a date or time fact: only ``null`` ("not known") as a default."""
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


# --- the law's date ---------------------------------------------------------------------------------------


def law_date(ruleset: RuleSet, checked: Mapping[str, Any]) -> datetime.date | None:
    """The date of the rule set's ``law_date_fact`` in these facts, or ``None`` (none declared or not given)."""
    if not ruleset.law_date_fact:
        return None
    value = checked.get(ruleset.law_date_fact)
    return value if isinstance(value, datetime.date) else None


# --- computed decision fields -----------------------------------------------------------------------------


def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_instant(day: datetime.date, time_of_day: datetime.time, zone: ZoneInfo) -> datetime.datetime:
    """The wall-clock ``time_of_day`` on ``day`` in ``zone`` (``fold=0``, see the module docstring)."""
    return datetime.datetime.combine(day, time_of_day, tzinfo=zone)


def deadline(anchor: datetime.date, days: int, time_of_day: datetime.time, zone: ZoneInfo) -> datetime.datetime:
    """``time_of_day`` on the calendar day ``days`` days after ``anchor``, in ``zone``."""
    return local_instant(anchor + datetime.timedelta(days=days), time_of_day, zone)


def hours_after(start: datetime.datetime, hours: int) -> datetime.datetime:
    """``hours`` elapsed hours after ``start`` (across a summer-time change), in ``start``'s zone."""
    zone = start.tzinfo
    later = start.astimezone(datetime.UTC) + datetime.timedelta(hours=hours)
    return later.astimezone(zone)


class _Context:
    """What an operand can name when a decision is computed."""

    def __init__(
        self, ruleset: RuleSet, decision: Mapping[str, Any], facts: Mapping[str, Any], parameters: Mapping[str, Any]
    ) -> None:
        self.decision, self.facts, self.parameters = decision, facts, parameters
        self.fields = {item.name for item in ruleset.decision}

    def value(self, operand: Any) -> Any:
        if isinstance(operand, Mapping):
            return self.parameters[operand["parameter"]]
        if isinstance(operand, str) and operand in self.fields:
            return self.decision[operand]
        if isinstance(operand, str) and operand in self.facts:
            return self.facts[operand]
        return operand

    def time_of_day(self, operand: Any) -> datetime.time | None:
        value = self.value(operand)
        return parse_time(value) if isinstance(value, str) else value

    def anchor(self, operand: Any) -> datetime.date | None:
        value = self.value(operand)
        if isinstance(value, str):  # a field naming the date fact the deadline runs from
            value = self.facts.get(value) if value != NO_ANCHOR else None
        return value if isinstance(value, datetime.date) else None


def _deadline(arguments: Mapping[str, Any], context: _Context) -> str | None:
    anchor = context.anchor(arguments["anchor"])
    days = context.value(arguments["days"])
    time_of_day = context.time_of_day(arguments["time_of_day"])
    if anchor is None or days is None or time_of_day is None:
        return None
    return deadline(anchor, days, time_of_day, _zone(arguments["zone"])).isoformat()


def _hours_after(arguments: Mapping[str, Any], context: _Context) -> str | None:
    day = context.anchor(arguments["date"])
    hours = context.value(arguments["hours"])
    if day is None or hours is None:
        return None
    time_of_day = context.time_of_day(arguments["time"]) if "time" in arguments else None
    start = local_instant(day, time_of_day or datetime.time(0, 0), _zone(arguments["zone"]))
    return hours_after(start, hours).isoformat()


COMPUTE_OPS: dict[str, Callable[[Mapping[str, Any], _Context], Any]] = {
    "deadline": _deadline,
    "hours_after": _hours_after,
}


def compute(
    ruleset: RuleSet, decision: dict[str, Any], facts: Mapping[str, Any], parameters: Mapping[str, Any]
) -> None:
    """Fill in the computed fields of ``decision`` (the rules' fields are already there)."""
    context = _Context(ruleset, decision, facts, parameters)
    for item in ruleset.decision:
        if item.compute is not None:
            decision[item.name] = COMPUTE_OPS[item.compute.op](item.compute.arguments, context)


def computation(spec: Mapping[str, Any]) -> Computation:
    """The model of a schema-valid ``compute`` object."""
    arguments = {key: value for key, value in spec.items() if key != "op"}
    keys = tuple(sorted({value["parameter"] for value in arguments.values() if isinstance(value, Mapping)}))
    return Computation(op=spec["op"], arguments=arguments, parameters=keys)


# --- load-time checks ---------------------------------------------------------------------------------------


class _Names:
    """The facts and decision fields of a rule set, for checking what a computation's operands name."""

    def __init__(self, ruleset: RuleSet, parameters: Any) -> None:
        self.facts = {spec.name: spec for spec in ruleset.facts}
        self.fields = {item.name: item for item in ruleset.decision}
        self.history = parameters.history

    def kind(self, name: str) -> FactSpec | DecisionField | str:
        """The fact or field called ``name``, or a problem."""
        if name in self.facts and name in self.fields:
            return f"{name!r} is both a fact and a decision field"
        found = self.facts.get(name) or self.fields.get(name)
        if found is None:
            return f"unknown fact or decision field {name!r}"
        if isinstance(found, DecisionField) and (found.compute or found.missing_from):
            return f"{name!r} is computed after the rules: name a fact or a field a rule sets"
        return found

    def parameter_values(self, key: str) -> list[Any] | str:
        if key not in self.history:
            return f"unknown parameter {key!r}"
        return [entry.value for entry in self.history[key]]


def _count_problem(names: _Names, operand: Any) -> str | None:
    """``days``/``hours``: an integer literal, an integer fact or field, or an integer parameter."""
    if isinstance(operand, Mapping):
        values = names.parameter_values(operand["parameter"])
        if isinstance(values, str):
            return values
        if not all(isinstance(value, int) and not isinstance(value, bool) for value in values):
            return f"parameter {operand['parameter']!r} is not an integer on every date"
        return None
    if isinstance(operand, int):
        return None
    kind = names.kind(operand)
    if isinstance(kind, str):
        return kind
    return None if kind.type == "integer" else f"{operand!r} is not an integer"


def _time_problem(names: _Names, operand: Any) -> str | None:
    """``time_of_day``/``time``: ``"HH:MM"``, a time fact, or a parameter that is HH:MM on every date."""
    if isinstance(operand, Mapping):
        values = names.parameter_values(operand["parameter"])
        if isinstance(values, str):
            return values
        if not all(isinstance(value, str) and _TIME.match(value) for value in values):
            return f"parameter {operand['parameter']!r} is not a time of day HH:MM on every date"
        return None
    if _TIME.match(operand):
        return None
    kind = names.kind(operand)
    if isinstance(kind, str):
        return kind
    return None if isinstance(kind, FactSpec) and kind.type == "time" else f"{operand!r} is not a time fact"


def _anchor_problem(names: _Names, operand: str) -> str | None:
    """A date fact, or a string fact or field whose every value names a date fact (or is ``"none"``)."""
    kind = names.kind(operand)
    if isinstance(kind, str):
        return kind
    if isinstance(kind, FactSpec) and kind.type == "date":
        return None
    if kind.type != "string" or not kind.values:
        return f"{operand!r} is neither a date fact nor a field naming one"
    dates = {name for name, spec in names.facts.items() if spec.type == "date"}
    wrong = [value for value in kind.values if value != NO_ANCHOR and value not in dates]
    return f"values of {operand!r} that name no date fact: {', '.join(wrong)}" if wrong else None


def _zone_problem(name: str) -> str | None:
    try:
        _zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {name!r}"
    return None


def _computation_problems(names: _Names, item: DecisionField) -> Problems:
    assert item.compute is not None
    path, arguments = f"decision.{item.name}.compute", item.compute.arguments
    problems: Problems = {}
    if item.type != "string" or not item.nullable or item.missing_from:
        problems[f"decision.{item.name}"] = "a computed field is a nullable string without missing_from"
    checks: dict[str, Callable[[Any], str | None]] = {
        "anchor": lambda operand: _anchor_problem(names, operand),
        "date": lambda operand: _anchor_problem(names, operand),
        "days": lambda operand: _count_problem(names, operand),
        "hours": lambda operand: _count_problem(names, operand),
        "time_of_day": lambda operand: _time_problem(names, operand),
        "time": lambda operand: _time_problem(names, operand),
        "zone": _zone_problem,
    }
    for key, operand in arguments.items():
        problem = checks[key](operand)
        if problem:
            problems[f"{path}.{key}"] = problem
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


def load_problems(ruleset: RuleSet, parameters: Any) -> Problems:
    """Checks of everything this module adds to a rule set: constraints, computed fields, the law's date."""
    problems = _fact_constraint_problems(ruleset)
    names = _Names(ruleset, parameters)
    for item in ruleset.decision:
        if item.compute is not None:
            problems.update(_computation_problems(names, item))
    if ruleset.law_date_fact:
        spec = names.facts.get(ruleset.law_date_fact)
        if spec is None or spec.type != "date":
            problems["law_date_fact"] = f"{ruleset.law_date_fact!r} is not a date fact"
    return problems
