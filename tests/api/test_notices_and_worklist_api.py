"""Issue #17 through the API: comments, attachments and assigning (what the web pages offer, decided by
access.may through the same use cases), and my in-app notifications with their e-mail settings."""

from __future__ import annotations

import io

import pytest

import processes

PROCESS = "lone_work_approval"


@pytest.fixture
def case(api, auth, lone_work_application):
    """A kemi lone-work application waiting for the AMK's review: (case id, review task id, applicant)."""
    applicant = auth.user(group="employees", unit="kemi", not_group="amk")
    started = api.post("/cases", as_=applicant,
                       json={"process": PROCESS, "unit": "kemi", "data": lone_work_application()})
    assert started.status_code == 201, started.get_json()
    body = started.get_json()
    return body["id"], body["tasks"][0]["id"], applicant


def amk_pair(auth, database) -> tuple[str, str]:
    """The demo AMK of kemi, and a second AMK of kemi made for the test (the demo has one)."""
    processes.create_user(database, "kirsten", password="kirsten-password", groups=["amk"], units=["kemi"])
    token = auth.client.post("/api/v1/auth/token", json={"username": "kirsten", "password": "kirsten-password"})
    auth._tokens["kirsten"] = token.get_json()["token"]
    return auth.user(group="amk", unit="kemi"), "kirsten"


def test_comments_are_listed_and_added_by_readers_only(api, auth, case):
    case_id, _task, applicant = case
    outsider = auth.user(group="employees", unit="energi")

    added = api.post(f"/cases/{case_id}/comments", as_=applicant, json={"body": "Bo er med som makker."})
    assert added.status_code == 201, added.get_json()
    assert added.get_json()["author"] == applicant
    listed = api.get(f"/cases/{case_id}/comments", as_=applicant).get_json()
    assert [comment["body"] for comment in listed] == ["Bo er med som makker."]
    assert api.get(f"/cases/{case_id}/comments", as_=outsider).status_code in (403, 404)
    assert api.post(f"/cases/{case_id}/comments", as_=outsider, json={"body": "x"}).status_code in (403, 404)


def test_a_bad_comment_is_refused_naming_the_field_and_adds_nothing(api, case):
    case_id, _task, applicant = case
    for body in ({}, {"body": ""}, {"body": "x" * 10_001}, {"body": "ok", "extra": 1}):
        refused = api.post(f"/cases/{case_id}/comments", as_=applicant, json=body)
        assert refused.status_code in (400, 422), body
        assert set(refused.get_json()["error"]["fields"]) <= {"body", "extra"}, refused.get_json()
        assert refused.get_json()["error"]["fields"]
    assert api.get(f"/cases/{case_id}/comments", as_=applicant).get_json() == []


def test_attachments_are_uploaded_listed_and_downloaded(api, auth, case):
    case_id, _task, applicant = case
    outsider = auth.user(group="employees", unit="energi")

    uploaded = api.post(f"/cases/{case_id}/attachments", as_=applicant,
                        data={"file": (io.BytesIO(b"risk plan"), "plan.txt", "text/plain")})
    assert uploaded.status_code == 201, uploaded.get_json()
    found = uploaded.get_json()
    assert (found["filename"], found["size"]) == ("plan.txt", 9)
    assert [a["id"] for a in api.get(f"/cases/{case_id}/attachments", as_=applicant).get_json()] == [found["id"]]
    download = api.get(f"/cases/{case_id}/attachments/{found['id']}", as_=applicant)
    assert download.status_code == 200 and download.data == b"risk plan"
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert api.get(f"/cases/{case_id}/attachments/{found['id']}", as_=outsider).status_code in (403, 404)
    assert api.get(f"/cases/{case_id}/attachments", as_=outsider).status_code in (403, 404)


def test_a_missing_or_empty_file_is_refused_naming_the_field(api, case):
    case_id, _task, applicant = case
    missing = api.post(f"/cases/{case_id}/attachments", as_=applicant, data={})
    empty = api.post(f"/cases/{case_id}/attachments", as_=applicant,
                     data={"file": (io.BytesIO(b""), "empty.txt", "text/plain")})
    for refused in (missing, empty):
        assert refused.status_code in (400, 422)
        assert set(refused.get_json()["error"]["fields"]) == {"file"}
    assert api.get(f"/cases/{case_id}/attachments", as_=applicant).get_json() == []


