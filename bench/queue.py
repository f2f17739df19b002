"""The task queue at scale: p50/p95 of the queue over HTTP with 1k, 10k and 100k open tasks.

Builds the open tasks directly with bulk inserts (a realistic spread: 12 units, DTU Kemi the largest,
several groups, about a fifth claimed, most with a due date, a few hundred assigned to the measured AMK),
starts the real server (`amflow serve`, gunicorn on loopback) on that database, and measures as the demo
AMK karl (amk + employees in kemi):

- `GET /api/v1/tasks` default (open tasks, oldest first), with filters, with sorts, a later page by cursor,
- the web queue page `/` (logged in with a session cookie),
- the baseline `GET /api/v1/me` (authentication and one small query).

Every figure is also given as a ratio to the baseline's p50/p95 of the same size, because the machine is
shared and noisy. Sizes are built one after the other on the same database (1k, then 9k more, ...).

    .venv/bin/python bench/queue.py                      # temporary SQLite file
    .venv/bin/python bench/queue.py --sizes 1000,10000 --requests 100
    .venv/bin/python bench/queue.py --postgresql         # a throw-away PostgreSQL server (tests/postgres.py)
    .venv/bin/python bench/queue.py --database-url postgresql+psycopg://amflow@localhost/amflow_bench
    .venv/bin/python bench/queue.py --sizes 100000 --keep /tmp/queue100k.db   # build once, reuse after
    .venv/bin/python bench/queue.py --no-keepalive       # a new connection per request, to compare

On PostgreSQL the tables are VACUUM ANALYZEd after each size is built (what autovacuum does soon after a
bulk insert): the planner knows the sizes and an index-only scan need not visit the table; on SQLite
nothing is analysed, as in a default deployment.
"""

# ruff: noqa: E402 - the path is fixed (below) before anything imports the standard library's queue

from __future__ import annotations

import sys
from pathlib import Path

# run as a script, bench/ comes first on the path and this file would shadow the standard library's queue
# (psycopg imports it); the checkout comes instead, for tests/postgres.py
_ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(_ROOT), *(entry for entry in sys.path if Path(entry or ".").resolve() != _ROOT / "bench")]

import argparse
import http.client
import importlib
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, insert, select, text

import processes
from processes.demo import DEMO_PASSWORD
from processes.people.identity import visible_tasks_clause
from processes.store.models import Case, ProcessVersion, TaskRecord, Unit

EXTRA_UNITS = ("compute", "construct", "physics", "bioengineering")  # to ~12 units, as at DTU
UNIT_WEIGHTS = {"kemi": 2.0}  # DTU Kemi is a large department; every other unit weighs 1
GROUP_WEIGHTS = {"amk": 35, "employees": 15, "leaders": 20, "amr": 5, "hr": 5, "arbejdsmiljo": 10, "cas": 7,
                 "precursor-coordinator": 3}
TITLES = ("Vurder risikoen", "Godkend alenearbejde", "Registrer hændelse", "Følg op på APV", "Godkend prækursor")
USER = ("karl", DEMO_PASSWORD)
BASELINE = "GET /api/v1/me"

SCENARIOS: list[tuple[str, str]] = [  # (name, path)
    (BASELINE, "/api/v1/me"),
    ("tasks default", "/api/v1/tasks"),
    ("tasks unit=kemi&assignee=none", "/api/v1/tasks?unit=kemi&assignee=none"),
    ("tasks overdue=true", "/api/v1/tasks?overdue=true"),
    ("tasks group=amk", "/api/v1/tasks?group=amk"),
    ("tasks sort=due_at", "/api/v1/tasks?sort=due_at"),
    ("tasks sort=title desc", "/api/v1/tasks?sort=title&order=desc"),
    ("tasks offset=500", "/api/v1/tasks?offset=500"),
    ("tasks next page (cursor)", "CURSOR"),
    ("web queue /", "/"),
    ("web queue sort=due_at", "/?sort=due_at"),
]


