"""`GET /cases` (lists and search) and `GET /processes/{key}` (start a case from the API alone), issue #17."""

from __future__ import annotations

import jsonschema
import pytest

PROCESS = "lone_work_approval"


def test_a_client_starts_a_lone_work_case_knowing_only_the_process_and_the_openapi_document(
        api, people, lone_work_application):
    document = api.get("/openapi.json", as_=None).get_json()
    detail_path = next(path for path in document["paths"] if path.endswith("/processes/{key}"))
    cases_path = detail_path.replace("/processes/{key}", "/cases")
    prefix = detail_path.removesuffix("/processes/{key}")
    assert "get" in document["paths"][detail_path]
    request_ref = document["paths"][cases_path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    request_schema = document["components"]["schemas"][request_ref["$ref"].rsplit("/", 1)[1]]
    assert set(request_schema["required"]) == {"process"}
    assert "unit" in request_schema["properties"]  # required unless the case is started from another case

    detail = api.client.get(detail_path.replace("{key}", PROCESS), headers=api.auth.headers(people["applicant"]))
    assert detail.status_code == 200, detail.get_json()
    process = detail.get_json()
    assert process["may_start"] is True and process["units"] == ["kemi"]
    form = process["start_form"]
    assert form["ui"], "the UI hints come with the schema"
    answers = lone_work_application()  # what the applicant typed into the form the client drew from the schema
    assert set(answers) <= set(form["schema"]["properties"])
    jsonschema.Draft202012Validator(form["schema"]).validate(answers)  # the schema stands alone: no file refs

    started = api.client.post(cases_path, headers=api.auth.headers(people["applicant"]),
                              json={"process": process["key"], "unit": process["units"][0], "data": answers})
    assert prefix == "/api/v1"
    assert started.status_code == 201, started.get_json()
    assert started.get_json()["title"] == f"{answers['applicant_name']}: {answers['task_description']}"


def test_an_unknown_process_is_a_404(api, people):
    response = api.get("/processes/no_such_process", as_=people["applicant"])
    assert response.status_code == 404
    assert response.get_json()["error"]["code"]


def test_cases_lists_mine_and_the_units_and_search_finds_only_what_the_reader_may_see(
        api, people, lone_work_application):
    answers = lone_work_application(applicant_name="Birgitte Kvistgaard")
    started = api.post("/cases", as_=people["applicant"], json={"process": PROCESS, "unit": "kemi", "data": answers})
    case_id = started.get_json()["id"]

    mine = api.get("/cases", as_=people["applicant"]).get_json()
    assert [(item["id"], item["status"], item["title"]) for item in mine["items"]] == [
        (case_id, "running", f"Birgitte Kvistgaard: {answers['task_description']}")]
    assert mine["total"] == 1

    found = api.get("/cases", as_=people["kemi_amk"], query_string={"scope": "unit", "q": "kvistgaard"}).get_json()
    assert [item["id"] for item in found["items"]] == [case_id]
    elsewhere = api.get("/cases", as_=people["other_amk"], query_string={"scope": "all", "q": "Kvistgaard"})
    assert elsewhere.status_code == 200 and elsewhere.get_json()["items"] == []

    queue = api.open_tasks(as_=people["kemi_amk"], case_id=case_id)
    assert queue[0]["case_title"] == f"Birgitte Kvistgaard: {answers['task_description']}"
    assert queue[0]["due_at"] is not None


@pytest.mark.parametrize(("query", "field"), [
    ({"scope": "everyone"}, "scope"), ({"status": "open"}, "status"), ({"limit": "0"}, "limit"),
    ({"created_from": "yesterday"}, "created_from"), ({"colour": "red"}, "colour"),
])
def test_a_bad_case_list_query_is_a_400_naming_the_field(api, people, query, field):
    response = api.get("/cases", as_=people["applicant"], query_string=query)
    assert response.status_code in (400, 422), response.get_json()
    assert field in response.get_json()["error"]["fields"]
