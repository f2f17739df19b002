"""The modeler's pages (issue #18) through the Flask client: who may open them, the process list with its
versions, validate / deploy from the editor's JSON routes, diff, migrate, a form's live preview and save,
a parameter's new value, and the groups page."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest

import processes
from processes import modeler

OWNER = "owen"
ADMIN = "admin"
PROCESS = "lone_work_approval"
EXTRA_TASK = ('<bpmn:userTask id="extra_check" name="Extra check"><bpmn:extensionElements><spiffworkflow:properties>'
              '<spiffworkflow:property name="form" value="free_note" /></spiffworkflow:properties>'
              '</bpmn:extensionElements></bpmn:userTask>')

PAGES = [
    ("GET", "/modeler/"),
    ("GET", f"/modeler/edit/{PROCESS}?version=1"),
    ("GET", f"/modeler/processes/{PROCESS}/versions/1.bpmn"),
    ("GET", "/modeler/blank/new_one.bpmn"),
    ("GET", f"/modeler/drafts/{PROCESS}.bpmn"),
    ("POST", "/modeler/new"),
    ("POST", "/modeler/validate.json"),
    ("POST", "/modeler/drafts.json"),
    ("POST", "/modeler/deploy.json"),
    ("POST", "/modeler/groups.json"),
    ("GET", f"/modeler/processes/{PROCESS}/diff?from=1&to=1"),
    ("POST", f"/modeler/processes/{PROCESS}/rollback"),
    ("GET", f"/modeler/processes/{PROCESS}/migrate?from=1&to=2"),
    ("POST", f"/modeler/processes/{PROCESS}/migrate"),
    ("GET", f"/modeler/processes/{PROCESS}/forms"),
    ("GET", f"/modeler/processes/{PROCESS}/forms/free_note"),
    ("POST", f"/modeler/processes/{PROCESS}/forms/free_note"),
    ("POST", f"/modeler/processes/{PROCESS}/forms/free_note/preview.json"),
    ("GET", f"/modeler/processes/{PROCESS}/parameters"),
    ("POST", f"/modeler/processes/{PROCESS}/parameters"),
    ("GET", "/modeler/groups"),
    ("POST", "/modeler/groups"),
    ("POST", "/modeler/groups/amk/members"),
    ("POST", "/modeler/imports"),
]


def version_xml(browser, version: int = 1) -> str:
    response = browser.client.get(f"/modeler/processes/{PROCESS}/versions/{version}.bpmn")
    assert response.status_code == 200
    return response.text


def with_extra_task(xml: str, *, leaders_lane: str = "leaders") -> str:
    """Version 1 with a user task in the amk lane (and the leaders' lane renamed, if asked)."""
    xml = xml.replace('<bpmn:lane id="lane_amk" name="amk">',
                      '<bpmn:lane id="lane_amk" name="amk"><bpmn:flowNodeRef>extra_check</bpmn:flowNodeRef>', 1)
    xml = xml.replace('name="leaders"', f'name="{leaders_lane}"', 1)
    return xml.replace("</bpmn:process>", EXTRA_TASK + "</bpmn:process>", 1)


def post_json(browser, path: str, body: dict):
    return browser.client.post(path, json=body, headers={"X-CSRFToken": browser.csrf_token()})


def test_every_modeler_page_is_in_the_matrix(app):
    routes = {(method, rule.rule) for rule in app.url_map.iter_rules() if rule.endpoint.startswith("modeler_pages.")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert len(routes) == len(PAGES)


@pytest.mark.parametrize("method,path", PAGES, ids=[f"{m} {p}" for m, p in PAGES])
@pytest.mark.parametrize("who", ["anna", "karl"])
def test_a_non_owner_gets_403_on_every_modeler_page(browser, method, path, who):
    browser.login(who)
    if method == "GET":
        response = browser.client.get(path)
    else:
        response = browser.client.post(path, data={"csrf_token": browser.csrf_token()},
                                       headers={"X-CSRFToken": browser.csrf_token()})
    assert response.status_code == 403, response.text[:300]


def test_an_anonymous_visitor_is_sent_to_log_in(browser):
    response = browser.client.get("/modeler/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_process_list_shows_each_version_with_who_when_its_note_and_running_cases(browser, start_case):
    start_case("kemi", count=2)
    browser.login(OWNER)

    page = browser.client.get("/modeler/")

    assert page.status_code == 200
    row = page.text.split(f'data-process="{PROCESS}"')[1].split("</tr>")[1]
    assert '<td data-running>2</td>' in row
    assert "/modeler/edit/lone_work_approval?version=1" in page.text


def test_the_editor_page_carries_the_diagram_source_the_lane_groups_forms_and_rule_sets(browser):
    browser.login(OWNER)

    page = browser.client.get(f"/modeler/edit/{PROCESS}?version=1")

    assert page.status_code == 200
    assert f'data-source="/modeler/processes/{PROCESS}/versions/1.bpmn"' in page.text
    assert "free_note" in page.text and "amk" in page.text and "lone_work" in page.text
    assert "bpmn-modeler.production.min.js" in page.text and "js/modeler.js" in page.text


def test_validate_reports_every_problem_by_element_and_the_lane_naming_no_group(browser):
    browser.login(OWNER)
    xml = with_extra_task(version_xml(browser), leaders_lane="safety_board").replace(
        'value="free_note"', 'value="no_such_form"')

    answer = post_json(browser, "/modeler/validate.json", {"bpmn": xml, "lanes": {}})

    assert answer.status_code == 200
    result = answer.get_json()
    assert result["ok"] is False
    assert {"lane_leaders", "extra_check"} <= {p["element"] for p in result["problems"]}, result["problems"]
    assert result["unknown_lanes"] == ["safety_board"]


@pytest.mark.skipif(shutil.which("node") is None or not (modeler.WEB_TOOLS / "node_modules" / "bpmnlint").is_dir(),
                    reason="bpmnlint runs only where node and web/node_modules are installed (npm ci in web/)")
def test_validate_adds_bpmnlints_recommended_rules_as_advice(browser):
    browser.login(OWNER)
    xml = with_extra_task(version_xml(browser))

    result = post_json(browser, "/modeler/validate.json", {"bpmn": xml}).get_json()

    assert result["ok"] is True  # advice never blocks a deploy
    assert any(item["element"] == "extra_check" and item["rule"] == "no-disconnected" for item in result["lint"])


def test_a_bad_editor_request_is_a_json_error_naming_the_field(browser):
    browser.login(OWNER)
    answer = post_json(browser, "/modeler/validate.json", {"lanes": {}})
    assert answer.status_code == 422
    assert answer.get_json()["error"]["fields"] == {"bpmn": "the BPMN XML is missing"}


def test_deploy_needs_a_note_then_adds_version_2_and_the_diff_lists_the_added_task(browser):
    browser.login(OWNER)
    xml = with_extra_task(version_xml(browser))

    refused = post_json(browser, "/modeler/deploy.json", {"bpmn": xml})
    assert refused.status_code == 422 and "note" in refused.get_json()["error"]["fields"]
    deployed = post_json(browser, "/modeler/deploy.json", {"bpmn": xml, "note": "an extra check"})
    assert deployed.status_code == 201, deployed.get_json()
    assert deployed.get_json()["version"] == 2

    listing = browser.client.get("/modeler/").text
    assert "an extra check" in listing
    diff = browser.client.get(f"/modeler/processes/{PROCESS}/diff?from=1&to=2")
    assert diff.status_code == 200
    added = diff.text.split('data-kind="added"')[1].split("</ul>")[0]
    assert 'data-element="extra_check"' in added


def test_a_refused_deploy_answers_every_problem_with_its_element(browser):
    browser.login(OWNER)
    xml = with_extra_task(version_xml(browser), leaders_lane="safety_board")

    refused = post_json(browser, "/modeler/deploy.json", {"bpmn": xml, "note": "n"})

    assert refused.status_code == 422
    assert "lane_leaders" in {p["element"] for p in refused.get_json()["error"]["problems"]}


def test_the_dry_run_lists_the_old_case_as_movable_and_the_migration_moves_it(browser, start_case, database):
    task = start_case("kemi")[0]
    browser.login(OWNER)
    post_json(browser, "/modeler/deploy.json", {"bpmn": with_extra_task(version_xml(browser)), "note": "v2"})

    dry = browser.client.get(f"/modeler/processes/{PROCESS}/migrate?from=1&to=2")
    assert dry.status_code == 200
    assert f'data-case="{task.case_id}" data-movable="true"' in dry.text
    moved = browser.post(f"/modeler/processes/{PROCESS}/migrate", {"from": 1, "to": 2})
    assert moved.status_code == 200
    assert 'data-moved="true"' in moved.text
    assert modeler.list_versions(database, _owner(database), PROCESS)[0].running_cases == 1


def _owner(database):
    return processes.get_user(database, OWNER)


def test_roll_back_from_the_list_deploys_the_old_version_again(browser):
    browser.login(OWNER)
    post_json(browser, "/modeler/deploy.json", {"bpmn": with_extra_task(version_xml(browser)), "note": "v2"})

    response = browser.post(f"/modeler/processes/{PROCESS}/rollback", {"version": 1}, follow_redirects=True)

    assert response.status_code == 200
    assert version_xml(browser, 3) == version_xml(browser, 1)


def test_the_form_preview_draws_the_form_as_the_task_page_and_refuses_an_invalid_schema(browser):
    browser.login(OWNER)
    schema = {"type": "object", "title": "Note", "properties": {"remark": {"type": "string", "title": "Remark"}}}

    good = post_json(browser, f"/modeler/processes/{PROCESS}/forms/free_note/preview.json", {"schema": schema})
    bad = post_json(browser, f"/modeler/processes/{PROCESS}/forms/free_note/preview.json",
                    {"schema": {"type": "object", "properties": {"x": {"type": "no-such-type"}}}})

    assert good.status_code == 200 and 'id="f-remark"' in good.get_json()["html"]
    assert bad.status_code == 422 and "schema" in bad.get_json()["error"]["fields"]


def test_saving_a_form_checks_it_first_then_deploys_a_new_version(browser):
    browser.login(OWNER)
    path = f"/modeler/processes/{PROCESS}/forms/lone_work_instruction"
    page = browser.client.get(path)
    assert page.status_code == 200 and 'data-testid="form-preview"' in page.text

    invalid = browser.post(path, {"schema": "{not json", "ui": "{}", "note": "n"})
    assert invalid.status_code == 422 and 'data-testid="form-error"' in invalid.text
    schema = {"type": "object", "properties": {"remark": {"type": "string", "title": "Remark"}}}
    saved = browser.post(path, {"schema": json.dumps(schema), "ui": "{}", "note": "a remark field"})
    assert saved.status_code == 303
    assert "a remark field" in browser.client.get("/modeler/").text


def test_a_parameter_gets_a_new_value_from_a_date(browser):
    browser.login(OWNER)
    page = browser.client.get(f"/modeler/processes/{PROCESS}/parameters")
    assert page.status_code == 200
    name = page.text.split('data-parameter="')[1].split('"')[0]

    saved = browser.post(f"/modeler/processes/{PROCESS}/parameters",
                         {"parameter": name, "value": "7", "valid_from": "2031-01-01", "note": "from 2031"})

    assert saved.status_code == 303
    after = browser.client.get(f"/modeler/processes/{PROCESS}/parameters").text
    section = after.split(f'data-parameter="{name}"')[1].split("</section>")[0]
    assert "2031-01-01" in section and "<code>7</code>" in section


def test_an_admin_creates_a_group_and_adds_and_removes_a_member_and_an_owner_may_not(browser):
    browser.login(OWNER)
    assert browser.client.get("/modeler/groups").status_code == 403
    browser.login(ADMIN)

    assert browser.post("/modeler/groups", {"code": "lab-safety", "name": "Lab safety"}).status_code == 303
    assert browser.post("/modeler/groups/lab-safety/members", {"username": "anna"}).status_code == 303
    page = browser.client.get("/modeler/groups").text
    assert 'data-member="anna"' in page.split('data-group="lab-safety"')[1].split("</section>")[0]
    browser.post("/modeler/groups/lab-safety/members", {"username": "anna", "member": "0"})
    page = browser.client.get("/modeler/groups").text
    assert 'data-member="anna"' not in page.split('data-group="lab-safety"')[1].split("</section>")[0]


def test_an_admin_creates_a_lanes_group_from_the_editor(browser):
    browser.login(ADMIN)
    created = post_json(browser, "/modeler/groups.json", {"code": "safety_board", "name": "safety_board"})
    assert created.status_code == 201
    xml = with_extra_task(version_xml(browser), leaders_lane="safety_board")
    assert post_json(browser, "/modeler/validate.json", {"bpmn": xml}).get_json()["ok"] is True


@pytest.mark.parametrize("language,words", [
    ("en", ["Running cases", "Change note", "New process"]),
    ("da", ["Kørende sager", "Ændringsnote", "Ny proces"]),
])
def test_the_modeler_and_its_panel_speak_the_chosen_language(browser, language, words):
    browser.login(OWNER)
    browser.post("/language", {"lang": language})

    listing = browser.client.get("/modeler/").text
    editor = browser.client.get(f"/modeler/edit/{PROCESS}?version=1").text

    assert all(word in listing for word in words)
    panel = {"en": ["Group of the lane", "Due in working days (expression)", "Validate"],
             "da": ["Banens gruppe", "Forfald i arbejdsdage (udtryk)", "Validér"]}[language]
    assert all(word in editor for word in panel), editor


# --- importing a SpiffArena model folder -------------------------------------------------------------------------

SPIFFARENA_MODEL = Path(__file__).parents[1] / "processes" / "spiffarena" / "ohs-incident"


def spiffarena_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(SPIFFARENA_MODEL.iterdir()):
            archive.write(file, f"ohs-incident/{file.name}")
    return buffer.getvalue()


def import_page(browser, files: list[tuple[str, bytes]]):
    data = {"csrf_token": browser.csrf_token(), "files": [(io.BytesIO(content), name) for name, content in files]}
    return browser.client.post("/modeler/imports", data=data, content_type="multipart/form-data")


def test_the_import_lists_every_problem_and_the_missing_group_then_imports_once_it_exists(browser, database):
    browser.login(OWNER)
    browser.in_english()
    assert 'data-testid="import-form"' in browser.client.get("/modeler/").text

    refused = import_page(browser, [("ohs-incident.zip", spiffarena_zip())])
    assert refused.status_code == 422
    assert 'data-group="case_handlers"' in refused.text
    assert "lane name &#39;case_handlers&#39; is not a known group" in refused.text
    assert "ohs_incident" not in {view.key for view in processes.list_processes(database)}

    processes.add_group(database, "case_handlers", name="Case handlers", actor=None)  # as an admin would
    files = [(file.name, file.read_bytes()) for file in sorted(SPIFFARENA_MODEL.iterdir())]
    imported = import_page(browser, files)
    assert imported.status_code == 200, imported.text[:500]
    assert 'data-testid="import-result" data-process="ohs_incident" data-version="1"' in " ".join(imported.text.split())
    assert "OHS incident (ohs_incident) is imported as version 1." in imported.text
    assert 'data-process="ohs_incident"' in imported.text.split('data-testid="import-result"', 1)[1]
    assert "report, review" in imported.text


def test_an_empty_import_form_is_one_problem_not_an_error_page(browser):
    browser.login(OWNER)
    response = import_page(browser, [("", b"")])
    assert response.status_code == 422
    assert 'data-testid="import-problems"' in response.text
