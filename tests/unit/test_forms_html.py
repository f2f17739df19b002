"""forms.html: a form's fields ready for a template, and posted strings back into the JSON its schema wants."""

from __future__ import annotations

from typing import Any

import pytest

import forms
from forms import html
from forms.registry import Form

SCHEMA = "https://json-schema.org/draft/2020-12/schema"


def make_form(properties: dict[str, Any], *, required: tuple[str, ...] = (), ui: dict[str, Any] | None = None) -> Form:
    """A form built in the test, so the rarer field types (numbers, date-times, attachments) are covered."""
    schema = {"$schema": SCHEMA, "type": "object", "properties": properties, "required": list(required)}
    return Form(name="test_form", schema=schema, ui=ui or {}, title={"da": "Prøve", "en": "Test"})


TYPES_FORM = make_form(
    {
        "count": {"type": "integer", "title": "Antal", "x-title-en": "Count"},
        "weight": {"type": "number", "title": "Vægt"},
        "seen_at": {"type": "string", "format": "date-time", "title": "Set"},
        "report": {"type": "string", "format": html.ATTACHMENT_FORMAT, "title": "Rapport"},
        "free": {"type": "object", "additionalProperties": True},
    },
    required=("count",),
)


def by_name(found: list[html.Field]) -> dict[str, html.Field]:
    return {field.name: field for field in found}


# --- fields -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("form", "name", "widget"),
    [
        ("lone_work_application", "applicant_name", "text"),
        ("lone_work_application", "task_description", "textarea"),
        ("lone_work_application", "applicant_age", "integer"),
        ("lone_work_application", "start_date", "date"),
        ("lone_work_application", "applicant_role", "radio"),
        ("lone_work_application", "hazards", "checkboxes"),
        ("lone_work_application", "another_competent_person_within_reach", "boolean"),
        ("lone_work_application", "time_windows", "table"),
        ("lone_work_application", "instruction_completed", "checkbox"),
        ("lone_work_application", "location", "object"),
        ("lone_work_application", "chemicals", "table"),
        ("lone_work_amk_review", "risk_assessment", "table"),
        ("lone_work_leader_approval", "decision", "radio"),
    ],
)
def test_each_field_of_the_shipped_forms_gets_the_widget_its_schema_and_ui_hints_ask_for(form, name, widget):
    assert by_name(html.fields(forms.get_form(form), "da"))[name].widget == widget


@pytest.mark.parametrize(
    ("name", "widget"),
    [("count", "integer"), ("weight", "number"), ("seen_at", "datetime"), ("report", "file")],
)
def test_a_field_without_ui_hints_gets_its_widget_from_the_schema(name, widget):
    assert by_name(html.fields(TYPES_FORM, "da"))[name].widget == widget


def test_a_free_form_object_has_no_fields_to_show():
    assert "free" not in by_name(html.fields(TYPES_FORM, "da"))


def test_fields_follow_the_ui_order_and_nested_fields_carry_dotted_names():
    found = html.fields(forms.get_form("lone_work_application"), "da")

    assert [field.name for field in found][:3] == ["applicant_name", "applicant_phone", "applicant_role"]
    location = by_name(found)["location"]
    assert [child.name for child in location.fields] == ["location.campus", "location.building", "location.room"]
    assert [child.required for child in location.fields] == [False, False, True]


@pytest.mark.parametrize(
    ("language", "label", "option"),
    [("da", "Rolle", "Ph.d.-studerende"), ("en", "Role", "PhD student")],
)
def test_labels_help_and_options_come_in_the_chosen_language(language, label, option):
    role = by_name(html.fields(forms.get_form("lone_work_application"), language))["applicant_role"]

    assert role.label == label
    assert option in [choice.label for choice in role.options]
    assert role.required
    assert role.help


def test_a_yes_no_field_offers_yes_and_no_and_keeps_the_ui_help():
    field = by_name(html.fields(forms.get_form("lone_work_application"), "en"))["another_competent_person_within_reach"]

    assert [(option.value, option.label) for option in field.options] == [("true", "Yes"), ("false", "No")]
    assert "no one can see or hear you" in field.help


