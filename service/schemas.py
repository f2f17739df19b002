"""marshmallow schemas of the JSON API: request syntax in, `processes.views` out, and the OpenAPI document.

Syntax only (STYLE.md 10): types, required keys and ranges. Whether the data fits a form, whether the
caller may act, whether a process exists: that is for the use cases in `processes`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

import processes
from processes.views import CaseStatus, TaskStatus

# The lengths of the database columns the values are compared with or stored in (processes.store.models), so
# the OpenAPI document states the limits the code enforces and nothing longer reaches a query.
_NAME = validate.Length(min=1, max=200)  # process keys
_CODE = validate.Length(min=1, max=64)  # unit and group codes
_USERNAME = validate.Length(min=1, max=100)
_CASE_ID = validate.Length(min=1, max=36)  # a UUID
MAX_PASSWORD_LENGTH = 1000
MAX_LIMIT = 500
MAX_OFFSET = 1_000_000  # far past any real queue, far below what a database integer holds
# Deepest nesting of a JSON body: form data nests a few levels (an object in a list in an object), so 32
# leaves room while every later walk over the data (validation, the engine's copies) stays shallow.
MAX_JSON_DEPTH = 32
OPEN = "open"  # the task-status filter meaning ready or claimed

# A NUL character is refused in every named text field (PostgreSQL takes none in a text column); the
# document says so as a `pattern`. A lone surrogate (`"\ud800"` in JSON) is refused anywhere in a body,
# since it is not Unicode text and no UTF-8 encoder takes it (service.api.parsing).
_NO_NUL = validate.Regexp(r"^[^\x00]*$", error="Contains a NUL character.")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_UNSAFE_TEXT = re.compile(r"[\x00\ud800-\udfff]")


def lone_surrogate_message(text: str) -> str | None:
    """Why `text` is not Unicode text (a lone UTF-16 surrogate), else None."""
    match = _SURROGATE.search(text)
    return None if match is None else f"Contains a lone surrogate at position {match.start()}: not Unicode text."


def unsafe_text_message(text: str) -> str | None:
    """Why `text` cannot be stored in a text column (a NUL or a lone surrogate), else None."""
    return "Contains a NUL character." if "\x00" in text else lone_surrogate_message(text)


def escape_unsafe_text(text: str) -> str:
    """`text` with each NUL or lone surrogate written as `\\uXXXX`, to name a bad key in an error."""
    return _UNSAFE_TEXT.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def _in_utc_range(value: datetime) -> None:
    """An instant must still be a date once moved to UTC (9999-12-31T23:59-23:59 is not)."""
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValidationError("Out of range: the instant in UTC is past year 9999 or before year 1.") from None


class StrictSchema(Schema):
    """Request schemas refuse unknown keys, so a misspelt key is an error instead of silently ignored."""

    class Meta:
        unknown = RAISE


# --- requests ---------------------------------------------------------------------------------------


class StartCaseRequest(StrictSchema):
    """Body of `POST /cases`."""

    process = fields.String(required=True, validate=[_NAME, _NO_NUL], metadata={"description": "Process key"})
    unit = fields.String(load_default=None, validate=[_CODE, _NO_NUL], metadata={
        "description": "Unit code, e.g. kemi; required unless the case is started from another (related_case)"})
    data = fields.Dict(keys=fields.String(), load_default=dict, metadata={"description": "The start form's data"})
    related_case = fields.String(load_default=None, validate=[validate.Length(max=36), _NO_NUL], metadata={
        "description": "The case this one is started from: needed by a process with property startedFrom "
                       "(a running case of a named process, started by the caller); the unit is then that case's"})


class CompleteTaskRequest(StrictSchema):
    """Body of `POST /tasks/{id}/complete`."""

    data = fields.Dict(keys=fields.String(), load_default=dict, metadata={"description": "The task form's data"})


class MessageRequest(StrictSchema):
    """Body of `POST /cases/{case_id}/messages/{name}`."""

    data = fields.Dict(keys=fields.String(), load_default=dict,
                       metadata={"description": "The message's payload: the data of its form"})


class MessageSchema(Schema):
    """A BPMN message the case can take now."""

    name = fields.String(metadata={"description": "The message name, for POST /cases/{case_id}/messages/{name}"})
    title = fields.String(metadata={"description": "The name of the event that waits for it"})
    form_name = fields.String(allow_none=True, metadata={"description": "The form its payload must fit"})


class DecisionRequest(StrictSchema):
    """Body of `POST /decisions/{ruleset}`."""

    facts = fields.Dict(keys=fields.String(), required=True)
    on = fields.Date(
        load_default=None,
        allow_none=True,
        metadata={"description": "Date whose parameters apply (default today)"},
    )


class TokenRequest(StrictSchema):
    """Body of `POST /auth/token`."""

    username = fields.String(required=True, validate=[_USERNAME, _NO_NUL])
    password = fields.String(
        required=True, validate=[validate.Length(min=1, max=MAX_PASSWORD_LENGTH), _NO_NUL], load_only=True
    )


class TokenQuery(StrictSchema):
    """Query parameters of `GET /auth/tokens`."""

    username = fields.String(validate=_NAME, metadata={"description": "Whose tokens (admins only; default: mine)"})


class TaskQuery(StrictSchema):
    """Query parameters of `GET /tasks`."""

    group = fields.String(validate=[_CODE, _NO_NUL])
    unit = fields.String(validate=[_CODE, _NO_NUL])
    assignee = fields.String(
        validate=[_USERNAME, _NO_NUL],
        metadata={"description": "A username, `me` for the caller, or `none` for unassigned"},
    )
    status = fields.String(
        validate=validate.OneOf([OPEN, *(status.value for status in TaskStatus)]),
        metadata={"description": "`open` (the default: ready or claimed) or one task status"},
    )
    process = fields.String(validate=[_NAME, _NO_NUL])
    case_id = fields.String(validate=[_CASE_ID, _NO_NUL])
    overdue = fields.Boolean(metadata={"description": "`true`: only tasks past their due time; `false`: none of those"})
    due_before = fields.AwareDateTime(
        validate=_in_utc_range,
        metadata={"description": "Only tasks due before this ISO-8601 instant (with offset), years 1 to 9999 in UTC"},
    )
    sort = fields.String(
        validate=validate.OneOf(list(processes.SORTABLE)),
        metadata={"description": "Sort column (default `created_at`); ties go by task id; empty values last"},
    )
    order = fields.String(validate=validate.OneOf(["asc", "desc"]), metadata={"description": "Default `asc`"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_LIMIT))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_OFFSET))
    cursor = fields.String(
        validate=validate.Length(min=1, max=1000),
        metadata={"description": "`next_cursor` of the previous page (same filters, sort and order): keyset "
                                 "paging, as fast on page 1000 as on page 2; do not combine with `offset`"},
    )


class StatisticsQuery(StrictSchema):
    """Query parameters of `GET /statistics/{process}`."""

    unit = fields.String(validate=validate.Length(min=1, max=64), metadata={
        "description": "One unit's code (e.g. `kemi`). Leave out for every unit the caller may read."})


class CaseListQuery(StrictSchema):
    """Query parameters of `GET /cases`."""

    scope = fields.String(
        load_default="mine", validate=validate.OneOf([scope.value for scope in processes.CaseScope]),
        metadata={"description": "`mine` (started by me or about me, the default), `unit` (my units' cases I may "
                                 "read) or `all` (every case I may read)"},
    )
    process = fields.String(validate=[_NAME, _NO_NUL])
    status = fields.String(validate=validate.OneOf([status.value for status in CaseStatus]))
    created_from = fields.Date(metadata={"description": "Started on or after this date (Copenhagen)"})
    created_to = fields.Date(metadata={"description": "Started on or before this date (Copenhagen)"})
    q = fields.String(
        validate=[validate.Length(max=200), _NO_NUL],
        metadata={"description": "Full-text search over the titles and data of the cases you may read: every "
                                 "word must occur (the last one may be the start of a word)"},
    )
    limit = fields.Integer(load_default=25, validate=validate.Range(min=1, max=200))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_OFFSET))


class HistoryQuery(StrictSchema):
    """Query parameters of `GET /cases/{case_id}/history`."""

    before = fields.String(
        validate=validate.Regexp(r"^[1-9][0-9]{0,17}$", error="Not a history cursor."),
        metadata={"description": "The case's `history_next_cursor`, or the `next_cursor` of the previous page: "
                                 "the events before it. Leave out for the newest events."},
    )
    limit = fields.Integer(
        load_default=processes.RECENT_HISTORY, validate=validate.Range(min=1, max=processes.MAX_HISTORY_PAGE)
    )


class DeployQuery(StrictSchema):
    """Query parameters of `POST /processes` with a raw XML body."""

    filename = fields.String(
        validate=[validate.Length(min=1, max=255), _NO_NUL], metadata={"description": "Name of the uploaded file"}
    )


# --- responses --------------------------------------------------------------------------------------


class UserSchema(Schema):
    """The caller, as `GET /me` shows them."""

    username = fields.String()
    name = fields.String()
    email = fields.String(allow_none=True)
    groups = fields.List(fields.String())
    units = fields.List(fields.String())
    language = fields.String()


class FormSchema(Schema):
    """A task's form: JSON Schema plus UI hints."""

    name = fields.String()
    json_schema = fields.Dict(attribute="schema", data_key="schema", metadata={"description": "JSON Schema"})
    ui = fields.Dict(metadata={"description": "UI hints"})


