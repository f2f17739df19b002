"""The Flask app of amflow: JSON API, authentication and error mapping around the `processes` use cases."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from service.api import create_api_blueprint
from service.config import Config, ConfigError, load_config
from service.errors import register_error_handlers
from service.extensions import get_database, init_database

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
    init_database(app)
    register_error_handlers(app)
    app.register_blueprint(create_api_blueprint())
    return app
