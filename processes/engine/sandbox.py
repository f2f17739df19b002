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
import operator
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from simpleeval import EvalWithCompoundTypes, InvalidExpression
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from processes.clock import LOCAL_ZONE

MAX_SCRIPT_LINES = 50
MAX_EXPRESSION_LENGTH = 2_000
MAX_SCRIPT_LENGTH = 20_000
MAX_DEPTH = 100
MAX_SIZE = 100_000
MAX_INT_BITS = 4_096
MAX_FORMAT_WIDTH = 100
MAX_ROUND_DIGITS = 100
MAX_BUILT = 20 * MAX_SIZE
MAX_STEPS = 200_000
MAX_CPU_SECONDS = 0.5


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


def _add_minutes(value: Any, minutes: Any) -> str:
    """``add_minutes("2026-11-30T20:00:00+01:00", 45)`` -> ``"2026-11-30T20:45:00+01:00"``: a moment (ISO
    text or a datetime) plus whole minutes, as ISO text with the moment's own offset."""
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return (moment + dt.timedelta(minutes=int(minutes))).isoformat()


def end_of_day(value: str) -> str:
    """23:59:59 on that date in Europe/Copenhagen."""
    day = _parse_moment(value)
    day = day.date() if isinstance(day, dt.datetime) else day
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=LOCAL_ZONE).isoformat()


def size_of(value: Any, limit: int = MAX_SIZE) -> int:
    """How big a value is: characters of text, plus elements of collections, counted deep.

    A shared element counts once per reference (``[s] * 3`` costs ``3 * len(s)``): that is what printing or
    storing the value costs. Counting stops as soon as ``limit`` is passed, so this costs at most ``limit``.
    """
    total, stack = 0, [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str | bytes):
            total += len(item)
        elif isinstance(item, dict):
            total += len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += len(item)
            stack.extend(item)
        elif isinstance(item, int) and not isinstance(item, bool):
            total += 1 + item.bit_length() // 32
        else:
            total += 1
        if total > limit:
            break
    return total


def _refuse_size(what: str) -> SandboxViolation:
    return SandboxViolation(f"{what} would exceed the sandbox's limit of {MAX_SIZE:,} characters or elements")


def _check_int(value: int) -> None:
    if value.bit_length() > MAX_INT_BITS:
        raise SandboxViolation(f"a number larger than {MAX_INT_BITS} bits is not allowed")


def _check_value(value: Any) -> int:
    """Refuse a value that is over the size caps (after it was built: only for bounded builders); its size."""
    if isinstance(value, int):
        _check_int(value)
        return 1
    size = size_of(value)
    if size > MAX_SIZE:
        raise _refuse_size("the value")
    return size


def _is_sequence(value: Any) -> bool:
    return isinstance(value, str | bytes | list | tuple)


def _is_int(value: Any) -> bool:
    return isinstance(value, int)  # bool included: True * 'x' repeats too


def _add(a: Any, b: Any) -> Any:
    if _is_sequence(a) and _is_sequence(b) and size_of(a) + size_of(b) > MAX_SIZE:
        raise _refuse_size("joining these")
    if _is_int(a) and _is_int(b) and max(a.bit_length(), b.bit_length()) + 1 > MAX_INT_BITS:
        raise SandboxViolation(f"a number larger than {MAX_INT_BITS} bits is not allowed")
    return a + b


def _mul(a: Any, b: Any) -> Any:
    if _is_int(a) and _is_int(b):
        if a.bit_length() + b.bit_length() > MAX_INT_BITS:
            raise SandboxViolation(f"a product larger than {MAX_INT_BITS} bits is not allowed")
    else:
        for sequence, times in ((a, b), (b, a)):
            if (_is_sequence(sequence) and _is_int(times) and times > 0
                    and (times > MAX_SIZE or times * size_of(sequence) > MAX_SIZE)):
                raise _refuse_size("repeating this")
    return a * b


def _pow(a: Any, b: Any) -> Any:
    # the result has at most twice (bit length - 1) * exponent bits
    if _is_int(a) and _is_int(b) and b > 0 and abs(a) > 1 and (a.bit_length() - 1) * b > MAX_INT_BITS:
        raise SandboxViolation(f"a power larger than {MAX_INT_BITS} bits is not allowed")
    return a**b


def _mod(a: Any, b: Any) -> Any:
    if isinstance(a, str | bytes):
        raise SandboxViolation("%-formatting of text is not allowed (use an f-string)")
    return a % b


# Only the operators the deploy check allows; each one bounded (the others cannot grow a value).
_OPERATORS: dict[type[ast.AST], Callable[..., Any]] = {
    ast.Add: _add, ast.Sub: operator.sub, ast.Mult: _mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: _mod, ast.Pow: _pow,
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Gt: operator.gt, ast.Lt: operator.lt,
    ast.GtE: operator.ge, ast.LtE: operator.le, ast.Not: operator.not_, ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.In: lambda x, y: operator.contains(y, x), ast.NotIn: lambda x, y: not operator.contains(y, x),
    ast.Is: lambda x, y: x is y, ast.IsNot: lambda x, y: x is not y,
}


def _str(*args: Any) -> str:
    if args and size_of(args[0]) > MAX_SIZE:
        raise _refuse_size("the text of this value")
    return str(*args)


