"""The precursor_classification rule set (DOMAIN.md section D, issue #16) and its substance register.

The decision field names are a stable contract: external acceptance suites call
``rules.decide("precursor_classification", facts)``. Every row names the rule id it proves.
"""

from __future__ import annotations

import datetime
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from rules import InvalidFacts, decide, rule_descriptions
from rules.loader import data_directory, read_json

ON = datetime.date(2026, 6, 1)
REGISTER = read_json(Path(str(data_directory())) / "precursor_register.register.json")
CONTRACT = {
    "category", "substance_name", "cas", "licence_required", "registration_required", "operator_duties",
    "report_in_annual_report", "coordinator_action", "unknown_substance",
}  # fmt: skip


def decided(substance: str, on: datetime.date = ON, **facts: Any) -> dict[str, Any]:
    result: dict[str, Any] = decide("precursor_classification", {"substance": substance, **facts}, on=on).decision
    return result


# --- D-R1: classification by name, synonym, CAS number or salt ------------------------------------------------

CLASSIFIED = [
    # category 1
    pytest.param("Ephedrine", "1", "Ephedrine", "299-42-3", id="D-R1 cat 1 by name"),
    pytest.param("299-42-3", "1", "Ephedrine", "299-42-3", id="D-R1 cat 1 by CAS"),
    pytest.param("ephedrine hydrochloride", "1", "Ephedrine", "299-42-3", id="D-R1 cat 1 by salt name"),
    pytest.param("50-98-6", "1", "Ephedrine", "299-42-3", id="D-R1 cat 1 by salt CAS"),
    pytest.param("7460-12-0", "1", "Pseudoephedrine", "90-82-4", id="D-R1 cat 1 pseudoephedrine sulfate CAS"),
    pytest.param("BMK", "1", "1-Phenyl-2-propanone", "103-79-7", id="D-R1 cat 1 by synonym"),
    pytest.param("  Phenyl Acetone ", "1", "1-Phenyl-2-propanone", "103-79-7", id="D-R1 whitespace tolerant"),
    pytest.param("1 phenyl 2 PROPANONE", "1", "1-Phenyl-2-propanone", "103-79-7", id="D-R1 hyphens and case"),
    pytest.param("pmk", "1", "3,4-Methylenedioxyphenylpropan-2-one", "4676-39-5", id="D-R1 PMK"),
    pytest.param("phenylpropanolamine", "1", "Norephedrine", "14838-15-4", id="D-R1 cat 1 norephedrine synonym"),
    pytest.param("ergonovine", "1", "Ergometrine", "60-79-7", id="D-R1 cat 1 ergometrine synonym"),
    pytest.param("379-79-3", "1", "Ergotamine", "113-15-5", id="D-R1 cat 1 ergotamine tartrate CAS"),
    pytest.param("APAAN", "1", "Alpha-phenylacetoacetonitrile", "4468-48-8", id="D-R1 cat 1 APAAN"),
    pytest.param("4-AP", "1", "4-Anilinopiperidine", "23056-29-3", id="D-R1 cat 1 added by 2023/196"),
    pytest.param("chloroephedrine", "1", "(1R,2S)-(-)-chloroephedrine", None, id="D-R1 cat 1 without a CAS number"),
    # category 2A
    pytest.param("Acetic anhydride", "2A", "Acetic anhydride", "108-24-7", id="D-R1 cat 2A by name"),
    pytest.param("108 24 7", "2A", "Acetic anhydride", "108-24-7", id="D-R1 cat 2A CAS with spaces"),
    pytest.param("108247", "2A", "Acetic anhydride", "108-24-7", id="D-R1 cat 2A CAS without hyphens"),
    pytest.param("ETHANOIC ANHYDRIDE", "2A", "Acetic anhydride", "108-24-7", id="D-R1 cat 2A by synonym"),
    pytest.param("red phosphorus", "2A", "Red phosphorus", "7723-14-0", id="D-R1 cat 2A red phosphorus"),
    # category 2B
    pytest.param("phenylacetic acid", "2B", "Phenylacetic acid", "103-82-2", id="D-R1 cat 2B by name"),
    pytest.param("sodium phenylacetate", "2B", "Phenylacetic acid", "103-82-2", id="D-R1 cat 2B by salt name"),
    pytest.param("552-37-4", "2B", "Anthranilic acid", "118-92-3", id="D-R1 cat 2B by salt CAS"),
    pytest.param("Piperidine hydrochloride", "2B", "Piperidine", "110-89-4", id="D-R1 cat 2B piperidine salt"),
    pytest.param("7722-64-7", "2B", "Potassium permanganate", "7722-64-7", id="D-R1 cat 2B by CAS"),
    # category 3
    pytest.param("acetone", "3", "Acetone", "67-64-1", id="D-R1 cat 3 by name"),
    pytest.param("MEK", "3", "Methyl ethyl ketone", "78-93-3", id="D-R1 cat 3 by synonym"),
    pytest.param("2-butanone", "3", "Methyl ethyl ketone", "78-93-3", id="D-R1 cat 3 butanone"),
    pytest.param("sulfuric acid", "3", "Sulphuric acid", "7664-93-9", id="D-R1 cat 3 spelling variant"),
    pytest.param("7647-01-0", "3", "Hydrochloric acid", "7647-01-0", id="D-R1 cat 3 by CAS"),
    pytest.param("diethyl ether", "3", "Ethyl ether", "60-29-7", id="D-R1 cat 3 ether"),
    pytest.param("Toluene", "3", "Toluene", "108-88-3", id="D-R1 cat 3 toluene"),
]


