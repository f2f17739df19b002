"""The sandbox's resource bounds (see ``sandbox``): the size caps, the checks of every value an operation
builds, the operators and functions that check their result's size before they allocate, the size guards of
the string methods an expression may call, and the format specs it may use."""

from __future__ import annotations

import ast
import datetime as dt
import operator
import re
from collections.abc import Callable
from typing import Any

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


def check_value(value: Any) -> int:
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
OPERATORS: dict[type[ast.AST], Callable[..., Any]] = {
    ast.Add: _add, ast.Sub: operator.sub, ast.Mult: _mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: _mod, ast.Pow: _pow,
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Gt: operator.gt, ast.Lt: operator.lt,
    ast.GtE: operator.ge, ast.LtE: operator.le, ast.Not: operator.not_, ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.In: lambda x, y: operator.contains(y, x), ast.NotIn: lambda x, y: not operator.contains(y, x),
    ast.Is: lambda x, y: x is y, ast.IsNot: lambda x, y: x is not y,
}


def bounded_str(*args: Any) -> str:
    if args and size_of(args[0]) > MAX_SIZE:
        raise _refuse_size("the text of this value")
    return str(*args)


def bounded_round(number: Any, ndigits: Any = None) -> Any:
    # round(1, -10**7) computes 10**10**7: seconds of CPU
    if ndigits is not None and _is_int(ndigits) and abs(ndigits) > MAX_ROUND_DIGITS:
        raise SandboxViolation(f"round() to more than {MAX_ROUND_DIGITS} digits is not allowed")
    return round(number, ndigits)


def bounded_sum(iterable: Any, start: Any = 0) -> Any:
    if not isinstance(start, int | float):  # summing lists is quadratic and unbounded: numbers only
        raise SandboxViolation("sum() adds numbers only")
    total = start
    for item in iterable:
        total = _add(total, item)
    return total


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
METHOD_GUARDS: dict[str, Callable[..., None]] = {
    "zfill": _guard_zfill, "replace": _guard_replace, "join": _guard_join,
}
INPUT_BOUNDED_METHODS = frozenset({
    "lower", "upper", "strip", "lstrip", "rstrip", "startswith", "endswith", "split", "title", "capitalize",
    "casefold", "count", "find", "index", "isdigit", "isalpha", "isalnum", "get", "keys", "values", "items",
    "isdisjoint", "issubset", "issuperset", "union", "intersection", "difference",
})

# A format spec for numbers and text: [[fill]align][sign][z][#][0][width][grouping][.precision][type]
_FORMAT_SPEC = re.compile(r"(?:.?[<>=^])?[-+ ]?z?#?0?(?P<width>\d*)[,_]?(?:\.(?P<precision>\d+))?[a-zA-Z%]?", re.S)


def check_format_spec(value: Any, spec: str) -> None:
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
