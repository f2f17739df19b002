"""The sandbox for everything a BPMN diagram can evaluate: gateway conditions, service-task parameters,
timer expressions, scripts.

SpiffWorkflow's default environment calls Python's ``eval``/``exec``; a diagram could run any code on the
server (see TECH.md: ``__import__('os').system('id')`` ran from a gateway condition). Emptying
``__builtins__`` is not a sandbox. So the *environment* itself is replaced — Spiff calls
``environment.evaluate()`` directly in places — by one that evaluates expressions with simpleeval (no
imports, no dunder or private attributes) and accepts scripts only as a sequence of plain assignments
``name = expression``. Every expression of a diagram is also checked at deploy time by
:func:`check_expression` / :func:`check_script`.

Resource bounds (a process owner's expression must not be able to take a worker down):

- *Size*: every operation that can make a value larger than its inputs is checked **before** it
  allocates: ``*`` and ``+`` on strings, bytes, lists and tuples, integer ``*`` and ``**`` by operand bit
  length, the methods ``zfill``, ``replace`` and ``join``, ``str()``, ``round()``, f-string format specs
  (width and precision); ``%``-formatting of strings is refused. Every value an operation builds is then
  checked too: at most ``MAX_SIZE`` characters or elements (counted deep, a shared element once per
  reference, so ``[s] * n`` costs ``n * len(s)``) and integers of at most ``MAX_INT_BITS`` bits; and all
  the values one expression or script builds together at most ``MAX_BUILT`` (a comprehension of big
  strings is stopped while it runs, not after).
- *Time*: every expression, and every script as a whole, gets ``MAX_STEPS`` evaluator node visits and
  ``MAX_CPU_SECONDS`` of the evaluating thread's CPU time (``time.thread_time``, which works in any thread,
  unlike signals). Single operations are bounded by the size caps, so checking between nodes suffices.
- *Depth*: expressions nest at most ``MAX_DEPTH`` levels (the evaluator recurses per level).

A model that exceeds a bound raises :class:`SandboxViolation`, which the runtime turns into an engine error.
"""

from __future__ import annotations

import ast
import datetime as dt
import functools
import json
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from simpleeval import EvalWithCompoundTypes, InvalidExpression
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from processes.engine.datefunctions import add_days, add_minutes, at_time, duration, end_of_day
from processes.engine.limits import (
    INPUT_BOUNDED_METHODS,
    MAX_BUILT,
    MAX_CPU_SECONDS,
    MAX_DEPTH,
    MAX_EXPRESSION_LENGTH,
    MAX_SCRIPT_LENGTH,
    MAX_SCRIPT_LINES,
    MAX_STEPS,
    METHOD_GUARDS,
    OPERATORS,
    SandboxViolation,
    bounded_round,
    bounded_str,
    bounded_sum,
    check_format_spec,
    check_value,
)

SAFE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "add_days": add_days,
    "add_minutes": add_minutes,
    "at_time": at_time,
    "end_of_day": end_of_day,
    "len": len,
    "min": min,
    "max": max,
    "sum": bounded_sum,
    "abs": abs,
    "round": bounded_round,
    "sorted": sorted,
    "any": any,
    "all": all,
    "str": bounded_str,
    "int": int,
    "float": float,
    "bool": bool,
    "set": set,
    "list": list,
    "zip": zip,  # pairs items of lists already held (lazy: builds nothing larger than its inputs)
    "date": dt.date.fromisoformat,
    "datetime": dt.datetime.fromisoformat,
    "duration": duration,
}

# Functions a run binds to its own case (``SandboxEnvironment(functions=...)``): allowed by the deploy check,
# unknown to an expression evaluated without them. ``param(key, on=date)``: an effective-dated parameter of
# the case's process bundle (processes.engine.rulebook). ``now()``: the run's clock as ISO text in
# Europe/Copenhagen (what a check-in time or a deadline is computed from); ``today()``: its date, "YYYY-MM-DD";
# ``organisation_units()``: the code of every unit of the organisation below its root (e.g. a campaign to all);
# ``next_level_leader(unit=None, passing=None)``: the username of a leader of the nearest unit above the case's
# (or ``unit``'s) that has one, never ``passing``; None when there is none (processes.routing binds it);
# ``labels(form, field, values)``: the values' labels in the acting person's language, as the form's UI schema
# names them; ``case_id()``: the case's id.
BOUND_FUNCTIONS = frozenset({"param", "now", "today", "organisation_units", "next_level_leader", "labels",
                             "case_id"})

# Methods an expression may call on a value: read-only ones only (str.format can read attributes: not allowed).
SAFE_METHODS = frozenset({
    "lower", "upper", "strip", "lstrip", "rstrip", "startswith", "endswith", "split", "replace", "title",
    "capitalize", "casefold", "count", "find", "index", "isdigit", "isalpha", "isalnum", "join", "zfill",
    "get", "keys", "values", "items", "isdisjoint", "issubset", "issuperset", "union", "intersection",
    "difference",
})



