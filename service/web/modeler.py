"""The process owners' modeler pages (issue #18): the processes and their versions, the bpmn-js editor with
its properties panel, validate / draft / deploy, diff, roll back, migrate, forms, parameters and groups.

Every page is for process owners and admins (``processes.modeler.check_access``; 403 for anyone else), the
groups pages for admins. The editor talks to the ``*.json`` routes here with the session cookie and the
page's CSRF token (header ``X-CSRFToken``); they answer errors as the API does, ``{"error": {...}}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

import forms
from forms import html as form_html
from processes import access, bundleedits, casemoves, modeler, spiffarena
from processes import errors as domain
from processes.views import UserView
from service.errors import STATUS_BY_DOMAIN_ERROR, error_response
from service.extensions import get_database
from service.web.errors import error_page
from service.web.session import chosen_language, current_web_user

bp = Blueprint("modeler_pages", __name__, url_prefix="/modeler")

MAX_JSON = 2_000_000


@bp.before_request
def _only_process_owners() -> ResponseReturnValue | None:
    if current_web_user() is None:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    modeler.check_access(get_database(), current_web_user())
    return None


@bp.errorhandler(domain.ProcessError)
def _error(error: domain.ProcessError) -> ResponseReturnValue:
    """The editor's JSON routes answer errors in JSON (with every problem of a refused deploy); pages as pages."""
    if not (request.endpoint or "").endswith("_json"):
        return error_page(error)
    status = next((code for cls, code in STATUS_BY_DOMAIN_ERROR.items() if isinstance(error, cls)), 500)
    response, status = error_response(status, error.code, error.message, error.fields)
    if isinstance(error, domain.InvalidModel):
        body = response.get_json()
        body["error"]["problems"] = [{"element": part.element, "message": part.message} for part in error.parts]
        response = jsonify(body)
    return response, status


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {"forms_html": form_html}


def _user() -> UserView:
    user = current_web_user()
    assert user is not None  # _only_process_owners
    return user


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True) if (request.content_length or 0) <= MAX_JSON else None
    if not isinstance(body, dict) or not isinstance(body.get("bpmn"), str) or not body["bpmn"]:
        raise domain.InvalidData("send the diagram", fields={"bpmn": "the BPMN XML is missing"})
    lanes = body.get("lanes")
    if lanes is not None and not (isinstance(lanes, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in lanes.items())):
        raise domain.InvalidData("invalid lane mapping", fields={"lanes": "an object of lane name to group"})
    return body


def _dump(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda o: o.isoformat() if hasattr(o, "isoformat") else vars(o)))


# --- the processes and the editor ----------------------------------------------------------------------------

@bp.get("/")
def index() -> ResponseReturnValue:
    """Every process with its versions: who deployed each, when, its note and the cases running on it."""
    return _index()


def _index(imported: spiffarena.Imported | None = None, refused: spiffarena.ImportRefused | None = None,
           status: int = 200) -> ResponseReturnValue:
    versions = modeler.list_versions(get_database(), _user())
    by_process: dict[str, list[modeler.VersionView]] = {}
    for version in versions:
        by_process.setdefault(version.key, []).append(version)
    drafts = modeler.draft_keys(get_database(), _user())
    return render_template("web/modeler/index.html", processes=by_process, drafts=drafts,
                           choices=modeler.choices(get_database(), _user()), imported=imported,
                           refused=refused), status


@bp.post("/imports")
def import_model() -> ResponseReturnValue:
    """Import a SpiffArena process model folder (a .zip of it, or its files): what was imported, or every
    problem at once with the groups an administrator must create first."""
    uploads = [(upload.filename or "", upload.read()) for upload in request.files.getlist("files")]
    uploads = [(name, content) for name, content in uploads if name or content]  # an empty file input sends one
    try:
        if not uploads:
            raise spiffarena.ImportRefused(domain.InvalidModel(_("Choose a .zip of the model folder or its files.")),
                                           [])
        imported = spiffarena.import_upload(get_database(), uploads, actor=_user())
    except spiffarena.ImportRefused as refused:
        return _index(refused=refused, status=422)
    return _index(imported=imported)


@bp.get("/edit/<key>")
def edit(key: str) -> ResponseReturnValue:
    """The editor on a version (``?version=N``), the draft (``?draft=1``) or a new blank diagram (``?name=``)."""
    db, user = get_database(), _user()
    version = request.args.get("version", type=int)
    lanes: Mapping[str, str] = {}
    if request.args.get("draft"):
        draft = modeler.get_draft(db, user, key)
        source, lanes, based_on = url_for(".draft_xml", key=key), draft.lanes, draft.based_on
    elif version is not None or not request.args.get("new"):
        number, _xml, lanes = modeler.version_xml(db, user, key, version)
        source, based_on = url_for(".version_xml", key=key, version=number), number
    else:
        source, based_on = url_for(".blank_xml", key=key, name=request.args.get("name", "")), None
    return render_template("web/modeler/edit.html", key=key, source=source, lanes=dict(lanes), based_on=based_on,
                           choices=modeler.choices(db, user))


