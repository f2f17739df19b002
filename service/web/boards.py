"""A fan-out case's status board (a page that polls its JSON) and the tables a case exports (page, CSV, XLSX).

Who may read the case may read these (``processes.boards`` asks ``access.may``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, render_template
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l

import processes
from processes.views import BoardView, UserView
from service.exports import XLSX_MIMETYPE as XLSX
from service.exports import to_csv, to_xlsx
from service.extensions import get_database
from service.web.session import current_web_user, login_required

bp = Blueprint("boards", __name__)

STATE_WORDS: dict[str, Any] = {
    "answered": _l("Answered"),
    "answered_late": _l("Answered late"),
    "late": _l("Late"),
    "open": _l("Open"),
}


def _user() -> UserView:
    user = current_web_user()
    assert user is not None  # login_required
    return user


def board_json(board: BoardView) -> dict[str, Any]:
    return {
        "case_id": board.case_id, "process": board.process, "at": board.at.isoformat(), "counts": board.counts,
        "rows": [{"unit": row.unit, "state": row.state, "state_text": str(STATE_WORDS.get(row.state, row.state)),
                  "task": row.task, "due_at": row.due_at.isoformat() if row.due_at else None,
                  "completed_at": row.completed_at.isoformat() if row.completed_at else None,
                  "completed_by": row.completed_by} for row in board.rows],
    }


@bp.get("/cases/<case_id>/board")
@login_required
def board(case_id: str) -> ResponseReturnValue:
    """The status board: counts per state and one row per unit; the page refreshes itself from the JSON."""
    found = processes.case_board(get_database(), case_id, actor=_user())
    _has_board, tables = processes.case_overviews(get_database(), case_id, actor=_user())
    return render_template("web/casework/board.html", board=found, state_words=STATE_WORDS, tables=tables)


@bp.get("/cases/<case_id>/board.json")
@login_required
def board_data(case_id: str) -> ResponseReturnValue:
    return jsonify(board_json(processes.case_board(get_database(), case_id, actor=_user())))


@bp.get("/cases/<case_id>/tables/<name>")
@login_required
def table(case_id: str, name: str) -> ResponseReturnValue:
    found = processes.case_table(get_database(), case_id, name, actor=_user())
    return render_template("web/casework/table.html", table=found)


@bp.get("/cases/<case_id>/tables/<name>.csv")
@login_required
def table_csv(case_id: str, name: str) -> ResponseReturnValue:
    found = processes.case_table(get_database(), case_id, name, actor=_user())
    return Response(to_csv(found), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}-{case_id[:8]}.csv"'})


@bp.get("/cases/<case_id>/tables/<name>.xlsx")
@login_required
def table_xlsx(case_id: str, name: str) -> ResponseReturnValue:
    found = processes.case_table(get_database(), case_id, name, actor=_user())
    return Response(to_xlsx(found), mimetype=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="{name}-{case_id[:8]}.xlsx"'})