@pytest.mark.parametrize(("substance", "category", "name", "cas"), CLASSIFIED)
def test_d_r1_classification(substance: str, category: str, name: str, cas: str | None) -> None:
    decision = decide("precursor_classification", {"substance": substance}, on=ON)
    assert (decision.decision["category"], decision.decision["substance_name"], decision.decision["cas"]) == (
        category,
        name,
        cas,
    )
    assert decision.decision["unknown_substance"] is False
    assert decision.fired[0] == "D-R1"


@pytest.mark.parametrize("substance", ["water", "7732-18-5", "ethanol", "ephedrin", "299-42-4", "sodium chloride"])
def test_d_r1_a_substance_not_in_the_register_is_left_to_the_coordinator(substance: str) -> None:
    decision = decide("precursor_classification", {"substance": substance, "annual_quantity": 500}, on=ON)
    assert decision.decision == {
        "category": "none",
        "substance_name": None,
        "cas": None,
        "cn_code": None,
        "licence_required": False,
        "registration_required": False,
        "operator_duties": False,
        "report_in_annual_report": False,
        "report_on_request_only": False,
        "coordinator_action": [],
        "unknown_substance": True,
    }
    assert decision.fired == ("D-R1",)


ENTRY_KEYS = [
    pytest.param(entry["name"], text, id=f"{entry['name']}: {text}")
    for entry in REGISTER["entries"]
    for text in (
        entry["name"],
        *entry.get("synonyms", ()),
        *entry.get("cas", ()),
        *(salt.get("name") for salt in entry.get("salts", ()) if salt.get("name")),
        *(salt["cas"] for salt in entry.get("salts", ())),
    )
]


@pytest.mark.parametrize(("name", "text"), ENTRY_KEYS)
def test_d_r1_every_name_synonym_cas_and_salt_in_the_register_finds_its_entry(name: str, text: str) -> None:
    assert decided(text, on=datetime.date(2026, 1, 1))["substance_name"] == name
    assert decided(text.upper(), on=datetime.date(2026, 1, 1))["substance_name"] == name


# --- D-R2 to D-R7: duties --------------------------------------------------------------------------------------

