"""Issue #4's acceptance in a real browser: a lone-work case from the application to the leader's approval.

An applicant (anna) starts a G2 lone-work case, the unit's AMK (karl) claims the review, submits it once
invalid (and sees the field's message) and once valid, the leader (lene) approves, and the case page shows
the decision, the rules that fired, the history and the diagram with the path taken. The same flow runs in
Danish and English on a desktop and in Danish on a 390x844 phone; the Danish desktop and phone runs save a
full-page screenshot of each page under docs/screenshots/.

Form fields are found by the ids the form templates derive from each field's JSON path (`f-location-room`)
and choices by their posted value, so one set of selectors serves both languages; the words a person reads
(headings, buttons, the decision) are checked in the language of the run.
"""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests import samples

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
PASSWORD = "demo-amflow"  # the published demo password (processes/demo.py)
SCREENSHOT_RUNS = {("da", "desktop"), ("da", "phone")}


PROCESS = "lone_work_approval"


@dataclass(frozen=True)
class Words:
    """The visible words the test reads or clicks, in one language (Danish from the catalogue)."""

    log_in: str
    start_a_case: str
    lone_work_form: str
    start_the_case: str
    claim: str
    complete_the_task: str
    rule_b_r4: str
    group: str
    # Words of the case page and of validation whose Danish is not settled: None means "in Danish, just
    # not the English source text" (see `expect_translated`).
    required: str | None
    running: str | None
    completed: str | None
    case_started: str | None
    task_completed: str | None


WORDS = {
    "da": Words(
        log_in="Log ind",
        start_a_case="Start sag",
        lone_work_form="Ansøgning om godkendelse af alenearbejde",
        start_the_case="Start sagen",
        claim="Tag opgaven",
        complete_the_task="Afslut opgaven",
        rule_b_r4="Alenearbejde med en fare, der ikke er forbudt, er risikofyldt (G2)",
        group="Gruppe",
        required="Feltet skal udfyldes.",
        running="I gang",
        completed="Afsluttet",
        case_started="Sagen er startet",
        task_completed="Opgave afsluttet",
    ),
    "en": Words(
        log_in="Log in",
        start_a_case="Start a case",
        lone_work_form="Application for approval of lone work",
        start_the_case="Start the case",
        claim="Claim",
        complete_the_task="Complete the task",
        rule_b_r4="Lone work with a hazard that is not prohibited is risky (G2)",
        group="Group",
        required="This field is required.",
        running="Running",
        completed="Completed",
        case_started="Case started",
        task_completed="Task completed",
    ),
}


ENGLISH = WORDS["en"]

RUNS = [
    pytest.param("da", "desktop", id="da-desktop-1280x800"),
    pytest.param("en", "desktop", id="en-desktop-1280x800"),
    pytest.param("da", "phone", id="da-phone-390x844"),
]


class Visit:
    """One run of the flow: its language, its screen and where its screenshots go."""

    def __init__(self, browsing: Any, language: str, screen: str) -> None:
        self.browsing = browsing
        self.language = language
        self.screen = screen
        self.words = WORDS[language]
        self.viewport = PHONE if screen == "phone" else DESKTOP
        self.untranslated: list[str] = []

    def expect_words(self, locator: Locator, english: str, words: str | None) -> None:
        """`locator` shows the run's `words`. In Danish with no words given (the Danish is not settled yet),
        anything but the `english` source text; an English word found is noted, and `check_translated` fails
        the test at its end, so the rest of the flow and its screenshots still run."""
        if words is not None:
            expect(locator).to_contain_text(words)
            return
        shown = " ".join(locator.inner_text().split())
        if not shown or english in shown:
            path = urllib.parse.urlsplit(locator.page.url).path
            self.untranslated.append(f"{path}: {shown[:120]!r} (expected Danish for {english!r})")

    def check_translated(self) -> None:
        assert not self.untranslated, "English text on the Danish pages:\n" + "\n".join(self.untranslated)

    def shot(self, page: Page, name: str) -> None:
        """Save docs/screenshots/<language>-<screen>-<name>.png in the runs that keep screenshots."""
        if (self.language, self.screen) in SCREENSHOT_RUNS:
            self.browsing.screenshot(page, f"{self.language}-{self.screen}-{name}")

    def log_in(self, username: str, *, shot: bool = False) -> Page:
        """A new visitor (fresh cookies) picks the run's language and logs in as `username`."""
        page = self.browsing.new_page(self.viewport)
        page.goto("/login")
        expect(page.locator("html")).to_have_attribute("lang", "da")  # Danish unless chosen otherwise
        if self.language != "da":
            page.locator(f'form.language-switch button[value="{self.language}"]').click()
            expect(page.locator("html")).to_have_attribute("lang", self.language)
        expect(page.get_by_role("heading", name=self.words.log_in)).to_be_visible()
        page.get_by_label(USERNAME_LABEL[self.language]).fill(username)
        page.get_by_label(PASSWORD_LABEL[self.language]).fill(PASSWORD)
        if shot:
            self.shot(page, "login")
        page.get_by_role("button", name=self.words.log_in, exact=True).click()
        expect(page.get_by_test_id("who")).to_be_visible()
        expect(page.locator("html")).to_have_attribute("lang", self.language)
        return page


