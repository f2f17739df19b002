"""HTML error pages of the web pages: 403, 404, 500 friendly and bilingual; conflicts and invalid data
are flashed on the page the user came from.

`service.errors` stays the one place that maps errors; it hands errors outside `/api/` to `error_page`.
"""

from __future__ import annotations

import logging

from flask import flash, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from processes import errors as domain
from service.web.session import referrer_path, safe_next

logger = logging.getLogger(__name__)

def _wording(status: int) -> tuple[str, str]:
    if status == 403:
        return _("You may not do this"), _(
            "This belongs to another group or unit than yours. Ask your coordinator if you think you should "
            "have access.")
    if status == 404:
        return _("Page not found"), _(
            "We could not find what you asked for. It may have been moved or completed, or the address is "
            "mistyped.")
    if status == 400:
        return _("The request could not be used"), _(
            "The form may have expired. Go back, reload the page and try again.")
    if status < 500:
        return _("The request could not be used"), _("Go back and try again.")
    return _("Something went wrong"), _(
        "An error on our side stopped this. Try again in a moment; if it keeps happening, tell the support team.")


def render_error_page(status: int) -> ResponseReturnValue:
    """The friendly error page for an HTTP status, in the request's language."""
    heading, text = _wording(status)
    return render_template("web/error.html", status=status, heading=heading, text=text), status


def _back() -> ResponseReturnValue:
    return redirect(safe_next(referrer_path()), code=303)


def _flash_and_go_back(error: domain.ProcessError) -> ResponseReturnValue:
    """A conflict or invalid input: say what happened on the page the user came from."""
    if isinstance(error, domain.Conflict):
        flash(_("Someone changed this in the meantime: %(message)s", message=error.message), "error")
    else:
        details = "; ".join(f"{field}: {message}" for field, message in error.fields.items())
        message = f"{error.message} ({details})" if details else error.message
        flash(_("That did not work: %(message)s", message=message), "error")
    return _back()


_STATUS_BY_DOMAIN_ERROR: dict[type[domain.ProcessError], int] = {domain.Forbidden: 403, domain.NotFound: 404}


def error_page(error: Exception) -> ResponseReturnValue:
    """An error raised under a web page, as something a person can act on."""
    if isinstance(error, domain.Conflict | domain.InvalidData):
        return _flash_and_go_back(error)
    if isinstance(error, domain.Unauthenticated):
        return redirect("/login")
    if isinstance(error, HTTPException):
        return render_error_page(error.code or 500)
    status = next((code for cls, code in _STATUS_BY_DOMAIN_ERROR.items() if isinstance(error, cls)), 500)
    if status == 500:
        logger.error("error on %s %s: %s", request.method, request.path, error)
    return render_error_page(status)