class TaskSchema(Schema):
    """An entry of the task index."""

    id = fields.String()
    case_id = fields.String()
    process = fields.String()
    name = fields.String(metadata={"description": "BPMN element id"})
    title = fields.String()
    group = fields.String(allow_none=True, metadata={"description": "Candidate group (the BPMN lane)"})
    unit = fields.String()
    assignee = fields.String(allow_none=True)
    status = fields.String(validate=validate.OneOf([status.value for status in TaskStatus]))
    due_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    completed_at = fields.DateTime(allow_none=True)
    completed_by = fields.String(allow_none=True)
    case_title = fields.String(metadata={"description": "What the task's case is about (the process's caseTitle)"})
    case_summary = fields.String(metadata={"description": "The process's caseSummary over the case data"})
    case_badge = fields.String(metadata={"description": "The case's current decision (the process's caseBadge)"})


class TaskDetailSchema(TaskSchema):
    """A task with its form (`GET /tasks/{id}`)."""

    form = fields.Nested(FormSchema, allow_none=True)


_PLAIN_FIELDS: dict[type[fields.Field], Callable[[Any], Any]] = {fields.String: str, fields.Integer: int,
                                                              fields.Boolean: bool}


def flat_dumper(schema: type[Schema]) -> Callable[[Any], dict[str, Any]]:
    """What `schema().dump(obj)` gives for a schema of plain fields, without marshmallow's cost per field.

    A queue page dumps 50 tasks of 13 fields each, and marshmallow spends about 12 µs per task on field
    objects; this reads the attributes directly (one dict per object). Only String, Integer, Boolean and
    DateTime fields (ISO 8601, as marshmallow's default) are allowed, so the result cannot drift from the
    schema that documents it (tests/api/test_task_paging.py checks both agree).
    """
    convert: list[tuple[str, Callable[[Any], Any]]] = []
    for name, field in schema._declared_fields.items():
        if field.attribute is not None or field.data_key is not None or field.load_only:
            raise TypeError(f"{schema.__name__}.{name}: flat_dumper reads the attribute of the field's name")
        if isinstance(field, fields.DateTime) and field.format in (None, "iso"):
            convert.append((name, datetime.isoformat))
        elif type(field) in _PLAIN_FIELDS:  # str() of a StrEnum (a task's status) is its value, as marshmallow's
            convert.append((name, _PLAIN_FIELDS[type(field)]))
        else:
            raise TypeError(f"{schema.__name__}.{name}: flat_dumper takes plain fields only, not {type(field)}")

    def dump(obj: Any) -> dict[str, Any]:
        result = {}
        for name, to_json in convert:
            value = getattr(obj, name)
            result[name] = None if value is None else to_json(value)
        return result

    return dump


