"""Issue #15's acceptance in a real browser: a contractor job from registration to close-out.

A requester (anna) registers a job in a chemical lab; the unit's leader (lene) appoints the kontaktperson
(kasper) and the room owner (rita); the worker sends the e-mails over real SMTP on loopback, and the supplier's
site lead (no account) opens the portal link from the e-mail on a 390x844 phone, fills in the portal tasks
(two workers) and later acknowledges the introduction for each worker; the kontaktperson completes the risk
assessment, gives the introduction and access, reports the work done and the hand-over; both sign off and the
case closes.

This module serves its own app (`amflow serve`) so the service knows its public address (AMFLOW_BASE_URL) for
the links it mails; the e-mail worker runs as `amflow worker --once` against the `smtp_server` fixture.
"""

from __future__ import annotations

import os
import re
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
from playwright.sync_api import Page, expect

PASSWORD = "demo-amflow"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SITE_LEAD = "sif@byg.example"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


class Served:
    def __init__(self, url: str, log: Path, environment: dict[str, str], workdir: Path) -> None:
        self.url, self.log, self.environment, self.workdir = url, log, environment, workdir

    def worker_once(self, smtp_url: str) -> str:
        """`amflow worker --once` with the SMTP server: sends what the outbox holds."""
        done = subprocess.run([str(Path(sys.executable).parent / "amflow"), "worker", "--once"], cwd=self.workdir,
                              env={**self.environment, "AMFLOW_SMTP_URL": smtp_url}, capture_output=True,
                              text=True, check=False, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, databases: Any) -> Iterator[Served]:
    """`amflow serve` with the demo loaded and AMFLOW_BASE_URL set to where it answers."""
    amflow = Path(sys.executable).parent / "amflow"
    workdir = tmp_path_factory.mktemp("contractor-server")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    environment = {name: value for name, value in os.environ.items() if not name.startswith("AMFLOW_")}
    database_url = databases.new("contractor_browser")
    environment.update({"AMFLOW_DATABASE_URL": database_url, "AMFLOW_BASE_URL": url,
                        "AMFLOW_SECRET_KEY": "contractor-browser-test-secret"})
    for command in (["db", "upgrade"], ["demo"]):
        done = subprocess.run([str(amflow), *command], cwd=workdir, env=environment, capture_output=True, text=True,
                              check=False)
        assert done.returncode == 0, f"amflow {command}: {done.stdout}\n{done.stderr}"
    log_path = workdir / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen([str(amflow), "serve", "--port", str(port), "--workers", "1", "--no-worker"],
                                   cwd=workdir, env=environment, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while not _answers(f"{url}/login"):
                assert process.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.2)
            yield Served(url, log_path, environment, workdir)
        finally:
            process.terminate()
            process.wait(timeout=30)
            databases.drop(database_url)


def log_in(browsing: Any, username: str) -> Page:
    page = browsing.new_page(DESKTOP)
    page.goto("/login")
    page.get_by_label("Brugernavn").fill(username)
    page.get_by_label("Adgangskode").fill(PASSWORD)
    page.get_by_role("button", name="Log ind", exact=True).click()
    expect(page.get_by_test_id("who")).to_be_visible()
    return page


def open_task(page: Page, case_id: str) -> None:
    """Open the case's (one) task from the queue."""
    page.goto("/")
    row = page.locator("tr.task").filter(has=page.locator(f'a[href="/cases/{case_id}"]'))
    expect(row).to_have_count(1)
    task_id = row.get_attribute("data-task-id") or ""
    row.locator(f'a[href="/tasks/{task_id}"]').click()
    expect(page).to_have_url(re.compile(f"/tasks/{task_id}$"))


def complete(page: Page) -> None:
    page.locator('button[name="action"][value="complete"]').click()
    expect(page).to_have_url(re.compile(r"/(\?.*)?$"))


def portal_form(page: Page, task_name_title: str):
    return page.locator("article.link-task").filter(has=page.get_by_role("heading", name=task_name_title))


