"""My queue (Kø): the open tasks of my groups and units, with filters, sorting, paging, saved filters,
claiming and assigning, one by one or in bulk.

The page costs the same few SQL statements whatever the number of tasks: one page query (with its capped
count and its cases' words), the saved filters, the process keys, and one colleague list for the bulk form,
all in one read transaction (processes.queue_screen).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_translations, ngettext
from flask_babel import gettext as _
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup
from werkzeug.datastructures import MultiDict

import processes
from processes.views import TaskView, UserView
from service.extensions import get_database
from service.web.session import current_web_user, login_required, safe_next

bp = Blueprint("queue", __name__)

PAGE_SIZE = 25
SORTS = ("created_at", "due_at", "title", "unit", "case_id", "assignee")  # TaskFilter.sort
ASSIGNEES = ("me", "none")
STATUSES = ("open", "ready", "claimed")
QUERY_KEYS = ("group", "unit", "process", "assignee", "overdue", "status", "sort", "order")


@dataclass(frozen=True)
class QueueQuery:
    """The queue's filters, sort and page as read from the query string (already checked)."""

    values: dict[str, str] = field(default_factory=dict)  # the saved-filter keys that are set
    page: int = 1

    def task_filter(self) -> processes.TaskFilter:
        """The engine's filter for this page."""
        get = self.values.get
        overdue = {"1": True, "0": False}.get(get("overdue", ""))
        return processes.TaskFilter(
            group=get("group"), unit=get("unit"), process=get("process"), assignee=get("assignee"),
            status=get("status"), overdue=overdue, sort=get("sort", "created_at"),
            descending=get("order") == "desc", limit=PAGE_SIZE, offset=(self.page - 1) * PAGE_SIZE,
        )

    def url(self, **changes: Any) -> str:
        """The queue's URL with some values changed (None removes one)."""
        values: dict[str, Any] = {**self.values, "page": self.page, **changes}
        clean = {key: value for key, value in values.items()
                 if value not in (None, "") and not (key == "page" and value == 1)}
        return url_for("queue.index") + ("?" + urlencode(clean) if clean else "")

    def sort_url(self, column: str) -> str:
        """Sort by `column`; again on the same column flips the order."""
        same = self.values.get("sort", "created_at") == column
        order = "asc" if same and self.values.get("order") == "desc" else ("desc" if same else None)
        return self.url(sort=column, order=order, page=None)


def parse_query(args: MultiDict[str, str], user: UserView) -> tuple[QueueQuery, list[str]]:
    """Read and check the queue's query arguments; a bad value is dropped and named in the problems."""
    allowed: dict[str, tuple[str, ...] | None] = {
        "group": tuple(user.groups), "unit": None, "process": None, "assignee": ASSIGNEES,
        "overdue": ("1", "0"), "status": STATUSES, "sort": SORTS, "order": ("asc", "desc"),
    }
    values: dict[str, str] = {}
    problems: list[str] = []
    for key, choices in allowed.items():
        value = args.get(key, "").strip()
        if not value:
            continue
        if (choices is not None and value not in choices) or len(value) > 100:
            problems.append(key)
            continue
        values[key] = value
    page = args.get("page", "1")
    if not page.isdigit() or not 1 <= int(page) <= 10_000:
        problems.append("page")
        page = "1"
    return QueueQuery(values, int(page)), problems


