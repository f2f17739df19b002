"""Browser tests: the real app served by `amflow serve`, driven by Playwright in Debian's Chromium.

The server is started once per test module as a subprocess on a free port, on its own copy of the run's demo
database (the demo organisation loaded, as `amflow demo` does), from a temporary working directory so its
`instance/` lands there. Chromium is Debian's (`apt-get install chromium`, done by `.ci/run`), launched by
path: Playwright never downloads a browser. A missing Chromium fails the tests; it is not a reason to skip.

Helpers are offered as fixtures (never imported from a conftest), as in the other test packages.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Playwright, expect, sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE_WIDTH = 600  # narrower viewports are phones: touch and a mobile user agent
# Screenshots go to docs/screenshots only when asked (`make screenshots`), so an ordinary test run
# leaves the work tree clean; otherwise they land in a temporary folder and are still taken (and so tested).
SCREENSHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("AMFLOW_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "amflow-screenshots"
)
SERVER_START_SECONDS = 60
ACTION_TIMEOUT_MS = 10_000  # a click, a fill, a page load
expect.set_options(timeout=ACTION_TIMEOUT_MS)  # an expectation (the diagram is drawn by JavaScript)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _chromium() -> str:
    """The path of Debian's Chromium, or a failure that says how to install it."""
    wanted = os.environ.get("AMFLOW_CHROMIUM")
    candidates = (wanted,) if wanted else ("/usr/bin/chromium", shutil.which("chromium"))
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail(
        "Chromium is missing: the browser tests drive Debian's Chromium at /usr/bin/chromium. Install it with "
        "`apt-get install --no-install-recommends chromium fonts-dejavu-core` (.ci/run does this on CI), "
        "or point AMFLOW_CHROMIUM at a Chromium binary.",
        pytrace=False,
    )


def _amflow() -> Path:
    amflow = Path(sys.executable).parent / "amflow"
    if not amflow.exists():
        pytest.fail(f"{amflow} is missing: install the project with `pip install -e '.[test]'`", pytrace=False)
    return amflow


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except urllib.error.HTTPError:
        return False
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@dataclass(frozen=True)
class Server:
    """The served app: where it answers and where its log goes."""

    url: str
    log: Path
    database_url: str = ""  # the served app's database (a test may run `amflow worker --once --now` on it)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, databases: Any, demo_database: Any) -> Iterator[Server]:
    """`amflow serve` on a free port with the demo loaded; terminated after the module's tests.

    The database is a copy of the run's demo database (migrated, `processes.load_demo`: what `amflow demo`
    does, which tests/api/test_cli.py runs), not a new `amflow db upgrade` and `amflow demo` per module.
    """
    amflow = _amflow()
    workdir = tmp_path_factory.mktemp("browser-server")
    environment = {name: value for name, value in os.environ.items() if not name.startswith("AMFLOW_")}
    database_url = databases.new("browser", template=demo_database.url)
    environment["AMFLOW_DATABASE_URL"] = database_url
    port = _free_port()
    log_path = workdir / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(amflow), "serve", "--port", str(port), "--workers", "1", "--no-worker"],
            cwd=workdir, env=environment, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + SERVER_START_SECONDS
            while not _answers(f"{url}/login"):
                if process.poll() is not None:
                    pytest.fail(f"amflow serve exited with {process.returncode}:\n{log_path.read_text()}",
                                pytrace=False)
                if time.monotonic() > deadline:
                    pytest.fail(f"amflow serve did not answer {url}/login in time:\n{log_path.read_text()}",
                                pytrace=False)
                time.sleep(0.2)
            yield Server(url, log_path, database_url)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            databases.drop(database_url)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Playwright's driver, stopped after the module's tests.

    Module-scoped, not session-scoped: while the sync API is active its event loop counts as running in
    the main thread, so any later test calling `asyncio.run` would fail.
    """
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's Chromium, headless, launched by path; closed after the module's tests."""
    chromium = playwright.chromium.launch(executable_path=_chromium(), headless=True, args=CHROMIUM_ARGS)
    try:
        yield chromium
    finally:
        chromium.close()


class Browsing:
    """Opens one browser context per log-in, closes them all at the end, and takes the screenshots."""

    def __init__(self, browser: Browser, server: Server) -> None:
        self.browser = browser
        self.server = server
        self.contexts: list[BrowserContext] = []
        self.csp_violations: list[str] = []  # what Chromium refused under the Content-Security-Policy

    def url(self, path: str) -> str:
        return self.server.url + path

    def new_page(self, viewport: dict[str, int], *, locale: str = "da-DK") -> Page:
        """A page in a fresh context (no cookies): a new visitor."""
        context = self.browser.new_context(
            viewport=viewport,  # type: ignore[arg-type]
            locale=locale,
            timezone_id="Europe/Copenhagen",
            base_url=self.server.url,
            is_mobile=viewport["width"] < PHONE_WIDTH,
            has_touch=viewport["width"] < PHONE_WIDTH,
        )
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        self.contexts.append(context)
        page = context.new_page()
        page.on("console", self._note_csp_violation)
        return page

    def _note_csp_violation(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            self.csp_violations.append(message.text)

    def screenshot(self, page: Page, name: str | None) -> None:
        """A full-page PNG at docs/screenshots/<name>.png (overwritten each run); nothing when name is None."""
        if name is None:
            return
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True, animations="disabled")

    def close(self) -> None:
        for context in self.contexts:
            context.close()
        self.contexts.clear()


@pytest.fixture
def browsing(browser: Browser, server: Server) -> Iterator[Browsing]:
    """Fresh browser contexts for one test, all closed when it ends."""
    helper = Browsing(browser, server)
    try:
        yield helper
    finally:
        helper.close()
    assert helper.csp_violations == []  # the pages (bpmn-js included) work under the app's CSP
