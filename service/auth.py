"""Who is calling: bearer tokens resolved through `processes`, the user put on `flask.g.user`.

Every API endpoint needs a user unless its view is marked `@public`. Group checks that belong to the
web layer (who may reach an endpoint at all) use `@require_group`; finer rules (which unit, which task)
are the use cases' business.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, g, request

import processes
from processes.views import UserView
from service.errors import MissingCredentials, NotPermitted
from service.extensions import get_database

View = TypeVar("View", bound=Callable[..., Any])

_PUBLIC_ATTRIBUTE = "amflow_public"


def public(view: View) -> View:
    """Mark a view as reachable without a user."""
    setattr(view, _PUBLIC_ATTRIBUTE, True)
    return view


def is_public(view: Callable[..., Any]) -> bool:
    """Whether a view is reachable without a user."""
    return bool(getattr(view, _PUBLIC_ATTRIBUTE, False))


def bearer_token() -> str:
    """The token of the `Authorization: Bearer <token>` header, or MissingCredentials."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise MissingCredentials("Send an 'Authorization: Bearer <token>' header (POST /api/v1/auth/token).")
    return token.strip()


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def load_user() -> None:
    """Before each API request: resolve the bearer token to `g.user`, unless the view is public.

    The token is checked in the request's one transaction, which the use case then joins (see
    `processes.Database.request`): a request is one BEGIN ... COMMIT, not one for the token and one for the
    work. A request that may change something (not GET/HEAD/OPTIONS) opens it as a write transaction.
    """
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or is_public(view):
        return
    token = bearer_token()
    database = get_database()
    database.begin_request(write=request.method not in SAFE_METHODS)
    g.user = processes.user_for_token(database, token)
    g.bearer_token = token


def current_user() -> UserView:
    """The authenticated caller of this request."""
    return g.user


def presented_token() -> str:
    """The bearer token the caller of this request authenticated with."""
    return g.bearer_token


def require_group(*groups: str) -> Callable[[View], View]:
    """Let only members of one of `groups` reach the view."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not set(groups) & set(current_user().groups):
                raise NotPermitted(f"Only members of {' or '.join(groups)} may do this.")
            return view(*args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate
