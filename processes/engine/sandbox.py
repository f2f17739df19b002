"""The sandbox for everything a BPMN diagram can evaluate: gateway conditions, service-task parameters,
timer expressions, scripts.

SpiffWorkflow's default environment calls Python's ``eval``/``exec``; a diagram could run any code on the
server (see TECH.md: ``__import__('os').system('id')`` ran from a gateway condition). Emptying
``__builtins__`` is not a sandbox. So the *environment* itself is replaced — Spiff calls
``environment.evaluate()`` directly in places — by one that evaluates expressions with simpleeval (no
imports, no dunder or private attributes, capped powers, string sizes and comprehensions) and accepts
scripts only as a sequence of plain assignments ``name = expression``. Every expression of a diagram is
also checked at deploy time by :func:`check_expression` / :func:`check_script`.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from simpleeval import EvalWithCompoundTypes, InvalidExpression
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from processes.clock import LOCAL_ZONE

MAX_SCRIPT_LINES = 50
MAX_EXPRESSION_LENGTH = 2_000


class SandboxViolation(ValueError):
    """An expression or script uses something the sandbox does not allow."""


def _duration(text: str) -> dt.timedelta:
    """ISO-8601 duration such as ``P14D`` or ``PT2H`` (days, hours, minutes, seconds)."""
    return TimerEventDefinition.get_timedelta_from_start(TimerEventDefinition.parse_iso_duration(text))


def _parse_moment(value: str) -> dt.date | dt.datetime:
    text = str(value)
    return dt.datetime.fromisoformat(text) if "T" in text else dt.date.fromisoformat(text)


def _add_days(value: str, days: int) -> str:
    """``add_days("2026-03-02", 14)`` -> ``"2026-03-16"`` (a date or an ISO datetime, kept as given)."""
    return (_parse_moment(value) + dt.timedelta(days=int(days))).isoformat()


def _at_time(value: str, clock_time: str = "23:59") -> str:
    """The moment ``clock_time`` (HH:MM) on a date, in Europe/Copenhagen, as ISO text with its offset.

    Statutory deadlines fall on a Danish calendar day (e.g. an accident report is on time when registered
    by 23:59 on the deadline day, BEK 485/2024 § 10(4)); summer time is taken into account.
    """
    day = _parse_moment(value)
    day = day.date() if isinstance(day, dt.datetime) else day
    hours, minutes = (int(part) for part in clock_time.split(":"))
    return dt.datetime.combine(day, dt.time(hours, minutes), tzinfo=LOCAL_ZONE).isoformat()


def end_of_day(value: str) -> str:
    """23:59:59 on that date in Europe/Copenhagen."""
    day = _parse_moment(value)
    day = day.date() if isinstance(day, dt.datetime) else day
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=LOCAL_ZONE).isoformat()


SAFE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "add_days": _add_days,
    "at_time": _at_time,
    "end_of_day": end_of_day,
    "len": len,
    "min": min,
    "max": max,
    "sum": sum,
    "abs": abs,
    "round": round,
    "sorted": sorted,
    "any": any,
    "all": all,
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "set": set,
    "list": list,
    "date": dt.date.fromisoformat,
    "datetime": dt.datetime.fromisoformat,
    "duration": _duration,
}

# Methods an expression may call on a value: read-only ones only (str.format can read attributes: not allowed).
SAFE_METHODS = frozenset({
    "lower", "upper", "strip", "lstrip", "rstrip", "startswith", "endswith", "split", "replace", "title",
    "capitalize", "casefold", "count", "find", "index", "isdigit", "isalpha", "isalnum", "join", "zfill",
    "get", "keys", "values", "items", "isdisjoint", "issubset", "issuperset", "union", "intersection",
    "difference",
})

_ALLOWED_NODES: tuple[type[ast.AST], ...] = (
    ast.Expression, ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.IfExp, ast.Compare, ast.Call, ast.keyword,
    ast.Constant, ast.Name, ast.Load, ast.Attribute, ast.Subscript, ast.Slice, ast.List, ast.Tuple,
    ast.Dict, ast.Set, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.comprehension,
    ast.Store, ast.JoinedStr, ast.FormattedValue,
    ast.And, ast.Or, ast.Not, ast.USub, ast.UAdd, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv,
    ast.Mod, ast.Pow, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Is,
    ast.IsNot,
)


def _is_safe_call(node: ast.Call) -> bool:
    if isinstance(node.func, ast.Name):
        return node.func.id in SAFE_FUNCTIONS
    return isinstance(node.func, ast.Attribute) and node.func.attr in SAFE_METHODS


def check_expression(expression: str) -> None:
    """Refuse, before anything runs, an expression the sandbox would not evaluate.

    Raises SandboxViolation naming the construct: syntax errors, imports, lambdas, dunder or private
    names and attributes, and calls of anything but the whitelisted functions.
    """
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise SandboxViolation(f"expression longer than {MAX_EXPRESSION_LENGTH} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise SandboxViolation(f"syntax error in expression {expression!r}: {exc.msg}") from None
    nodes = list(ast.walk(tree))
    for node in nodes:  # private and dunder names first: they are the escape routes, name them as such
        if isinstance(node, ast.Name) and node.id.startswith("_"):
            raise SandboxViolation(f"name {node.id!r} is not allowed (no private or dunder names)")
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise SandboxViolation(f"attribute {node.attr!r} is not allowed (no private or dunder attributes)")
    for node in nodes:
        if not isinstance(node, _ALLOWED_NODES):
            raise SandboxViolation(f"{type(node).__name__} is not allowed in {expression!r}")
        if isinstance(node, ast.Call) and not _is_safe_call(node):
            raise SandboxViolation(
                f"only these functions may be called: {', '.join(sorted(SAFE_FUNCTIONS))}, and read-only "
                f"methods such as .lower() or .get() ({expression!r})"
            )


def parse_script(script: str) -> list[tuple[str, str]]:
    """Split a script into ``(name, expression)`` assignments; anything else is a SandboxViolation."""
    try:
        tree = ast.parse(script or "")
    except SyntaxError as exc:
        raise SandboxViolation(f"syntax error in script line {exc.lineno}: {exc.msg}") from None
    if len(tree.body) > MAX_SCRIPT_LINES:
        raise SandboxViolation(f"a script may have at most {MAX_SCRIPT_LINES} statements")
    assignments = []
    for statement in tree.body:
        if not (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
        ):
            raise SandboxViolation(
                f"line {statement.lineno}: a script may only contain assignments 'name = expression'"
            )
        name = statement.targets[0].id
        if name.startswith("_"):
            raise SandboxViolation(f"line {statement.lineno}: name {name!r} is not allowed")
        expression = ast.unparse(statement.value)
        check_expression(expression)
        assignments.append((name, expression))
    return assignments


def check_script(script: str) -> None:
    """Refuse at deploy time a script the sandbox would not run."""
    parse_script(script)


def _evaluator(context: Mapping[str, Any]) -> EvalWithCompoundTypes:
    names = dict(context)
    names.setdefault("True", True)
    names.setdefault("False", False)
    names.setdefault("None", None)
    return EvalWithCompoundTypes(names=names, functions=dict(SAFE_FUNCTIONS))


def evaluate(expression: str, context: Mapping[str, Any]) -> Any:
    """Evaluate one expression over the case data."""
    check_expression(expression)
    try:
        return _evaluator(context).eval(expression.strip())
    except InvalidExpression as exc:
        raise SandboxViolation(str(exc)) from None


def _storable(value: Any) -> Any:
    """Script results are stored in the case: dates become ISO text (a Python date cannot be saved)."""
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, set | frozenset | tuple):
        return [_storable(item) for item in sorted(value, key=repr)]
    return value


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """The script environment SpiffWorkflow calls for every expression and script."""

    def evaluate(self, expression: str, context: dict[str, Any], external_context: Any = None) -> Any:
        return evaluate(expression, {**(external_context or {}), **context})

    def execute(self, script: str, context: dict[str, Any], external_context: Any = None) -> bool:
        for name, expression in parse_script(script):
            context[name] = _storable(evaluate(expression, {**(external_context or {}), **context}))
        return True

    def call_service(self, context: dict[str, Any], **kwargs: Any) -> Any:
        raise SandboxViolation("service calls are dispatched by the engine, not the environment")


class RulesEngine(Protocol):
    """What a business-rule task asks: the decision of ``ruleset`` on the task's data (a JSON-able dict)."""

    def decide(self, task: Any, ruleset: str) -> dict[str, Any]: ...


class SandboxScriptEngine(PythonScriptEngine):
    """Spiff's script engine bound to the sandbox environment and to the side effects of one run.

    ``services`` maps a service-task operator name to a callable ``(task, params) -> JSON-able``; the
    runtime installs them per run so that, e.g., ``notify`` writes to this transaction's outbox.
    ``rules`` answers the business-rule tasks (``specs.RuleTask``); without one they fail.
    """

    def __init__(
        self, services: Mapping[str, Callable[[Any, dict[str, Any]], Any]] | None = None, *,
        rules: RulesEngine | None = None,
    ) -> None:
        super().__init__(environment=SandboxEnvironment())
        self.services = dict(services or {})
        self.rules = rules

    def validate(self, expression: str) -> None:
        check_expression(expression)

    def call_service(self, task: Any, **kwargs: Any) -> str:
        operation = kwargs.get("operation_name")
        params = {name: spec["value"] for name, spec in (kwargs.get("operation_params") or {}).items()}
        handler = self.services.get(operation or "")
        if handler is None:
            raise SandboxViolation(f"unknown service operator {operation!r}")
        return json.dumps(handler(task, params))
