"""Cases: start one, read one, page through its history."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request, url_for

import processes
from service import metrics
from service.api.dumping import tree_dumper
from service.api.parsing import json_body, query_args
from service.auth import current_user
from service.errors import InvalidBody
from service.extensions import get_database
from service.schemas import (
    AttachmentSchema,
    CaseListQuery,
    CasePageSchema,
    CaseSchema,
    CommentRequest,
    CommentSchema,
    HistoryPageSchema,
    HistoryQuery,
    MessageRequest,
    MessageSchema,
    StartCaseRequest,
    escape_unsafe_text,
)

bp = Blueprint("cases", __name__, url_prefix="/cases")

# built once: a schema's construction (deep copies of its fields) costs more than a dump
_CASE_SCHEMA = CaseSchema()
_dump_case = tree_dumper(CaseSchema)  # what _CASE_SCHEMA.dump gives, without marshmallow's cost per field
_START_CASE_REQUEST = StartCaseRequest()  # loading keeps no state in the schema


@bp.post("")
def start_case() -> Any:
    """Start a case of a process in a unit with the start form's data."""
    body = json_body(_START_CASE_REQUEST)
    case = processes.start_case(
        get_database(), process=body["process"], unit=body["unit"], data=body["data"], actor=current_user(),
        related_case=body["related_case"],
    )
    metrics.count_steps("start")
    return _dump_case(case), 201, {"Location": url_for(".get_case", case_id=case.id)}


@bp.get("")
def list_cases() -> Any:
    """List the cases you may read: yours, your units' or all, filtered and searched, newest first."""
    query = query_args(CaseListQuery())
    page = processes.list_cases(get_database(), actor=current_user(), filters=processes.CaseFilter(**query))
    return CasePageSchema().dump({"items": page.cases, "total": page.total, "total_capped": page.total_capped})


@bp.get("/<case_id>")
def get_case(case_id: str) -> Any:
    """Show a case with its data, decisions, open tasks and history."""
    return _dump_case(processes.get_case(get_database(), case_id, actor=current_user()))


@bp.get("/<case_id>/history")
def case_history(case_id: str) -> Any:
    """Page through a case's history, newest page first; each page's events oldest first."""
    query = query_args(HistoryQuery())
    page = processes.case_history(get_database(), case_id, actor=current_user(), before=query.get("before"),
                                  limit=query["limit"])
    return HistoryPageSchema().dump({"items": page.entries, "next_cursor": page.next_cursor})


@bp.get("/<case_id>/messages")
def list_messages(case_id: str) -> Any:
    """The BPMN messages the case can take now, each with the name of its form."""
    return MessageSchema(many=True).dump(processes.case_messages(get_database(), case_id, actor=current_user()))


@bp.post("/<case_id>/messages/<name>")
def send_message(case_id: str, name: str) -> Any:
    """Deliver a BPMN message with its payload to the case, which runs on until it waits (409 if nothing waits)."""
    body = json_body(MessageRequest())
    case = processes.send_message(get_database(), case_id, name, data=body["data"], actor=current_user())
    metrics.count_steps("message")
    return _CASE_SCHEMA.dump(case)


@bp.get("/<case_id>/comments")
def list_comments(case_id: str) -> Any:
    """The comments on a case I may read, oldest first."""
    return CommentSchema(many=True).dump(processes.list_comments(get_database(), case_id, actor=current_user()))


@bp.post("/<case_id>/comments")
def add_comment(case_id: str) -> Any:
    """Comment on a case I may read (its starter and task holders are notified)."""
    body = json_body(CommentRequest())
    comment = processes.add_comment(get_database(), case_id, body=body["body"], actor=current_user())
    return CommentSchema().dump(comment), 201


@bp.get("/<case_id>/attachments")
def list_attachments(case_id: str) -> Any:
    """The files attached to a case I may read."""
    return AttachmentSchema(many=True).dump(
        processes.list_attachments(get_database(), case_id, actor=current_user()))


@bp.post("/<case_id>/attachments")
def add_attachment(case_id: str) -> Any:
    """Attach a file (multipart field `file`) to a case I may read."""
    others = (set(request.files) | set(request.form)) - {"file"}  # a part without a name has the name None
    if others:  # a misspelt field is an error, as an unknown key of a JSON body is
        raise InvalidBody("Unknown multipart field.", fields=dict.fromkeys(
            sorted(escape_unsafe_text(name) if name else "_body" for name in others),
            "Unknown field: send only 'file'."))
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise InvalidBody("No file.", fields={"file": "Send the file as the multipart field 'file'."})
    found = processes.add_attachment(get_database(), case_id, filename=upload.filename,
                                     content_type=upload.mimetype or "", content=upload.read(),
                                     actor=current_user())
    location = url_for(".get_attachment", case_id=case_id, attachment_id=found.id)
    return AttachmentSchema().dump(found), 201, {"Location": location}


@bp.get("/<case_id>/attachments/<int:attachment_id>")
def get_attachment(case_id: str, attachment_id: int) -> Any:
    """Download an attachment of a case I may read (always as a download, never shown inline)."""
    found, content = processes.get_attachment(get_database(), attachment_id, actor=current_user())
    if found.case_id != case_id:
        raise processes.errors.NotFound(f"no attachment {attachment_id} on case {case_id!r}")
    response = Response(content, mimetype=found.content_type)
    response.headers.set("Content-Disposition", "attachment", filename=found.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
