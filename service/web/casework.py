"""Case work (*sagsbehandling*): start a case, fill in a task's form, read a case with its decisions and diagram.

Forms are drawn from their JSON Schema by `forms.html`; what the browser posts is turned back into JSON by
`forms.html.parse_submission` and judged by the use case (`processes` validates every form), so an invalid
form comes back as `InvalidData` with a message per field, shown by the field with status 422.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

import forms
import processes
from forms import html as form_html
from forms.messages import translate as translate_message
from processes.errors import InvalidData, NotFound
from processes.views import CaseView, DecisionView, FormView, UserView
from service import metrics
from service.extensions import get_database
from service.i18n import words
from service.web.session import chosen_language, current_web_user, login_required

bp = Blueprint("casework", __name__)

CASE_STATUS_WORDS: dict[str, Any] = {
    "running": _l("Running"),
    "completed": _l("Completed"),
    "rejected": _l("Rejected"),
    "cancelled": _l("Cancelled"),
    "error": _l("Stopped by an error"),
}

@bp.context_processor
def _template_helpers() -> dict[str, Any]:
    return {"forms_html": form_html, "case_status_words": CASE_STATUS_WORDS}


def _user() -> UserView:
    user = current_web_user()
    assert user is not None  # login_required
    return user


def _startable(user: UserView) -> list[processes.views.ProcessView]:
    found = processes.list_processes(get_database(), actor=user)
    return [process for process in found if process.start_form and forms.form_exists(process.start_form)]


def _form_page(form: forms.Form, data: Mapping[str, Any], errors: Mapping[str, str]) -> dict[str, Any]:
    """What the form macros need: the sections in the chosen language, the values and the messages."""
    language = chosen_language()
    found = form_html.fields(form, language)
    labelled = {path: form_html.path_label(found, path, language) for path in errors}
    shown = {path: translate_message(message, language) for path, message in errors.items()}
    return {"form": form, "sections": form_html.sections(form, language), "data": data, "errors": shown,
            "error_labels": labelled, "form_title": form_html.title(form, language),
            "form_description": form_html.description(form, language)}


def _uploads(form: forms.Form) -> list[processes.Upload]:
    """The files posted for the form's attachment fields (stored with the form, in its transaction)."""
    found = []
    for field in form_html.fields(form, chosen_language()):
        upload = request.files.get(field.name) if field.widget == "file" else None
        if upload and upload.filename:
            found.append(processes.Upload(field=field.name, filename=upload.filename,
                                          content_type=upload.mimetype or "", content=upload.read()))
    return found


@bp.get("/start")
@login_required
def start_list() -> ResponseReturnValue:
    """The processes I may start, each with its start form."""
    language = chosen_language()
    items = [(process, form_html.title(forms.get_form(process.start_form or ""), language))
             for process in _startable(_user())]
    return render_template("web/casework/start_list.html", items=items)


def _start_page(process: str, data: Mapping[str, Any], errors: Mapping[str, str], status: int) -> ResponseReturnValue:
    found = next((item for item in _startable(_user()) if item.key == process), None)
    if found is None:
        raise NotFound(f"no process {process!r} to start")
    page = _form_page(forms.get_form(found.start_form or ""), data, errors)
    unit = request.form.get("unit", "")
    related = request.values.get("related_case") or None  # started from this case (property startedFrom)
    return render_template("web/casework/start.html", process=found, unit=unit, related_case=related,
                           **page), status


@bp.route("/start/<process>", methods=["GET", "POST"])
@login_required
def start(process: str) -> ResponseReturnValue:
    """A process's start form (GET); start a case in one of my units with it (POST)."""
    if request.method == "GET":
        return _start_page(process, {}, {}, 200)
    start_form = next((item.start_form for item in _startable(_user()) if item.key == process), None)
    if start_form is None:
        raise NotFound(f"no process {process!r} to start")
    data = form_html.parse_submission(forms.get_form(start_form), request.form.items(multi=True))
    try:
        related = request.form.get("related_case") or None
        case = processes.start_case(get_database(), process=process, unit=request.form.get("unit") or None,
                                    data=data, actor=_user(), related_case=related)
    except InvalidData as error:
        return _start_page(process, data, error.fields, 422)
    metrics.count_steps("start")
    flash(_("The case has been started."), "success")
    return redirect(url_for("casework.case", case_id=case.id), code=303)