class TaskPageSchema(Schema):
    """One page of `GET /tasks`."""

    items = fields.List(fields.Nested(TaskSchema))
    total = fields.Integer(
        metadata={"description": "Matching tasks on all pages, counted up to 1000 (see `total_capped`)"}
    )
    total_capped = fields.Boolean(
        metadata={"description": "True when more than 1000 tasks match: `total` then says 1000 (show \"1000+\")"}
    )
    next_cursor = fields.String(
        allow_none=True, metadata={"description": "Pass as `cursor` for the next page; null on the last page"}
    )


dump_task = flat_dumper(TaskSchema)  # a TaskSchema dump, for the queue's pages


class CaseDecisionSchema(Schema):
    """A decision a business-rule task took in a case."""

    ruleset = fields.String()
    decision = fields.Dict()
    fired = fields.List(fields.String(), metadata={"description": "Ids of the rules that fired"})
    parameters = fields.Dict(metadata={"description": "Effective-dated parameter values used"})
    at = fields.DateTime()
    task = fields.String(allow_none=True, metadata={"description": "BPMN id of the business-rule task"})
    on = fields.String(allow_none=True, metadata={"format": "date", "description": "Date whose law applied"})
    law_date_from = fields.String(allow_none=True, metadata={
        "description": "Where that date came from: field:<name> (the task's onField), fact:<name> (the rule "
                       "set's law_date_fact) or today"})
    facts = fields.Dict(metadata={"description": "The facts given to the rule set"})
    derived = fields.Dict(metadata={"description": "Derived facts and register lookups, as the rules saw them"})
    ruleset_version = fields.String(allow_none=True, metadata={
        "description": "SHA-256 of the rule set in the case's process bundle"})
    parameters_version = fields.String(allow_none=True, metadata={
        "description": "SHA-256 of the parameters in the case's process bundle"})


