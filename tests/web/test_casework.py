"""Case work in the browser's shoes: start a lone-work case, review and approve it, read the case page.

The tests post real HTML forms through the Flask test client, with the CSRF token parsed from the page
that carries the form, so they also prove every form carries one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from html import unescape
from io import BytesIO
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.datastructures import MultiDict
from werkzeug.test import TestResponse

from tests import samples
from tests.samples import G2_AMK_REVIEW as AMK_REVIEW
from tests.samples import G2_APPROVAL as LEADER_APPROVAL
from tests.samples import form_pairs

PROCESS = "lone_work_approval"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')

# A G2 application (risky but controllable lone work): DOMAIN.md B-R1, B-R4, B-R5; with a chemical by CAS number,
# a list of objects in the HTML form.
G2_APPLICATION: dict[str, Any] = {**samples.G2_APPLICATION, "chemicals": [{"name": "Ethanol", "cas": "64-17-5"}]}


@dataclass
class Browser:
    """One person at the web pages: logs in, reads pages, posts their forms with the page's CSRF token."""

    client: FlaskClient
    password: str

    def log_in(self, username: str) -> None:
        """Log in through the log-in form."""
        page = self.client.get("/login")
        response = self.client.post("/login", data={
            "csrf_token": csrf(page), "username": username, "password": self.password})
        assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]

    def get(self, path: str) -> TestResponse:
        """GET a page."""
        return self.client.get(path)

    def submit(self, page_path: str, action: str, pairs: list[tuple[str, Any]], **kwargs: Any) -> TestResponse:
        """Open the page, then post a form to `action` with the page's CSRF token."""
        token = csrf(self.client.get(page_path))
        return self.client.post(action, data=MultiDict([("csrf_token", token), *pairs]), **kwargs)

    def language(self, code: str) -> None:
        """Switch the language with the header's switch."""
        token = csrf(self.client.get("/start"))
        self.client.post("/language", data={"csrf_token": token, "lang": code, "next": "/start"})


def csrf(page: TestResponse) -> str:
    """The CSRF token of the first form on a page (the test fails if the page has none)."""
    found = TOKEN.search(page.get_data(as_text=True))
    assert found, "the page carries no CSRF token"
    return found[1]


def text(response: TestResponse) -> str:
    """The page's HTML with entities decoded."""
    return unescape(response.get_data(as_text=True))


@pytest.fixture
def people(auth: Any) -> dict[str, str]:
    """The demo users of the flow."""
    return {
        "applicant": auth.user(group="employees", unit="kemi", not_group="amk"),
        "amk": auth.user(group="amk", unit="kemi"),
        "leader": auth.user(group="leaders", unit="kemi"),
        "energi": auth.user(group="employees", unit="energi", not_group="amk"),
    }


@pytest.fixture
def browser(app: Any, demo_users: Any) -> Any:
    """A fresh browser (own cookie jar) per call."""

    def open_browser(username: str) -> Browser:
        user = next(user for user in demo_users if user.username == username)
        opened = Browser(app.test_client(), user.password)
        opened.log_in(username)
        return opened

    return open_browser


def start_case(browser: Browser, data: dict[str, Any] = G2_APPLICATION) -> str:
    """Start a lone-work case in kemi through the start form; the id of the case."""
    response = browser.submit(f"/start/{PROCESS}", f"/start/{PROCESS}", [("unit", "kemi"), *form_pairs(data)])
    assert response.status_code == 303, text(response)[:2000]
    found = re.search(r"/cases/([0-9a-f-]{36})$", response.headers["Location"])
    assert found, response.headers["Location"]
    return found[1]


def open_task(browser: Browser, case_id: str, field: str) -> str:
    """The id of the case's open task whose form has `field`, found through the case page."""
    page = text(browser.get(f"/cases/{case_id}"))
    for task_id in re.findall(r'href="/tasks/([0-9a-f-]{36})"', page):
        if f'name="{field}' in text(browser.get(f"/tasks/{task_id}")):
            return task_id
    raise AssertionError(f"no open task with a field {field!r} on the case page")


def work(browser: Browser, task_id: str, data: dict[str, Any], action: str = "complete") -> TestResponse:
    """Post the task's form with `action`."""
    return browser.submit(f"/tasks/{task_id}", f"/tasks/{task_id}", [("action", action), *form_pairs(data)])


def test_the_start_page_lists_the_lone_work_process_with_a_link_to_its_start_form(browser, people):
    applicant = browser(people["applicant"])

    page = text(applicant.get("/start"))

    assert f'href="/start/{PROCESS}"' in page
    assert "Ansøgning om godkendelse af alenearbejde" in page


