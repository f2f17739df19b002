"""The lone-work approval (Godkendelse af alenearbejde) run through the real engine, rules and database.

Each route of bpmn/lone_work_approval.bpmn, with the DOMAIN.md rule that sends the case there.
"""

from __future__ import annotations

import datetime as dt

import pytest

from processes import (
    FixedClock,
    case_messages,
    complete_task,
    create_user,
    fire_due_timers,
    get_case,
    list_tasks,
    process_cases,
    send_message,
    start_case,
)
from processes.errors import Forbidden, InvalidData
from processes.store.models import AuditEvent, Case, CaseTimer, Notification
from tests.samples import days_from_today

# The application starts tomorrow and ends in seven weeks, so an approval until its end is active on the real
# clock (its reminder, 30 days before the end, not yet due) whenever the suite runs; tests of the validity
# timers move a FixedClock of their own.

APPLICATION = {
    "applicant_name": "Anna Ansat",
    "applicant_role": "employee",
    "applicant_age": 34,
    "location": {"campus": "Lyngby", "building": "207", "room": "112"},
    "task_description": "Destillation i stinkskab efter kl. 18",
    "start_date": days_from_today(1),
    "end_date": days_from_today(48),
    "time_windows": [{"days": "working_days", "from": "08:00", "to": "16:00"}],
    "another_competent_person_within_reach": False,
    "hazards": ["chemicals_flammable"],
    "mitigations": ["check_in_calls", "phone_coverage_checked", "alarm_device"],
    "instruction_completed": True,
    "instruction_date": days_from_today(-10),
    "instruction_by": "Karl Koordinator",
}
REVIEW = {
    "risk_assessment": [{"hazard": "Brand", "consequence": "Forbrænding", "measure": "Stinkskab",
                         "residual_risk": "low"}],
    "mitigations_adequate": True,
}
APPROVE = {"decision": "approve", "conditions": "Tjek ind hver time", "valid_until": APPLICATION["end_date"]}


@pytest.fixture
def db(bundled_db):
    """Every shipped diagram deployed (tests/processes/conftest.py's bundled_db)."""
    return bundled_db


@pytest.fixture
def people(db):
    return {
        "anna": create_user(db, "anna", password="anna-password", groups=["employees"], units=["kemi"],
                            email="anna@example.dtu.dk"),
        "karl": create_user(db, "karl", password="karl-password", groups=["amk"], units=["kemi"],
                            email="karl@example.dtu.dk", language="en"),
        "lene": create_user(db, "lene", password="lene-password", groups=["leaders"], units=["kemi"],
                            email="lene@example.dtu.dk"),
    }


def start(db, people, **changes):
    return start_case(db, process="lone_work_approval", unit="kemi", data={**APPLICATION, **changes},
                      actor=people["anna"])


def only_task(case):
    assert len(case.tasks) == 1, case.tasks
    return case.tasks[0]


def notifications(db, case_id):
    """What the process asked to send (template, user, group), in order; the outbox expands it per recipient."""
    with db.read() as session:
        rows = session.query(AuditEvent).filter_by(case_id=case_id, kind="notification_queued").order_by(AuditEvent.id)
        return [(row.detail["template"], row.detail["recipient_user"], row.detail["recipient_group"]) for row in rows]


def outbox(db, case_id):
    with db.read() as session:
        rows = session.query(Notification).filter_by(case_id=case_id).order_by(Notification.id)
        return [(row.template, row.to_address) for row in rows]


def test_risky_lone_work_goes_to_the_amk_then_the_leader_and_ends_approved(db, people):
    """B-R4: a hazard that can be counteracted -> G2, review and approval."""
    case = start(db, people)
    assert case.decisions[0].decision["group"] == "G2"
    assert {"B-R1", "B-R4"} <= set(case.decisions[0].fired)
    review = only_task(case)
    assert (review.name, review.group, review.unit) == ("amk_review", "amk", "kemi")
    case = complete_task(db, review.id, data=REVIEW, actor=people["karl"])
    approval = only_task(case)
    assert (approval.name, approval.group) == ("leader_approval", "leaders")
    case = complete_task(db, approval.id, data=APPROVE, actor=people["lene"])
    assert case.status == "completed"
    assert case.data["decision"] == "approve"
    assert case.data["valid_until"] == APPLICATION["end_date"]
    assert case.data["lone_work"]["label"] == "risikofyldt"
    assert ("lone_work_approved", "anna", None) in notifications(db, case.id)
    assert outbox(db, case.id) == [
        ("task_assigned", "karl@example.dtu.dk"),  # the AMK review, to the kemi AMKs
        ("task_assigned", "lene@example.dtu.dk"),  # the approval, to the kemi leaders
        ("lone_work_approved", "anna@example.dtu.dk"),
    ]