def _task_form(view: FormView) -> forms.Form:
    """The form of the task's own process version (its bundle), not necessarily the file shipped now."""
    return forms.form_from_documents(view.name, view.schema, view.ui)


def _task_page(task_id: str, data: Mapping[str, Any] | None, errors: Mapping[str, str],
               status: int) -> ResponseReturnValue:
    user, database = _user(), get_database()
    task = processes.get_task(database, task_id, actor=user)
    if task.form is None:
        raise NotFound(f"task {task_id!r} has no form")
    draft = processes.get_draft(database, task_id, actor=user)
    values = data if data is not None else (draft or {})
    case = processes.get_case(database, task.case_id, actor=user)
    page = _form_page(_task_form(task.form), values, errors)
    return render_template("web/casework/task.html", task=task, case=case, has_draft=draft is not None,
                           summary=_summary(case), decisions=_decisions(case), **page), status


@bp.get("/tasks/<task_id>")
@login_required
def task(task_id: str) -> ResponseReturnValue:
    """A task's form, with the saved draft if there is one, and the case beside it."""
    return _task_page(task_id, None, {}, 200)


@bp.post("/tasks/<task_id>")
@login_required
def work_task(task_id: str) -> ResponseReturnValue:
    """Complete the task with the posted form (action=complete), or keep it as a draft (action=draft)."""
    user, database = _user(), get_database()
    found = processes.get_task(database, task_id, actor=user)
    if found.form is None:
        raise NotFound(f"task {task_id!r} has no form")
    form = _task_form(found.form)
    uploads = _uploads(form) if request.files else []
    for upload in uploads:
        processes.check_upload(upload.content)  # an empty or too large file is the upload's error, not the form's
    posted = list(request.form.items(multi=True))

    def data_with(files: Mapping[str, str]) -> dict[str, Any]:
        return form_html.parse_submission(form, posted, files)

    draft = request.form.get("action") == "draft"
    try:
        processes.work_on_task(database, task_id, data_with=data_with, uploads=uploads, draft=draft, actor=user)
    except InvalidData as error:
        if draft:
            raise
        return _task_page(task_id, data_with({}), error.fields, 422)
    if draft:
        flash(_("Draft saved."), "success")
        return redirect(url_for("casework.task", task_id=task_id), code=303)
    metrics.count_steps("complete")
    flash(_("“%(title)s” is completed.", title=words(found.title, found.title_en)), "success")
    return redirect(url_for("queue.index"), code=303)


# --- the case page ------------------------------------------------------------------------------------

def _known_forms(case: CaseView) -> list[forms.Form]:
    """The forms whose labels name the case data: the open tasks' forms first, then every other form."""
    names = [task.form_name for task in case.tasks if task.form_name] + forms.form_names()
    return [forms.get_form(name) for name in dict.fromkeys(names) if forms.form_exists(name)]


def _summary(case: CaseView, references: list[processes.views.CaseReference] | None = None
             ) -> list[form_html.Entry]:
    """The case data in words; a field naming another case (``references``) is left out here, it is shown
    as a link (``_reference_links``)."""
    decided = {decision.ruleset for decision in case.decisions}
    data = {key: value for key, value in case.data.items() if key not in decided}
    for reference in references or []:
        *parents, leaf = reference.path.split(".")
        holder: dict[str, Any] | None = data
        for part in parents:
            inner = holder.get(part) if holder is not None else None
            if holder is None or not isinstance(inner, Mapping):
                holder = None
                break
            holder[part] = dict(inner)  # a copy: the case's own data stays as it is
            holder = holder[part]
        if holder is not None:
            holder.pop(leaf, None)
    return form_html.describe_data(data, _known_forms(case), chosen_language())


def _reference_links(case: CaseView, references: list[processes.views.CaseReference]) -> list[dict[str, Any]]:
    """Each case named in the data as a label and a link: the other case's title if the reader may read it,
    else its short id."""
    known, language, links = _known_forms(case), chosen_language(), []
    for reference in references:
        parts = reference.path.split(".")
        named = [entry.label for entry in form_html.describe_data({parts[0]: ""}, known, language)]
        label = " \N{EN DASH} ".join([*named, *(part.replace("_", " ") for part in parts[1:])])
        title = words(reference.title, reference.title_en) if reference.readable else ""
        links.append({"label": label, "case_id": reference.case_id, "path": reference.path,
                      "text": title or _("Case %(id)s", id=reference.case_id[:8])})
    return links


