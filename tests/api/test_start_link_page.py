"""Start links over HTTP (issue #14): the unit's AMK gives a student a start link for the psychological
work-accident report; the student opens it (no account), sees the start form, sends it, and is told the case
number; the link is then used; expired, revoked and tampered links get a clear page; the link reads nothing."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from sqlalchemy import select, update

from processes.store.models import Case, StartLink

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
GUEST_START = Path(__file__).parents[1] / "processes" / "bpmn" / "guest_start.bpmn"


@pytest.fixture
def app_config():
    return {"BASE_URL": "https://amflow.example"}


def start_link(api, *, as_="karl", process="psych_accident_report", **body):
    return api.post(f"/processes/{process}/start-links", as_=as_,
                    json={"unit": "kemi", "name": "Sara Studerende", "email": "sara@student.example",
                          "ttl_days": 7, "language": "en", **body})


def test_the_units_amk_gives_a_psych_accident_start_link_and_others_may_not(api):
    made = start_link(api)
    assert made.status_code == 201, made.get_json()
    link = made.get_json()
    assert link["url"].endswith(f"/link/start/{link['token']}")
    assert (link["process"], link["unit"], link["case_id"]) == ("psych_accident_report", "kemi", None)
    assert start_link(api, as_="anna").status_code == 403  # an employee
    assert start_link(api, as_="ditte").status_code == 201  # DTU Arbejdsmiljø, central
    listed = api.get("/processes/psych_accident_report/start-links", as_="karl", query_string={"unit": "kemi"})
    assert [item["id"] for item in listed.get_json()["items"]] == [link["id"] + 1, link["id"]]
    assert "token" not in listed.get_json()["items"][0]
    bad = start_link(api, email="no address", ttl_days=0)
    assert bad.status_code in (400, 422) and "ttl_days" in bad.get_json()["error"]["fields"]


def test_a_student_starts_a_case_through_the_link_page_once(client, api, database):
    owner_deploy = api.post("/processes", as_="owen", data=GUEST_START.read_bytes(), content_type="application/xml",
                            query_string={"filename": "guest_start.bpmn"})
    assert owner_deploy.status_code == 201
    token = start_link(api, process="guest_start").get_json()["token"]

    page = client.get(f"/link/start/{token}", headers={"Accept-Language": "en"})
    assert page.status_code == 200 and 'data-testid="start-link-page"' in page.text
    assert 'name="note"' in page.text and 'name="viewport"' in page.text
    csrf = CSRF.search(page.text).group(1)
    empty = client.post(f"/link/start/{token}", data={"csrf_token": csrf, "note": ""})
    assert empty.status_code == 422
    sent = client.post(f"/link/start/{token}", data={"csrf_token": csrf, "note": "Truet i receptionen"})
    assert sent.status_code == 201 and 'data-testid="start-link-done"' in sent.text
    with database.read() as session:
        [case] = session.scalars(select(Case).where(Case.process_key == "guest_start"))
        assert (case.started_by, case.unit, case.data["note"]) == ("sara@student.example", "kemi",
                                                                   "Truet i receptionen")
    assert case.id in sent.text
    again = client.get(f"/link/start/{token}")
    assert again.status_code == 410 and 'data-reason="used"' in again.text
    # the link opens nothing else: not the case page, not a case link page, not the API
    assert client.get(f"/link/{token}").status_code == 404
    assert api.get(f"/cases/{case.id}", as_=None, headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_expired_revoked_and_tampered_start_links_get_clear_pages(client, api, database):
    link = start_link(api).get_json()
    assert api.post(f"/start-links/{link['id']}/revoke", as_="karl").status_code == 200
    revoked = client.get(f"/link/start/{link['token']}")
    assert revoked.status_code == 410 and 'data-reason="revoked"' in revoked.text

    other = start_link(api).get_json()
    assert client.get(f"/link/start/{other['token']}").status_code == 200
    with database.write() as session:
        session.execute(update(StartLink).where(StartLink.id == other["id"])
                        .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)))
    expired = client.get(f"/link/start/{other['token']}")
    assert expired.status_code == 410 and 'data-reason="expired"' in expired.text
    tampered = other["token"][:-3] + ("AAA" if not other["token"].endswith("AAA") else "BBB")
    refused = client.get(f"/link/start/{tampered}")
    assert refused.status_code == 404 and 'data-testid="link-refused"' in refused.text