DUTIES = [
    pytest.param("ephedrine", {}, "D-R2",
                 {"licence_required": True, "registration_required": False, "operator_duties": False,
                  "report_in_annual_report": True, "coordinator_action": ["obtain_licence"]},
                 id="D-R2 cat 1 needs a licence the coordinator obtains"),
    pytest.param("ephedrine", {"dtu_licence_covers": True}, "D-R2",
                 {"licence_required": True, "coordinator_action": []}, id="D-R2 cat 1 already covered"),
    pytest.param("acetic anhydride", {"annual_quantity": 101, "quantity_unit": "l"}, "D-R3",
                 {"registration_required": True, "licence_required": False, "report_in_annual_report": True,
                  "coordinator_action": ["register"]}, id="D-R3 2A above 100 l"),
    pytest.param("acetic anhydride", {"annual_quantity": 100, "quantity_unit": "l"}, "D-R3",
                 {"registration_required": False, "report_in_annual_report": True, "coordinator_action": []},
                 id="D-R3 2A at 100 l is not above"),
    pytest.param("acetic anhydride", {"annual_quantity": 108.5, "quantity_unit": "kg"}, "D-R3",
                 {"registration_required": True, "coordinator_action": ["register"]}, id="D-R3 2A above 108 kg"),
    pytest.param("acetic anhydride", {"annual_quantity": 50, "quantity_unit": "kg"}, "D-R3",
                 {"registration_required": False}, id="D-R3 2A 50 kg is below"),
    pytest.param("red phosphorus", {"annual_quantity": 0.01}, "D-R3",
                 {"registration_required": True}, id="D-R3 2A without a known threshold: any quantity"),
    pytest.param("red phosphorus", {"annual_quantity": 0}, "D-R3",
                 {"registration_required": False}, id="D-R3 2A nothing held"),
    pytest.param("potassium permanganate", {"annual_quantity": 5000}, "D-R4",
                 {"registration_required": False, "licence_required": False, "report_in_annual_report": True,
                  "coordinator_action": []}, id="D-R4 2B user: no registration, reported"),
    pytest.param("piperidine", {"supplies_third_parties": True}, "D-R5",
                 {"operator_duties": True, "registration_required": True,
                  "coordinator_action": ["register", "customer_declaration"]}, id="D-R5 supplying 2B"),
    pytest.param("acetic anhydride", {"supplies_third_parties": True, "annual_quantity": 1, "quantity_unit": "l"},
                 "D-R5", {"operator_duties": True, "registration_required": True,
                          "coordinator_action": ["register", "customer_declaration"]},
                 id="D-R5 supplying 2A below threshold"),
    pytest.param("safrole", {"supplies_third_parties": True}, "D-R5",
                 {"operator_duties": True, "registration_required": True, "licence_required": True,
                  "coordinator_action": ["obtain_licence", "register", "customer_declaration"]},
                 id="D-R5 supplying cat 1"),
    pytest.param("toluene", {"supplies_third_parties": True, "annual_quantity": 10000, "quantity_unit": "l"}, "D-R6",
                 {"operator_duties": False, "registration_required": False, "licence_required": False,
                  "report_in_annual_report": False, "report_on_request_only": True, "coordinator_action": []},
                 id="D-R6 cat 3: no licence, registration or operator duties; on request"),
    pytest.param("acetone", {"trade_outside_eu": True}, "D-R7",
                 {"coordinator_action": ["trade_authorisation"]}, id="D-R7 cat 3 exported"),
    pytest.param("ephedrine", {"trade_outside_eu": True, "supplies_third_parties": True}, "D-R7",
                 {"coordinator_action": ["obtain_licence", "register", "customer_declaration", "trade_authorisation"]},
                 id="D-R7 every action, in the contract's order"),
    pytest.param("unobtainium", {"trade_outside_eu": True}, "D-R7",
                 {"unknown_substance": True, "coordinator_action": ["trade_authorisation"]},
                 id="D-R7 unknown substance traded outside the EU"),
]  # fmt: skip


