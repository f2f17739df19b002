"""`amflow serve` starts gunicorn on a fresh database and answers HTTP."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def _wait_until_up(url: str, server: subprocess.Popen, deadline: float) -> tuple[int, dict]:
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"amflow serve exited with {server.returncode}")
        try:
            return _get(url)
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    pytest.fail(f"amflow serve did not answer {url} in time")


@pytest.mark.slow
def test_amflow_serve_upgrades_a_fresh_database_and_serves_the_api(tmp_path, make_database_url):
    amflow = Path(sys.executable).parent / "amflow"
    if not amflow.exists():
        pytest.fail(f"{amflow} is missing: install the project with `pip install -e '.[test]'`")
    port = _free_port()
    environment = {
        "PATH": "/usr/bin:/bin",
        "AMFLOW_DATABASE_URL": make_database_url("served"),
        "AMFLOW_INSTANCE_PATH": str(tmp_path / "instance"),
    }
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [str(amflow), "serve", "--port", str(port), "--workers", "1"], env=environment, stdout=log, stderr=log
    )
    try:
        base = f"http://127.0.0.1:{port}/api/v1"
        status, document = _wait_until_up(f"{base}/openapi.json", server, time.monotonic() + 60)
        assert status == 200
        assert document["openapi"].startswith("3.")
        assert "/api/v1/tasks" in document["paths"]
        status, body = _get(f"{base}/me")
        assert status == 401
        assert body["error"]["code"] == "unauthenticated"
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
    assert server.returncode == 0, (tmp_path / "serve.log").read_text()
    assert (tmp_path / "instance" / "secret_key").exists()
