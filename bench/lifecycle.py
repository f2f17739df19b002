"""Lone-work approval lifecycle benchmark over the real HTTP API.

Starts N lone-work cases (risky, G2: AMK review, then leader approval) and completes every task through
``/api/v1``, against a running server (``--url``) or, by default, a fresh ``amflow serve`` on a temporary
SQLite database that this script starts and stops. Prints cases/s and p50/p95 per call kind.

The machine is shared and noisy, so every figure is also given as a ratio to a baseline measured in the
same run: ``GET /api/v1/me`` (authentication and one small query, no engine work).

    .venv/bin/python bench/lifecycle.py --cases 100 --concurrency 4
"""

from __future__ import annotations

import sys
from pathlib import Path

if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    del sys.path[0]  # bench/queue.py must not shadow the standard library's queue (ThreadPoolExecutor needs it)

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

G2_APPLICATION = {
    "applicant_name": "Anna Ansat",
    "applicant_role": "employee",
    "applicant_age": 34,
    "location": {"campus": "Lyngby", "building": "207", "room": "112"},
    "task_description": "Destillation af ethanol i stinkskab efter kl. 18",
    "start_date": "2026-12-01",
    "time_windows": [{"days": "weekdays", "from": "18:00", "to": "22:00"}],
    "another_competent_person_within_reach": False,
    "hazards": ["chemicals_flammable"],
    "mitigations": ["check_in_calls", "phone_coverage_checked", "alarm_device", "security_informed"],
    "instruction_completed": True,
    "instruction_date": "2026-11-20",  # B-R6: recorded, so no instruction task
    "instruction_by": "Karl Koordinator",
}
AMK_REVIEW = {
    "risk_assessment": [{"hazard": "Brand", "consequence": "Forbrænding", "measure": "Stinkskab, slukker",
                         "residual_risk": "low"}],
    "mitigations_adequate": True,
}
APPROVAL = {"decision": "approve", "conditions": "Tjek ind hver time", "valid_until": "2027-06-30"}


class Client:
    """A tiny JSON client that records the latency of every call by kind."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self.timings: dict[str, list[float]] = defaultdict(list)
        self._lock = threading.Lock()

    def call(self, kind: str, method: str, path: str, token: str | None = None, body: object = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                payload = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"{method} {path} -> {exc.code}: {exc.read()[:300]!r}") from None
        elapsed = time.perf_counter() - started
        with self._lock:
            self.timings[kind].append(elapsed)
        return payload

    def token(self, username: str, password: str) -> str:
        return self.call("login", "POST", "/api/v1/auth/token", body={"username": username, "password": password})[
            "token"
        ]


def one_case(client: Client, tokens: dict[str, str], unit: str) -> None:
    case = client.call("start_case", "POST", "/api/v1/cases", tokens["applicant"],
                       {"process": "lone_work_approval", "unit": unit, "data": G2_APPLICATION})
    [review] = case["tasks"]
    client.call("claim", "POST", f"/api/v1/tasks/{review['id']}/claim", tokens["amk"])
    case = client.call("complete", "POST", f"/api/v1/tasks/{review['id']}/complete", tokens["amk"],
                       {"data": AMK_REVIEW})
    [approval] = case["tasks"]
    case = client.call("complete", "POST", f"/api/v1/tasks/{approval['id']}/complete", tokens["leader"],
                       {"data": APPROVAL})
    if case["status"] != "completed":
        raise RuntimeError(f"case {case['id']} ended {case['status']}")
    client.call("get_case", "GET", f"/api/v1/cases/{case['id']}", tokens["applicant"])
    client.call("queue", "GET", "/api/v1/tasks", tokens["amk"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(workers: int) -> tuple[subprocess.Popen, str, str]:
    workdir = tempfile.mkdtemp(prefix="amflow-bench-")
    amflow = shutil.which("amflow") or str(Path(sys.executable).with_name("amflow"))
    env = {**os.environ, "AMFLOW_DATABASE_URL": f"sqlite:///{workdir}/bench.db"}
    subprocess.run([amflow, "db", "upgrade"], check=True, env=env, cwd=workdir, capture_output=True)
    subprocess.run([amflow, "demo"], check=True, env=env, cwd=workdir, capture_output=True)
    port = free_port()
    server = subprocess.Popen([amflow, "serve", "--port", str(port), "--workers", str(workers)], env=env,
                              cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + "/api/v1/openapi.json", timeout=2).close()
            return server, base, workdir
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError("the server did not start within 60 s")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def report(client: Client, cases: int, elapsed: float) -> None:
    baseline = statistics.median(client.timings["baseline_me"])
    print(f"cases: {cases}   wall: {elapsed:.2f} s   cases/s: {cases / elapsed:.1f}")
    print(f"baseline GET /api/v1/me p50: {baseline * 1000:.2f} ms (ratios below are p50 / this)")
    print(f"{'call':<12}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'p50 ratio':>11}")
    for kind in ("start_case", "claim", "complete", "get_case", "queue"):
        values = client.timings[kind]
        p50 = statistics.median(values)
        print(f"{kind:<12}{len(values):>6}{p50 * 1000:>10.2f}{percentile(values, 0.95) * 1000:>10.2f}"
              f"{p50 / baseline:>11.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running amflow server with the demo data (default: start one)")
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers of the server this script starts")
    args = parser.parse_args()

    server, workdir = None, None
    base = args.url
    if base is None:
        server, base, workdir = start_server(args.workers)
    try:
        client = Client(base)
        tokens = {role: client.token(user, "demo-amflow")
                  for role, user in (("applicant", "anna"), ("amk", "karl"), ("leader", "lene"))}
        for _ in range(max(50, args.cases)):
            client.call("baseline_me", "GET", "/api/v1/me", tokens["applicant"])
        started = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            for future in [pool.submit(one_case, client, tokens, "kemi") for _ in range(args.cases)]:
                future.result()
        elapsed = time.perf_counter() - started
        for _ in range(max(50, args.cases)):
            client.call("baseline_me", "GET", "/api/v1/me", tokens["applicant"])
        report(client, args.cases, elapsed)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
