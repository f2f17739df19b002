"""Free-form objects in form data survive the workflow's serializer (TECH.md: a `typename` key broke it)."""

from __future__ import annotations

import pytest


@pytest.fixture
def free_note_case(api, auth, bpmn_dir):
    """A running case of tests/api/bpmn/free_note_process.bpmn, deployed over the API."""
    owner = auth.user(group="process-owners")
    xml = (bpmn_dir / "free_note_process.bpmn").read_bytes()
    deployed = api.post(
        "/processes",
        as_=owner,
        data=xml,
        content_type="application/xml",
        query_string={"filename": "free_note_process.bpmn"},
    )
    assert deployed.status_code == 201, deployed.get_json()
    employee = auth.user(group="employees", unit="kemi", not_group="amk")
    started = api.post("/cases", as_=employee, json={"process": "free_note_process", "unit": "kemi", "data": {}})
    assert started.status_code == 201, started.get_json()
    return employee, started.get_json()


@pytest.mark.parametrize(
    "details",
    [
        {"typename": "van", "model": "x"},
        {"typename": "UUID", "value": "x"},
        {"typename": "datetime", "value": "not a date", "nested": {"typename": "set", "items": [1]}},
        {"__bytes__": "AAAA", "_escaped": True},
    ],
    ids=["typename van", "typename UUID", "nested typenames", "odd keys"],
)
def test_free_form_details_survive_a_reload_of_the_case_intact(api, free_note_case, details):
    employee, case = free_note_case
    first = case["tasks"][0]

    written = api.post(f"/tasks/{first['id']}/complete", as_=employee, json={"data": {"note": "n", "details": details}})

    assert written.status_code == 200, written.get_json()
    reloaded = api.get(f"/cases/{case['id']}", as_=employee)
    assert reloaded.status_code == 200
    assert reloaded.get_json()["data"]["details"] == details
    second = reloaded.get_json()["tasks"][0]
    confirmed = api.post(f"/tasks/{second['id']}/complete", as_=employee, json={"data": {"note": "ok"}})
    assert confirmed.status_code == 200, confirmed.get_json()
    final = api.get(f"/cases/{case['id']}", as_=employee).get_json()
    assert final["status"] == "completed"
    assert final["data"]["details"] == details
    assert final["data"]["note"] == "ok"
