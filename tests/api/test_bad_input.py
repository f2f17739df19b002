"""Hostile input gets a 4xx error envelope naming the field and changes nothing (issue #9, finding 5).

Each request here was answered 500 before: JSON nested 10,000 deep, a lone surrogate in a log-in, an offset
past any database integer, an instant that leaves the calendar when moved to UTC.
"""

from __future__ import annotations

import io

import pytest

DEEP = "[" * 10_000 + "]" * 10_000
DEEP_IN_A_FIELD = '{"data": {"a": ' + "[" * 10_000 + "]" * 10_000 + "}}"


@pytest.fixture
def applicant(auth):
    return auth.user(group="employees", unit="kemi")


@pytest.fixture
def start_task(api, auth, applicant, make_bpmn):
    """Deploy a one-task process and start a case of it; returns the case's open task."""
    owner = auth.user(group="process-owners")
    xml = make_bpmn(process_id="bad_input_process")
    assert api.post("/processes", as_=owner, data=xml, content_type="application/xml").status_code == 201

    def start():
        response = api.post("/cases", as_=applicant, json={"process": "bad_input_process", "unit": "kemi"})
        assert response.status_code == 201, response.get_json()
        return response.get_json()["tasks"][0]

    return start


@pytest.fixture
def production(app):
    """The app as it runs in production: an unexpected exception becomes a 500 response, not a test error."""
    app.testing = False
    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app


def _error(response, status):
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    error = response.get_json()["error"]
    assert set(error) <= {"code", "message", "fields"}
    assert error["message"]
    return error


@pytest.mark.parametrize("body", [DEEP, DEEP_IN_A_FIELD, '{"data": ' + "{\"a\": " * 40 + "1" + "}" * 41])
@pytest.mark.parametrize("path", ["/auth/token", "/cases", "/tasks/{task}/complete", "/decisions/lone_work"])
def test_json_nested_too_deep_is_400_naming_the_field(production, api, applicant, start_task, path, body):
    task = start_task()
    before = api.get(f"/cases/{task['case_id']}", as_=applicant).get_json()

    response = api.post(
        path.format(task=task["id"]),
        as_=None if path == "/auth/token" else applicant,
        data=body,
        content_type="application/json",
    )

    error = _error(response, 400)
    assert error["code"] == "invalid_body"
    assert set(error["fields"]) == ({"_body"} if body.startswith("[") or "[[" in body else {"data"})
    assert "32 levels" in next(iter(error["fields"].values()))
    assert api.get(f"/cases/{task['case_id']}", as_=applicant).get_json() == before


def test_json_nested_to_the_limit_is_read(api, applicant, start_task):
    task = start_task()
    nested = "{\"a\": " * 31 + "1" + "}" * 31

    response = api.post(f"/tasks/{task['id']}/complete", as_=applicant, data='{"data": ' + nested + "}",
                        content_type="application/json")

    assert response.status_code == 422  # read, and then judged by the task's form
    assert response.get_json()["error"]["code"] == "invalid_data"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"username": "\\ud800", "password": "x"}', "username"),
        ('{"username": "anna", "password": "\\ud800"}', "password"),
        ('{"username": "an\\u0000na", "password": "x"}', "username"),
        ('{"username": "anna", "password": "a\\udfffb"}', "password"),
    ],
)
def test_a_lone_surrogate_or_nul_in_a_log_in_is_422_naming_the_field(production, client, body, field):
    response = client.post("/api/v1/auth/token", data=body, content_type="application/json")

    error = _error(response, 422)
    assert error["code"] == "invalid_data"
    assert set(error["fields"]) == {field}


def test_a_lone_surrogate_deep_in_case_data_is_422_naming_its_path(production, api, applicant, start_task):
    task = start_task()
    before = api.get(f"/cases/{task['case_id']}", as_=applicant).get_json()

    response = api.post(f"/tasks/{task['id']}/complete", as_=applicant,
                        data='{"data": {"notes": ["ok", {"\\ud83d": 1}]}}', content_type="application/json")

    error = _error(response, 422)
    assert set(error["fields"]) == {"data.notes.1.\\ud83d"}  # the bad key, escaped
    assert api.get(f"/cases/{task['case_id']}", as_=applicant).get_json() == before


@pytest.mark.parametrize("number", ["1e999", "-1e999", "NaN", "Infinity"])
def test_a_number_json_cannot_hold_is_400(production, api, applicant, number):
    response = api.post("/decisions/lone_work", as_=applicant, data='{"facts": {"x": ' + number + "}}",
                        content_type="application/json")

    assert _error(response, 400)["code"] == "malformed_json"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"offset": "99999999999999999999999"}, "offset"),
        ({"offset": "1000001"}, "offset"),
        ({"due_before": "9999-12-31T23:59:59-23:59"}, "due_before"),
        ({"due_before": "0001-01-01T00:00:00+23:59"}, "due_before"),
        ({"unit": "k" * 65}, "unit"),
        ({"group": "g" * 65}, "group"),
        ({"assignee": "a" * 101}, "assignee"),
        ({"case_id": "c" * 37}, "case_id"),
        ({"assignee": "an\x00na"}, "assignee"),
    ],
)
def test_a_query_value_out_of_range_is_400_naming_it(production, api, applicant, query, field):
    response = api.get("/tasks", as_=applicant, query_string=query)

    error = _error(response, 400)
    assert error["code"] == "invalid_query"
    assert set(error["fields"]) == {field}


def test_the_largest_offset_and_the_latest_instant_are_answered(api, applicant):
    response = api.get("/tasks", as_=applicant,
                       query_string={"offset": "1000000", "due_before": "9999-12-31T23:59:59+00:00"})

    assert response.status_code == 200
    assert response.get_json()["items"] == []


def test_a_json_body_over_its_own_limit_is_413_naming_the_body(production, api, applicant, start_task):
    production.config["MAX_JSON_LENGTH"] = 2048
    task = start_task()
    before = api.get(f"/cases/{task['case_id']}", as_=applicant).get_json()

    response = api.post(f"/tasks/{task['id']}/complete", as_=applicant, json={"data": {"note": "x" * 3000}})

    error = _error(response, 413)
    assert error["code"] == "request_entity_too_large"
    assert set(error["fields"]) == {"_body"}
    assert api.get(f"/cases/{task['case_id']}", as_=applicant).get_json() == before


def test_a_json_body_never_exceeds_max_content_length(production, api, applicant):
    production.config["MAX_CONTENT_LENGTH"] = 512

    response = api.post("/decisions/lone_work", as_=applicant, json={"facts": {"note": "x" * 600}})

    assert _error(response, 413)["fields"] == {"_body": "at most 512 bytes"}


def test_a_chunked_json_body_without_length_is_limited_too(production, client):
    production.config["MAX_JSON_LENGTH"] = 1024

    body = b'{"username": "' + b"x" * 10_000 + b'", "password": "p"}'

    response = client.post(
        "/api/v1/auth/token",
        input_stream=io.BytesIO(body),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},  # what a server sets for a chunked body
    )

    assert response.status_code == 413
