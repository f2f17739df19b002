"""The OpenAPI 3 document, built with apispec from the app's own URL map and marshmallow schemas.

Paths and path parameters come from the registered routes and summaries from the views' docstrings, so
the document cannot drift from the code; `OPERATIONS` adds what a route cannot say about itself (its
schemas and error statuses). A route with no entry there fails the build, and a test builds it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask
from marshmallow import Schema

from service import modeler_schemas, schemas
from service.auth import is_public
from service.exports import CSV_MIMETYPE, XLSX_MIMETYPE

OPENAPI_VERSION = "3.0.3"
API_VERSION = "1"
SECURITY_SCHEME = "bearerAuth"
_CACHE_KEY = "amflow.openapi"
_HIDDEN_METHODS = {"HEAD", "OPTIONS"}


@dataclass(frozen=True)
class Operation:
    """What the OpenAPI document says about one endpoint beyond its route."""

    tag: str
    response: Schema | None
    status: int = 200
    body: type[Schema] | None = None
    query: type[Schema] | None = None
    errors: tuple[int, ...] = (401,)
    request_content: dict[str, Any] | None = None
    unprocessable: str | None = None  # what a 422 means beyond the document's own rules, if it can happen
    downloads: tuple[str, ...] = ()  # other media types of the success response (a file download)


_BPMN_UPLOAD = {
    "multipart/form-data": {
        "schema": {
            "type": "object",
            "properties": {"file": {"type": "string", "format": "binary", "description": "A .bpmn file"}},
            "required": ["file"],
        }
    },
    "application/xml": {"schema": {"type": "string", "description": "The BPMN XML; name it with ?filename="}},
}

_FILE_UPLOAD = {
    "multipart/form-data": {
        "schema": {
            "type": "object",
            "properties": {"file": {"type": "string", "format": "binary",
                                    "description": "The file (not empty, at most 10 MB)"}},
            "required": ["file"],
            "additionalProperties": False,
        }
    },
}

OPERATIONS: dict[str, Operation] = {
    "api.account.create_token": Operation(
        "auth", schemas.TokenSchema(), 201, body=schemas.TokenRequest, errors=(400, 401, 413, 422, 429)
    ),
    "api.account.logout": Operation("auth", None, 204),
    "api.account.list_tokens": Operation(
        "auth", schemas.TokenListSchema(), query=schemas.TokenQuery, errors=(400, 401, 403, 404)
    ),
    "api.account.revoke_token": Operation("auth", None, 204, errors=(401, 404)),
    "api.account.me": Operation("auth", schemas.UserSchema()),
    "api.cases.start_case": Operation(
        "cases",
        schemas.CaseSchema(),
        201,
        body=schemas.StartCaseRequest,
        errors=(400, 401, 403, 404, 409, 413, 422, 500),
        unprocessable="The data does not fit the process's start form, or the unit is unknown.",
    ),
    "api.cases.list_cases": Operation(
        "cases", schemas.CasePageSchema(), query=schemas.CaseListQuery, errors=(400, 401, 422),
        unprocessable="`created_from` is after `created_to`.",
    ),
    "api.cases.get_case": Operation("cases", schemas.CaseSchema(), errors=(401, 403, 404)),
    "api.processes.list_process_cases": Operation(
        "cases", schemas.ProcessCaseListSchema(), query=schemas.ProcessCaseListQuery, errors=(400, 401, 403, 404, 422),
        unprocessable="A filter names a field the process does not list.",
    ),
    "api.cases.case_history": Operation(
        "cases", schemas.HistoryPageSchema(), query=schemas.HistoryQuery, errors=(400, 401, 403, 404)
    ),
    "api.cases.list_messages": Operation("cases", schemas.MessageSchema(many=True), errors=(401, 403, 404)),
    "api.cases.send_message": Operation(
        "cases",
        schemas.CaseSchema(),
        body=schemas.MessageRequest,
        errors=(400, 401, 403, 404, 409, 413, 422, 500),
        unprocessable="The data does not fit the form of the event that waits for the message.",
    ),
    "api.links.create_link": Operation(
        "links", schemas.LinkSchema(), 201, body=schemas.CreateLinkRequest, errors=(400, 401, 403, 404, 413, 422),
        unprocessable="A task named is not an open task of the case that you may work, or the link names "
                      "neither a person nor an e-mail address.",
    ),
    "api.links.list_links": Operation("links", schemas.LinkListSchema(), errors=(401, 403, 404)),
    "api.links.renew_link": Operation(
        "links", schemas.LinkSchema(), body=schemas.RenewLinkRequest, errors=(400, 401, 403, 404, 413, 422)
    ),
    "api.links.revoke_link": Operation("links", schemas.LinkSchema(), errors=(401, 403, 404)),
    "api.links.create_start_link": Operation(
        "links", schemas.StartLinkSchema(), 201, body=schemas.CreateStartLinkRequest,
        errors=(400, 401, 403, 404, 413, 422),
        unprocessable="The process does not allow start links, the unit is unknown, or the link names neither a "
                      "person nor an e-mail address.",
    ),
    "api.links.list_start_links": Operation("links", schemas.StartLinkListSchema(), query=schemas.StartLinkQuery,
                                            errors=(400, 401, 403, 404, 422)),
    "api.links.revoke_start_link": Operation("links", schemas.StartLinkSchema(), errors=(401, 403, 404)),
    "api.tasks.list_tasks": Operation(
        "tasks", schemas.TaskPageSchema(), query=schemas.TaskQuery, errors=(400, 401, 422),
        unprocessable="The cursor is not a `next_cursor` this API gave out, or comes with an offset.",
    ),
    "api.tasks.get_task": Operation("tasks", schemas.TaskDetailSchema(), errors=(401, 403, 404)),
    "api.tasks.claim_task": Operation("tasks", schemas.TaskSchema(), errors=(401, 403, 404, 409)),
    "api.tasks.unclaim_task": Operation("tasks", schemas.TaskSchema(), errors=(401, 403, 404, 409)),
    "api.tasks.complete_task": Operation(
        "tasks",
        schemas.CaseSchema(),
        body=schemas.CompleteTaskRequest,
        errors=(400, 401, 403, 404, 409, 413, 422, 500),
        unprocessable="The data does not fit the task's form (its JSON Schema, in GET /tasks/{task_id}).",
    ),
    "api.processes.list_processes": Operation("processes", schemas.ProcessSchema(many=True)),
    "api.processes.get_process": Operation("processes", schemas.ProcessDetailSchema(), errors=(401, 404)),
    "api.processes.deploy_process": Operation(
        "processes",
        schemas.ProcessSchema(),
        201,
        query=schemas.DeployQuery,
        errors=(400, 401, 403, 413, 422),
        request_content=_BPMN_UPLOAD,
        unprocessable="The file is not a BPMN model the engine can run.",
    ),
    "api.decisions.run_decision": Operation(
        "decisions",
        schemas.DecisionResultSchema(),
        body=schemas.DecisionRequest,
        errors=(400, 401, 404, 413, 422),
        unprocessable="The facts are not the ones the rule set takes, or no parameters apply on that date.",
    ),
    "api.statistics.process_statistics": Operation(
        "statistics", schemas.StatisticsSchema(), query=schemas.StatisticsQuery, errors=(400, 401, 403, 404, 422),
        unprocessable="The process declares no statistics.",
    ),
    "api.boards.case_board": Operation("cases", schemas.BoardSchema(), errors=(401, 403, 404)),
    "api.boards.case_table": Operation(
        "cases", schemas.TableSchema(), query=schemas.TableQuery, errors=(400, 401, 403, 404),
        downloads=(CSV_MIMETYPE, XLSX_MIMETYPE),
    ),
    "api.meta.openapi": Operation("meta", None, errors=()),
    # issue #17: comments, attachments and assigning through the API; my in-app notifications
    "api.cases.list_comments": Operation("cases", schemas.CommentSchema(many=True), errors=(401, 403, 404)),
    "api.cases.add_comment": Operation(
        "cases", schemas.CommentSchema(), 201, body=schemas.CommentRequest, errors=(400, 401, 403, 404, 413, 422),
    ),
    "api.cases.list_attachments": Operation("cases", schemas.AttachmentSchema(many=True), errors=(401, 403, 404)),
    "api.cases.add_attachment": Operation(
        "cases", schemas.AttachmentSchema(), 201, errors=(400, 401, 403, 404, 413, 422),
        request_content=_FILE_UPLOAD, unprocessable="The file is empty or larger than 10 MB.",
    ),
    "api.cases.get_attachment": Operation(  # sent with the media type it was uploaded with, as a download
        "cases", None, errors=(401, 403, 404), downloads=("*/*",),
    ),
    "api.tasks.assign_task": Operation(
        "tasks", schemas.TaskSchema(), body=schemas.AssignRequest, errors=(400, 401, 403, 404, 409, 413, 422),
        unprocessable="The assignee is no active user, or may not work the task.",
    ),
    "api.notices.list_notices": Operation(
        "notifications", schemas.NoticePageSchema(), query=schemas.NoticeQuery, errors=(400, 401),
    ),
    "api.notices.read_notice": Operation("notifications", schemas.NoticeSchema(), errors=(401, 404)),
    "api.notices.get_settings": Operation("notifications", schemas.NoticeSettingsSchema()),
    "api.notices.put_settings": Operation(
        "notifications", schemas.NoticeSettingsSchema(), body=schemas.NoticeSettingsSchema,
        errors=(400, 401, 413, 422),
    ),
}


def openapi_document(app: Flask) -> dict[str, Any]:
    """The app's OpenAPI document as a dict, built once per app."""
    if _CACHE_KEY not in app.extensions:
        app.extensions[_CACHE_KEY] = build_spec(app).to_dict()
    return app.extensions[_CACHE_KEY]