def test_an_unknown_multipart_field_is_refused_naming_it(api, case):
    case_id, _task, applicant = case
    refused = api.post(f"/cases/{case_id}/attachments", as_=applicant,
                       data={"file": (io.BytesIO(b"risk plan"), "plan.txt", "text/plain"), "note": "x"})
    assert refused.status_code == 400
    assert set(refused.get_json()["error"]["fields"]) == {"note"}
    assert api.get(f"/cases/{case_id}/attachments", as_=applicant).get_json() == []


def test_assigning_a_task_through_the_api_tells_the_colleague(api, auth, case, database):
    case_id, task_id, applicant = case
    kim, kirsten = amk_pair(auth, database)

    assert api.post(f"/tasks/{task_id}/assign", as_=applicant, json={"assignee": kirsten}).status_code in (403, 404)
    refused = api.post(f"/tasks/{task_id}/assign", as_=kim, json={"assignee": applicant})
    assert refused.status_code == 422 and set(refused.get_json()["error"]["fields"]) == {"assignee"}
    missing = api.post(f"/tasks/{task_id}/assign", as_=kim, json={})
    assert missing.status_code == 422 and set(missing.get_json()["error"]["fields"]) == {"assignee"}

    assigned = api.post(f"/tasks/{task_id}/assign", as_=kim, json={"assignee": kirsten})
    assert assigned.status_code == 200, assigned.get_json()
    assert assigned.get_json()["assignee"] == kirsten
    notices = api.get("/me/notifications", as_=kirsten).get_json()
    assert {"kind": "task_assigned", "case_id": case_id, "actor": kim}.items() <= notices["items"][0].items()


def test_my_notifications_are_listed_marked_read_and_mailed_as_i_choose(api, auth, case):
    case_id, _task, _applicant = case
    kim = auth.user(group="amk", unit="kemi")
    other_unit = auth.user(group="amk", unit="energi")

    page = api.get("/me/notifications", as_=kim).get_json()
    mine = [item for item in page["items"] if item["case_id"] == case_id]
    assert [item["kind"] for item in mine] == ["group_task"] and not mine[0]["read"]
    assert case_id not in {item["case_id"] for item in api.get("/me/notifications", as_=other_unit).get_json()["items"]}

    read = api.post(f"/me/notifications/{mine[0]['id']}/read", as_=kim)
    assert read.status_code == 200
    assert api.post(f"/me/notifications/{mine[0]['id']}/read", as_=other_unit).status_code == 404
    assert api.get("/me/notifications", as_=kim).get_json()["unread"] == page["unread"] - 1

    assert api.get("/me/notifications/settings", as_=kim).get_json() == {
        "email": {"group_task": True, "task_assigned": True, "comment": False}}
    changed = api.call("PUT", "/me/notifications/settings", as_=kim, json={"email": {"comment": True}})
    assert changed.get_json()["email"]["comment"] is True
    bad = api.call("PUT", "/me/notifications/settings", as_=kim, json={"email": {"gossip": 1, "group_task": "no"}})
    assert bad.status_code == 422
    assert set(bad.get_json()["error"]["fields"]) == {"email.gossip", "email.group_task"}
    assert api.get("/me/notifications", as_=kim, query_string={"limit": 0}).status_code == 400



@pytest.mark.parametrize("before", [2**31, 5263713486, 10**30])  # 5263713486: what the fuzz test sent PostgreSQL
def test_a_cursor_beyond_any_row_id_reads_from_the_newest(api, auth, case, before):
    amk = auth.user(group="amk", unit="kemi")  # the case's AMK review is new for the unit's AMK
    newest = api.get("/me/notifications", as_=amk).get_json()

    response = api.get(f"/me/notifications?before={before}", as_=amk)

    assert response.status_code == 200, response.get_json()
    assert newest["items"], "kim has notifications to page through"
    assert response.get_json()["items"] == newest["items"]
