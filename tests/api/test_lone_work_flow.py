"""The lone-work approval process (alenearbejde, BEK 1839/2023 § 11) driven end to end over HTTP."""

from __future__ import annotations

import pytest

from tests.samples import G2_APPROVAL as LEADER_APPROVAL

PROCESS = "lone_work_approval"


def _start(api, applicant, data):
    response = api.post("/cases", as_=applicant, json={"process": PROCESS, "unit": "kemi", "data": data})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _the_one_task(tasks, group):
    matching = [task for task in tasks if task["group"] == group]
    assert len(matching) == 1, tasks
    return matching[0]


AMK_REVIEW = {
    "risk_assessment": [
        {
            "hazard": "Fire from flammable solvent",
            "consequence": "Burns with nobody near to help",
            "measure": "Check-in calls every 30 minutes and a man-down alarm",
            "residual_risk": "low",
        }
    ],
    "mitigations_adequate": True,
    "amr_consulted": True,
    "amr_consulted_date": "2026-08-20",
}



def test_a_g2_application_is_reviewed_by_the_amk_approved_by_the_leader_and_completed(
    api, people, lone_work_application
):
    applicant, amk, leader = people["applicant"], people["kemi_amk"], people["kemi_leader"]

    started = _start(api, applicant, lone_work_application())
    assert started["status"] == "running"
    assert started["process"] == PROCESS
    assert started["unit"] == "kemi"
    assert started["version"] >= 1
    review = _the_one_task(started["tasks"], "amk")
    assert review["unit"] == "kemi"
    assert review["status"] == "ready"
    assert review["name"] == "amk_review"
    assert review["case_id"] == started["id"]

    queue = api.open_tasks(as_=amk)
    assert review["id"] in {task["id"] for task in queue}
    detail = api.get(f"/tasks/{review['id']}", as_=amk).get_json()
    assert detail["form"]["schema"]["type"] == "object"
    assert "ui" in detail["form"]

    claimed = api.post(f"/tasks/{review['id']}/claim", as_=amk)
    assert claimed.status_code == 200
    assert claimed.get_json()["assignee"] == amk
    assert claimed.get_json()["status"] == "claimed"
    assert review["id"] in {task["id"] for task in api.open_tasks(as_=amk, assignee="me")}

    after_review = api.post(f"/tasks/{review['id']}/complete", as_=amk, json={"data": AMK_REVIEW})
    assert after_review.status_code == 200, after_review.get_json()
    approval = _the_one_task(after_review.get_json()["tasks"], "leaders")
    assert approval["name"] == "leader_approval"
    assert approval["id"] in {task["id"] for task in api.open_tasks(as_=leader)}

    done = api.post(f"/tasks/{approval['id']}/complete", as_=leader, json={"data": LEADER_APPROVAL})
    assert done.status_code == 200, done.get_json()

    case = api.get(f"/cases/{started['id']}", as_=applicant).get_json()
    assert case["status"] == "completed"
    assert case["tasks"] == []
    decision = next(d for d in case["decisions"] if d["ruleset"] == "lone_work")
    assert decision["decision"]["group"] == "G2"
    assert decision["fired"]
    assert isinstance(decision["parameters"], dict)
    assert case["data"]["decision"] == "approve"
    assert case["data"]["valid_until"] == LEADER_APPROVAL["valid_until"]
    kinds = [entry["kind"] for entry in case["history"]]
    for kind in ("case_started", "decision", "task_claimed", "task_completed", "case_ended"):
        assert kind in kinds, kinds
    completions = [entry for entry in case["history"] if entry["kind"] == "task_completed"]
    assert [entry["actor"] for entry in completions] == [amk, leader]
    assert all(entry["at"] for entry in case["history"])


def test_a_g3_application_is_rejected_without_tasks(api, people, lone_work_application):
    case = _start(api, people["applicant"], lone_work_application(hazards=["high_voltage"]))

    assert case["status"] == "rejected"
    assert case["tasks"] == []
    assert case["decisions"][0]["decision"]["group"] == "G3"


def test_a_g1_application_completes_at_once_and_notifies_the_leaders(api, people, lone_work_application):
    case = _start(api, people["applicant"], lone_work_application(hazards=[], mitigations=[]))

    assert case["status"] == "completed"
    assert case["tasks"] == []
    assert case["decisions"][0]["decision"]["group"] == "G1"
    notices = [entry for entry in case["history"] if entry["kind"].startswith("notification")]
    assert any(entry["detail"].get("recipient_group") == "leaders" for entry in notices), case["history"]


def test_a_g0_application_completes_at_once(api, people, lone_work_application):
    data = lone_work_application(another_competent_person_within_reach=True, hazards=[], mitigations=[])

    case = _start(api, people["applicant"], data)

    assert case["status"] == "completed"
    assert case["tasks"] == []
    assert case["decisions"][0]["decision"]["group"] == "G0"


