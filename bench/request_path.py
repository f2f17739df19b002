"""The everyday request path (issue #10, W1): what one request costs, and the engine path against raw SpiffWorkflow.

A W1-shaped process (bench/w1_shape.bpmn: start -> a report by the starter -> a script -> an exclusive
gateway -> a review by a group -> end) run through the 8 HTTP calls of a case (start, list, read and
complete each task, read the case). Printed, each with its baseline from the same run:

1. SQL statements and transactions per call (in-process Flask test client; BEGIN/COMMIT not counted
   as statements; "total" adds them, as a database log would show them).
2. `GET /api/v1/me` p50 against `GET /healthz` p50 (no authentication, no database), in-process and over
   HTTP (`amflow serve`).
3. amflow's engine path (start + two completions through `processes`, with the database, no HTTP) per case
   against the raw SpiffWorkflow cost of the same steps (parse once; per case: run, serialize, deserialize
   between steps), interleaved in the same loop.
4. Cases per second at 1 and 4 clients over a served app (`amflow serve`, SQLite), with /me as baseline.

    .venv/bin/python bench/request_path.py              # everything, SQLite
    .venv/bin/python bench/request_path.py --skip-served --database-url postgresql://...   # parts 1 and 3
"""

# ruff: noqa: E402  (the path is set before the imports: see below)
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if sys.path and Path(sys.path[0]).resolve() == HERE:  # bench/queue.py must not shadow the standard library's queue
    sys.path[0] = str(HERE.parent)
else:
    sys.path.insert(0, str(HERE.parent))

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

import processes
from processes import demo
from service import create_app, get_database

BPMN = HERE / "w1_shape.bpmn"
PROCESS = "w1_shape"
STARTER, REVIEWER, UNIT = "anna", "karl", "kemi"
START_DATA = {"note": "Spildt ethanol i laboratoriet"}
REPORT = {"note": "Glasflaske tabt, ingen personskade", "details": {"severity": "high"}}
REVIEW = {"note": "Gennemgået; spildbakke bestilt"}
CALLS = ("start", "list tasks", "read task", "complete task", "read case")


# --- 1. statements and transactions per call ---------------------------------------------------------------

class Counter:
    """Counts the SQL statements and transactions the app's engines run."""

    def __init__(self, database: processes.Database) -> None:
        self.statements: list[str] = []
        self.transactions = 0
        self.engines = list({id(e): e for e in (database.read_engine, database.write_engine)}.values())

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith("BEGIN"):  # SQLite's BEGIN is ours; PostgreSQL's is implicit
            self.statements.append(statement)

    def _begin(self, _conn: Any) -> None:
        self.transactions += 1

    @contextmanager
    def counting(self) -> Iterator[Counter]:
        self.statements, self.transactions = [], 0
        for engine in self.engines:
            event.listen(engine, "before_cursor_execute", self._statement)
            event.listen(engine, "begin", self._begin)
        try:
            yield self
        finally:
            for engine in self.engines:
                event.remove(engine, "before_cursor_execute", self._statement)
                event.remove(engine, "begin", self._begin)


def make_app(url: str, folder: str) -> Any:
    app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "bench-" * 8, "INSTANCE_PATH": folder})
    database = get_database(app)
    database.upgrade()
    demo.load_demo(database)
    processes.deploy(database, BPMN.read_bytes(), BPMN.name, actor=None)
    return app


def w1_case(call: Callable[[str, str, str, str, Any], Any]) -> None:
    """The 8 calls of one W1 case; ``call(kind, method, path, user, body)`` returns the JSON answer."""
    case = call("start", "POST", "/cases", STARTER, {"process": PROCESS, "unit": UNIT, "data": START_DATA})
    for user, data in ((STARTER, REPORT), (REVIEWER, REVIEW)):
        [task] = [item for item in call("list tasks", "GET", "/tasks", user, None)["items"]
                  if item["case_id"] == case["id"]]
        call("read task", "GET", f"/tasks/{task['id']}", user, None)
        case = call("complete task", "POST", f"/tasks/{task['id']}/complete", user, {"data": data})
    if case["status"] != "completed":
        raise RuntimeError(f"case {case['id']} ended {case['status']}")
    call("read case", "GET", f"/cases/{case['id']}", STARTER, None)


