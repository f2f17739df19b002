"""The shipped form files keep their contract: valid draft 2020-12, bilingual labels, complete UI hints."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from forms import form_names, get_form

LONE_WORK_FORMS = [name for name in form_names() if name.startswith("lone_work_")]
WIDGETS = {
    "text", "textarea", "number", "date", "datetime", "email",
    "select", "radio", "checkboxes", "checkbox", "yes_no", "table", "group",
}  # fmt: skip

# The facts the lone_work rule set reads (DOMAIN.md B.7): names and types are a contract with rules/.
RULE_FACTS = {
    "another_competent_person_within_reach": "boolean",
    "hazards": "array",
    "start_date": "string",
    "time_windows": "array",
    "applicant_role": "string",
    "applicant_age": "integer",
    "mitigations": "array",
    "instruction_completed": "boolean",
}
HAZARDS = [
    "chemicals_acute_toxic", "chemicals_flammable", "chemicals_corrosive", "chemicals_other",
    "hydrofluoric_acid", "pyrophoric", "biological_class2", "biological_class3", "laser_class3b_4",
    "ionising_radiation", "high_voltage", "live_electrical_work", "pressurised_gas", "cryogenics",
    "rotating_machinery", "work_at_height", "confined_space", "heavy_lifting", "violence_risk", "field_work",
    "chemicals_highly_acute_toxic", "corrosives_decanting_transport", "cryogenics_large_scale_small_room",
    "unattended_overnight_synthesis", "crane_operation",
]  # fmt: skip
SAME_IN_BOTH_LANGUAGES = {"Campus"}
MITIGATIONS = [
    "check_in_calls", "alarm_device", "buddy_named", "phone_coverage_checked",
    "time_limit", "security_informed", "first_aid_trained", "emergency_equipment_checked",
]  # fmt: skip


def properties_of(schema: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every property of an object schema, nested objects and array rows included, by dotted path."""
    for name, prop in schema.get("properties", {}).items():
        yield prefix + name, prop
        if prop.get("type") == "object":
            yield from properties_of(prop, f"{prefix}{name}.")
        items = prop.get("items", {})
        if items.get("type") == "object":
            yield from properties_of(items, f"{prefix}{name}.*.")


def object_schemas(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path or "_", schema
    for name, prop in properties_of(schema):
        if prop.get("type") == "object":
            yield name, prop


@pytest.mark.parametrize("name", form_names())
def test_every_schema_is_a_valid_draft_2020_12_schema(name: str) -> None:
    schema = get_form(name).schema
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["type"] == "object"
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("name", form_names())
def test_every_form_and_every_field_has_a_danish_and_an_english_title_and_description(name: str) -> None:
    schema = get_form(name).schema
    for path, node in [("_", schema), *properties_of(schema)]:
        for key in ("title", "description", "x-title-en", "x-description-en"):
            assert isinstance(node.get(key), str), f"{name}: {path} lacks {key}"
            assert node[key].strip(), f"{name}: {path} has an empty {key}"
        if node["title"] not in SAME_IN_BOTH_LANGUAGES:
            assert node["title"] != node["x-title-en"], f"{name}: {path} is not translated"


@pytest.mark.parametrize("name", LONE_WORK_FORMS)
def test_the_lone_work_forms_accept_no_unknown_fields_anywhere(name: str) -> None:
    for path, node in object_schemas(get_form(name).schema):
        assert node.get("additionalProperties") is False, f"{name}: {path} accepts unknown fields"


def test_the_application_carries_the_rule_facts_with_their_types_and_values() -> None:
    schema = get_form("lone_work_application").schema
    for fact, kind in RULE_FACTS.items():
        assert schema["properties"][fact]["type"] == kind, fact
        assert fact in schema["required"], fact
    props = schema["properties"]
    assert props["hazards"]["items"]["enum"] == HAZARDS
    assert props["mitigations"]["items"]["enum"] == MITIGATIONS
    assert props["hazards"]["uniqueItems"] is props["mitigations"]["uniqueItems"] is True
    assert props["applicant_role"]["enum"] == ["employee", "phd", "student", "guest"]
    assert (props["applicant_age"]["minimum"], props["applicant_age"]["maximum"]) == (14, 100)


def enum_values(prop: dict[str, Any]) -> list[Any] | None:
    return prop.get("enum") or prop.get("items", {}).get("enum")


def check_ui_fields(name: str, schema: dict[str, Any], ui_fields: dict[str, Any], prefix: str = "") -> None:
    props = schema.get("properties", {})
    assert set(ui_fields) <= set(props), f"{name}: UI hints for unknown fields {set(ui_fields) - set(props)}"
    for field, prop in props.items():
        path = prefix + field
        hint = ui_fields.get(field, {})
        widget = hint.get("widget")
        assert widget is None or widget in WIDGETS, f"{name}: {path} has unknown widget {widget!r}"
        values = enum_values(prop)
        if values:
            labels = hint.get("x-enum-labels", {})
            assert list(labels) == values, f"{name}: {path} labels {list(labels)} differ from its values"
            for value, label in labels.items():
                assert label.get("da") and label.get("en"), f"{name}: {path}={value} lacks a da or en label"
        if "help" in hint:
            assert hint["help"].get("da") and hint["help"].get("en"), f"{name}: {path} help is not bilingual"
        if widget == "table":
            items = prop["items"]
            assert prop["type"] == "array" and items["type"] == "object", f"{name}: {path} table of non-objects"
            assert hint["columns"] == list(items["properties"]), f"{name}: {path} columns differ from its rows"
            check_ui_fields(name, items, hint.get("fields", {}), f"{path}.*.")
        if widget == "group":
            assert prop["type"] == "object", f"{name}: {path} group of a non-object"
            if "order" in hint:
                assert hint["order"] == list(prop.get("properties", {})), f"{name}: {path} order incomplete"
            check_ui_fields(name, prop, hint.get("fields", {}), f"{path}.")


@pytest.mark.parametrize("name", form_names())
def test_every_ui_schema_orders_every_field_and_labels_every_value_in_both_languages(name: str) -> None:
    form = get_form(name)
    props = list(form.schema["properties"])
    order = form.ui["order"]
    assert sorted(order) == sorted(props), f"{name}: order lists {order}"
    if "sections" in form.ui:
        in_sections = [field for section in form.ui["sections"] for field in section["fields"]]
        assert in_sections == order, f"{name}: sections do not follow the order"
        for section in form.ui["sections"]:
            assert section["title"]["da"] and section["title"]["en"]
    check_ui_fields(name, form.schema, form.ui.get("fields", {}))