USERNAME_LABEL = {"da": "Brugernavn", "en": "Username"}
PASSWORD_LABEL = {"da": "Adgangskode", "en": "Password"}


def fill_application(page: Page) -> None:
    """The G2 facts: flammable chemicals, nobody within reach, check-ins, coverage checked, alarm, instructed."""
    page.locator("#f-applicant_name").fill("Anna Ansat")
    page.locator("#f-applicant_phone").fill("+45 45 25 25 25")
    page.locator('#f-applicant_role input[value="employee"]').check()
    page.locator("#f-applicant_age").fill("34")
    page.locator("#f-location-campus").fill("Lyngby")
    page.locator("#f-location-building").fill("207")
    page.locator("#f-location-room").fill("112")
    page.locator("#f-start_date").fill(samples.G2_APPLICATION["start_date"])
    page.locator("#f-end_date").fill(samples.G2_APPLICATION["end_date"])
    page.locator("#f-time_windows-0-days").select_option("weekdays")
    page.locator("#f-time_windows-0-from").fill("18:00")
    page.locator("#f-time_windows-0-to").fill("22:00")
    page.locator("#f-task_description").fill("Distilling ethanol in a fume hood in the evening.")
    page.locator('#f-another_competent_person_within_reach input[value="false"]').check()
    page.locator('#f-hazards input[value="chemicals_flammable"]').check()
    for mitigation in ("check_in_calls", "phone_coverage_checked", "alarm_device", "security_informed"):
        page.locator(f'#f-mitigations input[value="{mitigation}"]').check()
    page.locator("#f-buddy_name").fill("Karl Koordinator")
    page.locator("#f-buddy_phone").fill("+45 45 25 00 00")
    page.locator("#f-check_in_interval_minutes").fill("30")
    page.locator("#f-alarm_device_id").fill("ALARM-17")
    page.locator("#f-instruction_completed").check()
    page.locator("#f-instruction_date").fill(samples.G2_APPLICATION["instruction_date"])
    page.locator("#f-instruction_by").fill("Karl Koordinator")


def fill_risk_row(page: Page) -> None:
    """One complete row of the AMK's risk assessment."""
    page.locator("#f-risk_assessment-0-hazard").fill("Fire from flammable solvent")
    page.locator("#f-risk_assessment-0-consequence").fill("Burns with nobody near to help")
    page.locator("#f-risk_assessment-0-measure").fill("Check-in calls every 30 minutes and a man-down alarm")
    page.locator("#f-risk_assessment-0-residual_risk").select_option("low")


def queue_row(page: Page, case_id: str) -> Locator:
    """The queue's row of the case's open task (found by the link to its case)."""
    return page.locator("tr.task").filter(has=page.locator(f'a[href="/cases/{case_id}"]'))


def open_task_from_queue(page: Page, case_id: str) -> str:
    """Open the case's task from the queue; returns the task id."""
    row = queue_row(page, case_id)
    expect(row).to_have_count(1)
    task_id = row.get_attribute("data-task-id") or ""
    row.locator(f'a[href="/tasks/{task_id}"]').click()
    expect(page).to_have_url(re.compile(f"/tasks/{task_id}$"))
    return task_id


