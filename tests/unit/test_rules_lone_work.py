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
from rules.catalog import default_catalog

ON = datetime.date(2026, 3, 2)
# DOMAIN.md B.4's example G3 candidates and the hazard values that stand for them (B-R3). The list is an
# effective-dated parameter awaiting DTU's confirmation; these rows are the design default.
G3_CANDIDATES = [
    ("live electrical work / high voltage", ["live_electrical_work", "high_voltage"]),
    ("confined spaces", ["confined_space"]),
    ("HF and other highly acutely toxic or pyrophoric chemistry",
     ["hydrofluoric_acid", "chemicals_highly_acute_toxic", "pyrophoric"]),
    ("large-scale cryogen handling in small rooms without O2 monitoring", ["cryogenics_large_scale_small_room"]),
    ("decanting or transporting corrosives", ["corrosives_decanting_transport"]),
    ("syntheses running unattended at night", ["unattended_overnight_synthesis"]),
    ("heavy lifting, cranes, work at height", ["heavy_lifting", "crane_operation", "work_at_height"]),
    ("rotating machinery (lathes, mills) in workshops", ["rotating_machinery"]),
]  # fmt: skip
PROHIBITED = [hazard for _candidate, hazards in G3_CANDIDATES for hazard in hazards]
RISKY = [
    "chemicals_acute_toxic", "chemicals_flammable", "chemicals_corrosive", "chemicals_other",
    "biological_class2", "biological_class3", "laser_class3b_4", "ionising_radiation", "pressurised_gas",
    "cryogenics", "violence_risk", "field_work",
]  # fmt: skip
ALL_MITIGATIONS = [
    "check_in_calls", "alarm_device", "buddy_named", "phone_coverage_checked", "time_limit",
    "security_informed", "first_aid_trained", "emergency_equipment_checked",
]  # fmt: skip


def fact_values(name: str) -> tuple[str, ...]:
    return next(spec.values for spec in default_catalog().get("lone_work").facts if spec.name == name)


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
        "instruction_date": "2025-05-20",
        "instruction_by": "Karl Koordinator",
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
        {"hazards": ["laser_class3b_4"]},
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


@pytest.mark.parametrize(
    ("candidate", "hazard"),
    [pytest.param(candidate, hazard, id=f"B-R3 {candidate}: {hazard}")
     for candidate, hazards in G3_CANDIDATES for hazard in hazards],
)  # fmt: skip
def test_every_g3_candidate_of_domain_b4_makes_lone_work_forbidden_b_r3(candidate: str, hazard: str) -> None:
    decision = decided(hazards=[hazard], mitigations=ALL_MITIGATIONS)
    assert (decision.decision["group"], decision.decision["route"]) == ("G3", "reject"), candidate
    assert decision.fired == ("B-R1", "B-R3")


def test_the_prohibited_list_is_exactly_the_g3_candidates_b_r3() -> None:
    assert sorted(decided().parameters["lone_work.prohibited_hazards"]) == sorted(PROHIBITED)
    assert sorted(PROHIBITED + RISKY) == sorted(fact_values("hazards"))


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
        "latest_valid_until": None,
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
    pytest.param(["pressurised_gas"], False, [], ["check_in_calls", "phone_coverage_checked"], id="B-R5 always"),
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
    facts = lone_work(hazards=["violence_risk"])
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
    pytest.param({"instruction_completed": True}, "instruction_required", False, None,
                 id="B-R6 instructed, date and instructor recorded"),
    pytest.param({"instruction_date": None}, "instruction_required", True, "B-R6",
                 id="B-R6 instructed but no date recorded"),
    pytest.param({"instruction_by": None}, "instruction_required", True, "B-R6",
                 id="B-R6 instructed but nobody named as instructor"),
    pytest.param({"instruction_date": None, "instruction_by": None, "hazards": ["pressurised_gas"]},
                 "instruction_required", True, "B-R6", id="B-R6 G2 ticked as instructed with nothing recorded"),
    pytest.param({"instruction_completed": False, "hazards": ["cryogenics"]}, "instruction_required", True, "B-R6",
                 id="B-R6 a recorded date does not count without the tick"),
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


