"""The general capabilities of rules/lookup.py, on a made-up register and rule set (no shipped rule set).

Registers looked up by name, synonym or CAS number on the decision date; facts provided from an entry;
quantity thresholds per unit; decision fields ``from`` a value; list fields that ``collect`` what the
fired rules ``add``; the ``greater_than`` and ``at_most`` ops and ``number`` facts; and the load-time
checks that name the place of every mistake.
"""

from __future__ import annotations

import copy
import datetime
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rules import Catalog, InvalidFacts, InvalidRuleSet
from rules.lookup import cas_check_digit_ok, cas_digits, format_cas, load_register, text_key

ON = datetime.date(2026, 3, 1)

REGISTER: dict[str, Any] = {
    "name": "solvents",
    "title": {"da": "Opløsningsmidler", "en": "Solvents"},
    "attributes": {
        "hazard_class": {"type": "string", "values": ["low", "high"], "required": True},
        "limit": {"type": "quantity", "units": ["kg", "l"]},
        "flash_point": {"type": "number"},
    },
    "entries": [
        {"name": "Acetone", "synonyms": ["propan-2-one"], "cas": ["67-64-1"], "valid_from": "2020-01-01",
         "attributes": {"hazard_class": "low", "limit": {"l": 10}}},
        {"name": "Toluene", "cas": ["108-88-3"], "valid_from": "2020-01-01", "valid_until": "2025-12-31",
         "attributes": {"hazard_class": "low", "limit": {"kg": 5}}},
        {"name": "Toluene", "cas": ["108-88-3"], "valid_from": "2026-01-01",
         "attributes": {"hazard_class": "high", "limit": {"kg": 2}}},
        {"name": "Ephedrine", "cas": ["299-42-3"], "salts": [{"name": "Ephedrine HCl", "cas": "50-98-6"}],
         "valid_from": "2020-01-01", "attributes": {"hazard_class": "high", "flash_point": 1e-05}},
    ],
}  # fmt: skip

RULESET: dict[str, Any] = {
    "name": "solvent_check",
    "title": {"da": "Tjek", "en": "Check"},
    "facts": {
        "solvent": {"type": "string"},
        "amount": {"type": "number", "minimum": 0},
        "unit": {"type": "string", "values": ["kg", "l"], "required": False, "default": "kg"},
        "people": {"type": "integer", "required": False, "default": 1},
    },
    "derived": {
        "crowded": {"op": "greater_than", "fact": "people", "parameter": "check.crowded_above"},
        "small_amount": {"op": "at_most", "fact": "amount", "parameter": "check.small_at_most"},
    },
    "lookups": {
        "solvent": {
            "register": "solvents",
            "fact": "solvent",
            "found": "solvent_known",
            "provide": {
                "solvent_hazard": {"attribute": "hazard_class", "missing": "unknown"},
                "solvent_name": {"attribute": "name"},
                "solvent_cas": {"attribute": "cas"},
                "solvent_flash_point": {"attribute": "flash_point"},
            },
            "quantity_above": {"over_limit": {"quantity": "amount", "unit": "unit", "threshold": "limit"}},
        }
    },
    "decision": {
        "hazard": {"type": "string", "values": ["low", "high", "unknown"], "from": "solvent_hazard"},
        "name": {"type": "string", "nullable": True, "from": "solvent_name"},
        "cas": {"type": "string", "nullable": True, "from": "solvent_cas"},
        "amount": {"type": "number", "from": "amount"},
        "flash_point": {"type": "number", "nullable": True, "from": "solvent_flash_point"},
        "actions": {"type": "list", "values": ["ventilate", "report", "ask"], "collect": True},
        "tags": {"type": "list", "collect": True},
    },
    "rules": [
        {"name": "ask", "cites": ["X-R1"], "pri": 1, "all": [{"m": {"solvent_known": False}}],
         "add": {"actions": ["ask"]}},
        {"name": "report", "cites": ["X-R1"], "pri": 2, "all": [{"m": {"over_limit": True}}],
         "add": {"actions": ["report"], "tags": ["zeta", "alpha"]}},
        {"name": "ventilate_high", "cites": ["X-R1"], "pri": 3, "all": [{"m": {"solvent_hazard": "high"}}],
         "add": {"actions": ["ventilate"]}},
        {"name": "ventilate_crowded", "cites": ["X-R2"], "pri": 4,
         "all": [{"m": {"$and": [{"crowded": True}, {"small_amount": False}]}}], "add": {"actions": ["ventilate"]}},
    ],
    "citations": {
        "X-R1": {"da": "Regel", "en": "Rule", "source": "test"},
        "X-R2": {"da": "Regel 2", "en": "Rule 2", "source": "test"},
    },
}  # fmt: skip

