"""The process owners' modeler API (issue #18): access, validation by element, deploys with a note, versions
with their running cases, diff, roll back, migrating running cases, forms and parameters as new versions,
groups, and `amflow export`'s use case."""

from __future__ import annotations

import itertools
import json

import pytest

from processes import modeler
from processes.bundles import BUNDLES
from processes.deployments import SPEC_CACHE

KEY = "modeler_test"
OWNER = "owen"
EMPLOYEE = "anna"
ADMIN = "admin"


def diagram(*, lane: str = "employees", extra_task: bool = False, drop_confirm: bool = False,
            rule_task: bool = False) -> str:
    """start -> [decide] -> confirm -> [check] -> end, all in one lane."""
    nodes = ["start", *(["decide"] if rule_task else []), *([] if drop_confirm else ["confirm"]),
             *(["check"] if extra_task else []), "end"]
    refs = "".join(f"<bpmn:flowNodeRef>{n}</bpmn:flowNodeRef>" for n in nodes)
    elements = {
        "start": '<bpmn:startEvent id="start" />',
        "decide": '<bpmn:businessRuleTask id="decide" name="Decide"><bpmn:extensionElements>'
                  '<spiffworkflow:calledDecisionId>accident_report</spiffworkflow:calledDecisionId>'
                  '</bpmn:extensionElements></bpmn:businessRuleTask>',
        "confirm": '<bpmn:userTask id="confirm" name="Confirm"><bpmn:extensionElements><spiffworkflow:properties>'
                   '<spiffworkflow:property name="form" value="free_note" /></spiffworkflow:properties>'
                   '</bpmn:extensionElements></bpmn:userTask>',
        "check": '<bpmn:userTask id="check" name="Check"><bpmn:extensionElements><spiffworkflow:properties>'
                 '<spiffworkflow:property name="form" value="free_note" /></spiffworkflow:properties>'
                 '</bpmn:extensionElements></bpmn:userTask>',
        "end": '<bpmn:endEvent id="end" />',
    }
    flows = "".join(f'<bpmn:sequenceFlow id="f_{a}_{b}" sourceRef="{a}" targetRef="{b}" />'
                    for a, b in itertools.pairwise(nodes))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
 xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs" targetNamespace="http://x">
  <bpmn:process id="{KEY}" name="Modeler test" isExecutable="true">
    <bpmn:laneSet id="lanes"><bpmn:lane id="lane_one" name="{lane}">{refs}</bpmn:lane></bpmn:laneSet>
    {"".join(elements[n] for n in nodes)}
    {flows}
  </bpmn:process>