@pytest.mark.slow
def test_a_contractor_job_is_registered_appointed_worked_on_the_portal_and_closed(browsing, server, smtp_server):
    # The requester registers a job in a chemical lab.
    anna = log_in(browsing, "anna")
    anna.goto("/start")
    anna.locator('a[data-process="contractor_onboarding"]').click()
    for field, value in (("campus", "Lyngby"), ("building", "207"), ("room", "112"),
                         ("job_description", "Service af stinkskab"), ("job_start_date", "2031-03-10"),
                         ("job_end_date", "2031-03-12"), ("max_persons_simultaneously", "2"),
                         ("supplier_company", "Byg & Ventilation ApS"), ("supplier_cvr_or_rut", "12345678"),
                         ("site_lead_name", "Sif Sørensen"), ("site_lead_email", SITE_LEAD),
                         ("site_lead_phone", "+45 2000 0000")):
        anna.locator(f"#f-{field}").fill(value)
    anna.locator('#f-location_hazards input[value="chemicals"]').check()
    anna.locator('#f-work_types input[value="service_visit"]').check()
    for field in ("hot_work", "particularly_dangerous_work", "worker_alone_in_hazard_area", "supplier_internal"):
        anna.locator(f'#f-{field} input[value="false"]').check()
    anna.locator('#f-site_lead_language input[value="da"]').check()
    anna.get_by_role("button", name="Start sagen").click()
    expect(anna).to_have_url(re.compile(r"/cases/[^/]+$"))
    case_id = anna.url.rsplit("/", 1)[1]

    # The unit's leader appoints the kontaktperson before anything else.
    lene = log_in(browsing, "lene")
    open_task(lene, case_id)
    for field, value in (("kontaktperson_name", "Kasper Kontaktperson"),
                         ("kontaktperson_email", "kasper@example.dtu.dk"), ("kontaktperson_phone", "+45 4525 1234"),
                         ("room_owner_name", "Rita Rumansvarlig"), ("room_owner_email", "rita@example.dtu.dk")):
        lene.locator(f"#f-{field}").fill(value)
    complete(lene)

    # The worker sends the e-mails over SMTP: the site lead's carries the contact person and the portal link.
    server.worker_once(smtp_server.url)
    [portal_mail] = [m for m in smtp_server.received if SITE_LEAD in m.rcpt_tos]
    text = portal_mail.message.get_content()
    assert "Kasper Kontaktperson, telefon +45 4525 1234, e-mail kasper@example.dtu.dk" in text
    link = re.search(re.escape(server.url) + r"/link/\S+", text).group(0)
    requester_mails = [m for m in smtp_server.received if "anna@example.dtu.dk" in m.rcpt_tos]
    assert any("Kasper Kontaktperson" in m.message.get_content() for m in requester_mails)

    # The site lead opens the portal on a phone and does their part.
    phone = browsing.new_page(PHONE)
    phone.goto(link)
    expect(phone.get_by_test_id("link-page")).to_be_visible()
    expect(phone.get_by_test_id("link-header")).to_contain_text("Kasper Kontaktperson")
    expect(phone.locator("article.link-task")).to_have_count(4)
    risk = phone.locator("article.link-task").filter(has=phone.locator("#f-supplier_risks-0-hazard"))
    risk.locator("#f-supplier_risks-0-hazard").fill("Støv")
    risk.locator("#f-supplier_risks-0-measure").fill("Punktudsugning")
    risk.get_by_role("button", name="Send").click()
    expect(phone.get_by_test_id("link-done")).to_be_visible()
    workers = phone.locator("article.link-task").filter(has=phone.locator("#f-workers-0-name"))
    workers.locator("#f-workers-0-name").fill("Ole Olsen")
    workers.locator("[data-add-row]").click()
    workers.locator("#f-workers-1-name").fill("Per Persen")
    workers.get_by_role("button", name="Send").click()
    expect(phone.get_by_test_id("link-done")).to_be_visible()
    substances = phone.locator("article.link-task").filter(has=phone.locator("#f-none_brought"))
    substances.locator('#f-none_brought input[value="true"]').check()
    substances.get_by_role("button", name="Send").click()
    expect(phone.get_by_test_id("link-done")).to_be_visible()
    documents = phone.locator("article.link-task").filter(has=phone.locator("#f-document"))
    documents.locator("#f-document").set_input_files(files=[{"name": "apv.pdf", "mimeType": "application/pdf",
                                                             "buffer": b"%PDF-1.4 APV"}])
    documents.get_by_role("button", name="Send").click()
    expect(phone.get_by_test_id("link-nothing")).to_be_visible()

    # The room owner, then the kontaktperson complete the risk assessment.
    rita = log_in(browsing, "rita")
    open_task(rita, case_id)
    rita.locator("#f-local_hazard_information").fill("Stinkskabe med opløsningsmidler")
    complete(rita)
    kasper = log_in(browsing, "kasper")
    open_task(kasper, case_id)
    kasper.locator("#f-risks-0-hazard").fill("Opløsningsmidler")
    kasper.locator("#f-risks-0-measure").fill("Stinkskab tømt før start")
    kasper.locator("#f-risks-0-controlled").select_option("yes")
    complete(kasper)

    # A chemical lab: the introduction before access (A-R6), acknowledged per worker on the phone.
    open_task(kasper, case_id)
    kasper.locator("#f-introduction_date").fill("2031-03-10")
    for topic in ("local_hazards", "emergency_procedures", "alarms_escape_routes"):
        kasper.locator(f'#f-introduction_topics input[value="{topic}"]').check()
    kasper.locator('#f-introduction_language input[value="da"]').check()
    complete(kasper)
    phone.goto(link)
    ack = phone.locator("article.link-task")
    expect(ack).to_have_count(1)
    ack.locator("#f-acknowledgements-0-worker").fill("Ole Olsen")
    ack.locator("#f-acknowledgements-0-understood").select_option("yes")
    ack.locator("[data-add-row]").click()
    ack.locator("#f-acknowledgements-1-worker").fill("Per Persen")
    ack.locator("#f-acknowledgements-1-understood").select_option("yes")
    ack.get_by_role("button", name="Send").click()
    expect(phone.get_by_test_id("link-nothing")).to_be_visible()

    # Access, the work, the hand-over; then both sign off and the case closes.
    open_task(kasper, case_id)
    kasper.locator('#f-access_granted input[value="true"]').check()
    complete(kasper)
    open_task(kasper, case_id)
    kasper.locator("#f-work_finished_on").fill("2031-03-12")
    complete(kasper)
    open_task(kasper, case_id)
    for field in ("area_handed_back", "safety_systems_restored", "waste_removed"):
        kasper.locator(f'#f-{field} input[value="true"]').check()
    complete(kasper)
    open_task(kasper, case_id)
    kasper.locator('#f-signed_off input[value="true"]').check()
    complete(kasper)
    open_task(rita, case_id)
    rita.locator('#f-signed_off input[value="true"]').check()
    complete(rita)

    anna.goto(f"/cases/{case_id}")
    expect(anna.locator("[data-status]")).to_have_attribute("data-status", "completed")
    phone.goto(link)
    expect(phone.get_by_test_id("link-refused")).to_be_visible()  # the job is closed: the link says so
