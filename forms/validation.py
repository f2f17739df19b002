"""Server-side validation of form data: every error, keyed by field path, with a short English message.

Keys are dotted paths into the data ("applicant_age", "risks.0.measure"). A missing required field and an
unknown field are keyed by their own path; an error about the data as a whole is keyed ``"_"``.

Besides JSON Schema, one check across fields: an object schema's ``"x-dates-in-order": [[EARLIER, LATER],
...]`` refuses a date in LATER before the date in EARLIER (an end date before the start date), keyed by
LATER. Each field alone is checked by its own ``format``; the pair only when both are real dates.

And a balance (``"x-balance"``, e.g. a stock account: opening + purchases - consumption - ... = closing):
``{"total": FIELD, "plus": [TERM, ...], "minus": [TERM, ...], "tolerance": NUMBER, "explanation": FIELD}``.
A TERM is a number field, or ``"LIST[].COLUMN"``, the sum of that column over a table's rows. When the
terms do not add up to the total within the tolerance (absolute, in the fields' own unit), the explanation
field must say why: an empty one is refused, keyed by the explanation field, with the figures. Checked only
when every number in it is a number (each field's own schema reports anything else).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators

from forms.registry import get_form

ROOT = "_"

# Only the formats our forms use, each checked by code of our own: jsonschema skips a format silently
# when its optional dependency is missing (date-time needs rfc3339-validator), and that must not happen.
FORMAT_CHECKER = FormatChecker(formats=())

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_TIME = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[Tt](?P<time>[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?)"
    r"(?P<offset>[Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.]+(?:\.[^@\s.]+)+")


@FORMAT_CHECKER.checks("date", raises=ValueError)
def is_date(value: object) -> bool:
    """RFC 3339 full-date: YYYY-MM-DD and a real calendar day."""
    if not isinstance(value, str):
        return True  # a format constrains strings only; "type" reports anything else
    return _DATE.fullmatch(value) is not None and bool(date.fromisoformat(value))


@FORMAT_CHECKER.checks("date-time", raises=ValueError)
def is_date_time(value: object) -> bool:
    """RFC 3339 date-time: date, "T", time with seconds, and a time zone ("Z" or ±hh:mm)."""
    if not isinstance(value, str):
        return True
    match = _DATE_TIME.fullmatch(value)
    if match is None:
        return False
    offset = "+00:00" if match["offset"] in ("Z", "z") else match["offset"]
    # fromisoformat rejects day 31 of a short month, hour 24, an offset of 24 hours or more, ...
    datetime.fromisoformat(f"{match['date']}T{match['time'][:15]}{offset}")
    return True


@FORMAT_CHECKER.checks("email")
def is_email(value: object) -> bool:
    """A plausible e-mail address: one "@", no spaces, a dotted domain."""
    if not isinstance(value, str):
        return True
    return len(value) <= 254 and _EMAIL.fullmatch(value) is not None


_TYPE_NAMES = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "an object",
    "null": "empty",
}
_FORMAT_MESSAGES = {
    "date": "Must be a date (YYYY-MM-DD).",
    "date-time": "Must be a date and time with a time zone (YYYY-MM-DDTHH:MM:SS+01:00).",
    "email": "Must be an e-mail address.",
}
_MAX_ENUM_LISTED = 6


def _real_date(value: object) -> bool:
    try:
        return isinstance(value, str) and is_date(value)
    except ValueError:
        return False


def _dates_in_order(
    validator: Any, pairs: list[list[str]], instance: Any, _schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    """``x-dates-in-order``: for each pair of fields holding dates, the later field is not before the earlier."""
    if not validator.is_type(instance, "object"):
        return
    for earlier, later in pairs:
        first, last = instance.get(earlier), instance.get(later)
        if _real_date(first) and _real_date(last) and last < first:  # ISO dates sort as text
            yield ValidationError(f"Must not be before {first}.", path=[later])


def _term(instance: Mapping[str, Any], term: str) -> float | None:
    """A balance term's value: a number field, or the sum of a table's column (``"purchases[].quantity"``)."""
    if "[]." not in term:
        value = instance.get(term, 0)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    table, column = term.split("[].", 1)
    total = 0.0
    for row in instance.get(table) or []:
        value = row.get(column, 0) if isinstance(row, dict) else None
        if not isinstance(value, int | float) or isinstance(value, bool):
            return None
        total += float(value)
    return total


def _shown_number(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _balance(
    validator: Any, rule: Mapping[str, Any], instance: Any, _schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    """``x-balance``: total = sum(plus) - sum(minus) within the tolerance, or an explanation is given."""
    if not validator.is_type(instance, "object"):
        return
    plus = [_term(instance, term) for term in rule.get("plus", ())]
    minus = [_term(instance, term) for term in rule.get("minus", ())]
    total = _term(instance, rule["total"])
    if total is None or any(value is None for value in (*plus, *minus)):
        return
    expected = sum(value or 0.0 for value in plus) - sum(value or 0.0 for value in minus)
    difference = total - expected
    if abs(difference) <= float(rule.get("tolerance", 0)) + 1e-9:
        return
    explanation = instance.get(rule["explanation"])
    if isinstance(explanation, str) and explanation.strip():
        return
    yield ValidationError(
        f"Does not balance: the movements give {_shown_number(expected)}, {rule['total']} is "
        f"{_shown_number(total)} (difference {_shown_number(difference)}, tolerance "
        f"{_shown_number(float(rule.get('tolerance', 0)))}). Explain the difference.",
        path=[rule["explanation"]])


_FormValidator = validators.extend(
    Draft202012Validator, {"x-dates-in-order": _dates_in_order, "x-balance": _balance})


@functools.cache
def _validator(name: str) -> Draft202012Validator:
    validator: Draft202012Validator = _FormValidator(get_form(name).schema, format_checker=FORMAT_CHECKER)
    return validator


def _value(error: ValidationError) -> Any:
    """The value of the failing keyword in the schema (jsonschema types it loosely)."""
    value: Any = error.validator_value
    return value


def _schema(error: ValidationError) -> Mapping[str, Any]:
    """The (sub)schema holding the failing keyword."""
    return error.schema if isinstance(error.schema, Mapping) else {}


def _path(parts: Sequence[object]) -> str:
    return ".".join(str(part) for part in parts) or ROOT


def _shown(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _plural(count: int, singular: str, plural: str) -> str:
    return f"{count} {singular if count == 1 else plural}"


def _enum_message(error: ValidationError) -> str:
    allowed = list(_value(error))
    if len(allowed) <= _MAX_ENUM_LISTED:
        return "Must be one of: " + ", ".join(str(value) for value in allowed) + "."
    return f"{_shown(error.instance)} is not an allowed value."


def _type_message(error: ValidationError) -> str:
    expected = _value(error)
    types = [expected] if isinstance(expected, str) else list(expected)
    return "Must be " + " or ".join(_TYPE_NAMES.get(kind, kind) for kind in types) + "."


def _pattern_message(error: ValidationError) -> str:
    return str(_schema(error).get("x-error-en", "Has the wrong format."))


def _min_length_message(error: ValidationError) -> str:
    limit = _value(error)
    return "Must not be empty." if limit == 1 else f"Must be at least {_plural(limit, 'character', 'characters')}."


_MESSAGES: dict[str, Callable[[ValidationError], str]] = {
    "type": _type_message,
    "enum": _enum_message,
    "const": lambda error: f"Must be {_value(error)}.",
    "format": lambda error: _FORMAT_MESSAGES.get(str(_value(error)), "Has the wrong format."),
    "pattern": _pattern_message,
    "minimum": lambda error: f"Must be at least {_value(error)}.",
    "maximum": lambda error: f"Must be at most {_value(error)}.",
    "minLength": _min_length_message,
    "maxLength": lambda error: f"Must be at most {_plural(_value(error), 'character', 'characters')}.",
    "minItems": lambda error: f"Must have at least {_plural(_value(error), 'entry', 'entries')}.",
    "maxItems": lambda error: f"Must have at most {_plural(_value(error), 'entry', 'entries')}.",
    "uniqueItems": lambda _error: "Must not contain the same value twice.",
}


def _message(error: ValidationError) -> str:
    build = _MESSAGES.get(str(error.validator))
    return build(error) if build else error.message


def _entries(error: ValidationError) -> Iterator[tuple[str, str]]:
    path = list(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        for field in _value(error):
            if field not in error.instance:
                yield _path([*path, field]), "This field is required."
    elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = _schema(error).get("properties", {})
        patterns = [re.compile(pattern) for pattern in _schema(error).get("patternProperties", {})]
        for field in error.instance:
            if field not in known and not any(pattern.search(field) for pattern in patterns):
                yield _path([*path, field]), "Unknown field."
    else:
        yield _path(path), _message(error)


def validate(name: str, data: Any) -> dict[str, str]:
    """Validate ``data`` against form ``name``: field path -> message for every error, ``{}`` if valid.

    Raises ``FormNotFound`` for an unknown form. The first error found for a field is the one reported.
    """
    return _errors(_validator(get_form(name).name), data)


@functools.lru_cache(maxsize=256)
def _validator_of(text: str) -> Draft202012Validator:
    """The same validator as a named form gets (our cross-field checks included), for a schema document."""
    validator: Draft202012Validator = _FormValidator(json.loads(text), format_checker=FORMAT_CHECKER)
    return validator


def validate_with(schema: Mapping[str, Any], data: Any) -> dict[str, str]:
    """``validate`` against a schema given as a document (e.g. a process bundle's version of a form).

    The schema must be a checked one (``form_from_documents``); validators are cached by its content.
    """
    return _errors(_validator_of(json.dumps(schema, sort_keys=True)), data)


def _errors(validator: Draft202012Validator, data: Any) -> dict[str, str]:
    if not isinstance(data, dict):
        return {ROOT: "Form data must be a JSON object."}
    errors: dict[str, str] = {}
    for error in validator.iter_errors(data):
        for key, message in _entries(error):
            errors.setdefault(key, message)
    return errors