def build(db: processes.Database, target: int, rng: random.Random) -> None:
    """Insert open tasks (each with its own case) until there are `target` of them."""
    with db.write() as session:
        have = session.scalar(select(func.count()).select_from(TaskRecord)) or 0
        if have > target:  # a kept database with more tasks than asked for: start again
            session.execute(delete(TaskRecord))
            session.execute(delete(Case))
            have = 0
        version = session.scalars(select(ProcessVersion).order_by(ProcessVersion.id)).first()
        assert version is not None, "the demo deploys the bundled processes"
        units = sorted(session.scalars(select(Unit.code)))
    weights = [UNIT_WEIGHTS.get(unit, 1.0) for unit in units]
    groups, group_weights = zip(*GROUP_WEIGHTS.items(), strict=True)
    now = datetime.now(UTC)
    remaining = target - have
    while remaining > 0:
        chunk = min(remaining, 5000)
        cases, tasks = [], []
        for _ in range(chunk):
            case_id, unit = str(uuid.uuid4()), rng.choices(units, weights)[0]
            group = rng.choices(groups, group_weights)[0]
            created = now - timedelta(minutes=rng.randrange(365 * 24 * 60))
            due = created + timedelta(days=rng.randrange(1, 60)) if rng.random() < 0.7 else None
            assignee = None
            if unit == "kemi" and group == "amk" and rng.random() < 0.05:
                assignee = "karl"
            elif rng.random() < 0.2:
                assignee = f"user{rng.randrange(200)}"
            if rng.random() < 0.002:  # tasks handed to karl from elsewhere: visible through the assignee rule
                assignee = "karl"
            cases.append({"id": case_id, "process_version_id": version.id, "process_key": version.key,
                          "unit": unit, "status": "running", "data": {}, "state": "{}", "serializer_version": "1",
                          "revision": 1, "started_by": "anna", "created_at": created, "updated_at": created})
            tasks.append({"id": str(uuid.uuid4()), "case_id": case_id, "process_key": version.key,
                          "name": "task", "title": rng.choice(TITLES), "group": group, "unit": unit,
                          "assignee": assignee, "status": "claimed" if assignee else "ready", "form": None,
                          "due_at": due, "created_at": created})
        with db.write() as session:
            session.execute(insert(Case), cases)
            session.execute(insert(TaskRecord), tasks)
        remaining -= chunk
    if not db.is_sqlite:  # what autovacuum does after a bulk insert: statistics, and the visibility map
        with db.write_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE cases"))
            connection.execute(text("VACUUM ANALYZE tasks"))


def prepare(db: processes.Database) -> None:
    """A fresh schema with the demo users and processes, and the extra units."""
    db.upgrade()
    processes.load_demo(db)
    with db.write() as session:
        session.execute(delete(TaskRecord))
        session.execute(delete(Case))
        known = set(session.scalars(select(Unit.code)))
        session.add_all(Unit(code=code, name=f"DTU {code}") for code in EXTRA_UNITS if code not in known)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(database_url: str, workdir: str) -> tuple[subprocess.Popen[bytes], str]:
    amflow = shutil.which("amflow") or str(Path(sys.executable).with_name("amflow"))
    env = {**os.environ, "AMFLOW_DATABASE_URL": database_url}
    port = free_port()
    server = subprocess.Popen([amflow, "serve", "--port", str(port), "--workers", "1", "--no-worker"], env=env,
                              cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + "/api/v1/openapi.json", timeout=2).close()
            return server, base
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError("the server did not start within 60 s")


