"""Malformed requests get the JSON error envelope with the right status, never an HTML page."""

from __future__ import annotations

import pytest

API = "/api/v1"


@pytest.fixture
def applicant(auth):
    return auth.user(group="employees", unit="kemi")


def test_a_body_that_is_not_json_is_400_malformed_json(api, applicant):
    response = api.post("/cases", as_=applicant, data="{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "malformed_json"


@pytest.mark.parametrize("body", [" ", "\t\r\n"])
def test_a_body_of_white_space_alone_is_not_json_and_not_an_empty_body(api, applicant, body):
    response = api.post("/cases", as_=applicant, data=body, content_type="application/json")

    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "malformed_json"
    assert set(response.get_json()["error"]["fields"]) == {"_body"}


@pytest.mark.parametrize("body", ["[1, 2]", '"text"', "42", "null"])
def test_a_json_body_that_is_not_an_object_is_400_invalid_body(api, applicant, body):
    response = api.post("/cases", as_=applicant, data=body, content_type="application/json")

    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_body"
    assert "object" in error["message"]


def test_a_json_body_is_read_whatever_its_content_type(api, applicant):
    response = api.post("/cases", as_=applicant, data='{"unit": "kemi"}', content_type="text/plain")

    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"process"}


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"process"}),
        ({"process": "lone_work_approval", "data": {}}, {"unit"}),  # a unit, unless started from another case
        ({"process": "lone_work_approval", "unit": "kemi", "data": "not an object"}, {"data"}),
        ({"process": "lone_work_approval", "unit": "kemi", "data": [1]}, {"data"}),
        ({"process": 7, "unit": "kemi"}, {"process"}),
        ({"process": "lone_work_approval", "unit": "kemi", "dato": {}}, {"dato"}),
    ],
)
def test_a_start_body_with_bad_syntax_is_422_naming_each_field(api, applicant, body, fields):
    response = api.post("/cases", as_=applicant, json=body)

    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid_data"
    assert set(error["fields"]) == fields
    assert all(isinstance(message, str) for message in error["fields"].values())


def test_a_complete_body_whose_data_is_not_an_object_is_422_naming_data(api, applicant):
    response = api.post("/tasks/any-task/complete", as_=applicant, json={"data": ["x"]})

    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"data"}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "many"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"limit": "100000"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"status": "sleeping"}, "status"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_query_parameter_is_400_naming_it(api, applicant, query, field):
    response = api.get("/tasks", as_=applicant, query_string=query)

    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_query"
    assert set(error["fields"]) == {field}


def test_an_unknown_api_path_is_a_json_404(client):
    response = client.get(f"{API}/no-such-thing")

    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_a_wrong_method_is_a_json_405_with_allow(client):
    response = client.delete(f"{API}/tasks")

    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]


def test_an_unknown_case_is_a_json_404(api, applicant):
    response = api.get("/cases/no-such-case", as_=applicant)

    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_an_unknown_task_is_a_json_404(api, applicant):
    response = api.post("/tasks/no-such-task/claim", as_=applicant)

    assert response.status_code == 404


def test_starting_an_unknown_process_is_404(api, applicant):
    response = api.post("/cases", as_=applicant, json={"process": "no_such_process", "unit": "kemi", "data": {}})

    assert response.status_code == 404


def test_a_body_over_the_size_limit_is_a_json_413(app, api, auth):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    owner = auth.user(group="process-owners")

    response = api.post("/processes", as_=owner, data=b"<x/>" * 1000, content_type="application/xml")

    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "request_entity_too_large"


def test_a_model_that_fails_while_running_is_a_500_engine_error_and_changes_nothing(api, auth, bpmn_dir):
    owner = auth.user(group="process-owners")
    employee = auth.user(group="employees", unit="kemi", not_group="amk")
    xml = (bpmn_dir / "failing_script_process.bpmn").read_bytes()
    assert api.post("/processes", as_=owner, data=xml, content_type="application/xml").status_code == 201
    case = api.post(
        "/cases", as_=employee, json={"process": "failing_script_process", "unit": "kemi", "data": {}}
    ).get_json()
    task = case["tasks"][0]

    response = api.post(f"/tasks/{task['id']}/complete", as_=employee, json={"data": {"note": "hello"}})

    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "engine_error"
    assert api.get(f"/tasks/{task['id']}", as_=employee).get_json()["status"] == "ready"
    assert api.get(f"/cases/{case['id']}", as_=employee).get_json() == case


def test_an_unexpected_exception_is_a_json_500_when_not_testing(app):
    @app.get("/api/v1/boom")
    def boom():
        """Fail like a bug would."""
        raise RuntimeError("a bug")

    app.testing = False
    app.config["PROPAGATE_EXCEPTIONS"] = False

    response = app.test_client().get("/api/v1/boom")

    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal_server_error"
    assert "a bug" not in response.get_data(as_text=True)
