"""Who is using the web pages: the log-in session cookie, the user loaded once per request, the language.

At log-in the user gets a server-side web session (processes.start_session); the signed cookie keeps only
its random id, never a bearer token, and every request resolves it through `processes.user_for_session`.
Log-out deletes the session row, so a copy of the old cookie opens nothing; a deactivated user is logged
out at their next request.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import g, redirect, request, session, url_for

import processes
from processes.views import UserView
from service.extensions import get_database

View = TypeVar("View", bound=Callable[..., Any])

LANGUAGES = ("da", "en")
DEFAULT_LANGUAGE = "da"
_CREDENTIAL = "sid"  # the session key that holds the web session's id
_LANGUAGE = "lang"
_ANONYMOUS = object()


def log_in(user: UserView, session_id: str) -> None:
    """Start a fresh session for `user` (the old one is dropped, so a planted session id is of no use)."""
    _end_server_session()
    language = session.get(_LANGUAGE)
    session.clear()
    session[_CREDENTIAL] = session_id
    if language in LANGUAGES:
        session[_LANGUAGE] = language
    g.web_user = user


def _end_server_session() -> None:
    session_id = session.get(_CREDENTIAL)
    if isinstance(session_id, str) and session_id:
        processes.end_session(get_database(), session_id)


def log_out() -> None:
    """End the session (on the server too) but keep the chosen language."""
    _end_server_session()
    language = session.get(_LANGUAGE)
    session.clear()
    if language in LANGUAGES:
        session[_LANGUAGE] = language
    g.web_user = None


def current_web_user() -> UserView | None:
    """The logged-in user of this request (loaded once, cached on `flask.g`), or None."""
    cached = g.get("web_user", _ANONYMOUS)
    if cached is not _ANONYMOUS:
        return cached  # type: ignore[return-value]
    user = None
    session_id = session.get(_CREDENTIAL)
    if isinstance(session_id, str) and session_id:
        try:
            user = processes.user_for_session(get_database(), session_id)
        except processes.errors.Unauthenticated:
            session.pop(_CREDENTIAL, None)  # logged out elsewhere, expired or deactivated
    g.web_user = user
    return user


def set_language(language: str) -> bool:
    """Remember the chosen language in the session; False if it is not one we offer."""
    if language not in LANGUAGES:
        return False
    session[_LANGUAGE] = language
    return True


def chosen_language() -> str:
    """The session's language, else the user's own, else Danish."""
    language = session.get(_LANGUAGE)
    if language in LANGUAGES:
        return language
    user = current_web_user()
    if user is not None and user.language in LANGUAGES:
        return user.language
    return DEFAULT_LANGUAGE


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go back to; anything pointing at another site becomes `default`."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def referrer_path() -> str | None:
    """The path and query of the page of this site the request came from (its Referer), if any."""
    host = request.host_url.rstrip("/")
    referrer = request.referrer or ""
    return referrer[len(host):] if referrer.startswith(host + "/") else None


def login_required(view: View) -> View:
    """Send anonymous visitors to the log-in page, and back here afterwards."""

    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if current_web_user() is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return guarded  # type: ignore[return-value]
