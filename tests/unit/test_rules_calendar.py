"""The calendar capability of rules/: time windows, normal hours with public holidays, validity dates.

Its use in the lone_work rule set (B-R9, B-R11) is tested in test_rules_lone_work.py; here the capability
itself, and the loader's checks of a rule file that uses it (``derive`` on a fact, ``compute`` on a
decision field).
"""

from __future__ import annotations

import copy
import datetime
import json
from pathlib import Path
from typing import Any

import pytest

from rules import Catalog, InvalidRuleSet
from rules.calendar import (
    Calendar,
    first_outside,
    latest_valid_until,
    months_later,
    parse_calendar,
    parse_clock,
    parse_time_windows,
)
from rules.loader import data_directory, load_parameters, load_ruleset, read_json

DTU = {
    "working_days": ["monday", "tuesday", "wednesday", "thursday", "friday"],
    "from": "07:00",
    "to": "18:00",
    "holidays": {"country": "DK", "categories": ["public", "optional"]},
}


def day(text: str) -> datetime.date:
    return datetime.date.fromisoformat(text)


@pytest.mark.parametrize(
    ("start", "months", "later", "last_valid"),
    [
        ("2026-09-01", 12, "2027-09-01", "2027-08-31"),
        ("2026-01-31", 1, "2026-03-01", "2026-02-28"),
        ("2028-02-29", 12, "2029-03-01", "2029-02-28"),
        ("2028-01-31", 1, "2028-03-01", "2028-02-29"),
        ("2026-12-15", 1, "2027-01-15", "2027-01-14"),
        ("2026-11-30", 3, "2027-03-01", "2027-02-28"),
    ],
)
def test_months_later_rolls_a_missing_day_on_and_validity_ends_the_day_before(
    start: str, months: int, later: str, last_valid: str
) -> None:
    assert months_later(day(start), months) == day(later)
    assert latest_valid_until(day(start), None, months) == day(last_valid)
    assert latest_valid_until(day(start), day(start), months) == day(start)


@pytest.mark.parametrize(
    ("text", "end", "minutes"),
    [("00:00", False, 0), ("07:00", False, 420), ("23:59", False, 1439), ("24:00", True, 1440), ("18:00", True, 1080)],
)
def test_clock_times_are_minutes_after_midnight(text: str, end: bool, minutes: int) -> None:
    assert parse_clock(text, end=end) == minutes


@pytest.mark.parametrize("text", ["24:00", "7:00", "07.00", "25:00", "07:60", "", None, 700])
def test_a_start_time_must_be_hh_mm_before_midnight(text: Any) -> None:
    with pytest.raises(ValueError, match="expected a time HH:MM"):
        parse_clock(text)


def test_the_dtu_calendar_takes_public_holidays_from_the_holidays_package() -> None:
    calendar = parse_calendar(DTU)
    assert calendar.holiday(day("2026-05-14")) == "Kristi himmelfartsdag"
    assert calendar.holiday(day("2026-06-05")) == "Grundlovsdag"
    assert calendar.holiday(day("2026-05-13")) is None
    assert calendar.holiday(day("2023-05-05")) == "Store bededag"
    assert calendar.holiday(day("2025-05-16")) is None  # abolished from 2024
    assert calendar.is_working_day(day("2026-05-13"))
    assert not calendar.is_working_day(day("2026-05-14"))
    assert not calendar.is_working_day(day("2026-05-16"))  # a Saturday


def test_which_holiday_categories_count_is_part_of_the_parameter() -> None:
    public_only = parse_calendar({**DTU, "holidays": {"country": "DK", "categories": ["public"]}})
    assert public_only.is_working_day(day("2026-06-05"))  # Grundlovsdag is no public holiday (helligdag)
    assert not public_only.is_working_day(day("2026-12-25"))
    no_holidays = parse_calendar({key: value for key, value in DTU.items() if key != "holidays"})
    assert no_holidays.is_working_day(day("2026-12-25"))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({**DTU, "to": "06:00"}, "'to' must be after 'from'"),
        ({**DTU, "working_days": ["fri"]}, "working_days must be a list of weekday names"),
        ({**DTU, "holidays": {"country": "XX"}}, "unknown country 'XX'"),
        ({**DTU, "holidays": {"country": "DK", "categories": ["bank"]}}, "categories must be among"),
        ({**DTU, "timezone": "UTC"}, "expected {working_days, from, to, holidays}"),
    ],
)
def test_a_bad_calendar_is_refused(value: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("{", r"\{")):
        parse_calendar(value)