def _decisions(case: CaseView) -> list[dict[str, Any]]:
    """Each decision with its fired rules in words in the chosen language, and their legal source."""
    language, shown = chosen_language(), []
    for decision in case.decisions:
        try:
            texts = processes.describe_rules(decision.ruleset)
            labels = processes.decision_labels(decision.ruleset)
            values, sources = processes.decision_value_words(decision.ruleset)
        except NotFound:
            texts, labels, values, sources = {}, {}, {}, {}
        rules = [{"id": rule, "text": texts.get(rule, {}).get(language, ""),
                  "source": texts.get(rule, {}).get("source", "")} for rule in decision.fired]
        named = _value_names(decision, values, sources, case, language)
        shown.append({"view": decision, "rules": rules, "outcome": _outcome(decision, labels, named, language)})
    return shown


def _value_names(decision: DecisionView, values: Mapping[str, Mapping[str, Mapping[str, str]]],
                 sources: Mapping[str, str], case: CaseView, language: str) -> dict[str, dict[str, str]]:
    """Decision field -> value -> its name for people: the rule set's ``value_titles``; a list of missing
    items by the labels the forms give the choices of the case data field it comes from."""
    named = {key: {value: text.get(language, value) for value, text in found.items()}
             for key, found in values.items()}
    for key, source in sources.items():
        items = decision.decision.get(key)
        if isinstance(items, list) and items:
            known = _known_forms(case)
            named[key] = {str(item): entries[0].text if (entries := form_html.describe_data(
                {source: [item]}, known, language)) else str(item) for item in items} | named.get(key, {})
    return named


def _outcome_text(value: Any, named: Mapping[str, str]) -> str:
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, list):
        return "; ".join(named.get(str(item), str(item)) for item in value) or "\N{EN DASH}"
    return named.get(str(value), str(value)) if value is not None else "\N{EN DASH}"


def _outcome(
    decision: DecisionView, labels: Mapping[str, Mapping[str, str]],
    named: Mapping[str, Mapping[str, str]], language: str,
) -> list[tuple[str, str]]:
    """The decision's values as (name, text) pairs, fields and values named as the rule set names them
    (lists of missing items as the forms name them); {da, en} values too."""
    return [(labels.get(key, {}).get(language) or key.replace("_", " ").capitalize(),
             str(value[language]) if isinstance(value, Mapping) and language in value
             else _outcome_text(value, named.get(key, {})))
            for key, value in decision.decision.items()]


def _history(page: processes.HistoryPage) -> list[dict[str, Any]]:
    """A page of the case's events with each kind in words in the chosen language."""
    language = chosen_language()
    return [{"entry": entry, "kind": processes.AuditKind(entry.kind).words[language]} for entry in page.entries]


@bp.get("/cases/<case_id>")
@login_required
def case(case_id: str) -> ResponseReturnValue:
    """A case: data, decisions with their rules, its recent history, comments, attachments and the diagram."""
    user, database = _user(), get_database()
    found = processes.get_case(database, case_id, actor=user)
    xml, passed, waiting = processes.case_diagram(database, case_id, actor=user)
    xml = processes.diagram_in_language(xml, chosen_language())
    recent = processes.case_history(database, case_id, actor=user, hide_bookkeeping=True)
    messages = processes.case_messages(database, case_id, actor=user)
    references = processes.case_references(database, case_id, actor=user)
    return render_template(
        "web/casework/case.html", case=found, summary=_summary(found, references),
        case_links=_reference_links(found, references), decisions=_decisions(found),
        history=_history(recent), history_next=recent.next_cursor,
        comments=processes.list_comments(database, case_id, actor=user),
        attachments=processes.list_attachments(database, case_id, actor=user),
        diagram={"passed": passed, "waiting": waiting}, passed_steps=processes.passed_step_names(xml, passed),
        messages=messages, one_tap=_one_tap(messages),
        related_starts=processes.related_starts(database, case_id, actor=user),
        overviews=processes.case_overviews(database, case_id, actor=user),
    )


def _one_tap(messages: list[processes.views.MessageView]) -> set[str]:
    """The messages sent with one tap from the case page: their form asks for nothing (a check-in)."""
    return {message.name for message in messages
            if message.form_name and forms.form_exists(message.form_name)
            and not forms.get_form(message.form_name).schema.get("required")}


