"""The Flask app of amflow: the JSON API, the case handlers' web pages, and the error mapping around `processes`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider
from flask_wtf.csrf import CSRFProtect

from service.api import create_api_blueprint
from service.config import Config, ConfigError, load_config
from service.errors import register_error_handlers
from service.extensions import get_database, init_database
from service.health import init_health
from service.i18n import init_i18n
from service.links import configure_engine_links
from service.logs import init_request_logging
from service.metrics import init_metrics
from service.security import init_security
from service.sqlcount import init_sql_count
from service.web import init_web
from service.web.errors import error_page

__all__ = ["Config", "ConfigError", "create_app", "get_database"]


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON with ISO 8601 dates (Flask's default writes RFC 822) and keys in their given order."""

    sort_keys = False

    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, datetime | date):
            return o.isoformat()
        return DefaultJSONProvider.default(o)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app; `config` overrides the environment (tests pass `DATABASE_URL` and `TESTING`)."""
    settings = load_config(config)
    app = Flask(__name__, instance_path=str(settings.instance_path))
    app.config.from_mapping(settings.as_flask_config())
    app.json = JSONProvider(app)
    init_request_logging(app)  # first: its request id and timer must be set before any other hook can fail
    init_security(app)
    configure_engine_links(init_database(app), app.config)
    init_i18n(app)
    register_error_handlers(app, page=error_page)
    app.register_blueprint(create_api_blueprint())
    csrf = CSRFProtect(app)
    for name, blueprint in app.blueprints.items():  # the API and its nested blueprints (api.tasks, ...):
        if name.split(".")[0] == "api":  # bearer tokens, no cookies, nothing a forged request could ride on
            csrf.exempt(blueprint)
    init_web(app)
    init_health(app)
    init_metrics(app)
    init_sql_count(app)  # benchmarks only: off unless AMFLOW_BENCH_COUNT_SQL=1
    return app