class HistoryEntrySchema(Schema):
    """One event of a case's audit trail."""

    at = fields.DateTime()
    actor = fields.String(allow_none=True)
    kind = fields.String()
    detail = fields.Dict()


class HistoryPageSchema(Schema):
    """One page of `GET /cases/{case_id}/history`."""

    items = fields.List(fields.Nested(HistoryEntrySchema), metadata={"description": "Oldest first"})
    next_cursor = fields.String(
        allow_none=True, metadata={"description": "Pass as `before` for the older events; null on the oldest page"}
    )


class IncidentSchema(Schema):
    """Something the engine could not do by itself, e.g. a timer that kept failing."""

    kind = fields.String()
    message = fields.String()
    at = fields.DateTime()
    resolved_at = fields.DateTime(allow_none=True)


class ProcessCaseListQuery(StrictSchema):
    """Query parameters of `GET /processes/{key}/cases`."""

    unit = fields.String(validate=validate.Length(min=1, max=100),
                         metadata={"description": "Only the cases of this unit"})
    where = fields.String(
        validate=validate.Regexp(r"^[A-Za-z_][A-Za-z0-9_]{0,99}:[^,]{0,200}(,[A-Za-z_][A-Za-z0-9_]{0,99}:[^,]{0,200})*$",
                                 error="Not field:value[,field:value]."),
        metadata={"description": "Keep the cases whose listed field (or `status`) has the value, e.g. "
                                 "`approval_status:active`; several separated by commas"},
    )
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=500))


class ProcessCaseRowSchema(Schema):
    """A case in a list of a process's cases."""

    id = fields.String()
    process = fields.String()
    unit = fields.String()
    status = fields.String(validate=validate.OneOf([status.value for status in CaseStatus]))
    started_by = fields.String(allow_none=True)
    created_at = fields.DateTime()
    columns = fields.Dict(metadata={"description": "The case data fields the process lists (its `listColumns`)"})


class ProcessCaseListSchema(Schema):
    """The cases of a process the caller may read, newest first."""

    process = fields.String()
    columns = fields.List(fields.String(), metadata={"description": "The process's `listColumns`"})
    rows = fields.List(fields.Nested(ProcessCaseRowSchema))


class CaseSchema(Schema):
    """A case with its open tasks, decisions and history."""

    id = fields.String()
    process = fields.String()
    version = fields.Integer(metadata={"description": "Version of the process the case runs on"})
    unit = fields.String()
    status = fields.String(validate=validate.OneOf([status.value for status in CaseStatus]))
    data = fields.Dict()
    decisions = fields.List(fields.Nested(CaseDecisionSchema))
    tasks = fields.List(fields.Nested(TaskSchema), metadata={"description": "The open tasks"})
    history = fields.List(
        fields.Nested(HistoryEntrySchema),
        metadata={"description": f"The newest {processes.RECENT_HISTORY} events of the case, oldest first; "
                                 "the whole history when `history_next_cursor` is null"},
    )
    history_next_cursor = fields.String(
        allow_none=True,
        metadata={"description": "Null when `history` holds every event; otherwise pass it as `before` to "
                                 "`GET /cases/{case_id}/history` for the older events"},
    )
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    started_by = fields.String(allow_none=True)
    revision = fields.Integer(metadata={"description": "Changes with every change of the case"})
    title = fields.String(metadata={"description": "The process's caseTitle over the case data"})
    summary = fields.String(metadata={"description": "The process's caseSummary over the case data"})
    badge = fields.String(metadata={"description": "The current decision (the process's caseBadge)"})
    incidents = fields.List(
        fields.Nested(IncidentSchema), metadata={"description": "Problems the engine could not solve"}
    )


