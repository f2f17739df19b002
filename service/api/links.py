"""Signed links for people without an account: a case's handlers create, list, renew and revoke them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, url_for

import processes
from processes.views import LinkView, StartLinkView
from service.api.parsing import json_body, query_args
from service.auth import current_user
from service.extensions import get_database
from service.links import link_keys
from service.schemas import (
    CreateLinkRequest,
    CreateStartLinkRequest,
    LinkSchema,
    RenewLinkRequest,
    StartLinkQuery,
    StartLinkSchema,
)

bp = Blueprint("links", __name__)


def _dump(link: LinkView) -> dict[str, Any]:
    shown: dict[str, Any] = LinkSchema().dump(link)
    if link.token is None:
        shown.pop("token", None)
    else:
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


def _dump_start(link: StartLinkView) -> dict[str, Any]:
    shown: dict[str, Any] = StartLinkSchema().dump(link)
    if link.token is None:
        shown.pop("token", None)
    else:
        shown["url"] = url_for("links_page.start_page", token=link.token, _external=True)
    return shown


@bp.post("/processes/<key>/start-links")
def create_start_link(key: str) -> Any:
    """A signed link that starts one case of the process in a unit, for a person without an account (the
    process's readers in the unit, the central groups; the process must allow it: `startByLink`)."""
    body = json_body(CreateStartLinkRequest())
    link = processes.create_start_link(get_database(), process=key, unit=body["unit"], name=body["name"],
                                       email=body["email"], ttl=dt.timedelta(days=body["ttl_days"]),
                                       language=body["language"], keys=link_keys(), actor=current_user())
    return _dump_start(link), 201


@bp.get("/processes/<key>/start-links")
def list_start_links(key: str) -> Any:
    """The process's start links in a unit (never their tokens)."""
    query = query_args(StartLinkQuery())
    found = processes.list_start_links(get_database(), process=key, unit=query["unit"], actor=current_user())
    return {"items": [_dump_start(link) for link in found]}


@bp.post("/start-links/<int:link_id>/revoke")
def revoke_start_link(link_id: int) -> Any:
    """The start link stops working now."""
    return _dump_start(processes.revoke_start_link(get_database(), link_id, actor=current_user()))
