"""Over HTTP: a step's case carries its newest events; GET /cases/{id}/history pages back through the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTE_LOOP = Path(__file__).parents[1] / "processes" / "bpmn" / "note_loop.bpmn"
ROUNDS = 30  # three or four events a round


@pytest.fixture
def long_case(api, auth):
    """A note_loop case started and completed ROUNDS times over the API; (its employee, the last response)."""
    owner = auth.user(group="process-owners")
    deployed = api.post("/processes", as_=owner, data=NOTE_LOOP.read_bytes(), content_type="application/xml",
                        query_string={"filename": "note_loop.bpmn"})
    assert deployed.status_code == 201, deployed.get_json()
    employee = auth.user(group="employees", unit="kemi", not_group="amk")
    case = api.post("/cases", as_=employee, json={"process": "note_loop", "unit": "kemi", "data": {}}).get_json()
    for number in range(ROUNDS):
        response = api.post(f"/tasks/{case['tasks'][0]['id']}/complete", as_=employee,
                            json={"data": {"note": f"round {number}"}})
        assert response.status_code == 200, response.get_json()
        case = response.get_json()
    return employee, case


def _pages(api, employee, case_id, limit):
    """Every page from the newest back, as returned."""
    pages, cursor = [], None
    while True:
        query = {"limit": limit} | ({"before": cursor} if cursor else {})
        response = api.get(f"/cases/{case_id}/history", as_=employee, query_string=query)
        assert response.status_code == 200, response.get_json()
        pages.append(response.get_json())
        cursor = pages[-1]["next_cursor"]
        if cursor is None:
            return pages


def test_a_completed_task_returns_the_newest_50_events_and_the_cursor_to_older_ones(api, long_case):
    employee, case = long_case

    assert len(case["history"]) == 50
    assert isinstance(case["history_next_cursor"], str)
    pages = _pages(api, employee, case["id"], limit=50)
    assert pages[0]["items"] == case["history"]
    assert pages[0]["next_cursor"] == case["history_next_cursor"]
    assert api.get(f"/cases/{case['id']}", as_=employee).get_json()["history"] == case["history"]


def test_paging_back_reads_every_event_once_oldest_first(api, long_case):
    employee, case = long_case

    older = api.get(f"/cases/{case['id']}/history", as_=employee,
                    query_string={"before": case["history_next_cursor"], "limit": 500}).get_json()
    small_pages = _pages(api, employee, case["id"], limit=9)

    assert older["next_cursor"] is None
    events = [entry for page in reversed(small_pages) for entry in page["items"]]
    assert events == older["items"] + case["history"]
    assert events[0]["kind"] == "case_started"
    assert len(events) > 50
    assert [entry["at"] for entry in events] == sorted(entry["at"] for entry in events)


def test_a_new_case_holds_its_whole_history_and_no_cursor(api, auth):
    employee = auth.user(group="employees", unit="kemi", not_group="amk")
    owner = auth.user(group="process-owners")
    api.post("/processes", as_=owner, data=NOTE_LOOP.read_bytes(), content_type="application/xml",
             query_string={"filename": "note_loop.bpmn"})

    case = api.post("/cases", as_=employee, json={"process": "note_loop", "unit": "kemi", "data": {}}).get_json()

    assert case["history_next_cursor"] is None
    assert case["history"][0]["kind"] == "case_started"
    assert api.get(f"/cases/{case['id']}/history", as_=employee).get_json() == {
        "items": case["history"], "next_cursor": None}


@pytest.mark.parametrize(("query", "field"), [
    ({"before": "abc"}, "before"), ({"before": "0"}, "before"), ({"before": "-3"}, "before"),
    ({"before": "1" * 19}, "before"), ({"limit": 0}, "limit"), ({"limit": 501}, "limit"),
    ({"limit": "many"}, "limit"), ({"after": "5"}, "after"),
])
def test_a_bad_history_query_is_a_400_naming_the_parameter(api, long_case, query, field):
    employee, case = long_case

    response = api.get(f"/cases/{case['id']}/history", as_=employee, query_string=query)

    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"]["code"] == "invalid_query"
    assert set(response.get_json()["error"]["fields"]) == {field}


def test_the_history_is_read_only_by_the_cases_readers(api, auth, long_case):
    _employee, case = long_case
    stranger = auth.user(group="employees", unit="energi", not_group="amk")

    assert api.get(f"/cases/{case['id']}/history", as_=stranger).status_code == 403
    assert api.get(f"/cases/{case['id']}/history", as_=None).status_code == 401
    assert api.get("/cases/no-such-case/history", as_=_employee).status_code == 404


def test_the_openapi_document_describes_the_history_page_and_the_cursor(client):
    document = client.get("/api/v1/openapi.json").get_json()

    operation = document["paths"]["/api/v1/cases/{case_id}/history"]["get"]
    assert {parameter["name"] for parameter in operation["parameters"]} >= {"case_id", "before", "limit"}
    case = document["components"]["schemas"]["Case"]["properties"]
    assert "history_next_cursor" in case
    assert "history_next_cursor" in case["history"]["description"]


def test_a_cursor_past_every_possible_event_reads_from_the_newest_on_every_database(api, auth, lone_work_application):
    """PostgreSQL's 32-bit event ids refused an 18-digit cursor with a 500; it means "before every event"."""
    applicant = auth.user(group="employees", unit="kemi", not_group="amk")
    case = api.post("/cases", as_=applicant,
                    json={"process": "lone_work_approval", "unit": "kemi", "data": lone_work_application()}).get_json()

    newest = api.get(f"/cases/{case['id']}/history", as_=applicant)
    past_all = api.get(f"/cases/{case['id']}/history", as_=applicant, query_string={"before": "9" * 18})

    assert past_all.status_code == 200, past_all.get_json()
    assert past_all.get_json()["items"] == newest.get_json()["items"] != []
