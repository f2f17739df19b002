"""Rule and parameter files are checked when they are loaded: JSON Schema first, then cross-references.

A process owner edits these files; a mistake must be refused with the place it is in, never reach
durable-rules (a rule without ``all``/``any`` is accepted there and crashes the process later).
"""

from __future__ import annotations

import copy
import datetime
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rules import Catalog, InvalidRuleSet, RulesError
from rules.loader import data_directory, load_parameters, load_ruleset, read_json
from rules.parameters import ParameterTable

SHIPPED = Path(str(data_directory()))


def shipped(name: str) -> dict[str, Any]:
    document: dict[str, Any] = read_json(SHIPPED / name)
    return document


def shipped_parameters() -> ParameterTable:
    return load_parameters(shipped("parameters.json"))


def test_the_shipped_files_are_valid() -> None:
    catalog = Catalog.load(SHIPPED)
    assert {"lone_work", "accident_report"} <= set(catalog.rulesets)
    for ruleset in catalog.rulesets.values():
        assert len(ruleset.rules) < 100
        assert ruleset.program is not None


def test_the_check_command_passes_on_the_shipped_files() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rules", "check"], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "ok lone_work" in result.stdout


def first_rule(document: dict[str, Any]) -> dict[str, Any]:
    rule: dict[str, Any] = document["rules"][0]
    return rule


def without_all(document: dict[str, Any]) -> None:
    del first_rule(document)["all"]


def with_all_and_any(document: dict[str, Any]) -> None:
    first_rule(document)["any"] = first_rule(document)["all"]


def with_100_rules(document: dict[str, Any]) -> None:
    document["rules"] = [dict(first_rule(document), name=f"rule_{index}") for index in range(100)]


def with_regex_operator(document: dict[str, Any]) -> None:
    first_rule(document)["all"] = [{"m": {"$mt": {"applicant_role": "stud.*"}}}]


def with_unknown_fact_in_condition(document: dict[str, Any]) -> None:
    first_rule(document)["all"] = [{"m": {"colour": "red"}}]


def with_list_fact_in_condition(document: dict[str, Any]) -> None:
    first_rule(document)["all"] = [{"m": {"hazards": "cryogenics"}}]


def with_wrong_literal(document: dict[str, Any]) -> None:
    first_rule(document)["all"] = [{"m": {"applicant_role": "professor"}}]


def with_unknown_decision_value(document: dict[str, Any]) -> None:
    first_rule(document)["set"] = {"group": "G9"}


def with_unknown_decision_field(document: dict[str, Any]) -> None:
    first_rule(document)["set"] = {"colour": "red"}


def with_uncited_rule_id(document: dict[str, Any]) -> None:
    first_rule(document)["cites"] = ["B-R99"]


def with_unknown_parameter(document: dict[str, Any]) -> None:
    document["derived"]["has_prohibited_hazard"]["parameter"] = "lone_work.forbidden_things"


def with_requirement_on_a_plain_field(document: dict[str, Any]) -> None:
    first_rule(document)["require"] = {"group": ["lone_work.mandatory_mitigations.always"]}


def with_duplicate_rule_names(document: dict[str, Any]) -> None:
    document["rules"][1]["name"] = first_rule(document)["name"]


def with_undecidable_field(document: dict[str, Any]) -> None:
    document["decision"]["route_colour"] = {"type": "string", "values": ["red"]}


def with_wrong_derived_op(document: dict[str, Any]) -> None:
    document["derived"]["is_young_worker"]["op"] = "intersects"


def without_citations(document: dict[str, Any]) -> None:
    del document["citations"]


BROKEN_RULE_SETS: list[Any] = [
    pytest.param(without_all, "rules[0]", id="a rule without all or any"),
    pytest.param(with_all_and_any, "rules[0]", id="a rule with both all and any"),
    pytest.param(with_100_rules, "rules", id="100 rules"),
    pytest.param(with_regex_operator, "rules[0].all[0].m", id="an operator outside the allowed set"),
    pytest.param(with_unknown_fact_in_condition, "rules[0].colour", id="an unknown fact in a condition"),
    pytest.param(with_list_fact_in_condition, "rules[0].hazards", id="a list fact in a condition"),
    pytest.param(with_wrong_literal, "rules[0].applicant_role", id="a value the fact cannot have"),
    pytest.param(with_unknown_decision_value, "rules[0].set.group", id="an unknown decision value"),
    pytest.param(with_unknown_decision_field, "rules[0].set.colour", id="an unknown decision field"),
    pytest.param(with_uncited_rule_id, "rules[0].cites", id="a rule id without a description"),
    pytest.param(with_unknown_parameter, "derived.has_prohibited_hazard", id="an unknown parameter"),
    pytest.param(with_requirement_on_a_plain_field, "rules[0].require.group", id="require on a plain field"),
    pytest.param(with_duplicate_rule_names, "rules[1].name", id="two rules with one name"),
    pytest.param(with_undecidable_field, "decision.route_colour", id="a field no rule can decide"),
    pytest.param(with_wrong_derived_op, "derived.is_young_worker", id="a derived op on the wrong fact type"),
    pytest.param(without_citations, "(document)", id="no citations"),
]


