"""Case titles: a process's short templates over its case data (``caseTitle``, ``caseSummary``, ``caseBadge``).

A template is text with fields in braces, ``{applicant_name}: {task_description}``; a field may name a
value inside an object with dots (``{lone_work.label}``). No expression, no format spec: a field is replaced
by its value (a list by its items joined with ", ", a missing value or an object by nothing), so a template
cannot run code and cannot fail on a case's data. Checked at deploy by :func:`check_template`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from processes.engine.sandbox import SandboxViolation

_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\}")
MAX_TEMPLATE = 300
SEARCH_TEXT_LIMIT = 20_000  # characters of case data a case's search words keep


def check_template(text: str) -> None:
    """A template may hold only ``{field}`` and ``{field.sub}`` placeholders besides plain text."""
    if len(text) > MAX_TEMPLATE:
        raise SandboxViolation(f"a case template is at most {MAX_TEMPLATE} characters")
    rest = _FIELD.sub("", text)
    if "{" in rest or "}" in rest:
        raise SandboxViolation(f"{text!r}: a case template names fields as {{name}} or {{name.sub}}, nothing else")


def fields(template: str) -> list[str]:
    return _FIELD.findall(template)


def _lookup(data: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(data, Mapping):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


Labeller = Callable[[str, Any], "str | None"]


def _text(value: Any, path: str = "", label: Labeller | None = None) -> str:
    if value is None or isinstance(value, Mapping):
        return ""
    if isinstance(value, bool):
        return ""
    if isinstance(value, list):
        return ", ".join(text for item in value if (text := _text(item, path, label)))
    named = label(path, value) if label is not None else None
    return " ".join(str(named if named else value).split())


def fill(template: str | None, data: Any, limit: int = 300, label: Labeller | None = None) -> str:
    """The template with each field replaced by its value in the case data; trimmed to ``limit``.

    ``label(path, value)`` may name a value for people (a decision value, a form's choice) in a language;
    None keeps the value as it is."""
    if not template:
        return ""
    text = _FIELD.sub(lambda match: _text(_lookup(data, match.group(1)), match.group(1), label), template)
    text = " ".join(text.split()).strip(" :;,\u2013-/|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _leaves(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    elif isinstance(value, str | int | float) and not isinstance(value, bool):
        yield str(value)


def search_words(*parts: str, data: Any) -> str:
    """What full-text search looks in: the given texts and every text and number in the case data."""
    words: list[str] = [part for part in parts if part]
    size = sum(len(part) + 1 for part in words)
    for leaf in _leaves(data):
        if size + len(leaf) + 1 > SEARCH_TEXT_LIMIT:
            break
        words.append(leaf)
        size += len(leaf) + 1
    return " ".join(words)