def element(page: Page, element_id: str) -> Locator:
    """A BPMN element of the case page's diagram as bpmn-js draws it (its markers are CSS classes)."""
    return page.get_by_test_id("diagram").locator(f'g.djs-element[data-element-id="{element_id}"]')


@pytest.mark.slow
@pytest.mark.parametrize(("language", "screen"), RUNS)
def test_a_lone_work_case_goes_from_application_to_approval_in_the_browser(browsing, language, screen):
    visit = Visit(browsing, language, screen)
    words = visit.words

    # The applicant starts a G2 lone-work case from the start page.
    anna = visit.log_in("anna", shot=True)
    anna.get_by_role("link", name=words.start_a_case, exact=True).click()
    expect(anna.get_by_role("heading", name=words.start_a_case)).to_be_visible()
    start_link = anna.locator(f'a[data-process="{PROCESS}"]')
    expect(start_link).to_have_text(words.lone_work_form)
    start_link.click()
    expect(anna.get_by_role("heading", level=1)).to_have_text(words.lone_work_form)
    fill_application(anna)
    visit.shot(anna, "start-form")
    anna.get_by_role("button", name=words.start_the_case).click()
    expect(anna).to_have_url(re.compile(r"/cases/[^/]+$"))
    case_id = anna.url.rsplit("/", 1)[1]
    expect(anna.locator("[data-status]")).to_have_attribute("data-status", "running")
    visit.expect_words(anna.locator("[data-status]"), ENGLISH.running, words.running)
    expect(anna.get_by_test_id("diagram")).to_have_attribute("data-rendered", "true")
    expect(element(anna, "amk_review")).to_have_class(re.compile(r"\bwaiting\b"))  # the case waits here
    expect(element(anna, "classify")).to_have_class(re.compile(r"\bpassed\b"))

    # The unit's AMK finds the review in the queue, claims it, and submits it first without an answer.
    karl = visit.log_in("karl")
    row = queue_row(karl, case_id)
    expect(row).to_have_count(1)
    visit.shot(karl, "queue")
    # each row's button is named for its task and case ("Tag opgaven <title> (sag <id>)"), so rows differ
    row.get_by_role("button", name=re.compile(rf"^{re.escape(words.claim)} .* {case_id[:8]}\)$")).click()
    expect(queue_row(karl, case_id)).to_contain_text("karl")
    open_task_from_queue(karl, case_id)
    fill_risk_row(karl)  # ... but `mitigations_adequate`, required, is left unanswered
    karl.get_by_role("button", name=words.complete_the_task).click()
    error = karl.locator("#f-mitigations_adequate-error")
    expect(error).to_be_visible()
    visit.expect_words(error, ENGLISH.required, words.required)
    expect(karl.locator("#f-mitigations_adequate")).to_have_attribute("aria-invalid", "true")
    expect(karl.locator("#f-mitigations_adequate").locator(".field__error")).to_be_visible()  # beside its field
    expect(karl.locator("#f-risk_assessment-0-hazard")).to_have_value("Fire from flammable solvent")  # kept
    visit.shot(karl, "task-form-error")
    karl.locator('#f-mitigations_adequate input[value="true"]').check()
    karl.locator('#f-amr_consulted input[value="true"]').check()
    karl.get_by_role("button", name=words.complete_the_task).click()
    expect(karl).to_have_url(re.compile(r"/(\?.*)?$"))
    expect(queue_row(karl, case_id)).to_have_count(0)  # the case has moved on to the leader

    # The leader approves, with a date the approval is valid until.
    lene = visit.log_in("lene")
    open_task_from_queue(lene, case_id)
    lene.locator('#f-decision input[value="approve"]').check()
    lene.locator("#f-conditions").fill("Only weekdays.")
    lene.locator("#f-valid_until").fill(samples.G2_APPROVAL["valid_until"])  # active now: see samples
    visit.shot(lene, "task-form-leader")
    lene.get_by_role("button", name=words.complete_the_task).click()
    expect(lene).to_have_url(re.compile(r"/(\?.*)?$"))

    # The case page: completed, the decision, the rules that fired in words with their source,
    # the history, and the diagram with the path taken.
    lene.goto(f"/cases/{case_id}")
    status = lene.locator("[data-status]")
    expect(status).to_have_attribute("data-status", "completed")
    visit.expect_words(status, ENGLISH.completed, words.completed)
    decision = lene.locator('.decision[data-ruleset="lone_work"]')
    visit.expect_words(decision.locator(".decision__outcome"), ENGLISH.group, words.group)
    outcome = decision.locator(".decision__outcome dd")  # the values (the keys are words of the language)
    # values by the rule set's value_titles (#17), never the codes
    expect(outcome.filter(has_text=re.compile(r"^\s*G2: (risikofyldt|risky)\s*$"))).to_have_count(1)
    expect(outcome.filter(has_text=re.compile(r"^\s*(Risikofyldt alenearbejde|Risky lone work)\s*$"))).to_have_count(1)
    rule = decision.locator('li.rule[data-rule="B-R4"]')
    expect(rule).to_contain_text("B-R4")
    expect(rule).to_contain_text(words.rule_b_r4)
    expect(rule.locator(".rule__source")).to_contain_text("BEK 1839/2023 § 11(1)")
    history = lene.locator("#history")
    for kind in ("case_started", "decision", "task_claimed", "case_ended"):
        expect(history.locator(f'li[data-kind="{kind}"]')).not_to_have_count(0)
    expect(history.locator('li[data-kind="task_completed"]')).to_have_count(2)
    visit.expect_words(history.locator('li[data-kind="case_started"] .history__kind'), ENGLISH.case_started,
                       words.case_started)
    visit.expect_words(history.locator('li[data-kind="task_completed"] .history__kind').first,
                       ENGLISH.task_completed, words.task_completed)
    diagram = lene.get_by_test_id("diagram")
    expect(diagram).to_have_attribute("data-rendered", "true")
    expect(diagram.locator(".djs-container svg").first).to_be_visible()
    for step in ("start", "classify", "amk_review", "leader_approval", "end_approved"):  # the path taken
        expect(element(lene, step)).to_have_class(re.compile(r"\bpassed\b"))
    for step in ("end_rejected", "end_not_approved", "young_worker_check"):  # ... and not another
        expect(element(lene, step)).not_to_have_class(re.compile(r"\bpassed\b"))
    expect(diagram.locator(".djs-element.waiting")).to_have_count(0)  # nothing waits in a completed case
    visit.shot(lene, "case")
    visit.check_translated()


