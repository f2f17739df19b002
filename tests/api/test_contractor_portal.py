"""The contractor portal over HTTP (issue #15): the site lead's mailed link opens exactly their job's portal
tasks, on a phone, and nothing of another job; a revoked, expired or tampered link gets a clear page; files
upload through the documents form."""

from __future__ import annotations

import datetime as dt
import re
from io import BytesIO

import pytest
from sqlalchemy import select, update

from processes.store.models import Attachment, CaseLink, Notification

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
REGISTRATION = {
    "campus": "Lyngby", "building": "207", "room": "112", "location_hazards": ["chemicals"],
    "job_description": "Service af stinkskab", "work_types": ["service_visit"], "hot_work": False,
    "particularly_dangerous_work": False, "worker_alone_in_hazard_area": False,
    "job_start_date": "2031-03-10", "job_end_date": "2031-03-12", "max_persons_simultaneously": 2,
    "supplier_company": "Byg ApS", "supplier_cvr_or_rut": "12345678", "supplier_internal": False,
    "site_lead_name": "Sif Sørensen", "site_lead_email": "sif@byg.example", "site_lead_language": "da",
}
APPOINT = {"kontaktperson_name": "Kasper Kontaktperson", "kontaktperson_email": "kasper@example.dtu.dk",
           "kontaktperson_phone": "+45 4525 1234", "room_owner_name": "Rita Rumansvarlig",
           "room_owner_email": "rita@example.dtu.dk"}


@pytest.fixture
def app_config():
    return {"BASE_URL": "https://amflow.example"}


def job(api, database, site_lead: str) -> tuple[str, str, list[dict]]:
    """A job registered by anna and appointed by lene: (case id, the portal token, its open tasks)."""
    case = api.post("/cases", as_="anna", json={"process": "contractor_onboarding", "unit": "kemi",
                                                "data": {**REGISTRATION, "site_lead_email": site_lead}}).get_json()
    appoint = next(t for t in case["tasks"] if t["name"] == "appoint_leader")
    done = api.post(f"/tasks/{appoint['id']}/complete", as_="lene", json={"data": APPOINT})
    assert done.status_code == 200, done.get_json()
    with database.read() as session:
        body = session.scalars(select(Notification.body).where(Notification.case_id == case["id"],
                                                               Notification.template == "contractor_portal")).one()
    token = re.search(r"https://amflow\.example/link/(\S+)", body).group(1)
    return case["id"], token, done.get_json()["tasks"]


def _csrf(client, token):
    return CSRF.search(client.get(f"/link/{token}").text).group(1)


def test_the_mailed_link_opens_this_jobs_portal_on_a_phone_with_the_contact_person(client, api, database):
    _case_id, token, tasks = job(api, database, "sif@byg.example")
    page = client.get(f"/link/{token}")
    assert page.status_code == 200
    assert 'name="viewport"' in page.text
    assert 'data-testid="link-header"' in page.text and "Kasper Kontaktperson" in page.text
    assert {t["name"] for t in tasks} == {"portal_risk", "portal_workers", "portal_substances", "portal_documents"}
    assert all(t["id"] in page.text for t in tasks)
    assert 'enctype="multipart/form-data"' in page.text
    english = client.get(f"/link/{token}", headers={"Accept-Language": "en"})
    assert english.status_code == 200


def test_the_link_of_job_a_can_neither_read_nor_work_job_b(client, api, database):
    _case_a, token_a, _tasks_a = job(api, database, "sif@byg.example")
    case_b, token_b, tasks_b = job(api, database, "bo@andet.example")
    page_a = client.get(f"/link/{token_a}").text
    assert all(t["id"] not in page_a for t in tasks_b) and case_b not in page_a
    workers_b = next(t for t in tasks_b if t["name"] == "portal_workers")
    posted = client.post(f"/link/{token_a}/tasks/{workers_b['id']}",
                         data={"csrf_token": _csrf(client, token_a), "workers.0.name": "Mallory"})
    assert posted.status_code in (403, 404)
    # job B is untouched: its workers task is still open on B's own page
    assert workers_b["id"] in client.get(f"/link/{token_b}").text


def test_the_site_lead_uploads_a_document_through_the_portal(client, api, database):
    case_id, token, tasks = job(api, database, "sif@byg.example")
    documents = next(t for t in tasks if t["name"] == "portal_documents")

    posted = client.post(f"/link/{token}/tasks/{documents['id']}", content_type="multipart/form-data", data={
        "csrf_token": _csrf(client, token), "document_note": "Vores APV",
        "document": (BytesIO(b"%PDF-1.4 our risk assessment"), "apv.pdf", "application/pdf")})
    assert posted.status_code == 303, posted.text[:2000]
    with database.read() as session:
        [stored] = session.scalars(select(Attachment).where(Attachment.case_id == case_id))
    assert (stored.filename, stored.uploaded_by) == ("apv.pdf", "link for Sif Sørensen")
    assert documents["id"] not in client.get(f"/link/{token}").text  # done


def test_revoked_then_renewed_expired_and_tampered_links_get_clear_pages(client, api, database):
    case_id, token, _tasks = job(api, database, "sif@byg.example")
    [link] = api.get(f"/cases/{case_id}/links", as_="lene").get_json()["items"]
    assert link["email"] == "sif@byg.example"

    assert api.post(f"/links/{link['id']}/revoke", as_="lene").status_code == 200
    revoked = client.get(f"/link/{token}")
    assert revoked.status_code == 410 and 'data-reason="revoked"' in revoked.text

    renewed = api.post(f"/links/{link['id']}/renew", as_="lene", json={"ttl_days": 3}).get_json()["token"]
    assert client.get(f"/link/{renewed}").status_code == 200
    assert client.get(f"/link/{token}").status_code == 410

    with database.write() as session:
        session.execute(update(CaseLink).where(CaseLink.id == link["id"])
                        .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)))
    expired = client.get(f"/link/{renewed}")
    assert expired.status_code == 410 and 'data-reason="expired"' in expired.text

    tampered = renewed[:-3] + ("AAA" if not renewed.endswith("AAA") else "BBB")
    refused = client.get(f"/link/{tampered}")
    assert refused.status_code == 404 and 'data-testid="link-refused"' in refused.text
