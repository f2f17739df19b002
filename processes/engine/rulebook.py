"""What a running case decides with: the rule sets and effective-dated parameters of its process version.

A ``Rulebook`` is the runtime's view of them: a process bundle (``processes/bundles.py``) is one, the
shipped files (``PACKAGE_RULES``) are the one a version deployed before bundles uses. This module also
chooses the date whose law applies to a business-rule task, and makes the ``param()`` function of the
sandbox, which reads a parameter at a date (``param("accident.report.deadline_time_of_day", on=injury_date)``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import forms
import rules
from processes.clock import LOCAL_ZONE
from processes.errors import EngineFailure

ON_FIELD = "onField"  # the business-rule task property naming the data field whose date selects the law


class Rulebook(Protocol):
    """The rule sets and parameters one case decides with."""

    def fact_names(self, ruleset: str) -> tuple[str, ...]: ...

    def law_date_fact(self, ruleset: str) -> str | None: ...

    def decide(
        self, ruleset: str, facts: Mapping[str, Any], on: dt.date | None, *, today: dt.date
    ) -> rules.Decision: ...

    def parameter(self, key: str, on: dt.date) -> Any: ...

    def form(self, name: str) -> forms.Form | None:
        """The form ``name`` of the case's version (or the shipped one); None if there is none."""
        ...

    def versions(self, ruleset: str) -> tuple[str | None, str | None]:
        """(rule-set version, parameters version): the SHA-256 of each document, None for the shipped files."""
        ...


class PackageRules:
    """The rule sets and parameters shipped in ``rules/data`` (what a version deployed before bundles reads)."""

    def fact_names(self, ruleset: str) -> tuple[str, ...]:
        return rules.fact_names(ruleset)

    def law_date_fact(self, ruleset: str) -> str | None:
        return rules.default_catalog().get(ruleset).law_date_fact

    def decide(
        self, ruleset: str, facts: Mapping[str, Any], on: dt.date | None, *, today: dt.date
    ) -> rules.Decision:
        return rules.default_catalog().decide(ruleset, facts, on, today=today)

    def parameter(self, key: str, on: dt.date) -> Any:
        return rules.parameter(key, on)

    def form(self, name: str) -> forms.Form | None:
        return forms.get_form(name) if forms.form_exists(name) else None

    def versions(self, ruleset: str) -> tuple[str | None, str | None]:
        return None, None


PACKAGE_RULES = PackageRules()


def as_date(value: Any, what: str) -> dt.date:
    """A date from case data: ``YYYY-MM-DD``, an ISO datetime (its date in Copenhagen) or a date."""
    if isinstance(value, dt.datetime):
        return value.astimezone(LOCAL_ZONE).date() if value.tzinfo else value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return as_date(dt.datetime.fromisoformat(value), what) if "T" in value else dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"{what} must be a date (YYYY-MM-DD), not {value!r}")


def law_date(
    book: Rulebook, ruleset: str, properties: Mapping[str, str], data: Mapping[str, Any], facts: Mapping[str, Any],
    *, task: str,
) -> tuple[dt.date | None, str]:
    """The date whose law a business-rule task applies, and where it came from.

    The task's ``onField`` property names a data field (``injury_date``): its date. Without one, the rule
    set's ``law_date_fact`` if the facts give it (``None``: the rules read it), else today.
    """
    field = (properties.get(ON_FIELD) or "").strip()
    if field:
        try:
            return as_date(data.get(field), f"field {field!r}"), f"field:{field}"
        except ValueError as exc:
            raise EngineFailure(f"task {task}: the law's date: {exc}", fields={field: str(exc)}) from None
    fact = book.law_date_fact(ruleset)
    if fact and facts.get(fact) is not None:
        return None, f"fact:{fact}"
    return None, "today"


def param_function(book: Rulebook, today: Callable[[], dt.date]) -> Callable[..., Any]:
    """The sandbox's ``param(key, on=date)``: the parameter's value in force on ``on`` (default: today)."""

    def param(key: Any, on: Any = None) -> Any:
        if not isinstance(key, str):
            raise ValueError("param() needs a parameter name")
        day = today() if on is None else as_date(on, "param()'s 'on'")
        try:
            return book.parameter(key, day)
        except rules.RulesError as exc:
            raise ValueError(exc.message) from None

    return param


def labels_function(book: Rulebook, language: Callable[[], str]) -> Callable[..., Any]:
    """The sandbox's ``labels(form, field, values)``: each value's label in ``language()`` (the acting person's),
    as the form's UI schema names it (``x-enum-labels`` of the field); a value without a label stays as it is.

    So a message can name measures as the person saw them in the form, not by their codes.
    """

    def labels(form_name: Any, field_name: Any, values: Any) -> list[str]:
        if not isinstance(form_name, str) or not isinstance(field_name, str):
            raise ValueError("labels() needs a form name and a field name")
        items = [values] if isinstance(values, str) else list(values or [])
        found = book.form(form_name)
        if found is None:
            raise ValueError(f"labels(): no form {form_name!r}")
        ui = ((found.ui or {}).get("fields") or {}).get(field_name) or {}
        named = ui.get("x-enum-labels") or {}
        shown, chosen = [], language()
        for item in items:
            words = named.get(item) if isinstance(item, str) else None
            shown.append(str(words.get(chosen) or words.get("en") or item) if isinstance(words, dict) else str(item))
        return shown

    return labels