@pytest.mark.parametrize("hazard", ["high_voltage", "live_electrical_work", "hydrofluoric_acid", "confined_space"])
def test_prohibited_lone_work_is_rejected_at_once_and_the_applicant_told(db, people, hazard):
    """B-R3 / BEK 1839/2023 § 11(1), 2nd sentence: a danger that cannot be counteracted -> G3."""
    case = start(db, people, hazards=[hazard, "chemicals_flammable"])
    assert case.status == "rejected"
    assert case.tasks == []
    assert case.decisions[0].decision["group"] == "G3"
    assert "B-R3" in case.decisions[0].fired
    assert notifications(db, case.id) == [("lone_work_rejected", "anna", None)]


def test_lone_work_without_hazards_is_registered_and_the_leader_notified(db, people):
    """B-R2: no hazard flag -> G1, registered without approval."""
    case = start(db, people, hazards=[], mitigations=[])
    assert case.status == "completed"
    assert case.decisions[0].decision["route"] == "register"
    assert notifications(db, case.id) == [("lone_work_registered", None, "leaders")]
    assert "notification_queued" in [entry.kind for entry in case.history]


def test_with_a_competent_person_within_reach_it_is_not_lone_work(db, people):
    """B-R1: G0 wins over every hazard."""
    case = start(db, people, another_competent_person_within_reach=True, hazards=["high_voltage"])
    assert case.status == "completed"
    assert case.decisions[0].decision["group"] == "G0"
    assert notifications(db, case.id) == []


def test_a_student_needs_the_supervisors_coapproval_before_the_leader(db, people):
    """B-R8: students need supervisor co-approval."""
    case = start(db, people, applicant_role="student")
    case = complete_task(db, only_task(case).id, data=REVIEW, actor=people["karl"])
    coapproval = only_task(case)
    assert (coapproval.name, coapproval.group) == ("supervisor_coapproval", "leaders")
    case = complete_task(db, coapproval.id, data={"coapproved": True}, actor=people["lene"])
    assert only_task(case).name == "leader_approval"


def test_a_named_supervisor_gets_the_coapproval_and_no_leader_sees_it(db, people):
    """B-R8 with issue #11: the supervisor named in the application is the one who co-approves."""
    people["rasmus"] = create_user(db, "rasmus", password="rasmus-password", groups=["employees"], units=["kemi"])
    case = start(db, people, applicant_role="student", supervisor_username="rasmus")
    case = complete_task(db, only_task(case).id, data=REVIEW, actor=people["karl"])
    coapproval = only_task(case)
    assert (coapproval.name, coapproval.group, coapproval.assignee) == ("supervisor_coapproval", None, "rasmus")
    with pytest.raises(Forbidden):
        complete_task(db, coapproval.id, data={"coapproved": True}, actor=people["lene"])
    case = complete_task(db, coapproval.id, data={"coapproved": True}, actor=people["rasmus"])
    assert only_task(case).name == "leader_approval"


def test_an_unknown_supervisor_name_leaves_the_coapproval_with_the_leaders(db, people):
    case = start(db, people, applicant_role="student", supervisor_username="nobody-of-that-name")
    case = complete_task(db, only_task(case).id, data=REVIEW, actor=people["karl"])
    assert (only_task(case).group, only_task(case).assignee) == ("leaders", None)


def test_a_supervisor_without_an_account_waits_for_the_first_log_in(db, people):
    """An e-mail address with no account keeps the task until a user with that address is created."""
    case = start(db, people, applicant_role="student", supervisor_username="Jens.Kofoed@example.dtu.dk")
    case = complete_task(db, only_task(case).id, data=REVIEW, actor=people["karl"])
    assert only_task(case).assignee == "jens.kofoed@example.dtu.dk"
    jens = create_user(db, "jenko", password="a-long-password", name="Jens Kofoed",
                       email="jens.kofoed@example.dtu.dk", groups=["employees"], units=["kemi"])
    assert [task.id for task in list_tasks(db, actor=jens)[0]] == [only_task(case).id]


