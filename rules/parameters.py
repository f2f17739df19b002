"""Effective-dated legal parameters (value + valid-from).

Legal figures are configuration, not constants (DOMAIN.md § 0.3): when the law changes, a process owner
adds a new entry with its ``valid_from`` date instead of editing the old one, so a case decided last year
can still be explained with last year's value. Example: the absence threshold of ASL § 31 is 1 day and
becomes 3 days from 2026-07-01 (L 31 2025-26).
"""

from __future__ import annotations

import bisect
import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rules.errors import ParameterError


@dataclass(frozen=True)
class ParameterValue:
    """One value of a parameter and the first day it applies."""

    value: Any
    valid_from: datetime.date
    source: str = ""


@dataclass(frozen=True)
class ParameterTable:
    """All parameters, each a history sorted by ``valid_from``."""

    history: Mapping[str, tuple[ParameterValue, ...]]

    def keys(self) -> tuple[str, ...]:
        """The parameter keys, sorted."""
        return tuple(sorted(self.history))

    def values_of(self, key: str) -> tuple[ParameterValue, ...]:
        """Every dated value of ``key``, oldest first."""
        try:
            return self.history[key]
        except KeyError:
            raise ParameterError(f"unknown parameter {key!r}") from None

    def value(self, key: str, on: datetime.date) -> Any:
        """The value of ``key`` in force on ``on``: the entry with the latest ``valid_from`` <= ``on``."""
        entries = self.values_of(key)
        position = bisect.bisect_right([entry.valid_from for entry in entries], on)
        if position == 0:
            raise ParameterError(
                f"parameter {key!r} has no value on {on.isoformat()}: "
                f"its earliest valid_from is {entries[0].valid_from.isoformat()}",
                {key: f"no value before {entries[0].valid_from.isoformat()}"},
            )
        return entries[position - 1].value


def freeze(value: Any) -> Any:
    """A deeply immutable copy of JSON data (lists become tuples), safe to share between decisions."""
    if isinstance(value, (list, tuple)):
        return tuple(freeze(item) for item in value)
    if isinstance(value, dict):
        return {key: freeze(item) for key, item in value.items()}
    return value


_SCALARS = (str, int, float, bool, type(None))


def thaw(value: Any) -> Any:
    """A fresh JSON-safe copy of frozen data (tuples become lists), for handing out to callers.

    Runs on every decision, hence the fast path for the common flat list of strings.
    """
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is tuple or kind is list:
        return [item if type(item) in _SCALARS else thaw(item) for item in value]
    if kind is dict:
        return {key: thaw(item) for key, item in value.items()}
    return value


def table_from_document(document: Mapping[str, Any]) -> ParameterTable:
    """Build the table from a schema-valid ``parameters.json`` document (see ``parameters.schema.json``)."""
    history: dict[str, tuple[ParameterValue, ...]] = {}
    for key, entries in document.items():
        if key.startswith("$"):
            continue
        dated = [
            ParameterValue(
                value=freeze(entry["value"]),
                valid_from=datetime.date.fromisoformat(entry["valid_from"]),
                source=entry.get("source", ""),
            )
            for entry in entries
        ]
        dated.sort(key=lambda entry: entry.valid_from)
        history[key] = tuple(dated)
    return ParameterTable(history)


def duplicate_dates(table: ParameterTable) -> dict[str, str]:
    """Problems where one parameter has two values from the same day (which one would apply?)."""
    problems: dict[str, str] = {}
    for key, entries in table.history.items():
        dates = [entry.valid_from for entry in entries]
        if len(set(dates)) != len(dates):
            problems[key] = "two values share one valid_from"
    return problems
