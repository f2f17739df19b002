"""Request bodies of the modeler's API (issue #18) and what the OpenAPI document says of its endpoints."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

MAX_BPMN = 2_000_000


class LanesField(fields.Dict):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(keys=fields.String(validate=validate.Length(1, 200)),
                         values=fields.String(validate=validate.Length(0, 64)), **kwargs)


class DiagramRequest(Schema):
    """A diagram to check, keep as a draft or deploy."""

    bpmn = fields.String(required=True, validate=validate.Length(1, MAX_BPMN))
    lanes = LanesField(load_default=None, allow_none=True)
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(0, 1000))
    based_on = fields.Integer(load_default=None, allow_none=True)


class RollbackRequest(Schema):
    version = fields.Integer(required=True, validate=validate.Range(min=1))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(0, 1000))


class MigrationRequest(Schema):
    from_version = fields.Integer(required=True, data_key="from", validate=validate.Range(min=1))
    to_version = fields.Integer(required=True, data_key="to", validate=validate.Range(min=1))
    dry_run = fields.Boolean(load_default=True)


class FormRequest(Schema):
    schema = fields.Dict(required=True)
    ui = fields.Dict(load_default=None, allow_none=True)
    note = fields.String(required=True, validate=validate.Length(1, 1000))


class ParameterRequest(Schema):
    parameter = fields.String(required=True, validate=validate.Length(1, 200))
    value = fields.Raw(required=True, allow_none=True)
    valid_from = fields.String(required=True, validate=validate.Length(1, 20))
    note = fields.String(required=True, validate=validate.Length(1, 1000))


class GroupRequest(Schema):
    code = fields.String(required=True, validate=validate.Length(1, 64))
    name = fields.String(load_default="", validate=validate.Length(0, 200))


class MemberRequest(Schema):
    username = fields.String(required=True, validate=validate.Length(1, 100))
    member = fields.Boolean(load_default=True)


class DiffQuery(Schema):
    from_version = fields.Integer(required=True, data_key="from")
    to_version = fields.Integer(required=True, data_key="to")


class BlankQuery(Schema):
    key = fields.String(required=True, validate=validate.Length(1, 200))
    name = fields.String(load_default="")


BODY_ERRORS = (400, 401, 403, 404, 413, 422)


def operations(operation: Any) -> dict[str, Any]:
    """The OPERATIONS entries of the modeler's endpoints (``operation`` is service.openapi.Operation)."""
    tag = "modeler"
    return {
        "api.modeler.list_versions": operation(tag, None, errors=(401, 403)),
        "api.modeler.process_versions": operation(tag, None, errors=(401, 403, 404)),
        "api.modeler.get_version": operation(tag, None, errors=(401, 403, 404)),
        "api.modeler.validate": operation(tag, None, body=DiagramRequest, errors=BODY_ERRORS),
        "api.modeler.save_draft": operation(tag, None, body=DiagramRequest, errors=BODY_ERRORS),
        "api.modeler.get_draft": operation(tag, None, errors=(401, 403, 404)),
        "api.modeler.deploy": operation(tag, None, 201, body=DiagramRequest, errors=BODY_ERRORS,
                                        unprocessable="The diagram fails the deploy checks (every problem is "
                                                      "listed), or the change note is missing."),
        "api.modeler.diff": operation(tag, None, query=DiffQuery, errors=(400, 401, 403, 404, 422)),
        "api.modeler.roll_back": operation(tag, None, 201, body=RollbackRequest, errors=BODY_ERRORS),
        "api.modeler.migrate": operation(tag, None, body=MigrationRequest, errors=BODY_ERRORS),
        "api.modeler.documents": operation(tag, None, errors=(401, 403, 404)),
        "api.modeler.change_form": operation(tag, None, 201, body=FormRequest, errors=BODY_ERRORS,
                                             unprocessable="The schema is not a JSON Schema (draft 2020-12)."),
        "api.modeler.add_parameter_value": operation(tag, None, 201, body=ParameterRequest, errors=BODY_ERRORS),
        "api.modeler.list_groups": operation(tag, None, errors=(401, 403)),
        "api.modeler.create_group": operation(tag, None, 201, body=GroupRequest, errors=BODY_ERRORS),
        "api.modeler.set_member": operation(tag, None, body=MemberRequest, errors=BODY_ERRORS),
        "api.modeler.blank": operation(tag, None, query=BlankQuery, errors=(400, 401, 403, 422)),
    }
