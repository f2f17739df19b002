"""Errors of the forms package: a form that does not exist, or one whose schema file is broken."""

from __future__ import annotations


class FormsError(Exception):
    """Base class: every error the forms package raises on purpose."""


class FormNotFound(FormsError, LookupError):
    """No form of this name ships in ``forms/schemas/``."""

    def __init__(self, name: object) -> None:
        super().__init__(f"no form named {name!r}")
        self.name = name


class InvalidForm(FormsError):
    """A shipped schema or UI-schema file is not valid JSON or not a valid JSON Schema (a bug in the repo)."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"form {name!r} is broken: {reason}")
        self.name = name
        self.reason = reason