</bpmn:definitions>"""


def deploy(api, xml: str, note: str = "a change", lanes=None, as_: str = OWNER):
    return api.post("/modeler/deploy", as_=as_, json={"bpmn": xml, "note": note, "lanes": lanes})


def start(api, auth, data=None) -> dict:
    employee = auth.user(group="employees", unit="kemi", not_group="amk")
    response = api.post("/cases", as_=employee, json={"process": KEY, "unit": "kemi", "data": data or {}})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


# --- access -----------------------------------------------------------------------------------------------

ROUTES = [
    ("GET", "/modeler/processes", None),
    ("GET", "/modeler/processes/lone_work_approval/versions", None),
    ("GET", "/modeler/processes/lone_work_approval/versions/1", None),
    ("POST", "/modeler/validate", {"bpmn": "<x/>"}),
    ("POST", "/modeler/drafts", {"bpmn": "<x/>"}),
    ("GET", "/modeler/drafts/lone_work_approval", None),
    ("POST", "/modeler/deploy", {"bpmn": "<x/>", "note": "n"}),
    ("GET", "/modeler/processes/lone_work_approval/diff?from=1&to=1", None),
    ("POST", "/modeler/processes/lone_work_approval/rollback", {"version": 1}),
    ("POST", "/modeler/processes/lone_work_approval/migrations", {"from": 1, "to": 2}),
    ("GET", "/modeler/processes/lone_work_approval/documents", None),
    ("PUT", "/modeler/processes/lone_work_approval/forms/free_note", {"schema": {}, "note": "n"}),
    ("POST", "/modeler/processes/lone_work_approval/parameters",
     {"parameter": "p", "value": 1, "valid_from": "2027-01-01", "note": "n"}),
    ("POST", "/modeler/imports", None),  # a SpiffArena model folder (multipart; tests/api/test_modeler_import.py)
    ("GET", "/modeler/groups", None),
    ("POST", "/modeler/groups", {"code": "new-group"}),
    ("POST", "/modeler/groups/amk/members", {"username": "anna"}),
    ("GET", "/modeler/blank?key=new_one", None),
]


def test_every_modeler_route_is_in_the_matrix(app):
    routes = {(m, r.rule) for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1/modeler")
              for m in r.methods - {"HEAD", "OPTIONS"}}
    assert len(routes) == len(ROUTES)


@pytest.mark.parametrize("method,path,body", ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
@pytest.mark.parametrize("who", ["anna", "karl", "ditte"])
def test_a_non_owner_gets_403_on_every_modeler_route(api, method, path, body, who):
    response = api.call(method, path, as_=who, json=body)

    assert response.status_code == 403, (who, response.get_json())
    assert response.get_json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize("method,path,body", ROUTES[:2] + ROUTES[-4:-3] + ROUTES[-1:])
@pytest.mark.parametrize("who", [OWNER, ADMIN])
def test_owners_and_admins_read_the_modeler(api, method, path, body, who):
    assert api.call(method, path, as_=who, json=body).status_code == 200


def test_only_admins_create_groups(api):
    assert api.post("/modeler/groups", as_=OWNER, json={"code": "lab-safety"}).status_code == 403
    created = api.post("/modeler/groups", as_=ADMIN, json={"code": "lab-safety", "name": "Lab safety"})
    assert created.status_code == 201
    member = api.post("/modeler/groups/lab-safety/members", as_=ADMIN, json={"username": "anna"})
    assert member.get_json()["members"] == ["anna"]


# --- validate ---------------------------------------------------------------------------------------------

def test_validation_lists_every_problem_with_its_element_and_the_unknown_lanes(api):
    xml = diagram(lane="lab-safety").replace('value="free_note"', 'value="no_such_form"')

    response = api.post("/modeler/validate", as_=OWNER, json={"bpmn": xml})

    assert response.status_code == 200
    result = response.get_json()
    assert result["ok"] is False
    elements = {problem["element"] for problem in result["problems"]}
    assert {"lane_one", "confirm"} <= elements, result["problems"]
    assert result["unknown_lanes"] == ["lab-safety"]


def test_an_unknown_lane_mapped_to_a_group_or_created_as_one_validates(api):
    xml = diagram(lane="Lab safety team")
    assert api.post("/modeler/validate", as_=OWNER, json={"bpmn": xml}).get_json()["ok"] is False

    mapped = api.post("/modeler/validate", as_=OWNER, json={"bpmn": xml, "lanes": {"Lab safety team": "amk"}})
    answer = mapped.get_json()
    answer.pop("lint")  # bpmnlint's advice when node is installed (tests/web/test_modeler_pages.py)
    assert answer == {"ok": True, "process": KEY, "problems": [], "unknown_lanes": []}


def test_a_diagram_that_is_no_xml_is_one_problem_not_a_500(api):
    result = api.post("/modeler/validate", as_=OWNER, json={"bpmn": "<not xml"}).get_json()
    assert result["ok"] is False and len(result["problems"]) == 1


# --- deploy, versions, diff, roll back --------------------------------------------------------------------

def test_deploy_needs_a_note_and_refuses_a_broken_diagram_changing_nothing(api):
    no_note = api.post("/modeler/deploy", as_=OWNER, json={"bpmn": diagram()})
    assert no_note.status_code == 422 and "note" in no_note.get_json()["error"]["fields"]
    broken = deploy(api, diagram(lane="nobody"))
    assert broken.status_code == 422
    assert api.get(f"/modeler/processes/{KEY}/versions", as_=OWNER).status_code == 404


def test_versions_show_who_deployed_when_with_the_note_and_the_cases_running_on_each(api, auth):
    assert deploy(api, diagram(), note="first").status_code == 201
    start(api, auth)
    start(api, auth)
    second = deploy(api, diagram(extra_task=True), note="a check after confirming")
    assert second.status_code == 201, second.get_json()
    start(api, auth)

    versions = api.get(f"/modeler/processes/{KEY}/versions", as_=OWNER).get_json()["versions"]

    assert [(v["version"], v["deployed_by"], v["change_note"], v["running_cases"]) for v in versions] == [
        (2, OWNER, "a check after confirming", 1), (1, OWNER, "first", 2)]
    assert all(v["deployed_at"] for v in versions)


def test_the_diff_lists_elements_added_removed_and_changed_by_id(api):
    deploy(api, diagram(), note="first")
    deploy(api, diagram(extra_task=True), note="second")

    diff = api.get(f"/modeler/processes/{KEY}/diff", as_=OWNER, query_string={"from": 1, "to": 2}).get_json()

    assert [a["id"] for a in diff["added"]] == ["check", "f_check_end", "f_confirm_check"]
    assert [r["id"] for r in diff["removed"]] == ["f_confirm_end"]
    assert "lane_one" in [c["id"] for c in diff["changed"]]


def test_roll_back_deploys_the_older_version_again_as_the_newest(api, auth):
    deploy(api, diagram(), note="first")
    deploy(api, diagram(extra_task=True), note="second")

    response = api.post(f"/modeler/processes/{KEY}/rollback", as_=OWNER, json={"version": 1})

    assert response.status_code == 201
    assert response.get_json()["version"] == 3
    v1 = api.get(f"/modeler/processes/{KEY}/versions/1", as_=OWNER).get_json()["bpmn"]
    v3 = api.get(f"/modeler/processes/{KEY}/versions/3", as_=OWNER).get_json()["bpmn"]
    assert v1 == v3
    case = start(api, auth)
    assert case["version"] == 3


def test_a_draft_is_kept_and_goes_when_deployed(api):
    saved = api.post("/modeler/drafts", as_=OWNER, json={"bpmn": diagram(), "based_on": None})
    assert saved.status_code == 200
    assert api.get(f"/modeler/drafts/{KEY}", as_=OWNER).get_json()["bpmn_xml"].startswith("<?xml")
    deploy(api, diagram())
    assert api.get(f"/modeler/drafts/{KEY}", as_=OWNER).status_code == 404


def test_a_blank_diagram_deploys_as_a_new_process(api):
    xml = api.get("/modeler/blank", as_=OWNER, query_string={"key": "brand_new", "name": "Brand new"}).get_json()
    response = api.post("/modeler/deploy", as_=OWNER, json={"bpmn": xml["bpmn"], "note": "new"})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["key"] == "brand_new"


# --- migrate ------------------------------------------------------------------------------------------------

def _migrate(api, old: int, new: int, *, dry_run: bool):
    response = api.post(f"/modeler/processes/{KEY}/migrations", as_=OWNER,
                        json={"from": old, "to": new, "dry_run": dry_run})
    assert response.status_code == 200, response.get_json()
    return {case["case_id"]: case for case in response.get_json()["cases"]}


def test_a_dry_run_lists_who_can_move_and_the_migration_moves_them_across_a_restart(api, auth, database):
    deploy(api, diagram(), note="first")
    old_case = start(api, auth)
    deploy(api, diagram(extra_task=True), note="a check after confirming")

    plan = _migrate(api, 1, 2, dry_run=True)
    assert plan[old_case["id"]]["movable"] is True and plan[old_case["id"]]["moved"] is False
    assert api.get(f"/cases/{old_case['id']}", as_=EMPLOYEE).get_json()["version"] == 1

    moved = _migrate(api, 1, 2, dry_run=False)
    assert moved[old_case["id"]]["moved"] is True
    SPEC_CACHE.clear()  # as after a restart: the versions are parsed again from the database
    BUNDLES.clear()

    employee = auth.user(group="employees", unit="kemi", not_group="amk")
    task = old_case["tasks"][0]
    done = api.post(f"/tasks/{task['id']}/complete", as_=employee, json={"data": {"note": "ok"}})
    assert done.status_code == 200, done.get_json()
    case = done.get_json()
    assert case["version"] == 2
    assert [t["name"] for t in case["tasks"]] == ["check"]  # the new version's path
    history = api.get(f"/cases/{old_case['id']}/history", as_=employee).get_json()["items"]
    migrated = [e for e in history if e["kind"] == "case_migrated"]
    assert migrated and migrated[0]["actor"] == OWNER and migrated[0]["detail"]["to"] == 2


def test_a_case_waiting_in_a_task_the_new_version_lacks_cannot_move(api, auth):
    deploy(api, diagram(), note="first")
    old_case = start(api, auth)
    deploy(api, diagram(drop_confirm=True, extra_task=True), note="confirm replaced")

    plan = _migrate(api, 1, 2, dry_run=False)

    assert plan[old_case["id"]]["movable"] is False
    assert plan[old_case["id"]]["reasons"] == ["waiting task confirm is not in the new version"]
    assert api.get(f"/cases/{old_case['id']}", as_=EMPLOYEE).get_json()["version"] == 1


# --- forms and rule data ----------------------------------------------------------------------------------

def test_a_form_schema_is_checked_as_json_schema_and_saved_as_a_new_version(api, auth):
    deploy(api, diagram(), note="first")
    old_case = start(api, auth)
    bad = api.call("PUT", f"/modeler/processes/{KEY}/forms/free_note", as_=OWNER,
                  json={"schema": {"type": "no-such-type"}, "note": "broken"})
    assert bad.status_code == 422 and "schema" in bad.get_json()["error"]["fields"]

    schema = {"type": "object", "required": ["note", "room"], "properties": {
        "note": {"type": "string", "title": "Note"}, "room": {"type": "string", "title": "Lokale"}}}
    changed = api.call("PUT", f"/modeler/processes/{KEY}/forms/free_note", as_=OWNER,
                      json={"schema": schema, "note": "the room is asked for"})

    assert changed.status_code == 201, changed.get_json()
    assert changed.get_json()["version"] == 2
    employee = auth.user(group="employees", unit="kemi", not_group="amk")
    new_task = start(api, auth)["tasks"][0]
    refused = api.post(f"/tasks/{new_task['id']}/complete", as_=employee, json={"data": {"note": "x"}})
    assert refused.status_code == 422 and "room" in refused.get_json()["error"]["fields"]
    old_task = old_case["tasks"][0]  # version 1 keeps its own form
    assert api.post(f"/tasks/{old_task['id']}/complete", as_=employee,
                    json={"data": {"note": "x"}}).status_code == 200


ACCIDENT = {
    "personal_injury": True, "exposure": "sudden", "absence_days_beyond_injury_day": 4,
    "injury_time": "10:00", "event_type": "physical_violence", "perpetrator": "colleague",
    "perpetrator_is_nearest_leader": False,
    "outside_working_hours": False, "work_related": True, "near_miss": False, "fatal": False,
}
AES_THRESHOLD = "accident.report.absence_threshold_days.ASL"


def _decision(api, auth, injury: str) -> dict:
    day = injury[:8] + f"{int(injury[8:]) + 1:02d}"
    case = start(api, auth, {**ACCIDENT, "injury_date": injury, "first_absence_day": day})
    return case["decisions"][0]


def test_a_new_aes_threshold_from_a_date_changes_decisions_for_events_after_that_date_only(api, auth):
    deploy(api, diagram(rule_task=True), note="first")
    before_change = _decision(api, auth, "2027-03-10")
    assert before_change["parameters"][AES_THRESHOLD] == 3

    response = api.post(f"/modeler/processes/{KEY}/parameters", as_=OWNER, json={
        "parameter": AES_THRESHOLD, "value": 5, "valid_from": "2027-03-01", "note": "threshold raised"})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["version"] == 2

    after = _decision(api, auth, "2027-03-10")
    earlier_event = _decision(api, auth, "2027-02-10")
    assert after["parameters"][AES_THRESHOLD] == 5
    assert earlier_event["parameters"][AES_THRESHOLD] == 3
    def aes(decision: dict) -> tuple:
        return tuple(decision["decision"][key] for key in ("report_to_aes", "aes_deadline_from", "aes_deadline_days"))

    assert aes(earlier_event) == aes(before_change) == (True, "first_absence_day", 14)
    assert aes(after) != aes(before_change)
    documents = api.get(f"/modeler/processes/{KEY}/documents", as_=OWNER).get_json()
    assert documents["parameters"][AES_THRESHOLD][-1]["valid_from"] == "2027-03-01"


def test_an_unknown_parameter_or_date_is_422_or_404_and_changes_nothing(api):
    deploy(api, diagram(rule_task=True), note="first")
    body = {"parameter": AES_THRESHOLD, "value": 5, "valid_from": "next week", "note": "x"}
    assert api.post(f"/modeler/processes/{KEY}/parameters", as_=OWNER, json=body).status_code == 422
    body = {**body, "parameter": "no.such.parameter", "valid_from": "2027-01-01"}
    assert api.post(f"/modeler/processes/{KEY}/parameters", as_=OWNER, json=body).status_code == 404
    versions = api.get(f"/modeler/processes/{KEY}/versions", as_=OWNER).get_json()["versions"]
    assert len(versions) == 1


# --- export -----------------------------------------------------------------------------------------------

def test_export_writes_the_newest_versions_back_to_files(api, database, tmp_path):
    deploy(api, diagram(), note="first")
    deploy(api, diagram(extra_task=True), note="second")

    modeler.export(database, tmp_path)

    assert 'id="check"' in (tmp_path / f"{KEY}.bpmn").read_text()
    assert json.loads((tmp_path / "forms" / "free_note.schema.json").read_text())["type"] == "object"
    assert (tmp_path / "lone_work_approval.bpmn").is_file()



@pytest.mark.parametrize(("method", "path", "body", "field"), [
    ("GET", "/modeler/blank?key=Bad-Key", None, "key"),  # the key pattern is the document's, not only the code's
    ("POST", "/modeler/deploy", {"bpmn": "<x/>", "note": " \t\u3000"}, "note"),  # white space says nothing
    ("POST", "/modeler/validate", {"bpmn": "<x/>", "based_on": 1.5}, "based_on"),  # a version is an integer
    ("POST", "/modeler/processes/lone_work_approval/rollback", {"version": 2**40}, "version"),  # past any version
    ("POST", "/modeler/processes/lone_work_approval/parameters",
     {"parameter": "p", "value": 1, "valid_from": "soon", "note": "n"}, "valid_from"),  # a date, by the schema
    ("POST", "/modeler/groups", {"code": "0"}, "code"),
])
def test_what_the_document_forbids_is_refused_by_the_schema_naming_the_field(api, method, path, body, field):
    refused = api.call(method, path, as_="admin", json=body)
    assert refused.status_code in (400, 422)
    error = refused.get_json()["error"]
    assert error["code"] in ("invalid_query", "invalid_data") and field in error["fields"]
    assert error["message"] in ("Invalid query parameters.", "The request has invalid fields.")  # the schema's
