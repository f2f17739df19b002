"""The expression and script sandbox: what a BPMN diagram may and may not evaluate."""

from __future__ import annotations

import tracemalloc

import pytest

from processes import complete_task, deploy, get_case, start_case
from processes.engine.sandbox import (
    SandboxEnvironment,
    SandboxViolation,
    check_expression,
    check_script,
    evaluate,
    parse_script,
)
from processes.errors import EngineFailure

from .conftest import BPMN_DIR


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


# --- Resource bounds (issue #9, finding 1) -------------------------------------------------------------

BOMBS = [
    "'1'.zfill(300000000)",
    "('a'*3000).replace('a','a'*99999)",
    "('a'*99999).join('b'*3000)",
    "9**4000000 * 9**4000000",
    "f'{1:>300000000}'",
    "f'{1:.300000000f}'",
    "f'{1:{n}}'",
    "'%300000000d' % 1",
    "round(1, -10**7)",
    "[['x' * 1000] * 100] * 100",
    "str([['x' * 1000] * 100 for y in 'abc'] * 100)",
    "sum([[1] * 100] * 100, [])",
    "sorted([300000000], key='1'.zfill)",
    "10**100 * 10**1300",
    "[note.upper() for x in items]",
]


BOUND_HIT = r"limit|built|bits|not allowed|format|may only be called|adds numbers"


@pytest.mark.parametrize("expression", BOMBS)
def test_a_size_bomb_is_refused_before_it_allocates(expression):
    context = {"n": "300000000", "note": "ab" * 40_000, "items": list(range(10_000))}
    tracemalloc.start()
    try:
        with pytest.raises(SandboxViolation, match=BOUND_HIT):
            evaluate(expression, context)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024 * 1024  # the bombs asked for 100 MB to many GB


def test_an_expression_that_computes_for_too_long_is_stopped_by_its_cpu_budget():
    with pytest.raises(SandboxViolation, match="CPU time"):
        evaluate("len([1 for x in items if x in items])", {"items": list(range(10_000))})


def test_an_expression_of_many_cheap_steps_is_stopped_by_its_step_budget():
    many_names = ", ".join(["x"] * 30)
    with pytest.raises(SandboxViolation, match="evaluation steps"):
        evaluate(f"[({many_names}) for x in items]", {"items": list(range(10_000))})


def test_a_script_shares_one_budget_across_its_lines():
    line = "len([1 for x in items if (" + ", ".join(["x"] * 20) + ")])"  # 7,000 x ~23 steps: within one budget
    context = {"items": list(range(7_000))}
    SandboxEnvironment().execute(f"a = {line}", dict(context))
    with pytest.raises(SandboxViolation, match="evaluation steps"):
        SandboxEnvironment().execute(f"a = {line}\nb = {line}", dict(context))


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("'7'.zfill(3)", "007"),
        ("'a-b-c'.replace('-', '+', 1)", "a+b-c"),
        ("', '.join(names)", "Anna, Emil"),
        ("f'{amount:>8.2f}|{name:<6}|'", "    3.14|Anna  |"),
        ("f'{date(day):%d.%m.%Y}'", "02.03.2026"),
        ("round(2.567, 2)", 2.57),
        ("sum([1, 2, 3.5])", 6.5),
        ("2**100 * 3", 3 * 2**100),
        ("[0] * 10 + [1]", [0] * 10 + [1]),
        ("'ab' * 3", "ababab"),
        ("str(names)", "['Anna', 'Emil']"),
        ("10 % 3", 1),
    ],
)
def test_ordinary_string_and_number_work_still_evaluates(expression, expected):
    context = {"names": ["Anna", "Emil"], "amount": 3.14159, "name": "Anna", "day": "2026-03-02"}
    assert evaluate(expression, context) == expected


# --- Depth (issue #9, finding 5) --------------------------------------------------------------------------

def test_a_deeply_nested_expression_is_refused_with_a_clear_error_not_a_recursion_error():
    with pytest.raises(SandboxViolation, match="nests more than"):
        check_expression("-" * 500 + "1")
    with pytest.raises(SandboxViolation, match="nests"):
        check_script("y = " + "-" * 2000 + "1")
    with pytest.raises(SandboxViolation, match="nested"):
        check_script("y = " + "(" * 2000 + "1" + ")" * 2000)


def test_a_bomb_in_a_deployed_script_fails_the_step_as_an_engine_error_and_changes_nothing(db, owner, anna):
    xml = (BPMN_DIR / "note_loop.bpmn").read_text().replace(
        "last_note_length = len(note)", "padded = note.zfill(300000000)")
    deploy(db, xml.encode(), "note_loop.bpmn", actor=owner)  # statically fine: only running it is a bomb
    case = start_case(db, process="note_loop", unit="kemi", data={}, actor=anna)

    with pytest.raises(EngineFailure, match="zfill would exceed"):
        complete_task(db, case.tasks[0].id, data={"note": "hello"}, actor=anna)

    assert get_case(db, case.id, actor=anna) == case
