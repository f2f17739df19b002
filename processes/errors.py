"""Domain errors of the engine. The service layer maps each class to one HTTP status in one place."""

from __future__ import annotations


class ProcessError(Exception):
    """Base class: every error the engine raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class NotFound(ProcessError):
    """The case, task, process or user does not exist (or the caller may not know it exists)."""

    code = "not_found"


class Forbidden(ProcessError):
    """The caller is known but may not do this (wrong group or unit, not the assignee)."""

    code = "forbidden"


class Unauthenticated(ProcessError):
    """No valid credentials."""

    code = "unauthenticated"


class Conflict(ProcessError):
    """The case changed under the caller (optimistic lock), or the task is no longer open."""

    code = "conflict"


class InvalidData(ProcessError):
    """Form data or facts that fail validation; `fields` maps each bad field to a message."""

    code = "invalid_data"


class InvalidModel(ProcessError):
    """A BPMN file that cannot be deployed. The message names the file, the element id and the problem.

    ``problems`` lists every problem found (each a line naming file, element and problem); one problem
    alone is the message. :meth:`of` makes one error of several (its ``element`` is the first problem's).
    """

    code = "invalid_model"

    def __init__(
        self, message: str, *, filename: str | None = None, element: str | None = None,
        problems: tuple[str, ...] = (),
    ) -> None:
        fields = {}
        if filename:
            fields["file"] = filename
        if element:
            fields["element"] = element
        super().__init__(message, fields=fields)
        self.filename = filename
        self.element = element
        self.problems = problems or (message,)
        self.parts: tuple[InvalidModel, ...] = (self,)  # one error per problem, each with its element

    @classmethod
    def of(cls, errors: list[InvalidModel], *, filename: str | None = None) -> InvalidModel:
        """One error listing every problem of ``errors`` (the one error itself if there is just one)."""
        problems = tuple(dict.fromkeys(problem for error in errors for problem in error.problems))
        if len(problems) == 1:  # one problem (perhaps found twice): the first error that names it
            return errors[0]
        message = f"{len(problems)} problems: " + "; ".join(problems)
        error = cls(message, filename=filename or errors[0].filename, element=errors[0].element, problems=problems)
        parts: dict[str, InvalidModel] = {}
        for each in errors:
            for part in each.parts:
                parts.setdefault(part.message, part)
        error.parts = tuple(parts.values())
        error.fields.update({f"problem {number}": text for number, text in enumerate(problems, 1)})
        return error


class EngineFailure(ProcessError):
    """The workflow itself failed while running (a script or expression error); the case is unchanged."""

    code = "engine_error"


class TooManyAttempts(ProcessError):
    """Too many failed log-ins for this account or from this address; `retry_after` says for how many seconds."""

    code = "too_many_attempts"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