class ProcessSchema(Schema):
    """A deployed process (its newest version unless stated)."""

    key = fields.String()
    name = fields.String()
    version = fields.Integer()
    deployed_at = fields.DateTime()
    deployed_by = fields.String(allow_none=True)
    start_form = fields.String(allow_none=True)
    versions = fields.List(fields.Integer())


class ProcessDetailSchema(Schema):
    """A process with what a client needs to start a case: `POST /cases` with `process` = `key`, a `unit` of
    `units`, and `data` valid for `start_form.schema` (laid out by `start_form.ui`)."""

    key = fields.String()
    name = fields.String()
    version = fields.Integer()
    deployed_at = fields.DateTime()
    documentation = fields.String()
    start_form = fields.Nested(FormSchema, allow_none=True,
                               metadata={"description": "The start form: JSON Schema and UI hints"})
    units = fields.List(fields.String(), metadata={"description": "The units you may start a case in"})
    may_start = fields.Boolean(metadata={"description": "Whether you may start it by hand"})


class CaseSummarySchema(Schema):
    """A case as lists show it."""

    id = fields.String()
    process = fields.String()
    process_name = fields.String()
    unit = fields.String()
    status = fields.String(validate=validate.OneOf([status.value for status in CaseStatus]))
    title = fields.String()
    summary = fields.String()
    badge = fields.String(metadata={"description": "The current decision (the process's caseBadge)"})
    started_by = fields.String(allow_none=True)
    subject = fields.String(allow_none=True, metadata={"description": "The user the case is about, if any"})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    completed_at = fields.DateTime(allow_none=True)


class CasePageSchema(Schema):
    """A page of cases, newest first."""

    items = fields.List(fields.Nested(CaseSummarySchema))
    total = fields.Integer(metadata={"description": "Cases matching, exact up to 1000"})
    total_capped = fields.Boolean(metadata={"description": "`true`: more than 1000 match"})


class DecisionResultSchema(Schema):
    """The result of `POST /decisions/{ruleset}`."""

    ruleset = fields.String()
    decision = fields.Dict(metadata={"description": "For lone_work: group, label, route, ..."})
    fired = fields.List(fields.String())
    parameters = fields.Dict()
    on = fields.String(metadata={"format": "date", "description": "Date whose parameter values were used"})


class TokenSchema(Schema):
    """A new bearer token: the only time its value is shown."""

    token = fields.String()
    id = fields.Integer(metadata={"description": "Revoke it with DELETE /auth/tokens/{id}"})
    expires_at = fields.DateTime()


class TokenInfoSchema(Schema):
    """An API token as its owner sees it (never its value)."""

    id = fields.Integer()
    username = fields.String()
    created_at = fields.DateTime()
    expires_at = fields.DateTime()


class TokenListSchema(Schema):
    """The unexpired API tokens of a user."""

    items = fields.List(fields.Nested(TokenInfoSchema))


class ErrorBodySchema(Schema):
    """What went wrong."""

    code = fields.String(metadata={"description": "Stable machine-readable code"})
    message = fields.String()
    fields_ = fields.Dict(
        data_key="fields",
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": "Bad field path (`a.b`) → message"},
    )
    problems = fields.List(fields.Dict(), metadata={
        "description": "A refused model import: every problem, each with its `file`, `element` and `message`"})
    missing_groups = fields.List(fields.String(), metadata={
        "description": "A refused model import: the groups its lanes name that do not exist"})


class ErrorSchema(Schema):
    """The error envelope of every failed request."""

    error = fields.Nested(ErrorBodySchema)


class CreateLinkRequest(StrictSchema):
    """Body of `POST /cases/{case_id}/links`."""

    name = fields.String(load_default="", validate=[validate.Length(max=200), _NO_NUL])
    email = fields.String(load_default="", validate=[validate.Length(max=320), _NO_NUL])
    tasks = fields.List(fields.String(validate=[validate.Length(min=1, max=200), _NO_NUL]), required=True,
                        validate=validate.Length(min=1, max=50),
                        metadata={"description": "BPMN ids of open user tasks of the case that you may work"})
    ttl_days = fields.Integer(load_default=14, validate=validate.Range(min=1, max=180))
    language = fields.String(load_default="da", validate=validate.OneOf(["da", "en"]))