def statements_per_call(url: str, folder: str) -> None:
    app = make_app(url, folder)
    client = app.test_client()
    tokens = {user: client.post("/api/v1/auth/token", json={"username": user, "password": demo.DEMO_PASSWORD})
              .get_json()["token"] for user in (STARTER, REVIEWER)}
    counter = Counter(get_database(app))
    seen: dict[str, list[tuple[int, int]]] = {kind: [] for kind in (*CALLS, "me")}

    def call(kind: str, method: str, path: str, user: str, body: Any) -> Any:
        with counter.counting():
            response = client.open("/api/v1" + path, method=method, json=body,
                                   headers={"Authorization": f"Bearer {tokens[user]}"})
        if response.status_code >= 300:
            raise RuntimeError(f"{method} {path} -> {response.status_code}: {response.get_json()}")
        seen[kind].append((len(counter.statements), counter.transactions))
        return response.get_json()

    w1_case(call)  # warm the caches of the process version
    for found in seen.values():
        found.clear()
    w1_case(call)
    call("me", "GET", "/me", STARTER, None)
    print("1. SQL per call of one W1 case (in-process; statements without BEGIN/COMMIT, transactions)")
    print(f"   {'call':<15}{'n':>3}{'statements':>12}{'transactions':>14}")
    case_statements = case_transactions = 0
    for kind in (*CALLS, "me"):
        for statements, transactions in seen[kind]:
            if kind != "me":
                case_statements += statements
                case_transactions += transactions
        worst = max(seen[kind])
        print(f"   {kind:<15}{len(seen[kind]):>3}{worst[0]:>12}{worst[1]:>14}")
    print(f"   per case: {case_statements} statements in {case_transactions} transactions "
          f"({case_statements + 2 * case_transactions} counting BEGIN and COMMIT)")
    get_database(app).dispose()


# --- 2. /me against /healthz, in-process -------------------------------------------------------------------

def me_in_process(url: str, folder: str, rounds: int) -> None:
    app = make_app(url, folder)
    client = app.test_client()
    token = client.post("/api/v1/auth/token", json={"username": STARTER, "password": demo.DEMO_PASSWORD}
                        ).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    me, healthz = [], []
    for _ in range(rounds):  # interleaved, so both see the same machine
        started = time.perf_counter()
        client.get("/healthz")
        healthz.append(time.perf_counter() - started)
        started = time.perf_counter()
        client.get("/api/v1/me", headers=headers)
        me.append(time.perf_counter() - started)
    base, p50 = statistics.median(healthz), statistics.median(me)
    print("2a. GET /api/v1/me in-process (Flask test client)")
    print(f"   /healthz p50 {base * 1000:.2f} ms   /me p50 {p50 * 1000:.2f} ms   ratio {p50 / base:.1f}   "
          f"/me minus /healthz {(p50 - base) * 1000:.2f} ms")
    get_database(app).dispose()


# --- 3. the engine path against raw SpiffWorkflow -----------------------------------------------------------

def raw_spiff() -> Callable[[], None]:
    """The same steps in plain SpiffWorkflow: parsed once; run, serialize and restore between the steps."""
    from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer  # noqa: PLC0415
    from SpiffWorkflow.bpmn.workflow import BpmnWorkflow  # noqa: PLC0415
    from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser  # noqa: PLC0415
    from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG  # noqa: PLC0415
    from SpiffWorkflow.util.task import TaskState  # noqa: PLC0415

    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(BPMN))
    spec = parser.get_spec(PROCESS)
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))

    def complete(state: str, data: dict[str, Any]) -> str:
        workflow = serializer.deserialize_json(state)
        [task] = workflow.get_tasks(state=TaskState.READY, manual=True)
        task.set_data(**data)
        task.run()
        workflow.do_engine_steps()
        return serializer.serialize_json(workflow)

    def one_case() -> None:
        workflow = BpmnWorkflow(spec)
        workflow.get_tasks(state=TaskState.READY)[0].set_data(**START_DATA)
        workflow.do_engine_steps()
        state = serializer.serialize_json(workflow)
        state = complete(state, REPORT)
        state = complete(state, REVIEW)
        if not serializer.deserialize_json(state).completed:
            raise RuntimeError("raw SpiffWorkflow case did not complete")

    return one_case