@bp.post("/new")
def new_process() -> ResponseReturnValue:
    """Open the editor on a blank diagram for a new process key."""
    key, name = request.form.get("key", "").strip(), request.form.get("name", "").strip()
    if not forms.is_valid_name(key):
        flash(_("A process key is a lower-case letter, then lower-case letters, digits or '_'."), "error")
        return redirect(url_for(".index"), code=303)
    return redirect(url_for(".edit", key=key, new=1, name=name), code=303)


def _xml(text: str) -> Response:
    return Response(text, mimetype="application/xml")


@bp.get("/processes/<key>/versions/<int:version>.bpmn")
def version_xml(key: str, version: int) -> ResponseReturnValue:
    """A deployed version's BPMN."""
    return _xml(modeler.version_xml(get_database(), _user(), key, version)[1])


@bp.get("/drafts/<key>.bpmn")
def draft_xml(key: str) -> ResponseReturnValue:
    """The process's draft BPMN."""
    return _xml(modeler.get_draft(get_database(), _user(), key).bpmn_xml)


@bp.get("/blank/<key>.bpmn")
def blank_xml(key: str) -> ResponseReturnValue:
    """A new process's diagram."""
    if not forms.is_valid_name(key):
        raise domain.NotFound(f"no process {key!r}")
    return _xml(modeler.blank_diagram(key, request.args.get("name", "")))


@bp.post("/validate.json")
def validate_json() -> ResponseReturnValue:
    """Every problem of the diagram at once, each by element id; lanes naming no group; bpmnlint's advice."""
    body = _body()
    result = modeler.validate(get_database(), _user(), body["bpmn"].encode(), lanes=body.get("lanes"))
    return jsonify(ok=result.ok, process=result.key, problems=_dump(result.problems),
                   unknown_lanes=result.unknown_lanes, lint=_dump(result.lint))


@bp.post("/drafts.json")
def draft_json() -> ResponseReturnValue:
    """Keep the diagram as its process's draft."""
    body = _body()
    draft = modeler.save_draft(get_database(), _user(), body["bpmn"].encode(), lanes=body.get("lanes"),
                               based_on=body.get("based_on") if isinstance(body.get("based_on"), int) else None)
    return jsonify(process=draft.key, updated_at=draft.updated_at.isoformat())


@bp.post("/deploy.json")
def deploy_json() -> ResponseReturnValue:
    """Deploy the diagram as its process's next version with the change note."""
    body = _body()
    note = body.get("note") if isinstance(body.get("note"), str) else None
    view = modeler.deploy_version(get_database(), _user(), body["bpmn"].encode(), note=note, lanes=body.get("lanes"))
    return jsonify(process=view.key, version=view.version, url=url_for(".index", _anchor=f"p-{view.key}")), 201


@bp.post("/groups.json")
def group_json() -> ResponseReturnValue:
    """Create a group named by a lane (admins)."""
    body = request.get_json(silent=True) or {}
    code, name = str(body.get("code", "")), str(body.get("name", ""))
    view = modeler.create_group(get_database(), _user(), code, name)
    return jsonify(code=view.code, name=view.name), 201


# --- versions: diff, roll back, migrate ------------------------------------------------------------------------

def _two_versions() -> tuple[int, int]:
    old, new = request.values.get("from", type=int), request.values.get("to", type=int)
    if old is None or new is None:
        raise domain.InvalidData("choose two versions", fields={"from": "a version", "to": "a version"})
    return old, new


@bp.get("/processes/<key>/diff")
def diff(key: str) -> ResponseReturnValue:
    """The elements added, removed and changed between two versions, listed and marked on the diagram."""
    old, new = _two_versions()
    changes = modeler.diff_versions(get_database(), _user(), key, old, new)
    return render_template("web/modeler/diff.html", key=key, old=old, new=new, changes=changes)


@bp.post("/processes/<key>/rollback")
def roll_back(key: str) -> ResponseReturnValue:
    """Deploy an older version again as the newest."""
    version = request.form.get("version", type=int)
    if version is None:
        raise domain.InvalidData("choose a version", fields={"version": "a version"})
    view = modeler.roll_back(get_database(), _user(), key, version, note=request.form.get("note"))
    flash(_("Version %(old)s is deployed again as version %(new)s.", old=version, new=view.version), "success")
    return redirect(url_for(".index", _anchor=f"p-{key}"), code=303)


@bp.route("/processes/<key>/migrate", methods=["GET", "POST"])
def migrate(key: str) -> ResponseReturnValue:
    """The dry run (GET): which running cases can move and why not; POST moves the movable ones."""
    old, new = _two_versions()
    run = casemoves.migrate_cases if request.method == "POST" else casemoves.migration_plan
    moves = run(get_database(), _user(), key, old, new)
    return render_template("web/modeler/migrate.html", key=key, old=old, new=new, moves=moves,
                           done=request.method == "POST")