def test_the_first_stretch_outside_normal_hours_is_found_and_cut_at_midnight() -> None:
    calendar = parse_calendar(DTU)
    evenings = parse_time_windows([{"days": "weekdays", "from": "08:00", "to": "16:00"},
                                   {"days": ["tuesday", "thursday"], "from": "22:00", "to": "01:30"}])  # fmt: skip
    # Tuesday 1 September 2026, 22:00 to midnight is the first stretch outside.
    assert first_outside(evenings, day("2026-08-31"), day("2026-09-30"), calendar) == (day("2026-09-01"), 1320, 1440)
    daytime = parse_time_windows([{"days": "weekdays", "from": "08:00", "to": "16:00"}])
    assert first_outside(daytime, day("2026-09-01"), day("2026-09-30"), calendar) is None
    assert first_outside(daytime, day("2026-12-01"), day("2026-12-31"), calendar) == (day("2026-12-24"), 480, 960)


def test_a_window_past_midnight_counts_on_the_next_day_too() -> None:
    calendar = Calendar(frozenset(range(7)), 0, 24 * 60)  # open round the clock, every day
    window = parse_time_windows([{"days": "friday", "from": "22:00", "to": "02:00"}])
    assert first_outside(window, day("2026-09-04"), day("2026-09-04"), calendar) is None
    weekdays = Calendar(frozenset(range(5)), 0, 24 * 60)
    assert first_outside(window, day("2026-09-04"), day("2026-09-04"), weekdays) == (day("2026-09-05"), 0, 120)


def test_a_period_must_not_end_before_it_starts_nor_be_endless() -> None:
    calendar = parse_calendar(DTU)
    windows = parse_time_windows([{"days": "monday", "from": "08:00", "to": "09:00"}])
    with pytest.raises(ValueError, match="ends before it starts"):
        first_outside(windows, day("2026-09-02"), day("2026-09-01"), calendar)
    with pytest.raises(ValueError, match="longer than"):
        first_outside(windows, day("2026-01-01"), day("2040-01-01"), calendar)


