"""The lone_work rule set (DOMAIN.md section B): facts -> decision tables, each row citing its rule id."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from rules import (
    Decision,
    InvalidFacts,
    RulesError,
    RuleSetNotFound,
    decide,
    fact_names,
    rule_descriptions,
    ruleset_exists,
    ruleset_names,
)

ON = datetime.date(2026, 3, 2)
PROHIBITED = [
    "live_electrical_work",
    "high_voltage",
    "confined_space",
    "hydrofluoric_acid",
    "pyrophoric",
    "work_at_height",
]
RISKY = [
    "chemicals_acute_toxic", "chemicals_flammable", "chemicals_corrosive", "chemicals_other",
    "biological_class2", "biological_class3", "laser_class3b_4", "ionising_radiation", "pressurised_gas",
    "cryogenics", "rotating_machinery", "heavy_lifting", "violence_risk", "field_work",
]  # fmt: skip
ALL_MITIGATIONS = [
    "check_in_calls", "alarm_device", "buddy_named", "phone_coverage_checked", "time_limit",
    "security_informed", "first_aid_trained", "emergency_equipment_checked",
]  # fmt: skip


def lone_work(**changes: Any) -> dict[str, Any]:
    """Facts of an instructed adult employee working alone in office hours with no hazard; then changes."""
    facts: dict[str, Any] = {
        "another_competent_person_within_reach": False,
        "hazards": [],
        "outside_normal_hours": False,
        "applicant_role": "employee",
        "applicant_age": 35,
        "mitigations": [],
        "instruction_completed": True,
    }
    facts.update(changes)
    return facts


def decided(**changes: Any) -> Decision:
    return decide("lone_work", lone_work(**changes), on=ON)


# --- groups, labels and routes --------------------------------------------------------------------------

GROUPS = [
    pytest.param(
        {"another_competent_person_within_reach": True},
        ("G0", "ikke-alenearbejde", "none"), ("B-R1",), id="B-R1 a competent person within reach is not lone work",
    ),
    pytest.param(
        {"another_competent_person_within_reach": True, "hazards": ["live_electrical_work", "chemicals_flammable"]},
        ("G0", "ikke-alenearbejde", "none"), ("B-R1",), id="B-R1 G0 wins over a prohibited hazard",
    ),
    pytest.param(
        {}, ("G1", "ikke-risikofyldt", "register"), ("B-R1", "B-R2"), id="B-R2 lone work without hazards is G1",
    ),
    pytest.param(
        {"outside_normal_hours": True},
        ("G1", "ikke-risikofyldt", "register"), ("B-R1", "B-R2"), id="B-R2 outside normal hours alone does not make G2",
    ),
    pytest.param(
        {"hazards": ["rotating_machinery"]},
        ("G2", "risikofyldt", "review_and_approval"), ("B-R1", "B-R4", "B-R5"), id="B-R4 a hazard makes G2",
    ),
    pytest.param(
        {"hazards": ["confined_space"]}, ("G3", "forbudt", "reject"), ("B-R1", "B-R3"), id="B-R3 prohibited is G3",
    ),
    pytest.param(
        {"hazards": ["chemicals_flammable", "cryogenics", "work_at_height"]},
        ("G3", "forbudt", "reject"), ("B-R1", "B-R3"), id="B-R3 G3 wins over G2",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "outcome", "fired"), GROUPS)
def test_the_group_label_route_and_fired_rules_follow_the_rule_set(
    changes: dict[str, Any], outcome: tuple[str, str, str], fired: tuple[str, ...]
) -> None:
    decision = decided(**changes)
    assert (decision.decision["group"], decision.decision["label"], decision.decision["route"]) == outcome
    assert decision.fired == fired


@pytest.mark.parametrize("hazard", PROHIBITED)
def test_every_prohibited_hazard_makes_lone_work_forbidden_b_r3(hazard: str) -> None:
    decision = decided(hazards=[hazard])
    assert decision.decision["group"] == "G3"
    assert decision.decision["route"] == "reject"
    assert "B-R3" in decision.fired


@pytest.mark.parametrize("hazard", RISKY)
def test_every_other_hazard_makes_lone_work_risky_b_r4(hazard: str) -> None:
    decision = decided(hazards=[hazard])
    assert decision.decision["group"] == "G2"
    assert decision.decision["route"] == "review_and_approval"
    assert decision.fired[:3] == ("B-R1", "B-R4", "B-R5")


@pytest.mark.parametrize("hazard", PROHIBITED + RISKY)
def test_a_competent_person_within_reach_wins_over_any_hazard_b_r1(hazard: str) -> None:
    decision = decided(hazards=[hazard], another_competent_person_within_reach=True)
    assert decision.decision["group"] == "G0"
    assert decision.fired == ("B-R1",)


def test_the_whole_decision_of_a_g0_case_has_no_requirements_b_r1() -> None:
    decision = decided(
        another_competent_person_within_reach=True,
        hazards=["cryogenics"],
        outside_normal_hours=True,
        applicant_role="student",
        applicant_age=16,
        instruction_completed=False,
    )
    assert decision.decision == {
        "group": "G0",
        "label": "ikke-alenearbejde",
        "route": "none",
        "missing_mitigations": [],
        "supervisor_coapproval": False,
        "young_worker_check": False,
        "instruction_required": False,
    }


def test_a_g3_case_carries_no_approval_requirements_because_it_is_rejected_b_r3() -> None:
    decision = decided(
        hazards=["pyrophoric", "chemicals_other"],
        applicant_role="student",
        applicant_age=17,
        instruction_completed=False,
    )
    assert decision.decision["missing_mitigations"] == []
    assert not decision.decision["supervisor_coapproval"]
    assert not decision.decision["young_worker_check"]
    assert not decision.decision["instruction_required"]
    assert decision.fired == ("B-R1", "B-R3")


# --- B-R5 mandatory mitigations --------------------------------------------------------------------------

MITIGATIONS = [
    pytest.param(["rotating_machinery"], False, [], ["check_in_calls", "phone_coverage_checked"], id="B-R5 always"),
    pytest.param(
        ["chemicals_acute_toxic"], False, [], ["alarm_device", "check_in_calls", "phone_coverage_checked"],
        id="B-R5 chemical hazard needs an alarm device",
    ),
    pytest.param(
        ["biological_class3"], False, [], ["alarm_device", "check_in_calls", "phone_coverage_checked"],
        id="B-R5 biological hazard needs an alarm device",
    ),
    pytest.param(
        ["cryogenics"], False, [], ["alarm_device", "check_in_calls", "phone_coverage_checked"],
        id="B-R5 cryogenic hazard needs an alarm device",
    ),
    pytest.param(
        ["laser_class3b_4", "field_work"], False, [], ["check_in_calls", "phone_coverage_checked"],
        id="B-R5 other hazards need no alarm device",
    ),
    pytest.param(
        ["laser_class3b_4"], True, [], ["check_in_calls", "phone_coverage_checked", "security_informed"],
        id="B-R5/B-R11 outside normal hours security must be informed",
    ),
    pytest.param(
        ["chemicals_other", "biological_class2"], True, [],
        ["alarm_device", "check_in_calls", "phone_coverage_checked", "security_informed"],
        id="B-R5 families and hours add up, each mitigation once",
    ),
    pytest.param(
        ["chemicals_corrosive"], False, ["check_in_calls", "alarm_device", "buddy_named"], ["phone_coverage_checked"],
        id="B-R5 given mitigations are not missing; optional ones do not count",
    ),
    pytest.param(["cryogenics"], True, ALL_MITIGATIONS, [], id="B-R5 nothing missing when all are given"),
]  # fmt: skip


@pytest.mark.parametrize(("hazards", "outside_hours", "given", "missing"), MITIGATIONS)
def test_missing_mitigations_are_the_mandatory_ones_not_given_b_r5(
    hazards: list[str], outside_hours: bool, given: list[str], missing: list[str]
) -> None:
    decision = decided(hazards=hazards, outside_normal_hours=outside_hours, mitigations=given)
    assert decision.decision["group"] == "G2"
    assert decision.decision["missing_mitigations"] == missing
    assert "B-R5" in decision.fired


def test_mitigations_may_be_left_out_while_screening_and_then_all_are_missing_b_r5() -> None:
    facts = lone_work(hazards=["heavy_lifting"])
    del facts["mitigations"]
    decision = decide("lone_work", facts, on=ON)
    assert decision.decision["missing_mitigations"] == ["check_in_calls", "phone_coverage_checked"]


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({}, id="G1"),
        pytest.param({"hazards": ["hydrofluoric_acid"], "outside_normal_hours": True}, id="G3"),
        pytest.param({"hazards": ["cryogenics"], "another_competent_person_within_reach": True}, id="G0"),
    ],
)
def test_no_mitigations_are_missing_outside_g2_b_r5(changes: dict[str, Any]) -> None:
    decision = decided(**changes)
    assert decision.decision["missing_mitigations"] == []
    assert "B-R5" not in decision.fired


# --- B-R6, B-R7, B-R8 flags -----------------------------------------------------------------------------

FLAGS = [
    pytest.param({"instruction_completed": False}, "instruction_required", True, "B-R6", id="B-R6 G1 not instructed"),
    pytest.param(
        {"instruction_completed": False, "hazards": ["pressurised_gas"]}, "instruction_required", True, "B-R6",
        id="B-R6 G2 not instructed",
    ),
    pytest.param({"instruction_completed": True}, "instruction_required", False, None, id="B-R6 instructed"),
    pytest.param(
        {"instruction_completed": False, "another_competent_person_within_reach": True},
        "instruction_required", False, None, id="B-R6 not lone work",
    ),
    pytest.param(
        {"instruction_completed": False, "hazards": ["high_voltage"]}, "instruction_required", False, None,
        id="B-R6 G3 is rejected anyway",
    ),
    pytest.param({"applicant_age": 17}, "young_worker_check", True, "B-R7", id="B-R7 17 years old in G1"),
    pytest.param(
        {"applicant_age": 15, "hazards": ["violence_risk"]}, "young_worker_check", True, "B-R7", id="B-R7 15 in G2",
    ),
    pytest.param({"applicant_age": 18}, "young_worker_check", False, None, id="B-R7 18 is not under 18"),
    pytest.param(
        {"applicant_age": 16, "hazards": ["work_at_height"]}, "young_worker_check", False, None, id="B-R7 not in G3",
    ),
    pytest.param(
        {"applicant_age": 16, "another_competent_person_within_reach": True}, "young_worker_check", False, None,
        id="B-R7 not in G0",
    ),
    pytest.param({"applicant_role": "student"}, "supervisor_coapproval", True, "B-R8", id="B-R8 student in G1"),
    pytest.param(
        {"applicant_role": "student", "hazards": ["ionising_radiation"]}, "supervisor_coapproval", True, "B-R8",
        id="B-R8 student in G2",
    ),
    pytest.param({"applicant_role": "phd"}, "supervisor_coapproval", False, None, id="B-R8 a PhD is not a student"),
    pytest.param({"applicant_role": "guest"}, "supervisor_coapproval", False, None, id="B-R8 guest"),
    pytest.param(
        {"applicant_role": "student", "hazards": ["confined_space"]}, "supervisor_coapproval", False, None,
        id="B-R8 not in G3",
    ),
    pytest.param(
        {"applicant_role": "student", "another_competent_person_within_reach": True}, "supervisor_coapproval", False,
        None, id="B-R8 not in G0",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "flag", "expected", "rule_id"), FLAGS)
def test_flags_apply_in_g1_and_g2_only(changes: dict[str, Any], flag: str, expected: bool, rule_id: str | None) -> None:
    decision = decided(**changes)
    assert decision.decision[flag] is expected
    for cited in ("B-R6", "B-R7", "B-R8"):
        assert (cited in decision.fired) is (cited == rule_id)


def test_every_rule_that_applies_is_cited_once_in_rule_id_order() -> None:
    decision = decided(
        hazards=["chemicals_flammable", "cryogenics"],
        outside_normal_hours=True,
        applicant_role="student",
        applicant_age=17,
        mitigations=["check_in_calls"],
        instruction_completed=False,
    )
    assert decision.fired == ("B-R1", "B-R4", "B-R5", "B-R6", "B-R7", "B-R8")
    assert decision.decision == {
        "group": "G2",
        "label": "risikofyldt",
        "route": "review_and_approval",
        "missing_mitigations": ["alarm_device", "phone_coverage_checked", "security_informed"],
        "supervisor_coapproval": True,
        "young_worker_check": True,
        "instruction_required": True,
    }


# --- the decision object --------------------------------------------------------------------------------


def test_a_decision_reports_the_parameter_values_it_used_and_its_date() -> None:
    decision = decided(hazards=["cryogenics"])
    assert decision.ruleset == "lone_work"
    assert decision.on == ON
    assert decision.parameters["lone_work.young_worker_age_below"] == 18
    assert decision.parameters["lone_work.mandatory_mitigations.always"] == ["check_in_calls", "phone_coverage_checked"]
    assert sorted(decision.parameters["lone_work.prohibited_hazards"]) == sorted(PROHIBITED)
    assert "cryogenics" in decision.parameters["lone_work.hazard_family.cryogenic"]


def test_to_dict_is_plain_json() -> None:
    decision = decided(hazards=["field_work"])
    as_dict = decision.to_dict()
    assert set(as_dict) == {"ruleset", "decision", "fired", "parameters", "on"}
    assert as_dict["fired"] == ["B-R1", "B-R4", "B-R5"]
    assert as_dict["on"] == "2026-03-02"
    assert as_dict["decision"]["group"] == "G2"


def test_a_decision_is_frozen_and_changing_its_dicts_does_not_leak_into_the_next() -> None:
    first = decided(hazards=["field_work"])
    with pytest.raises(AttributeError):
        first.fired = ()  # type: ignore[misc]
    first.decision["missing_mitigations"].append("tampered")
    first.parameters["lone_work.mandatory_mitigations.always"].append("tampered")
    second = decided(hazards=["field_work"])
    assert second.decision["missing_mitigations"] == ["check_in_calls", "phone_coverage_checked"]
    assert "tampered" not in second.parameters["lone_work.mandatory_mitigations.always"]


def test_without_a_date_the_decision_is_for_today_in_denmark() -> None:
    before = datetime.datetime.now(datetime.UTC).date()
    decision = decide("lone_work", lone_work())
    assert abs((decision.on - before).days) <= 1


def test_a_datetime_counts_as_its_danish_date() -> None:
    late_utc = datetime.datetime(2026, 6, 30, 23, 30, tzinfo=datetime.UTC)
    assert decide("lone_work", lone_work(), on=late_utc).on == datetime.date(2026, 7, 1)


def test_a_date_that_is_not_a_date_is_refused() -> None:
    with pytest.raises(RulesError) as caught:
        decide("lone_work", lone_work(), on="2026-01-01")  # type: ignore[arg-type]
    assert caught.value.fields == {"on": "expected a date"}


# --- contract and catalogue -----------------------------------------------------------------------------


def test_the_contract_names_the_facts_of_the_issue() -> None:
    assert fact_names("lone_work") == (
        "another_competent_person_within_reach",
        "hazards",
        "outside_normal_hours",
        "applicant_role",
        "applicant_age",
        "mitigations",
        "instruction_completed",
    )


def test_the_rule_sets_are_listed_and_unknown_ones_are_not_found() -> None:
    assert "lone_work" in ruleset_names()
    assert ruleset_names() == sorted(ruleset_names())
    assert ruleset_exists("lone_work")
    assert not ruleset_exists("lone-work")
    assert not ruleset_exists(None)  # type: ignore[arg-type]
    with pytest.raises(RuleSetNotFound) as caught:
        decide("no_such_rules", {})
    assert isinstance(caught.value, RulesError)
    assert "no_such_rules" in caught.value.message
    with pytest.raises(RuleSetNotFound):
        fact_names("no_such_rules")


def test_every_cited_rule_id_has_a_danish_and_english_description_with_its_source() -> None:
    descriptions = rule_descriptions("lone_work")
    assert set(descriptions) == {f"B-R{number}" for number in range(1, 9)}
    for text in descriptions.values():
        assert set(text) == {"da", "en", "source"}
        assert all(text.values())
    assert "§ 11(1)" in descriptions["B-R3"]["source"]
    assert "§ 11(2)" in descriptions["B-R6"]["source"]


# --- invalid facts --------------------------------------------------------------------------------------

INVALID = [
    pytest.param({"colour": "red"}, {"colour": "unknown fact"}, id="unknown fact"),
    pytest.param({"another_competent_person_within_reach": "yes"},
                 {"another_competent_person_within_reach": "expected a boolean"}, id="string for boolean"),
    pytest.param({"outside_normal_hours": 1}, {"outside_normal_hours": "expected a boolean"}, id="1 for boolean"),
    pytest.param({"applicant_age": "17"}, {"applicant_age": "expected an integer"}, id="string for integer"),
    pytest.param({"applicant_age": True}, {"applicant_age": "expected an integer"}, id="boolean for integer"),
    pytest.param({"applicant_age": 17.5}, {"applicant_age": "expected an integer"}, id="float for integer"),
    pytest.param({"applicant_age": -1}, {"applicant_age": "must be at least 0"}, id="negative age"),
    pytest.param({"hazards": "cryogenics"}, {"hazards": "expected a list"}, id="string for list"),
    pytest.param({"hazards": [3]}, {"hazards": "expected a list of strings"}, id="number in list"),
    pytest.param({"hazards": ["x"]}, {"hazards": "unknown value 'x'"}, id="unknown hazard"),
    pytest.param({"hazards": ["cryogenics", "lava", "acid"]}, {"hazards": "unknown values 'acid', 'lava'"},
                 id="unknown hazards"),
    pytest.param({"mitigations": ["teleport"]}, {"mitigations": "unknown value 'teleport'"}, id="unknown mitigation"),
    pytest.param({"applicant_role": "professor"}, {"applicant_role": "unknown value 'professor'"}, id="unknown role"),
    pytest.param({"applicant_role": "student", "applicant_age": "old", "hazards": ["x"], "extra": 1},
                 {"applicant_age": "expected an integer", "hazards": "unknown value 'x'", "extra": "unknown fact"},
                 id="every bad fact is named at once"),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "fields"), INVALID)
def test_invalid_facts_name_each_bad_field(changes: dict[str, Any], fields: dict[str, str]) -> None:
    with pytest.raises(InvalidFacts) as caught:
        decided(**changes)
    assert caught.value.fields == fields
    assert caught.value.message.startswith("invalid facts for rule set 'lone_work'")
    assert isinstance(caught.value, RulesError)


DEFAULTS = [
    # A fact left out takes the documented default of rules/data/lone_work.rules.json; the defaults lean
    # towards safety: alone, instruction not yet given.
    pytest.param("another_competent_person_within_reach", "group", "G2", id="B-R1 assumed alone when not said"),
    pytest.param("outside_normal_hours", "missing_mitigations", ["alarm_device"], id="B-R5 normal hours by default"),
    pytest.param("instruction_completed", "instruction_required", True, id="B-R6 instruction assumed missing"),
    pytest.param("applicant_age", "young_worker_check", False, id="B-R7 only a stated age under 18 counts"),
    pytest.param("applicant_role", "supervisor_coapproval", False, id="B-R8 an employee by default"),
]  # fmt: skip


@pytest.mark.parametrize(("missing", "field", "expected"), DEFAULTS)
def test_a_fact_left_out_takes_its_documented_default(missing: str, field: str, expected: Any) -> None:
    facts = {**lone_work(), "hazards": ["cryogenics"], "mitigations": ["check_in_calls", "phone_coverage_checked"]}
    del facts[missing]
    assert decide("lone_work", facts, on=ON).decision[field] == expected


def test_no_facts_at_all_is_lone_work_without_hazards() -> None:
    decision = decide("lone_work", {}, on=ON)
    assert (decision.decision["group"], decision.decision["instruction_required"]) == ("G1", True)


def test_facts_must_be_an_object() -> None:
    with pytest.raises(InvalidFacts) as caught:
        decide("lone_work", ["hazards"], on=ON)  # type: ignore[arg-type]
    assert caught.value.fields == {"facts": "expected an object of facts"}
