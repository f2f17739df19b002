"""Reading requests at the edge: JSON bodies, query strings and BPMN uploads, checked for syntax only."""

from __future__ import annotations

import json
from pathlib import PurePath
from typing import Any

from flask import request
from marshmallow import Schema, ValidationError

from service.errors import InvalidBody, InvalidQuery, MalformedJSON, flatten_messages
from service.schemas import DeployQuery

DEFAULT_UPLOAD_NAME = "upload.bpmn"


def json_body(schema: Schema) -> dict[str, Any]:
    """The body as a JSON object loaded through `schema` (an empty body counts as `{}`)."""
    raw = request.get_data(cache=True)
    try:
        payload = json.loads(raw) if raw.strip() else {}
    except ValueError as error:
        raise MalformedJSON(f"The request body is not valid JSON: {error}") from error
    if not isinstance(payload, dict):
        raise InvalidBody(
            "The request body must be a JSON object.",
            fields={"_body": f"expected an object, got {type(payload).__name__}"},
        )
    return schema.load(payload)


def query_args(schema: Schema) -> dict[str, Any]:
    """The query string loaded through `schema`; a bad parameter is a 400 naming it."""
    try:
        return schema.load(request.args.to_dict(flat=True))
    except ValidationError as error:
        raise InvalidQuery("Invalid query parameters.", fields=flatten_messages(error.messages)) from error


def uploaded_bpmn() -> tuple[bytes, str]:
    """The BPMN XML and its file name: multipart field `file`, or the raw body with `?filename=`."""
    upload = request.files.get("file")
    if upload is not None:
        return upload.read(), PurePath(upload.filename or DEFAULT_UPLOAD_NAME).name
    if request.mimetype.startswith("multipart/"):
        raise InvalidBody("No BPMN file.", fields={"file": "Missing multipart field 'file'."})
    filename = query_args(DeployQuery()).get("filename", DEFAULT_UPLOAD_NAME)
    xml = request.get_data(cache=True)
    if not xml.strip():
        raise InvalidBody(
            "No BPMN file.",
            fields={"file": "Send the multipart field 'file' or the XML as the request body."},
        )
    return xml, PurePath(filename).name