def build_spec(app: Flask) -> APISpec:
    """Describe every `/api/v1` route of `app`."""
    spec = APISpec(
        title="amflow",
        version=API_VERSION,
        openapi_version=OPENAPI_VERSION,
        plugins=[MarshmallowPlugin()],
        info={"description": "BPMN case handling for DTU occupational health and safety (arbejdsmiljø)."},
        security=[{SECURITY_SCHEME: []}],
    )
    spec.components.security_scheme(SECURITY_SCHEME, {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", schema=schemas.ErrorSchema)
    paths: dict[str, dict[str, Any]] = {}
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        if rule.endpoint not in OPERATIONS:
            raise LookupError(f"service.openapi.OPERATIONS has no entry for endpoint {rule.endpoint!r}")
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        view = app.view_functions[rule.endpoint]
        for method in sorted((rule.methods or set()) - _HIDDEN_METHODS):
            paths.setdefault(path, {})[method.lower()] = _operation(
                OPERATIONS[rule.endpoint], view, sorted(rule.arguments), rule.endpoint
            )
    for path, operations in sorted(paths.items()):
        spec.path(path=path, operations=operations)
    return spec


def _operation(operation: Operation, view: Any, path_arguments: list[str], endpoint: str) -> dict[str, Any]:
    doc = (view.__doc__ or "").strip().splitlines()
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}} for name in path_arguments
    ]
    if operation.query is not None:
        parameters.append({"in": "query", "schema": operation.query})
    result: dict[str, Any] = {
        "operationId": endpoint.rsplit(".", 1)[-1],
        "summary": doc[0] if doc else endpoint,
        "tags": [operation.tag],
        "parameters": parameters,
        "responses": {str(operation.status): _success(operation)},
    }
    for status in operation.errors:
        result["responses"][str(status)] = {
            "description": _error_description(operation, status),
            "content": {"application/json": {"schema": "Error"}},
        }
    if operation.body is not None:
        result["requestBody"] = {  # json_body reads an empty body as {}: it is optional when no field is required
            "required": any(field.required for field in operation.body().fields.values()),
            "content": {"application/json": {"schema": operation.body}},
        }
    elif operation.request_content is not None:
        result["requestBody"] = {"required": True, "content": operation.request_content}
    if is_public(view):
        result["security"] = []
    return result