def amflow_engine_path(url: str) -> tuple[Callable[[], None], processes.Database]:
    """Start and two completions through the use cases (the database included, no HTTP)."""
    database = processes.Database(url)
    database.upgrade()
    demo.load_demo(database)
    processes.deploy(database, BPMN.read_bytes(), BPMN.name, actor=None)
    starter, reviewer = processes.get_user(database, STARTER), processes.get_user(database, REVIEWER)

    def one_case() -> None:
        case = processes.start_case(database, process=PROCESS, unit=UNIT, data=START_DATA, actor=starter)
        case = processes.complete_task(database, case.tasks[0].id, data=REPORT, actor=starter)
        case = processes.complete_task(database, case.tasks[0].id, data=REVIEW, actor=reviewer)
        if case.status != processes.CaseStatus.COMPLETED:
            raise RuntimeError(f"case {case.id} ended {case.status}")

    return one_case, database


def engine_path(url: str, cases: int, profile: bool) -> None:
    raw = raw_spiff()
    ours, database = amflow_engine_path(url)
    raw(), ours()  # warm up (imports, caches)
    raw_times, our_times = [], []
    for _ in range(cases):
        started = time.perf_counter()
        raw()
        raw_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        ours()
        our_times.append(time.perf_counter() - started)
    base, p50 = statistics.median(raw_times), statistics.median(our_times)
    print("3. Engine path per case: start + complete two user tasks (script, gateway), no HTTP")
    print(f"   raw SpiffWorkflow p50 {base * 1000:.2f} ms   amflow (use cases + database) p50 {p50 * 1000:.2f} ms"
          f"   ratio {p50 / base:.1f}")
    if profile:
        import cProfile  # noqa: PLC0415
        import pstats  # noqa: PLC0415

        profiler = cProfile.Profile()
        profiler.runcall(lambda: [ours() for _ in range(cases)])
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_stats(30)
    database.dispose()


# --- 4. served: /me and cases per second --------------------------------------------------------------------

