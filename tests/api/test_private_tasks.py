"""A task assigned to one person makes the case visible to that person, not to their group (issue #11)."""

from __future__ import annotations

import re

import pytest

import processes

PROCESS = "lone_work_approval"
DEMO_PASSWORD = "demo-amflow"  # the published demo password of processes/demo.py

AMK_REVIEW = {
    "risk_assessment": [{"hazard": "Fire", "consequence": "Burns", "measure": "Check-in calls",
                         "residual_risk": "low"}],
    "mitigations_adequate": True,
    "amr_consulted": True,
    "amr_consulted_date": "2026-08-20",
}


@pytest.fixture
def sent_back(api, auth, lone_work_application):
    """A kemi lone-work application the leader sent back to the applicant: (case id, revise task, applicant)."""
    applicant = auth.user(group="employees", unit="kemi", not_group="amk")
    started = api.post("/cases", as_=applicant,
                       json={"process": PROCESS, "unit": "kemi", "data": lone_work_application()}).get_json()
    review = next(task for task in started["tasks"] if task["name"] == "amk_review")
    amk = auth.user(group="amk", unit="kemi")
    reviewed = api.post(f"/tasks/{review['id']}/complete", as_=amk, json={"data": AMK_REVIEW}).get_json()
    approval = next(task for task in reviewed["tasks"] if task["name"] == "leader_approval")
    leader = auth.user(group="leaders", unit="kemi")
    back = api.post(f"/tasks/{approval['id']}/complete", as_=leader,
                    json={"data": {"decision": "send_back", "reason": "Add the buddy's phone number."}})
    assert back.status_code == 200, back.get_json()
    revise = next(task for task in back.get_json()["tasks"] if task["name"] == "applicant_revise")
    assert revise["assignee"] == applicant
    return started["id"], revise, applicant


@pytest.fixture
def colleague(auth, demo_users, sent_back):
    """Another employee of kemi, neither AMK nor leader: has no business in the application."""
    applicant = sent_back[2]
    return next(u.username for u in demo_users if "employees" in u.groups and "kemi" in u.units
                and u.username != applicant and not {"amk", "leaders", "hr"} & set(u.groups)
                and not {"cas", "arbejdsmiljo", "admins", "precursor-coordinator"} & set(u.groups))


def test_the_applicant_sees_and_can_open_the_revise_task(api, sent_back):
    case_id, revise, applicant = sent_back

    assert revise["id"] in {task["id"] for task in api.open_tasks(as_=applicant)}
    assert api.get(f"/tasks/{revise['id']}", as_=applicant).status_code == 200
    assert api.get(f"/cases/{case_id}", as_=applicant).status_code == 200


def test_a_colleague_cannot_read_the_sent_back_application_anywhere(api, client, database, sent_back, colleague):
    case_id, revise, applicant = sent_back
    attachment = processes.add_attachment(database, case_id, filename="plan.txt", content_type="text/plain",
                                          content=b"evening plan", actor=processes.get_user(database, applicant))

    assert revise["id"] not in {task["id"] for task in api.open_tasks(as_=colleague)}
    assert api.open_tasks(as_=colleague, case_id=case_id) == []
    assert api.get(f"/cases/{case_id}", as_=colleague).status_code == 403
    assert api.get(f"/tasks/{revise['id']}", as_=colleague).status_code == 403
    pages = client  # the web pages, logged in as the colleague
    login = pages.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)
    assert pages.post("/login", data={"csrf_token": token, "username": colleague,
                                      "password": DEMO_PASSWORD}).status_code == 302
    assert pages.get(f"/cases/{case_id}").status_code == 403
    assert pages.get(f"/tasks/{revise['id']}").status_code == 403
    assert pages.get(f"/cases/{case_id}/attachments/{attachment.id}").status_code == 403
    assert pages.get(f"/cases/{case_id}/diagram.xml").status_code == 403
    assert revise["id"] not in pages.get("/").text
    for action in ("claim", "complete"):
        assert api.post(f"/tasks/{revise['id']}/{action}", as_=colleague, json={"data": {}}).status_code == 403


def test_the_named_person_cannot_give_a_private_task_back_to_a_group(api, sent_back):
    _case_id, revise, applicant = sent_back

    response = api.post(f"/tasks/{revise['id']}/unclaim", as_=applicant)

    assert response.status_code == 409
