"""The page of a signed link: what a person without an account may see and do, on a phone, in Danish or
English. It shows the tasks the link grants with their forms, and nothing else of the case; a link that is
altered, expired or revoked gets a page that says so."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

import forms
import processes
from forms import html as form_html
from forms.messages import translate as translate_message
from processes.errors import Conflict, Forbidden, InvalidData, NotFound, TooManyAttempts
from processes.views import LinkGrant, StartGrant
from service.extensions import get_database
from service.links import link_keys
from service.security import client_address
from service.web.session import chosen_language

bp = Blueprint("links_page", __name__, url_prefix="/link")


@bp.context_processor
def _template_helpers() -> dict[str, Any]:
    return {"forms_html": form_html}

REFUSED_STATUS = {processes.Refusal.ALTERED: 404, processes.Refusal.EXPIRED: 410,
                  processes.Refusal.REVOKED: 410, processes.Refusal.CLOSED: 410, processes.Refusal.USED: 410}


def _refused(reason: processes.Refusal) -> ResponseReturnValue:
    words = {
        processes.Refusal.ALTERED: _("This link is not valid. Check that you copied all of it from the e-mail."),
        processes.Refusal.EXPIRED: _("This link has expired. Ask the person who sent it for a new one."),
        processes.Refusal.REVOKED: _("This link has been withdrawn. Ask the person who sent it for a new one."),
        processes.Refusal.CLOSED: _("The case of this link is closed."),
        processes.Refusal.USED: _("This link has already been used. Ask for a new link to send another report."),
    }
    return render_template("web/link_refused.html", message=words[reason], reason=reason.value), \
        REFUSED_STATUS[reason]


def _uploads(form: forms.Form) -> list[processes.Upload]:
    """The files posted for the form's attachment fields (a contractor's own documents), stored with the form."""
    found = []
    for field in form_html.fields(form, chosen_language()):
        upload = request.files.get(field.name) if field.widget == "file" else None
        if upload and upload.filename:
            found.append(processes.Upload(field=field.name, filename=upload.filename,
                                          content_type=upload.mimetype or "", content=upload.read()))
    return found


def _grant(token: str) -> LinkGrant:
    return processes.grant_for(get_database(), token, keys=link_keys(), address=client_address())


def _forms(page: processes.LinkPage, posted: Mapping[str, tuple[Mapping[str, Any], Mapping[str, str]]]
           ) -> list[dict[str, Any]]:
    language = chosen_language()
    shown = []
    for task in page.tasks:
        if not task.form_name or not forms.form_exists(task.form_name):
            continue
        form = forms.get_form(task.form_name)
        data, errors = posted.get(task.id, ({}, {}))
        found = form_html.fields(form, language)
        shown.append({
            "task": task, "form": form, "sections": form_html.sections(form, language), "data": data,
            "errors": {path: translate_message(message, language) for path, message in errors.items()},
            "error_labels": {path: form_html.path_label(found, path, language) for path in errors},
            "form_title": form_html.title(form, language), "form_description": form_html.description(form, language),
        })
    return shown


def _message_forms(grant: LinkGrant, posted: Mapping[str, tuple[Mapping[str, Any], Mapping[str, str]]]
                   ) -> list[dict[str, Any]]:
    """The messages the link may post into its case now (the catching event's ``senders`` name ``link``)."""
    language = chosen_language()
    shown = []
    for message in processes.case_messages(get_database(), grant.case_id, actor=grant):
        data, errors = posted.get(message.name, ({}, {}))
        item: dict[str, Any] = {"message": message, "sections": [], "data": data, "errors": {},
                                "error_labels": {}, "form_description": ""}
        if message.form_name and forms.form_exists(message.form_name):
            form = forms.get_form(message.form_name)
            found = form_html.fields(form, language)
            item.update(sections=form_html.sections(form, language), form_description=form_html.description(
                form, language), errors={path: translate_message(text, language) for path, text in errors.items()},
                error_labels={path: form_html.path_label(found, path, language) for path in errors})
        shown.append(item)
    return shown


def _page(token: str, grant: LinkGrant, posted: Mapping[str, Any], status: int,
          posted_messages: Mapping[str, Any] | None = None) -> ResponseReturnValue:
    page = processes.link_page(get_database(), grant)
    return render_template("web/link.html", token=token, page=page, items=_forms(page, posted),
                           messages=_message_forms(grant, posted_messages or {}),
                           done=request.args.get("done") == "1"), status


@bp.get("/<token>")
def page(token: str) -> ResponseReturnValue:
    """The tasks the link grants, each with its form."""
    try:
        grant = _grant(token)
    except processes.LinkRefused as refused:
        return _refused(refused.reason)
    except TooManyAttempts:
        return render_template("web/link_refused.html", message=_("Too many tries. Wait a while and try again."),
                               reason="throttled"), 429
    try:
        return _page(token, grant, {}, 200)
    except processes.LinkRefused as refused:
        return _refused(refused.reason)


@bp.post("/<token>/tasks/<task_id>")
def complete(token: str, task_id: str) -> ResponseReturnValue:
    """Complete one granted task with its form; it is in the history as "link for <name/e-mail>"."""
    try:
        grant = _grant(token)
    except processes.LinkRefused as refused:
        return _refused(refused.reason)
    database = get_database()
    found = processes.get_task(database, task_id, actor=grant)
    if not found.form_name or not forms.form_exists(found.form_name):
        raise NotFound(f"task {task_id!r} has no form")
    form = forms.get_form(found.form_name)
    uploads = _uploads(form) if request.files else []
    for upload in uploads:
        processes.check_upload(upload.content)  # an empty or too large file is the upload's error, not the form's
    posted = list(request.form.items(multi=True))

    def data_with(files: Mapping[str, str]) -> dict[str, Any]:
        return form_html.parse_submission(form, posted, files)

    try:
        processes.work_on_task(database, task_id, data_with=data_with, uploads=uploads, actor=grant)
    except InvalidData as error:
        return _page(token, grant, {task_id: (data_with({}), error.fields)}, 422)
    except Conflict:
        return _page(token, grant, {}, 409)
    return redirect(url_for("links_page.page", token=token, done="1"), code=303)


@bp.post("/<token>/messages/<name>")
def message(token: str, name: str) -> ResponseReturnValue:
    """Post a message into the link's case (a change of scope, an incident) when the event waiting for it
    lets links send it (``senders`` names ``link``); it is in the history as "link for <name/e-mail>"."""
    try:
        grant = _grant(token)
    except processes.LinkRefused as refused:
        return _refused(refused.reason)
    database = get_database()
    offered = {m.name: m for m in processes.case_messages(database, grant.case_id, actor=grant)}
    found = offered.get(name)
    if found is None:
        raise Forbidden(f"this link may not send {name!r} now")
    data: dict[str, Any] = {}
    if found.form_name and forms.form_exists(found.form_name):
        data = form_html.parse_submission(forms.get_form(found.form_name), request.form.items(multi=True))
    try:
        processes.send_link_message(database, grant, name, data=data)
    except InvalidData as error:
        return _page(token, grant, {}, 422, {name: (data, error.fields)})
    except Conflict:
        return _page(token, grant, {}, 409)
    return redirect(url_for("links_page.page", token=token, done="1"), code=303)


# --- a start link: a person without an account starts a case (issue #14) ---------------------------------

def _start_page(token: str, grant: StartGrant, data: Mapping[str, Any], errors: Mapping[str, str],
                status: int) -> ResponseReturnValue:
    page = processes.start_link_page(get_database(), grant)
    language = chosen_language()
    form = forms.get_form(page.form.name) if page.form is not None and forms.form_exists(page.form.name) else None
    found = form_html.fields(form, language) if form is not None else []
    return render_template(
        "web/start_link.html", token=token, page=page, data=data,
        sections=form_html.sections(form, language) if form is not None else [],
        errors={path: translate_message(message, language) for path, message in errors.items()},
        error_labels={path: form_html.path_label(found, path, language) for path in errors},
        form_title=form_html.title(form, language) if form is not None else "",
        form_description=form_html.description(form, language) if form is not None else ""), status


@bp.route("/start/<token>", methods=["GET", "POST"])
def start_page(token: str) -> ResponseReturnValue:
    """The start form of the link's process (GET); start the case with the person as its starter (POST)."""
    try:
        grant = processes.start_grant_for(get_database(), token, keys=link_keys(), address=client_address())
    except processes.LinkRefused as refused:
        return _refused(refused.reason)
    except TooManyAttempts:
        return render_template("web/link_refused.html", message=_("Too many tries. Wait a while and try again."),
                               reason="throttled"), 429
    if request.method == "GET":
        return _start_page(token, grant, {}, {}, 200)
    page = processes.start_link_page(get_database(), grant)
    data: dict[str, Any] = {}
    if page.form is not None and forms.form_exists(page.form.name):
        data = form_html.parse_submission(forms.get_form(page.form.name), list(request.form.items(multi=True)))
    try:
        case_id = processes.start_case_by_link(get_database(), grant, data=data)
    except InvalidData as error:
        return _start_page(token, grant, data, error.fields, 422)
    except processes.LinkRefused as refused:
        return _refused(refused.reason)
    return render_template("web/start_link_done.html", case_id=case_id, page=page), 201