def test_the_start_form_shows_every_field_in_danish_with_the_units_of_the_user(browser, people):
    applicant = browser(people["applicant"])

    page = text(applicant.get(f"/start/{PROCESS}"))

    assert '<option value="kemi"' in page and '<option value="energi"' not in page
    assert "Ansøgers navn" in page and 'name="applicant_name"' in page
    assert 'name="location.room"' in page
    assert 'name="chemicals.0.name"' in page
    assert 'type="checkbox" name="hazards" value="chemicals_flammable"' in page
    assert "Brandfarlige kemikalier" in page
    assert 'name="time_windows.0.days"' in page and '<option value="working_days">Arbejdsdage' in page
    assert 'name="outside_normal_hours"' not in page  # computed from the time windows (B-R11)
    assert 'type="date" id="f-start_date" name="start_date"' in page


def test_an_invalid_start_form_is_422_with_the_message_by_the_field_and_the_input_kept(browser, people):
    applicant = browser(people["applicant"])
    data = {**G2_APPLICATION, "applicant_age": "old"}
    del data["task_description"]

    response = applicant.submit(f"/start/{PROCESS}", f"/start/{PROCESS}", [("unit", "kemi"), *form_pairs(data)])

    page = text(response)
    assert response.status_code == 422
    assert 'id="f-applicant_age-error"' in page and "Skal være et helt tal." in page
    assert 'aria-describedby="f-applicant_age-help f-applicant_age-error" aria-invalid="true"' in page
    assert 'id="f-task_description-error"' in page
    assert 'value="old"' in page and 'value="Anna Ansat"' in page


def test_a_started_case_shows_its_decision_and_the_task_waiting_for_the_amk(browser, people):
    applicant = browser(people["applicant"])

    case_id = start_case(applicant)

    page = text(applicant.get(f"/cases/{case_id}"))
    assert 'data-status="running"' in page
    assert "G2" in page
    assert 'data-rule="B-R4"' in page


@pytest.fixture
def amk_task(browser, people):
    """A started G2 case and its AMK review task: (case id, task id, AMK browser)."""
    case_id = start_case(browser(people["applicant"]))
    amk = browser(people["amk"])
    task_id = open_task(amk, case_id, "risk_assessment")
    return case_id, task_id, amk


def test_the_amk_sees_the_review_form_beside_the_case(amk_task):
    case_id, task_id, amk = amk_task

    page = text(amk.get(f"/tasks/{task_id}"))

    assert 'name="risk_assessment.0.hazard"' in page
    assert 'data-repeat="risk_assessment"' in page
    assert '<option value="low">Lav</option>' in page
    assert f'href="/cases/{case_id}"' in page
    assert "Distilling ethanol in a fume hood in the evening." in page  # the case data beside the form
    assert "Brandfarlige kemikalier" in page  # in words, not codes


def test_an_invalid_review_is_422_with_the_field_message_and_keeps_what_was_typed(amk_task):
    _case_id, task_id, amk = amk_task
    row = {"hazard": "Fire", "consequence": "Burns", "measure": "", "residual_risk": "low"}

    response = work(amk, task_id, {"risk_assessment": [row], "mitigations_adequate": True})

    page = text(response)
    assert response.status_code == 422
    assert 'id="f-risk_assessment-0-measure-error"' in page
    assert 'aria-invalid="true"' in page
    assert 'name="risk_assessment.0.hazard" value="Fire"' in page
    assert amk.get(f"/tasks/{task_id}").status_code == 200  # still open


def test_a_draft_is_saved_and_the_form_resumes_with_it(amk_task):
    _case_id, task_id, amk = amk_task

    saved = work(amk, task_id, {"risk_assessment": [{"hazard": "Half-typed hazard"}]}, action="draft")
    page = text(amk.get(saved.headers["Location"]))

    assert saved.status_code == 303
    assert "flash--success" in page  # "Kladden er gemt." (the wording is the catalogue's)
    assert 'data-testid="draft-notice"' in page
    assert 'value="Half-typed hazard"' in page