def _round(number: Any, ndigits: Any = None) -> Any:
    # round(1, -10**7) computes 10**10**7: seconds of CPU
    if ndigits is not None and _is_int(ndigits) and abs(ndigits) > MAX_ROUND_DIGITS:
        raise SandboxViolation(f"round() to more than {MAX_ROUND_DIGITS} digits is not allowed")
    return round(number, ndigits)


def _sum(iterable: Any, start: Any = 0) -> Any:
    if not isinstance(start, int | float):  # summing lists is quadratic and unbounded: numbers only
        raise SandboxViolation("sum() adds numbers only")
    total = start
    for item in iterable:
        total = _add(total, item)
    return total


SAFE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "add_days": _add_days,
    "add_minutes": _add_minutes,
    "at_time": _at_time,
    "end_of_day": end_of_day,
    "len": len,
    "min": min,
    "max": max,
    "sum": _sum,
    "abs": abs,
    "round": _round,
    "sorted": sorted,
    "any": any,
    "all": all,
    "str": _str,
    "int": int,
    "float": float,
    "bool": bool,
    "set": set,
    "list": list,
    "zip": zip,  # pairs items of lists already held (lazy: builds nothing larger than its inputs)
    "date": dt.date.fromisoformat,
    "datetime": dt.datetime.fromisoformat,
    "duration": _duration,
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


def _guard_zfill(text: Any, width: Any) -> None:
    if isinstance(text, str | bytes) and _is_int(width) and width > MAX_SIZE:
        raise _refuse_size("zfill")


def _guard_replace(text: Any, old: Any, new: Any, count: Any = -1) -> None:
    if isinstance(text, str | bytes) and isinstance(old, str | bytes) and isinstance(new, str | bytes):
        if type(old) is not type(text) or type(new) is not type(text):
            return  # Python raises TypeError itself
        hits = text.count(old)  # type: ignore[arg-type]
        if _is_int(count) and 0 <= count < hits:
            hits = count
        if len(text) + hits * (len(new) - len(old)) > MAX_SIZE:
            raise _refuse_size("replace")


def _guard_join(separator: Any, items: Any) -> None:
    if isinstance(separator, str | bytes):
        if size_of(items) > MAX_SIZE:
            raise _refuse_size("join")
        parts = list(items)
        total = sum(len(part) if isinstance(part, str | bytes) else 0 for part in parts)
        if total + len(separator) * max(len(parts) - 1, 0) > MAX_SIZE:
            raise _refuse_size("join")


# Methods whose result can be larger than their receiver and arguments together, and their size checks,
# run before the method. Every other method of SAFE_METHODS returns at most a small multiple of its inputs
# (upper() of 'ﬃ' is 'FFI'), which the check of every built value catches.
_METHOD_GUARDS: dict[str, Callable[..., None]] = {
    "zfill": _guard_zfill, "replace": _guard_replace, "join": _guard_join,
}
_INPUT_BOUNDED_METHODS = frozenset({
    "lower", "upper", "strip", "lstrip", "rstrip", "startswith", "endswith", "split", "title", "capitalize",
    "casefold", "count", "find", "index", "isdigit", "isalpha", "isalnum", "get", "keys", "values", "items",
    "isdisjoint", "issubset", "issuperset", "union", "intersection", "difference",
})
if SAFE_METHODS - _INPUT_BOUNDED_METHODS - _METHOD_GUARDS.keys():
    raise RuntimeError(f"methods without a size guard: {SAFE_METHODS - _INPUT_BOUNDED_METHODS - _METHOD_GUARDS.keys()}")

# A format spec for numbers and text: [[fill]align][sign][z][#][0][width][grouping][.precision][type]
_FORMAT_SPEC = re.compile(r"(?:.?[<>=^])?[-+ ]?z?#?0?(?P<width>\d*)[,_]?(?:\.(?P<precision>\d+))?[a-zA-Z%]?", re.S)


def _check_format_spec(value: Any, spec: str) -> None:
    if isinstance(value, dt.date | dt.time):  # strftime: the output is a small multiple of the spec
        if len(spec) > MAX_FORMAT_WIDTH:
            raise SandboxViolation(f"a date format longer than {MAX_FORMAT_WIDTH} characters is not allowed")
        return
    match = _FORMAT_SPEC.fullmatch(spec)
    if match is None:
        raise SandboxViolation(f"format spec {spec!r} is not allowed")
    for part in ("width", "precision"):
        if match.group(part) and int(match.group(part)) > MAX_FORMAT_WIDTH:
            raise SandboxViolation(f"a format {part} over {MAX_FORMAT_WIDTH} is not allowed")


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
        super().__init__(operators=dict(_OPERATORS), functions=dict(SAFE_FUNCTIONS), names=names)
        # the base class adds tuple and dict: not offered; a run's bound functions are (see BOUND_FUNCTIONS)
        self.functions = {**SAFE_FUNCTIONS, **{k: v for k, v in (bound or {}).items() if k in BOUND_FUNCTIONS}}
        self.budget = budget

    def _eval(self, node: ast.AST) -> Any:
        self.budget.tick()
        result = super()._eval(node)
        if isinstance(node, _BUILDING_NODES):
            self.budget.build(_check_value(result))
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
        guard = _METHOD_GUARDS.get(name)
        if guard is not None:
            guard(receiver, *args, **kwargs)
        return method(*args, **kwargs)

    def _eval_formattedvalue(self, node: ast.FormattedValue) -> Any:
        value = self._eval(node.value)
        if node.format_spec is None:
            return _str(value)
        spec = self._eval(node.format_spec)
        _check_format_spec(value, spec)
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
