"""The accident_report rule set (DOMAIN.md section C, rules C-R1..C-R12) against the contract of issue #14.

Decisions are made without ``on`` unless a row says otherwise: the law of the injury day applies, so the
rows on both sides of 2026-07-01 (ASL § 31 threshold 1 -> 3 days) show the change by their dates alone.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from rules import InvalidFacts, ParameterError, decide, fact_names, rule_descriptions

ISSUE_14_FACTS = {
    "personal_injury", "exposure", "absence_days_beyond_injury_day", "compensation_possible", "fatal",
    "injury_date", "injury_time", "first_absence_day", "event_type", "perpetrator",
    "perpetrator_is_nearest_leader", "outside_working_hours", "work_related", "near_miss",
}  # fmt: skip
ISSUE_14_FIELDS = {
    "track", "report_to_at", "at_deadline_from", "at_deadline_days", "report_to_aes", "aes_deadline_from",
    "aes_deadline_days", "phone_aes_within_hours", "recommend_report", "advise_doctor", "at_deadline",
    "aes_deadline", "phone_aes_deadline", "hr_confidential_track", "escalate_to_next_leader", "who_reports",
}  # fmt: skip


def accident(**changes: Any) -> dict[str, Any]:
    """A sudden accident at work on Wednesday 4 March 2026, absent from the next day for one day; then changes."""
    facts: dict[str, Any] = {
        "personal_injury": True, "exposure": "sudden", "absence_days_beyond_injury_day": 1,
        "injury_date": "2026-03-04", "first_absence_day": "2026-03-05",
    }  # fmt: skip
    facts.update(changes)
    return facts


def test_the_contract_has_the_names_of_issue_14() -> None:
    assert set(fact_names("accident_report")) == ISSUE_14_FACTS
    decision = decide("accident_report", accident()).decision
    assert set(decision) >= ISSUE_14_FIELDS


def test_every_rule_id_c_r1_to_c_r12_is_described() -> None:
    descriptions = rule_descriptions("accident_report")
    assert set(descriptions) == {f"C-R{number}" for number in range(1, 13)}
    assert all(text["da"] and text["en"] and text["source"] for text in descriptions.values())


# --- C-R2, C-R3, C-R4: deadlines to the minute ---------------------------------------------------------------

DEADLINES = [
    pytest.param(
        {}, "2026-03-19T23:59:00+01:00", "2026-03-19T23:59:00+01:00",
        id="C-R2 C-R3 14 days after the first day of absence at 23:59 winter time",
    ),
    pytest.param(
        {"injury_date": "2026-01-19", "first_absence_day": "2026-01-20"},
        "2026-02-03T23:59:00+01:00", "2026-02-03T23:59:00+01:00", id="C-R2 C-R3 over the end of January",
    ),
    pytest.param(
        {"injury_date": "2026-02-19", "first_absence_day": "2026-02-20"},
        "2026-03-06T23:59:00+01:00", "2026-03-06T23:59:00+01:00", id="C-R2 C-R3 over the end of February (28 days)",
    ),
    pytest.param(
        {"injury_date": "2026-03-13", "first_absence_day": "2026-03-14"},
        "2026-03-28T23:59:00+01:00", "2026-03-28T23:59:00+01:00", id="C-R2 C-R3 last day before summer time",
    ),
    pytest.param(
        {"injury_date": "2026-03-14", "first_absence_day": "2026-03-15"},
        "2026-03-29T23:59:00+02:00", "2026-03-29T23:59:00+02:00",
        id="C-R2 C-R3 last day is the last Sunday of March: summer time",
    ),
    pytest.param(
        {"injury_date": "2026-10-09", "first_absence_day": "2026-10-10", "absence_days_beyond_injury_day": 3},
        "2026-10-24T23:59:00+02:00", "2026-10-24T23:59:00+02:00", id="C-R2 C-R3 last day before winter time",
    ),
    pytest.param(
        {"injury_date": "2026-10-10", "first_absence_day": "2026-10-11", "absence_days_beyond_injury_day": 3},
        "2026-10-25T23:59:00+01:00", "2026-10-25T23:59:00+01:00",
        id="C-R2 C-R3 last day is the last Sunday of October: winter time",
    ),
    pytest.param(
        {"injury_date": "2026-06-16", "first_absence_day": "2026-06-17"},
        "2026-07-01T23:59:00+02:00", "2026-07-01T23:59:00+02:00",
        id="C-R2 C-R3 injured in June, due in July: the June law still applies",
    ),
    pytest.param(
        {"injury_date": "2026-10-01", "first_absence_day": "2026-10-19"},
        "2026-11-02T23:59:00+01:00", None,
        id="C-R2 C-R3 a first day of absence long after the injury, 1 day from 2026-07-01: AT only",
    ),
    pytest.param(
        {"injury_date": "2026-12-17", "first_absence_day": "2026-12-18", "absence_days_beyond_injury_day": 3},
        "2027-01-01T23:59:00+01:00", "2027-01-01T23:59:00+01:00", id="C-R2 C-R3 over the year end",
    ),
    pytest.param(
        {"first_absence_day": None}, None, None,
        id="C-R2 C-R3 reports due, first day of absence not known yet: no deadline yet",
    ),
    pytest.param(
        {"absence_days_beyond_injury_day": 0, "first_absence_day": None}, None, None,
        id="C-R1 no absence, no compensation: no report, no deadline",
    ),
    pytest.param(
        {"absence_days_beyond_injury_day": 0, "first_absence_day": None, "compensation_possible": True,
         "injury_date": "2026-10-11"},
        None, "2026-10-25T23:59:00+01:00", id="C-R4 14 days after the injury day, into winter time",
    ),
    pytest.param(
        {"absence_days_beyond_injury_day": 0, "first_absence_day": None, "compensation_possible": True,
         "injury_date": "2026-03-15"},
        None, "2026-03-29T23:59:00+02:00", id="C-R4 14 days after the injury day, into summer time",
    ),
    pytest.param(
        {"absence_days_beyond_injury_day": 2, "compensation_possible": True, "injury_date": "2026-07-20",
         "first_absence_day": "2026-07-22"},
        "2026-08-05T23:59:00+02:00", "2026-08-03T23:59:00+02:00",
        id="C-R2 C-R4 below the new ASL threshold: AT from the absence, AES from the injury day",
    ),
    pytest.param(
        {"absence_days_beyond_injury_day": 2, "compensation_possible": True, "injury_date": "2026-06-20",
         "first_absence_day": "2026-06-22"},
        "2026-07-06T23:59:00+02:00", "2026-07-06T23:59:00+02:00",
        id="C-R2 C-R3 same facts in June: AES from the first day of absence",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "at_deadline", "aes_deadline"), DEADLINES)
def test_the_deadline_instant_is_2359_copenhagen_time_on_the_last_day(
    changes: dict[str, Any], at_deadline: str | None, aes_deadline: str | None
) -> None:
    decision = decide("accident_report", accident(**changes)).decision
    assert (decision["at_deadline"], decision["aes_deadline"]) == (at_deadline, aes_deadline)


# --- the law of the injury day --------------------------------------------------------------------------------

THRESHOLD = [
    pytest.param("2026-06-30", 1, True, id="C-R3 injured 2026-06-30, one day: AES (threshold 1)"),
    pytest.param("2026-07-01", 1, False, id="C-R3 injured 2026-07-01, one day: no AES (threshold 3)"),
    pytest.param("2026-06-30", 2, True, id="C-R3 injured 2026-06-30, two days: AES"),
    pytest.param("2026-07-01", 2, False, id="C-R3 injured 2026-07-01, two days: no AES"),
    pytest.param("2026-07-01", 3, True, id="C-R3 injured 2026-07-01, three days: AES"),
]


@pytest.mark.parametrize(("injury_date", "days", "report_to_aes"), THRESHOLD)
def test_without_on_the_law_of_the_injury_day_applies(injury_date: str, days: int, report_to_aes: bool) -> None:
    day = datetime.date.fromisoformat(injury_date)
    facts = accident(injury_date=injury_date, first_absence_day=(day + datetime.timedelta(days=1)).isoformat(),
                     absence_days_beyond_injury_day=days)
    decision = decide("accident_report", facts)
    assert decision.on == day
    assert decision.decision["report_to_aes"] is report_to_aes
    assert decision.decision["report_to_at"] is True  # C-R2: AT's 1-day rule is unchanged
    assert ("C-R3" in decision.fired) is report_to_aes


def test_a_given_date_wins_over_the_injury_day() -> None:
    facts = accident(injury_date="2026-06-30", first_absence_day="2026-07-01")
    decision = decide("accident_report", facts, on=datetime.date(2026, 7, 1))
    assert decision.on == datetime.date(2026, 7, 1)
    assert decision.decision["report_to_aes"] is False


# --- C-R6: a death --------------------------------------------------------------------------------------------

PHONE = [
    pytest.param({"injury_time": "10:00"}, "2026-03-06T10:00:00+01:00", id="C-R6 48 hours later in winter"),
    pytest.param({"injury_date": "2026-03-27", "injury_time": "22:30", "first_absence_day": None},
                 "2026-03-29T23:30:00+02:00", id="C-R6 48 elapsed hours over the March change"),
    pytest.param({"injury_date": "2026-10-23", "injury_time": "12:00", "first_absence_day": None},
                 "2026-10-25T11:00:00+01:00", id="C-R6 48 elapsed hours over the October change"),
    pytest.param({"injury_date": "2026-04-29", "injury_time": "23:59", "first_absence_day": None},
                 "2026-05-01T23:59:00+02:00", id="C-R6 over a month end, to the minute"),
    pytest.param({}, "2026-03-06T00:00:00+01:00", id="C-R6 time unknown: from the start of the injury day"),
    pytest.param({"injury_date": None, "first_absence_day": None}, None, id="C-R6 injury day unknown: no instant"),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "expected"), PHONE)
def test_a_death_is_phoned_to_aes_48_hours_after_the_injury(changes: dict[str, Any], expected: str | None) -> None:
    decision = decide("accident_report", accident(fatal=True, **changes), on=datetime.date(2026, 3, 4)).decision
    assert decision["phone_aes_within_hours"] == 48
    assert decision["phone_aes_deadline"] == expected
    assert decision["report_to_at"] is decision["report_to_aes"] is True


def test_no_phone_deadline_without_a_death() -> None:
    decision = decide("accident_report", accident(injury_time="10:00")).decision
    assert decision["phone_aes_within_hours"] is None
    assert decision["phone_aes_deadline"] is None


# --- C-R1 .. C-R12: what is decided --------------------------------------------------------------------------

RULES = [
    pytest.param(
        {},
        {"track": "accident", "who_reports": "employer", "report_to_at": True, "report_to_aes": True,
         "recommend_report": False, "advise_doctor": False, "register_internally": True, "investigate_by_amg": True},
        ("C-R1", "C-R2", "C-R3", "C-R11", "C-R8"), id="C-R1 C-R2 C-R3 C-R8 an accident at work with absence",
    ),
    pytest.param(
        {"exposure": "over_5_days", "absence_days_beyond_injury_day": 20, "event_type": "bullying_episode",
         "perpetrator": "student"},
        {"track": "occupational_disease", "who_reports": "doctor", "advise_doctor": True, "report_to_at": False,
         "report_to_aes": False, "at_deadline": None, "aes_deadline": None, "hr_confidential_track": False},
        ("C-R1", "C-R12", "C-R11", "C-R8"), id="C-R1 C-R12 prolonged bullying by a student: the doctor reports",
    ),
    pytest.param(
        {"exposure": "uncertain"},
        {"track": "both", "who_reports": "employer", "recommend_report": True, "advise_doctor": True,
         "report_to_at": True, "at_deadline": "2026-03-19T23:59:00+01:00"},
        ("C-R1", "C-R7", "C-R12", "C-R2", "C-R3", "C-R11", "C-R8"), id="C-R7 uncertain exposure: both tracks",
    ),
    pytest.param(
        {"event_type": "threat_verbal", "perpetrator": "visitor_external", "outside_working_hours": True},
        {"violence_outside_working_hours": True, "report_to_at": True, "at_deadline_from": "first_absence_day",
         "at_deadline": "2026-03-19T23:59:00+01:00", "report_to_aes": True},
        ("C-R1", "C-R5", "C-R3", "C-R10", "C-R11", "C-R8"),
        id="C-R5 a work-related threat outside working hours: AT on the same terms",
    ),
    pytest.param(
        {"event_type": "physical_violence", "perpetrator": "student", "outside_working_hours": True,
         "absence_days_beyond_injury_day": 0, "first_absence_day": None},
        {"violence_outside_working_hours": True, "report_to_at": False, "at_deadline": None},
        ("C-R1", "C-R5", "C-R10", "C-R11", "C-R8"), id="C-R5 violence outside working hours without absence: no report",
    ),
    pytest.param(
        {"event_type": "threat_online", "outside_working_hours": True, "work_related": False},
        {"violence_outside_working_hours": False, "report_to_at": False, "report_to_aes": False,
         "at_deadline": None, "aes_deadline": None},
        ("C-R1", "C-R10", "C-R11", "C-R8"), id="C-R5 a threat outside working hours not caused by the work",
    ),
    pytest.param(
        {"event_type": "traumatic_event_witnessed", "outside_working_hours": True},
        {"violence_outside_working_hours": False, "report_to_at": False, "report_to_aes": True,
         "ensure_psychological_first_aid": True},
        ("C-R1", "C-R3", "C-R10", "C-R11", "C-R8"),
        id="C-R5 a traumatic event outside working hours is no AT case; AES still (work-related)",
    ),
    pytest.param(
        {"work_related": False},
        {"track": "accident", "report_to_at": False, "report_to_aes": False, "register_internally": True},
        ("C-R1", "C-R11", "C-R8"), id="C-R1 not a consequence of the work: no statutory report",
    ),
    pytest.param(
        {"fatal": True, "absence_days_beyond_injury_day": 0, "first_absence_day": None, "work_related": False},
        {"report_to_at": True, "report_to_aes": True, "phone_aes_deadline": "2026-03-06T00:00:00+01:00",
         "ensure_psychological_first_aid": True},
        ("C-R1", "C-R6", "C-R10", "C-R11", "C-R8"), id="C-R6 a death is always reported, EASY assesses it",
    ),
    pytest.param(
        {"personal_injury": False, "near_miss": True, "absence_days_beyond_injury_day": 0, "first_absence_day": None},
        {"track": "near_miss", "who_reports": "none", "report_to_at": False, "register_internally": True,
         "investigate_by_amg": True, "inform_right_to_report": False, "injured_party_claim_deadline": None},
        ("C-R8",), id="C-R8 a near-miss is registered and investigated",
    ),
    pytest.param(
        {"personal_injury": False, "absence_days_beyond_injury_day": 0, "first_absence_day": None},
        {"track": "near_miss", "register_internally": True, "investigate_by_amg": False},
        ("C-R8",), id="C-R8 an incident without injury and no near-miss is registered only",
    ),
    pytest.param(
        {"personal_injury": False, "event_type": "threat_written", "absence_days_beyond_injury_day": 0,
         "first_absence_day": None},
        {"track": "near_miss", "investigate_by_amg": True, "ensure_psychological_first_aid": True},
        ("C-R8", "C-R10"), id="C-R8 C-R10 a threat without injury is investigated",
    ),
    pytest.param(
        {"event_type": "harassment", "perpetrator": "colleague"},
        {"hr_confidential_track": True, "escalate_to_next_leader": False, "ensure_psychological_first_aid": False},
        ("C-R1", "C-R2", "C-R3", "C-R9", "C-R11", "C-R8"), id="C-R9 harassment by a colleague: confidential HR track",
    ),
    pytest.param(
        {"event_type": "sexual_harassment", "perpetrator": "leader", "perpetrator_is_nearest_leader": True},
        {"hr_confidential_track": True, "escalate_to_next_leader": True},
        ("C-R1", "C-R2", "C-R3", "C-R9", "C-R11", "C-R8"),
        id="C-R9 sexual harassment by the nearest leader: HR track and the next leader",
    ),
    pytest.param(
        {"event_type": "bullying_episode", "perpetrator": "leader"},
        {"hr_confidential_track": True, "escalate_to_next_leader": False},
        ("C-R1", "C-R2", "C-R3", "C-R9", "C-R11", "C-R8"), id="C-R9 bullying by another leader: HR track only",
    ),
    pytest.param(
        {"event_type": "harassment", "perpetrator": "student"},
        {"hr_confidential_track": False, "escalate_to_next_leader": False},
        ("C-R1", "C-R2", "C-R3", "C-R11", "C-R8"), id="C-R9 harassment by a student: no HR track",
    ),
    pytest.param(
        {"event_type": "physical_violence", "perpetrator": "leader", "perpetrator_is_nearest_leader": True},
        {"hr_confidential_track": False, "escalate_to_next_leader": True, "ensure_psychological_first_aid": True},
        ("C-R1", "C-R2", "C-R3", "C-R9", "C-R10", "C-R11", "C-R8"),
        id="C-R9 violence by the nearest leader: the next leader handles it",
    ),
    pytest.param(
        {"event_type": "robbery", "perpetrator": "unknown"},
        {"ensure_psychological_first_aid": True, "hr_confidential_track": False},
        ("C-R1", "C-R2", "C-R3", "C-R10", "C-R11", "C-R8"), id="C-R10 a robbery: psychological first aid",
    ),
    pytest.param(
        {"event_type": "other"}, {"ensure_psychological_first_aid": False},
        ("C-R1", "C-R2", "C-R3", "C-R11", "C-R8"), id="C-R10 an ordinary accident: no first-aid check",
    ),
    pytest.param(
        {"absence_days_beyond_injury_day": 0, "first_absence_day": None},
        {"inform_right_to_report": True, "injured_party_claim_deadline": "P1Y", "report_to_aes": False},
        ("C-R1", "C-R11", "C-R8"), id="C-R11 the injured person may report to AES within a year",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "expected", "fired"), RULES)
def test_the_rules_decide_track_reports_and_handling(
    changes: dict[str, Any], expected: dict[str, Any], fired: tuple[str, ...]
) -> None:
    decision = decide("accident_report", accident(**changes))
    assert {key: decision.decision[key] for key in expected} == expected
    assert decision.fired == fired


def test_todays_facts_alone_still_decide_with_their_old_meaning() -> None:
    """A caller that knows only the first version's five facts gets the same reporting duties as before."""
    facts = {"personal_injury": True, "exposure": "sudden", "absence_days_beyond_injury_day": 1}
    decision = decide("accident_report", facts, on=datetime.date(2026, 6, 30)).decision
    assert decision["report_to_at"] is decision["report_to_aes"] is True
    assert decision["at_deadline_from"] == decision["aes_deadline_from"] == "first_absence_day"
    assert decision["at_deadline"] is None  # no first day of absence given: not known yet