def test_the_amk_review_and_the_leader_approval_complete_the_case_shown_with_rules_history_and_diagram(
    amk_task, browser, people
):
    case_id, task_id, amk = amk_task

    reviewed = work(amk, task_id, AMK_REVIEW)
    leader = browser(people["leader"])
    approval = open_task(leader, case_id, "decision")
    approved = work(leader, approval, LEADER_APPROVAL)
    response = leader.get(f"/cases/{case_id}")

    assert reviewed.status_code == 303 and reviewed.headers["Location"] == "/"
    assert approved.status_code == 303
    page = text(response)
    assert 'data-status="completed"' in page
    assert "B-R4" in page and "BEK 1839/2023" in page  # the fired rule in words, with its legal source
    assert "Alenearbejde med en fare, der ikke er forbudt, er risikofyldt (G2)" in page
    assert 'data-kind="task_completed"' in page
    assert "Opgave afsluttet" in page or "Task completed" in page  # Danish once the catalogue has it
    assert "Godkend" in page  # the leader's decision by its label
    diagram = re.search(r'data-passed="([^"]*)"\s+data-waiting="([^"]*)"', response.get_data(as_text=True))
    assert diagram
    passed, waiting = json.loads(unescape(diagram[1])), json.loads(unescape(diagram[2]))
    assert {"amk_review", "leader_approval"} <= set(passed)
    assert waiting == []


def test_missing_mandatory_measures_block_the_review_and_the_approval_with_the_measures_named_b_r5(
    browser, people
):
    """B-R5: without security_informed (weekday evenings), neither "adequate" nor "approve" is accepted."""
    data = {**G2_APPLICATION, "mitigations": ["check_in_calls", "phone_coverage_checked", "alarm_device"]}
    case_id = start_case(browser(people["applicant"]), data)
    amk = browser(people["amk"])
    review = open_task(amk, case_id, "risk_assessment")

    refused_review = work(amk, review, AMK_REVIEW)
    page = text(refused_review)
    assert refused_review.status_code == 422
    error = re.search(r'<p class="field__error" id="f-mitigations_adequate-error"[^>]*>([^<]*)</p>', page)
    assert error and "Vagten er orienteret" in error[1] and "security_informed" not in error[1]
    assert amk.get(f"/tasks/{review}").status_code == 200  # still open

    reviewed = work(amk, review, {**AMK_REVIEW, "mitigations_adequate": False})
    leader = browser(people["leader"])
    approval = open_task(leader, case_id, "decision")
    refused_approval = work(leader, approval, LEADER_APPROVAL)

    assert reviewed.status_code == 303
    page = text(refused_approval)
    assert refused_approval.status_code == 422
    error = re.search(r'<p class="field__error" id="f-decision-error"[^>]*>([^<]*)</p>', page)
    assert error and "Vagten er orienteret" in error[1] and "security_informed" not in error[1]
    assert 'data-status="running"' in text(leader.get(f"/cases/{case_id}"))
    sent_back = work(leader, approval, {"decision": "send_back", "reason": "Tell security first."})
    assert sent_back.status_code == 303  # the way on: back to the applicant


def test_the_diagram_xml_is_served_for_the_viewer(amk_task):
    case_id, _task_id, amk = amk_task

    response = amk.get(f"/cases/{case_id}/diagram.xml")

    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    assert b"amk_review" in response.data
    page = response.get_data(as_text=True)
    assert "bpmn:definitions" in page or "definitions" in page


def test_a_running_case_marks_the_amk_review_as_waiting(amk_task):
    case_id, _task_id, amk = amk_task

    html = amk.get(f"/cases/{case_id}").get_data(as_text=True)

    waiting = re.search(r'data-waiting="([^"]*)"', html)
    assert waiting and json.loads(unescape(waiting[1])) == ["amk_review"]
    assert "bpmn-navigated-viewer.production.min.js" in html


def test_anyone_working_the_case_adds_a_comment(amk_task):
    case_id, _task_id, amk = amk_task

    response = amk.submit(f"/cases/{case_id}", f"/cases/{case_id}/comments", [("body", "Ring til Anna <b>i dag</b>")])
    page = amk.get(f"/cases/{case_id}").get_data(as_text=True)

    assert response.status_code == 303
    assert "Ring til Anna &lt;b&gt;i dag&lt;/b&gt;" in page


def test_an_attachment_is_uploaded_and_downloaded_never_inline(amk_task):
    case_id, _task_id, amk = amk_task
    upload = (BytesIO(b"<html>risk assessment</html>"), "risiko vurdering.html", "text/html")

    response = amk.submit(f"/cases/{case_id}", f"/cases/{case_id}/attachments", [("file", upload)],
                          content_type="multipart/form-data")
    page = amk.get(f"/cases/{case_id}").get_data(as_text=True)
    link = re.search(rf'href="(/cases/{case_id}/attachments/[0-9]+)"', page)
    download = amk.get(link[1]) if link else None

    assert response.status_code == 303
    assert download is not None and download.status_code == 200
    assert download.data == b"<html>risk assessment</html>"
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.mimetype == "text/html"


