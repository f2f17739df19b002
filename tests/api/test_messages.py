"""`POST /api/v1/cases/{id}/messages/{name}`: a message into a running case over HTTP (#12 item 4)."""

from __future__ import annotations

from pathlib import Path

MESSAGES_BPMN = Path(__file__).parents[1] / "processes" / "bpmn" / "message_events.bpmn"


def started_case(api, auth) -> tuple[str, str]:
    owner = auth.user(group="process-owners")
    employee = auth.user(group="employees", unit="kemi")
    deployed = api.post("/processes", as_=owner, data=MESSAGES_BPMN.read_bytes(), content_type="application/xml",
                        query_string={"filename": "message_events.bpmn"})
    assert deployed.status_code == 201, deployed.get_json()
    started = api.post("/cases", as_=employee, json={"process": "message_events", "unit": "kemi", "data": {}})
    assert started.status_code == 201, started.get_json()
    return started.get_json()["id"], employee


def test_the_case_lists_its_messages_and_one_delivered_moves_it_on(api, auth):
    case_id, employee = started_case(api, auth)

    offered = api.get(f"/cases/{case_id}/messages", as_=employee)
    assert offered.status_code == 200
    assert {m["name"]: m["form_name"] for m in offered.get_json()} == {
        "report an incident": "free_note", "first day of absence": None}

    response = api.post(f"/cases/{case_id}/messages/report an incident", as_=employee,
                        json={"data": {"note": "smoke in lab 3"}})

    assert response.status_code == 200, response.get_json()
    assert [task["name"] for task in response.get_json()["tasks"]] == ["handle_incident"]


def test_a_message_nobody_waits_for_is_409_and_changes_nothing(api, auth):
    case_id, employee = started_case(api, auth)
    before = api.get(f"/cases/{case_id}", as_=employee).get_json()

    response = api.post(f"/cases/{case_id}/messages/report a change", as_=employee, json={"data": {"note": "x"}})

    assert response.status_code == 409
    assert response.get_json()["error"]["fields"]["message"]
    assert api.get(f"/cases/{case_id}", as_=employee).get_json() == before


def test_a_payload_that_does_not_fit_the_form_is_422_naming_the_field(api, auth):
    case_id, employee = started_case(api, auth)

    response = api.post(f"/cases/{case_id}/messages/report an incident", as_=employee, json={"data": {}})

    assert response.status_code == 422
    assert "note" in response.get_json()["error"]["fields"]
