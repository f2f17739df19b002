"""Importing a SpiffArena process model folder through the modeler's API (issue #18): `POST /modeler/imports`
with the folder's files or one .zip of it. The model is tests/processes/spiffarena/ohs-incident, the one
`amflow import-spiffarena` imports; the imported process runs for real as the CLI-imported one does."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

MODEL = Path(__file__).parents[1] / "processes" / "spiffarena" / "ohs-incident"
OWNER = "owen"
ADMIN = "admin"
REPORT = {"description": "Spilled acid in lab 3", "severity": "high", "injured": False}


def model_files(**changed: bytes | None) -> dict[str, bytes]:
    """The model folder's files; a name given None is left out, one given bytes is replaced."""
    files = {file.name: file.read_bytes() for file in sorted(MODEL.iterdir())}
    for key, content in changed.items():
        name = "process_model.json" if key == "process_model" else key.replace("_", "-") + ".json"
        if content is None:
            files.pop(name)
        else:
            files[name] = content
    return files


def zipped(files: dict[str, bytes], *, folder: str | None = "ohs-incident") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(f"{folder}/{name}" if folder else name, content)
    return buffer.getvalue()


def upload(api, files: list[tuple[str, bytes]], *, as_: str = OWNER, **form: str):
    data: dict = {"files": [(io.BytesIO(content), name) for name, content in files], **form}
    return api.post("/modeler/imports", as_=as_, data=data, content_type="multipart/form-data")


def upload_zip(api, content: bytes, *, name: str = "ohs-incident.zip", as_: str = OWNER, **form: str):
    return upload(api, [(name, content)], as_=as_, **form)


def processes_listed(api) -> set[str]:
    response = api.get("/processes", as_=ADMIN)
    assert response.status_code == 200
    return {process["key"] for process in response.get_json()}


def create_handlers(api) -> str:
    """The group case_handlers (an admin creates it) with one member in DTU Kemi."""
    assert api.post("/modeler/groups", as_=ADMIN, json={"code": "case_handlers", "name": "Case handlers"}
                    ).status_code == 201
    handler = "mette"  # an employee of DTU Kemi
    assert api.post("/modeler/groups/case_handlers/members", as_=ADMIN, json={"username": handler}
                    ).status_code == 200
    return handler


def problems_of(response) -> list[dict]:
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "invalid_model"
    return error["problems"]


def test_an_owner_imports_the_zip_and_the_process_runs_as_the_cli_imported_one(api):
    handler = create_handlers(api)

    response = upload_zip(api, zipped(model_files()))

    assert response.status_code == 201, response.get_json()
    imported = response.get_json()
    assert (imported["key"], imported["name"], imported["version"]) == ("ohs_incident", "OHS incident", 1)
    assert imported["forms"] == ["report", "review"]
    assert imported["lanes"] == {"Process Initiator": None, "case_handlers": "case_handlers"}
    assert imported["files"] == sorted(model_files())
    versions = api.get("/modeler/processes/ohs_incident/versions", as_=OWNER).get_json()["versions"]
    assert [(v["version"], v["deployed_by"], v["change_note"]) for v in versions] == [
        (1, OWNER, "imported from SpiffArena (ohs-incident)")]

    starter = "anna"
    started = api.post("/cases", as_=starter, json={"process": "ohs_incident", "unit": "kemi", "data": {}})
    assert started.status_code == 201, started.get_json()
    [report] = [task for task in api.open_tasks(as_=starter) if task["case_id"] == started.get_json()["id"]]
    assert api.get(f"/tasks/{report['id']}", as_=starter).get_json()["form"]["name"] == "report"
    done = api.post(f"/tasks/{report['id']}/complete", as_=starter, json={"data": REPORT})
    assert done.status_code == 200, done.get_json()
    [review] = [task for task in api.open_tasks(as_=handler) if task["case_id"] == started.get_json()["id"]]
    assert (review["group"], review["unit"]) == ("case_handlers", "kemi")
    closed = api.post(f"/tasks/{review['id']}/complete", as_=handler,
                      json={"data": {"decision": "close", "note": "cleaned"}})
    assert closed.status_code == 200, closed.get_json()
    assert closed.get_json()["status"] == "completed"


def test_the_folders_files_import_too_with_a_lane_mapped_to_an_existing_group(api):
    files = [(name, content) for name, content in model_files().items()]

    response = upload(api, files, lanes='{"case_handlers": "amk"}', note="OHS incidents from SpiffArena")

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["lanes"] == {"Process Initiator": None, "case_handlers": "amk"}
    versions = api.get("/modeler/processes/ohs_incident/versions", as_=OWNER).get_json()["versions"]
    assert versions[0]["change_note"] == "OHS incidents from SpiffArena"


@pytest.mark.parametrize("who", ["anna", "karl", "ditte"])
def test_a_non_owner_gets_403_and_nothing_is_deployed(api, who):
    create_handlers(api)

    response = upload_zip(api, zipped(model_files()), as_=who)

    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"
    assert "ohs_incident" not in processes_listed(api)


