"""The process owners' modeler API (issue #18): validate, drafts, deploy with a note, versions, diff, roll back,
migrate running cases, forms and rule data; groups. Every route is for process owners and admins (403 for
anyone else, decided by ``processes.access.may``); creating groups and members is for admins."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from flask import Blueprint, jsonify, request

from processes import bundleedits, casemoves, modeler, spiffarena
from processes.errors import InvalidData
from service.api.parsing import json_body, query_args
from service.auth import current_user
from service.errors import InvalidBody, error_response
from service.extensions import get_database
from service.modeler_schemas import (
    BlankQuery,
    DeployRequest,
    DiagramRequest,
    DiffQuery,
    FormRequest,
    GroupRequest,
    MemberRequest,
    MigrationRequest,
    ParameterRequest,
    RollbackRequest,
)

bp = Blueprint("modeler", __name__, url_prefix="/modeler")


@bp.before_request
def _only_process_owners() -> None:
    modeler.check_access(get_database(), current_user())


def _dump(value: Any) -> Any:
    if isinstance(value, list):
        return [_dump(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {key: _dump(item) for key, item in dataclasses.asdict(value).items()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _validation(result: modeler.Validation) -> dict[str, Any]:
    return {"ok": result.ok, "process": result.key, "problems": _dump(result.problems),
            "unknown_lanes": result.unknown_lanes, "lint": _dump(result.lint)}


@bp.get("/processes")
def list_versions() -> Any:
    """Every deployed version of every process, with who deployed it, when, its note and running cases."""
    return {"versions": _dump(modeler.list_versions(get_database(), current_user()))}


@bp.get("/processes/<key>/versions")
def process_versions(key: str) -> Any:
    """The versions of one process, newest first."""
    return {"versions": _dump(modeler.list_versions(get_database(), current_user(), key))}


@bp.get("/processes/<key>/versions/<int:version>")
def get_version(key: str, version: int) -> Any:
    """One version's BPMN and lane mapping, to open in the modeler."""
    number, xml, lanes = modeler.version_xml(get_database(), current_user(), key, version)
    return {"process": key, "version": number, "bpmn": xml, "lanes": lanes}


@bp.post("/validate")
def validate() -> Any:
    """Run the deploy checks: every problem at once, each with its element id; lanes naming no group."""
    body = json_body(DiagramRequest())
    return _validation(modeler.validate(get_database(), current_user(), body["bpmn"].encode(), lanes=body["lanes"]))


@bp.post("/drafts")
def save_draft() -> Any:
    """Keep the diagram as its process's draft."""
    body = json_body(DiagramRequest())
    draft = modeler.save_draft(get_database(), current_user(), body["bpmn"].encode(), lanes=body["lanes"],
                               based_on=body["based_on"])
    return _dump(draft)


@bp.get("/drafts/<key>")
def get_draft(key: str) -> Any:
    """The process's draft."""
    return _dump(modeler.get_draft(get_database(), current_user(), key))


@bp.post("/deploy")
def deploy() -> Any:
    """Deploy the diagram as the next version of its process, with a change note."""
    body = json_body(DeployRequest())
    version = modeler.deploy_version(get_database(), current_user(), body["bpmn"].encode(), note=body["note"],
                                     lanes=body["lanes"])
    return _dump(version), 201


@bp.get("/processes/<key>/diff")
def diff(key: str) -> Any:
    """The elements added, removed and changed between two versions, by element id."""
    query = query_args(DiffQuery())
    return modeler.diff_versions(get_database(), current_user(), key, query["from_version"], query["to_version"])


@bp.post("/processes/<key>/rollback")
def roll_back(key: str) -> Any:
    """Deploy an older version (with its own forms and rule data) again as the newest."""
    body = json_body(RollbackRequest())
    return _dump(modeler.roll_back(get_database(), current_user(), key, body["version"], note=body["note"])), 201


@bp.post("/processes/<key>/migrations")
def migrate(key: str) -> Any:
    """Move the running cases of a version to a newer one (dry_run: only say which can move and why not)."""
    body = json_body(MigrationRequest())
    run = casemoves.migration_plan if body["dry_run"] else casemoves.migrate_cases
    cases = run(get_database(), current_user(), key, body["from_version"], body["to_version"])
    return {"dry_run": body["dry_run"], "cases": _dump(cases)}


