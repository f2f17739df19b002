"""The OpenAPI document describes every route of the JSON API."""

from __future__ import annotations

import json
import re

API = "/api/v1"


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_openapi_json_is_an_openapi_3_document_without_a_token(client):
    response = client.get(f"{API}/openapi.json")

    assert response.status_code == 200
    document = json.loads(response.data)
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "amflow"


def test_openapi_json_has_a_path_and_method_for_every_api_route(app, client):
    document = client.get(f"{API}/openapi.json").get_json()

    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(API):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in document["paths"][path], f"{method} {path} is missing"


def test_openapi_json_names_the_stable_endpoints_of_the_issue(client):
    paths = client.get(f"{API}/openapi.json").get_json()["paths"]

    expected = {
        ("/api/v1/cases", "post"),
        ("/api/v1/cases/{case_id}", "get"),
        ("/api/v1/cases/{case_id}/history", "get"),
        ("/api/v1/cases/{case_id}/messages", "get"),  # issue #12: messages into a running case
        ("/api/v1/cases/{case_id}/messages/{name}", "post"),
        ("/api/v1/tasks", "get"),
        ("/api/v1/tasks/{task_id}", "get"),
        ("/api/v1/tasks/{task_id}/claim", "post"),
        ("/api/v1/tasks/{task_id}/unclaim", "post"),
        ("/api/v1/tasks/{task_id}/complete", "post"),
        ("/api/v1/processes", "get"),
        ("/api/v1/processes", "post"),
        ("/api/v1/processes/{key}/cases", "get"),  # issue #13: a unit's approvals (listColumns)
        ("/api/v1/decisions/{ruleset}", "post"),
        ("/api/v1/openapi.json", "get"),
        ("/api/v1/me", "get"),
        ("/api/v1/auth/token", "post"),
        ("/api/v1/auth/logout", "post"),
        ("/api/v1/auth/tokens", "get"),
        ("/api/v1/auth/tokens/{token_id}", "delete"),
        ("/api/v1/cases/{case_id}/links", "post"),  # issue #11: signed links
        ("/api/v1/cases/{case_id}/links", "get"),
        ("/api/v1/links/{link_id}/renew", "post"),
        ("/api/v1/links/{link_id}/revoke", "post"),
        ("/api/v1/statistics/{process}", "get"),  # issue #14: statistics per unit
        ("/api/v1/processes/{key}/start-links", "post"),  # issue #14: start links
        ("/api/v1/processes/{key}/start-links", "get"),
        ("/api/v1/start-links/{link_id}/revoke", "post"),
        ("/api/v1/cases", "get"),  # issue #17: case lists and search
        ("/api/v1/processes/{key}", "get"),  # issue #17: a process with its start form
        # issue #18: the process owners' modeler
        ("/api/v1/modeler/processes", "get"),
        ("/api/v1/modeler/processes/{key}/versions", "get"),
        ("/api/v1/modeler/processes/{key}/versions/{version}", "get"),
        ("/api/v1/modeler/validate", "post"),
        ("/api/v1/modeler/drafts", "post"),
        ("/api/v1/modeler/drafts/{key}", "get"),
        ("/api/v1/modeler/deploy", "post"),
        ("/api/v1/modeler/processes/{key}/diff", "get"),
        ("/api/v1/modeler/processes/{key}/rollback", "post"),
        ("/api/v1/modeler/processes/{key}/migrations", "post"),
        ("/api/v1/modeler/processes/{key}/documents", "get"),
        ("/api/v1/modeler/processes/{key}/forms/{form}", "put"),
        ("/api/v1/modeler/processes/{key}/parameters", "post"),
        ("/api/v1/modeler/groups", "get"),
        ("/api/v1/modeler/groups", "post"),
        ("/api/v1/modeler/groups/{code}/members", "post"),
        ("/api/v1/modeler/blank", "get"),
        ("/api/v1/modeler/imports", "post"),  # a SpiffArena process model folder
        ("/api/v1/cases/{case_id}/board", "get"),  # issue #16: a fan-out's status board
        ("/api/v1/cases/{case_id}/tables/{name}", "get"),  # issue #16: a case's exported tables (JSON, CSV, XLSX)
        # issue #17: comments, attachments and assigning through the API; my in-app notifications
        ("/api/v1/cases/{case_id}/comments", "get"),
        ("/api/v1/cases/{case_id}/comments", "post"),
        ("/api/v1/cases/{case_id}/attachments", "get"),
        ("/api/v1/cases/{case_id}/attachments", "post"),
        ("/api/v1/cases/{case_id}/attachments/{attachment_id}", "get"),
        ("/api/v1/tasks/{task_id}/assign", "post"),
        ("/api/v1/me/notifications", "get"),
        ("/api/v1/me/notifications/{notice_id}/read", "post"),
        ("/api/v1/me/notifications/settings", "get"),
        ("/api/v1/me/notifications/settings", "put"),
    }
    assert {(path, method) for path, methods in paths.items() for method in methods} == expected


