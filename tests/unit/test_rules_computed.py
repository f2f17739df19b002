"""Date facts, checks between facts and computed decision fields (rules/computed.py), on their own.

A small rule set built here, not a shipped one: the capabilities are generic, whatever rule set uses them.
"""

from __future__ import annotations

import copy
import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from rules import Catalog, InvalidFacts, InvalidRuleSet
from rules.catalog import today
from rules.computed import deadline, hours_after, local_instant, parse_time
from rules.loader import load_parameters, load_ruleset
from rules.parameters import ParameterTable

COPENHAGEN = ZoneInfo("Europe/Copenhagen")

PARAMETERS: dict[str, Any] = {
    "claim.days": [{"value": 10, "valid_from": "2020-01-01"}, {"value": 20, "valid_from": "2026-07-01"}],
    "claim.time_of_day": [{"value": "16:00", "valid_from": "2020-01-01"}],
    "claim.hours": [{"value": 24, "valid_from": "2020-01-01"}],
    "claim.urgent_kinds": [{"value": ["fire"], "valid_from": "2020-01-01"}],
    "claim.not_a_time": [{"value": "4 pm", "valid_from": "2020-01-01"}],
}

DOCUMENT: dict[str, Any] = {
    "name": "claim",
    "title": {"da": "Krav", "en": "Claim"},
    "law_date_fact": "event_date",
    "facts": {
        "kind": {"type": "string", "values": ["fire", "flood", "other"], "required": False, "default": "other"},
        "event_date": {"type": "date", "required": False, "default": None},
        "event_time": {"type": "time", "required": False, "default": None},
        "noticed_on": {"type": "date", "required": False, "default": None, "later_than": "event_date"},
        "insured": {"type": "boolean", "required": False, "default": True},
        "broker_named": {"type": "boolean", "required": False, "default": False, "only_when": {"insured": True}},
    },
    "derived": {"is_urgent": {"op": "one_of", "fact": "kind", "parameter": "claim.urgent_kinds"}},
    "decision": {
        "claim_from": {"type": "string", "values": ["none", "event_date", "noticed_on"], "default": "none"},
        "claim_days": {"type": "integer", "nullable": True, "default": None},
        "call_within_hours": {"type": "integer", "nullable": True, "default": None},
        "claim_deadline": {
            "type": "string", "nullable": True,
            "compute": {"op": "deadline", "anchor": "claim_from", "days": "claim_days",
                        "time_of_day": {"parameter": "claim.time_of_day"}, "zone": "Europe/Copenhagen"},
        },
        "fixed_deadline": {
            "type": "string", "nullable": True,
            "compute": {"op": "deadline", "anchor": "event_date", "days": 1, "time_of_day": "09:30",
                        "zone": "Europe/Copenhagen"},
        },
        "call_deadline": {
            "type": "string", "nullable": True,
            "compute": {"op": "hours_after", "date": "event_date", "time": "event_time",
                        "hours": "call_within_hours", "zone": "Europe/Copenhagen"},
        },
    },
    "rules": [
        {"name": "urgent", "cites": ["X-R1"], "pri": 1, "all": [{"m": {"is_urgent": True}}],
         "set": {"claim_from": "event_date", "claim_days": {"parameter": "claim.days"},
                 "call_within_hours": {"parameter": "claim.hours"}}},
        {"name": "ordinary", "cites": ["X-R1"], "pri": 2, "all": [{"m": {"is_urgent": False}}],
         "set": {"claim_from": "noticed_on", "claim_days": 3}},
    ],
    "citations": {"X-R1": {"da": "Krav", "en": "Claims", "source": "test"}},
}  # fmt: skip


def parameters() -> ParameterTable:
    return load_parameters(copy.deepcopy(PARAMETERS))


def catalog(document: dict[str, Any] | None = None) -> Catalog:
    ruleset = load_ruleset(copy.deepcopy(document or DOCUMENT), parameters())
    return Catalog(rulesets={ruleset.name: ruleset}, parameters=parameters())


ON = datetime.date(2026, 1, 15)