@bp.get("/processes/<key>/documents")
def documents(key: str) -> Any:
    """The forms and parameters the newest version uses."""
    return bundleedits.process_documents(get_database(), current_user(), key)


@bp.put("/processes/<key>/forms/<form>")
def change_form(key: str, form: str) -> Any:
    """A new version of the process with this form's JSON Schema (checked as JSON Schema first)."""
    body = json_body(FormRequest())
    view = bundleedits.change_form(get_database(), current_user(), key, form, schema=body["schema"], ui=body["ui"],
                               note=body["note"])
    return _dump(view), 201


@bp.post("/processes/<key>/parameters")
def add_parameter_value(key: str) -> Any:
    """A new version of the process with a new value of an effective-dated parameter from a date."""
    body = json_body(ParameterRequest())
    view = bundleedits.add_parameter_value(get_database(), current_user(), key, body["parameter"],
                                       value=body["value"], valid_from=body["valid_from"].isoformat(),
                                       note=body["note"])
    return _dump(view), 201


@bp.get("/groups")
def list_groups() -> Any:
    """The groups and their members."""
    return {"groups": _dump(modeler.list_groups(get_database(), current_user()))}


@bp.post("/groups")
def create_group() -> Any:
    """Create a group (admins)."""
    body = json_body(GroupRequest())
    return _dump(modeler.create_group(get_database(), current_user(), body["code"], body["name"])), 201


@bp.post("/groups/<code>/members")
def set_member(code: str) -> Any:
    """Add a user to a group or take them out (admins)."""
    body = json_body(MemberRequest())
    view = modeler.set_membership(get_database(), current_user(), code, body["username"], member=body["member"])
    return _dump(view)


@bp.get("/blank")
def blank() -> Any:
    """A new process's diagram: a start and an end event in the starter's lane."""
    query = query_args(BlankQuery())
    return {"bpmn": modeler.blank_diagram(query["key"], query["name"])}



def import_refusal(error: spiffarena.ImportRefused) -> Any:
    """The 422 of a refused import: the error envelope with every problem (file, element, message) and the
    groups the model's lanes name that do not exist."""
    response, status = error_response(422, error.code, error.message, error.fields)
    body = response.get_json()
    body["error"]["problems"] = [{"file": part.filename, "element": part.element, "message": part.message}
                                 for part in error.parts]
    body["error"]["missing_groups"] = error.missing_groups
    return jsonify(body), status


IMPORT_FIELDS = {"files", "lanes", "note"}


def import_request() -> tuple[list[tuple[str, bytes]], dict[str, str] | None, str | None]:
    """The uploaded files (multipart ``files``), the lane mapping (``lanes``, a JSON object) and the note."""
    others = (set(request.files) | set(request.form)) - IMPORT_FIELDS  # a part without a name has the name None
    if others:
        raise InvalidBody("Unknown multipart field.", fields=dict.fromkeys(
            sorted(name.encode("unicode_escape").decode() if name else "_body" for name in others),
            "Unknown field: send 'files', and 'lanes' or 'note' if wanted."))
    uploads = [(upload.filename or upload.name or "", upload.read()) for upload in request.files.getlist("files")]
    uploads = [(name, content) for name, content in uploads if name or content]  # an empty file input sends one
    if not uploads:
        raise InvalidBody("No files.", fields={"files": "Send the model folder's files or one .zip of it."})
    lanes = None
    if request.form.get("lanes", "").strip():
        try:
            lanes = json.loads(request.form["lanes"])
        except ValueError:
            lanes = None
        if not (isinstance(lanes, dict) and all(isinstance(k, str) and isinstance(v, str) and 0 < len(v) <= 64
                                                 for k, v in lanes.items())):
            raise InvalidData("Invalid lane mapping.", fields={"lanes": "A JSON object of lane name to group code."})
    return uploads, lanes, request.form.get("note") or None


@bp.post("/imports")
def import_model() -> Any:
    """Import a SpiffArena process model folder (its files, or one .zip of it) as the next version of its
    process: every problem at once, and the groups its lanes name that do not exist, if refused."""
    uploads, lanes, note = import_request()
    try:
        imported = spiffarena.import_upload(get_database(), uploads, actor=current_user(), lanes=lanes, note=note)
    except spiffarena.ImportRefused as refused:
        return import_refusal(refused)
    return _dump(imported), 201
