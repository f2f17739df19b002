"""Effective-dated parameters (DOMAIN.md § 0.3) and the accident_report rule set that reads them (§ C)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from rules import ParameterError, RulesError, decide, parameter, rule_descriptions
from rules.parameters import table_from_document

BEFORE_L31 = datetime.date(2026, 6, 30)
FROM_L31 = datetime.date(2026, 7, 1)


@pytest.mark.parametrize(
    ("key", "on", "value"),
    [
        pytest.param("accident.report.absence_threshold_days.ASL", datetime.date(2022, 7, 1), 1, id="ASL first day"),
        pytest.param("accident.report.absence_threshold_days.ASL", BEFORE_L31, 1, id="ASL the day before L 31"),
        pytest.param("accident.report.absence_threshold_days.ASL", FROM_L31, 3, id="ASL from L 31"),
        pytest.param("accident.report.absence_threshold_days.ASL", datetime.date(2030, 1, 1), 3, id="ASL later"),
        pytest.param("accident.report.absence_threshold_days.AT", FROM_L31, 1, id="AT unchanged"),
        pytest.param("accident.report.deadline_days_after_first_absence", FROM_L31, 14, id="14 days, not 9"),
        pytest.param("death.notify_AES_hours", FROM_L31, 48, id="death by phone within 48 h"),
        pytest.param("precursors.dtu_internal_unit_deadline", FROM_L31, "2026-06-15", id="precursor unit deadline"),
        pytest.param("lone_work.young_worker_age_below", FROM_L31, 18, id="young worker threshold"),
    ],
)
def test_a_parameter_has_the_value_of_its_latest_valid_from_on_or_before_the_date(
    key: str, on: datetime.date, value: Any
) -> None:
    assert parameter(key, on) == value


def test_a_parameter_before_its_first_valid_from_is_an_error_that_says_so() -> None:
    with pytest.raises(ParameterError) as caught:
        parameter("accident.report.absence_threshold_days.ASL", datetime.date(2022, 6, 30))
    assert "no value on 2022-06-30" in caught.value.message
    assert "2022-07-01" in caught.value.message
    assert isinstance(caught.value, RulesError)


def test_an_unknown_parameter_is_an_error() -> None:
    with pytest.raises(ParameterError, match="unknown parameter"):
        parameter("accident.report.deadline_days_after_coffee", FROM_L31)


def test_parameter_values_handed_out_are_copies() -> None:
    value = parameter("lone_work.prohibited_hazards", FROM_L31)
    value.append("tampered")
    assert "tampered" not in parameter("lone_work.prohibited_hazards", FROM_L31)


def test_the_table_picks_by_date_whatever_order_the_file_lists_the_values_in() -> None:
    table = table_from_document(
        {
            "x": [
                {"value": "c", "valid_from": "2030-01-01"},
                {"value": "a", "valid_from": "2020-01-01"},
                {"value": "b", "valid_from": "2025-06-15"},
            ]
        }
    )
    assert table.value("x", datetime.date(2020, 1, 1)) == "a"
    assert table.value("x", datetime.date(2025, 6, 14)) == "a"
    assert table.value("x", datetime.date(2025, 6, 15)) == "b"
    assert table.value("x", datetime.date(2029, 12, 31)) == "b"
    assert table.value("x", datetime.date(2030, 1, 1)) == "c"


def test_deciding_before_a_needed_parameter_applies_is_a_clear_rules_error() -> None:
    facts = {
        "another_competent_person_within_reach": False,
        "hazards": [],
        "outside_normal_hours": False,
        "applicant_role": "employee",
        "applicant_age": 40,
        "instruction_completed": True,
    }
    with pytest.raises(RulesError) as caught:
        decide("lone_work", facts, on=datetime.date(1999, 1, 1))
    assert "rule set 'lone_work' cannot decide on 1999-01-01" in caught.value.message
    assert "earliest valid_from is 2024-01-01" in caught.value.message


# --- accident_report -----------------------------------------------------------------------------------


def accident(**changes: Any) -> dict[str, Any]:
    """A sudden work accident with one day of absence beyond the injury day; then changes."""
    facts: dict[str, Any] = {"personal_injury": True, "exposure": "sudden", "absence_days_beyond_injury_day": 1}
    facts.update(changes)
    return facts


REPORTING = [
    pytest.param(
        {"personal_injury": False}, BEFORE_L31,
        {"track": "near_miss", "report_to_at": False, "report_to_aes": False}, ("C-R8",),
        id="C-R8 a near-miss is registered internally only",
    ),
    pytest.param(
        {"absence_days_beyond_injury_day": 0}, BEFORE_L31,
        {"track": "accident", "report_to_at": False, "report_to_aes": False}, ("C-R1", "C-R11", "C-R8"),
        id="C-R1 an accident without absence or compensation need not be reported",
    ),
    pytest.param(
        {}, BEFORE_L31,
        {"report_to_at": True, "at_deadline_from": "first_absence_day", "at_deadline_days": 14,
         "report_to_aes": True, "aes_deadline_from": "first_absence_day", "aes_deadline_days": 14},
        ("C-R1", "C-R2", "C-R3", "C-R11", "C-R8"), id="C-R2 C-R3 one day of absence before 2026-07-01: AT and AES",
    ),
    pytest.param(
        {"absence_days_beyond_injury_day": 2}, FROM_L31,
        {"report_to_at": True, "report_to_aes": False, "aes_deadline_from": "none", "aes_deadline_days": None},
        ("C-R1", "C-R2", "C-R11", "C-R8"), id="C-R3 two days of absence from 2026-07-01: AT only",
    ),
    pytest.param(
        {"absence_days_beyond_injury_day": 3}, FROM_L31,
        {"report_to_at": True, "report_to_aes": True, "aes_deadline_from": "first_absence_day"},
        ("C-R1", "C-R2", "C-R3", "C-R11", "C-R8"), id="C-R3 three days of absence from 2026-07-01: AT and AES",
    ),
    pytest.param(
        {"absence_days_beyond_injury_day": 0, "compensation_possible": True}, BEFORE_L31,
        {"report_to_at": False, "report_to_aes": True, "aes_deadline_from": "injury_date", "aes_deadline_days": 14},
        ("C-R1", "C-R4", "C-R11", "C-R8"), id="C-R4 no absence but compensation possible: AES from the injury date",
    ),
    pytest.param(
        {"absence_days_beyond_injury_day": 2, "compensation_possible": True}, FROM_L31,
        {"report_to_at": True, "at_deadline_from": "first_absence_day", "report_to_aes": True,
         "aes_deadline_from": "injury_date"},
        ("C-R1", "C-R2", "C-R4", "C-R11", "C-R8"), id="C-R4 below the new ASL threshold, compensation still reported",
    ),
    pytest.param(
        {"exposure": "over_5_days", "absence_days_beyond_injury_day": 30}, BEFORE_L31,
        {"track": "occupational_disease", "report_to_at": False, "report_to_aes": False, "advise_doctor": True},
        ("C-R1", "C-R12", "C-R11", "C-R8"), id="C-R1 C-R12 a disease is reported by the doctor, not the employer",
    ),
    pytest.param(
        {"exposure": "uncertain"}, BEFORE_L31,
        {"track": "both", "recommend_report": True, "advise_doctor": True, "report_to_at": True},
        ("C-R1", "C-R7", "C-R12", "C-R2", "C-R3", "C-R11", "C-R8"),
        id="C-R7 uncertain: both tracks, reporting recommended",
    ),
    pytest.param(
        {"fatal": True, "absence_days_beyond_injury_day": 0}, FROM_L31,
        {"report_to_at": True, "report_to_aes": True, "phone_aes_within_hours": 48},
        ("C-R1", "C-R6", "C-R10", "C-R11", "C-R8"), id="C-R6 a death: phone AES within 48 hours",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "on", "expected", "fired"), REPORTING)
def test_reportability_follows_the_rules_and_the_parameters_of_the_day(
    changes: dict[str, Any], on: datetime.date, expected: dict[str, Any], fired: tuple[str, ...]
) -> None:
    decision = decide("accident_report", accident(**changes), on=on)
    assert {key: decision.decision[key] for key in expected} == expected
    assert decision.fired == fired


def test_the_same_accident_is_decided_with_the_threshold_of_its_date() -> None:
    facts = accident(absence_days_beyond_injury_day=2)
    before = decide("accident_report", facts, on=BEFORE_L31)
    after = decide("accident_report", facts, on=FROM_L31)
    assert before.decision["report_to_aes"] is True
    assert after.decision["report_to_aes"] is False
    assert before.parameters["accident.report.absence_threshold_days.ASL"] == 1
    assert after.parameters["accident.report.absence_threshold_days.ASL"] == 3
    assert after.parameters["accident.report.absence_threshold_days.AT"] == 1


def test_every_accident_rule_id_is_described() -> None:
    descriptions = rule_descriptions("accident_report")
    assert {"C-R1", "C-R2", "C-R3", "C-R4", "C-R6", "C-R7", "C-R8", "C-R12"} <= set(descriptions)
    assert "ASL § 31" in descriptions["C-R3"]["source"]


def test_a_parameter_on_a_datetime_uses_its_danish_date() -> None:
    just_after_midnight = datetime.datetime(2026, 6, 30, 22, 30, tzinfo=datetime.UTC)  # 00:30 on 1 July in Denmark
    assert parameter("accident.report.absence_threshold_days.ASL", just_after_midnight) == 3