def test_openapi_json_declares_bearer_security_and_exempts_only_the_public_endpoints(client):
    document = client.get(f"{API}/openapi.json").get_json()

    assert document["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    assert document["security"] == [{"bearerAuth": []}]
    public = {
        (path, method)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
        if operation.get("security") == []
    }
    assert public == {("/api/v1/openapi.json", "get"), ("/api/v1/auth/token", "post")}


def test_every_reference_in_the_openapi_document_resolves(client):
    document = client.get(f"{API}/openapi.json").get_json()

    for ref in set(_refs(document)):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.rsplit("/", 1)[-1] in document["components"]["schemas"], ref


def test_the_case_schema_in_the_openapi_document_has_the_stable_case_fields(client):
    schemas = client.get(f"{API}/openapi.json").get_json()["components"]["schemas"]

    stable = {"id", "process", "version", "unit", "status", "data", "decisions", "tasks", "history"}
    assert stable <= set(schemas["Case"]["properties"])
    assert set(schemas["Case"]["properties"]["status"]["enum"]) == {
        "running",
        "completed",
        "rejected",
        "cancelled",
        "error",
    }
    task_fields = {"id", "case_id", "name", "title", "group", "unit", "assignee", "status", "due_at"}
    assert task_fields <= set(schemas["Task"]["properties"])
    assert "form" in schemas["TaskDetail"]["properties"]


def _query_parameters(document, path):
    return {parameter["name"]: parameter["schema"] for parameter in document["paths"][path]["get"]["parameters"]}


def test_the_document_states_the_limits_the_code_enforces(client):
    document = client.get(f"{API}/openapi.json").get_json()
    tasks = _query_parameters(document, f"{API}/tasks")
    schemas = document["components"]["schemas"]

    assert tasks["offset"]["maximum"] == 1_000_000
    assert tasks["limit"]["maximum"] == 500
    assert tasks["unit"]["maxLength"] == tasks["group"]["maxLength"] == 64  # the unit and group code columns
    assert tasks["assignee"]["maxLength"] == schemas["TokenRequest"]["properties"]["username"]["maxLength"] == 100
    assert tasks["case_id"]["maxLength"] == 36
    assert schemas["StartCaseRequest"]["properties"]["unit"]["maxLength"] == 64
    assert schemas["TokenRequest"]["properties"]["username"]["pattern"] == "^[^\\x00]*$"  # no NUL
    for path, method in [("/auth/token", "post"), ("/cases", "post"), ("/tasks/{task_id}/complete", "post"),
                         ("/decisions/{ruleset}", "post")]:
        assert {"400", "413", "422"} <= set(document["paths"][API + path][method]["responses"]), path


def test_a_value_one_past_a_documented_limit_is_refused_and_the_limit_itself_is_not(api, auth):
    user = auth.user(group="employees", unit="kemi")

    for name, limit in [("unit", 64), ("group", 64), ("assignee", 100), ("case_id", 36), ("process", 200)]:
        assert api.get("/tasks", as_=user, query_string={name: "x" * limit}).status_code == 200, name
        refused = api.get("/tasks", as_=user, query_string={name: "x" * (limit + 1)})
        assert refused.status_code == 400, name
        assert set(refused.get_json()["error"]["fields"]) == {name}


def test_every_operation_id_is_unique(client):
    document = client.get(f"{API}/openapi.json").get_json()
    ids = [operation["operationId"] for path in document["paths"].values() for operation in path.values()
           if isinstance(operation, dict) and "operationId" in operation]

    assert ids, "the document names its operations"
    assert sorted(identifier for identifier in set(ids) if ids.count(identifier) > 1) == []
