"""The API's description of itself."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app

from service.auth import public
from service.openapi import openapi_document

bp = Blueprint("meta", __name__)


@bp.get("/openapi.json")
@public
def openapi() -> Any:
    """The OpenAPI 3 document of this API."""
    return openapi_document(current_app)