def test_time_windows_read_days_as_one_name_or_a_list_and_optional_dates() -> None:
    windows = parse_time_windows([
        {"days": ["monday", "monday", "friday"], "from": "18:00", "to": "24:00"},
        {"days": "every_day", "from": "09:00", "to": "10:00", "from_date": "2026-05-14", "to_date": "2026-05-14"},
    ])  # fmt: skip
    assert [(w.days, w.start, w.end) for w in windows] == [
        ("monday", 1080, 1440), ("friday", 1080, 1440), ("every_day", 540, 600),
    ]  # fmt: skip
    assert windows[2].from_date == windows[2].to_date == day("2026-05-14")


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"days": "monday", "from": "09:00"}], "row 0: to: expected a time"),
        ([{"days": [], "from": "09:00", "to": "10:00"}], "row 0: days must be one of"),
        ([{"days": "monday", "from": "09:00", "to": "10:00", "room": "112"}], "row 0: unknown field 'room'"),
        ([{"days": "monday", "from": "09:00", "to": "10:00", "from_date": "2026-05-15", "to_date": "2026-05-14"}],
         "row 0: to_date is before from_date"),
        ([{"days": "monday", "from": "09:00", "to": "10:00", "to_date": "14/5"}], "row 0: to_date: expected a date"),
        (["monday 9-10"], "row 0: expected an object"),
    ],
)  # fmt: skip
def test_bad_time_windows_are_refused_naming_the_row(rows: list[Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_time_windows(rows)


# --- the loader checks every use of a computation ------------------------------------------------------

SHIPPED = Path(str(data_directory()))


def shipped(name: str) -> dict[str, Any]:
    document: dict[str, Any] = read_json(SHIPPED / name)
    return document


def derive_of(document: dict[str, Any]) -> dict[str, Any]:
    derive: dict[str, Any] = document["facts"]["outside_normal_hours"]["derive"]
    return derive


BROKEN: list[Any] = [
    pytest.param(lambda d: derive_of(d).update(op="moon_phase"), "facts.outside_normal_hours.derive",
                 "unknown op 'moon_phase'", id="unknown op"),
    pytest.param(lambda d: derive_of(d).update(windows="hazards"), "facts.outside_normal_hours.derive.windows",
                 "'hazards' is not a time_windows fact", id="wrong fact type"),
    pytest.param(lambda d: derive_of(d).pop("first_day"), "facts.outside_normal_hours.derive",
                 "outside_normal_hours needs a fact for 'first_day'", id="a role left out"),
    pytest.param(lambda d: derive_of(d).pop("calendar"), "facts.outside_normal_hours.derive",
                 "outside_normal_hours needs a parameter for 'calendar'", id="a parameter left out"),
    pytest.param(lambda d: derive_of(d).update(calendar={"parameter": "lone_work.no_such"}),
                 "facts.outside_normal_hours.derive.calendar", "unknown parameter 'lone_work.no_such'",
                 id="unknown parameter"),
    pytest.param(lambda d: d["facts"]["start_date"].update(type="boolean", default=False),
                 "facts.outside_normal_hours.derive.first_day", "'start_date' is neither a date fact",
                 id="start not a date"),
    pytest.param(lambda d: d["decision"]["latest_valid_until"].pop("nullable"), "decision.latest_valid_until",
                 "a computed decision field must be a nullable date", id="computed field not nullable"),
    pytest.param(lambda d: d["decision"]["latest_valid_until"].update(type="boolean"),
                 "decision.latest_valid_until", "latest_valid_until gives a date, not a boolean",
                 id="computed field of the wrong type"),
    pytest.param(lambda d: d["rules"][0]["set"].update(latest_valid_until="2027-01-01"), "decision.latest_valid_until",
                 "a computed field cannot also be set by a rule", id="a rule sets a computed field"),
    pytest.param(lambda d: d["facts"]["outside_normal_hours"].update(required=True), "facts.outside_normal_hours",
                 "a fact with derive must not be required", id="a required derived fact"),
]  # fmt: skip


@pytest.mark.parametrize(("breaks", "where", "message"), BROKEN)
def test_a_broken_computation_is_refused_naming_the_place(breaks: Any, where: str, message: str) -> None:
    document = copy.deepcopy(shipped("lone_work.rules.json"))
    breaks(document)
    with pytest.raises(InvalidRuleSet) as caught:
        load_ruleset(document, load_parameters(shipped("parameters.json")), what="lone_work.rules.json")
    assert message in caught.value.fields.get(where, ""), caught.value.fields


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("lone_work.normal_hours", {**DTU, "to": "05:00"}, "'to' must be after 'from'"),
        ("lone_work.max_validity_months", 0, "expected a whole number of at least 1"),
    ],
)
def test_every_dated_value_of_a_computation_parameter_is_checked(key: str, value: Any, message: str) -> None:
    parameters = shipped("parameters.json")
    parameters[key].append({"value": value, "valid_from": "2030-01-01"})
    with pytest.raises(InvalidRuleSet) as caught:
        load_ruleset(shipped("lone_work.rules.json"), load_parameters(parameters))
    assert any(f"parameter {key!r} from 2030-01-01: {message}" == problem for problem in caught.value.fields.values())


def test_a_dated_calendar_changes_normal_hours_from_its_date(tmp_path: Path) -> None:
    """DTU confirms normal hours 07:00-17:00 from 2027: add a dated entry, the rules stay as they are."""
    parameters = shipped("parameters.json")
    parameters["lone_work.normal_hours"].append({"value": {**DTU, "to": "17:00"}, "valid_from": "2027-01-01"})
    (tmp_path / "parameters.json").write_text(json.dumps(parameters))
    (tmp_path / "lone_work.rules.json").write_text(json.dumps(shipped("lone_work.rules.json")))
    catalog = Catalog.load(tmp_path)
    facts = {"hazards": ["laser_class3b_4"], "start_date": "2027-03-01", "end_date": "2027-03-31",
             "time_windows": [{"days": "working_days", "from": "09:00", "to": "17:30"}]}  # fmt: skip
    before = catalog.decide("lone_work", facts, on=datetime.date(2026, 12, 31))
    after = catalog.decide("lone_work", facts, on=datetime.date(2027, 1, 1))
    assert "security_informed" not in before.decision["missing_mitigations"]
    assert "security_informed" in after.decision["missing_mitigations"]