@pytest.mark.parametrize(("breaks", "where"), BROKEN_RULE_SETS)
def test_a_broken_rule_set_is_rejected_naming_the_place(breaks: Callable[[dict[str, Any]], None], where: str) -> None:
    document = copy.deepcopy(shipped("lone_work.rules.json"))
    breaks(document)
    with pytest.raises(InvalidRuleSet) as caught:
        load_ruleset(document, shipped_parameters(), what="lone_work.rules.json")
    assert where in caught.value.fields, caught.value.fields
    assert caught.value.message == "lone_work.rules.json is invalid"
    assert isinstance(caught.value, RulesError)


def test_a_rule_file_without_all_or_any_is_rejected_before_durable_rules_sees_it(tmp_path: Path) -> None:
    (tmp_path / "parameters.json").write_text(json.dumps(shipped("parameters.json")))
    document = shipped("lone_work.rules.json")
    without_all(document)
    (tmp_path / "lone_work.rules.json").write_text(json.dumps(document))
    with pytest.raises(InvalidRuleSet) as caught:
        Catalog.load(tmp_path)
    assert "rules[0]" in caught.value.fields
    result = subprocess.run(
        [sys.executable, "-m", "rules", "check", str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert "rules[0]" in result.stderr


def test_a_rule_file_must_be_named_after_its_rule_set(tmp_path: Path) -> None:
    (tmp_path / "parameters.json").write_text(json.dumps(shipped("parameters.json")))
    (tmp_path / "solo.rules.json").write_text(json.dumps(shipped("lone_work.rules.json")))
    with pytest.raises(InvalidRuleSet) as caught:
        Catalog.load(tmp_path)
    assert caught.value.fields == {"name": "must be 'solo' (the file name)"}


def test_a_rule_file_that_is_not_json_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "parameters.json").write_text("{ not json")
    with pytest.raises(InvalidRuleSet, match="cannot read JSON"):
        Catalog.load(tmp_path)


def test_a_parameter_value_that_does_not_fit_its_fact_is_rejected_in_every_dated_entry() -> None:
    parameters = shipped("parameters.json")
    parameters["lone_work.prohibited_hazards"].append({"value": ["lava"], "valid_from": "2030-01-01"})
    with pytest.raises(InvalidRuleSet) as caught:
        load_ruleset(shipped("lone_work.rules.json"), load_parameters(parameters))
    assert caught.value.fields == {
        "derived.has_prohibited_hazard": "parameter 'lone_work.prohibited_hazards' from 2030-01-01 "
        "does not fit 'hazards'"
    }


BROKEN_PARAMETERS: list[Any] = [
    pytest.param({"x": []}, "x", id="no values"),
    pytest.param({"x": [{"value": 1}]}, "x[0]", id="no valid_from"),
    pytest.param({"x": [{"value": 1, "valid_from": "1 July 2026"}]}, "x[0].valid_from", id="not ISO"),
    pytest.param({"x": [{"value": 1, "valid_from": "2026-02-30"}]}, "x[0].valid_from", id="no such day"),
    pytest.param({"x": [{"value": 1, "valid_from": "2026-01-01", "until": "2027"}]}, "x[0]", id="unknown key"),
    pytest.param(
        {"x": [{"value": 1, "valid_from": "2026-01-01"}, {"value": 2, "valid_from": "2026-01-01"}]},
        "x", id="two values from one day",
    ),
    pytest.param({"bad key!": [{"value": 1, "valid_from": "2026-01-01"}]}, "(document)", id="bad key"),
]  # fmt: skip


@pytest.mark.parametrize(("document", "where"), BROKEN_PARAMETERS)
def test_a_broken_parameter_file_is_rejected_naming_the_place(document: dict[str, Any], where: str) -> None:
    with pytest.raises(InvalidRuleSet) as caught:
        load_parameters(document)
    assert where in caught.value.fields, caught.value.fields


def test_a_new_dated_value_takes_effect_on_its_date_without_touching_the_rules(tmp_path: Path) -> None:
    """How a process owner follows a change in the law: add a dated entry, keep the old one."""
    parameters = shipped("parameters.json")
    parameters["lone_work.young_worker_age_below"].append({"value": 21, "valid_from": "2027-01-01"})
    (tmp_path / "parameters.json").write_text(json.dumps(parameters))
    (tmp_path / "lone_work.rules.json").write_text(json.dumps(shipped("lone_work.rules.json")))
    catalog = Catalog.load(tmp_path)
    facts = {
        "another_competent_person_within_reach": False,
        "hazards": [],
        "outside_normal_hours": False,
        "applicant_role": "employee",
        "applicant_age": 19,
        "instruction_completed": True,
        "instruction_date": "2026-06-01",
        "instruction_by": "Karl Koordinator",
    }
    before = catalog.decide("lone_work", facts, on=datetime.date(2026, 12, 31))
    after = catalog.decide("lone_work", facts, on=datetime.date(2027, 1, 1))
    assert (before.decision["young_worker_check"], after.decision["young_worker_check"]) == (False, True)
    assert (before.fired, after.fired) == (("B-R1", "B-R2"), ("B-R1", "B-R2", "B-R7"))
    assert after.parameters["lone_work.young_worker_age_below"] == 21