@dataclass(frozen=True)
class QueuePage:
    """Everything the queue template shows."""

    query: QueueQuery
    tasks: list[TaskView]
    total: int  # exact up to processes.COUNT_CAP
    total_capped: bool  # more than COUNT_CAP tasks match
    has_more: bool  # there is a page after this one
    filters: list[processes.SavedFilterView]
    process_keys: list[str]
    colleagues: list[UserView]
    now: datetime

    @property
    def pages(self) -> int:
        """How many pages the filtered queue has (at least one; beyond a capped total, one more at a time)."""
        pages = max(1, -(-self.total // PAGE_SIZE))
        return max(pages, self.query.page + self.has_more) if self.total_capped else pages


def load_queue(user: UserView, query: QueueQuery) -> QueuePage:
    """The queue page's data: one read transaction, a fixed number of queries (none per task)."""
    screen = processes.queue_screen(get_database(), actor=user, filters=query.task_filter())
    page = screen.page
    return QueuePage(
        query=query, tasks=page.tasks, total=page.total, total_capped=page.total_capped,
        has_more=page.next_cursor is not None, filters=screen.filters, process_keys=screen.process_keys,
        colleagues=screen.colleagues, now=datetime.now(UTC),
    )


def _unit_choices(user: UserView) -> list[str]:
    """The units a user can filter on: their own, or every unit for a central group."""
    central = any(processes.GROUPS.get(group, ("", False))[1] for group in user.groups)
    return list(processes.UNITS) if central else list(user.units)


def _user() -> UserView:
    user = current_web_user()
    assert user is not None  # login_required
    return user


def _back_to_queue() -> ResponseReturnValue:
    return redirect(safe_next(request.form.get("next"), url_for("queue.index")), code=303)


_ID_MARKER = "00000000-0000-4000-8000-000000000000"  # stands for a task id while a row URL is built


def row_url(endpoint: str, **values: Any) -> Callable[[str], str]:
    """`url_for(endpoint, task_id=id, **values)` for every row of a page, built once (the template's `row_url`).

    A task id is a UUID, so putting it into the built URL by text gives what url_for would.
    """
    prefix, suffix = url_for(endpoint, task_id=_ID_MARKER, **values).split(_ID_MARKER)
    return lambda task_id: prefix + quote(task_id, safe="") + suffix


def request_gettext() -> Callable[..., str]:
    """The template's ``_`` with this request's translations looked up once.

    Flask-Babel's looks up the request's locale and catalogue on every call, and the queue page translates
    about a hundred strings; this does what Jinja's "newstyle" gettext does with the translated string
    (escaped as markup under autoescape, then filled in), so a page renders the same.
    """
    translate = get_translations().ugettext

    @pass_context
    def gettext(context: Context, string: str, **variables: Any) -> str:
        text = translate(string)
        if context.eval_ctx.autoescape:
            text = Markup(text)  # noqa: S704 - our catalogue's text, as Jinja's gettext does; variables are escaped
        return text % variables

    return gettext


@bp.get("/")
@login_required
def index() -> ResponseReturnValue:
    """My queue: the tasks of my groups and units, filtered, sorted and paged."""
    user = _user()
    if any(value == "" for value in request.args.values()):
        # the filter form sends every field; an empty one filters nothing, so it leaves the address too
        kept = [(key, value) for key, value in request.args.items(multi=True) if value != ""]
        return redirect(url_for("queue.index") + (f"?{urlencode(kept)}" if kept else ""))
    query, problems = parse_query(request.args, user)
    if problems:
        flash(_("Ignored filter values that are not valid: %(names)s", names=", ".join(problems)), "error")
    page = load_queue(user, query)
    return render_template("web/queue.html", page=page, units=_unit_choices(user), user=user, row_url=row_url,
                           gettext=request_gettext())


@bp.post("/queue/<task_id>/claim")
@login_required
def claim(task_id: str) -> ResponseReturnValue:
    """Take a task: it becomes mine."""
    task = processes.claim_task(get_database(), task_id, actor=_user())
    flash(_("You took “%(title)s”.", title=task.title), "success")
    return _back_to_queue()


@bp.post("/queue/<task_id>/unclaim")
@login_required
def unclaim(task_id: str) -> ResponseReturnValue:
    """Give a task back to the group."""
    task = processes.unclaim_task(get_database(), task_id, actor=_user())
    flash(_("You gave “%(title)s” back to the group.", title=task.title), "success")
    return _back_to_queue()


@bp.route("/queue/<task_id>/assign", methods=["GET", "POST"])
@login_required
def assign(task_id: str) -> ResponseReturnValue:
    """Choose a colleague for one task (GET), or give it to them (POST)."""
    user = _user()
    if request.method == "GET":
        task = processes.get_task(get_database(), task_id, actor=user)
        colleagues = processes.colleagues_for(get_database(), task_id, actor=user)
        return render_template("web/assign.html", task=task, colleagues=colleagues,
                               next_url=safe_next(request.args.get("next"), url_for("queue.index")))
    assignee = request.form.get("assignee", "")
    processes.assign_tasks(get_database(), [task_id], assignee=assignee, actor=user)
    flash(_("The task is now assigned to %(name)s.", name=assignee), "success")
    return _back_to_queue()


@bp.post("/queue/bulk")
@login_required
def bulk() -> ResponseReturnValue:
    """Claim the chosen tasks, or assign them to a colleague: all of them or none."""
    task_ids = request.form.getlist("task")
    if not task_ids:
        flash(_("Choose one or more tasks first."), "error")
        return _back_to_queue()
    if request.form.get("action") == "assign":
        assignee = request.form.get("assignee", "")
        done = processes.assign_tasks(get_database(), task_ids, assignee=assignee, actor=_user())
        flash(ngettext("%(num)d task assigned to %(name)s.", "%(num)d tasks assigned to %(name)s.",
                       len(done), name=assignee), "success")
    else:
        done = processes.claim_tasks(get_database(), task_ids, actor=_user())
        flash(ngettext("You took %(num)d task.", "You took %(num)d tasks.", len(done)), "success")
    return _back_to_queue()


@bp.post("/filters")
@login_required
def save_filter() -> ResponseReturnValue:
    """Save the current filter under a name, perhaps shared with one of my groups."""
    user = _user()
    query, _problems = parse_query(request.form, user)
    saved = processes.save_filter(get_database(), name=request.form.get("name", ""), query=query.values,
                                 shared_group=request.form.get("shared_group") or None, actor=user)
    flash(_("Saved the filter “%(name)s”.", name=saved.name), "success")
    return redirect(QueueQuery(saved.query).url(), code=303)


@bp.post("/filters/<int:filter_id>/delete")
@login_required
def delete_filter(filter_id: int) -> ResponseReturnValue:
    """Delete one of my saved filters."""
    processes.delete_filter(get_database(), filter_id, actor=_user())
    flash(_("The saved filter is deleted."), "success")
    return _back_to_queue()