# --- forms and parameters ----------------------------------------------------------------------------------

def _form_preview(name: str, schema: Any, ui: Any) -> str:
    """The form as the task page draws it (raises forms.InvalidForm for a schema that is not one)."""
    form = forms.form_from_documents(name, schema, ui or {})
    language = chosen_language()
    return render_template("web/modeler/_preview.html", sections=form_html.sections(form, language),
                           form_title=form_html.title(form, language))


def _parsed(text: str, field: str) -> Any:
    try:
        return json.loads(text) if text.strip() else {}
    except ValueError as exc:
        raise domain.InvalidData(_("Not valid JSON: %(error)s", error=str(exc)), fields={field: str(exc)}) from None


@bp.get("/processes/<key>/forms")
def process_forms(key: str) -> ResponseReturnValue:
    """The forms and parameters the newest version of a process uses."""
    documents = bundleedits.process_documents(get_database(), _user(), key)
    return render_template("web/modeler/forms.html", key=key, documents=documents)


@bp.route("/processes/<key>/forms/<form>", methods=["GET", "POST"])
def edit_form(key: str, form: str) -> ResponseReturnValue:
    """A form's JSON Schema and UI hints with a live preview; saving deploys a new version of the process."""
    documents = bundleedits.process_documents(get_database(), _user(), key)
    if form not in documents["forms"]:
        raise domain.NotFound(f"process {key!r} uses no form {form!r}")
    found = documents["forms"][form]
    schema_text = request.form.get("schema", json.dumps(found["schema"], ensure_ascii=False, indent=2))
    ui_text = request.form.get("ui", json.dumps(found["ui"] or {}, ensure_ascii=False, indent=2))
    error, preview, status = None, "", 200
    try:
        schema, ui = _parsed(schema_text, "schema"), _parsed(ui_text, "ui")
        preview = _form_preview(form, schema, ui)
        if request.method == "POST":
            view = bundleedits.change_form(get_database(), _user(), key, form, schema=schema, ui=ui,
                                       note=request.form.get("note"))
            flash(_("The form is saved as version %(version)s.", version=view.version), "success")
            return redirect(url_for(".edit_form", key=key, form=form), code=303)
    except (domain.InvalidData, forms.InvalidForm) as exc:
        error, status = str(getattr(exc, "message", exc)), 422
    return render_template("web/modeler/form.html", key=key, form=form, schema_text=schema_text, ui_text=ui_text,
                           preview=preview, error=error), status


@bp.post("/processes/<key>/forms/<form>/preview.json")
def preview_json(key: str, form: str) -> ResponseReturnValue:
    """The live preview: the form drawn from the posted schema, or why the schema is not a valid form."""
    body = request.get_json(silent=True) or {}
    try:
        html = _form_preview(form, body.get("schema"), body.get("ui"))
    except forms.InvalidForm as exc:
        return error_response(422, "invalid_form", str(exc), {"schema": str(exc)})
    return jsonify(html=html)


@bp.route("/processes/<key>/parameters", methods=["GET", "POST"])
def parameters(key: str) -> ResponseReturnValue:
    """The effective-dated parameters; a new value from a valid-from date deploys a new version."""
    if request.method == "POST":
        name = request.form.get("parameter", "")
        value = _parsed(request.form.get("value", ""), "value")
        view = bundleedits.add_parameter_value(get_database(), _user(), key, name, value=value,
                                           valid_from=request.form.get("valid_from", ""),
                                           note=request.form.get("note"))
        flash(_("The new value is saved as version %(version)s.", version=view.version), "success")
        return redirect(url_for(".parameters", key=key), code=303)
    documents = bundleedits.process_documents(get_database(), _user(), key)
    dated = {name: entries for name, entries in documents["parameters"].items()
             if isinstance(entries, list) and not name.startswith("$")}
    return render_template("web/modeler/parameters.html", key=key, parameters=dated)


# --- groups (admins) -----------------------------------------------------------------------------------------

@bp.route("/groups", methods=["GET", "POST"])
def groups() -> ResponseReturnValue:
    """The groups and their members (admins); POST creates a group."""
    db, user = get_database(), _user()
    modeler.check_access(db, user, access.GROUPS)
    if request.method == "POST":
        code = modeler.create_group(db, user, request.form.get("code", "").strip(), request.form.get("name", "")).code
        flash(_("Group %(code)s is created.", code=code), "success")
        return redirect(url_for(".groups", _anchor=f"g-{code}"), code=303)
    return render_template("web/modeler/groups.html", groups=modeler.list_groups(db, user))


@bp.post("/groups/<code>/members")
def members(code: str) -> ResponseReturnValue:
    """Add a user to a group or take them out (admins)."""
    modeler.set_membership(get_database(), _user(), code, request.form.get("username", "").strip(),
                           member=request.form.get("member") != "0")
    return redirect(url_for(".groups", _anchor=f"g-{code}"), code=303)