def test_every_rule_that_applies_is_cited_once_in_firing_order() -> None:
    decision = decided(
        hazards=["chemicals_flammable", "cryogenics"],
        outside_normal_hours=True,
        applicant_role="student",
        applicant_age=17,
        mitigations=["check_in_calls"],
        instruction_completed=False,
    )
    assert decision.fired == ("B-R1", "B-R4", "B-R5", "B-R11", "B-R6", "B-R7", "B-R8")
    assert decision.decision == {
        "group": "G2",
        "label": "risikofyldt",
        "route": "review_and_approval",
        "missing_mitigations": ["alarm_device", "phone_coverage_checked", "security_informed"],
        "supervisor_coapproval": True,
        "young_worker_check": True,
        "instruction_required": True,
        "latest_valid_until": None,
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
        "start_date",
        "end_date",
        "time_windows",
        "applicant_role",
        "applicant_age",
        "mitigations",
        "instruction_completed",
        "instruction_date",
        "instruction_by",
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
    assert set(descriptions) == {f"B-R{number}" for number in (*range(1, 10), 11)}
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


# --- B-R11 outside normal hours, derived from the time windows -------------------------------------------

EVENINGS = [{"days": "weekdays", "from": "18:00", "to": "22:00"}]


def window(days: str, start: str, end: str, **dates: str) -> dict[str, str]:
    return {"days": days, "from": start, "to": end, **dates}


def hours_decided(windows: list[dict[str, str]], start: str, end: str | None = None, **changes: Any) -> Decision:
    """A G2 case (a laser) with time windows and no explicit outside_normal_hours."""
    facts = lone_work(hazards=["laser_class3b_4"], time_windows=windows, start_date=start, **changes)
    if "outside_normal_hours" not in changes:
        del facts["outside_normal_hours"]
    if end is not None:
        facts["end_date"] = end
    return decide("lone_work", facts, on=ON)


def is_outside(decision: Decision) -> bool:
    """B-R11 shows as security_informed required (B-R5) and B-R11 cited."""
    outside = "security_informed" in decision.decision["missing_mitigations"]
    assert outside is ("B-R11" in decision.fired)
    return outside


OUTSIDE_HOURS = [
    # weekday evenings and mornings
    pytest.param([window("weekdays", "18:00", "22:00")], "2026-09-01", "2026-09-30", True, id="weekday evenings"),
    pytest.param([window("working_days", "06:30", "09:00")], "2026-09-01", "2026-09-30", True, id="before 07:00"),
    pytest.param([window("working_days", "07:00", "18:00")], "2026-09-01", "2026-12-31", False,
                 id="07:00-18:00 on working days is normal"),
    pytest.param([window("weekdays", "17:00", "18:01")], "2026-09-01", "2026-09-30", True, id="one minute past 18:00"),
    pytest.param([window("weekdays", "08:00", "16:00")], "2026-09-01", "2026-09-30", False,
                 id="weekdays in a month without holidays"),
    pytest.param([window("friday", "22:00", "02:00")], "2026-09-01", "2026-09-30", True, id="overnight window"),
    pytest.param([window("weekdays", "08:00", "16:00"), window("tuesday", "19:00", "21:00")],
                 "2026-09-01", "2026-09-30", True, id="one evening row among daytime rows"),
    # weekends
    pytest.param([window("saturday", "10:00", "14:00")], "2026-09-01", "2026-09-30", True, id="a Saturday"),
    pytest.param([window("weekend", "10:00", "14:00")], "2026-09-01", "2026-09-30", True, id="weekends"),
    pytest.param([window("every_day", "09:00", "15:00")], "2026-09-07", "2026-09-11", False,
                 id="every day of a Monday-Friday period"),
    pytest.param([window("sunday", "10:00", "14:00")], "2026-09-07", "2026-09-11", False,
                 id="a Sunday row in a period without Sundays never happens"),
    # Danish public holidays (holidays package), and DTU's other days off (parameter)
    pytest.param([window("thursday", "09:00", "15:00")], "2026-05-11", "2026-05-22", True,
                 id="Kristi Himmelfartsdag 2026-05-14 is a Thursday off"),
    pytest.param([window("every_day", "09:00", "12:00", from_date="2026-05-14", to_date="2026-05-14")],
                 "2026-05-01", "2026-05-31", True, id="a date row on Kristi Himmelfartsdag"),
    pytest.param([window("every_day", "09:00", "12:00", from_date="2026-05-13", to_date="2026-05-13")],
                 "2026-05-01", "2026-05-31", False, id="the day before Kristi Himmelfartsdag"),
    pytest.param([window("friday", "10:00", "12:00")], "2026-06-01", "2026-06-07", True,
                 id="Grundlovsdag 2026-06-05 is a day off"),
    pytest.param([window("friday", "10:00", "12:00")], "2026-06-08", "2026-06-14", False, id="the Friday after"),
    pytest.param([window("weekdays", "08:00", "16:00")], "2026-12-01", "2026-12-31", True,
                 id="weekdays over Christmas"),
    pytest.param([window("working_days", "08:00", "16:00")], "2026-12-01", "2026-12-31", False,
                 id="working days leave the holidays out"),
    pytest.param([window("monday", "08:00", "16:00")], "2026-04-06", "2026-04-06", True, id="2. påskedag"),
    pytest.param([window("friday", "09:00", "15:00")], "2023-05-05", "2023-05-05", True, id="Store Bededag 2023"),
    pytest.param([window("friday", "09:00", "15:00")], "2025-05-16", "2025-05-16", False,
                 id="no Store Bededag from 2024"),
    pytest.param([window("thursday", "22:00", "02:00")], "2026-12-24", "2026-12-24", True,
                 id="overnight into Christmas Day"),
    # summer time: the limits are Danish wall-clock times, in CET and in CEST alike
    pytest.param([window("wednesday", "16:00", "18:00")], "2026-07-01", "2026-07-01", False, id="summer 16-18"),
    pytest.param([window("wednesday", "16:00", "18:00")], "2026-01-14", "2026-01-14", False, id="winter 16-18"),
    pytest.param([window("wednesday", "17:00", "18:30")], "2026-07-01", "2026-07-01", True, id="summer to 18:30"),
    pytest.param([window("monday", "07:00", "09:00")], "2026-03-30", "2026-03-30", False,
                 id="the Monday after clocks go forward"),
    pytest.param([window("monday", "07:00", "09:00")], "2026-10-26", "2026-10-26", False,
                 id="the Monday after clocks go back"),
    pytest.param([window("sunday", "01:00", "04:00")], "2026-03-29", "2026-03-29", True, id="the night of the change"),
]  # fmt: skip


@pytest.mark.parametrize(("windows", "start", "end", "outside"), OUTSIDE_HOURS)
def test_outside_normal_hours_is_derived_from_the_time_windows_b_r11(
    windows: list[dict[str, str]], start: str, end: str, outside: bool
) -> None:
    assert is_outside(hours_decided(windows, start, end)) is outside


def test_without_an_end_date_the_windows_count_for_the_longest_approval_b_r9_b_r11() -> None:
    late_saturday = [window("saturday", "10:00", "12:00", from_date="2027-09-01")]
    assert not is_outside(hours_decided(late_saturday, "2026-09-01"))  # after 2027-08-31: never approved
    assert is_outside(hours_decided([window("saturday", "10:00", "12:00", from_date="2027-08-28")], "2026-09-01"))
    assert is_outside(hours_decided([window("weekdays", "08:00", "16:00")], "2026-09-01"))  # Christmas comes


@pytest.mark.parametrize(
    ("given", "windows", "outside"),
    [
        pytest.param(False, EVENINGS, False, id="an explicit no wins over evening windows"),
        pytest.param(True, [window("working_days", "08:00", "16:00")], True, id="an explicit yes wins"),
    ],
)
def test_an_explicit_outside_normal_hours_is_used_as_given_b_r11(
    given: bool, windows: list[dict[str, str]], outside: bool
) -> None:
    assert is_outside(hours_decided(windows, "2026-09-01", "2026-09-30", outside_normal_hours=given)) is outside


def test_without_time_windows_outside_normal_hours_keeps_its_default_b_r11() -> None:
    facts = lone_work(hazards=["laser_class3b_4"], start_date="2026-09-01")
    del facts["outside_normal_hours"]
    assert not is_outside(decide("lone_work", facts, on=ON))


BAD_HOURS = [
    pytest.param({"time_windows": EVENINGS}, {"start_date": "is needed to place the time windows in the calendar"},
                 id="windows without a start date"),
    pytest.param({"time_windows": EVENINGS, "start_date": "2026-09-30", "end_date": "2026-09-01"},
                 {"end_date": "is before the first day"}, id="end before start"),
    pytest.param({"start_date": "2026-02-30"}, {"start_date": "expected a date YYYY-MM-DD; '2026-02-30' is not a date"},
                 id="no such day"),
    pytest.param({"end_date": "1.9.2026"}, {"end_date": "expected a date YYYY-MM-DD"}, id="a Danish date"),
    pytest.param({"time_windows": "weekdays 18:00-22:00"}, {"time_windows": "expected a list of time windows"},
                 id="the old free text"),
    pytest.param({"time_windows": [window("weekdays", "18.00", "22:00")]},
                 {"time_windows": "row 0: from: expected a time HH:MM (00:00-23:59)"}, id="a dot in the time"),
    pytest.param({"time_windows": [*EVENINGS, window("holidays", "10:00", "12:00")]},
                 {"time_windows": "row 1: days must be one of every_day, weekdays, weekend, monday, tuesday, "
                                  "wednesday, thursday, friday, saturday, sunday, working_days"},
                 id="an unknown day"),
    pytest.param({"time_windows": [window("monday", "10:00", "10:00")]},
                 {"time_windows": "row 0: 'to' must differ from 'from'"}, id="an empty window"),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "fields"), BAD_HOURS)