def _error_description(operation: Operation, status: int) -> str:
    phrase = HTTPStatus(status).phrase
    if status == 400 and operation.body is not None:
        return (
            f"{phrase}: the body is not a JSON object, nests deeper than {schemas.MAX_JSON_DEPTH} levels, "
            "or holds a number too large for JSON"
        )
    if status == 413 and operation.body is not None:
        return f"{phrase}: the body is larger than AMFLOW_MAX_JSON_LENGTH (1 MiB unless configured)"
    if status == 422:
        syntax = "a field breaks the rules of this document, or a text holds a lone surrogate"
        return f"{phrase}: {syntax}." + (f" Or: {operation.unprocessable}" if operation.unprocessable else "")
    return phrase


def _success(operation: Operation) -> dict[str, Any]:
    if operation.status == HTTPStatus.NO_CONTENT:
        return {"description": HTTPStatus(operation.status).phrase}
    schema: Any = operation.response if operation.response is not None else {"type": "object"}
    content: dict[str, Any] = {} if operation.response is None and operation.downloads else {
        "application/json": {"schema": schema}}
    for media_type in operation.downloads:
        content[media_type] = {"schema": {"type": "string", "format": "binary"}}
    return {"description": HTTPStatus(operation.status).phrase, "content": content}

OPERATIONS.update(modeler_schemas.operations(Operation))  # issue #18: the modeler's endpoints
