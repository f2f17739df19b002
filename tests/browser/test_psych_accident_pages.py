"""Issue #14's acceptance in a real browser: a visitor's threat with two days' absence reported three days later.

anna reports the threat of the day three days ago (intake form); the rule set finds nothing to report yet; the
leader lene sends the absence message (first day of absence the day after the event, two days); the EASY task
for DTU Arbejdsmiljø (ditte) is due at 23:59 Copenhagen time fourteen days after the first day of absence; a
worker pass (`amflow worker --once --now`, real SMTP on loopback) a minute before 08:00 three days before the
deadline sends nothing and one just after sends the reminder to ditte, without any detail of the case; ditte
records the receipt, lene holds the follow-up conversation, the AMR rasmus investigates, and the case is
closed; the AMK karl's statistics page counts it by type and as reported on time, without a name.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

DESKTOP = {"width": 1280, "height": 800}
PASSWORD = "demo-amflow"
PROCESS = "psych_accident_report"
LOCAL = ZoneInfo("Europe/Copenhagen")
WHAT_HAPPENED = "A visitor at the reception shouted that he would hurt me and followed me to the office."


def log_in(browsing: Any, username: str) -> Page:
    page = browsing.new_page(DESKTOP)
    page.goto("/login")
    page.get_by_label("Brugernavn").fill(username)
    page.get_by_label("Adgangskode").fill(PASSWORD)
    page.get_by_role("button", name="Log ind", exact=True).click()
    expect(page.get_by_test_id("who")).to_be_visible()
    return page


def complete(page: Page) -> None:
    page.get_by_role("button", name="Afslut opgaven").click()
    expect(page).to_have_url(re.compile(r"/(\?.*)?$"))


_TOKENS: dict[str, str] = {}


def _api(page: Page, path: str, username: str = "ditte") -> dict[str, Any]:
    """GET the JSON API as ``username`` (a bearer token from POST /auth/token)."""
    base = page.url.split("/", 3)[:3]
    api = "/".join(base) + "/api/v1"
    if username not in _TOKENS:
        request = urllib.request.Request(f"{api}/auth/token", method="POST",
                                         data=json.dumps({"username": username, "password": PASSWORD}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            _TOKENS[username] = json.loads(response.read())["token"]
    request = urllib.request.Request(f"{api}{path}", headers={"Authorization": f"Bearer {_TOKENS[username]}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def worker_pass(database_url: str, smtp_url: str, now: dt.datetime) -> str:
    """`amflow worker --once --now NOW` against the served app's database, mailing through ``smtp_url``."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("AMFLOW_")}
    environment.update(AMFLOW_DATABASE_URL=database_url, AMFLOW_SMTP_URL=smtp_url)
    amflow = Path(sys.executable).parent / "amflow"
    done = subprocess.run([str(amflow), "worker", "--once", "--now", now.isoformat()], env=environment,
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.slow
def test_a_visitors_threat_with_absence_reported_three_days_later_goes_to_close_in_the_browser(
    browsing, smtp_server,
):
    today = dt.datetime.now(LOCAL).date()
    injury_day = today - dt.timedelta(days=3)
    first_absence = injury_day + dt.timedelta(days=1)
    deadline_day = first_absence + dt.timedelta(days=14)
    due = dt.datetime.combine(deadline_day, dt.time(23, 59), tzinfo=LOCAL)
    reminder = dt.datetime.combine(deadline_day - dt.timedelta(days=3), dt.time(8, 0), tzinfo=LOCAL)

    # The affected employee reports the threat.
    anna = log_in(browsing, "anna")
    anna.goto(f"/start/{PROCESS}")
    anna.locator('#f-reporter_role input[value="affected"]').check()
    anna.locator('#f-personal_injury input[value="true"]').check()
    anna.locator("#f-what_happened").fill(WHAT_HAPPENED)
    anna.locator("#f-where").fill("Building 101, reception")
    anna.locator("#f-injury_date").fill(injury_day.isoformat())
    anna.locator("#f-injury_time").fill("14:30")
    anna.locator("#f-event_type").select_option("threat_verbal")
    anna.locator("#f-perpetrator").select_option("visitor_external")
    anna.locator('#f-outside_working_hours input[value="false"]').check()
    anna.locator('#f-work_related input[value="true"]').check()
    anna.locator('#f-exposure input[value="sudden"]').check()
    anna.locator("#f-absence_days_beyond_injury_day").fill("0")
    anna.get_by_role("button", name="Start sagen").click()
    expect(anna).to_have_url(re.compile(r"/cases/[^/]+$"))
    case_id = anna.url.rsplit("/", 1)[1]
    expect(anna.locator("[data-status]")).to_have_attribute("data-status", "running")

    # The leader reports the absence: a message into the running case; the rules run again.
    lene = log_in(browsing, "lene")
    lene.goto(f"/cases/{case_id}/messages/absence")
    lene.locator("#f-first_absence_day").fill(first_absence.isoformat())
    lene.locator("#f-absence_days_beyond_injury_day").fill("2")
    lene.get_by_role("button", name="Send til sagen").click()
    expect(lene).to_have_url(re.compile(f"/cases/{case_id}$"))

    # DTU Arbejdsmiljø has the EASY task, due at 23:59 Copenhagen time on the deadline day.
    ditte = log_in(browsing, "ditte")
    easy = _open_from_queue(ditte, case_id)
    task = _api(ditte, f"/tasks/{easy}")
    assert (task["name"], task["group"]) == ("easy_report", "arbejdsmiljo")
    assert dt.datetime.fromisoformat(task["due_at"]) == due

    # The reminder: nothing a minute before 08:00 three days before the deadline day, then one mail to ditte.
    worker_pass(browsing.server.database_url, smtp_server.url, reminder - dt.timedelta(minutes=1))
    assert [m for m in smtp_server.received if m.message["Subject"].startswith("Påmindelse")] == []
    worker_pass(browsing.server.database_url, smtp_server.url, reminder + dt.timedelta(seconds=1))
    reminders = [m for m in smtp_server.received if m.message["Subject"].startswith("Påmindelse")]
    assert [m.rcpt_tos for m in reminders] == [("ditte@example.dtu.dk",)]
    body = reminders[0].message.get_content()
    assert case_id in body
    for detail in ("visitor", "reception", "Building 101", "Anna"):
        assert detail not in body

    # The receipt, the follow-up conversation, the investigation: the case closes.
    ditte.locator("#f-receipt_number").fill("EASY-2026-000123")
    ditte.locator("#f-submitted_on").fill(today.isoformat())
    complete(ditte)
    _open_from_queue(lene, case_id)
    lene.locator("#f-conversation_held_on").fill(today.isoformat())
    lene.locator('#f-crisis_psychologist_offered input[value="true"]').check()
    complete(lene)
    rasmus = log_in(browsing, "rasmus")
    _open_from_queue(rasmus, case_id)
    rasmus.locator("#f-causes").fill("An open reception desk")
    rasmus.locator('#f-apv_update_needed input[value="true"]').check()
    complete(rasmus)
    anna.goto(f"/cases/{case_id}")
    expect(anna.locator("[data-status]")).to_have_attribute("data-status", "completed")

    # The AMK's statistics count it by type, track and as reported on time, with no name or free text.
    karl = log_in(browsing, "karl")
    karl.goto(f"/statistics/{PROCESS}?unit=kemi")
    content = karl.content()
    assert "threat_verbal" in content and "visitor_external" in content
    for secret in ("anna", "Anna", "reception", "EASY-2026-000123", "lene"):
        assert secret not in content
    csv = _get_text(karl, f"/statistics/{PROCESS}.csv?unit=kemi")
    assert "kemi,event_type,threat_verbal,1" in csv
    assert "kemi,task:easy_report,on_time,1" in csv


def _open_from_queue(page: Page, case_id: str) -> str:
    """Open the case's (one) task in the user's queue; returns the task id."""
    page.goto("/")
    row = page.locator("tr.task").filter(has=page.locator(f'a[href="/cases/{case_id}"]'))
    expect(row).to_have_count(1)
    task_id = row.get_attribute("data-task-id") or ""
    row.locator(f'a[href="/tasks/{task_id}"]').click()
    expect(page).to_have_url(re.compile(f"/tasks/{task_id}$"))
    return task_id


def _get_text(page: Page, path: str) -> str:
    response = page.request.get(path)
    assert response.status == 200
    return response.text()
