"""Metrics, readiness and JSON logs of the real product: `amflow serve --workers 2` with its timer worker.

Each gunicorn worker and the timer worker count into their own files; whichever worker answers a scrape
must report the sum over all of them, including a worker killed with SIGKILL.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api.test_crash_under_load import TIMER_BPMN
from tests.served import Served, served_demo

ROUTE = "/healthz"
TIMER_CASES = 3


def get(base: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(base + path, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


def scrape(base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, _, body = get(base, "/metrics")
    assert status == 200, body
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def healthz_count(samples: dict) -> float:
    return samples.get(("amflow_http_requests_total", (("method", "GET"), ("route", ROUTE), ("status", "200"))), 0)


def metrics_folder(served: Served) -> Path:
    folders = list((Path(served.environment["AMFLOW_INSTANCE_PATH"]) / "metrics").iterdir())
    assert len(folders) == 1, folders
    return folders[0]


def pids_with_counts(served: Served) -> set[int]:
    return {int(path.stem.split("_")[-1]) for path in metrics_folder(served).glob("counter_*.db")}


def wait_for(condition: Any, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def send_until_every_web_worker_answered(served: Any, base: str) -> int:
    """Requests from several threads until both gunicorn workers have answered some; how many were sent."""
    sent = 0
    lock = threading.Lock()

    def hit(times: int) -> None:
        nonlocal sent
        for _ in range(times):
            assert get(base, ROUTE)[0] == 200
            with lock:
                sent += 1

    web_workers = set(served.gunicorn_worker_pids())
    for _ in range(20):
        threads = [threading.Thread(target=hit, args=(10,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if web_workers <= pids_with_counts(served):
            break
    assert web_workers <= pids_with_counts(served), "one gunicorn worker answered every request"
    return sent


@pytest.mark.slow
def test_served_metrics_add_up_every_process_and_logs_are_json_with_request_ids(tmp_path, make_database_url):
    timer_file = tmp_path / "load_timer.bpmn"
    timer_file.write_bytes(TIMER_BPMN)
    with served_demo(make_database_url("observed"), tmp_path, workers=2, deploy=(timer_file,),
                     METRICS="1", LOG_FORMAT="json", WORKER_INTERVAL="0.5") as served:
        base = served.client.base.removesuffix("/api/v1")
        wait_for(lambda: get(base, "/readyz")[0] == 200, "the timer worker's first heartbeat")

        sent = send_until_every_web_worker_answered(served, base)
        for _ in range(6):  # whichever worker answers the scrape, the count is the total
            assert healthz_count(scrape(base)) == sent

        # Timers fired in the separate timer worker process show up in a web worker's scrape.
        for _ in range(TIMER_CASES):
            status, case = served.client.call("POST", "/cases", as_="anna",
                                              body={"process": "load_timer", "unit": "kemi", "data": {}})
            assert status == 201, case

        def timers_counted() -> bool:
            return scrape(base).get(("amflow_engine_steps_total", (("kind", "timer"),)), 0) >= TIMER_CASES

        wait_for(timers_counted, "the fired timers in the metrics")
        samples = scrape(base)
        assert samples[("amflow_engine_steps_total", (("kind", "timer"),))] == TIMER_CASES
        assert samples[("amflow_engine_steps_total", (("kind", "start"),))] == TIMER_CASES
        assert served.timer_worker_pid() in pids_with_counts(served)

        # A web worker killed outright: its counts stay in the sum.
        killed = served.gunicorn_worker_pids()[0]
        os.kill(killed, signal.SIGKILL)
        wait_for(lambda: killed not in served.gunicorn_worker_pids() and len(served.gunicorn_worker_pids()) == 2,
                 "gunicorn to replace the killed worker")
        for _ in range(4):
            assert healthz_count(scrape(base)) == sent

        # A request id given by the caller, and one made up by the server, each on the request's access line.
        given_status, given_headers, _ = get(base, "/readyz", headers={"X-Request-Id": "probe-7f3a"})
        assert (given_status, given_headers["X-Request-Id"]) == (200, "probe-7f3a")
        made_up = get(base, "/api/v1/openapi.json")[1]["X-Request-Id"]
        folder = metrics_folder(served)

    assert not folder.exists(), "amflow serve leaves its metrics folder behind"
    lines = [line for line in served.log.read_text().splitlines() if line.strip()]
    entries = []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"a log line is not JSON: {line!r}")
    assert any(entry["logger"].startswith("gunicorn") for entry in entries)  # gunicorn's own lines too
    access = {entry["request_id"]: entry for entry in entries if entry["logger"] == "amflow.access"}
    assert access["probe-7f3a"]["route"] == "/readyz"
    assert access["probe-7f3a"]["status"] == 200
    assert access[made_up]["route"] == "/api/v1/openapi.json"
    assert not any(entry["logger"] == "gunicorn.access" for entry in entries)  # ours replaces it
    assert sum(1 for entry in access.values() if entry["route"] == ROUTE) >= 1