@bp.get("/cases/<case_id>/history")
@login_required
def case_history(case_id: str) -> ResponseReturnValue:
    """Older events of a case, a page at a time (`?before=` the cursor the newer page linked with)."""
    before = request.args.get("before") or None
    page = processes.case_history(get_database(), case_id, actor=_user(), before=before, hide_bookkeeping=True)
    return render_template("web/casework/history.html", case_id=case_id, history=_history(page),
                           history_next=page.next_cursor, first_page=before is None)


# --- a BPMN message into the case ("report a change", "first day of absence") ------------------------------

def _message_page(case_id: str, name: str, data: Mapping[str, Any], errors: Mapping[str, str],
                  status: int) -> ResponseReturnValue:
    offered = {message.name: message for message in processes.case_messages(get_database(), case_id, actor=_user())}
    message = offered.get(name)
    if message is None:
        raise NotFound(f"the case takes no message {name!r} now")
    page: dict[str, Any] = {"sections": [], "data": data, "errors": errors, "error_labels": {},
                            "form_title": message.title, "form_description": ""}
    if message.form_name and forms.form_exists(message.form_name):
        page = _form_page(forms.get_form(message.form_name), data, errors)
    return render_template("web/casework/message.html", case_id=case_id, message=message, **page), status


@bp.route("/cases/<case_id>/messages/<name>", methods=["GET", "POST"])
@login_required
def message(case_id: str, name: str) -> ResponseReturnValue:
    """The form of a message the case can take now (GET); deliver it and run the case on (POST)."""
    if request.method == "GET":
        return _message_page(case_id, name, {}, {}, 200)
    offered = {m.name: m for m in processes.case_messages(get_database(), case_id, actor=_user())}
    found = offered.get(name)
    if found is None:
        raise NotFound(f"the case takes no message {name!r} now")
    data: dict[str, Any] = {}
    if found.form_name and forms.form_exists(found.form_name):
        data = form_html.parse_submission(forms.get_form(found.form_name), request.form.items(multi=True))
    try:
        processes.send_message(get_database(), case_id, name, data=data, actor=_user())
    except InvalidData as error:
        return _message_page(case_id, name, data, error.fields, 422)
    metrics.count_steps("message")
    flash(_("“%(title)s” is received by the case.", title=found.title), "success")
    return redirect(url_for("casework.case", case_id=case_id), code=303)


@bp.post("/cases/<case_id>/comments")
@login_required
def add_comment(case_id: str) -> ResponseReturnValue:
    """Add a comment to a case I may read."""
    processes.add_comment(get_database(), case_id, body=request.form.get("body", ""), actor=_user())
    flash(_("Comment added."), "success")
    return redirect(url_for("casework.case", case_id=case_id, _anchor="comments"), code=303)


@bp.post("/cases/<case_id>/attachments")
@login_required
def add_attachment(case_id: str) -> ResponseReturnValue:
    """Attach a file to a case I may read."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise InvalidData("no file", fields={"file": "choose a file"})
    processes.add_attachment(get_database(), case_id, filename=upload.filename,
                            content_type=upload.mimetype or "", content=upload.read(), actor=_user())
    flash(_("Attachment added."), "success")
    return redirect(url_for("casework.case", case_id=case_id, _anchor="attachments"), code=303)


@bp.get("/cases/<case_id>/attachments/<int:attachment_id>")
@login_required
def attachment(case_id: str, attachment_id: int) -> ResponseReturnValue:
    """Download an attachment, never shown inline."""
    found, content = processes.get_attachment(get_database(), attachment_id, actor=_user())
    if found.case_id != case_id:
        raise NotFound(f"no attachment {attachment_id} on case {case_id!r}")
    response = Response(content, mimetype=found.content_type)
    response.headers.set("Content-Disposition", "attachment", filename=found.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/cases/<case_id>/diagram.xml")
@login_required
def diagram(case_id: str) -> ResponseReturnValue:
    """The BPMN XML of the case's process version, for the diagram viewer."""
    xml, _passed, _waiting = processes.case_diagram(get_database(), case_id, actor=_user())
    response = Response(processes.diagram_in_language(xml, chosen_language()), mimetype="application/xml")
    response.vary.add("Cookie")  # in the reader's language
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
