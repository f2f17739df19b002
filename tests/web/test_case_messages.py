"""The case page offers the messages a case can take now as buttons, each with its form (#12 item 4)."""

from __future__ import annotations

import html
from pathlib import Path

import processes

MESSAGES_BPMN = Path(__file__).parents[1] / "processes" / "bpmn" / "message_events.bpmn"


def test_a_message_button_opens_its_form_and_posting_it_moves_the_case_on(browser, database):
    processes.deploy(database, MESSAGES_BPMN.read_bytes(), MESSAGES_BPMN.name, actor=None)
    case = processes.start_case(database, process="message_events", unit="kemi", data={},
                                actor=processes.get_user(database, "anna"))
    browser.login("anna")

    page = browser.client.get(f"/cases/{case.id}")
    assert page.status_code == 200
    assert 'data-message="report an incident"' in page.text
    assert 'data-message="first day of absence"' in page.text
    form = browser.client.get(f"/cases/{case.id}/messages/report an incident")
    assert form.status_code == 200 and 'name="note"' in form.text

    empty = browser.post(f"/cases/{case.id}/messages/report an incident", {"note": ""})
    assert empty.status_code == 422
    sent = browser.post(f"/cases/{case.id}/messages/report an incident", {"note": "smoke in lab 3"})

    assert sent.status_code == 303
    after = browser.client.get(f"/cases/{case.id}")
    assert 'data-message="report an incident"' not in after.text  # the boundary event is gone with its task
    assert [task.name for task in processes.get_case(database, case.id, actor=processes.get_user(
        database, "anna")).tasks] == ["handle_incident"]
    assert "smoke in lab 3" in html.unescape(after.text)


def test_a_message_the_case_does_not_take_has_no_page(browser, database):
    processes.deploy(database, MESSAGES_BPMN.read_bytes(), MESSAGES_BPMN.name, actor=None)
    case = processes.start_case(database, process="message_events", unit="kemi", data={},
                                actor=processes.get_user(database, "anna"))
    browser.login("anna")

    assert browser.client.get(f"/cases/{case.id}/messages/report a change").status_code == 404
