"""My in-app notifications (issue #17): what is new for me, marking one read, my e-mail choice per kind."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

import processes
from service.api.parsing import json_body, query_args
from service.auth import current_user
from service.extensions import get_database
from service.schemas import NoticePageSchema, NoticeQuery, NoticeSchema, NoticeSettingsSchema

bp = Blueprint("notices", __name__, url_prefix="/me/notifications")


@bp.get("")
def list_notices() -> Any:
    """List what is new for me, newest first, each with whether I opened it (reading does not mark them)."""
    query = query_args(NoticeQuery())
    page = processes.list_notices(get_database(), actor=current_user(), before=query.get("before"),
                                  limit=query["limit"])
    return NoticePageSchema().dump(page)


@bp.post("/<int:notice_id>/read")
def read_notice(notice_id: int) -> Any:
    """Mark one of my notifications read."""
    return NoticeSchema().dump(processes.open_notice(get_database(), notice_id, actor=current_user()))


@bp.get("/settings")
def get_settings() -> Any:
    """Per kind of notification, whether I also get an e-mail."""
    return {"email": processes.notice_settings(get_database(), actor=current_user())}


@bp.put("/settings")
def put_settings() -> Any:
    """Choose per kind whether I also get an e-mail (kinds not named keep their setting)."""
    body = json_body(NoticeSettingsSchema())
    return {"email": processes.set_notice_settings(get_database(), body["email"], actor=current_user())}
