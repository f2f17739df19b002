"""Reading requests at the edge: JSON bodies, query strings and BPMN uploads, checked for syntax only.

What arrives here may be anything a client can send. Before a schema sees it, a JSON body is bounded in
size (`MAX_JSON_LENGTH`, never above `MAX_CONTENT_LENGTH`) and depth (`MAX_JSON_DEPTH`), holds only finite
numbers, and no key or value in it carries a lone surrogate (`"\ud800"`), which is not Unicode text and
which no UTF-8 encoder takes. The schemas refuse a NUL in named text fields. Each refusal is a 4xx naming
the field; nothing is changed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from pathlib import PurePath
from typing import Any

from flask import current_app, request
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import RequestEntityTooLarge

from service.errors import BodyTooLarge, InvalidBody, InvalidQuery, MalformedJSON, flatten_messages
from service.schemas import MAX_JSON_DEPTH, DeployQuery, escape_unsafe_text, lone_surrogate_message

DEFAULT_UPLOAD_NAME = "upload.bpmn"


def json_body(schema: Schema) -> dict[str, Any]:
    """The body as a JSON object loaded through `schema` (an empty body counts as `{}`; white space alone is not
    JSON, so it is refused like any other text that is not)."""
    raw = _limited_body()
    try:
        payload = json.loads(raw, parse_constant=_no_constant, parse_float=_finite_float) if raw else {}
    except RecursionError:
        raise InvalidBody(
            "The request body is nested too deeply.",
            fields={"_body": f"nested deeper than {MAX_JSON_DEPTH} levels"},
        ) from None
    except ValueError as error:
        raise MalformedJSON(f"The request body is not valid JSON: {error}", fields={"_body": "not JSON"}) from error
    if not isinstance(payload, dict):
        raise InvalidBody(
            "The request body must be a JSON object.",
            fields={"_body": f"expected an object, got {type(payload).__name__}"},
        )
    _check_tree(payload)
    return schema.load(payload)


def _limited_body() -> bytes:
    """The raw body, refused with a 413 naming `_body` past the JSON size limit."""
    limit = current_app.config["MAX_JSON_LENGTH"]
    if current_app.config.get("MAX_CONTENT_LENGTH"):
        limit = min(limit, current_app.config["MAX_CONTENT_LENGTH"])
    too_large = BodyTooLarge(
        f"The request body is larger than {limit} bytes.", fields={"_body": f"at most {limit} bytes"}
    )
    # One byte more than allowed: a body without Content-Length (chunked) is cut at the limit by Werkzeug
    # without an error, so reading one byte past it is how such a body shows that it is too large.
    request.max_content_length = limit + 1
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise too_large from None
    if len(raw) > limit:
        raise too_large
    return raw


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text[:40]} is too large for a number")
    return number


def _check_tree(payload: dict[str, Any]) -> None:
    """Refuse a body nested deeper than MAX_JSON_DEPTH, or with a lone surrogate in a key or value."""
    for path, depth, value in _walk(payload):
        if depth > MAX_JSON_DEPTH:
            raise InvalidBody(
                "The request body is nested too deeply.",
                fields={path.split(".", 1)[0]: f"nested deeper than {MAX_JSON_DEPTH} levels"},
            )
        if isinstance(value, str) and (message := lone_surrogate_message(value)):
            raise ValidationError({path or "_body": [message]})


def _walk(root: Any) -> Iterator[tuple[str, int, Any]]:
    """Every key and value under `root` as (dotted path, depth, value), without recursion."""
    stack: list[tuple[str, int, Any]] = [("", 0, root)]
    while stack:
        path, depth, value = stack.pop()
        yield path, depth, value
        if isinstance(value, Mapping):
            for key, item in value.items():
                name = escape_unsafe_text(key)  # a bad key is named with its bad characters as \uXXXX
                child = f"{path}.{name}" if path else name
                yield child, depth + 1, key
                stack.append((child, depth + 1, item))
        elif isinstance(value, list):
            stack.extend((f"{path}.{index}" if path else str(index), depth + 1, item)
                         for index, item in enumerate(value))


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