def test_an_applicant_under_18_goes_to_the_young_worker_check_first(db, people):
    """B-R7: applicants under 18."""
    case = start(db, people, applicant_age=16)
    check = only_task(case)
    assert (check.name, check.group) == ("young_worker_check", "amk")
    case = complete_task(db, check.id, data={"outcome": "reject", "comment": "Ikke under 18"}, actor=people["karl"])
    assert case.status == "rejected"


def test_sent_back_the_applicant_changes_the_application_and_it_is_classified_again(db, people):
    case = start(db, people)
    case = complete_task(db, only_task(case).id, data=REVIEW, actor=people["karl"])
    case = complete_task(db, only_task(case).id, actor=people["lene"],
                         data={"decision": "send_back", "reason": "Beskriv kemikalierne"})
    revise = only_task(case)
    # assigned to the applicant by name: no group's queue shows it (issue #11)
    assert (revise.name, revise.group, revise.assignee) == ("applicant_revise", None, "anna")
    case = complete_task(db, revise.id, data={**APPLICATION, "hazards": []}, actor=people["anna"])
    assert case.status == "completed"
    assert [d.decision["group"] for d in get_case(db, case.id, actor=people["anna"]).decisions] == ["G2", "G1"]


def test_the_leader_can_reject_with_a_reason(db, people):
    case = start(db, people)
    case = complete_task(db, only_task(case).id, data=REVIEW, actor=people["karl"])
    case = complete_task(db, only_task(case).id, actor=people["lene"],
                         data={"decision": "reject", "reason": "Risikoen er for stor"})
    assert case.status == "rejected"


def test_an_approval_is_followed_by_a_reminder_30_days_before_it_ends_and_then_expires(db, people):
    """B-R9 / B.8: the approval carries a validity end date; remind 30 days before, expire at its end."""
    clock = FixedClock(dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC))
    case = start_case(db, process="lone_work_approval", unit="kemi", actor=people["anna"], clock=clock,
                      data={**APPLICATION, "start_date": "2026-12-01", "end_date": "2027-08-31"})
    case = complete_task(db, only_task(case).id, data=REVIEW, actor=people["karl"], clock=clock)
    case = complete_task(db, only_task(case).id, data={**APPROVE, "valid_until": "2027-06-30"},
                         actor=people["lene"], clock=clock)
    assert case.status == "completed"
    [spawned] = [entry.detail for entry in case.history if entry.kind == "case_spawned"]
    validity_id = spawned["case"]
    with db.read() as session:
        assert session.get(Case, validity_id).started_by == "anna"
        # 08:00 in Copenhagen (summer time, +02:00) 30 days before 30 June 2027
        assert session.get(CaseTimer, validity_id).due_at == dt.datetime(2027, 5, 31, 6, 0, tzinfo=dt.UTC)

    assert get_case(db, validity_id, actor=people["anna"]).data["approval_status"] == "active"
    clock.at = dt.datetime(2027, 5, 31, 5, 59, tzinfo=dt.UTC)
    assert fire_due_timers(db, clock=clock).fired == 0
    clock.at = dt.datetime(2027, 5, 31, 6, 0, 1, tzinfo=dt.UTC)
    assert fire_due_timers(db, clock=clock).fired == 1
    assert notifications(db, validity_id) == [
        ("lone_work_expiry_reminder", "anna", None), ("lone_work_expiry_reminder", None, "leaders")]
    assert get_case(db, validity_id, actor=people["anna"]).data["approval_status"] == "expiring"

    clock.at = dt.datetime(2027, 6, 30, 21, 59, 59, 500000, tzinfo=dt.UTC)  # 23:59:59.5 in Copenhagen
    assert fire_due_timers(db, clock=clock).fired == 1
    assert notifications(db, validity_id)[2:] == [
        ("lone_work_expired", "anna", None), ("lone_work_expired", None, "leaders")]
    assert get_case(db, validity_id, actor=people["anna"]).status == "completed"
    assert get_case(db, validity_id, actor=people["anna"]).data["approval_status"] == "expired"


# --- B-R6: the instruction is recorded before an approval or a registration takes effect -----------------

INSTRUCTED = {"instructed_on": "2026-11-30", "instructed_by": "Karl Koordinator",
              "instruction_covered": "Stinkskab, nødbruser, alarm og nødprocedure"}
NOT_INSTRUCTED = {"instruction_completed": False, "instruction_date": None, "instruction_by": None}


