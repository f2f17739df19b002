"""Signed links for people without an account: a case's handlers create, list, renew and revoke them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, url_for
from marshmallow import fields, validate

import processes
from processes.views import LinkView
from service.api.parsing import json_body
from service.auth import current_user
from service.extensions import get_database
from service.links import link_keys
from service.schemas import StrictSchema

bp = Blueprint("links", __name__)


class CreateLinkRequest(StrictSchema):
    """Body of `POST /cases/{id}/links`."""

    name = fields.String(load_default="", validate=validate.Length(max=200))
    email = fields.String(load_default="", validate=validate.Length(max=320))
    tasks = fields.List(fields.String(validate=validate.Length(min=1, max=200)), required=True,
                        validate=validate.Length(min=1, max=50), metadata={"description": "BPMN ids of user tasks"})
    ttl_days = fields.Integer(load_default=14, validate=validate.Range(min=1, max=180))
    language = fields.String(load_default="da", validate=validate.OneOf(["da", "en"]))


class RenewLinkRequest(StrictSchema):
    """Body of `POST /links/{id}/renew`."""

    ttl_days = fields.Integer(load_default=14, validate=validate.Range(min=1, max=180))


def _dump(link: LinkView) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "id": link.id, "case_id": link.case_id, "tasks": link.tasks, "name": link.name, "email": link.email,
        "created_by": link.created_by, "created_at": link.created_at.isoformat(),
        "expires_at": link.expires_at.isoformat(),
        "revoked_at": link.revoked_at.isoformat() if link.revoked_at else None,
    }
    if link.token is not None:
        shown["token"] = link.token
        shown["url"] = url_for("links_page.page", token=link.token, _external=True)
    return shown


@bp.post("/cases/<case_id>/links")
def create_link(case_id: str) -> Any:
    """Give a person without an account a signed link to named tasks of the case (handlers only)."""
    body = json_body(CreateLinkRequest())
    link = processes.create_link(get_database(), case_id, name=body["name"], email=body["email"],
                                 tasks=body["tasks"], ttl=dt.timedelta(days=body["ttl_days"]),
                                 language=body["language"], keys=link_keys(), actor=current_user())
    return _dump(link), 201


@bp.get("/cases/<case_id>/links")
def list_links(case_id: str) -> Any:
    """The case's links (never their tokens)."""
    return {"items": [_dump(link) for link in processes.list_links(get_database(), case_id, actor=current_user())]}


@bp.post("/links/<int:link_id>/renew")
def renew_link(link_id: int) -> Any:
    """A fresh token and expiry; the link's earlier tokens stop working."""
    body = json_body(RenewLinkRequest())
    link = processes.renew_link(get_database(), link_id, ttl=dt.timedelta(days=body["ttl_days"]), keys=link_keys(),
                                actor=current_user())
    return _dump(link)


@bp.post("/links/<int:link_id>/revoke")
def revoke_link(link_id: int) -> Any:
    """The link stops working now."""
    return _dump(processes.revoke_link(get_database(), link_id, actor=current_user()))