class RenewLinkRequest(StrictSchema):
    """Body of `POST /links/{link_id}/renew`."""

    ttl_days = fields.Integer(load_default=14, validate=validate.Range(min=1, max=180))


class LinkSchema(Schema):
    """A signed link for a person without an account; `token` and `url` only when issued or renewed."""

    id = fields.Integer()
    case_id = fields.String()
    tasks = fields.List(fields.String())
    name = fields.String()
    email = fields.String()
    created_by = fields.String()
    created_at = fields.DateTime()
    expires_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)
    token = fields.String(allow_none=True)
    url = fields.String(allow_none=True)


class LinkListSchema(Schema):
    items = fields.List(fields.Nested(LinkSchema))


class CreateStartLinkRequest(StrictSchema):
    """Body of `POST /processes/{key}/start-links`."""

    unit = fields.String(required=True, validate=[validate.Length(min=1, max=64), _NO_NUL])
    name = fields.String(load_default="", validate=[validate.Length(max=200), _NO_NUL])
    email = fields.String(load_default="", validate=[validate.Length(max=320), _NO_NUL])
    ttl_days = fields.Integer(load_default=14, validate=validate.Range(min=1, max=180))
    language = fields.String(load_default="da", validate=validate.OneOf(["da", "en"]))


class StartLinkSchema(Schema):
    """A signed link that starts one case for a person without an account; `token` and `url` only when issued."""

    id = fields.Integer()
    process = fields.String()
    unit = fields.String()
    name = fields.String()
    email = fields.String()
    created_by = fields.String()
    created_at = fields.DateTime()
    expires_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)
    case_id = fields.String(allow_none=True, metadata={"description": "The case it started, once used"})
    token = fields.String(allow_none=True)
    url = fields.String(allow_none=True)


class StartLinkListSchema(Schema):
    items = fields.List(fields.Nested(StartLinkSchema))


class StartLinkQuery(StrictSchema):
    """Query of `GET /processes/{key}/start-links`."""

    unit = fields.String(required=True, validate=[validate.Length(min=1, max=64), _NO_NUL])


class UnitStatisticsSchema(Schema):
    """One unit's counts: no names, no free text."""

    unit = fields.String(metadata={"description": "The unit's code"})
    cases = fields.Integer(metadata={"description": "The process's cases in the unit"})
    by_status = fields.Dict(keys=fields.String(), values=fields.Integer(),
                            metadata={"description": "Cases by status (running, completed, ...)"})
    by = fields.Dict(keys=fields.String(), values=fields.Dict(keys=fields.String(), values=fields.Integer()),
                     metadata={"description": "Per declared data path (`event_type`, `classification.track`): "
                                              "cases by value; `-` when unset, `other` for a long or multi-line text"})
    tasks = fields.Dict(keys=fields.String(), values=fields.Dict(keys=fields.String(), values=fields.Integer()),
                        metadata={"description": "Per declared task: `on_time`, `late` (completed after its due "
                                                 "time) and `open_overdue`"})


class StatisticsSchema(Schema):
    """A process's statistics per unit, as on the statistics page and in its CSV download."""

    process = fields.String()
    dimensions = fields.List(fields.String(), metadata={"description": "The case data paths counted"})
    task_names = fields.List(fields.String(), metadata={"description": "The tasks whose timeliness is counted"})
    units = fields.List(fields.Nested(UnitStatisticsSchema))


# --- a fan-out's status board and a case's exported tables (issue #16) ---------------------------------

BOARD_STATES = ("answered", "answered_late", "late", "open")
TABLE_FORMATS = ("json", "csv", "xlsx")


class BoardRowSchema(Schema):
    """One unit of the fan-out."""

    unit = fields.String()
    state = fields.String(validate=validate.OneOf(BOARD_STATES), metadata={
        "description": "`answered` (on time), `answered_late`, `late` (open past its due date, or escalated) or "
                       "`open`"})
    task = fields.String(metadata={"description": "The BPMN id of the unit's newest board task"})
    due_at = fields.DateTime(allow_none=True, metadata={"description": "The due date of the unit's first task"})
    completed_at = fields.DateTime(allow_none=True)
    completed_by = fields.String(allow_none=True)


