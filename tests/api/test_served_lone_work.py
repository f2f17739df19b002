"""The served product as `make run` starts it — `amflow db upgrade`, `amflow demo`, `amflow serve --workers 2`
with its timer worker — runs a lone-work case end to end over real HTTP, on each database of the run.

Run with `--database=postgresql` this is the check that the product works on PostgreSQL with two gunicorn
workers and the timer/e-mail worker: the approval's e-mail to the applicant is written to the outbox in the
step's transaction and only the worker delivers it, to a real SMTP server on loopback.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.samples import G2_APPLICATION
from tests.served import Served, served_demo

WORKER_SECONDS = 60


@pytest.fixture
def served(tmp_path: Path, make_database_url, smtp_server) -> Iterator[Served]:
    """`make run`'s three commands on a new database, mail to a real SMTP server; stopped after the test."""
    with served_demo(make_database_url("served"), tmp_path, workers=2,
                     WORKER_INTERVAL="1", SMTP_URL=smtp_server.url) as running:
        yield running


def _task_in(tasks: list[dict[str, Any]], group: str) -> dict[str, Any]:
    matching = [task for task in tasks if task["group"] == group]
    assert len(matching) == 1, tasks
    return matching[0]


@pytest.mark.slow
def test_the_served_demo_runs_a_lone_work_case_end_to_end_with_two_workers_and_the_timer_worker(
    served, smtp_server
):
    client, log_path = served.client, served.log
    today = dt.datetime.now(dt.UTC).date()
    valid_until = (today + dt.timedelta(days=90)).isoformat()
    # dates relative to today, so the approval stays within the work's period on any day the suite runs (B-R9)
    application = {**G2_APPLICATION, "start_date": today.isoformat(),
                   "end_date": (today + dt.timedelta(days=120)).isoformat()}

    status, case = client.call("POST", "/cases", as_="anna",
                               body={"process": "lone_work_approval", "unit": "kemi", "data": application})
    assert status == 201, case
    review = _task_in(case["tasks"], "amk")
    assert client.call("POST", f"/tasks/{review['id']}/claim", as_="karl")[0] == 200
    status, case = client.call("POST", f"/tasks/{review['id']}/complete", as_="karl", body={"data": {
        "risk_assessment": [{"hazard": "Fire", "consequence": "Burns", "measure": "Check-in calls",
                             "residual_risk": "low"}],
        "mitigations_adequate": True, "amr_consulted": True, "amr_consulted_date": "2026-08-20"}})
    assert status == 200, case
    approval = _task_in(case["tasks"], "leaders")
    status, case = client.call("POST", f"/tasks/{approval['id']}/complete", as_="lene",
                               body={"data": {"decision": "approve", "valid_until": valid_until}})
    assert status == 200, case
    assert case["status"] == "completed"
    assert case["decisions"][0]["decision"]["group"] == "G2"
    spawned = [entry for entry in case["history"] if entry["kind"] == "case_spawned"]
    assert len(spawned) == 1, case["history"]
    status, validity = client.call("GET", f"/cases/{spawned[0]['detail']['case']}", as_="anna")
    assert (status, validity["status"]) == (200, "running")  # waits for its reminder, 30 days before expiry

    deadline = time.monotonic() + WORKER_SECONDS
    while not any(mail.to == "anna@example.dtu.dk" for mail in smtp_server.received):
        assert time.monotonic() < deadline, f"the worker delivered no mail:\n{log_path.read_text()[-3000:]}"
        time.sleep(0.2)