def without(data, *names):
    return {key: value for key, value in data.items() if key not in names}


def mails(db, case_id, template):
    with db.read() as session:
        return [row.body for row in session.query(Notification).filter_by(case_id=case_id, template=template)]


@pytest.mark.parametrize(("group", "changes"), [
    pytest.param("G1", {"hazards": [], "mitigations": []}, id="G1 registration"),
    pytest.param("G2", {}, id="G2 approval"),
])
def test_an_instruction_recorded_in_the_application_needs_no_instruction_task_and_the_letter_names_it(
        db, people, group, changes):
    """B-R6: the applicant ticked it and gave the date and the instructor: no instruction task."""
    case = start(db, people, **changes)
    assert case.decisions[0].decision["group"] == group
    assert case.decisions[0].decision["instruction_required"] is False
    if group == "G2":
        case = complete_task(db, only_task(case).id, data=REVIEW, actor=people["karl"])
        case = complete_task(db, only_task(case).id, data=APPROVE, actor=people["lene"])
    assert case.status == "completed"
    assert "instruction" not in [entry.detail.get("task") for entry in case.history if entry.kind == "task_created"]
    letter = "lone_work_registered" if group == "G1" else "lone_work_approved"
    [body, *_] = mails(db, case.id, letter)
    assert APPLICATION["instruction_date"] in body and "Karl Koordinator" in body


@pytest.mark.parametrize(("group", "changes"), [
    pytest.param("G1", {"hazards": [], "mitigations": []}, id="G1 registration"),
    pytest.param("G2", {}, id="G2 approval"),
])
def test_without_a_recorded_instruction_the_case_waits_for_the_amk_to_give_it_and_the_letter_says_so(
        db, people, group, changes):
    """B-R6 / § 11(2): no date or instructor in the application -> the unit's AMK instructs and records it."""
    case = start_case(db, process="lone_work_approval", unit="kemi", actor=people["anna"],
                      data=without({**APPLICATION, **changes, "instruction_completed": False},
                                   "instruction_date", "instruction_by"))
    assert case.decisions[0].decision["instruction_required"] is True
    if group == "G2":
        case = complete_task(db, only_task(case).id, data=REVIEW, actor=people["karl"])
        case = complete_task(db, only_task(case).id, data=APPROVE, actor=people["lene"])
    instruction = only_task(case)
    assert (instruction.name, instruction.group, instruction.unit) == ("instruction", "amk", "kemi")
    assert case.status == "running"
    letter = "lone_work_registered" if group == "G1" else "lone_work_approved"
    assert mails(db, case.id, letter) == []  # nobody is told before the instruction is recorded
    with pytest.raises(Forbidden):
        complete_task(db, instruction.id, data=INSTRUCTED, actor=people["anna"])

    case = complete_task(db, instruction.id, data=INSTRUCTED, actor=people["karl"])

    assert case.status == "completed"
    assert (case.data["instruction_completed"], case.data["instruction_date"], case.data["instruction_by"]) == (
        True, "2026-11-30", "Karl Koordinator")
    [body, *_] = mails(db, case.id, letter)
    assert "2026-11-30" in body and "Karl Koordinator" in body and "nødprocedure" in body


# --- B-R9: validity at most the rules' latest_valid_until ----------------------------------------------

@pytest.mark.parametrize(("valid_until", "refused"), [
    pytest.param(days_from_today(48), False, id="the end date itself"),
    pytest.param(days_from_today(40), False, id="before the end date"),
    pytest.param(days_from_today(49), True, id="a day past the end date"),
    pytest.param(days_from_today(48 + 190), True, id="months past the end date"),
    pytest.param(days_from_today(0), True, id="before the start date"),
])
def test_the_leaders_valid_until_is_held_to_the_latest_the_rules_allow_b_r9(db, people, valid_until, refused):
    case = start(db, people)
    assert case.decisions[0].decision["latest_valid_until"] == APPLICATION["end_date"]
    case = complete_task(db, only_task(case).id, data=REVIEW, actor=people["karl"])
    approval = only_task(case)
    if not refused:
        assert complete_task(db, approval.id, data={**APPROVE, "valid_until": valid_until},
                             actor=people["lene"]).status == "completed"
        return
    with pytest.raises(InvalidData) as raised:
        complete_task(db, approval.id, data={**APPROVE, "valid_until": valid_until}, actor=people["lene"])
    assert list(raised.value.fields) == ["valid_until"]
    assert get_case(db, case.id, actor=people["lene"]).tasks[0].id == approval.id


