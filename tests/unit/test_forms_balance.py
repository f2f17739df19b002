"""The form keyword ``x-balance`` (issue #16): a stock account must add up within a tolerance, or say why."""

from __future__ import annotations

from typing import Any

import pytest

from forms import validate, validate_with
from forms.messages import translate

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "opening": {"type": "number"},
        "bought": {"type": "array", "items": {"type": "object", "properties": {"quantity": {"type": "number"}}}},
        "used": {"type": "number"},
        "closing": {"type": "number"},
        "why": {"type": "string"},
    },
    "x-balance": {"total": "closing", "plus": ["opening", "bought[].quantity"], "minus": ["used"],
                  "tolerance": 0.5, "explanation": "why"},
}


def account(**fields: Any) -> dict[str, Any]:
    return {"opening": 10, "bought": [{"quantity": 5}, {"quantity": 2.5}], "used": 7, "closing": 10.5, **fields}


@pytest.mark.parametrize("closing", [10.5, 11.0, 10.0])
def test_an_account_that_adds_up_within_the_tolerance_passes(closing: float) -> None:
    assert validate_with(SCHEMA, account(closing=closing)) == {}


def test_an_account_that_does_not_add_up_needs_an_explanation_keyed_by_its_field() -> None:
    errors = validate_with(SCHEMA, account(closing=9))

    assert errors == {"why": "Does not balance: the movements give 10.5, closing is 9 (difference -1.5, "
                             "tolerance 0.5). Explain the difference."}
    assert translate(errors["why"], "da").startswith("Går ikke op: bevægelserne giver 10.5, closing er 9")
    assert validate_with(SCHEMA, account(closing=9, why="   ")) == errors
    assert validate_with(SCHEMA, account(closing=9, why="0.5 kg spilled, 1 kg evaporated")) == {}


def test_missing_terms_count_as_zero_and_an_empty_table_adds_nothing() -> None:
    assert validate_with(SCHEMA, {"opening": 3, "closing": 3}) == {}
    assert set(validate_with(SCHEMA, {"opening": 3, "bought": [], "closing": 4})) == {"why"}


def test_a_term_that_is_not_a_number_is_left_to_its_own_schema() -> None:
    errors = validate_with(SCHEMA, account(used="seven"))
    assert set(errors) == {"used"}


def test_the_balance_of_each_row_of_a_table_is_keyed_by_the_row() -> None:
    schema = {"type": "object", "properties": {"rows": {"type": "array", "items": SCHEMA}}}
    errors = validate_with(schema, {"rows": [account(), account(closing=0)]})
    assert list(errors) == ["rows.1.why"]


def test_the_shipped_annual_report_form_reconciles_its_stock() -> None:
    report = {"substance": "Acetic anhydride", "quantity_unit": "l", "opening_stock": 10,
              "purchases": [{"supplier": "Merck", "quantity": 5}], "consumption": 8,
              "supplied": [{"recipient": "Spin-out ApS", "country": "DK", "quantity": 1}], "disposed": 0.5,
              "closing_stock": 5.5}
    assert validate("precursor_annual_report", report) == {}
    assert set(validate("precursor_annual_report", {**report, "closing_stock": 7})) == {"discrepancy_explanation"}
    assert validate("precursor_annual_report", {**report, "closing_stock": 7,
                                                "discrepancy_explanation": "A bottle was not booked"}) == {}
