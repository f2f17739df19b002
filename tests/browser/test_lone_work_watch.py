"""Issue #13's B-R10 acceptance in a real browser on a phone: watching over the lone worker.

Anna holds an approved G2 lone-work case (set up through the API: application, AMK review, leader's
approval, check-in every 30 minutes). On a 390x844 phone she starts a session from her approval ("I work
until ..." and her buddy Rasmus), checks in once with one tap, and then misses the next check-in. The served
app runs without a worker; the test runs `amflow worker --once --now ...` with the clock moved past the
check-in's grace period, and the buddy's alarm arrives over real SMTP on loopback; ten minutes later the
leader's. The leader acknowledges on her phone, the escalation stops (a later worker pass sends nothing
more), and the case page's history shows each step.
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

from tests.samples import days_from_today

PHONE = {"width": 390, "height": 844}
PASSWORD = "demo-amflow"  # the published demo password (processes/demo.py)
COPENHAGEN = ZoneInfo("Europe/Copenhagen")
ALARM = "ALARM"

APPLICATION: dict[str, Any] = {
    "applicant_name": "Anna Ansat", "applicant_phone": "+45 45 25 25 25", "applicant_role": "employee",
    "applicant_age": 34, "location": {"building": "207", "room": "112"},
    "task_description": "Distilling ethanol in the evening.", "start_date": days_from_today(-14),
    "time_windows": [{"days": "weekdays", "from": "18:00", "to": "22:00"}],
    "another_competent_person_within_reach": False, "hazards": ["chemicals_flammable"],
    "mitigations": ["check_in_calls", "phone_coverage_checked", "alarm_device", "security_informed"],
    "buddy_name": "Rasmus Repræsentant", "check_in_interval_minutes": 30, "instruction_completed": True,
    "instruction_date": days_from_today(-10), "instruction_by": "Karl Koordinator",  # B-R6: recorded: no such task
}


def _call(url: str, body: dict[str, Any] | None = None, token: str | None = None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method="GET" if body is None else "POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _approved(api: str) -> str:
    """Anna's approved lone-work case, through the API; the id of its validity case (her active approval)."""
    token = {user: _call(f"{api}/auth/token", {"username": user, "password": PASSWORD})["token"]
             for user in ("anna", "karl", "lene")}
    case = _call(f"{api}/cases", {"process": "lone_work_approval", "unit": "kemi", "data": APPLICATION},
                 token["anna"])
    review = {"risk_assessment": [{"hazard": "Fire", "consequence": "Burns", "measure": "Check-ins",
                                   "residual_risk": "low"}], "mitigations_adequate": True, "amr_consulted": True}
    case = _call(f"{api}/tasks/{case['tasks'][0]['id']}/complete", {"data": review}, token["karl"])
    approve = {"decision": "approve", "conditions": "Check in every 30 minutes.", "valid_until": days_from_today(120)}
    # valid for months from today: the served app and the worker run on the real clock, where a past
    # valid_until would already have expired the approval
    case = _call(f"{api}/tasks/{case['tasks'][0]['id']}/complete", {"data": approve}, token["lene"])
    assert case["status"] == "completed", case
    [spawned] = [entry["detail"]["case"] for entry in case["history"] if entry["kind"] == "case_spawned"]
    return spawned