@pytest.mark.parametrize(("substance", "facts", "rule_id", "expected"), DUTIES)
def test_duties(substance: str, facts: dict[str, Any], rule_id: str, expected: dict[str, Any]) -> None:
    decision = decide("precursor_classification", {"substance": substance, **facts}, on=ON)
    assert {name: decision.decision[name] for name in expected} == expected
    assert rule_id in decision.fired


@pytest.mark.parametrize(("category", "substance"), [("1", "piperonal"), ("2A", "acetic anhydride"),
                                                     ("2B", "anthranilic acid"), ("3", "MEK")])  # fmt: skip
def test_the_annual_report_takes_categories_1_2a_2b_and_3_only_on_request(category: str, substance: str) -> None:
    decision = decided(substance)
    assert decision["category"] == category
    assert decision["report_in_annual_report"] is (category != "3")
    assert decision["report_on_request_only"] is (category == "3")


def test_d_r9_a_substance_added_by_an_amending_act_is_scheduled_from_its_date() -> None:
    assert decided("23056-29-3", on=datetime.date(2023, 2, 19))["unknown_substance"] is True
    assert decided("23056-29-3", on=datetime.date(2023, 2, 20))["category"] == "1"


def test_the_decision_records_the_register_entry_it_used() -> None:
    decision = decide("precursor_classification", {"substance": "sodium anthranilate"}, on=ON)
    used = decision.parameters["lookup.substance"]
    assert used["register"] == "precursor_register"
    assert used["query"] == "sodium anthranilate"
    assert used["entry"]["name"] == "Anthranilic acid"
    assert used["entry"]["attributes"]["annex_ii_threshold"] == {"kg": 1}
    assert decision.to_dict()["parameters"]["lookup.substance"]["entry"]["cas"] == ["118-92-3"]


def test_the_decision_has_every_contract_field_and_cites_described_rule_ids() -> None:
    decision = decide("precursor_classification", {"substance": "ephedrine"}, on=ON)
    assert set(decision.decision) >= CONTRACT
    descriptions = rule_descriptions("precursor_classification")
    assert set(descriptions) == {f"D-R{number}" for number in range(1, 8)}


def test_every_2a_threshold_can_be_compared_in_both_units() -> None:
    for entry in REGISTER["entries"]:
        threshold = entry["attributes"].get("annex_ii_threshold")
        if entry["attributes"]["category"] == "2A" and threshold is not None:
            assert set(threshold) == {"kg", "l"}, entry["name"]


@pytest.mark.parametrize(
    ("facts", "field"),
    [
        ({"substance": ""}, "substance"),
        ({"substance": "   "}, "substance"),
        ({"substance": 299423}, "substance"),
        ({"substance": "x" * 501}, "substance"),
        ({"substance": "acetone", "annual_quantity": -1}, "annual_quantity"),
        ({"substance": "acetone", "annual_quantity": "10"}, "annual_quantity"),
        ({"substance": "acetone", "annual_quantity": float("nan")}, "annual_quantity"),
        ({"substance": "acetone", "annual_quantity": 1e300}, "annual_quantity"),
        ({"substance": "acetone", "quantity_unit": "g"}, "quantity_unit"),
        ({"annual_quantity": 1}, "substance"),
    ],
)
def test_bad_facts_are_refused_naming_the_fact(facts: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidFacts) as caught:
        decide("precursor_classification", facts, on=ON)
    assert set(caught.value.fields) == {field}


def test_the_shipped_register_is_valid_against_its_json_schema_and_checked_by_the_command() -> None:
    schema = read_json(Path(str(data_directory())) / "register.schema.json")
    Draft202012Validator.check_schema(schema)
    assert list(Draft202012Validator(schema).iter_errors(REGISTER)) == []
    result = subprocess.run(
        [sys.executable, "-m", "rules", "check"], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "ok register precursor_register" in result.stdout
    assert "ok precursor_classification" in result.stdout
