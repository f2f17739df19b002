"""contractor_job and precursor_classification over POST /api/v1/decisions/{name} (issues #15, #16)."""

from __future__ import annotations

import pytest


@pytest.fixture
def caller(auth):
    return auth.user(group="process-owners")


def test_a_contractor_job_is_decided_over_the_api(api, caller):
    facts = {
        "work_types": ["alteration", "pipe_cable_laying"],
        "location_hazards": ["chemicals", "fume_hood_or_ventilation_shutdown"],
        "hot_work": True,
        "employers_on_site_simultaneously": 3,
        "max_persons_simultaneously": 22,
        "duration_workdays": 45,
        "person_days": 600,
        "particularly_dangerous_work": False,
        "supplier_internal": True,
        "worker_alone_in_hazard_area": True,
    }
    response = api.post("/decisions/contractor_job", as_=caller, json={"facts": facts, "on": "2026-06-01"})

    assert response.status_code == 200, response.get_json()
    result = response.get_json()
    decision = dict(result["decision"])
    assert decision.pop("large_site_meetings") == ["startup_meeting", "safety_meetings", "safety_walk_rounds"]
    assert decision == {
        "building_work": True,
        "route_to_cas": True,
        "coordinator_required": True,
        "site_size": "large",
        "pss_required": True,
        "notify_at_before_start": True,
        "introduction_before_access": True,
        "permits": ["hot_work", "ventilation_shutdown"],
        "lone_work_check": True,
        "employer_instruction_duty": True,
        "start_blocked": False,
    }
    assert result["fired"] == ["A-R1", "A-R2", "A-R3", "A-R4", "A-R5", "A-R6", "A-R7", "A-R8", "A-R10"]
    assert result["parameters"]["contractor_job.notify_at.person_days_above"] == 500


def test_a_precursor_is_classified_over_the_api_by_a_salt_cas_number(api, caller):
    facts = {"substance": "345-78-8", "annual_quantity": 2.5, "quantity_unit": "kg", "supplies_third_parties": True,
             "trade_outside_eu": False, "dtu_licence_covers": True}  # fmt: skip
    response = api.post("/decisions/precursor_classification", as_=caller, json={"facts": facts})

    assert response.status_code == 200, response.get_json()
    result = response.get_json()
    assert result["decision"]["category"] == "1"
    assert result["decision"]["substance_name"] == "Pseudoephedrine"
    assert result["decision"]["cas"] == "90-82-4"
    assert result["decision"]["coordinator_action"] == ["register", "customer_declaration"]
    assert result["decision"]["unknown_substance"] is False
    assert result["fired"] == ["D-R1", "D-R2", "D-R5"]
    assert result["parameters"]["lookup.substance"]["entry"]["name"] == "Pseudoephedrine"


@pytest.mark.parametrize(
    ("ruleset", "facts", "field"),
    [
        ("contractor_job", {"work_types": ["gardening"]}, "work_types"),
        ("precursor_classification", {"substance": "acetone", "quantity_unit": "ton"}, "quantity_unit"),
        ("precursor_classification", {"substance": "  "}, "substance"),
    ],
)
def test_bad_facts_are_422_naming_the_fact(api, caller, ruleset, facts, field):
    response = api.post(f"/decisions/{ruleset}", as_=caller, json={"facts": facts})

    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid_data"
    assert any(name.startswith(field) for name in error["fields"])
