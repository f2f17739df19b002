"""What is new for me (issue #17): the counter in the header, the list (opening it marks the page read), one
notification opened (marked read, then its task or case), and my e-mail choice per kind.

The list page costs a fixed number of SQL statements however many notifications it shows."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import SQLAlchemyError

import processes
from processes.views import NoticeView, UserView
from service.extensions import get_database
from service.web.session import current_web_user, login_required

bp = Blueprint("notices", __name__)

KIND_WORDS: dict[str, Any] = {
    "group_task": _l("New task for your group"),
    "task_assigned": _l("Task assigned to you"),
    "comment": _l("New comment on your case"),
}


def _user() -> UserView:
    user = current_web_user()
    assert user is not None
    return user


def unread_for_header() -> int | None:
    """The header's counter: one statement, only on pages of a logged-in user (none on an error page whose
    cause is the database itself)."""
    user = current_web_user()
    if user is None:
        return None
    try:
        return processes.unread_count(get_database(), actor=user)
    except SQLAlchemyError:
        return None


def _target(notice: NoticeView) -> str:
    if notice.task_id and notice.kind != "comment":
        return url_for("casework.task", task_id=notice.task_id)
    return url_for("casework.case", case_id=notice.case_id, _anchor="comments" if notice.kind == "comment" else None)


@bp.get("/notifications")
@login_required
def index() -> ResponseReturnValue:
    """My notifications, newest first; opening the page marks the ones shown read."""
    before = request.args.get("before", "")
    page = processes.list_notices(get_database(), actor=_user(), before=int(before) if before.isdigit() else None,
                                  mark_read=True)
    return render_template("web/notices.html", page=page, kind_words=KIND_WORDS, target=_target)


@bp.get("/notifications/<int:notice_id>")
@login_required
def open_one(notice_id: int) -> ResponseReturnValue:
    """Mark one notification read and go to its task or case."""
    notice = processes.open_notice(get_database(), notice_id, actor=_user())
    return redirect(_target(notice), code=303)


@bp.route("/notifications/settings", methods=["GET", "POST"])
@login_required
def settings() -> ResponseReturnValue:
    """Per kind of notification, whether I also get an e-mail."""
    user = _user()
    if request.method == "POST":
        chosen = {kind: request.form.get(f"email_{kind}") == "on" for kind in processes.NOTICE_KINDS}
        processes.set_notice_settings(get_database(), chosen, actor=user)
        flash(_("Your choices are saved."), "success")
        return redirect(url_for("notices.settings"), code=303)
    return render_template("web/notice_settings.html", kind_words=KIND_WORDS,
                           email=processes.notice_settings(get_database(), actor=user))
