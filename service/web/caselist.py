"""Case lists (Sager): my cases, my units' cases, every case I may read; filtered and searched (issue #17).

Two SQL statements a page (processes.list_cases: a capped count and the page) plus the process list for
the filter, whatever the number of cases.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

import forms
import processes
from forms import html as form_html
from processes.views import UserView
from service.extensions import get_database
from service.web.casework import CASE_STATUS_WORDS
from service.web.session import chosen_language, current_web_user, login_required

bp = Blueprint("caselist", __name__)

PAGE_SIZE = 25
SCOPE_WORDS: dict[str, Any] = {"mine": _l("My cases"), "unit": _l("My units' cases"), "all": _l("All cases")}
KEYS = ("scope", "process", "status", "created_from", "created_to", "q")


def scopes_for(user: UserView) -> list[str]:
    """Mine for everybody; the units' cases for members of a unit; all cases for central groups."""
    central = any(processes.GROUPS.get(group, ("", False))[1] for group in user.groups)
    return ["mine", *(["unit"] if user.units else []), *(["all"] if central else [])]


def _date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


@bp.get("/cases")
@login_required
def index() -> ResponseReturnValue:
    """The cases I may read in the chosen scope, newest first, with filters and full-text search."""
    user = current_web_user()
    assert user is not None
    if any(value == "" for value in request.args.values()):  # empty filter fields leave the address
        kept = [(key, value) for key, value in request.args.items(multi=True) if value != ""]
        return redirect(url_for("caselist.index") + (f"?{urlencode(kept)}" if kept else ""))
    scopes = scopes_for(user)
    values = {key: request.args.get(key, "").strip()[:200] for key in KEYS}
    problems = []
    if values["scope"] and values["scope"] not in scopes:
        problems.append("scope")
        values["scope"] = ""
    if values["status"] and values["status"] not in CASE_STATUS_WORDS:
        problems.append("status")
        values["status"] = ""
    for key in ("created_from", "created_to"):
        if values[key] and _date(values[key]) is None:
            problems.append(key)
            values[key] = ""
    page_arg = request.args.get("page", "1")
    page = int(page_arg) if page_arg.isdigit() and 1 <= int(page_arg) <= 10_000 else 1
    if problems:
        flash(_("Ignored filter values that are not valid: %(names)s", names=", ".join(problems)), "error")
    db = get_database()
    scope = values["scope"] or scopes[0]
    filters = processes.CaseFilter(
        scope=scope, process=values["process"] or None, status=values["status"] or None,
        created_from=_date(values["created_from"]), created_to=_date(values["created_to"]),
        q=values["q"] or None, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE,
    )
    try:
        result = processes.list_cases(db, actor=user, filters=filters)
    except processes.errors.InvalidData as exc:
        flash(_("Ignored filter values that are not valid: %(names)s", names=", ".join(exc.fields)), "error")
        result = processes.list_cases(db, actor=user, filters=processes.CaseFilter(scope=scope, limit=PAGE_SIZE))
    chosen = {key: value for key, value in values.items() if value}
    pages = max(1, -(-result.total // PAGE_SIZE))

    def url(**changes: Any) -> str:
        merged = {**chosen, "page": page, **changes}
        clean = {k: v for k, v in merged.items() if v not in (None, "") and not (k == "page" and v == 1)}
        return url_for("caselist.index") + ("?" + urlencode(clean) if clean else "")

    return render_template(
        "web/cases.html", result=result, values=values, scope=scope, scopes=scopes, scope_words=SCOPE_WORDS,
        status_words=CASE_STATUS_WORDS, page=page, pages=pages, url=url,
        process_keys=[process.key for process in processes.list_processes(db, actor=user)],
        lists=processes.listed_processes(db),
    )


# --- a process's own list of its cases (property listColumns), e.g. a unit's lone-work approvals ---------

def _column_labels(listed: processes.views.ProcessCaseList, language: str) -> dict[str, str]:
    """Each listed field's name for people: the process's ``listLabels``, else the label a form gives the
    field, else the field's own name."""
    known: dict[str, str] = {}
    for name in forms.form_names():
        if forms.form_exists(name):
            for field in form_html.fields(forms.get_form(name), language):
                known.setdefault(field.key, field.label)
    return {column: (listed.labels.get(column, {}).get(language) or listed.labels.get(column, {}).get("da")
                     or known.get(column) or column.replace("_", " ").capitalize())
            for column in listed.columns}


def _value_words(listed: processes.views.ProcessCaseList, language: str) -> dict[str, dict[str, str]]:
    """Field -> value -> its words in ``language`` (the process's ``listValues``)."""
    return {column: {value: text.get(language) or text["da"] for value, text in named.items()}
            for column, named in listed.values.items()}


@bp.get("/processes/<key>/cases")
@login_required
def process_list(key: str) -> ResponseReturnValue:
    """The cases of a process with the columns it declares (``listColumns``), filtered by unit and by each
    column whose values the process names (``listValues``); who sees which case is ``access.may``'s call."""
    user = current_web_user()
    assert user is not None
    if any(value == "" for value in request.args.values()):  # empty filter fields leave the address
        kept = [(name, value) for name, value in request.args.items(multi=True) if value != ""]
        return redirect(url_for("caselist.process_list", key=key) + (f"?{urlencode(kept)}" if kept else ""))
    db, language = get_database(), chosen_language()
    units = processes.unit_names(db)
    unit = request.args.get("unit", "").strip()[:64] or None
    problems = []
    if unit is not None and unit not in units:
        problems.append("unit")
        unit = None
    asked = {name: value.strip()[:200] for name, value in request.args.items() if name not in ("unit", "status")}
    try:
        listed = processes.process_cases(db, process=key, actor=user, unit=unit, where=asked)
    except processes.errors.InvalidData as exc:  # a field the process does not list
        problems += sorted(exc.fields)
        asked = {name: value for name, value in asked.items() if name not in exc.fields}
        listed = processes.process_cases(db, process=key, actor=user, unit=unit, where=asked)
    words_of = _value_words(listed, language)
    where = {name: value for name, value in asked.items() if value in words_of.get(name, {})}
    problems += sorted(set(asked) - set(where))
    if set(asked) - set(where):
        listed = processes.process_cases(db, process=key, actor=user, unit=unit, where=where)
    if problems:  # a value the process does not name (or no such field): shown without that filter
        flash(_("Ignored filter values that are not valid: %(names)s", names=", ".join(problems)), "error")
    shown_units = sorted(units) if scopes_for(user)[-1] == "all" else sorted(user.units)
    return render_template(
        "web/process_cases.html", listed=listed, labels=_column_labels(listed, language), value_words=words_of,
        where=where, unit=unit or "", units=shown_units, status_words=CASE_STATUS_WORDS,
    )