def test_a_user_of_another_unit_may_not_read_the_case(amk_task, browser, people):
    case_id, task_id, _amk = amk_task
    energi = browser(people["energi"])

    assert energi.get(f"/cases/{case_id}").status_code == 403
    assert energi.get(f"/cases/{case_id}/diagram.xml").status_code == 403
    assert energi.get(f"/tasks/{task_id}").status_code == 403


def test_the_pages_ask_an_anonymous_visitor_to_log_in(client):
    response = client.get("/start")

    assert response.status_code in (302, 303)
    assert "/login" in response.headers["Location"]


def test_the_task_page_speaks_english_when_english_is_chosen(amk_task):
    _case_id, task_id, amk = amk_task

    amk.language("en")
    page = text(amk.get(f"/tasks/{task_id}"))

    assert "Risk assessment" in page
    assert '<option value="low">Low</option>' in page
    assert "Flammable chemicals" in page


def test_the_amk_takes_the_task_from_its_page_and_comes_back_to_it(amk_task, people):
    _case_id, task_id, amk = amk_task

    response = amk.submit(f"/tasks/{task_id}", f"/queue/{task_id}/claim", [("next", f"/tasks/{task_id}")])
    page = text(amk.get(f"/tasks/{task_id}"))

    assert response.status_code in (302, 303) and response.headers["Location"].endswith(f"/tasks/{task_id}")
    assert f"<dd>{people['amk']}</dd>" in page
    assert "/claim" not in page


def test_a_completed_task_shows_no_form_but_a_link_to_its_case(amk_task):
    case_id, task_id, amk = amk_task
    work(amk, task_id, AMK_REVIEW)

    response = amk.get(f"/tasks/{task_id}")

    page = text(response)
    assert response.status_code == 200
    assert 'data-testid="task-closed"' in page
    assert 'name="action"' not in page
    assert f'href="/cases/{case_id}"' in page


def test_the_case_page_lists_the_steps_taken_by_name_for_a_browser_without_javascript(amk_task):
    case_id, task_id, amk = amk_task
    work(amk, task_id, AMK_REVIEW)

    page = text(amk.get(f"/cases/{case_id}"))

    steps = re.search(r'<details class="diagram-steps"[^>]*>(.*?)</details>', page, re.S)
    assert steps
    assert "Gennemgå risikovurderingen" in steps[1]
    assert "Flow_" not in steps[1]


def test_approving_without_a_valid_until_date_names_that_field(amk_task, browser, people):
    case_id, task_id, amk = amk_task
    work(amk, task_id, AMK_REVIEW)
    leader = browser(people["leader"])
    approval = open_task(leader, case_id, "decision")

    response = work(leader, approval, {"decision": "approve"})

    page = text(response)
    assert response.status_code == 422
    assert 'id="f-valid_until-error"' in page
    assert 'name="decision" value="approve" checked' in page


def test_the_start_form_speaks_english_when_english_is_chosen(browser, people):
    applicant = browser(people["applicant"])

    applicant.language("en")
    page = text(applicant.get(f"/start/{PROCESS}"))

    assert "Application for approval of lone work" in page
    assert "Applicant's name" in page
    assert "Place and time" in page


def test_a_form_posted_without_its_csrf_token_is_refused(amk_task):
    case_id, task_id, amk = amk_task

    comment = amk.client.post(f"/cases/{case_id}/comments", data={"body": "forged"})
    completion = amk.client.post(f"/tasks/{task_id}", data=MultiDict(form_pairs({"action": "complete", **AMK_REVIEW})))

    assert comment.status_code == 400
    assert completion.status_code == 400
    assert "forged" not in text(amk.get(f"/cases/{case_id}"))


def test_an_attachment_is_only_served_under_its_own_case(amk_task, browser, people):
    case_id, _task_id, amk = amk_task
    other_case = start_case(browser(people["applicant"]))
    upload = (BytesIO(b"notes"), "notes.txt", "text/plain")
    amk.submit(f"/cases/{case_id}", f"/cases/{case_id}/attachments", [("file", upload)],
               content_type="multipart/form-data")
    link = re.search(rf'/cases/{case_id}/attachments/([0-9]+)', amk.get(f"/cases/{case_id}").get_data(as_text=True))

    assert link
    assert amk.get(f"/cases/{other_case}/attachments/{link[1]}").status_code == 404
