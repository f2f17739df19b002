"""A process's statistics per unit (issue #14): counts by the case data the process declares and tasks done
on time or late, no names or free text; as a page and as CSV. Who may read them: processes.access."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request
from flask.typing import ResponseReturnValue

import processes
from service.extensions import get_database
from service.web.session import current_web_user, login_required

bp = Blueprint("statistics", __name__)


def _view(process: str) -> processes.StatisticsView:
    user = current_web_user()
    assert user is not None
    return processes.process_statistics(get_database(), process, actor=user, unit=request.args.get("unit") or None)


@bp.get("/statistics/<process>")
@login_required
def page(process: str) -> ResponseReturnValue:
    """The statistics page, with a link to the CSV download."""
    return render_template("web/statistics.html", view=_view(process), unit=request.args.get("unit") or "")


@bp.get("/statistics/<process>.csv")
@login_required
def download(process: str) -> ResponseReturnValue:
    """The same counts as CSV: unit, dimension, value, count."""
    return Response(processes.statistics_csv(_view(process)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{process}-statistics.csv"'})
