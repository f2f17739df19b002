"""W1, the everyday path (issue #10), over HTTP against a served app, on the SpiffArena model imported unchanged.

The model is ``../shared/models/spiffarena-ohs-incident/`` (or ``--model DIR``; a copy ships in
tests/processes/spiffarena/ohs-incident), imported with ``amflow import-spiffarena`` after ``amflow group
add case_handlers``: start -> report form by the initiator -> script -> gateway -> review by the group
case_handlers -> end. A case is 8 HTTP calls:

    1 POST /cases (the starter)             5 GET /tasks (a case handler's queue)
    2 GET /tasks (the starter's queue)       6 GET /tasks/{review}
    3 GET /tasks/{report}                    7 POST /tasks/{review}/complete
    4 POST /tasks/{report}/complete          8 GET /cases/{id} (the starter)

run by 1 client, then by 4 clients at once, against ``amflow serve --workers 2`` on a fresh SQLite file or
(``--postgresql``) a throw-away PostgreSQL server (tests/postgres.py). The served app counts each
request's SQL into a response header (``AMFLOW_BENCH_COUNT_SQL=1``, service/sqlcount.py). Each client keeps
one HTTP/1.1 connection alive and sends all its requests on it, as a real API client does (gunicorn's gthread
worker keeps an idle connection open for ``keepalive`` seconds, 2 by default); the same cases are then run
again with a new connection per request, as before (``--no-keepalive`` / ``--keepalive-only``: one of the two).

Printed per client count, with two baselines measured in the same run, before and after each level:
``GET /api/v1/me`` p50 (authentication and one small query), and the raw SpiffWorkflow cost of the same
steps (the spec parsed once; per case: a new workflow run to the report task, then twice: deserialize,
complete the waiting task, run on, serialize; SpiffWorkflow's own JSON serializer with its Spiff config,
the whole workflow each time, as SpiffArena stores it). Also amflow's engine path without HTTP (the use
cases ``start_case`` and ``complete_task`` twice, on a database of the same kind).

    .venv/bin/python bench/w1.py --cases 200
    .venv/bin/python bench/w1.py --cases 200 --postgresql
"""

from __future__ import annotations

import sys
from pathlib import Path

# Not bench/ first on the path: its queue.py would shadow the standard library's queue (concurrent.futures and
# psycopg import it); and the checkout first, for tests/ (not installed).
ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT), *(entry for entry in sys.path if Path(entry or ".").resolve() != ROOT / "bench")]
sys.modules.pop("queue", None)

import argparse  # noqa: E402
import http.client  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import urllib.error  # noqa: E402
import urllib.parse  # noqa: E402
import urllib.request  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from typing import Any  # noqa: E402

SHIPPED_MODEL = ROOT / "tests" / "processes" / "spiffarena" / "ohs-incident"
SHARED_MODEL = ROOT.parent / "shared" / "models" / "spiffarena-ohs-incident"
PASSWORD = "w1-bench-password"
REPORT = {"description": "Spilled acid in lab 3", "severity": "high", "injured": False}
REVIEW = {"decision": "close", "note": "cleaned up"}
CALLS_PER_CASE = 8
SQL_HEADER = "X-Amflow-Sql"
STATEMENT_KINDS = ("select", "insert", "update", "delete", "other")


