"""Logging of the service: text or JSON lines, a request id on every line of a request, an access log.

With `AMFLOW_LOG_FORMAT=json` every line (ours, Flask's, gunicorn's) is one JSON object: `time`, `level`,
`logger`, `message`, `process`, the `request_id` of the request being served (if any) and `exception` when
there is one. The request id comes from a sane incoming `X-Request-Id` header (a proxy's) or is a new uuid4;
it is echoed in the response's `X-Request-Id` header, so a user's report can be found in the logs.
In JSON mode the app also writes one access line per request (logger `amflow.access`: method, route, path,
status, duration_ms), and gunicorn's own access log is switched off (it cannot know the request id).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import sys
import time
import uuid
from typing import Any

from flask import Flask, Response, g, request

from service import metrics

REQUEST_ID_HEADER = "X-Request-Id"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@+=/-]{1,128}")  # no spaces, quotes or control characters
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("amflow_request_id", default=None)
access_logger = logging.getLogger("amflow.access")


def current_request_id() -> str | None:
    """The id of the request this thread is serving, or None outside a request."""
    return _request_id.get()


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every record as `record.request_id` (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = _request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record; extra fields given as `extra={"fields": {...}}` are merged in."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
            "request_id": getattr(record, "request_id", None),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str, log_format: str) -> None:
    """Log to stderr at `level`, as text or as JSON lines (replacing any handlers of the root logger)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


def gunicorn_logconfig(level: str) -> dict[str, Any]:
    """gunicorn's `logconfig_dict` for JSON mode: its error log and our loggers as JSON lines on stderr."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "json": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request_id"],
                     "stream": "ext://sys.stderr"},
        },
        "loggers": {
            "gunicorn.error": {"handlers": ["json"], "level": level, "propagate": False},
            # our access line replaces gunicorn's (which cannot know the request id): its INFO lines are dropped
            "gunicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
        "root": {"handlers": ["json"], "level": level},
    }


def _incoming_request_id() -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if _SANE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def _route() -> str:
    """The matched URL rule (`/api/v1/cases/<case_id>`), never the raw path: bounded label values."""
    rule = request.url_rule
    return rule.rule if rule is not None else "<unmatched>"


def _start_request() -> None:
    g.amflow_started = time.perf_counter()
    g.amflow_request_id_token = _request_id.set(_incoming_request_id())


def _finish_request(response: Response) -> Response:
    request_id = _request_id.get()
    if request_id is not None:
        response.headers[REQUEST_ID_HEADER] = request_id
    started = g.get("amflow_started")
    duration = time.perf_counter() - started if started is not None else 0.0
    metrics.observe_request(request.method, _route(), response.status_code, duration)
    if access_logger.isEnabledFor(logging.INFO) and g.get("amflow_access_log"):
        access_logger.info(
            "%s %s %s", request.method, request.path, response.status_code,
            extra={"fields": {"method": request.method, "route": _route(), "path": request.path,
                              "status": response.status_code, "duration_ms": round(duration * 1000, 2)}},
        )
    return response


def _end_request(_error: BaseException | None) -> None:
    token = g.pop("amflow_request_id_token", None)
    if token is not None:
        _request_id.reset(token)


def init_request_logging(app: Flask) -> None:
    """Request ids, request metrics and (in JSON mode) the access log line, on every request of `app`."""
    access_log = app.config["LOG_FORMAT"] == "json"

    @app.before_request
    def start() -> None:
        g.amflow_access_log = access_log
        _start_request()

    app.after_request(_finish_request)
    app.teardown_request(_end_request)