# --- the pure functions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("anchor", "days", "expected"),
    [
        pytest.param("2026-01-20", 14, "2026-02-03T23:59:00+01:00", id="over a month end in winter"),
        pytest.param("2026-03-14", 14, "2026-03-28T23:59:00+01:00", id="the day before summer time"),
        pytest.param("2026-03-15", 14, "2026-03-29T23:59:00+02:00", id="the day summer time starts"),
        pytest.param("2026-10-10", 14, "2026-10-24T23:59:00+02:00", id="the day before summer time ends"),
        pytest.param("2026-10-11", 14, "2026-10-25T23:59:00+01:00", id="the day summer time ends"),
        pytest.param("2028-02-15", 14, "2028-02-29T23:59:00+01:00", id="a leap day"),
        pytest.param("2026-12-20", 14, "2027-01-03T23:59:00+01:00", id="over a year end"),
        pytest.param("2026-05-01", 0, "2026-05-01T23:59:00+02:00", id="zero days: the anchor day itself"),
    ],
)
def test_a_deadline_is_the_time_of_day_on_the_last_day_in_copenhagen(anchor: str, days: int, expected: str) -> None:
    result = deadline(datetime.date.fromisoformat(anchor), days, datetime.time(23, 59), COPENHAGEN)
    assert result.isoformat() == expected


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        pytest.param("2026-03-27 22:30", 48, "2026-03-29T23:30:00+02:00", id="over the spring change: 49 wall hours"),
        pytest.param("2026-10-23 12:00", 48, "2026-10-25T11:00:00+01:00", id="over the autumn change: 47 wall hours"),
        pytest.param("2026-03-29 02:30", 0, "2026-03-29T03:30:00+02:00", id="a time summer time skips"),
        pytest.param("2026-10-25 02:30", 0, "2026-10-25T02:30:00+02:00", id="a repeated time: its first occurrence"),
        pytest.param("2026-01-30 09:15", 48, "2026-02-01T09:15:00+01:00", id="over a month end"),
    ],
)
def test_hours_after_counts_elapsed_hours_across_summer_time(start: str, hours: int, expected: str) -> None:
    moment = datetime.datetime.fromisoformat(start)
    begin = local_instant(moment.date(), moment.time(), COPENHAGEN)
    assert hours_after(begin, hours).isoformat() == expected


@pytest.mark.parametrize("text", ["24:00", "7:30", "07:60", "0730", "07:30:00", "", "noon"])
def test_a_time_of_day_is_hh_mm_only(text: str) -> None:
    with pytest.raises(ValueError, match="HH:MM"):
        parse_time(text)


# --- computed fields in a decision -------------------------------------------------------------------------


def test_a_deadline_runs_from_the_date_fact_the_rules_chose() -> None:
    decision = catalog().decide("claim", {"kind": "flood", "event_date": "2026-03-20", "noticed_on": "2026-03-26"},
                                on=ON).decision
    assert decision["claim_from"] == "noticed_on"
    assert decision["claim_deadline"] == "2026-03-29T16:00:00+02:00"  # 3 days, 16:00 from the parameter
    assert decision["fixed_deadline"] == "2026-03-21T09:30:00+01:00"  # literal days and time of day
    assert decision["call_deadline"] is None  # no rule set the hours


def test_a_computed_field_is_null_while_its_anchor_day_is_not_known() -> None:
    decision = catalog().decide("claim", {"kind": "flood", "event_date": "2026-03-20"}, on=ON).decision
    assert decision["claim_deadline"] is None
    assert decision["fixed_deadline"] == "2026-03-21T09:30:00+01:00"


def test_an_anchor_value_none_means_no_deadline() -> None:
    document = copy.deepcopy(DOCUMENT)
    document["rules"][1]["set"]["claim_from"] = "none"
    decision = catalog(document).decide("claim", {"event_date": "2026-03-20", "noticed_on": "2026-03-21"}, on=ON)
    assert decision.decision["claim_deadline"] is None


def test_hours_after_starts_at_the_start_of_the_day_when_the_time_is_not_known() -> None:
    with_time = catalog().decide("claim", {"kind": "fire", "event_date": "2026-03-28", "event_time": "10:00"}, on=ON)
    without = catalog().decide("claim", {"kind": "fire", "event_date": "2026-03-28"}, on=ON)
    assert with_time.decision["call_deadline"] == "2026-03-29T11:00:00+02:00"
    assert without.decision["call_deadline"] == "2026-03-29T00:00:00+01:00"  # before the 02:00 change