class BoardSchema(Schema):
    """A case's status board (process property `statusBoard`): counts per state and one row per unit."""

    case_id = fields.String()
    process = fields.String()
    at = fields.DateTime(metadata={"description": "The moment the board was read (late is relative to it)"})
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(),
                         metadata={"description": "Units per state: " + ", ".join(BOARD_STATES)})
    rows = fields.List(fields.Nested(BoardRowSchema))


class TableQuery(StrictSchema):
    """Query parameters of `GET /cases/{case_id}/tables/{name}`."""

    format = fields.String(load_default="json", validate=validate.OneOf(TABLE_FORMATS), metadata={
        "description": "`json` (the default), `csv` (text/csv) or `xlsx` (an Excel workbook, one sheet); "
                       "`csv` and `xlsx` are sent as a download"})


class TableSchema(Schema):
    """A table the case data holds (process property `exports`): column names and rows of plain values."""

    case_id = fields.String()
    name = fields.String()
    columns = fields.List(fields.String())
    rows = fields.List(fields.List(fields.Raw(allow_none=True)),
                       metadata={"description": "One list of cells per record, in the order of `columns`"})


# --- issue #17: in-app notifications; comments, attachments and assigning through the API -----------------


class NoticeQuery(StrictSchema):
    """Query parameters of `GET /me/notifications`."""

    before = fields.Integer(validate=validate.Range(min=1), metadata={
        "description": "The previous page's `next_cursor`: the notifications older than it"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=100))


class NoticeSchema(Schema):
    """Something new for me: a task for my group (in my units), a task given to me, a comment on my case."""

    id = fields.Integer()
    kind = fields.String(validate=validate.OneOf(processes.NOTICE_KINDS))
    case_id = fields.String()
    task_id = fields.String(allow_none=True)
    case_title = fields.String(allow_none=True, metadata={
        "description": "The case's title; null for a restricted case, whose notifications show only their kind"})
    case_title_en = fields.String(allow_none=True)
    task_title = fields.String(allow_none=True, metadata={"description": "null for a restricted case"})
    task_title_en = fields.String(allow_none=True)
    restricted = fields.Boolean()
    actor = fields.String(allow_none=True, metadata={"description": "Who assigned the task or wrote the comment"})
    created_at = fields.DateTime()
    read = fields.Boolean(metadata={"description": "Whether I had opened it"})


class NoticePageSchema(Schema):
    """A page of my notifications, newest first; reading it does not mark them read."""

    items = fields.List(fields.Nested(NoticeSchema))
    unread = fields.Integer(metadata={"description": "How many I have not opened (at most 100)"})
    next_cursor = fields.Integer(allow_none=True, metadata={"description": "`before` for the next (older) page"})


class StrictBoolean(fields.Boolean):
    """`true` or `false` only: marshmallow's Boolean also takes 1, "yes", "on", ..., which JSON's boolean is not."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


# Per kind of notification true or false, and no other key: an unknown kind is refused by the document itself.
NoticeEmailSchema: type[Schema] = StrictSchema.from_dict(
    {kind: StrictBoolean(metadata={"description": f"E-mail me for `{kind}`"}) for kind in processes.NOTICE_KINDS},
    name="NoticeEmailSchema",
)


class NoticeSettingsSchema(StrictSchema):
    """Per kind of notification, whether I also get an e-mail (`PUT`: the kinds named change, others stay)."""

    email = fields.Nested(NoticeEmailSchema, required=True, metadata={
        "description": "Kind (" + ", ".join(processes.NOTICE_KINDS) + ") -> true or false"})


class CommentRequest(StrictSchema):
    """Body of `POST /cases/{case_id}/comments`."""

    body = fields.String(required=True, validate=[validate.Length(min=1, max=processes.MAX_COMMENT_LENGTH), _NO_NUL])


class CommentSchema(Schema):
    """A comment on a case."""

    id = fields.Integer()
    case_id = fields.String()
    author = fields.String()
    body = fields.String()
    at = fields.DateTime()


class AttachmentSchema(Schema):
    """A file attached to a case (`GET .../attachments/{attachment_id}` downloads it)."""

    id = fields.Integer()
    case_id = fields.String()
    task_id = fields.String(allow_none=True)
    filename = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    uploaded_by = fields.String()
    at = fields.DateTime()


class AssignRequest(StrictSchema):
    """Body of `POST /tasks/{task_id}/assign`."""

    assignee = fields.String(required=True, validate=[_USERNAME, _NO_NUL], metadata={
        "description": "The username of a colleague who may work the task"})