def test_bad_dates_and_time_windows_are_refused_naming_the_fact(
    changes: dict[str, Any], fields: dict[str, str]
) -> None:
    facts = lone_work(**changes)
    del facts["outside_normal_hours"]
    with pytest.raises(InvalidFacts) as caught:
        decide("lone_work", facts, on=ON)
    assert caught.value.fields == fields


def test_the_normal_hours_calendar_is_a_parameter_awaiting_dtu_b_r11() -> None:
    decision = hours_decided(EVENINGS, "2026-09-01", "2026-09-30")
    assert decision.parameters["lone_work.normal_hours"] == {
        "working_days": ["monday", "tuesday", "wednesday", "thursday", "friday"],
        "from": "07:00",
        "to": "18:00",
        "holidays": {"country": "DK", "categories": ["public", "optional"]},
    }
    assert decision.parameters["lone_work.max_validity_months"] == 12


# --- B-R9 the longest an approval may run --------------------------------------------------------------

VALIDITY = [
    pytest.param("2026-09-01", "2026-12-31", "2026-12-31", id="B-R9 the end date when sooner"),
    pytest.param("2026-09-01", None, "2027-08-31", id="B-R9 12 months without an end date"),
    pytest.param("2026-09-01", "2028-06-30", "2027-08-31", id="B-R9 never more than 12 months"),
    pytest.param("2026-09-01", "2027-08-31", "2027-08-31", id="B-R9 exactly 12 months"),
    pytest.param("2028-02-29", None, "2029-02-28", id="B-R9 from a leap day"),
    pytest.param("2026-09-01", "2026-09-01", "2026-09-01", id="B-R9 one day"),
]  # fmt: skip


