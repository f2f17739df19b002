"""Restricted cases (issue #11): only the subject, the people holding or having held its tasks and the
roles the process names may read it; every read, allowed or refused, is recorded."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

import processes
from processes.store.models import CaseRead
from tests.samples import one_task_bpmn

RESTRICTED_BPMN = one_task_bpmn("health_note", name="Health note", lane="leaders", task_id="look",
                                task_name="Look at the health note",
                                process_properties={"sensitivity": "restricted", "readers": "hr"})


@pytest.fixture
def restricted_case(database, api):
    processes.deploy(database, RESTRICTED_BPMN, "health_note.bpmn", actor=processes.get_user(database, "owen"))
    response = api.post("/cases", as_="anna", json={"process": "health_note", "unit": "kemi", "data": {}})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _reads(database, case_id):
    with database.read() as session:
        rows = session.scalars(select(CaseRead).where(CaseRead.case_id == case_id).order_by(CaseRead.id))
        return [(row.actor, row.what, row.allowed) for row in rows]


def test_a_read_by_the_leader_leaves_a_row_naming_the_leader(api, database, restricted_case):
    case_id = restricted_case["id"]
    before = _reads(database, case_id)

    assert api.get(f"/cases/{case_id}", as_="lene").status_code == 200

    assert _reads(database, case_id)[len(before):] == [("lene", "case", True)]


@pytest.mark.parametrize("outsider", ["eva", "carl", "ditte", "admin", "karl", "erik"])
def test_a_read_by_someone_outside_the_case_is_403_and_leaves_a_row(api, database, restricted_case, outsider):
    case_id = restricted_case["id"]

    assert api.get(f"/cases/{case_id}", as_=outsider).status_code == 403

    assert _reads(database, case_id)[-1] == (outsider, "case", False)


def test_the_subject_and_the_named_role_in_the_unit_may_read(api, database, restricted_case):
    case_id = restricted_case["id"]

    assert api.get(f"/cases/{case_id}", as_="anna").status_code == 200
    assert api.get(f"/cases/{case_id}", as_="hanne").status_code == 200  # hr, named by the process, in kemi
    assert [(actor, allowed) for actor, _what, allowed in _reads(database, case_id)] == [
        ("anna", True), ("hanne", True)]


def test_the_leader_who_did_the_task_still_reads_it_and_another_leader_no_longer_can(
    api, auth, database, restricted_case
):
    case_id = restricted_case["id"]
    task = restricted_case["tasks"][0]
    other_leader = processes.create_user(database, "lars", password="demo-amflow", groups=["leaders"],
                                         units=["kemi"])
    auth._tokens["lars"] = processes.create_token(database, other_leader.username).token
    assert api.get(f"/cases/{case_id}", as_="lars").status_code == 200  # may work the open task now

    done = api.post(f"/tasks/{task['id']}/complete", as_="lene", json={"data": {"note": "Seen"}})
    assert done.status_code == 200, done.get_json()

    assert api.get(f"/cases/{case_id}", as_="lene").status_code == 200
    assert api.get(f"/cases/{case_id}", as_="lars").status_code == 403


def test_reading_a_task_of_a_restricted_case_is_recorded(api, database, restricted_case):
    task = restricted_case["tasks"][0]

    assert api.get(f"/tasks/{task['id']}", as_="lene").status_code == 200
    assert api.get(f"/tasks/{task['id']}", as_="eva").status_code == 403

    assert _reads(database, restricted_case["id"])[-2:] == [
        ("lene", f"task {task['id']}", True), ("eva", f"task {task['id']}", False)]


def test_the_case_page_records_the_read(client, database, restricted_case):
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    client.post("/login", data={"csrf_token": token, "username": "lene", "password": "demo-amflow"})

    assert client.get(f"/cases/{restricted_case['id']}").status_code == 200

    assert {what for actor, what, allowed in _reads(database, restricted_case["id"]) if actor == "lene"} >= {
        "case", "diagram", "comments", "attachments"}


def test_a_normal_case_is_not_recorded(api, database, lone_work_application):
    started = api.post("/cases", as_="anna", json={"process": "lone_work_approval", "unit": "kemi",
                                                   "data": lone_work_application()}).get_json()

    assert api.get(f"/cases/{started['id']}", as_="anna").status_code == 200

    assert _reads(database, started["id"]) == []


def test_an_unknown_sensitivity_is_refused_at_deploy(database):
    with pytest.raises(processes.errors.InvalidModel, match="sensitivity"):
        processes.deploy(database, RESTRICTED_BPMN.replace(b'value="restricted"', b'value="secret"'),
                         "health_note.bpmn", actor=processes.get_user(database, "owen"))