# --- bad facts -------------------------------------------------------------------------------------------------

BAD = [
    pytest.param({"first_absence_day": "2026-03-04"}, "first_absence_day", "must be after injury_date",
                 id="first day of absence on the injury day"),
    pytest.param({"first_absence_day": "2026-03-01"}, "first_absence_day", "must be after injury_date",
                 id="first day of absence before the injury"),
    pytest.param({"injury_date": "2026-02-29"}, "injury_date", "not a date", id="no 29 February in 2026"),
    pytest.param({"injury_date": "4/3/2026"}, "injury_date", "expected a date", id="not an ISO date"),
    pytest.param({"injury_time": "24:00"}, "injury_time", "HH:MM", id="no such time"),
    pytest.param({"event_type": "duel"}, "event_type", "unknown value", id="an unknown event type"),
    pytest.param({"perpetrator": "ghost"}, "perpetrator", "unknown value", id="an unknown perpetrator"),
    pytest.param({"perpetrator": "colleague", "perpetrator_is_nearest_leader": True},
                 "perpetrator_is_nearest_leader", "only applies when perpetrator is \"leader\"",
                 id="the nearest leader but not a leader"),
    pytest.param({"near_miss": True}, "near_miss", "only applies when personal_injury is false",
                 id="a near-miss with an injury"),
    pytest.param({"outside_working_hours": "yes"}, "outside_working_hours", "expected a boolean", id="not a bool"),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "field", "problem"), BAD)
def test_bad_or_contradicting_facts_are_refused_naming_the_fact(
    changes: dict[str, Any], field: str, problem: str
) -> None:
    with pytest.raises(InvalidFacts) as caught:
        decide("accident_report", accident(**changes))
    assert set(caught.value.fields) == {field}
    assert problem in caught.value.fields[field]


def test_an_injury_day_before_the_first_parameters_is_refused_naming_the_parameter() -> None:
    with pytest.raises(ParameterError) as caught:
        decide("accident_report", accident(injury_date="2021-03-04", first_absence_day="2021-03-05"))
    assert "2021-03-04" in caught.value.message
