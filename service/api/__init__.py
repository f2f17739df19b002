"""The JSON API under `/api/v1`: one parent blueprint that authenticates, one child per resource."""

from __future__ import annotations

from flask import Blueprint

from service.api import (
    account,
    boards,
    cases,
    decisions,
    definitions,
    links,
    meta,
    modeler,
    notices,
    statistics,
    tasks,
)
from service.auth import load_user

API_PREFIX = "/api/v1"


def create_api_blueprint() -> Blueprint:
    """A fresh `api` blueprint (blueprints keep state, so each app gets its own)."""
    api = Blueprint("api", __name__, url_prefix=API_PREFIX)
    api.before_request(load_user)
    for child in (account.bp, cases.bp, boards.bp, tasks.bp, definitions.bp, decisions.bp, meta.bp, links.bp,
                  statistics.bp, modeler.bp, notices.bp):
        api.register_blueprint(child)
    return api