def _worker(database_url: str, smtp_url: str, now: dt.datetime, workdir: Path) -> str:
    """One pass of the timer worker, as operators run it, with the clock at ``now``."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("AMFLOW_")}
    environment.update(AMFLOW_DATABASE_URL=database_url, AMFLOW_SMTP_URL=smtp_url)
    done = subprocess.run(
        [str(Path(sys.executable).parent / "amflow"), "worker", "--once", "--now", now.isoformat()],
        cwd=workdir, env=environment, capture_output=True, text=True, check=False, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _log_in(browsing: Any, username: str) -> Page:
    page = browsing.new_page(PHONE)
    page.goto("/login")
    page.get_by_label("Brugernavn").fill(username)
    page.get_by_label("Adgangskode").fill(PASSWORD)
    page.get_by_role("button", name="Log ind", exact=True).click()
    expect(page.get_by_test_id("who")).to_be_visible()
    return page


def _alarms(smtp_server: Any) -> list[str]:
    return [mail.to for mail in smtp_server.received if mail.subject.startswith(ALARM)]


@pytest.mark.slow
def test_a_missed_check_in_alerts_the_buddy_then_the_leader_until_she_acknowledges(
        browsing, smtp_server, tmp_path):
    validity_case = _approved(browsing.url("/api/v1"))
    started = dt.datetime.now(dt.UTC)
    until = (started + dt.timedelta(hours=4)).astimezone(COPENHAGEN).strftime("%H:%M")

    # On her phone, Anna starts a session from her approval: until when, and who her buddy is.
    anna = _log_in(browsing, "anna")
    anna.goto(f"/cases/{validity_case}")
    start = anna.locator('a[data-start="lone_work_session"]')
    expect(start).to_be_visible()
    start.click()
    expect(anna.get_by_role("heading", level=1)).to_have_text("Jeg starter alenearbejde nu")
    anna.locator("#f-until").fill(until)
    anna.locator("#f-buddy").fill("rasmus")
    browsing.screenshot(anna, "da-phone-lone-work-session-start")
    anna.get_by_role("button", name="Start sagen").click()
    expect(anna).to_have_url(re.compile(r"/cases/[^/]+$"))
    session_case = anna.url.rsplit("/", 1)[1]

    # One tap checks in: a big button on the phone.
    check_in = anna.locator('button[data-message="check_in"]')
    expect(check_in).to_be_visible()
    box = check_in.bounding_box()
    assert box is not None and box["width"] > PHONE["width"] * 0.7 and box["height"] >= 44  # thumb-sized
    browsing.screenshot(anna, "da-phone-lone-work-session")
    check_in.click()
    expect(anna.locator('#history li[data-kind="message_received"]')).to_have_count(1)
    checked_in = dt.datetime.now(dt.UTC)

    # She misses the next check-in (30 minutes + 10 minutes' grace): the worker alerts her buddy ...
    database_url, smtp_url = browsing.server.database_url, smtp_server.url
    _worker(database_url, smtp_url, checked_in + dt.timedelta(minutes=20), tmp_path)
    assert _alarms(smtp_server) == []
    _worker(database_url, smtp_url, checked_in + dt.timedelta(minutes=42), tmp_path)
    assert _alarms(smtp_server) == ["rasmus@example.dtu.dk"]
    # ... and, nobody acknowledging for ten minutes, the leader.
    _worker(database_url, smtp_url, checked_in + dt.timedelta(minutes=53), tmp_path)
    assert _alarms(smtp_server) == ["rasmus@example.dtu.dk", "lene@example.dtu.dk"]
    leader_alarm = [mail for mail in smtp_server.received if mail.subject.startswith(ALARM)][-1]
    assert "Anna Ansat" in leader_alarm.subject and "+45 45 25 25 25" in leader_alarm.body

    # The leader acknowledges on her phone: the escalation stops.
    lene = _log_in(browsing, "lene")
    lene.goto(f"/cases/{session_case}")
    lene.locator('a[href^="/tasks/"]').filter(has_text="leder").first.click()
    expect(lene).to_have_url(re.compile(r"/tasks/[^/]+$"))
    lene.locator('#f-outcome input[value="worker_ok"]').check()
    lene.locator("#f-acknowledge_note").fill("Ringede til Anna: telefonen var på lydløs. Hun er OK.")
    browsing.screenshot(lene, "da-phone-lone-work-acknowledge")
    lene.get_by_role("button", name="Afslut opgaven").click()
    expect(lene).to_have_url(re.compile(r"/(\?.*)?$"))

    _worker(database_url, smtp_url, checked_in + dt.timedelta(hours=3), tmp_path)
    assert _alarms(smtp_server) == ["rasmus@example.dtu.dk", "lene@example.dtu.dk"]  # no DTU Security

    # The history shows each step.
    lene.goto(f"/cases/{session_case}")
    expect(lene.locator("[data-status]")).to_have_attribute("data-status", "completed")
    history = lene.locator("#history")
    expect(history.locator('li[data-kind="case_started"]')).to_have_count(1)
    expect(history.locator('li[data-kind="message_received"]')).to_have_count(1)  # the check-in
    expect(history.locator('li[data-kind="timer_fired"]')).to_have_count(2)  # the missed check-in, the leader
    expect(history.locator('li[data-kind="notification_queued"]')).not_to_have_count(0)
    expect(history.locator('li[data-kind="task_completed"]')).to_have_count(1)  # the leader's acknowledgement
    expect(history.locator('li[data-kind="task_cancelled"]')).to_have_count(1)  # the buddy's, no longer needed
    expect(history.locator('li[data-kind="case_ended"]')).to_have_count(1)
    browsing.screenshot(lene, "da-phone-lone-work-session-history")
