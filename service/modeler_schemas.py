"""Request bodies of the modeler's API (issue #18) and what the OpenAPI document says of its endpoints."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

MAX_BPMN = 2_000_000
MAX_VERSION = 2**31 - 1  # a version number is a database integer: nothing larger reaches a query
_VERSION = validate.Range(min=1, max=MAX_VERSION)
_PROCESS_KEY = validate.Regexp(r"^[a-z][a-z0-9_]*$", error="A lower-case letter, then letters, digits or '_'.")
_GROUP_CODE = validate.Regexp(r"^[a-z][a-z0-9_-]*$",
                              error="A lower-case letter, then letters, digits, '_' or '-' (at most 64).")
# A change note is stripped of white space and must then say something (processes.modeler._note): one character
# that is not white space to str.strip(), spelt out since `\s` differs between Python and JavaScript regexes.
_WHITE_SPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_NOTE = [validate.Length(1, 1000), validate.Regexp(rf"^[{_WHITE_SPACE}]*[^{_WHITE_SPACE}]", error="Say what changed.")]


class LanesField(fields.Dict):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(keys=fields.String(),
                         values=fields.String(validate=validate.Length(0, 64)), **kwargs)


class DiagramRequest(Schema):
    """A diagram to check, keep as a draft or deploy."""

    bpmn = fields.String(required=True, validate=validate.Length(1, MAX_BPMN))
    lanes = LanesField(load_default=None, allow_none=True)
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(0, 1000))
    based_on = fields.Integer(load_default=None, allow_none=True, strict=True, validate=_VERSION)


class DeployRequest(DiagramRequest):
    """A diagram to deploy: the change note is required."""

    note = fields.String(required=True, validate=_NOTE)


class RollbackRequest(Schema):
    version = fields.Integer(required=True, strict=True, validate=_VERSION)
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(0, 1000))


class MigrationRequest(Schema):
    from_version = fields.Integer(required=True, data_key="from", strict=True, validate=_VERSION)
    to_version = fields.Integer(required=True, data_key="to", strict=True, validate=_VERSION)
    dry_run = fields.Boolean(load_default=True)


class FormRequest(Schema):
    schema = fields.Dict(required=True)
    ui = fields.Dict(load_default=None, allow_none=True)
    note = fields.String(required=True, validate=_NOTE)


class ParameterRequest(Schema):
    parameter = fields.String(required=True, validate=validate.Length(1, 200))
    value = fields.Raw(required=True, allow_none=True)
    valid_from = fields.Date(required=True, metadata={"description": "The first day the value applies"})
    note = fields.String(required=True, validate=_NOTE)


class GroupRequest(Schema):
    code = fields.String(required=True, validate=[validate.Length(1, 64), _GROUP_CODE])
    name = fields.String(load_default="", validate=validate.Length(0, 200))


class MemberRequest(Schema):
    username = fields.String(required=True, validate=validate.Length(1, 100))
    member = fields.Boolean(load_default=True)


class DiffQuery(Schema):
    from_version = fields.Integer(required=True, data_key="from", validate=_VERSION)
    to_version = fields.Integer(required=True, data_key="to", validate=_VERSION)


class BlankQuery(Schema):
    key = fields.String(required=True, validate=[validate.Length(1, 200), _PROCESS_KEY])
    name = fields.String(load_default="")


BODY_ERRORS = (400, 401, 403, 404, 413, 422)

IMPORT_UPLOAD = {  # POST /modeler/imports: a SpiffArena process model folder
    "multipart/form-data": {
        "schema": {
            "type": "object",
            "properties": {
                "files": {"type": "array", "minItems": 1,
                          "items": {"type": "string", "format": "binary"},
                          "description": "The model folder's files (process_model.json, the BPMN file, its schema "
                                         "files), or one .zip of the folder; at most 50 files and 5 MiB unpacked"},
                "lanes": {"type": "string", "description": "A JSON object mapping lane names to group codes "
                                                           "(a lane not mapped names its group itself)"},
                "note": {"type": "string", "description": "The change note (default: imported from SpiffArena)"},
            },
            "required": ["files"],
            "additionalProperties": False,
        },
    },
}


def operations(operation: Any) -> dict[str, Any]:
    """The OPERATIONS entries of the modeler's endpoints (``operation`` is service.openapi.Operation)."""
    tag = "modeler"
    return {
        "api.modeler.list_versions": operation(tag, None, errors=(401, 403)),
        "api.modeler.process_versions": operation(tag, None, errors=(401, 403, 404)),
        "api.modeler.get_version": operation(tag, None, errors=(401, 403, 404)),
        "api.modeler.validate": operation(tag, None, body=DiagramRequest, errors=BODY_ERRORS),
        "api.modeler.save_draft": operation(tag, None, body=DiagramRequest, errors=BODY_ERRORS,
                                            unprocessable="The diagram is not BPMN XML with a process."),
        "api.modeler.get_draft": operation(tag, None, errors=(401, 403, 404)),
        "api.modeler.deploy": operation(tag, None, 201, body=DeployRequest, errors=BODY_ERRORS,
                                        unprocessable="The diagram fails the deploy checks (every problem is "
                                                      "listed), or the change note is missing."),
        "api.modeler.diff": operation(tag, None, query=DiffQuery, errors=(400, 401, 403, 404, 422)),
        "api.modeler.roll_back": operation(tag, None, 201, body=RollbackRequest, errors=BODY_ERRORS),
        "api.modeler.migrate": operation(tag, None, body=MigrationRequest, errors=BODY_ERRORS,
                                         unprocessable="`to` is not newer than `from`."),
        "api.modeler.documents": operation(tag, None, errors=(401, 403, 404)),
        "api.modeler.change_form": operation(tag, None, 201, body=FormRequest, errors=BODY_ERRORS,
                                             unprocessable="The schema is not a JSON Schema (draft 2020-12)."),
        "api.modeler.add_parameter_value": operation(tag, None, 201, body=ParameterRequest, errors=BODY_ERRORS),
        "api.modeler.list_groups": operation(tag, None, errors=(401, 403)),
        "api.modeler.create_group": operation(tag, None, 201, body=GroupRequest, errors=BODY_ERRORS),
        "api.modeler.set_member": operation(tag, None, body=MemberRequest, errors=BODY_ERRORS),
        "api.modeler.blank": operation(tag, None, query=BlankQuery, errors=(400, 401, 403, 422)),
        "api.modeler.import_model": operation(
            tag, None, 201, errors=(400, 401, 403, 413, 422), request_content=IMPORT_UPLOAD,
            unprocessable="The upload is not a SpiffArena model folder the engine can run: `error.problems` lists "
                          "every problem by file and element, `error.missing_groups` the groups its lanes name "
                          "that do not exist (an administrator creates them). Or `lanes` is not a JSON object of "
                          "lane name to group code. Nothing is deployed."),
    }