def test_a_lane_naming_no_group_is_listed_as_a_missing_group_and_nothing_is_deployed(api):
    response = upload_zip(api, zipped(model_files()))

    problems = problems_of(response)
    assert response.get_json()["error"]["missing_groups"] == ["case_handlers"]
    assert [p for p in problems if "lane name 'case_handlers' is not a known group" in p["message"]], problems
    assert "ohs_incident" not in processes_listed(api)
    assert api.get("/modeler/groups", as_=ADMIN).get_json()["groups"] == [
        group for group in api.get("/modeler/groups", as_=ADMIN).get_json()["groups"]
        if group["code"] != "case_handlers"]  # not created silently


def test_missing_and_broken_files_are_each_named_at_once_with_the_missing_group(api):
    files = model_files(review_schema=None, report_uischema=b'{"description": {"ui:widget": "textarea"')

    response = upload_zip(api, zipped(files))

    problems = problems_of(response)
    messages = [p["message"] for p in problems]
    assert len(problems) == 3, messages
    assert [p for p in problems if "review-schema.json is missing" in p["message"] and p["element"] == "review"]
    assert [p for p in problems if "report-uischema.json: not JSON" in p["message"]], problems
    assert response.get_json()["error"]["missing_groups"] == ["case_handlers"]
    assert "ohs_incident" not in processes_listed(api)


def test_a_folder_without_process_model_json_or_bpmn_file_is_refused_naming_them(api):
    create_handlers(api)
    files = model_files(process_model=None)
    files.pop("ohs-incident.bpmn")

    problems = problems_of(upload(api, list(files.items())))

    assert any(p["file"] == "process_model.json" and "is missing" in p["message"] for p in problems), problems
    assert any("0 .bpmn files" in p["message"] for p in problems), problems
    assert "ohs_incident" not in processes_listed(api)


def test_a_file_that_is_no_zip_is_refused_naming_it(api):
    problems = problems_of(upload_zip(api, b"PK\x03\x04 not really a zip", name="model.zip"))

    assert [(p["file"], "not a zip file" in p["message"]) for p in problems] == [("model.zip", True)]


@pytest.mark.parametrize("evil", ["../escaped.json", "ohs-incident/../../escaped.json", "/etc/escaped.json",
                                  "..\\escaped.json", "C:/escaped.json"])
def test_a_zip_with_a_path_out_of_the_folder_is_refused_and_nothing_is_deployed(api, evil, tmp_path):
    create_handlers(api)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as writer:
        for name, content in model_files().items():
            writer.writestr(name, content)
        writer.writestr(evil, b"{}")

    problems = problems_of(upload_zip(api, archive.getvalue()))

    assert [p for p in problems if p["file"] == evil and "leaves the model folder" in p["message"]], problems
    assert "ohs_incident" not in processes_listed(api)


def test_sub_folders_and_a_zip_beside_other_files_are_refused(api):
    sub = zipped({**model_files(), "extra/notes.json": b"{}"}, folder=None)
    assert [p for p in problems_of(upload_zip(api, sub)) if p["file"] == "extra/notes.json"]

    both = upload(api, [("ohs.zip", zipped(model_files())), ("notes.json", b"{}")])
    assert [p["file"] for p in problems_of(both)] == ["ohs.zip"]


def test_too_many_files_or_bytes_unpacked_are_refused_before_reading(api):
    many = zipped({f"file{number}.json": b"{}" for number in range(51)})
    assert "holds 51 files, a model folder at most 50" in problems_of(upload_zip(api, many))[0]["message"]

    bomb = zipped({**model_files(), "padding.json": b" " * (5 * 1024 * 1024)})  # a few KB packed
    assert len(bomb) < 100_000
    assert "unpacks to" in problems_of(upload_zip(api, bomb))[0]["message"]


@pytest.mark.parametrize("app_config", [{"MAX_CONTENT_LENGTH": 50_000}])
def test_a_body_past_the_request_limit_is_413(api):
    response = upload(api, [("big.zip", b"x" * 60_000)])

    assert response.status_code == 413
    assert "error" in response.get_json()


def test_no_files_or_an_unknown_field_is_400_a_bad_mapping_422(api):
    nothing = api.post("/modeler/imports", as_=OWNER, data={}, content_type="multipart/form-data")
    assert nothing.status_code == 400 and set(nothing.get_json()["error"]["fields"]) == {"files"}

    typo = upload(api, list(model_files().items()), lane="x")
    assert typo.status_code == 400 and set(typo.get_json()["error"]["fields"]) == {"lane"}

    mapping = upload(api, list(model_files().items()), lanes='["case_handlers"]')
    assert mapping.status_code == 422 and set(mapping.get_json()["error"]["fields"]) == {"lanes"}