PARAMETERS = {
    "check.crowded_above": [{"value": 3, "valid_from": "2019-01-01"}],
    "check.small_at_most": [{"value": 1.5, "valid_from": "2019-01-01"}],
}


def write(directory: Path, ruleset: dict[str, Any] = RULESET, register: dict[str, Any] = REGISTER) -> Catalog:
    directory.mkdir(exist_ok=True)
    (directory / "parameters.json").write_text(json.dumps(PARAMETERS))
    (directory / f"{register['name']}.register.json").write_text(json.dumps(register))
    (directory / f"{ruleset['name']}.rules.json").write_text(json.dumps(ruleset))
    return Catalog.load(directory)


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    return write(tmp_path)


def check(catalog: Catalog, on: datetime.date = ON, **facts: Any) -> dict[str, Any]:
    decision: dict[str, Any] = catalog.decide("solvent_check", {"amount": 1, **facts}, on=on).decision
    return decision


# --- keys ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [("Propan-2-one", "propan2one"), ("  PROPAN 2\u2011ONE ", "propan2one"), ("1,4-Dioxane", "1,4dioxane")],
)
def test_names_match_case_insensitively_ignoring_whitespace_and_hyphens(text: str, key: str) -> None:
    assert text_key(text) == key


@pytest.mark.parametrize(
    ("text", "digits"),
    [("67-64-1", "67641"), ("67 64 1", "67641"), ("0067-64-1", "67641"), ("7732-18-5", "7732185"),
     ("acetone", None), ("12", None), ("67-64-1a", None)],
)  # fmt: skip
def test_cas_numbers_are_normalised_to_their_digits(text: str, digits: str | None) -> None:
    assert cas_digits(text) == digits


def test_the_cas_check_digit_and_written_form() -> None:
    assert cas_check_digit_ok("7732185")  # water
    assert not cas_check_digit_ok("7732186")
    assert format_cas("7732185") == "7732-18-5"


# --- lookups -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("solvent", ["Acetone", "propan 2 one", "67-64-1", "67641", " acetone "])
def test_a_lookup_provides_the_entry_by_name_synonym_or_cas(catalog: Catalog, solvent: str) -> None:
    decision = check(catalog, solvent=solvent, unit="l")
    assert (decision["hazard"], decision["name"], decision["cas"]) == ("low", "Acetone", "67-64-1")
    assert decision["actions"] == []


@pytest.mark.parametrize("solvent", ["ephedrine hcl", "50-98-6"])
def test_a_salt_finds_its_substance(catalog: Catalog, solvent: str) -> None:
    decision = check(catalog, solvent=solvent)
    assert (decision["hazard"], decision["name"], decision["cas"]) == ("high", "Ephedrine", "299-42-3")


def test_an_unknown_name_gets_the_missing_values_and_null(catalog: Catalog) -> None:
    decision = catalog.decide("solvent_check", {"solvent": "water", "amount": 2}, on=ON)
    assert decision.decision == {
        "hazard": "unknown", "name": None, "cas": None, "amount": 2, "flash_point": None, "actions": ["ask"],
        "tags": [],
    }  # fmt: skip
    assert decision.parameters["lookup.solvent"] == {"register": "solvents", "query": "water", "entry": None}


def test_a_dated_entry_applies_on_its_dates_only(catalog: Catalog) -> None:
    assert check(catalog, solvent="toluene", on=datetime.date(2025, 12, 31))["hazard"] == "low"
    assert check(catalog, solvent="toluene", on=datetime.date(2026, 1, 1))["hazard"] == "high"
    assert check(catalog, solvent="acetone", on=datetime.date(2019, 12, 31))["hazard"] == "unknown"


@pytest.mark.parametrize(
    ("facts", "over"),
    [
        ({"solvent": "acetone", "amount": 10, "unit": "l"}, False),
        ({"solvent": "acetone", "amount": 10.01, "unit": "l"}, True),
        ({"solvent": "acetone", "amount": 0.5, "unit": "kg"}, True),  # no kg threshold: the safe side
        ({"solvent": "ephedrine", "amount": 0.001}, True),  # no threshold: any quantity
        ({"solvent": "ephedrine", "amount": 0}, False),
        ({"solvent": "water", "amount": 1000}, False),  # not found
    ],
)
def test_quantity_above_compares_with_the_entry_threshold_in_the_unit_given(
    catalog: Catalog, facts: dict[str, Any], over: bool
) -> None:
    assert ("report" in check(catalog, **facts)["actions"]) is over


# --- collected lists, from, new ops --------------------------------------------------------------------------


