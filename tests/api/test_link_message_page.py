"""The link page offers the messages a link may post (``senders`` names ``link``), e.g. a contractor's site lead
reporting a change of scope; a link of case A cannot post into case B, a revoked link cannot post."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from processes.store.models import Case, CaseLink, Notification

GUEST_MESSAGES = Path(__file__).parents[1] / "processes" / "bpmn" / "guest_messages.bpmn"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def app_config():
    return {"BASE_URL": "https://amflow.example"}


@pytest.fixture
def start(api, auth, database):
    deployed = api.post("/processes", as_="owen", data=GUEST_MESSAGES.read_bytes(), content_type="application/xml",
                        query_string={"filename": "guest_messages.bpmn"})
    assert deployed.status_code == 201, deployed.get_json()

    def started(guest: str) -> tuple[str, str]:
        case = api.post("/cases", as_="anna", json={"process": "guest_messages", "unit": "kemi",
                                                    "data": {"guest_email": guest, "guest_name": "Sif"}}).get_json()
        with database.read() as session:
            body = session.scalars(select(Notification.body).where(Notification.case_id == case["id"],
                                                                   Notification.template == "task_link")).one()
        return case["id"], re.search(r"https://amflow\.example/link/(\S+)", body).group(1)
    return started


def _data(database, case_id):
    with database.read() as session:
        return session.get(Case, case_id).data


def test_the_link_page_shows_the_message_form_and_posts_it_into_its_case(client, database, start):
    case_id, token = start("sif@byg.example")
    page = client.get(f"/link/{token}")
    assert 'data-message="site report"' in page.text and 'data-message="staff note"' not in page.text
    csrf = CSRF.search(page.text).group(1)
    posted = client.post(f"/link/{token}/messages/site report", data={"csrf_token": csrf, "note": "Stillads flyttet"})
    assert posted.status_code == 303
    assert _data(database, case_id)["last_report"] == "Stillads flyttet"
    empty = client.post(f"/link/{token}/messages/site report", data={"csrf_token": csrf, "note": ""})
    assert empty.status_code == 422 and 'data-message="site report"' in empty.text
    refused = client.post(f"/link/{token}/messages/staff note", data={"csrf_token": csrf, "note": "x"})
    assert refused.status_code == 403 and "staff_note" not in _data(database, case_id)


def test_a_link_cannot_post_into_another_case_and_a_revoked_link_cannot_post(client, api, database, start):
    case_a, token_a = start("sif@byg.example")
    case_b, _token_b = start("bo@andet.example")
    csrf = CSRF.search(client.get(f"/link/{token_a}").text).group(1)
    # the link's own case is the only one it reaches: whatever else is posted goes nowhere near case B
    client.post(f"/link/{token_a}/messages/site report", data={"csrf_token": csrf, "note": "A only"})
    assert "last_report" not in _data(database, case_b) and _data(database, case_a)["last_report"] == "A only"
    assert api.post(f"/cases/{case_b}/messages/site report", as_=None, json={"note": "x"},
                    headers={"Authorization": f"Bearer {token_a}"}).status_code == 401

    with database.read() as session:
        link_id = session.scalars(select(CaseLink.id).where(CaseLink.case_id == case_a)).one()
    assert api.post(f"/links/{link_id}/revoke", as_="admin").status_code == 200
    revoked = client.post(f"/link/{token_a}/messages/site report", data={"csrf_token": csrf, "note": "again"})
    assert revoked.status_code == 410 and _data(database, case_a)["last_report"] == "A only"
