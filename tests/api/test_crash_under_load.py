"""Crash safety under load: 8 clients complete lone-work cases against `amflow serve --workers 2` for a bounded
time while one gunicorn worker and then the timer worker are killed with SIGKILL. Afterwards every case loads,
no completion a client saw succeed is lost, none is recorded twice, and every due timer fired exactly once.

Each client walks its cases as a person would: start (applicant), claim and complete the AMK review, complete
the leader's approval, and start a one-second timer case for the worker. A request cut off by the kill is
retried after reading the task again, as a client would; the server must then answer the truth (already done,
409, or done now).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.samples import G2_APPLICATION
from tests.served import Client, Served, served_demo

CLIENTS = 8
# Ten seconds a third: a case walk takes well under a second, so each kill falls on requests in flight (the
# counts printed show it); set AMFLOW_TEST_LOAD_SECONDS for a longer soak.
LOAD_SECONDS = float(os.environ.get("AMFLOW_TEST_LOAD_SECONDS", "30"))
TIMER_BPMN = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="load_timer_definitions"
                  targetNamespace="http://amflow.dtu.dk/test">
  <bpmn:process id="load_timer" name="A second's wait (test)" isExecutable="true">
    <bpmn:laneSet id="lanes"><bpmn:lane id="lane" name="employees">
      <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>wait</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>end</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="wait" name="A second">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:timerEventDefinition id="wait_time">
        <bpmn:timeDuration>"PT1S"</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""
AMK_REVIEW = {
    "risk_assessment": [{"hazard": "Fire", "consequence": "Burns", "measure": "Check-in calls",
                         "residual_risk": "low"}],
    "mitigations_adequate": True, "amr_consulted": True, "amr_consulted_date": "2026-08-20",
}
APPROVAL = {"decision": "approve", "valid_until": G2_APPLICATION["end_date"]}  # B-R9: never past the end date


@dataclass
class Ledger:
    """What the clients saw succeed, to hold the server to afterwards."""

    lone_work_cases: list[str] = field(default_factory=list)
    completed_cases: list[str] = field(default_factory=list)
    timer_cases: list[str] = field(default_factory=list)
    cut_off: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def persist(call: Callable[[], tuple[int, Any]], ledger: Ledger) -> tuple[int, Any]:
    """Call until the server answers (a connection cut off by a killed worker is retried)."""
    for _ in range(50):
        try:
            return call()
        except OSError:
            with ledger.lock:
                ledger.cut_off += 1
            time.sleep(0.1)
    raise AssertionError("the server did not answer for 50 tries")


def complete(client: Client, task: dict[str, Any], user: str, data: dict[str, Any], ledger: Ledger) -> Any:
    """Claim and complete a task; after a cut-off request, the task's own state says what happened."""
    for _ in range(10):
        status, body = persist(lambda: client.call("GET", f"/tasks/{task['id']}", as_=user), ledger)
        if status == 200 and body["status"] == "completed":
            return persist(lambda: client.call("GET", f"/cases/{task['case_id']}", as_=user), ledger)[1]
        if body.get("assignee") != user:
            persist(lambda: client.call("POST", f"/tasks/{task['id']}/claim", as_=user), ledger)
        try:
            status, body = client.call("POST", f"/tasks/{task['id']}/complete", as_=user, body={"data": data})
        except OSError:
            with ledger.lock:
                ledger.cut_off += 1
            continue
        if status == 200:
            return body
        assert status == 409, body  # only a race with our own cut-off retry may refuse it
    raise AssertionError(f"task {task['id']} never completed")


def walk_cases(client: Client, ledger: Ledger, stop: threading.Event) -> None:
    """One client's loop: lone-work cases end to end, and a timer case each round."""
    try:
        while not stop.is_set():
            status, case = persist(lambda: client.call(
                "POST", "/cases", as_="anna", body={"process": "lone_work_approval", "unit": "kemi",
                                                    "data": G2_APPLICATION}), ledger)
            assert status == 201, case
            with ledger.lock:
                ledger.lone_work_cases.append(case["id"])
            review = next(task for task in case["tasks"] if task["group"] == "amk")
            case = complete(client, review, "karl", AMK_REVIEW, ledger)
            approval = next(task for task in case["tasks"] if task["group"] == "leaders")
            case = complete(client, approval, "lene", APPROVAL, ledger)
            assert case["status"] == "completed", case
            status, timer_case = persist(lambda: client.call(
                "POST", "/cases", as_="anna", body={"process": "load_timer", "unit": "kemi", "data": {}}), ledger)
            assert status == 201, timer_case
            with ledger.lock:
                ledger.completed_cases.append(case["id"])
                ledger.timer_cases.append(timer_case["id"])
    except BaseException as error:  # reported by the test, not lost in a thread
        with ledger.lock:
            ledger.errors.append(repr(error))


def run_load(served: Served, ledger: Ledger) -> None:
    """8 clients for LOAD_SECONDS; a gunicorn worker killed after a third, the timer worker after two thirds."""
    stop = threading.Event()
    clients = [Client(served.client.base) for _ in range(CLIENTS)]
    for client in clients:  # log in before the load: the throttle and the hashing are not under test here
        for user in ("anna", "karl", "lene"):
            client.token(user)
    threads = [threading.Thread(target=walk_cases, args=(client, ledger, stop)) for client in clients]
    for thread in threads:
        thread.start()
    time.sleep(LOAD_SECONDS / 3)
    os.kill(served.gunicorn_worker_pids()[0], signal.SIGKILL)
    time.sleep(LOAD_SECONDS / 3)
    os.kill(served.timer_worker_pid(), signal.SIGKILL)
    time.sleep(LOAD_SECONDS / 3)
    stop.set()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)


@pytest.mark.slow
def test_killing_a_web_worker_and_the_timer_worker_under_load_loses_and_duplicates_nothing(
    tmp_path: Path, make_database_url, capsys
):
    timer_file = tmp_path / "load_timer.bpmn"
    timer_file.write_bytes(TIMER_BPMN)
    ledger = Ledger()
    with served_demo(make_database_url("load"), tmp_path, workers=2, deploy=(timer_file,),
                     WORKER_INTERVAL="0.5") as served:
        run_load(served, ledger)
        rerun = served.amflow("worker", "--once")  # the killed timer worker's work, done by a new one
        assert rerun.returncode == 0, rerun.stderr
        client = served.client

        assert ledger.errors == []
        assert len(ledger.completed_cases) >= CLIENTS, "the load did not get going"
        for case_id in ledger.lone_work_cases:
            status, case = client.call("GET", f"/cases/{case_id}", as_="karl")
            assert status == 200, case
            completions = Counter(entry["detail"]["task"] for entry in case["history"]
                                  if entry["kind"] == "task_completed")
            assert all(count == 1 for count in completions.values()), (case_id, completions)
            if case_id in ledger.completed_cases:
                assert case["status"] == "completed"
                assert completions == Counter({"amk_review": 1, "leader_approval": 1})
        for case_id in ledger.timer_cases:
            status, case = client.call("GET", f"/cases/{case_id}", as_="anna")
            assert status == 200, case
            fired = [entry for entry in case["history"] if entry["kind"] == "timer_fired"]
            assert (case["status"], len(fired)) == ("completed", 1), (case_id, case["status"], case["history"])
    with capsys.disabled():  # the counts belong in CI's output
        print(f"\ncrash under load: {len(ledger.lone_work_cases)} lone-work cases ({len(ledger.completed_cases)} "
              f"completed), {len(ledger.timer_cases)} timer cases, {ledger.cut_off} requests cut off by the kills")
