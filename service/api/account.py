"""The caller's account: log in for a bearer token, and who am I."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

import processes
from service.api.parsing import json_body
from service.auth import current_user, public
from service.extensions import get_database
from service.schemas import TokenRequest, UserSchema

bp = Blueprint("account", __name__)


@bp.post("/auth/token")
@public
def create_token() -> Any:
    """Exchange a username and password for a bearer token."""
    body = json_body(TokenRequest())
    user = processes.authenticate(get_database(), body["username"], body["password"])
    return {"token": processes.create_token(get_database(), user.username)}, 201


@bp.get("/me")
def me() -> Any:
    """Show the caller: username, name, groups and units."""
    return UserSchema().dump(current_user())