class Client:
    """Bearer-token API calls and a logged-in browser session, over real HTTP.

    As real clients do, each keeps one HTTP/1.1 connection open (keep-alive; gunicorn's gthread worker keeps
    an idle one for `keepalive` seconds, 2 by default) unless `keepalive` is off: then every request opens
    a new connection and asks the server to close it (`--no-keepalive`, to compare).
    """

    def __init__(self, base: str, *, keepalive: bool = True) -> None:
        self.address = urllib.parse.urlsplit(base).netloc
        self.keepalive = keepalive
        self.connections: dict[str, http.client.HTTPConnection] = {}
        self.cookies: dict[str, str] = {}
        status, body = self.request("POST", "/api/v1/auth/token", "api",
                                    json.dumps({"username": USER[0], "password": USER[1]}).encode(),
                                    {"Content-Type": "application/json"})
        assert status in (200, 201), body
        self.token = json.loads(body)["token"]
        status, page = self.request("GET", "/login", "browser")
        match = re.search(r'name="csrf_token" value="([^"]+)"', page.decode())
        assert match, "the log-in form has a CSRF token"
        form = urllib.parse.urlencode({"csrf_token": match[1], "username": USER[0], "password": USER[1]})
        status, _page = self.request("POST", "/login", "browser", form.encode(),
                                     {"Content-Type": "application/x-www-form-urlencoded"})
        assert status in (302, 303), status

    def request(self, method: str, path: str, client: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """One request on the client's connection (a new one if keep-alive is off or the server closed it)."""
        headers = dict(headers or {})
        if client == "browser" and self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        if not self.keepalive:
            headers["Connection"] = "close"
        for attempt in (1, 2):
            connection = self.connections.get(client)
            if connection is None:
                connection = self.connections[client] = http.client.HTTPConnection(self.address, timeout=60)
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                connection.close()  # the server closed an idle connection: open a new one, once
                del self.connections[client]
                if attempt == 2:
                    raise
        if client == "browser":
            for header in response.headers.get_all("Set-Cookie") or []:
                name, _, value = header.split(";", 1)[0].partition("=")
                self.cookies[name.strip()] = value.strip()
        if not self.keepalive or response.will_close:
            connection.close()
            del self.connections[client]
        return response.status, data

    def get(self, path: str) -> bytes:
        if path.startswith("/api/"):
            status, body = self.request("GET", path, "api", headers={"Authorization": f"Bearer {self.token}"})
        else:
            status, body = self.request("GET", path, "browser")
            if b'name="password"' in body:
                raise RuntimeError("the web session is not logged in")
        if status != 200:
            raise urllib.error.HTTPError(path, status, body.decode(errors="replace")[:200], None, None)
        return body

    def close(self) -> None:
        for connection in self.connections.values():
            connection.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(client: Client, requests: int) -> dict[str, tuple[float, float]]:
    """p50 and p95 in seconds per scenario; the scenarios interleave so noise hits them alike."""
    first = json.loads(client.get("/api/v1/tasks"))
    cursor = first.get("next_cursor")
    paths = {name: (f"/api/v1/tasks?cursor={urllib.parse.quote(cursor)}" if path == "CURSOR" else path)
             for name, path in SCENARIOS if path != "CURSOR" or cursor}
    timings: dict[str, list[float]] = {name: [] for name in paths}
    for name, path in list(paths.items()):  # warm up: caches, prepared plans, page cache
        try:
            for _ in range(5):
                client.get(path)
        except urllib.error.HTTPError as exc:  # a parameter this version does not know yet
            print(f"skipped {name}: HTTP {exc.code}", file=sys.stderr)
            del paths[name], timings[name]
    for _ in range(requests):
        for name, path in paths.items():
            started = time.perf_counter()
            client.get(path)
            timings[name].append(time.perf_counter() - started)
    return {name: (statistics.median(values), percentile(values, 0.95)) for name, values in timings.items()}


def report(size: int, visible: int, total: object, results: dict[str, tuple[float, float]]) -> None:
    base50, base95 = results[BASELINE]
    print(f"\n{size:,} open tasks ({visible:,} visible to {USER[0]}; API total says {total})")
    print(f"{'request':<32}{'p50 ms':>9}{'p95 ms':>9}{'p50 x me':>10}{'p95 x me':>10}")
    for name, (p50, p95) in results.items():
        print(f"{name:<32}{p50 * 1000:>9.2f}{p95 * 1000:>9.2f}{p50 / base50:>10.1f}{p95 / base95:>10.1f}")
    if "web queue /" in results:  # the target: the web page at most twice the API's default queue
        web50, web95 = results["web queue /"]
        api50, api95 = results["tasks default"]
        print(f"web queue / over tasks default: p50 {web50 / api50:.1f}x, p95 {web95 / api95:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="an empty database to fill (default: a temporary SQLite file)")
    parser.add_argument("--postgresql", action="store_true",
                        help="on a throw-away PostgreSQL server (tests/postgres.py, as the test suite uses)")
    parser.add_argument("--sizes", default="1000,10000,100000", help="open-task counts, ascending")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per scenario and size")
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--no-keepalive", dest="keepalive", action="store_false",
                        help="a new HTTP connection per request (default: one kept-alive connection per client)")
    parser.add_argument("--keep", metavar="FILE",
                        help="SQLite only: build the tasks in FILE and keep it; a later run with the same FILE "
                             "reuses the tasks it finds (building 100,000 takes minutes)")
    args = parser.parse_args()
    if args.postgresql:
        with importlib.import_module("tests.postgres").postgres_server() as server:
            args.database_url = server.create_database("bench_queue")
            run(args)
    else:
        run(args)


def run(args: argparse.Namespace) -> None:
    workdir = tempfile.mkdtemp(prefix="amflow-bench-queue-")
    if args.keep and args.database_url:
        raise SystemExit("--keep is for the SQLite file the bench builds, not with --database-url or --postgresql")
    kept = Path(args.keep).resolve() if args.keep else None
    url = args.database_url or f"sqlite:///{kept or Path(workdir) / 'queue.db'}"
    db = processes.Database(url)
    server = None
    client = None
    rng = random.Random(args.seed)
    try:
        if kept is not None and kept.exists():
            db.upgrade()
            print(f"reusing the tasks in {kept}", file=sys.stderr)
        else:
            prepare(db)
        server, base = start_server(url, workdir)
        client = Client(base, keepalive=args.keepalive)
        print(f"HTTP keep-alive {'on' if args.keepalive else 'off'}", file=sys.stderr)
        karl = processes.get_user(db, USER[0])
        for size in (int(text) for text in args.sizes.split(",")):
            started = time.perf_counter()
            build(db, size, rng)
            with db.read() as session:
                visible = session.scalar(select(func.count()).select_from(TaskRecord).where(
                    visible_tasks_clause(karl), TaskRecord.status.in_(("ready", "claimed"))))
            print(f"built {size:,} open tasks in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            total = json.loads(client.get("/api/v1/tasks")).get("total")
            report(size, visible or 0, total, measure(client, args.requests))
    finally:
        if client is not None:
            client.close()
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        db.dispose()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