def test_collected_items_appear_once_in_the_order_of_the_fields_values(catalog: Catalog) -> None:
    decision = catalog.decide("solvent_check", {"solvent": "toluene", "amount": 3, "people": 4}, on=ON)
    assert decision.decision["actions"] == ["ventilate", "report"]
    assert decision.decision["tags"] == ["alpha", "zeta"]  # no values listed: sorted
    assert decision.fired == ("X-R1", "X-R2")


@pytest.mark.parametrize(
    ("people", "amount", "ventilate"),
    [(3, 2, False), (4, 2, True), (4, 1.5, False), (4, 1.51, True)],
)
def test_greater_than_and_at_most_compare_with_parameters(
    catalog: Catalog, people: int, amount: float, ventilate: bool
) -> None:
    decision = check(catalog, solvent="acetone", unit="l", people=people, amount=amount)
    assert ("ventilate" in decision["actions"]) is ventilate
    assert decision["amount"] == amount


@pytest.mark.parametrize("amount", [1e16, 123456.789, 1e-5, 0])
def test_numbers_in_exponent_notation_are_decided(catalog: Catalog, amount: float) -> None:
    """durable-rules cannot parse ``1e-05`` or ``1e+16`` (error 204): number facts are never posted to it."""
    assert check(catalog, solvent="acetone", unit="l", amount=amount)["amount"] == amount


def test_a_number_from_the_register_is_decided_but_not_posted_to_durable_rules(catalog: Catalog) -> None:
    assert check(catalog, solvent="ephedrine")["flash_point"] == 1e-05


def test_a_condition_on_a_number_from_the_register_is_refused(tmp_path: Path) -> None:
    ruleset = copy.deepcopy(RULESET)
    ruleset["rules"][0]["all"] = [{"m": {"$gt": {"solvent_flash_point": 1}}}]
    with pytest.raises(InvalidRuleSet) as caught:
        write(tmp_path, ruleset)
    assert caught.value.fields == {
        "rules[0].solvent_flash_point": "unknown fact 'solvent_flash_point' in the condition"
    }


def test_a_condition_on_a_number_fact_is_refused(tmp_path: Path) -> None:
    ruleset = copy.deepcopy(RULESET)
    ruleset["rules"][0]["all"] = [{"m": {"$gt": {"amount": 1}}}]
    with pytest.raises(InvalidRuleSet) as caught:
        write(tmp_path, ruleset)
    assert caught.value.fields == {"rules[0].amount": "number fact 'amount' cannot be tested: use a derived fact"}


@pytest.mark.parametrize(
    ("facts", "field"),
    [({"solvent": "acetone", "amount": True}, "amount"), ({"solvent": "", "amount": 1}, "solvent"),
     ({"solvent": "acetone", "amount": float("inf")}, "amount"), ({"solvent": ["acetone"], "amount": 1}, "solvent")],
)  # fmt: skip
def test_number_and_free_text_facts_are_checked(catalog: Catalog, facts: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidFacts) as caught:
        catalog.decide("solvent_check", facts, on=ON)
    assert set(caught.value.fields) == {field}


# --- load-time checks ----------------------------------------------------------------------------------------


def bad_check_digit(register: dict[str, Any], _ruleset: dict[str, Any]) -> None:
    register["entries"][0]["cas"] = ["67-64-2"]


def overlapping_names(register: dict[str, Any], _ruleset: dict[str, Any]) -> None:
    register["entries"][2]["valid_from"] = "2025-06-01"


def unknown_attribute(register: dict[str, Any], _ruleset: dict[str, Any]) -> None:
    register["entries"][0]["attributes"]["colour"] = "red"


def wrong_attribute_value(register: dict[str, Any], _ruleset: dict[str, Any]) -> None:
    register["entries"][0]["attributes"]["hazard_class"] = "medium"


def missing_required_attribute(register: dict[str, Any], _ruleset: dict[str, Any]) -> None:
    del register["entries"][0]["attributes"]["hazard_class"]


def wrong_unit(register: dict[str, Any], _ruleset: dict[str, Any]) -> None:
    register["entries"][0]["attributes"]["limit"] = {"g": 5}


def misspelt_entry_key(register: dict[str, Any], _ruleset: dict[str, Any]) -> None:
    register["entries"][0]["synonym"] = ["x"]


def unknown_register(_register: dict[str, Any], ruleset: dict[str, Any]) -> None:
    ruleset["lookups"]["solvent"]["register"] = "solvnts"


def unknown_provided_attribute(_register: dict[str, Any], ruleset: dict[str, Any]) -> None:
    ruleset["lookups"]["solvent"]["provide"]["solvent_hazard"]["attribute"] = "hazard"


