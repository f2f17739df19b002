"""The psychological work-accident reporting chain (bpmn/psych_accident_report.bpmn, issue #14) through the real
engine, rules, database, worker and a real SMTP server on loopback.

The scenario of the issue: a visitor threatens an employee on Wednesday 4 March 2026; the leader reports two
days' absence from Thursday three days later (a message into the running case); the rules run again with the
law of the injury day; the EASY task for DTU Arbejdsmiljø is due 14 days after the first day of absence at
23:59 Copenhagen time; the reminder goes out three days before (moved clock); the receipt is recorded; the
AMR investigates; the case closes and the statistics count it without a name.
"""

from __future__ import annotations

import datetime as dt

import pytest

from processes import (
    FixedClock,
    complete_task,
    create_user,
    get_case,
    process_statistics,
    run_pass,
    send_message,
    start_case,
    statistics_csv,
)
from processes.errors import Forbidden, InvalidData
from processes.store.models import AuditEvent

UTC = dt.UTC
INTAKE = {
    "reporter_role": "affected",
    "personal_injury": True,
    "what_happened": "A visitor at the reception shouted that he would hurt me and followed me to the office.",
    "where": "Building 101, reception",
    "injury_date": "2026-03-04",
    "injury_time": "14:30",
    "event_type": "threat_verbal",
    "perpetrator": "visitor_external",
    "outside_working_hours": False,
    "work_related": True,
    "exposure": "sudden",
    "absence_days_beyond_injury_day": 0,
    "witnesses": "Bo Vidne",
    "police_report": True,
    "police_reference": "0100-12345-00001-26",
    "psychological_first_aid": True,
    "first_aid_by": "Lene Leder, at once",
}


@pytest.fixture
def db(bundled_db):
    """Every shipped diagram deployed (tests/processes/conftest.py's bundled_db)."""
    return bundled_db


@pytest.fixture
def people(db):
    make = lambda name, groups, units, **kw: create_user(  # noqa: E731
        db, name, password=None, groups=groups, units=units, email=f"{name}@example.dtu.dk", **kw)
    return {
        "anna": make("anna", ["employees"], ["kemi"]),
        "lene": make("lene", ["leaders"], ["kemi"]),
        "rektor": make("rektor", ["leaders"], ["dtu"]),
        "rita": make("rita", ["amr"], ["kemi"]),
        "karl": make("karl", ["amk"], ["kemi"]),
        "ulla": make("ulla", ["arbejdsmiljo"], ["cas-ab"]),
        "hanne": make("hanne", ["hr"], ["kemi"]),
        "eva": make("eva", ["employees"], ["kemi"]),
    }


def at(year, month, day, hour=12, minute=0, second=0):
    """A clock at that UTC instant (Copenhagen is UTC+1 in winter, UTC+2 in summer)."""
    return FixedClock(dt.datetime(year, month, day, hour, minute, second, tzinfo=UTC))


def task_named(case, name):
    found = [task for task in case.tasks if task.name == name]
    assert len(found) == 1, [task.name for task in case.tasks]
    return found[0]


def test_a_visitors_threat_with_absence_reported_later(db, people, smtp_server):
    clock = at(2026, 3, 4, 14)
    case = start_case(db, process="psych_accident_report", unit="kemi", data=INTAKE, actor=people["anna"],
                      clock=clock)
    assert case.data["classification"]["report_to_at"] is False  # no absence yet: nothing to report
    assert {t.name for t in case.tasks} == {"follow_up"}

    clock = at(2026, 3, 7, 9)
    case = send_message(db, case.id, "absence", data={"first_absence_day": "2026-03-05",
                                                      "absence_days_beyond_injury_day": 2},
                        actor=people["lene"], clock=clock)
    assert case.data["classification"]["at_deadline"] == "2026-03-19T23:59:00+01:00"
    easy = task_named(case, "easy_report")
    assert (easy.group, easy.assignee) == ("arbejdsmiljo", None)
    assert easy.due_at == dt.datetime(2026, 3, 19, 22, 59, tzinfo=UTC)

    # the reminder: 08:00 Copenhagen three days before the deadline day, not a minute earlier
    assert run_pass(db, clock=at(2026, 3, 16, 6, 59), smtp_url=smtp_server.url).timers.fired == 0
    assert run_pass(db, clock=at(2026, 3, 16, 7, 0, 1), smtp_url=smtp_server.url).timers.fired == 1
    reminders = [m for m in smtp_server.received if m.message["Subject"].startswith("Påmindelse")]
    assert [m.rcpt_tos for m in reminders] == [("ulla@example.dtu.dk",)]
    body = reminders[0].message.get_content()
    assert "visitor" not in body and "Building 101" not in body and "Anna" not in body

    case = complete_task(db, easy.id, data={"receipt_number": "EASY-2026-000123", "submitted_on": "2026-03-17"},
                         actor=people["ulla"], clock=at(2026, 3, 17, 10))
    case = complete_task(db, task_named(case, "follow_up").id,
                         data={"conversation_held_on": "2026-03-09", "crisis_psychologist_offered": True},
                         actor=people["lene"], clock=at(2026, 3, 17, 11))
    case = complete_task(db, task_named(case, "investigation").id,
                         data={"causes": "Open reception", "apv_update_needed": True,
                               "measures": [{"measure": "Reception desk with a barrier", "owner": "CAS",
                                             "due_date": "2026-05-01"}]},
                         actor=people["rita"], clock=at(2026, 3, 20, 10))
    assert case.status == "completed"
    assert case.data["receipt_number"] == "EASY-2026-000123"


