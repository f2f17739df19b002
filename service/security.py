"""Hardening of every response and credential: security headers, `Secure` cookies behind HTTPS, the
trusted-proxy set-up, and the settings of credential lifetimes and the log-in throttle.

The Content-Security-Policy allows scripts only from this site (the templates have no inline scripts or
event handlers; page behaviour lives in service/static/js). Styles may be inline because the bpmn-js
diagram viewer sets style attributes on the elements it draws.
"""

from __future__ import annotations

import datetime as dt

from flask import Flask, Request, Response, current_app, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

import processes
from service.errors import API_PREFIX

PAGE_CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
API_CSP = "default-src 'none'; frame-ancestors 'none'"  # JSON is never a document to render or frame
HSTS = "max-age=31536000"


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, marked `Secure` when configured so or when this request came over HTTPS.

    `request.is_secure` follows X-Forwarded-Proto only if ProxyFix was installed (AMFLOW_TRUSTED_PROXIES).
    """

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(super().get_cookie_secure(app) or request.is_secure)

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """An empty session, as Flask's would be, without building its signer, for a request that brings no
        session cookie (every API call: it authenticates by bearer token)."""
        if app.secret_key and self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)


_FIXED_HEADERS = (("X-Frame-Options", "DENY"), ("X-Content-Type-Options", "nosniff"),
                  ("Referrer-Policy", "same-origin"))


def _security_headers(response: Response) -> Response:
    """The headers a response has not set itself (werkzeug's headers are a list: read its names once, rather
    than scan it for each header)."""
    headers = response.headers
    present = {name.lower() for name, _value in headers.items()}
    wanted = [("Content-Security-Policy", API_CSP if request.path.startswith(API_PREFIX) else PAGE_CSP),
              *_FIXED_HEADERS]
    if current_app.config["BEHIND_HTTPS"]:
        wanted.append(("Strict-Transport-Security", HSTS))
    headers.extend([(name, value) for name, value in wanted if name.lower() not in present])
    return response


def init_security(app: Flask) -> None:
    """Cookie flags, ProxyFix when proxies are trusted, and the security headers on every response."""
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = app.config["BEHIND_HTTPS"]
    app.session_interface = _SessionInterface()
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
    app.after_request(_security_headers)


def login_limits() -> processes.LoginLimits:
    """The log-in throttle of the current app's configuration."""
    config = current_app.config
    return processes.LoginLimits(
        per_account=config["LOGIN_MAX_FAILURES_PER_ACCOUNT"],
        per_address=config["LOGIN_MAX_FAILURES_PER_ADDRESS"],
        window=dt.timedelta(seconds=config["LOGIN_FAILURE_WINDOW"]),
    )


def token_ttl() -> dt.timedelta:
    """How long a new API token lives."""
    return dt.timedelta(seconds=current_app.config["TOKEN_TTL"])


def session_ttl() -> dt.timedelta:
    """How long a new web log-in lives."""
    return dt.timedelta(seconds=current_app.config["SESSION_TTL"])


def client_address() -> str | None:
    """The caller's address (the proxy's view of it when proxies are trusted), for the log-in throttle."""
    return request.remote_addr