@pytest.mark.parametrize(("start", "end", "until"), VALIDITY)
def test_latest_valid_until_is_the_end_date_or_at_most_max_validity_months_b_r9(
    start: str, end: str | None, until: str
) -> None:
    facts = lone_work(hazards=["laser_class3b_4"], start_date=start)
    if end is not None:
        facts["end_date"] = end
    assert decide("lone_work", facts, on=ON).decision["latest_valid_until"] == until


def test_latest_valid_until_is_null_without_a_start_date_b_r9() -> None:
    assert decided(end_date="2026-12-31").decision["latest_valid_until"] is None


# --- the application form speaks the rule set's contract ------------------------------------------------


def test_the_application_forms_hazards_and_time_windows_fit_the_rule_sets_contract() -> None:
    """What the start form accepts, the rules accept: the runtime passes these fields on as facts."""
    import forms  # noqa: PLC0415  # a test may see both packages; the packages do not see each other

    schema = forms.get_form("lone_work_application").schema["properties"]
    assert sorted(schema["hazards"]["items"]["enum"]) == sorted(fact_values("hazards"))
    row = schema["time_windows"]["items"]
    assert set(row["properties"]) == {"days", "from", "to", "from_date", "to_date"}
    rows = [{"days": days, "from": "18:00", "to": "24:00", "from_date": "2026-09-07"}
            for days in row["properties"]["days"]["enum"]]  # fmt: skip
    errors = forms.validate("lone_work_application", {"time_windows": rows})
    assert [path for path in errors if path.startswith("time_windows")] == []
    decision = decide("lone_work", {"time_windows": rows, "start_date": "2026-09-01", "hazards": ["field_work"]}, on=ON)
    assert "security_informed" in decision.decision["missing_mitigations"]
