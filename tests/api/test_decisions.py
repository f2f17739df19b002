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


ACCIDENT_FACTS = {
    "personal_injury": True,
    "exposure": "sudden",
    "absence_days_beyond_injury_day": 3,
    "injury_date": "2026-10-10",
    "injury_time": "14:05",
    "first_absence_day": "2026-10-11",
    "event_type": "threat_verbal",
    "perpetrator": "visitor_external",
    "perpetrator_is_nearest_leader": False,
    "outside_working_hours": True,
    "work_related": True,
    "near_miss": False,
    "fatal": True,
}


def test_an_accident_without_a_date_is_decided_by_the_law_of_its_injury_day_with_deadline_instants(api, caller):
    response = api.post("/decisions/accident_report", as_=caller, json={"facts": ACCIDENT_FACTS})

    assert response.status_code == 200, response.get_json()
    result = response.get_json()
    assert result["on"] == "2026-10-10"
    assert result["parameters"]["accident.report.absence_threshold_days.ASL"] == 3
    decision = result["decision"]
    assert decision["report_to_at"] is True
    assert decision["at_deadline"] == "2026-10-25T23:59:00+01:00"  # last Sunday of October: winter time again
    assert decision["aes_deadline"] == "2026-10-25T23:59:00+01:00"
    assert decision["phone_aes_deadline"] == "2026-10-12T14:05:00+02:00"
    assert decision["who_reports"] == "employer"
    assert decision["violence_outside_working_hours"] is True
    assert {"C-R5", "C-R6"} <= set(result["fired"])


def test_a_first_absence_day_before_the_injury_is_422_naming_it(api, caller):
    facts = {**ACCIDENT_FACTS, "first_absence_day": "2026-10-09"}
    response = api.post("/decisions/accident_report", as_=caller, json={"facts": facts})

    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"first_absence_day"}


# --- lone work: outside normal hours derived from time windows (B-R11), validity (B-R9) ----------------

WINDOW_FACTS = {key: value for key, value in G2_FACTS.items() if key != "outside_normal_hours"}


def test_outside_normal_hours_is_derived_from_time_windows_and_dates_when_not_given(api, caller):
    evenings = {**WINDOW_FACTS, "start_date": "2026-09-01", "end_date": "2026-12-31",
                "time_windows": [{"days": "weekdays", "from": "18:00", "to": "22:00"}]}  # fmt: skip
    daytime = {**evenings, "time_windows": [{"days": "working_days", "from": "08:00", "to": "16:00"}]}
    holiday = {**daytime, "start_date": "2026-05-11", "end_date": "2026-05-22",
               "time_windows": [{"days": "thursday", "from": "09:00", "to": "15:00"}]}  # fmt: skip

    found = {
        name: api.post("/decisions/lone_work", as_=caller, json={"facts": facts, "on": "2026-03-02"}).get_json()
        for name, facts in (("evenings", evenings), ("daytime", daytime), ("holiday", holiday))
    }

    assert found["evenings"]["decision"]["missing_mitigations"] == ["security_informed"]
    assert "B-R11" in found["evenings"]["fired"]
    assert found["daytime"]["decision"]["missing_mitigations"] == []
    assert "B-R11" not in found["daytime"]["fired"]
    assert found["holiday"]["decision"]["missing_mitigations"] == ["security_informed"]  # Kristi Himmelfartsdag
    assert found["evenings"]["parameters"]["lone_work.normal_hours"]["from"] == "07:00"
    assert found["evenings"]["decision"]["latest_valid_until"] == "2026-12-31"
    assert found["holiday"]["decision"]["latest_valid_until"] == "2026-05-22"


def test_an_explicit_outside_normal_hours_is_still_used_as_before(api, caller):
    facts = {**G2_FACTS, "start_date": "2026-09-01", "outside_normal_hours": False,
             "time_windows": [{"days": "weekdays", "from": "18:00", "to": "22:00"}]}  # fmt: skip

    response = api.post("/decisions/lone_work", as_=caller, json={"facts": facts})

    assert response.status_code == 200
    assert response.get_json()["decision"]["missing_mitigations"] == []
    assert response.get_json()["decision"]["latest_valid_until"] == "2027-08-31"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"time_windows": [{"days": "weekdays", "from": "18:00", "to": "22:00"}]}, "start_date"),
        ({"time_windows": [{"days": "weekdays", "from": "6pm", "to": "22:00"}], "start_date": "2026-09-01"},
         "time_windows"),
        ({"start_date": "2026-09-30", "end_date": "2026-09-01",
          "time_windows": [{"days": "weekdays", "from": "18:00", "to": "22:00"}]}, "end_date"),
    ],
)  # fmt: skip
def test_bad_time_windows_or_dates_are_422_naming_the_fact(api, caller, changes, field):
    response = api.post("/decisions/lone_work", as_=caller, json={"facts": {**WINDOW_FACTS, **changes}})

    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid_data"
    assert set(error["fields"]) == {field}
