"""The product as `make run` starts it, for tests over real HTTP: `amflow db upgrade`, `amflow demo`,
`amflow serve --workers N` (gunicorn plus its timer/e-mail worker), and a small JSON client."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

AMFLOW = Path(sys.executable).parent / "amflow"
DEMO_PASSWORD = "demo-amflow"  # the published demo password of processes/demo.py
START_SECONDS = 90


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Client:
    """JSON over real HTTP, as one demo user or another (one bearer token per user)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.tokens: dict[str, str] = {}

    def call(self, method: str, path: str, *, as_: str | None = None, body: Any = None) -> tuple[int, Any]:
        """(status, JSON body); raises OSError when the connection fails or the answer is cut off (e.g. its
        worker was killed)."""
        headers = {"Content-Type": "application/json"}
        if as_ is not None:
            headers["Authorization"] = f"Bearer {self.token(as_)}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            with error:
                return error.code, json.loads(error.read())
        except http.client.HTTPException as error:  # e.g. IncompleteRead: the worker died mid-answer
            raise ConnectionError(f"the answer was cut off: {error!r}") from error

    def token(self, username: str) -> str:
        if username not in self.tokens:
            status, body = self.call("POST", "/auth/token", body={"username": username, "password": DEMO_PASSWORD})
            assert status == 201, body
            self.tokens[username] = body["token"]
        return self.tokens[username]


@dataclass
class Served:
    """A running `amflow serve`: its client, process, environment and log."""

    client: Client
    process: subprocess.Popen[bytes]
    environment: dict[str, str]
    log: Path

    def amflow(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run another `amflow` command on the same database and settings."""
        return subprocess.run([str(AMFLOW), *args], env=self.environment, capture_output=True, text=True,
                              check=False, timeout=timeout)

    def children(self) -> dict[int, str]:
        """The processes `amflow serve` started (gunicorn workers, the timer worker), by pid, with their command."""
        found = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == self.process.pid:
                    pid = int(stat.parent.name)
                    found[pid] = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        return found

    def timer_worker_pid(self) -> int:
        pids = [pid for pid, command in self.children().items() if "service worker" in command]
        assert len(pids) == 1, self.children()
        return pids[0]

    def gunicorn_worker_pids(self) -> list[int]:
        return sorted(pid for pid, command in self.children().items() if "service worker" not in command)


@contextlib.contextmanager
def served_demo(database_url: str, folder: Path, *, workers: int = 2, deploy: tuple[Path, ...] = (),
                **settings: str) -> Iterator[Served]:
    """`make run` on `database_url` (plus `amflow deploy` of extra files); stopped when the block ends."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("AMFLOW_")}
    environment |= {"AMFLOW_DATABASE_URL": database_url, "AMFLOW_INSTANCE_PATH": str(folder / "instance")}
    environment |= {f"AMFLOW_{name}": value for name, value in settings.items()}
    for command in (["db", "upgrade"], ["demo"], *([["deploy", *map(str, deploy)]] if deploy else [])):
        done = subprocess.run([str(AMFLOW), *command], env=environment, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
    log_path = folder / "serve.log"
    port = free_port()
    with log_path.open("w") as log:
        process = subprocess.Popen([str(AMFLOW), "serve", "--port", str(port), "--workers", str(workers)],
                                   env=environment, stdout=log, stderr=subprocess.STDOUT)
    served = Served(Client(f"http://127.0.0.1:{port}/api/v1"), process, environment, log_path)
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            try:
                if served.client.call("GET", "/openapi.json")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        yield served
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