if SAFE_METHODS - INPUT_BOUNDED_METHODS - METHOD_GUARDS.keys():
    raise RuntimeError(f"methods without a size guard: {SAFE_METHODS - INPUT_BOUNDED_METHODS - METHOD_GUARDS.keys()}")


_ALLOWED_NODES: tuple[type[ast.AST], ...] = (
    ast.Expression, ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.IfExp, ast.Compare, ast.Call, ast.keyword,
    ast.Constant, ast.Name, ast.Load, ast.Attribute, ast.Subscript, ast.Slice, ast.List, ast.Tuple,
    ast.Dict, ast.Set, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.comprehension,
    ast.Store, ast.JoinedStr, ast.FormattedValue,
    ast.And, ast.Or, ast.Not, ast.USub, ast.UAdd, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv,
    ast.Mod, ast.Pow, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Is,
    ast.IsNot,
)

# Nodes that build a new value (rather than look one up): their result is checked against the size caps.
_BUILDING_NODES: tuple[type[ast.AST], ...] = (
    ast.BinOp, ast.Call, ast.List, ast.Tuple, ast.Dict, ast.Set, ast.ListComp, ast.SetComp, ast.DictComp,
    ast.GeneratorExp, ast.JoinedStr, ast.FormattedValue,
)


def _is_safe_call(node: ast.Call) -> bool:
    if isinstance(node.func, ast.Name):
        return node.func.id in SAFE_FUNCTIONS or node.func.id in BOUND_FUNCTIONS
    return isinstance(node.func, ast.Attribute) and node.func.attr in SAFE_METHODS


def _depth(tree: ast.AST) -> int:
    """How deeply the tree nests (iteratively: a deep tree must not blow the stack here)."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _parse(source: str, mode: str, what: str) -> ast.AST:
    try:
        return ast.parse(source, mode=mode)
    except SyntaxError as exc:
        raise SandboxViolation(f"syntax error in {what} line {exc.lineno}: {exc.msg}") from None
    except (RecursionError, MemoryError):
        raise SandboxViolation(f"{what} nests too deeply (at most {MAX_DEPTH} levels)") from None


@functools.lru_cache(maxsize=4096)
def _checked_tree(expression: str) -> ast.expr:
    """The parsed body of an expression the sandbox accepts (cached: expressions repeat per case)."""
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise SandboxViolation(f"expression longer than {MAX_EXPRESSION_LENGTH} characters")
    tree = _parse(expression.strip(), "eval", "expression")
    if _depth(tree) > MAX_DEPTH:
        raise SandboxViolation(f"expression nests more than {MAX_DEPTH} levels deep")
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
                f"only these functions may be called: {', '.join(sorted({*SAFE_FUNCTIONS, *BOUND_FUNCTIONS}))}, "
                f"and read-only "
                f"methods such as .lower() or .get() ({expression!r})"
            )
    assert isinstance(tree, ast.Expression)
    return tree.body


def check_expression(expression: str) -> None:
    """Refuse, before anything runs, an expression the sandbox would not evaluate.

    Raises SandboxViolation naming the construct: syntax errors, too deep nesting, imports, lambdas,
    dunder or private names and attributes, and calls of anything but the whitelisted functions.
    """
    _checked_tree(expression)


def parse_script(script: str) -> list[tuple[str, str]]:
    """Split a script into ``(name, expression)`` assignments; anything else is a SandboxViolation."""
    return list(_parsed_script(script))


@functools.lru_cache(maxsize=1024)
def _parsed_script(script: str) -> tuple[tuple[str, str], ...]:
    """parse_script's work, once per script text (a script task runs the same text in every case)."""
    if len(script or "") > MAX_SCRIPT_LENGTH:
        raise SandboxViolation(f"a script may have at most {MAX_SCRIPT_LENGTH} characters")
    tree = _parse(script or "", "exec", "script")
    assert isinstance(tree, ast.Module)
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
        if _depth(statement.value) > MAX_DEPTH:  # before unparse, which recurses
            raise SandboxViolation(f"line {statement.lineno}: expression nests more than {MAX_DEPTH} levels deep")
        expression = ast.unparse(statement.value)
        check_expression(expression)
        assignments.append((name, expression))
    return tuple(assignments)


def check_script(script: str) -> None:
    """Refuse at deploy time a script the sandbox would not run."""
    parse_script(script)