def test_the_parameters_a_computation_reads_are_reported_with_the_decision() -> None:
    decision = catalog().decide("claim", {"event_date": "2026-03-20"}, on=ON)
    assert decision.parameters["claim.time_of_day"] == "16:00"


# --- the law of a fact's date --------------------------------------------------------------------------------


def test_without_on_the_law_of_the_law_date_fact_applies() -> None:
    before = catalog().decide("claim", {"kind": "fire", "event_date": "2026-06-30"})
    after = catalog().decide("claim", {"kind": "fire", "event_date": "2026-07-01"})
    assert (before.on, before.decision["claim_days"]) == (datetime.date(2026, 6, 30), 10)
    assert (after.on, after.decision["claim_days"]) == (datetime.date(2026, 7, 1), 20)
    assert after.decision["claim_deadline"] == "2026-07-21T16:00:00+02:00"


def test_a_given_on_wins_over_the_law_date_fact() -> None:
    decision = catalog().decide("claim", {"kind": "fire", "event_date": "2026-07-01"}, on=datetime.date(2026, 6, 30))
    assert decision.on == datetime.date(2026, 6, 30)
    assert decision.decision["claim_days"] == 10


def test_without_on_and_without_the_date_fact_today_applies() -> None:
    assert catalog().decide("claim", {"kind": "other"}).on == today()


# --- facts: dates, times and checks between facts -----------------------------------------------------------


@pytest.mark.parametrize(
    ("facts", "field", "problem"),
    [
        pytest.param({"event_date": "2026-02-30"}, "event_date", "not a date", id="no such day"),
        pytest.param({"event_date": "30-01-2026"}, "event_date", "expected a date", id="not ISO"),
        pytest.param({"event_date": 20260130}, "event_date", "expected a date", id="a number"),
        pytest.param({"event_date": datetime.datetime(2026, 1, 30, 12, 0, tzinfo=COPENHAGEN)}, "event_date",
                     "not a date and time", id="a datetime"),
        pytest.param({"event_time": "25:00"}, "event_time", "HH:MM", id="no such time"),
        pytest.param({"event_date": "2026-01-30", "noticed_on": "2026-01-30"}, "noticed_on",
                     "must be after event_date", id="later_than: the same day"),
        pytest.param({"event_date": "2026-01-30", "noticed_on": "2026-01-29"}, "noticed_on",
                     "must be after event_date", id="later_than: before"),
        pytest.param({"insured": False, "broker_named": True}, "broker_named", "only applies when insured is true",
                     id="only_when"),
    ],
)  # fmt: skip
def test_bad_dates_and_contradicting_facts_are_refused_naming_the_fact(
    facts: dict[str, Any], field: str, problem: str
) -> None:
    with pytest.raises(InvalidFacts) as caught:
        catalog().decide("claim", facts, on=ON)
    assert set(caught.value.fields) == {field}
    assert problem in caught.value.fields[field]


def test_dates_and_times_may_be_given_as_python_objects() -> None:
    decision = catalog().decide(
        "claim", {"kind": "fire", "event_date": datetime.date(2026, 3, 28), "event_time": datetime.time(10, 0)}, on=ON
    )
    assert decision.decision["call_deadline"] == "2026-03-29T11:00:00+02:00"


def test_the_only_when_fact_may_keep_its_default() -> None:
    assert catalog().decide("claim", {"insured": False, "broker_named": False}, on=ON).decision


# --- load-time checks ------------------------------------------------------------------------------------------


def edited(change: Any) -> dict[str, Any]:
    document = copy.deepcopy(DOCUMENT)
    change(document)
    return document


def compute_of(document: dict[str, Any], field: str) -> dict[str, Any]:
    spec: dict[str, Any] = document["decision"][field]["compute"]
    return spec