def test_a_table_knows_its_columns_and_names_each_cell_by_row():
    table = by_name(html.fields(forms.get_form("lone_work_amk_review"), "en"))["risk_assessment"]

    assert [column.key for column in table.fields] == ["hazard", "consequence", "measure", "residual_risk"]
    assert table.min_items == 1 and table.max_items == 50
    assert table.in_row(2)[0].name == "risk_assessment.2.hazard"
    assert [option.label for option in table.fields[3].options] == ["Low", "Medium", "High"]


def test_sections_group_the_fields_under_their_titles():
    found = html.sections(forms.get_form("lone_work_application"), "en")

    assert [section.title for section in found][:2] == ["Applicant", "Place and time"]
    every = html.fields(forms.get_form("lone_work_application"), "en")
    assert sum(len(section.fields) for section in found) == len(every)


# --- parse_submission ---------------------------------------------------------------------------------

APPLICATION = forms.get_form("lone_work_application")
REVIEW = forms.get_form("lone_work_amk_review")


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        pytest.param([("applicant_name", "  Anna  ")], {"applicant_name": "Anna"}, id="text is trimmed"),
        pytest.param([("applicant_name", "")], {}, id="an empty field is left out"),
        pytest.param([("applicant_age", "34")], {"applicant_age": 34}, id="an integer"),
        pytest.param([("applicant_age", "old")], {"applicant_age": "old"}, id="a bad integer stays text"),
        pytest.param([("applicant_age", "3.5")], {"applicant_age": "3.5"}, id="a fraction is no integer"),
        pytest.param([("another_competent_person_within_reach", "true")],
                     {"another_competent_person_within_reach": True}, id="yes"),
        pytest.param([("another_competent_person_within_reach", "false")],
                     {"another_competent_person_within_reach": False}, id="no"),
        pytest.param([("another_competent_person_within_reach", "maybe")],
                     {"another_competent_person_within_reach": "maybe"}, id="a bad boolean"),
        pytest.param([("time_windows.0.days", "weekdays"), ("time_windows.0.from", "18:00"),
                      ("time_windows.0.to", "22:00"), ("time_windows.0.from_date", ""),
                      ("time_windows.1.days", ""), ("time_windows.1.from", "")],
                     {"time_windows": [{"days": "weekdays", "from": "18:00", "to": "22:00"}]},
                     id="time windows are table rows"),
        pytest.param([("instruction_completed", "false")], {"instruction_completed": False},
                     id="an unticked checkbox is its hidden false"),
        pytest.param([("instruction_completed", "false"), ("instruction_completed", "true")],
                     {"instruction_completed": True}, id="a ticked checkbox wins over the hidden false"),
        pytest.param([("hazards", ""), ("hazards", "cryogenics"), ("hazards", "field_work")],
                     {"hazards": ["cryogenics", "field_work"]}, id="repeated checkboxes are a list"),
        pytest.param([("hazards", "")], {"hazards": []}, id="no box ticked is an empty list"),
        pytest.param([("hazards", "x"), ("hazards", "x")], {"hazards": ["x"]}, id="a value twice counts once"),
        pytest.param([("location.room", "112"), ("location.building", "")], {"location": {"room": "112"}},
                     id="dotted names are a nested object"),
        pytest.param([("location.room", "")], {}, id="an empty object is left out"),
        pytest.param([("chemicals.1.name", "HF"), ("chemicals.0.name", "Ethanol"), ("chemicals.0.cas", "64-17-5")],
                     {"chemicals": [{"name": "Ethanol", "cas": "64-17-5"}, {"name": "HF"}]},
                     id="table rows in row order"),
        pytest.param([("chemicals.0.name", ""), ("chemicals.3.name", "HF")], {"chemicals": [{"name": "HF"}]},
                     id="an empty row is dropped"),
        pytest.param([("csrf_token", "abc"), ("action", "complete"), ("nonsense.0.x", "1")], {},
                     id="names the form does not know are ignored"),
    ],
)
def test_posted_strings_become_the_json_the_schema_describes(pairs, expected):
    assert html.parse_submission(APPLICATION, pairs) == expected


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([("weight", "2.5")], {"weight": 2.5}),
        ([("weight", "2,5")], {"weight": 2.5}),
        ([("weight", "7")], {"weight": 7}),
        ([("weight", "heavy")], {"weight": "heavy"}),
        ([("seen_at", "2026-07-01T14:30")], {"seen_at": "2026-07-01T14:30:00+02:00"}),
        ([("seen_at", "2026-01-01T14:30")], {"seen_at": "2026-01-01T14:30:00+01:00"}),
        ([("seen_at", "yesterday")], {"seen_at": "yesterday"}),
        ([("report", "17")], {"report": "17"}),
    ],
)
def test_numbers_and_local_date_times_are_read_as_the_schema_wants(pairs, expected):
    assert html.parse_submission(TYPES_FORM, pairs) == expected