class HttpClient:
    """JSON over HTTP. ``keepalive``: each calling thread sends its requests on one kept-alive HTTP/1.1
    connection (as a real API client does); otherwise a new connection per request (urllib)."""

    def __init__(self, base: str, *, keepalive: bool = True) -> None:
        self.base = base
        parts = urllib.parse.urlsplit(base)
        self.host, self.port, self.prefix = parts.hostname or "127.0.0.1", parts.port or 80, parts.path
        self.keepalive = keepalive
        self.tokens: dict[str, str] = {}
        self.timings: dict[str, list[float]] = {}
        self.lock = threading.Lock()
        self._local = threading.local()

    def _exchange(self, method: str, path: str, data: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        reused = connection.sock is not None
        try:
            connection.request(method, self.prefix + path, body=data, headers=headers)
            response = connection.getresponse()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            if not reused:  # a kept connection the server closed after its idle time: open it again, once
                raise
            connection.close()
            connection.request(method, self.prefix + path, body=data, headers=headers)
            response = connection.getresponse()
        return response.status, response.read()

    def call(self, kind: str, method: str, path: str, user: str | None, body: Any) -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if user is not None:
            headers["Authorization"] = f"Bearer {self.tokens[user]}"
        started = time.perf_counter()
        if self.keepalive:
            status, raw = self._exchange(method, path, data, headers)
            if status >= 400:
                raise RuntimeError(f"{method} {path} -> {status}: {raw[:300]!r}")
            payload = json.loads(raw or b"{}")
        else:
            request = urllib.request.Request(self.base + path, method=method, data=data, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    payload = json.loads(response.read() or b"{}")
            except urllib.error.HTTPError as error:
                raise RuntimeError(f"{method} {path} -> {error.code}: {error.read()[:300]!r}") from None
        elapsed = time.perf_counter() - started
        with self.lock:
            self.timings.setdefault(kind, []).append(elapsed)
        return payload


@contextmanager
def served(workers: int) -> Iterator[str]:
    folder = tempfile.mkdtemp(prefix="amflow-request-path-")
    amflow = str(Path(sys.executable).with_name("amflow"))
    env = {name: value for name, value in os.environ.items() if not name.startswith("AMFLOW_")}
    env |= {"AMFLOW_DATABASE_URL": f"sqlite:///{folder}/bench.db", "AMFLOW_INSTANCE_PATH": f"{folder}/instance"}
    for command in (["db", "upgrade"], ["demo"], ["deploy", str(BPMN)]):
        subprocess.run([amflow, *command], check=True, env=env, cwd=folder, capture_output=True)
    port = _free_port()
    server = subprocess.Popen([amflow, "serve", "--port", str(port), "--workers", str(workers)], env=env,
                              cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("amflow serve did not start") from None
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


def _free_port() -> int:
    import socket  # noqa: PLC0415

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def served_part(cases: int, workers: int, rounds: int, keepalive: bool) -> None:
    with served(workers) as base:
        client = HttpClient(base, keepalive=keepalive)
        for user in (STARTER, REVIEWER):
            client.tokens[user] = client.call("login", "POST", "/api/v1/auth/token", None,
                                              {"username": user, "password": demo.DEMO_PASSWORD})["token"]
        api = HttpClient(base + "/api/v1", keepalive=keepalive)
        api.tokens, api.timings = client.tokens, client.timings
        for _ in range(rounds):
            client.call("healthz", "GET", "/healthz", None, None)
            api.call("me", "GET", "/me", STARTER, None)
        base_p50, me_p50 = statistics.median(client.timings["healthz"]), statistics.median(client.timings["me"])
        how = "one kept-alive connection per client" if keepalive else "a new connection per request"
        print(f"2b. GET /api/v1/me over HTTP (amflow serve --workers {workers}, {how})")
        print(f"   /healthz p50 {base_p50 * 1000:.2f} ms   /me p50 {me_p50 * 1000:.2f} ms   "
              f"ratio {me_p50 / base_p50:.1f}   /me minus /healthz {(me_p50 - base_p50) * 1000:.2f} ms")
        print(f"4. W1 cases over HTTP (amflow serve --workers {workers}, SQLite, {how}), {cases} cases per run")
        for clients in (1, 4):
            for kind in CALLS:
                client.timings.pop(kind, None)
            runner = HttpClient(base + "/api/v1", keepalive=keepalive)  # fresh connections for the new threads
            runner.tokens, runner.timings = client.tokens, client.timings
            started = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                for future in [pool.submit(w1_case, runner.call) for _ in range(cases)]:
                    future.result()
            elapsed = time.perf_counter() - started
            print(f"   {clients} client(s): {cases / elapsed:6.1f} cases/s  "
                  + "  ".join(f"{kind} {statistics.median(client.timings[kind]) * 1000:.1f}"
                              for kind in CALLS) + " ms p50  "
                  + f"(a case = {elapsed / cases / me_p50:.0f}x /me p50)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument("--cases", type=int, default=100, help="cases per part (engine path and served runs)")
    parser.add_argument("--rounds", type=int, default=500, help="/me and /healthz requests")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-served", action="store_true", help="only the in-process parts")
    parser.add_argument("--profile", action="store_true", help="cProfile the engine path")
    parser.add_argument("--no-keepalive", action="store_true",
                        help="served part: a new connection per request instead of one kept-alive per client")
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="amflow-request-path-")
    try:
        def url(name: str) -> str:
            return args.database_url or f"sqlite:///{folder}/{name}.db"

        if args.database_url:
            print("(one database for every part: parts reuse the demo data)")
        statements_per_call(url("statements"), folder)
        me_in_process(url("me"), folder, args.rounds)
        engine_path(url("engine"), args.cases, args.profile)
        if not args.skip_served:
            served_part(args.cases, args.workers, args.rounds, keepalive=not args.no_keepalive)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