def _post_json(url: str, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


G2_APPLICATION: dict[str, Any] = {
    "applicant_name": "Anna Ansat", "applicant_role": "employee", "applicant_age": 34,
    "location": {"room": "112"}, "task_description": "Distilling ethanol in the evening.",
    "start_date": "2026-09-01", "time_windows": [{"days": "weekdays", "from": "18:00", "to": "22:00"}],
    "another_competent_person_within_reach": False,
    "hazards": ["chemicals_flammable"], "mitigations": ["check_in_calls", "phone_coverage_checked", "alarm_device"],
    "instruction_completed": True, "instruction_date": "2026-08-25", "instruction_by": "Karl Koordinator",
}


@pytest.mark.slow
def test_an_amk_of_another_unit_neither_sees_nor_opens_the_task(browsing):
    api = browsing.url("/api/v1")
    token = _post_json(f"{api}/auth/token", {"username": "anna", "password": PASSWORD})["token"]
    case = _post_json(f"{api}/cases", {"process": PROCESS, "unit": "kemi", "data": G2_APPLICATION}, token)
    review = next(task for task in case["tasks"] if task["group"] == "amk")

    eva = Visit(browsing, "da", "desktop").log_in("eva")  # AMK of DTU Energi

    expect(eva.get_by_role("heading", level=1)).to_have_text("Min kø")
    expect(queue_row(eva, case["id"])).to_have_count(0)
    expect(eva.locator(f'tr.task[data-task-id="{review["id"]}"]')).to_have_count(0)
    response = eva.goto(f"/tasks/{review['id']}")
    assert response is not None
    assert response.status == 403
    expect(eva.locator(".error-page__status")).to_contain_text("403")
    expect(eva.locator("#f-risk_assessment")).to_have_count(0)  # no form, no case data
    expect(eva.get_by_text("Anna Ansat")).to_have_count(0)