def test_the_case_location_header_points_at_the_case(api, people, lone_work_application):
    response = api.post(
        "/cases",
        as_=people["applicant"],
        json={"process": PROCESS, "unit": "kemi", "data": lone_work_application()},
    )

    assert response.headers["Location"].endswith(f"/api/v1/cases/{response.get_json()['id']}")


def test_invalid_start_data_is_422_naming_each_bad_field_and_creates_no_case(api, people, auth, lone_work_application):
    amk = people["kemi_amk"]
    before = api.get("/tasks", as_=amk, query_string={"status": "open"}).get_json()["total"]
    data = lone_work_application(applicant_age="old", hazards=["dragons"])
    del data["task_description"]

    response = api.post("/cases", as_=people["applicant"], json={"process": PROCESS, "unit": "kemi", "data": data})

    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid_data"
    assert {"applicant_age", "task_description"} <= set(error["fields"])
    assert any(field.startswith("hazards") for field in error["fields"])
    assert api.get("/tasks", as_=amk, query_string={"status": "open"}).get_json()["total"] == before


def test_invalid_completion_data_is_422_and_leaves_the_task_open_and_the_case_unchanged(
    api, people, lone_work_application
):
    amk = people["kemi_amk"]
    case = _start(api, people["applicant"], lone_work_application())
    review = _the_one_task(case["tasks"], "amk")
    before = api.get(f"/cases/{case['id']}", as_=amk).get_json()

    response = api.post(
        f"/tasks/{review['id']}/complete",
        as_=amk,
        json={"data": {"risk_assessment": [], "mitigations_adequate": "yes"}},
    )

    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert any(field.startswith("risk_assessment") for field in fields)
    assert any(field.startswith("mitigations_adequate") for field in fields)
    assert api.get(f"/tasks/{review['id']}", as_=amk).get_json()["status"] == "ready"
    after = api.get(f"/cases/{case['id']}", as_=amk).get_json()
    assert after == before


def test_a_g2_case_with_a_missing_mandatory_measure_cannot_be_passed_as_adequate_or_approved_b_r5(
    api, people, lone_work_application
):
    """B-R5: weekday evenings need security informed; without it "adequate" and "approve" are 422 naming it."""
    amk, leader = people["kemi_amk"], people["kemi_leader"]
    case = _start(api, people["applicant"],
                  lone_work_application(mitigations=["check_in_calls", "phone_coverage_checked", "alarm_device"]))
    assert case["data"]["lone_work"]["missing_mitigations"] == ["security_informed"]
    review = _the_one_task(case["tasks"], "amk")
    before = api.get(f"/cases/{case['id']}", as_=amk).get_json()

    adequate = api.post(f"/tasks/{review['id']}/complete", as_=amk, json={"data": AMK_REVIEW})

    assert adequate.status_code == 422
    # named as the form names the measure, in the person's language (the AMK reads Danish), not by its code
    assert "Vagten er orienteret" in adequate.get_json()["error"]["fields"]["mitigations_adequate"]
    assert api.get(f"/tasks/{review['id']}", as_=amk).get_json()["status"] == "ready"
    assert api.get(f"/cases/{case['id']}", as_=amk).get_json() == before

    reviewed = api.post(f"/tasks/{review['id']}/complete", as_=amk,
                        json={"data": {**AMK_REVIEW, "mitigations_adequate": False}})
    assert reviewed.status_code == 200, reviewed.get_json()
    approval = _the_one_task(reviewed.get_json()["tasks"], "leaders")
    before = api.get(f"/cases/{case['id']}", as_=leader).get_json()

    approved = api.post(f"/tasks/{approval['id']}/complete", as_=leader, json={"data": LEADER_APPROVAL})

    assert approved.status_code == 422
    error = approved.get_json()["error"]
    assert list(error["fields"]) == ["decision"]
    assert "Vagten er orienteret" in error["fields"]["decision"]
    assert "Vagten er orienteret" in error["message"]
    assert "security_informed" not in error["message"]
    assert api.get(f"/tasks/{approval['id']}", as_=leader).get_json()["status"] == "ready"
    assert api.get(f"/cases/{case['id']}", as_=leader).get_json() == before

    sent_back = api.post(f"/tasks/{approval['id']}/complete", as_=leader,
                         json={"data": {"decision": "send_back", "reason": "Inform security first."}})
    assert sent_back.status_code == 200, sent_back.get_json()
    assert [task["name"] for task in sent_back.get_json()["tasks"]] == ["applicant_revise"]


def test_unclaiming_gives_the_task_back_to_the_group(api, people, lone_work_application):
    amk = people["kemi_amk"]
    review = _the_one_task(_start(api, people["applicant"], lone_work_application())["tasks"], "amk")
    api.post(f"/tasks/{review['id']}/claim", as_=amk)

    response = api.post(f"/tasks/{review['id']}/unclaim", as_=amk)

    assert response.status_code == 200
    assert response.get_json()["assignee"] is None
    assert response.get_json()["status"] == "ready"