def test_a_year_long_application_is_held_to_twelve_months_from_the_start_b_r9(db, people):
    case = start(db, people, start_date="2026-12-01", end_date="2028-06-30")  # refused: no clock meets these
    assert case.decisions[0].decision["latest_valid_until"] == "2027-11-30"
    case = complete_task(db, only_task(case).id, data=REVIEW, actor=people["karl"])
    with pytest.raises(InvalidData) as raised:
        complete_task(db, only_task(case).id, data={**APPROVE, "valid_until": "2027-12-01"}, actor=people["lene"])
    assert "2027-11-30" in raised.value.fields["valid_until"]  # Lene reads Danish
    assert "12 måneder" in raised.value.fields["valid_until"]


# --- B-R5 refusals name the measures as the form does, in the person's language ------------------------

def test_a_refusal_names_the_missing_measures_by_their_labels_in_the_persons_language_b_r5(db, people):
    case = start(db, people, mitigations=["check_in_calls"])
    assert case.data["lone_work"]["missing_mitigations"] == ["alarm_device", "phone_coverage_checked"]
    review = only_task(case)
    with pytest.raises(InvalidData) as raised:  # Karl reads English
        complete_task(db, review.id, data=REVIEW, actor=people["karl"])
    message = raised.value.fields["mitigations_adequate"]
    assert "Lone-worker (man-down) alarm device; Mobile coverage checked" in message
    assert "phone_coverage_checked" not in message and "alarm_device" not in message
    case = complete_task(db, review.id, data={**REVIEW, "mitigations_adequate": False}, actor=people["karl"])
    with pytest.raises(InvalidData) as raised:  # Lene reads Danish
        complete_task(db, only_task(case).id, data=APPROVE, actor=people["lene"])
    message = raised.value.fields["decision"]
    assert message.startswith("Kan ikke godkendes")
    assert "Mand-ned-alarm eller anden alarmenhed; Mobildækning kontrolleret" in message
    assert "phone_coverage_checked" not in message and "alarm_device" not in message



# --- B-R9: revocation, a reported change and re-assessment, the unit's list of approvals ----------------

def approved_validity(db, people, clock, **changes):
    """An approved G2 application; the id of its validity case."""
    case = start_case(db, process="lone_work_approval", unit="kemi", data={**APPLICATION, **changes},
                      actor=people["anna"], clock=clock)
    case = complete_task(db, only_task(case).id, data=REVIEW, actor=people["karl"], clock=clock)
    case = complete_task(db, only_task(case).id, data=APPROVE, actor=people["lene"], clock=clock)
    assert case.status == "completed"
    [spawned] = [entry.detail for entry in case.history if entry.kind == "case_spawned"]
    return spawned["case"]


@pytest.fixture
def clock():
    """Two months before the application starts: before the reminder of an approval until its end."""
    start_date = dt.date.fromisoformat(APPLICATION["start_date"])
    return FixedClock(dt.datetime.combine(start_date - dt.timedelta(days=61), dt.time(9, 0), tzinfo=dt.UTC))


@pytest.mark.parametrize("who", ["lene", "anna"])
def test_the_leader_revokes_or_the_applicant_withdraws_and_the_validity_case_ends_revoked(db, people, clock, who):
    validity_id = approved_validity(db, people, clock)
    # the unit's leader reads the validity case (process property readers) and may revoke it
    offered = {message.name for message in case_messages(db, validity_id, actor=people[who], clock=clock)}
    assert offered == {"revoke approval", "report a change"}
    assert case_messages(db, validity_id, actor=people["karl"], clock=clock) == []  # the AMK reads, not revokes
    with pytest.raises(Forbidden):
        send_message(db, validity_id, "revoke approval", data={"revocation_reason": "x"}, actor=people["karl"],
                     clock=clock)
    case = send_message(db, validity_id, "revoke approval", data={"revocation_reason": "Stinkskabet er defekt"},
                        actor=people[who], clock=clock)
    assert case.status == "completed"
    assert case.data["approval_status"] == "revoked"
    assert case.data["revocation_reason"] == "Stinkskabet er defekt"
    assert notifications(db, validity_id)[-2:] == [
        ("lone_work_revoked", "anna", None), ("lone_work_revoked", None, "leaders")]
    assert "Stinkskabet er defekt" in mails(db, validity_id, "lone_work_revoked")[0]
    with db.read() as session:
        assert session.get(CaseTimer, validity_id) is None  # no reminder, no expiry any more


