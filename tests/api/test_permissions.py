"""Who may see and work which task: the group (BPMN lane) in the case's unit, nobody else."""

from __future__ import annotations

import pytest

PROCESS = "lone_work_approval"


@pytest.fixture
def energi_review(api, auth, lone_work_application):
    """An open AMK review task of a G2 case in unit energi."""
    applicant = auth.user(group="employees", unit="energi", not_group="amk")
    response = api.post(
        "/cases", as_=applicant, json={"process": PROCESS, "unit": "energi", "data": lone_work_application()}
    )
    assert response.status_code == 201, response.get_json()
    return next(task for task in response.get_json()["tasks"] if task["group"] == "amk")


@pytest.fixture
def kemi_amk(auth):
    return auth.user(group="amk", unit="kemi")


def test_the_energi_amk_sees_the_energi_task(api, auth, energi_review):
    energi_amk = auth.user(group="amk", unit="energi")

    assert energi_review["id"] in {task["id"] for task in api.open_tasks(as_=energi_amk)}


def test_a_kemi_amk_sees_no_energi_task_even_when_filtering_for_it(api, kemi_amk, energi_review):
    assert energi_review["id"] not in {task["id"] for task in api.open_tasks(as_=kemi_amk)}
    assert api.open_tasks(as_=kemi_amk, unit="energi") == []
    assert api.open_tasks(as_=kemi_amk, case_id=energi_review["case_id"]) == []


@pytest.mark.parametrize("action", ["claim", "complete"])
def test_a_kemi_amk_gets_403_working_an_energi_task(api, kemi_amk, energi_review, action):
    response = api.post(f"/tasks/{energi_review['id']}/{action}", as_=kemi_amk, json={"data": {}})

    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"


def test_a_kemi_amk_gets_403_reading_an_energi_task(api, kemi_amk, energi_review):
    assert api.get(f"/tasks/{energi_review['id']}", as_=kemi_amk).status_code == 403


def test_a_user_of_the_right_unit_but_outside_the_group_gets_403(api, auth, energi_review):
    energi_leader = auth.user(group="leaders", unit="energi", not_group="amk")

    for action in ("claim", "complete"):
        response = api.post(f"/tasks/{energi_review['id']}/{action}", as_=energi_leader, json={"data": {}})
        assert response.status_code == 403


def test_a_case_is_hidden_from_a_user_with_no_task_in_it(api, auth, energi_review):
    outsider = auth.user(group="employees", unit="kemi", not_group="amk")

    assert api.get(f"/cases/{energi_review['case_id']}", as_=outsider).status_code == 403


def test_starting_a_case_in_a_unit_one_is_not_a_member_of_is_403(api, auth, lone_work_application):
    applicant = auth.user(group="employees", unit="kemi", not_group="amk")

    response = api.post(
        "/cases", as_=applicant, json={"process": PROCESS, "unit": "energi", "data": lone_work_application()}
    )

    assert response.status_code == 403


def test_a_task_claimed_by_a_colleague_is_409_for_another_member_of_the_group(api, auth, demo_users, energi_review):
    energi_amks = [u.username for u in demo_users if "amk" in u.groups and "energi" in u.units]
    first = energi_amks[0]
    api.post(f"/tasks/{energi_review['id']}/claim", as_=first)
    admin = auth.user(group="admins")

    response = api.post(f"/tasks/{energi_review['id']}/claim", as_=admin)

    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "conflict"