def test_sexual_harassment_by_the_nearest_leader_goes_to_hr_and_the_leader_above(db, people):
    data = {**INTAKE, "event_type": "sexual_harassment", "perpetrator": "leader",
            "perpetrator_is_nearest_leader": True, "perpetrator_username": "lene"}
    case = start_case(db, process="psych_accident_report", unit="kemi", data=data, actor=people["anna"],
                      clock=at(2026, 3, 4))
    follow_up = task_named(case, "follow_up")
    assert (follow_up.group, follow_up.assignee) == (None, "rektor")  # C-R9: not lene, the next level
    with pytest.raises(Forbidden):
        get_case(db, case.id, actor=people["lene"])  # the reported leader does not read the case

    case = complete_task(db, follow_up.id, data={"conversation_held_on": "2026-03-05",
                                                 "crisis_psychologist_offered": True},
                         actor=people["rektor"], clock=at(2026, 3, 5))
    hr = task_named(case, "hr_track")
    assert (hr.group, hr.unit) == ("hr", "kemi")
    assert get_case(db, case.id, actor=people["hanne"]).id == case.id


def test_a_death_gives_a_phone_task_due_48_hours_after_the_event(db, people):
    data = {**INTAKE, "event_type": "physical_violence", "fatal": True, "injury_date": "2026-03-27",
            "injury_time": "22:30"}
    case = start_case(db, process="psych_accident_report", unit="kemi", data=data, actor=people["lene"],
                      clock=at(2026, 3, 27, 22))
    phone = task_named(case, "phone_aes")
    assert phone.group == "arbejdsmiljo"
    assert phone.due_at == dt.datetime(2026, 3, 29, 21, 30, tzinfo=UTC)  # 23:30 summer time: 48 elapsed hours


def test_the_occupational_disease_track_requires_the_doctor_advice(db, people):
    data = {**INTAKE, "event_type": "bullying_episode", "perpetrator": "student", "exposure": "over_5_days"}
    case = start_case(db, process="psych_accident_report", unit="kemi", data=data, actor=people["anna"],
                      clock=at(2026, 3, 4))
    assert case.data["classification"]["who_reports"] == "doctor"
    assert {t.name for t in case.tasks} == {"follow_up"}  # the doctor reports: no EASY task, no waiting
    follow_up = task_named(case, "follow_up")
    with pytest.raises(InvalidData) as refused:
        complete_task(db, follow_up.id, data={"conversation_held_on": "2026-03-05",
                                              "crisis_psychologist_offered": False},
                      actor=people["lene"], clock=at(2026, 3, 5))
    assert "C-R12" in refused.value.fields["doctor_visit_advised"]
    case = complete_task(db, follow_up.id, data={"conversation_held_on": "2026-03-05",
                                                 "crisis_psychologist_offered": False, "doctor_visit_advised": True},
                         actor=people["lene"], clock=at(2026, 3, 5))
    assert {t.name for t in case.tasks} == {"investigation"}


def test_a_near_miss_takes_the_short_path_to_the_amr(db, people):
    data = {"reporter_role": "witness", "personal_injury": False, "near_miss": True, "event_type": "threat_written",
            "what_happened": "A threatening note on a lab door", "injury_date": "2026-07-02"}
    case = start_case(db, process="psych_accident_report", unit="kemi", data=data, actor=people["eva"],
                      clock=at(2026, 7, 2))
    review = task_named(case, "near_miss_review")
    assert review.group == "amr"
    case = complete_task(db, review.id, data={"potential_severity": "medium", "assessment": "Lock the door"},
                         actor=people["rita"], clock=at(2026, 7, 3))
    assert case.status == "completed"
    with db.read() as session:
        kinds = [row.kind for row in session.query(AuditEvent).filter_by(case_id=case.id)]
    assert "task_created" in kinds and kinds.count("decision") == 1


def test_the_statistics_count_by_type_track_and_timeliness_without_names(db, people):
    on_time = start_case(db, process="psych_accident_report", unit="kemi",
                         data={**INTAKE, "compensation_possible": True}, actor=people["anna"], clock=at(2026, 3, 4))
    complete_task(db, task_named(on_time, "easy_report").id,
                  data={"receipt_number": "R1", "submitted_on": "2026-03-10"}, actor=people["ulla"],
                  clock=at(2026, 3, 10))
    late = start_case(db, process="psych_accident_report", unit="kemi",
                      data={**INTAKE, "compensation_possible": True, "event_type": "robbery"}, actor=people["anna"],
                      clock=at(2026, 3, 4))
    complete_task(db, task_named(late, "easy_report").id, data={"receipt_number": "R2", "submitted_on": "2026-03-19"},
                  actor=people["ulla"], clock=at(2026, 3, 18, 23, 0))  # 00:00 on the 19th in Copenhagen: late

    view = process_statistics(db, "psych_accident_report", actor=people["karl"], unit="kemi", clock=at(2026, 3, 20))
    [kemi] = view.units
    assert kemi.cases == 2
    assert kemi.by["event_type"] == {"robbery": 1, "threat_verbal": 1}
    assert kemi.by["classification.track"] == {"accident": 2}
    assert kemi.tasks["easy_report"] == {"on_time": 1, "late": 1, "open_overdue": 0}
    text = statistics_csv(view)
    assert "kemi,task:easy_report,late,1" in text
    assert "visitor at the reception" not in text and "anna" not in text and "Building" not in text

    assert process_statistics(db, "psych_accident_report", actor=people["ulla"]).units[0].cases == 2  # central
    for outsider in ("eva", "lene", "hanne"):
        with pytest.raises(Forbidden):
            process_statistics(db, "psych_accident_report", actor=people[outsider], unit="kemi")
    with pytest.raises(Forbidden):  # the AMK of kemi reads kemi's statistics only
        process_statistics(db, "psych_accident_report", actor=people["karl"], unit="energi")
