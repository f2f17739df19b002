"""The contractor_job rule set (DOMAIN.md section A, issue #15): facts -> decision tables citing rule ids.

The decision field names are a stable contract: external acceptance suites call
``rules.decide("contractor_job", facts)``. Every row names the rule id it proves.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from forms import get_form
from rules import InvalidFacts, decide, fact_names, rule_descriptions

ON = datetime.date(2026, 6, 1)
BUILDING_WORK = ["construction", "alteration", "installation", "building_repair", "maintenance", "pipe_cable_laying",
                 "demolition"]  # fmt: skip
OTHER_WORK = ["service_visit", "cleaning", "it_equipment"]
HAZARDS = ["chemicals", "biological", "laser", "ionising_radiation", "magnetic_field", "high_voltage",
           "pressurised_gas", "cryogens", "asbestos_pcb_suspected", "fume_hood_or_ventilation_shutdown"]  # fmt: skip
CONTRACT = {
    "building_work", "route_to_cas", "coordinator_required", "site_size", "pss_required", "notify_at_before_start",
    "introduction_before_access", "permits", "lone_work_check", "employer_instruction_duty",
}  # fmt: skip


def job(**changes: Any) -> dict[str, Any]:
    """Facts of a small one-employer service visit in a room without hazards; then the changes."""
    facts: dict[str, Any] = {
        "work_types": ["service_visit"],
        "location_hazards": [],
        "hot_work": False,
        "employers_on_site_simultaneously": 1,
        "max_persons_simultaneously": 2,
        "duration_workdays": 1,
        "person_days": 2,
        "particularly_dangerous_work": False,
        "supplier_internal": False,
        "worker_alone_in_hazard_area": False,
    }
    facts.update(changes)
    return facts


def decided(**changes: Any) -> dict[str, Any]:
    result: dict[str, Any] = decide("contractor_job", job(**changes), on=ON).decision
    return result


def test_the_contract_names_the_facts_and_decision_fields_of_issue_15() -> None:
    assert set(fact_names("contractor_job")) >= set(job())
    assert set(decided()) >= CONTRACT


def test_a_plain_service_visit_needs_nothing() -> None:
    decision = decide("contractor_job", job(), on=ON)
    assert {name: decision.decision[name] for name in CONTRACT} == {
        "building_work": False,
        "route_to_cas": False,
        "coordinator_required": False,
        "site_size": "small",
        "pss_required": False,
        "notify_at_before_start": False,
        "introduction_before_access": False,
        "permits": [],
        "lone_work_check": False,
        "employer_instruction_duty": False,
    }
    assert decision.fired == ("A-R4",)


# --- A-R1, A-R2: building work goes via CAS ------------------------------------------------------------------


@pytest.mark.parametrize("work_type", BUILDING_WORK)
def test_a_r1_a_r2_each_building_work_type_is_building_work_routed_to_cas(work_type: str) -> None:
    decision = decide("contractor_job", job(work_types=[work_type]), on=ON)
    assert decision.decision["building_work"] is True
    assert decision.decision["route_to_cas"] is True
    assert decision.fired[:2] == ("A-R1", "A-R2")


@pytest.mark.parametrize("work_type", OTHER_WORK)
def test_a_r1_other_work_types_are_not_building_work(work_type: str) -> None:
    decision = decide("contractor_job", job(work_types=[work_type], employers_on_site_simultaneously=3), on=ON)
    assert decision.decision["building_work"] is False
    assert decision.decision["route_to_cas"] is False
    assert decision.decision["coordinator_required"] is False
    assert "A-R1" not in decision.fired


def test_a_r1_one_building_type_among_others_makes_the_job_building_work() -> None:
    assert decided(work_types=["cleaning", "demolition"])["building_work"] is True


# --- A-R3 to A-R5: coordinator, site size, PSS, notifying AT -------------------------------------------------

TABLE = [
    # A-R3: two or more employers on a building site at once
    pytest.param({"employers_on_site_simultaneously": 2}, {"coordinator_required": True}, "A-R3",
                 id="A-R3 2 employers"),
    pytest.param({"employers_on_site_simultaneously": 1}, {"coordinator_required": False}, None, id="A-R3 1 employer"),
    # A-R4: site size by persons at once; PSS on large sites or for particularly dangerous work
    pytest.param({"max_persons_simultaneously": 4}, {"site_size": "small", "pss_required": False}, "A-R4",
                 id="A-R4 4 persons small"),
    pytest.param({"max_persons_simultaneously": 5}, {"site_size": "medium", "pss_required": False}, "A-R4",
                 id="A-R4 5 persons medium"),
    pytest.param({"max_persons_simultaneously": 10}, {"site_size": "medium", "pss_required": False}, "A-R4",
                 id="A-R4 10 persons medium"),
    pytest.param({"max_persons_simultaneously": 11}, {"site_size": "large", "pss_required": True}, "A-R4",
                 id="A-R4 11 persons large with PSS"),
    pytest.param({"max_persons_simultaneously": 3, "particularly_dangerous_work": True},
                 {"site_size": "small", "pss_required": True}, "A-R4",
                 id="A-R4 particularly dangerous work on a small site"),
    pytest.param({"max_persons_simultaneously": 7, "particularly_dangerous_work": True},
                 {"site_size": "medium", "pss_required": True}, "A-R4",
                 id="A-R4 particularly dangerous work on a medium site"),
    # A-R5: notify AT before start
    pytest.param({"duration_workdays": 31, "max_persons_simultaneously": 20, "person_days": 400},
                 {"notify_at_before_start": True}, "A-R5", id="A-R5 31 days and 20 at once"),
    pytest.param({"duration_workdays": 30, "max_persons_simultaneously": 20, "person_days": 400},
                 {"notify_at_before_start": False}, None, id="A-R5 30 days is not over 30"),
    pytest.param({"duration_workdays": 31, "max_persons_simultaneously": 19, "person_days": 400},
                 {"notify_at_before_start": False}, None, id="A-R5 19 at once is not 20"),
    pytest.param({"duration_workdays": 10, "max_persons_simultaneously": 3, "person_days": 501},
                 {"notify_at_before_start": True}, "A-R5", id="A-R5 501 person-days"),
    pytest.param({"duration_workdays": 100, "max_persons_simultaneously": 5, "person_days": 500},
                 {"notify_at_before_start": False}, None, id="A-R5 500 person-days is not over 500"),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "expected", "rule_id"), TABLE)
def test_building_work_duties(changes: dict[str, Any], expected: dict[str, Any], rule_id: str | None) -> None:
    decision = decide("contractor_job", job(work_types=["construction"], **changes), on=ON)
    assert {name: decision.decision[name] for name in expected} == expected
    if rule_id:
        assert rule_id in decision.fired


@pytest.mark.parametrize(
    "changes",
    [
        {"max_persons_simultaneously": 25, "particularly_dangerous_work": True},
        {"duration_workdays": 40, "max_persons_simultaneously": 25, "person_days": 900},
        {"employers_on_site_simultaneously": 4},
    ],
)
def test_a_r3_a_r4_a_r5_the_client_duties_apply_to_building_work_only(changes: dict[str, Any]) -> None:
    decision = decided(work_types=["service_visit", "it_equipment"], **changes)
    assert decision["pss_required"] is False
    assert decision["notify_at_before_start"] is False
    assert decision["coordinator_required"] is False
    assert decision["large_site_meetings"] == []


def test_a_r4_a_large_building_site_needs_start_up_and_safety_meetings_and_walk_rounds() -> None:
    decision = decided(work_types=["construction"], max_persons_simultaneously=11)
    assert decision["large_site_meetings"] == ["startup_meeting", "safety_meetings", "safety_walk_rounds"]
    assert decided(work_types=["construction"], max_persons_simultaneously=10)["large_site_meetings"] == []


# --- A-R6 to A-R10 -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("hazard", HAZARDS)
def test_a_r6_any_location_hazard_requires_introduction_before_access(hazard: str) -> None:
    decision = decide("contractor_job", job(location_hazards=[hazard]), on=ON)
    assert decision.decision["introduction_before_access"] is True
    assert "A-R6" in decision.fired


def test_a_r6_a_place_without_special_hazards_needs_no_introduction_before_access() -> None:
    decision = decide("contractor_job", job(location_hazards=[]), on=ON)
    assert decision.decision["introduction_before_access"] is False
    assert "A-R6" not in decision.fired


def test_the_registration_form_carries_every_fact_of_the_contract() -> None:
    """The process's start form names its fields after the rule set's facts, so the case data is the facts."""
    fields = set(get_form("contractor_job_registration").schema["properties"])
    assert set(job()) <= fields


PERMITS = [
    pytest.param({"hot_work": True}, ["hot_work"], id="A-R8 hot work"),
    pytest.param({"location_hazards": ["fume_hood_or_ventilation_shutdown"]}, ["ventilation_shutdown"],
                 id="A-R8 fume hood or ventilation shutdown"),
    pytest.param({"location_hazards": ["asbestos_pcb_suspected"]}, ["asbestos_pcb"], id="A-R8 asbestos or PCB"),
    pytest.param({"hot_work": True, "location_hazards": ["asbestos_pcb_suspected", "fume_hood_or_ventilation_shutdown",
                                                           "chemicals"]},
                 ["hot_work", "ventilation_shutdown", "asbestos_pcb"], id="A-R8 all three, in the contract's order"),
    pytest.param({"location_hazards": ["chemicals", "laser", "cryogens"]}, [], id="A-R8 other hazards need no permit"),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "permits"), PERMITS)
def test_a_r8_permits(changes: dict[str, Any], permits: list[str]) -> None:
    decision = decide("contractor_job", job(**changes), on=ON)
    assert decision.decision["permits"] == permits
    assert ("A-R8" in decision.fired) == bool(permits)


def test_a_r8_an_uncontrolled_hazard_blocks_the_start() -> None:
    decision = decide("contractor_job", job(uncontrolled_hazard=True), on=ON)
    assert decision.decision["start_blocked"] is True
    assert "A-R8" in decision.fired
    assert decided()["start_blocked"] is False


def test_a_r7_an_internal_supplier_gives_dtu_the_employer_duty_to_instruct() -> None:
    decision = decide("contractor_job", job(supplier_internal=True), on=ON)
    assert decision.decision["employer_instruction_duty"] is True
    assert "A-R7" in decision.fired
    assert decided(supplier_internal=False)["employer_instruction_duty"] is False


def test_a_r10_a_worker_alone_in_a_hazard_area_gets_the_lone_work_check() -> None:
    decision = decide("contractor_job", job(worker_alone_in_hazard_area=True, location_hazards=["laser"]), on=ON)
    assert decision.decision["lone_work_check"] is True
    assert "A-R10" in decision.fired
    assert decided(location_hazards=["laser"])["lone_work_check"] is False


def test_a_r9_a_change_of_scope_is_decided_again_with_the_new_facts() -> None:
    """A-R9 is a process concern (the BPMN loops back to the risk assessment); re-deciding reopens duties."""
    before = decided(work_types=["service_visit"])
    after = decided(work_types=["service_visit", "alteration"], location_hazards=["asbestos_pcb_suspected"])
    assert (before["building_work"], before["introduction_before_access"], before["permits"]) == (False, False, [])
    assert (after["building_work"], after["introduction_before_access"], after["permits"]) == (
        True,
        True,
        ["asbestos_pcb"],
    )


def test_every_decision_rule_id_has_a_description_and_the_process_concerns_have_none() -> None:
    descriptions = rule_descriptions("contractor_job")
    assert set(descriptions) == {"A-R1", "A-R2", "A-R3", "A-R4", "A-R5", "A-R6", "A-R7", "A-R8", "A-R10"}
    assert all(text["da"] and text["en"] and text["source"] for text in descriptions.values())


# --- parameters and facts ------------------------------------------------------------------------------------


def test_the_thresholds_are_effective_dated_parameters_recorded_with_the_decision() -> None:
    decision = decide("contractor_job", job(work_types=["demolition"]), on=ON)
    assert decision.parameters["contractor_job.notify_at.person_days_above"] == 500
    assert decision.parameters["contractor_job.site_size.large_above_persons"] == 10
    assert "demolition" in decision.parameters["contractor_job.building_work_types"]


def test_only_work_types_is_required_the_rest_has_defaults() -> None:
    decision = decide("contractor_job", {"work_types": ["maintenance"]}, on=ON).decision
    assert decision["building_work"] is True
    assert decision["site_size"] == "small"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"work_types": ["gardening"]}, "work_types"),
        ({"location_hazards": ["dragons"]}, "location_hazards"),
        ({"hot_work": "yes"}, "hot_work"),
        ({"max_persons_simultaneously": -1}, "max_persons_simultaneously"),
        ({"person_days": 2.5}, "person_days"),
        ({"work_types": None}, "work_types"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_facts_are_refused_naming_the_fact(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidFacts) as caught:
        decide("contractor_job", job(**changes), on=ON)
    assert set(caught.value.fields) == {field}