class Client:
    """JSON over HTTP; records each call's latency by kind and the SQL counts the server reports.

    ``keepalive``: each thread calling keeps one HTTP/1.1 connection open and sends all its requests on it (as a
    real API client does); otherwise every request opens a connection of its own (urllib, ``Connection: close``).
    ``connections`` counts the connections opened, so a server that closed a kept connection would show.
    """

    def __init__(self, base: str, *, keepalive: bool = True) -> None:
        parts = urllib.parse.urlsplit(base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.base = base.rstrip("/") + "/api/v1"
        self.prefix = "/api/v1"
        self.keepalive = keepalive
        self.timings: dict[str, list[float]] = {}
        self.sql: Counter[str] = Counter()
        self.requests = 0
        self.connections = 0
        self._lock = threading.Lock()
        self._local = threading.local()
        self._open: list[http.client.HTTPConnection] = []

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
            with self._lock:
                self._open.append(connection)
        if connection.sock is None:  # new, or closed by the server: http.client opens it again on request
            with self._lock:
                self.connections += 1
        return connection

    def _exchange(
        self, method: str, path: str, data: bytes | None, headers: dict[str, str]
    ) -> tuple[bytes, http.client.HTTPResponse]:
        """One request on this thread's connection. A kept connection the server closed after its idle time
        fails before any answer: it is opened again and the request sent once more (as urllib3 does)."""
        connection = self._connection()
        reused = connection.sock is not None
        try:
            connection.request(method, self.prefix + path, body=data, headers=headers)
            response = connection.getresponse()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            if not reused:
                raise
            connection.close()
            connection = self._connection()
            connection.request(method, self.prefix + path, body=data, headers=headers)
            response = connection.getresponse()
        return response.read(), response

    def call(self, kind: str, method: str, path: str, token: str, body: object = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        started = time.perf_counter()
        if self.keepalive:
            raw, response = self._exchange(method, path, data, headers)
            if response.status >= 400:
                raise RuntimeError(f"{method} {path} -> {response.status}: {raw[:300]!r}")
            payload, header = json.loads(raw or b"{}"), response.getheader(SQL_HEADER, "")
        else:
            request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=60) as reply:
                    payload = json.loads(reply.read() or b"{}")
                    header = reply.headers.get(SQL_HEADER, "")
            except urllib.error.HTTPError as exc:
                raise RuntimeError(f"{method} {path} -> {exc.code}: {exc.read()[:300]!r}") from None
            with self._lock:
                self.connections += 1
        elapsed = time.perf_counter() - started
        counts = Counter({key: int(value) for key, value in (item.split("=") for item in header.split())})
        with self._lock:
            self.timings.setdefault(kind, []).append(elapsed)
            self.sql.update(counts)
            self.requests += 1
        return payload

    def reset(self) -> None:
        with self._lock:
            self.timings, self.sql, self.requests, self.connections = {}, Counter(), 0, 0

    def close(self) -> None:
        """Close every kept connection (the threads that used them may be gone)."""
        with self._lock:
            for connection in self._open:
                connection.close()
            self._open.clear()
        self._local = threading.local()


def token(base: str, username: str) -> str:
    request = urllib.request.Request(base + "/api/v1/auth/token", method="POST",
                                     data=json.dumps({"username": username, "password": PASSWORD}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(json.loads(response.read())["token"])


def one_case(client: Client, tokens: dict[str, str]) -> float:
    """The 8 calls of one W1 case; returns its wall time."""
    started = time.perf_counter()
    case = client.call("start", "POST", "/cases", tokens["starter"], {"process": "ohs_incident", "unit": "kemi",
                                                                       "data": {}})
    queue = client.call("list", "GET", "/tasks", tokens["starter"])
    [report] = [task for task in queue["items"] if task["case_id"] == case["id"]]
    client.call("read_task", "GET", f"/tasks/{report['id']}", tokens["starter"])
    client.call("complete", "POST", f"/tasks/{report['id']}/complete", tokens["starter"], {"data": REPORT})
    queue = client.call("list", "GET", "/tasks", tokens["handler"])
    [review] = [task for task in queue["items"] if task["case_id"] == case["id"]]
    client.call("read_task", "GET", f"/tasks/{review['id']}", tokens["handler"])
    client.call("complete", "POST", f"/tasks/{review['id']}/complete", tokens["handler"], {"data": REVIEW})
    done = client.call("read_case", "GET", f"/cases/{case['id']}", tokens["starter"])
    if done["status"] != "completed":
        raise RuntimeError(f"case {case['id']} ended {done['status']}")
    return time.perf_counter() - started


# --- the raw SpiffWorkflow cost of the same steps -------------------------------------------------------------

class RawSpiff:
    """SpiffWorkflow alone: the spec parsed once; per case start, then two completions, each restored from and
    saved to JSON with SpiffWorkflow's own serializer."""

    def __init__(self, model: Path) -> None:
        from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer  # noqa: PLC0415 — bench only
        from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser  # noqa: PLC0415
        from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG  # noqa: PLC0415

        metadata = json.loads((model / "process_model.json").read_text())
        parser = SpiffBpmnParser(validator=VALIDATOR)
        parser.add_bpmn_files([str(model / metadata["primary_file_name"])])
        self.spec = parser.get_spec(metadata["primary_process_id"])
        self.subprocesses = parser.get_subprocess_specs(metadata["primary_process_id"])
        self.serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))

    def one_case(self) -> float:
        from SpiffWorkflow.bpmn.workflow import BpmnWorkflow  # noqa: PLC0415
        from SpiffWorkflow.util.task import TaskState  # noqa: PLC0415

        started = time.perf_counter()
        workflow = BpmnWorkflow(self.spec, self.subprocesses)
        workflow.do_engine_steps()
        state = self.serializer.serialize_json(workflow)
        for data in (REPORT, REVIEW):
            workflow = self.serializer.deserialize_json(state)
            [task] = workflow.get_tasks(state=TaskState.READY, manual=True)
            task.set_data(**data)
            task.run()
            workflow.do_engine_steps()
            state = self.serializer.serialize_json(workflow)
        if not self.serializer.deserialize_json(state).completed:
            raise RuntimeError("the raw workflow did not complete")
        return time.perf_counter() - started


# --- amflow's engine path without HTTP ----------------------------------------------------------------------------

class EnginePath:
    """The use cases behind the HTTP calls that move the case: start_case, complete_task twice."""

    def __init__(self, url: str, model: Path) -> None:
        import processes  # noqa: PLC0415 — the server is a separate process; this is our own copy

        self.processes = processes
        self.db = processes.Database(url)
        self.db.upgrade()
        processes.add_group(self.db, "case_handlers", name="Case handlers", actor=None)
        self.starter = processes.create_user(self.db, "anna", password=PASSWORD, groups=["employees"],
                                             units=["kemi"])
        self.handler = processes.create_user(self.db, "hanne", password=PASSWORD, groups=["case_handlers"],
                                             units=["kemi"])
        processes.import_spiffarena(self.db, model, actor=None)

    def one_case(self) -> float:
        p = self.processes
        started = time.perf_counter()
        case = p.start_case(self.db, process="ohs_incident", unit="kemi", data={}, actor=self.starter)
        case = p.complete_task(self.db, case.tasks[0].id, data=REPORT, actor=self.starter)
        [review] = [task for task in case.tasks if task.status in ("ready", "claimed")]
        case = p.complete_task(self.db, review.id, data=REVIEW, actor=self.handler)
        if case.status != "completed":
            raise RuntimeError(f"engine path: case ended {case.status}")
        return time.perf_counter() - started


# --- the served app -----------------------------------------------------------------------------------------------

def _amflow(env: dict[str, str], *args: str) -> None:
    amflow = shutil.which("amflow") or str(Path(sys.executable).with_name("amflow"))
    done = subprocess.run([amflow, *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"amflow {' '.join(args)} failed:\n{done.stdout}{done.stderr}")


@contextmanager
def served(url: str, workdir: str, model: Path, workers: int) -> Iterator[str]:
    env = {**os.environ, "AMFLOW_DATABASE_URL": url, "AMFLOW_INSTANCE_PATH": f"{workdir}/instance",
           "AMFLOW_SECRET_KEY": "w1-bench-secret-key-0123456789", "AMFLOW_BENCH_COUNT_SQL": "1",
           "AMFLOW_LOG_LEVEL": "WARNING"}
    _amflow(env, "db", "upgrade")
    _amflow(env, "group", "add", "case_handlers", "--name", "Case handlers")
    _amflow(env, "user", "add", "anna", "--password", PASSWORD, "--group", "employees", "--unit", "kemi")
    _amflow(env, "user", "add", "hanne", "--password", PASSWORD, "--group", "case_handlers", "--unit", "kemi")
    _amflow(env, "import-spiffarena", str(model))
    port = importlib.import_module("tests.served").free_port()
    amflow = shutil.which("amflow") or str(Path(sys.executable).with_name("amflow"))
    server = subprocess.Popen([amflow, "serve", "--port", str(port), "--workers", str(workers)], env=env,
                              cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(base + "/api/v1/openapi.json", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


# --- measuring ----------------------------------------------------------------------------------------------------

def p50(values: list[float]) -> float:
    return statistics.median(values)


def _baselines(
    args: argparse.Namespace, clients: dict[bool, Client], tokens: dict[str, str], *, raw: RawSpiff,
    engine: EnginePath, me: dict[bool, list[float]], raw_times: list[float], engine_times: list[float],
) -> Any:
    """A function taking the baselines' samples: /me (on a kept connection and on a new one) and raw
    SpiffWorkflow alternately, then the engine path."""

    def take() -> None:
        for _ in range(args.baseline):
            for keepalive, client in clients.items():
                started = time.perf_counter()
                client.call("me", "GET", "/me", tokens["starter"])
                me[keepalive].append(time.perf_counter() - started)
            raw_times.append(raw.one_case())
        for _ in range(max(5, args.baseline // 5)):
            engine_times.append(engine.one_case())

    return take


def _cases(args: argparse.Namespace, client: Client, tokens: dict[str, str], clients: int) -> dict[str, float]:
    """``args.cases`` cases by ``clients`` threads at once on ``client``: throughput, p50, SQL, connections."""
    client.reset()
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        case_times = list(pool.map(lambda _: one_case(client, tokens), range(args.cases)))
    wall = time.perf_counter() - started
    sql, requests, connections = client.sql, client.requests, client.connections
    client.close()
    client.reset()
    assert requests == args.cases * CALLS_PER_CASE, requests
    statements = sum(sql[kind] for kind in STATEMENT_KINDS)
    return {
        "clients": clients, "keepalive": client.keepalive, "connections": connections,
        "cases_per_s": args.cases / wall, "case_ms": p50(case_times) * 1000,
        "sql_per_case": statements / args.cases, "select_per_case": sql["select"] / args.cases,
        "sql_per_request": statements / requests, "tx_per_request": sql["begin"] / requests,
        "commits_per_request": sql["commit"] / requests,
    }


def measure(args: argparse.Namespace, url: str, engine_url: str, workdir: str) -> list[dict[str, float]]:
    raw = RawSpiff(args.model)
    engine = EnginePath(engine_url, args.model)
    modes = [True, False] if args.keepalive == "both" else [args.keepalive == "on"]
    rows = []
    with served(url, workdir, args.model, args.workers) as base:
        baseline_clients = {keepalive: Client(base, keepalive=keepalive) for keepalive in (True, False)}
        tokens = {"starter": token(base, "anna"), "handler": token(base, "hanne")}
        for _ in range(10):  # warm every worker's caches
            one_case(baseline_clients[True], tokens)
            raw.one_case()
            engine.one_case()
        for clients in args.clients:
            me: dict[bool, list[float]] = {True: [], False: []}
            raw_times: list[float] = []
            engine_times: list[float] = []
            baselines = _baselines(args, baseline_clients, tokens, raw=raw, engine=engine, me=me,
                                   raw_times=raw_times, engine_times=engine_times)
            baselines()
            found = [_cases(args, Client(base, keepalive=keepalive), tokens, clients) for keepalive in modes]
            baselines()
            for row in found:
                rows.append({**row, "me_ms": p50(me[True]) * 1000, "me_new_ms": p50(me[False]) * 1000,
                             "raw_ms": p50(raw_times) * 1000, "engine_ms": p50(engine_times) * 1000})
        for client in baseline_clients.values():
            client.close()
    engine.db.dispose()
    return rows


def print_table(rows: list[dict[str, float]], database: str, cases: int) -> None:
    print(f"W1 on {database}: {cases} cases per client count, {CALLS_PER_CASE} HTTP calls per case")
    print(f"{'clients':>7}{'conn':>6}{'opened':>7}{'cases/s':>9}{'case ms':>9}{'SQL/case':>9}{'SELECT':>7}"
          f"{'SQL/req':>8}{'tx/req':>7}{'/me ms':>8}{'/me new':>8}{'raw ms':>8}{'case/raw':>9}{'engine ms':>10}"
          f"{'engine/raw':>11}{'case//me':>9}")
    for r in rows:
        print(f"{r['clients']:>7.0f}{'keep' if r['keepalive'] else 'new':>6}{r['connections']:>7.0f}"
              f"{r['cases_per_s']:>9.1f}{r['case_ms']:>9.1f}{r['sql_per_case']:>9.1f}"
              f"{r['select_per_case']:>7.1f}{r['sql_per_request']:>8.1f}{r['tx_per_request']:>7.2f}"
              f"{r['me_ms']:>8.2f}{r['me_new_ms']:>8.2f}{r['raw_ms']:>8.2f}{r['case_ms'] / r['raw_ms']:>9.1f}"
              f"{r['engine_ms']:>10.1f}{r['engine_ms'] / r['raw_ms']:>11.1f}"
              f"{r['case_ms'] / (r['me_ms'] if r['keepalive'] else r['me_new_ms']):>9.1f}")
    print("\nconn: keep = each client sends its requests on one kept-alive HTTP/1.1 connection, new = a new "
          "connection per request; opened: connections the clients opened in the run; case ms: p50 wall time "
          "of one case's 8 calls; SQL: statements the server ran (BEGIN/COMMIT not counted), SELECT of them; "
          "tx/req: transactions begun per request; /me ms: GET /api/v1/me p50 on a kept connection, /me new: on "
          "a new one; raw ms: SpiffWorkflow alone, p50 per case (parse once; start, 2 x "
          "deserialize-complete-run-serialize); engine ms: start_case + 2 x complete_task in-process, p50. "
          "Baselines measured before and after each client count in this run.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=200, help="cases per client count")
    parser.add_argument("--clients", type=lambda text: [int(n) for n in text.split(",")], default=[1, 4],
                        help="comma-separated client counts (default 1,4)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers of the served app")
    parser.add_argument("--baseline", type=int, default=50, help="baseline samples before and after each level")
    parser.add_argument("--model", type=Path, default=SHARED_MODEL if SHARED_MODEL.is_dir() else SHIPPED_MODEL)
    parser.add_argument("--postgresql", action="store_true", help="on a throw-away PostgreSQL server")
    connections = parser.add_mutually_exclusive_group()
    connections.add_argument("--no-keepalive", dest="keepalive", action="store_const", const="off",
                             help="only a new connection per request (as the bench did before)")
    connections.add_argument("--keepalive-only", dest="keepalive", action="store_const", const="on",
                             help="only kept-alive connections")
    parser.set_defaults(keepalive="both")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # "no e-mail address" for every task
    with tempfile.TemporaryDirectory(prefix="amflow-w1-") as workdir:
        if args.postgresql:
            with importlib.import_module("tests.postgres").postgres_server() as server:
                rows = measure(args, server.create_database("w1"), server.create_database("w1_engine"), workdir)
            print_table(rows, "PostgreSQL", args.cases)
        else:
            rows = measure(args, f"sqlite:///{workdir}/w1.db", f"sqlite:///{workdir}/w1_engine.db", workdir)
            print_table(rows, "SQLite", args.cases)


if __name__ == "__main__":
    main()
