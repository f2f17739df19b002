"""The case handlers' web pages: log-in, the queue and saved filters here; case work in `casework`.

Server-rendered Jinja2 pages; every form carries a CSRF token (Flask-WTF's CSRFProtect on the app).
"""

from __future__ import annotations

from flask import Flask, Response, current_app

import processes
from processes.views import UserView
from service.extensions import get_database
from service.web import auth, boards, caselist, casework, links, modeler, notices, queue, statistics
from service.web.errors import render_error_page
from service.web.session import LANGUAGES, chosen_language, current_web_user
from service.web.text import linkify

__all__ = ["init_web", "render_error_page"]


def _template_globals() -> dict[str, object]:
    user: UserView | None = current_web_user()
    return {"web_user": user, "languages": LANGUAGES, "current_language": chosen_language(),
            "unit_name": unit_name, "unread_notices": notices.unread_for_header}


def unit_name(code: str | None) -> str:
    """A unit's name for people ("kemi" -> "DTU Kemi"); its code if it has none (template global).

    The names come from the organisation's units through a cached map (processes.unit_names), so a page
    showing many units costs no query per unit, nor one per page while the map is fresh."""
    if not code:
        return ""
    return processes.unit_names(get_database(), (code,)).get(code, code)


def _favicon() -> Response:
    """The icon for browsers that ask for /favicon.ico without reading the page's link."""
    response = current_app.send_static_file("favicon.svg")
    response.cache_control.max_age = 86400
    return response


def init_web(app: Flask) -> None:
    """Register the web blueprints (auth, queue, casework) and what every template needs."""
    app.register_blueprint(auth.bp)
    app.register_blueprint(queue.bp)
    app.register_blueprint(casework.bp)
    app.register_blueprint(caselist.bp)
    app.register_blueprint(links.bp)
    app.register_blueprint(boards.bp)
    app.register_blueprint(statistics.bp)
    app.register_blueprint(modeler.bp)
    app.register_blueprint(notices.bp)
    app.context_processor(_template_globals)
    app.jinja_env.filters["linkify"] = linkify
    app.add_url_rule("/favicon.ico", "favicon", _favicon)
