"""The caller's account: log in for a bearer token, log out, list and revoke tokens, and who am I."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

import processes
from service.api.parsing import json_body, query_args
from service.auth import current_user, presented_token, public
from service.extensions import get_database
from service.schemas import TokenListSchema, TokenQuery, TokenRequest, TokenSchema, UserSchema
from service.security import client_address, login_limits, token_ttl

bp = Blueprint("account", __name__)

# built once: a schema's construction (deep copies of its fields) costs more than a dump
_USER_SCHEMA = UserSchema()


@bp.post("/auth/token")
@public
def create_token() -> Any:
    """Exchange a username and password for a bearer token (it expires; throttled after failed tries)."""
    body = json_body(TokenRequest())
    user = processes.authenticate(get_database(), body["username"], body["password"],
                                  address=client_address(), limits=login_limits())
    return TokenSchema().dump(processes.create_token(get_database(), user.username, ttl=token_ttl())), 201


@bp.post("/auth/logout")
def logout() -> Any:
    """Revoke the bearer token of this request."""
    processes.revoke_presented_token(get_database(), presented_token())
    return "", 204


@bp.get("/auth/tokens")
def list_tokens() -> Any:
    """List my unexpired tokens (an admin may ask for another user's with ?username=)."""
    query = query_args(TokenQuery())
    username = query.get("username", current_user().username)
    tokens = processes.list_tokens(get_database(), username, actor=current_user())
    return TokenListSchema().dump({"items": tokens})


@bp.delete("/auth/tokens/<int:token_id>")
def revoke_token(token_id: int) -> Any:
    """Revoke one of my tokens (an admin may revoke anyone's)."""
    processes.revoke_token(get_database(), token_id, actor=current_user())
    return "", 204


@bp.get("/me")
def me() -> Any:
    """Show the caller: username, name, groups and units."""
    return _USER_SCHEMA.dump(current_user())