def test_a_reported_change_starts_a_reassessment_with_the_old_answers_which_supersedes_the_approval(
        db, people, clock):
    validity_id = approved_validity(db, people, clock)
    with pytest.raises(InvalidData):
        send_message(db, validity_id, "report a change", data={"change_kinds": ["kitchen"]}, actor=people["anna"],
                     clock=clock)
    validity = send_message(db, validity_id, "report a change",
                            data={"change_kinds": ["room", "chemicals"], "change_description": "Nyt lokale 114"},
                            actor=people["lene"], clock=clock)
    assert validity.status == "running"
    assert validity.data["approval_status"] == "active"  # until the re-assessment is decided
    [spawned] = [entry.detail for entry in validity.history if entry.kind == "case_spawned"]
    assert spawned["process"] == "lone_work_approval"
    again = get_case(db, spawned["case"], actor=people["anna"])
    assert again.started_by == "anna"
    assert {key: again.data[key] for key in APPLICATION} == APPLICATION  # the old answers
    assert again.data["previous_case"] == validity_id
    assert again.data["previous_approval"]["valid_until"] == APPLICATION["end_date"]
    assert again.data["previous_approval"]["change_kinds"] == ["room", "chemicals"]
    assert case_messages(db, validity_id, actor=people["anna"], clock=clock)  # the users never see the internal one
    assert "supersede approval" not in {m.name for m in case_messages(db, validity_id, actor=people["lene"],
                                                                     clock=clock)}
    # the re-assessment is decided: a new approval; the old one is superseded and ends
    again = complete_task(db, only_task(again).id, data=REVIEW, actor=people["karl"], clock=clock)
    again = complete_task(db, only_task(again).id, data={**APPROVE, "valid_until": days_from_today(40)},
                          actor=people["lene"], clock=clock)
    assert again.status == "completed"
    old = get_case(db, validity_id, actor=people["lene"])
    assert (old.status, old.data["approval_status"], old.data["superseded_by"]) == ("completed", "superseded", again.id)
    [sent] = [entry.detail for entry in again.history if entry.kind == "message_sent"]
    assert (sent["case"], sent["delivered"]) == (validity_id, True)
    [new_validity] = [entry.detail["case"] for entry in again.history if entry.kind == "case_spawned"]
    assert get_case(db, new_validity, actor=people["anna"]).data["approval_status"] == "active"


def test_a_first_application_supersedes_nothing(db, people, clock):
    case = start_case(db, process="lone_work_approval", unit="kemi", data={**APPLICATION, "hazards": ["high_voltage"]},
                      actor=people["anna"], clock=clock)
    assert case.status == "rejected"
    assert [entry for entry in case.history if entry.kind == "message_sent"] == []


def test_the_units_approvals_are_listed_with_their_status_for_its_leaders_and_amk(db, people, clock):
    first = approved_validity(db, people, clock)
    clock.at += dt.timedelta(minutes=5)  # newest first
    second = approved_validity(db, people, clock, task_description="Laser i kælderen")
    send_message(db, first, "revoke approval", data={"revocation_reason": "Fratrådt"}, actor=people["lene"],
                 clock=clock)
    emil = create_user(db, "emil", password="emil-password", groups=["leaders"], units=["energi"])
    for who in ("lene", "karl"):
        listed = process_cases(db, process="lone_work_validity", unit="kemi", actor=people[who])
        assert listed.columns == ("approval_status", "valid_until", "applicant_name", "task_description", "group")
        assert [(row.id, row.columns["approval_status"], row.columns["valid_until"]) for row in listed.rows] == [
            (second, "active", APPLICATION["end_date"]), (first, "revoked", APPLICATION["end_date"])]
    active = process_cases(db, process="lone_work_validity", unit="kemi", actor=people["lene"],
                        where={"approval_status": "active"})
    assert [row.id for row in active.rows] == [second]
    assert process_cases(db, process="lone_work_validity", unit="kemi", actor=emil).rows == []  # another unit's leader
    with pytest.raises(InvalidData) as refused:
        process_cases(db, process="lone_work_validity", actor=people["lene"], where={"hazards": "x"})
    assert "hazards" in refused.value.fields
