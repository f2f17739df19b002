"""The expression and script sandbox: what a BPMN diagram may and may not evaluate."""

from __future__ import annotations

import pytest

from processes.engine.sandbox import (
    SandboxEnvironment,
    SandboxViolation,
    check_expression,
    check_script,
    evaluate,
    parse_script,
)


@pytest.mark.parametrize(
    ("expression", "data", "expected"),
    [
        ('lone_work["route"] == "reject"', {"lone_work": {"route": "reject"}}, True),
        ("decision == 'approve' and age >= 18", {"decision": "approve", "age": 20}, True),
        ("len(hazards) > 1", {"hazards": ["a", "b"]}, True),
        ("'x' in items", {"items": ["x"]}, True),
        ("note.lower().startswith('hej')", {"note": "Hej med dig"}, True),
        ("data.get('missing', 3)", {"data": {}}, 3),
        ("[h for h in hazards if h != 'a']", {"hazards": ["a", "b"]}, ["b"]),
        ("duration('P14D').days", {}, 14),
    ],
)
def test_allowed_expressions_evaluate_over_the_case_data(expression, data, expected):
    assert evaluate(expression, data) == expected


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os').system('id')",
        "().__class__.__base__.__subclasses__()",
        "open('/etc/passwd').read()",
        "eval('1')",
        "(lambda: 1)()",
        "getattr(x, 'y')",
        "'{0.__class__}'.format(x)",
        "x._private",
        "_hidden",
        "globals()",
    ],
)
def test_escapes_are_refused_before_anything_runs(expression):
    with pytest.raises(SandboxViolation):
        check_expression(expression)
    with pytest.raises(SandboxViolation):
        evaluate(expression, {"x": 1})


def test_a_power_bomb_is_stopped_instead_of_hanging_the_worker():
    with pytest.raises(SandboxViolation):
        evaluate("9**9**9", {})


def test_a_string_bomb_is_stopped():
    with pytest.raises(SandboxViolation):
        evaluate("'x' * 10**9", {})


def test_a_script_is_a_sequence_of_assignments_evaluated_in_order():
    assert parse_script("a = 1\nb = a + 1") == [("a", "1"), ("b", "a + 1")]


@pytest.mark.parametrize(
    "script",
    [
        "import os",
        "from os import system",
        "x = __import__('os')",
        "def f():\n    pass",
        "for i in range(3):\n    pass",
        "a.b = 1",
        "a, b = 1, 2",
        "print('hi')",
        "_x = 1",
        "while True:\n    pass",
    ],
)
def test_scripts_with_anything_but_plain_assignments_are_refused(script):
    with pytest.raises(SandboxViolation):
        check_script(script)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # A statutory deadline is a Danish calendar day: 23:59:59 in Copenhagen, winter (+01:00) or summer (+02:00).
        ("end_of_day(add_days('2026-03-16', 14))", "2026-03-30T23:59:59+02:00"),
        ("end_of_day(add_days('2026-10-20', 14))", "2026-11-03T23:59:59+01:00"),
        ("at_time(add_days('2027-06-30', -30), '08:00')", "2027-05-31T08:00:00+02:00"),
        ("add_days('2026-12-31T10:00:00+01:00', 1)", "2027-01-01T10:00:00+01:00"),
    ],
)
def test_date_helpers_give_iso_text_with_the_copenhagen_offset_of_that_day(expression, expected):
    assert evaluate(expression, {}) == expected


def test_a_script_that_computes_a_date_stores_iso_text_not_a_python_date():
    context = {"start": "2026-03-01"}
    SandboxEnvironment().execute("deadline = date(start)\nperiod = duration('P14D')", context)
    assert context == {"start": "2026-03-01", "deadline": "2026-03-01", "period": 14 * 24 * 3600}