class _Budget:
    """Node visits and CPU seconds left to one expression or script (checked between evaluator nodes)."""

    def __init__(self) -> None:
        self.steps = 0
        self.built = 0
        # The CPU clock is first read at the 64th node visit, not here: most expressions (a gateway's
        # condition, a title) end well before it, and reading a thread's CPU clock is a system call that cost
        # 2 % of a case's engine path. The first 63 visits are bounded by the size caps, not by the clock.
        self.deadline: float | None = None

    def build(self, size: int) -> None:
        self.built += size
        if self.built > MAX_BUILT:
            raise SandboxViolation(f"the expression built more than {MAX_BUILT:,} characters or elements")

    def tick(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise SandboxViolation(f"the expression took more than {MAX_STEPS:,} evaluation steps")
        if self.steps % 64 == 0:
            now = time.thread_time()
            if self.deadline is None:
                self.deadline = now + MAX_CPU_SECONDS
            elif now > self.deadline:
                raise SandboxViolation(f"the expression took more than {MAX_CPU_SECONDS} s of CPU time")


class _BoundedEval(EvalWithCompoundTypes):
    """simpleeval with the size caps of this module checked on every operation and a time budget."""

    def __init__(
        self, names: dict[str, Any], budget: _Budget, bound: Mapping[str, Callable[..., Any]] | None = None,
    ) -> None:
        super().__init__(operators=dict(OPERATORS), functions=dict(SAFE_FUNCTIONS), names=names)
        # the base class adds tuple and dict: not offered; a run's bound functions are (see BOUND_FUNCTIONS)
        self.functions = {**SAFE_FUNCTIONS, **{k: v for k, v in (bound or {}).items() if k in BOUND_FUNCTIONS}}
        self.budget = budget

    def _eval(self, node: ast.AST) -> Any:
        self.budget.tick()
        result = super()._eval(node)
        if isinstance(node, _BUILDING_NODES):
            self.budget.build(check_value(result))
        return result

    def _eval_attribute(self, node: ast.Attribute) -> Any:
        value = super()._eval_attribute(node)
        if callable(value):  # a bound method handed on (e.g. key='1'.zfill) would escape its guard
            raise SandboxViolation(f"method {node.attr!r} may only be called, not passed on")
        return value

    def _eval_call(self, node: ast.Call) -> Any:
        if not isinstance(node.func, ast.Attribute):
            return super()._eval_call(node)
        name = node.func.attr
        if name not in SAFE_METHODS:
            raise SandboxViolation(f"method {name!r} is not allowed")
        receiver = self._eval(node.func.value)
        args = [self._eval(arg) for arg in node.args]
        kwargs = dict(self._eval(keyword) for keyword in node.keywords)
        method = getattr(receiver, name, None)
        if method is None or not callable(method):
            raise SandboxViolation(f"{type(receiver).__name__} has no method {name!r}")
        guard = METHOD_GUARDS.get(name)
        if guard is not None:
            guard(receiver, *args, **kwargs)
        return method(*args, **kwargs)

    def _eval_formattedvalue(self, node: ast.FormattedValue) -> Any:
        value = self._eval(node.value)
        if node.format_spec is None:
            return bounded_str(value)
        spec = self._eval(node.format_spec)
        check_format_spec(value, spec)
        return format(value, spec)


def _evaluate(
    expression: str, context: Mapping[str, Any], budget: _Budget,
    bound: Mapping[str, Callable[..., Any]] | None = None,
) -> Any:
    tree = _checked_tree(expression)
    names = dict(context)
    names.setdefault("data", context)  # the whole case data, e.g. data.get('units') for a field that may be unset
    names.setdefault("True", True)
    names.setdefault("False", False)
    names.setdefault("None", None)
    try:
        return _BoundedEval(names, budget, bound).eval(expression, previously_parsed=tree)
    except InvalidExpression as exc:
        raise SandboxViolation(str(exc)) from None
    except (RecursionError, MemoryError) as exc:
        raise SandboxViolation(f"the expression is too large to evaluate ({type(exc).__name__})") from None


def evaluate(
    expression: str, context: Mapping[str, Any], functions: Mapping[str, Callable[..., Any]] | None = None,
) -> Any:
    """Evaluate one expression over the case data, within the sandbox's size and time bounds.

    ``functions`` binds the run's own functions (``BOUND_FUNCTIONS``, e.g. ``param``)."""
    return _evaluate(expression, context, _Budget(), functions)


def _storable(value: Any) -> Any:
    """Script results are stored in the case: dates become ISO text (a Python date cannot be saved)."""
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, set | frozenset | tuple):
        return [_storable(item) for item in sorted(value, key=repr)]
    return value


def _with_data(names: dict[str, Any]) -> dict[str, Any]:
    """The case data also whole as ``data`` (unless a field is named so), as ``refuseWhen`` has it: a field
    that a case may lack is read as ``data.get('previous_case')``."""
    if "data" not in names:
        names["data"] = dict(names)
    return names


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """The script environment SpiffWorkflow calls for every expression and script.

    ``functions`` are the run's bound functions (``BOUND_FUNCTIONS``), e.g. ``param`` reading the case's parameters.
    """

    def __init__(self, functions: Mapping[str, Callable[..., Any]] | None = None) -> None:
        super().__init__()
        self.functions = dict(functions or {})

    def evaluate(self, expression: str, context: dict[str, Any], external_context: Any = None) -> Any:
        return evaluate(expression, _with_data({**(external_context or {}), **context}), self.functions)

    def execute(self, script: str, context: dict[str, Any], external_context: Any = None) -> bool:
        budget = _Budget()  # one budget for the whole script
        for name, expression in parse_script(script):
            context[name] = _storable(
                _evaluate(expression, _with_data({**(external_context or {}), **context}), budget, self.functions))
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
        rules: RulesEngine | None = None, functions: Mapping[str, Callable[..., Any]] | None = None,
    ) -> None:
        super().__init__(environment=SandboxEnvironment(functions))
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