def test_the_task_queue_filters_and_pages(api, people, lone_work_application):
    amk = people["kemi_amk"]
    for _ in range(3):
        _start(api, people["applicant"], lone_work_application())

    page = api.get("/tasks", as_=amk, query_string={"process": PROCESS, "limit": 2, "offset": 1}).get_json()
    none_for_energi = api.get("/tasks", as_=amk, query_string={"unit": "energi"}).get_json()
    mine = api.get("/tasks", as_=amk, query_string={"assignee": "me"}).get_json()

    assert page["total"] == 3
    assert len(page["items"]) == 2
    assert all("form" not in task for task in page["items"])
    assert none_for_energi == {"items": [], "total": 0, "total_capped": False, "next_cursor": None}
    assert mine["total"] == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"start_date": "2026-09-30", "end_date": "2026-09-01"}, "end_date"),
        ({"time_windows": [{"days": "saturday", "from": "10:00", "to": "14:00",
                            "from_date": "2026-09-19", "to_date": "2026-09-12"}]}, "time_windows.0.to_date"),
    ],
)  # fmt: skip
def test_an_end_date_before_the_start_date_is_a_422_naming_it_and_starts_nothing(
    api, people, lone_work_application, changes, field
):
    """Before the fix the start form passed each date alone and the classify step failed with a 500."""
    applicant, amk = people["applicant"], people["kemi_amk"]
    before = api.open_tasks(as_=amk)

    response = api.post(
        "/cases", as_=applicant, json={"process": PROCESS, "unit": "kemi", "data": lone_work_application(**changes)}
    )

    assert response.status_code == 422, response.get_data(as_text=True)[:500]
    error = response.get_json()["error"]
    assert error["code"] == "invalid_data"
    assert set(error["fields"]) == {field}
    assert "Must not be before" in error["fields"][field]
    assert api.open_tasks(as_=amk) == before


def test_an_end_date_on_the_start_date_is_a_one_day_application(api, people, lone_work_application):
    data = lone_work_application(start_date="2026-09-01", end_date="2026-09-01")
    response = api.post("/cases", as_=people["applicant"], json={"process": PROCESS, "unit": "kemi", "data": data})
    assert response.status_code == 201, response.get_json()


def test_the_units_approvals_are_listed_over_http_with_status_and_validity(api, people, lone_work_application):
    """B-R9: GET /processes/lone_work_validity/cases lists a unit's approvals (process property listColumns)."""
    applicant, amk, leader = people["applicant"], people["kemi_amk"], people["kemi_leader"]
    started = _start(api, applicant, lone_work_application())
    review = _the_one_task(started["tasks"], "amk")
    assert api.post(f"/tasks/{review['id']}/complete", as_=amk, json={"data": AMK_REVIEW}).status_code == 200
    approval = _the_one_task(api.get(f"/cases/{started['id']}", as_=leader).get_json()["tasks"], "leaders")
    done = api.post(f"/tasks/{approval['id']}/complete", as_=leader, json={"data": LEADER_APPROVAL}).get_json()
    if done["tasks"]:  # the instruction, when the application has none
        task = done["tasks"][0]
        api.post(f"/tasks/{task['id']}/complete", as_=amk, json={"data": {
            "instructed_on": "2026-08-25", "instructed_by": "AMK", "instruction_covered": "Nødprocedure"}})
    validity = next(entry["detail"]["case"] for entry in api.get(f"/cases/{started['id']}", as_=applicant)
                    .get_json()["history"] if entry["kind"] == "case_spawned")

    listed = api.get("/processes/lone_work_validity/cases?unit=kemi&where=approval_status:active", as_=leader)
    assert listed.status_code == 200, listed.get_json()
    body = listed.get_json()
    assert "approval_status" in body["columns"]
    row = next(row for row in body["rows"] if row["id"] == validity)
    assert (row["columns"]["approval_status"], row["columns"]["valid_until"]) == (
        "active", LEADER_APPROVAL["valid_until"])
    assert api.get(f"/cases/{validity}", as_=leader).status_code == 200  # the unit's leader reads it

    bad = api.get("/processes/lone_work_validity/cases?where=hazards:x", as_=leader)
    assert bad.status_code == 422
    assert "where.hazards" in bad.get_json()["error"]["fields"]  # named as part of the query parameter
    revoked = api.post(f"/cases/{validity}/messages/revoke approval", as_=leader,
                       json={"data": {"revocation_reason": "Lokalet ombygges"}})
    assert revoked.status_code == 200, revoked.get_json()
    assert revoked.get_json()["data"]["approval_status"] == "revoked"
    listed = api.get("/processes/lone_work_validity/cases?unit=kemi&where=approval_status:active", as_=leader)
    assert validity not in {row["id"] for row in listed.get_json()["rows"]}