def a_rule_sets_a_from_field(_register: dict[str, Any], ruleset: dict[str, Any]) -> None:
    ruleset["rules"][0]["set"] = {"hazard": "high"}


def add_to_a_plain_field(_register: dict[str, Any], ruleset: dict[str, Any]) -> None:
    ruleset["rules"][0]["add"] = {"hazard": ["high"]}


def add_an_unknown_item(_register: dict[str, Any], ruleset: dict[str, Any]) -> None:
    ruleset["rules"][0]["add"] = {"actions": ["panic"]}


def from_a_nullable_value_into_a_non_nullable_field(_register: dict[str, Any], ruleset: dict[str, Any]) -> None:
    ruleset["decision"]["name"]["nullable"] = False


def from_an_unknown_value(_register: dict[str, Any], ruleset: dict[str, Any]) -> None:
    ruleset["decision"]["name"]["from"] = "solvent_label"


def condition_with_a_value_the_lookup_cannot_give(_register: dict[str, Any], ruleset: dict[str, Any]) -> None:
    ruleset["rules"][2]["all"] = [{"m": {"solvent_hazard": "extreme"}}]


def unit_fact_with_a_unit_the_threshold_lacks(_register: dict[str, Any], ruleset: dict[str, Any]) -> None:
    ruleset["facts"]["unit"]["values"] = ["kg", "l", "g"]


def a_lookup_output_named_like_a_fact(_register: dict[str, Any], ruleset: dict[str, Any]) -> None:
    ruleset["lookups"]["solvent"]["found"] = "people"


BROKEN: list[Any] = [
    pytest.param(bad_check_digit, "entries[0].cas", id="a CAS number with a wrong check digit"),
    pytest.param(overlapping_names, "entries[2]", id="one name for two entries in one period"),
    pytest.param(unknown_attribute, "entries[0].attributes.colour", id="an undeclared attribute"),
    pytest.param(wrong_attribute_value, "entries[0].attributes.hazard_class", id="an attribute value not allowed"),
    pytest.param(missing_required_attribute, "entries[0].attributes", id="a required attribute left out"),
    pytest.param(wrong_unit, "entries[0].attributes.limit", id="a threshold in an undeclared unit"),
    pytest.param(misspelt_entry_key, "entries[0]", id="a misspelt entry key (schema)"),
    pytest.param(unknown_register, "lookups.solvent", id="an unknown register"),
    pytest.param(unknown_provided_attribute, "lookups.solvent.provide.solvent_hazard", id="an unknown attribute"),
    pytest.param(a_rule_sets_a_from_field, "rules[0].set.hazard", id="a rule setting a from field"),
    pytest.param(add_to_a_plain_field, "rules[0].add.hazard", id="add to a field that does not collect"),
    pytest.param(add_an_unknown_item, "rules[0].add.actions", id="add an item outside the values"),
    pytest.param(from_a_nullable_value_into_a_non_nullable_field, "decision.name", id="null into a non-nullable"),
    pytest.param(from_an_unknown_value, "decision.name", id="from an unknown value"),
    pytest.param(condition_with_a_value_the_lookup_cannot_give, "rules[2].solvent_hazard", id="impossible literal"),
    pytest.param(unit_fact_with_a_unit_the_threshold_lacks, "lookups.solvent.quantity_above.over_limit",
                 id="a unit the threshold cannot have"),
    pytest.param(a_lookup_output_named_like_a_fact, "lookups.solvent.people", id="a lookup output named like a fact"),
]  # fmt: skip


@pytest.mark.parametrize(("breaks", "where"), BROKEN)
def test_a_broken_register_or_lookup_is_rejected_naming_the_place(
    tmp_path: Path, breaks: Callable[[dict[str, Any], dict[str, Any]], None], where: str
) -> None:
    register, ruleset = copy.deepcopy(REGISTER), copy.deepcopy(RULESET)
    breaks(register, ruleset)
    with pytest.raises(InvalidRuleSet) as caught:
        write(tmp_path, ruleset, register)
    assert where in caught.value.fields, caught.value.fields


def test_a_register_must_be_named_after_its_file(tmp_path: Path) -> None:
    write(tmp_path)
    (tmp_path / "other.register.json").write_text(json.dumps(REGISTER))
    with pytest.raises(InvalidRuleSet) as caught:
        Catalog.load(tmp_path)
    assert caught.value.fields == {"name": "must be 'other' (the file name)"}


def test_the_register_index_finds_every_name_and_number() -> None:
    register = load_register(copy.deepcopy(REGISTER))
    found = register.find("50 98 6", ON)
    assert found is not None and found.name == "Ephedrine"
    assert register.find("Toluene", datetime.date(2019, 1, 1)) is None
