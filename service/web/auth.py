"""Log-in, log-out and the language switch of the web pages (the session cookie is the credential)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

import processes
from service.extensions import get_database
from service.schemas import unsafe_text_message
from service.security import client_address, login_limits, session_ttl
from service.web.session import current_web_user, log_in, log_out, referrer_path, safe_next, set_language

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """Show the log-in form, or check the password and start a session."""
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_web_user() is not None:
            return redirect(next_url)
        return render_template("web/login.html", next_url=next_url, username="")
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    try:
        # A NUL or a lone surrogate is in no username or password, and no database column takes it.
        if unsafe_text_message(username) or unsafe_text_message(password):
            raise processes.errors.Unauthenticated("wrong username or password")
        user = processes.authenticate(get_database(), username, password,
                                      address=client_address(), limits=login_limits())
    except processes.errors.TooManyAttempts as error:
        flash(_("Too many failed log-ins. Try again in %(minutes)d minutes.",
                minutes=max(1, -(-error.retry_after // 60))), "error")
        shown = "" if unsafe_text_message(username) else username
        page = render_template("web/login.html", next_url=next_url, username=shown)
        return page, 429, {"Retry-After": str(error.retry_after)}
    except processes.errors.Unauthenticated:
        flash(_("Wrong username or password."), "error")
        shown = "" if unsafe_text_message(username) else username
        return render_template("web/login.html", next_url=next_url, username=shown), 401
    log_in(user, processes.start_session(get_database(), user.username, ttl=session_ttl()))
    return redirect(next_url)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """End the session."""
    log_out()
    flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.post("/language")
def language() -> ResponseReturnValue:
    """Switch the pages between Danish and English."""
    if not set_language(request.form.get("lang", "")):
        flash(_("Unknown language."), "error")
    return redirect(safe_next(request.form.get("next") or referrer_path()))
