"""Server-side validation of form data: every error, keyed by field path, in short English."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from forms import (
    FORMAT_CHECKER,
    Form,
    FormNotFound,
    InvalidForm,
    form_exists,
    form_from_documents,
    form_name_from_filename,
    form_name_from_properties,
    form_names,
    get_form,
    validate,
    validate_with,
)
from forms.messages import translate
from forms.registry import is_valid_name

VALID_APPLICATION: dict[str, Any] = {
    "applicant_name": "Mette Hansen",
    "applicant_phone": "+45 45 25 25 25",
    "applicant_role": "phd",
    "applicant_age": 29,
    "supervisor_name": "Jens Kofoed",
    "location": {"campus": "Lyngby", "building": "207", "room": "112"},
    "task_description": "Syntese i stinkskab, opfølgning på reaktioner der kører over natten.",
    "equipment": "Stinkskab, magnetomrører",
    "procedure_reference": "SOP-KEMI-017",
    "start_date": "2026-02-02",
    "end_date": "2026-06-30",
    "time_windows": [
        {"days": "working_days", "from": "18:00", "to": "22:00"},
        {"days": "saturday", "from": "10:00", "to": "14:00", "from_date": "2026-03-07", "to_date": "2026-03-28"},
    ],
    "another_competent_person_within_reach": False,
    "hazards": ["chemicals_flammable", "cryogenics"],
    "chemicals": [
        {"name": "Acetone", "cas": "67-64-1", "hazard_class": "Flam. Liq. 2, H225", "quantity": "500 ml"},
        {"name": "Flydende nitrogen"},
    ],
    "mitigations": ["check_in_calls", "buddy_named", "phone_coverage_checked"],
    "buddy_name": "Lars Holm",
    "buddy_phone": "+4512345678",
    "check_in_interval_minutes": 30,
    "alarm_device_id": "MD-12",
    "instruction_completed": True,
    "instruction_date": "2026-01-15",
    "instruction_by": "Jens Kofoed",
}

APPLICATION_REQUIRED = [
    "applicant_name",
    "applicant_role",
    "applicant_age",
    "location",
    "task_description",
    "start_date",
    "time_windows",
    "another_competent_person_within_reach",
    "hazards",
    "mitigations",
    "instruction_completed",
]


def application(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(VALID_APPLICATION)
    data.update(changes)
    return data


def test_a_complete_application_is_valid() -> None:
    assert validate("lone_work_application", VALID_APPLICATION) == {}


def test_an_application_with_only_the_required_fields_and_no_hazards_is_valid() -> None:
    minimal = {field: VALID_APPLICATION[field] for field in APPLICATION_REQUIRED}
    minimal.update(hazards=[], mitigations=[], location={"room": "112"})
    assert validate("lone_work_application", minimal) == {}


@pytest.mark.parametrize("field", APPLICATION_REQUIRED)
def test_a_missing_required_field_is_named(field: str) -> None:
    data = application()
    del data[field]
    assert validate("lone_work_application", data) == {field: "This field is required."}


def test_every_error_is_returned_at_once() -> None:
    errors = validate("lone_work_application", {"applicant_age": 12, "hazards": ["asbestos"]})
    assert errors["applicant_age"] == "Must be at least 14."
    assert errors["hazards.0"] == "'asbestos' is not an allowed value."
    assert set(APPLICATION_REQUIRED) - {"applicant_age", "hazards"} <= set(errors)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"hazards": ["cryogenics", "asbestos"]}, "hazards.1", "'asbestos' is not an allowed value."),
        ({"hazards": ["cryogenics", "cryogenics"]}, "hazards", "Must not contain the same value twice."),
        ({"hazards": "cryogenics"}, "hazards", "Must be a list."),
        ({"mitigations": ["prayer"]}, "mitigations.0", "'prayer' is not an allowed value."),
        ({"applicant_role": "professor"}, "applicant_role", "Must be one of: employee, phd, student, guest."),
        ({"applicant_age": 13}, "applicant_age", "Must be at least 14."),
        ({"applicant_age": 101}, "applicant_age", "Must be at most 100."),
        ({"applicant_age": "29"}, "applicant_age", "Must be a whole number."),
        ({"applicant_age": 29.5}, "applicant_age", "Must be a whole number."),
        ({"applicant_age": True}, "applicant_age", "Must be a whole number."),
        ({"another_competent_person_within_reach": "yes"}, "another_competent_person_within_reach",
         "Must be true or false."),
        ({"time_windows": "hverdage 18.00-22.00"}, "time_windows", "Must be a list."),
        ({"time_windows": []}, "time_windows", "Must have at least 1 entry."),
        ({"time_windows": [{"days": "weekdays", "from": "18.00", "to": "22:00"}]}, "time_windows.0.from",
         "Must be a time such as 18:00."),
        ({"time_windows": [{"days": "weekdays", "from": "18:00", "to": "24:01"}]}, "time_windows.0.to",
         "Must be a time such as 22:00."),
        ({"time_windows": [{"days": "holidays", "from": "18:00", "to": "22:00"}]}, "time_windows.0.days",
         "'holidays' is not an allowed value."),
        ({"time_windows": [{"from": "18:00", "to": "22:00"}]}, "time_windows.0.days", "This field is required."),
        ({"instruction_completed": 1}, "instruction_completed", "Must be true or false."),
        ({"applicant_name": ""}, "applicant_name", "Must not be empty."),
        ({"task_description": "x" * 4001}, "task_description", "Must be at most 4000 characters."),
        ({"applicant_phone": "call me"}, "applicant_phone", "Must be a phone number, e.g. +45 45 25 25 25."),
        ({"check_in_interval_minutes": 1}, "check_in_interval_minutes", "Must be at least 5."),
        ({"location": {"building": "207"}}, "location.room", "This field is required."),
        ({"location": {"room": "112", "floor": "1"}}, "location.floor", "Unknown field."),
        ({"location": "207/112"}, "location", "Must be an object."),
        (
            {"chemicals": [{"name": "HF", "cas": "7664393"}]},
            "chemicals.0.cas",
            "Must be a CAS number such as 7664-39-3.",
        ),
        ({"chemicals": [{"cas": "7664-39-3"}]}, "chemicals.0.name", "This field is required."),
        ({"favourite_colour": "blue"}, "favourite_colour", "Unknown field."),
    ],
)
def test_an_invalid_application_field_is_named_with_a_clear_message(
    changes: dict[str, Any], field: str, message: str
) -> None:
    assert validate("lone_work_application", application(**changes)) == {field: message}


@pytest.mark.parametrize(
    "value", ["2026-02-30", "2026-13-01", "02-02-2026", "2026-2-2", "2026-02-02T10:00:00Z", "", "tomorrow"]
)
@pytest.mark.parametrize("field", ["start_date", "end_date", "instruction_date"])
def test_a_bad_date_is_refused(field: str, value: str) -> None:
    assert validate("lone_work_application", application(**{field: value})) == {field: "Must be a date (YYYY-MM-DD)."}


def test_an_end_date_before_the_start_date_is_refused_naming_the_end_date() -> None:
    assert validate("lone_work_application", application(start_date="2026-06-30", end_date="2026-06-29")) == {
        "end_date": "Must not be before 2026-06-30."
    }
    assert validate("lone_work_application", application(start_date="2026-06-30", end_date="2026-06-30")) == {}
    assert translate("Must not be before 2026-06-30.", "da") == "Må ikke ligge før 2026-06-30."


def test_a_time_window_ending_before_it_starts_is_refused_naming_its_row() -> None:
    rows = [{"days": "saturday", "from": "10:00", "to": "14:00", "from_date": "2026-03-28", "to_date": "2026-03-07"}]
    assert validate("lone_work_application", application(time_windows=rows)) == {
        "time_windows.0.to_date": "Must not be before 2026-03-28."
    }


def test_dates_that_are_no_dates_are_not_compared_only_refused_alone() -> None:
    assert validate("lone_work_application", application(start_date="2026-02-30", end_date="2026-01-01")) == {
        "start_date": "Must be a date (YYYY-MM-DD)."
    }


@pytest.mark.parametrize("data", [None, [], ["applicant_name"], "applicant_name=Mette", 42, True])
def test_form_data_that_is_not_a_json_object_is_refused_at_the_root(data: Any) -> None:
    assert validate("lone_work_application", data) == {"_": "Form data must be a JSON object."}


VALID_REVIEW = {
    "risk_assessment": [
        {
            "hazard": "Spild af acetone",
            "consequence": "Brand",
            "measure": "Kun små mængder i stinkskab",
            "residual_risk": "low",
        }
    ],
    "mitigations_adequate": True,
    "amr_consulted": True,
    "amr_consulted_date": "2026-01-20",
    "comment": "OK",
}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (VALID_REVIEW, {}),
        ({"risk_assessment": VALID_REVIEW["risk_assessment"], "mitigations_adequate": False}, {}),
        ({**VALID_REVIEW, "risk_assessment": []}, {"risk_assessment": "Must have at least 1 entry."}),
        ({"mitigations_adequate": True}, {"risk_assessment": "This field is required."}),
        ({"risk_assessment": VALID_REVIEW["risk_assessment"]}, {"mitigations_adequate": "This field is required."}),
        (
            {**VALID_REVIEW, "risk_assessment": [{"hazard": "Brand", "consequence": "x", "residual_risk": "low"}]},
            {"risk_assessment.0.measure": "This field is required."},
        ),
        (
            {**VALID_REVIEW, "risk_assessment": [{**VALID_REVIEW["risk_assessment"][0], "residual_risk": "none"}]},
            {"risk_assessment.0.residual_risk": "Must be one of: low, medium, high."},
        ),
        (
            {**VALID_REVIEW, "risk_assessment": [{**VALID_REVIEW["risk_assessment"][0], "owner": "me"}]},
            {"risk_assessment.0.owner": "Unknown field."},
        ),
        ({**VALID_REVIEW, "amr_consulted_date": "20-01-2026"}, {"amr_consulted_date": "Must be a date (YYYY-MM-DD)."}),
    ],
)
def test_the_amk_review_needs_at_least_one_complete_risk_row(data: dict[str, Any], expected: dict[str, str]) -> None:
    assert validate("lone_work_amk_review", data) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"decision": "approve", "valid_until": "2026-12-31", "conditions": "Kun i stinkskab"}, {}),
        ({"decision": "approve"}, {"valid_until": "This field is required."}),
        ({"decision": "approve", "valid_until": "31/12/2026"}, {"valid_until": "Must be a date (YYYY-MM-DD)."}),
        ({"decision": "reject", "reason": "Faren kan ikke modvirkes"}, {}),
        ({"decision": "reject"}, {"reason": "This field is required."}),
        ({"decision": "reject", "reason": ""}, {"reason": "Must not be empty."}),
        ({"decision": "send_back", "reason": "Angiv kontaktperson"}, {}),
        ({"decision": "send_back"}, {"reason": "This field is required."}),
        ({}, {"decision": "This field is required."}),
        ({"decision": "maybe"}, {"decision": "Must be one of: approve, reject, send_back."}),
        ({"decision": "approve", "valid_until": "2026-12-31", "signed": True}, {"signed": "Unknown field."}),
    ],
)
def test_the_leader_approval_needs_a_validity_date_to_approve_and_a_reason_otherwise(
    data: dict[str, Any], expected: dict[str, str]
) -> None:
    assert validate("lone_work_leader_approval", data) == expected


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("lone_work_supervisor_coapproval", {"coapproved": True}, {}),
        ("lone_work_supervisor_coapproval", {"coapproved": False, "comment": "Ikke uden kursus"}, {}),
        ("lone_work_supervisor_coapproval", {"coapproved": "no"}, {"coapproved": "Must be true or false."}),
        ("lone_work_supervisor_coapproval", {"comment": "?"}, {"coapproved": "This field is required."}),
        ("lone_work_young_worker_check", {"outcome": "allow"}, {}),
        ("lone_work_young_worker_check", {"outcome": "reject", "comment": "Under 18"}, {}),
        ("lone_work_young_worker_check", {"outcome": "maybe"}, {"outcome": "Must be one of: allow, reject."}),
        ("lone_work_young_worker_check", {}, {"outcome": "This field is required."}),
    ],
)
def test_the_small_lone_work_forms_validate_their_one_decision(
    name: str, data: dict[str, Any], expected: dict[str, str]
) -> None:
    assert validate(name, data) == expected


def test_the_free_note_accepts_any_details_even_a_typename_key() -> None:
    data = {"note": "Samtale med AMR", "details": {"typename": "van", "value": {"typename": "UUID"}}}
    assert validate("free_note", data) == {}


def test_the_free_note_still_refuses_unknown_top_level_fields() -> None:
    assert validate("free_note", {"note": "x", "typename": "van"}) == {"typename": "Unknown field."}


@pytest.mark.parametrize(
    ("value", "fmt", "ok"),
    [
        ("2026-02-28", "date", True),
        ("2024-02-29", "date", True),
        ("2026-02-29", "date", False),
        ("2026-02-28 ", "date", False),
        ("2026-02-28T10:00:00Z", "date-time", True),
        ("2026-02-28t10:00:00z", "date-time", True),
        ("2026-02-28T10:00:00.123456+01:00", "date-time", True),
        ("2026-02-28T10:00:00-05:30", "date-time", True),
        ("2026-02-28T10:00:00", "date-time", False),  # no time zone
        ("2026-02-28T10:00Z", "date-time", False),  # no seconds
        ("2026-02-28 10:00:00Z", "date-time", False),
        ("2026-02-30T10:00:00Z", "date-time", False),
        ("2026-02-28T24:00:00Z", "date-time", False),
        ("2026-02-28T10:00:00+24:00", "date-time", False),
        ("2026-02-28", "date-time", False),
        ("mette@dtu.dk", "email", True),
        ("m.hansen+amk@kemi.dtu.dk", "email", True),
        ("mette", "email", False),
        ("mette@dtu", "email", False),
        ("mette hansen@dtu.dk", "email", False),
        ("a@b@dtu.dk", "email", False),
        (42, "date", True),  # a format constrains strings only; "type" refuses anything else
    ],
)
def test_the_format_checker_checks_dates_times_and_email_addresses_strictly(value: object, fmt: str, ok: bool) -> None:
    assert FORMAT_CHECKER.conforms(value, fmt) is ok


def test_a_form_is_loaded_once_and_carries_its_titles() -> None:
    form = get_form("lone_work_application")
    assert isinstance(form, Form)
    assert form is get_form("lone_work_application")
    assert form.name == "lone_work_application"
    assert form.title == {
        "da": "Ansøgning om godkendelse af alenearbejde",
        "en": "Application for approval of lone work",
    }
    assert form.ui["order"][0] == "applicant_name"


@pytest.mark.parametrize("name", ["no_such_form", "../forms/schemas/free_note", "Free_Note", "", None, 7])
def test_an_unknown_or_malformed_form_name_is_not_found(name: Any) -> None:
    assert form_exists(name) is False
    with pytest.raises(FormNotFound):
        get_form(name)
    with pytest.raises(FormNotFound):
        validate(name, {})


def test_the_shipped_forms_are_listed() -> None:
    assert form_names() == [
        "contractor_access",
        "contractor_appoint_contact",
        "contractor_handover",
        "contractor_incident",
        "contractor_introduction",
        "contractor_introduction_ack",
        "contractor_job_registration",
        "contractor_notify_at",
        "contractor_permit",
        "contractor_portal_documents",
        "contractor_portal_risk",
        "contractor_portal_substances",
        "contractor_portal_workers",
        "contractor_risk_assessment",
        "contractor_room_owner_input",
        "contractor_scope_change",
        "contractor_signoff",
        "contractor_work_done",
        "free_note",
        "lone_work_acknowledge",
        "lone_work_amk_review",
        "lone_work_application",
        "lone_work_change",
        "lone_work_check_in",
        "lone_work_end_session",
        "lone_work_instruction",
        "lone_work_leader_approval",
        "lone_work_revocation",
        "lone_work_session_start",
        "lone_work_supervisor_coapproval",
        "lone_work_young_worker_check",
        "precursor_annual_report",
        "precursor_campaign_start",
        "precursor_coordinator_action",
        "precursor_declaration",
        "precursor_review",
        "precursor_submission",
        "psych_absence",
        "psych_accident_intake",
        "psych_easy_receipt",
        "psych_full_duties",
        "psych_hr_track",
        "psych_investigation",
        "psych_leader_follow_up",
        "psych_near_miss_review",
        "psych_phone_aes",
    ]
    assert all(form_exists(name) for name in form_names())


@pytest.mark.parametrize(
    ("properties", "expected"),
    [
        ({"form": "lone_work_application"}, "lone_work_application"),
        ({"formJsonSchemaFilename": "lone_work_application.schema.json"}, "lone_work_application"),
        (
            {"formJsonSchemaFilename": "lone_work_application.schema.json", "formUiSchemaFilename": "x.uischema.json"},
            "lone_work_application",
        ),
        ({"formJsonSchemaFilename": "lone_work_application.json"}, "lone_work_application"),
        ({"form": "free_note", "formJsonSchemaFilename": "lone_work_application.schema.json"}, "free_note"),
        ({"formJsonSchemaFilename": "lone_work_application.yaml"}, "lone_work_application.yaml"),
        ({"assignTo": "starter"}, None),
        ({"form": ""}, None),
        ({}, None),
        (None, None),
    ],
)
def test_the_form_is_named_by_our_property_or_by_the_spiffarena_file_name(
    properties: dict[str, str] | None, expected: str | None
) -> None:
    assert form_name_from_properties(properties) == expected


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("report-schema.json", "report"),
        ("report.schema.json", "report"),
        ("report_schema.json", "report"),
        ("Near Miss.json", "near_miss"),
        ("ohs-incident--review-Schema.json", "ohs_incident_review"),
        ("2024-report.json", "form_2024_report"),
        ("lone_work_application.schema.json", "lone_work_application"),
        ("report.yaml", None),
        ("-.json", None),
    ],
)
def test_a_spiffarena_schema_file_name_becomes_a_valid_form_name(filename: str, expected: str | None) -> None:
    assert form_name_from_filename(filename) == expected
    assert expected is None or is_valid_name(expected)
    if expected is not None:
        assert form_name_from_properties({"formJsonSchemaFilename": filename}) == expected


def test_a_schema_without_dollar_schema_is_read_as_draft_2020_12_and_another_draft_is_refused() -> None:
    schema = {"type": "object", "required": ["decision"], "properties": {"decision": {"enum": ["close"]}}}
    form = form_from_documents("review", schema, {})
    assert form.name == "review"
    assert set(validate_with(schema, {"decision": "open"})) == {"decision"}
    assert validate_with(schema, {"decision": "close"}) == {}
    with pytest.raises(InvalidForm, match="draft-07"):
        form_from_documents("review", {**schema, "$schema": "http://json-schema.org/draft-07/schema#"}, {})
