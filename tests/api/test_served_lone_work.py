"""The served product as `make run` starts it — `amflow db upgrade`, `amflow demo`, `amflow serve --workers 2`
with its timer worker — runs a lone-work case end to end over real HTTP, on each database of the run.

Run with `--database=postgresql` this is the check that the product works on PostgreSQL with two gunicorn
workers and the timer/e-mail worker: the approval's e-mail to the applicant is written to the outbox in the
step's transaction and only the worker delivers it, to a real SMTP server on loopback.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.samples import G2_APPLICATION

AMFLOW = Path(sys.executable).parent / "amflow"
DEMO_PASSWORD = "demo-amflow"
START_SECONDS = 90
WORKER_SECONDS = 60


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Client:
    """JSON over real HTTP, as one user or another."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.tokens: dict[str, str] = {}

    def call(self, method: str, path: str, *, as_: str | None = None, body: Any = None) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if as_ is not None:
            headers["Authorization"] = f"Bearer {self.token(as_)}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            with error:
                return error.code, json.loads(error.read())

    def token(self, username: str) -> str:
        if username not in self.tokens:
            status, body = self.call("POST", "/auth/token", body={"username": username, "password": DEMO_PASSWORD})
            assert status == 201, body
            self.tokens[username] = body["token"]
        return self.tokens[username]


@pytest.fixture
def served(tmp_path: Path, make_database_url, smtp_server) -> Iterator[tuple[Client, Path]]:
    """`make run`'s three commands on a new database; the server is stopped after the test."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("AMFLOW_")}
    environment |= {
        "AMFLOW_DATABASE_URL": make_database_url("served"),
        "AMFLOW_INSTANCE_PATH": str(tmp_path / "instance"),
        "AMFLOW_WORKER_INTERVAL": "1",
        "AMFLOW_SMTP_URL": smtp_server.url,
    }
    for command in (["db", "upgrade"], ["demo"]):
        done = subprocess.run([str(AMFLOW), *command], env=environment, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
    port = _free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        server = subprocess.Popen([str(AMFLOW), "serve", "--port", str(port), "--workers", "2"],
                                  env=environment, stdout=log, stderr=subprocess.STDOUT)
    client = Client(f"http://127.0.0.1:{port}/api/v1")
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            assert server.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            try:
                if client.call("GET", "/openapi.json")[0] == 200:
                    break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        yield client, log_path
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _task_in(tasks: list[dict[str, Any]], group: str) -> dict[str, Any]:
    matching = [task for task in tasks if task["group"] == group]
    assert len(matching) == 1, tasks
    return matching[0]


@pytest.mark.slow
def test_the_served_demo_runs_a_lone_work_case_end_to_end_with_two_workers_and_the_timer_worker(
    served, smtp_server
):
    client, log_path = served
    valid_until = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=90)).isoformat()

    status, case = client.call("POST", "/cases", as_="anna",
                               body={"process": "lone_work_approval", "unit": "kemi", "data": G2_APPLICATION})
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