BROKEN: list[Any] = [
    pytest.param(lambda d: compute_of(d, "claim_deadline").update(anchor="kind"),
                 "decision.claim_deadline.compute.anchor", "name no date fact", id="anchor values that are no date"),
    pytest.param(lambda d: compute_of(d, "claim_deadline").update(anchor="insured"),
                 "decision.claim_deadline.compute.anchor", "neither a date fact", id="anchor a boolean"),
    pytest.param(lambda d: compute_of(d, "claim_deadline").update(anchor="colour"),
                 "decision.claim_deadline.compute.anchor", "unknown", id="anchor unknown"),
    pytest.param(lambda d: compute_of(d, "claim_deadline").update(days="claim_from"),
                 "decision.claim_deadline.compute.days", "not an integer", id="days a string field"),
    pytest.param(lambda d: compute_of(d, "claim_deadline").update(days={"parameter": "claim.time_of_day"}),
                 "decision.claim_deadline.compute.days", "not an integer", id="days a text parameter"),
    pytest.param(lambda d: compute_of(d, "claim_deadline").update(time_of_day={"parameter": "claim.not_a_time"}),
                 "decision.claim_deadline.compute.time_of_day", "HH:MM", id="time of day not HH:MM"),
    pytest.param(lambda d: compute_of(d, "claim_deadline").update(time_of_day={"parameter": "claim.nothing"}),
                 "decision.claim_deadline.compute.time_of_day", "unknown parameter", id="unknown parameter"),
    pytest.param(lambda d: compute_of(d, "claim_deadline").update(zone="Europe/Atlantis"),
                 "decision.claim_deadline.compute.zone", "unknown time zone", id="unknown zone"),
    pytest.param(lambda d: compute_of(d, "call_deadline").update(hours="fixed_deadline"),
                 "decision.call_deadline.compute.hours", "computed after the rules", id="a computed operand"),
    pytest.param(lambda d: d["decision"]["claim_deadline"].update(nullable=False),
                 "decision.claim_deadline", "nullable string", id="a computed field that cannot be null"),
    pytest.param(lambda d: d["rules"][0]["set"].update(claim_deadline="tomorrow"),
                 "rules[0].set.claim_deadline", "not a decision field a rule can set", id="a rule sets it"),
    pytest.param(lambda d: d.update(law_date_fact="kind"), "law_date_fact", "not a date fact",
                 id="law_date_fact not a date"),
    pytest.param(lambda d: d["facts"]["noticed_on"].update(later_than="kind"), "facts.noticed_on.later_than",
                 "date fact", id="later_than a string fact"),
    pytest.param(lambda d: d["facts"]["broker_named"].update(only_when={"insured": "yes"}),
                 "facts.broker_named.only_when", "not a valid value", id="only_when a wrong value"),
    pytest.param(lambda d: d["facts"]["broker_named"].update(only_when={"event_date": "2026-01-01"}),
                 "facts.broker_named.only_when", "not another boolean", id="only_when a date fact"),
    pytest.param(lambda d: d["rules"][0].update(all=[{"m": {"event_date": "2026-01-01"}}]),
                 "rules[0].event_date", "date fact 'event_date' cannot be tested", id="a date fact in a condition"),
    pytest.param(lambda d: d["derived"]["is_urgent"].update(fact="insured"), "derived.is_urgent",
                 "one_of needs a fact of type string", id="one_of on a boolean"),
    pytest.param(lambda d: d["derived"]["is_urgent"].update(parameter="claim.not_a_time"), "derived.is_urgent",
                 "does not fit", id="one_of a parameter that is no list of values"),
    pytest.param(lambda d: d["facts"]["event_date"].update(default="2026-01-01"), "facts.event_date",
                 "valid default", id="a date default other than null"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "where", "problem"), BROKEN)
def test_a_broken_computation_or_date_fact_is_refused_when_loaded(change: Any, where: str, problem: str) -> None:
    with pytest.raises(InvalidRuleSet) as caught:
        load_ruleset(edited(change), parameters())
    assert where in caught.value.fields, caught.value.fields
    assert problem in caught.value.fields[where]


def test_a_computation_with_an_unknown_op_breaks_the_schema() -> None:
    with pytest.raises(InvalidRuleSet) as caught:
        load_ruleset(edited(lambda d: compute_of(d, "claim_deadline").update(op="weekdays")), parameters())
    assert any(where.startswith("decision.claim_deadline.compute") for where in caught.value.fields)