def test_an_uploaded_file_puts_its_attachment_id_in_the_data_over_the_one_kept_from_before():
    data = html.parse_submission(TYPES_FORM, [("report", "17")], files={"report": "42"})

    assert data == {"report": "42"}


def test_a_parsed_valid_review_passes_validation_and_a_bad_one_is_named_by_field():
    good = [("risk_assessment.0.hazard", "Fire"), ("risk_assessment.0.consequence", "Burns"),
            ("risk_assessment.0.measure", "Calls"), ("risk_assessment.0.residual_risk", "low"),
            ("risk_assessment.1.hazard", ""), ("mitigations_adequate", "true")]
    bad = [("risk_assessment.0.hazard", "Fire"), ("mitigations_adequate", "sure")]

    assert forms.validate(REVIEW.name, html.parse_submission(REVIEW, good)) == {}
    errors = forms.validate(REVIEW.name, html.parse_submission(REVIEW, bad))
    assert {"risk_assessment.0.consequence", "mitigations_adequate"} <= set(errors)


# --- showing values -----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("path", "expected"),
    [("location.room", "112"), ("chemicals.1.name", "HF"), ("chemicals.5.name", None), ("nowhere.x", None)],
)
def test_value_at_follows_a_dotted_path(path, expected):
    data = {"location": {"room": "112"}, "chemicals": [{"name": "Ethanol"}, {"name": "HF"}]}

    assert html.value_at(data, path) == expected


def test_a_date_time_is_shown_in_copenhagen_time_in_its_input():
    field = by_name(html.fields(TYPES_FORM, "da"))["seen_at"]

    assert html.input_value(field, "2026-07-01T12:30:00+00:00") == "2026-07-01T14:30"


def test_case_data_is_described_with_the_forms_labels_and_option_words():
    data = {"applicant_role": "phd", "hazards": ["cryogenics"], "another_competent_person_within_reach": True,
            "location": {"room": "112"}, "chemicals": [{"name": "HF"}], "mystery_key": 3}

    entries = {entry.label: entry for entry in html.describe_data(data, [APPLICATION], "en")}

    assert entries["Role"].text == "PhD student"
    assert entries["Hazards"].text == "Cryogenic liquids (e.g. liquid nitrogen)"
    assert entries["Is another competent person within sight or earshot?"].text == "Yes"
    assert entries["Place of work"].text == "Room: 112"
    assert entries["Chemicals"].rows[0][0].text == "HF"
    assert entries["Mystery key"].text == "3"


@pytest.mark.parametrize(
    ("path", "language", "expected"),
    [
        ("risk_assessment.0.measure", "en", "Risk assessment, row 1: Measure"),
        ("risk_assessment.2.measure", "da", "Risikovurdering, række 3: Foranstaltning"),
        ("risk_assessment", "en", "Risk assessment"),
        ("mitigations_adequate", "en", "Are the measures adequate?"),
        ("_", "en", "_"),
        ("no_such_field", "en", "no_such_field"),
    ],
)
def test_an_error_path_is_named_in_words_for_the_error_summary(path, language, expected):
    assert html.path_label(html.fields(REVIEW, language), path, language) == expected


def test_a_nested_path_is_named_by_its_object_and_its_field():
    found = html.fields(APPLICATION, "en")

    assert html.path_label(found, "location.room", "en") == "Place of work: Room"
