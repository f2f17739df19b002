"""Errors of the web layer, and the ONE place where every error becomes an HTTP response.

Every API error has the stable shape `{"error": {"code", "message", "fields"?}}`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, Response, jsonify, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from processes import errors as domain

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"

# The domain error classes of `processes` and their HTTP status. EngineFailure is a 500: it means the
# deployed model itself failed (a script or expression error), which the caller cannot fix by changing
# the request; the case is left unchanged, so the request may be retried once the model is fixed.
STATUS_BY_DOMAIN_ERROR: dict[type[domain.ProcessError], int] = {
    domain.InvalidData: 422,
    domain.InvalidModel: 422,
    domain.Unauthenticated: 401,
    domain.TooManyAttempts: 429,
    domain.Forbidden: 403,
    domain.NotFound: 404,
    domain.Conflict: 409,
    domain.EngineFailure: 500,
}


class ServiceError(Exception):
    """An error the web layer finds itself, before any use case runs (a malformed body or query)."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, fields: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = dict(fields or {})


class MalformedJSON(ServiceError):
    """The body is not JSON at all."""

    code = "malformed_json"


class InvalidBody(ServiceError):
    """The body is JSON but not the object the endpoint expects, or carries no file."""

    code = "invalid_body"


class BodyTooLarge(ServiceError):
    """The body is larger than the endpoint reads."""

    status = 413
    code = "request_entity_too_large"


class InvalidQuery(ServiceError):
    """A query parameter has the wrong type or value."""

    code = "invalid_query"


class MissingCredentials(ServiceError):
    """No usable `Authorization: Bearer` header."""

    status = 401
    code = "unauthenticated"


class NotPermitted(ServiceError):
    """The caller lacks the group an endpoint requires."""

    status = 403
    code = "forbidden"


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, str]:
    """Turn marshmallow's nested messages into `{"field.sub": "message; message"}`."""
    if isinstance(messages, Mapping):
        flat: dict[str, str] = {}
        for key, value in messages.items():
            flat.update(flatten_messages(value, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(messages, list | tuple):
        if all(isinstance(item, str) for item in messages):
            return {prefix or "_body": "; ".join(messages)}
        flat = {}
        for item in messages:
            flat.update(flatten_messages(item, prefix))
        return flat
    return {prefix or "_body": str(messages)}


def error_response(
    status: int, code: str, message: str, fields: Mapping[str, str] | None = None
) -> tuple[Response, int]:
    """The JSON error envelope with its status."""
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = dict(fields)
    response = jsonify(error=body)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="amflow"'
    return response, status


def _snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def register_error_handlers(app: Flask, *, page: Callable[[Exception], Any] | None = None) -> None:
    """Map domain, validation and HTTP errors to JSON responses under `/api/`, and to `page` elsewhere."""

    @app.errorhandler(domain.ProcessError)
    def handle_domain_error(error: domain.ProcessError) -> Any:
        if page is not None and not request.path.startswith(API_PREFIX):
            return page(error)
        status = next((code for cls, code in STATUS_BY_DOMAIN_ERROR.items() if isinstance(error, cls)), 500)
        if status >= 500:
            logger.error("engine failure on %s %s: %s", request.method, request.path, error.message)
        response, status = error_response(status, error.code, error.message, error.fields)
        if isinstance(error, domain.TooManyAttempts):
            response.headers["Retry-After"] = str(error.retry_after)
        return response, status

    @app.errorhandler(ServiceError)
    def handle_service_error(error: ServiceError) -> tuple[Response, int]:
        return error_response(error.status, error.code, error.message, error.fields)

    @app.errorhandler(ValidationError)
    def handle_validation_error(error: ValidationError) -> tuple[Response, int]:
        fields = flatten_messages(error.messages)
        return error_response(422, "invalid_data", "The request has invalid fields.", fields)

    @app.errorhandler(HTTPException)
    def handle_http_error(error: HTTPException) -> Any:
        if not request.path.startswith(API_PREFIX):
            return page(error) if page is not None else error
        response, status = error_response(
            error.code or 500, _snake_case(type(error).__name__), error.description or error.name
        )
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response, status
