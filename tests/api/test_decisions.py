"""Running a rule set on facts over the API, without a case."""

from __future__ import annotations

import pytest

G2_FACTS = {
    "another_competent_person_within_reach": False,
    "outside_normal_hours": True,
    "applicant_role": "employee",
    "applicant_age": 34,
    "instruction_completed": True,
    "hazards": ["chemicals_flammable"],
    "mitigations": ["check_in_calls", "phone_coverage_checked", "alarm_device"],
}


@pytest.fixture
def caller(auth):
    return auth.user(group="process-owners")


def test_deciding_lone_work_facts_returns_the_group_label_route_and_fired_rules(api, caller):
    response = api.post("/decisions/lone_work", as_=caller, json={"facts": G2_FACTS})

    assert response.status_code == 200, response.get_json()
    result = response.get_json()
    assert result["decision"]["group"] == "G2"
    assert result["decision"]["label"]
    assert result["decision"]["route"]
    assert result["fired"]
    assert all(isinstance(rule, str) for rule in result["fired"])
    assert isinstance(result["parameters"], dict)


def test_a_decision_on_a_given_date_reports_that_date(api, caller):
    response = api.post("/decisions/lone_work", as_=caller, json={"facts": G2_FACTS, "on": "2026-01-15"})

    assert response.status_code == 200
    assert response.get_json()["on"] == "2026-01-15"


def test_a_fact_outside_the_contract_is_422_naming_it(api, caller):
    response = api.post("/decisions/lone_work", as_=caller, json={"facts": {**G2_FACTS, "hazards": ["dragons"]}})

    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid_data"
    assert any(field.startswith("hazards") for field in error["fields"])


def test_facts_that_are_not_an_object_are_422_naming_facts(api, caller):
    response = api.post("/decisions/lone_work", as_=caller, json={"facts": ["x"]})

    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"facts"}


def test_a_date_that_is_no_date_is_422_naming_on(api, caller):
    response = api.post("/decisions/lone_work", as_=caller, json={"facts": G2_FACTS, "on": "someday"})

    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"on"}


def test_an_unknown_rule_set_is_404(api, caller):
    response = api.post("/decisions/no_such_rules", as_=caller, json={"facts": {}})

    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
