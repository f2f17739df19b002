"""durable-rules under the decide() API: no state leaks, thread safety, forks, and rule data gone wrong.

These run the real durable-rules 2.0.28 engine. It keeps a state per sid (even when no rule matched) and
raises MemoryError at 1,024 live states, so thousands of decisions in one process prove that each
decision's state is deleted.
"""

from __future__ import annotations

import datetime
import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest

import rules
from rules import Catalog, InvalidFacts, RulesError, decide
from rules import engine as rules_engine
from rules.catalog import default_catalog
from rules.decision import assemble
from rules.engine import Outcome

ON = datetime.date(2026, 3, 2)


def lone_work(index: int) -> tuple[dict[str, Any], str]:
    """Facts that vary with ``index``, and the group they must give."""
    hazards = [[], ["cryogenics"], ["confined_space"], ["laser_class3b_4", "violence_risk"]][index % 4]
    within_reach = index % 7 == 0
    facts = {
        "another_competent_person_within_reach": within_reach,
        "hazards": hazards,
        "outside_normal_hours": index % 2 == 0,
        "applicant_role": ["employee", "phd", "student", "guest"][index % 4],
        "applicant_age": 16 + index % 50,
        "mitigations": [],
        "instruction_completed": index % 3 == 0,
    }
    group = "G0" if within_reach else ["G1", "G2", "G3", "G2"][index % 4]
    return facts, group


def recorded_sids(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every sid the engine hands out (the engine itself still runs for real)."""
    sids: list[str] = []
    new_sid = rules_engine.new_sid

    def recording_new_sid() -> str:
        sids.append(new_sid())
        return sids[-1]

    monkeypatch.setattr(rules_engine, "new_sid", recording_new_sid)
    return sids


def lone_work_program() -> rules_engine.Program:
    program = default_catalog().get("lone_work").program
    assert program is not None
    return program


def test_two_thousand_decisions_in_a_row_leave_no_state_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    sids = recorded_sids(monkeypatch)
    accident = {"personal_injury": True, "exposure": "sudden", "absence_days_beyond_injury_day": 1}
    for index in range(2000):
        facts, group = lone_work(index)
        assert decide("lone_work", facts, on=ON).decision["group"] == group
        if index % 100 == 0:
            with pytest.raises(InvalidFacts):
                decide("lone_work", {**facts, "hazards": ["lava"]}, on=ON)
            assert decide("accident_report", accident, on=ON).decision["report_to_aes"] is True
    assert len(sids) == 2020
    assert not rules_engine.state_exists(lone_work_program(), sids[0])
    assert not rules_engine.state_exists(lone_work_program(), sids[-1])
    assert decide("lone_work", lone_work(2)[0], on=ON).decision["group"] == "G3"


def test_a_state_left_behind_would_be_seen(monkeypatch: pytest.MonkeyPatch) -> None:
    """The leak check above is not vacuous: skip the delete once and the state is still there."""
    sids = recorded_sids(monkeypatch)
    delete_state = rules_engine._delete_state
    monkeypatch.setattr(rules_engine, "_delete_state", lambda host, program, sid: None)
    decide("lone_work", lone_work(1)[0], on=ON)
    program = lone_work_program()
    assert rules_engine.state_exists(program, sids[0])
    with rules_engine._LOCK:
        delete_state(rules_engine._host(), program, sids[0])
    assert not rules_engine.state_exists(program, sids[0])


def test_decisions_after_invalid_facts_and_other_rule_sets_are_unaffected() -> None:
    facts, _ = lone_work(1)
    first = decide("lone_work", facts, on=ON)
    with pytest.raises(InvalidFacts):
        decide("lone_work", {**facts, "applicant_age": "old"}, on=ON)
    decide("accident_report", {"personal_injury": False, "exposure": "sudden", "absence_days_beyond_injury_day": 0})
    decide("lone_work", lone_work(2)[0], on=ON)
    assert decide("lone_work", facts, on=ON) == first


def test_eight_threads_of_five_hundred_decisions_are_all_correct() -> None:
    failures: list[str] = []
    done: list[int] = []

    def work(thread: int) -> None:
        try:
            for index in range(500):
                facts, group = lone_work(thread * 500 + index)
                decision = decide("lone_work", facts, on=ON)
                if decision.decision["group"] != group:
                    failures.append(f"thread {thread} decision {index}: {decision.decision['group']} != {group}")
            done.append(thread)
        except Exception as error:  # any error in a thread must fail the test
            failures.append(f"thread {thread}: {error!r}")

    threads = [threading.Thread(target=work, args=(thread,)) for thread in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    assert sorted(done) == list(range(8))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_process_decides_with_a_host_of_its_own() -> None:
    facts, group = lone_work(1)
    assert decide("lone_work", facts, on=ON).decision["group"] == group
    parent_host = rules_engine._host()
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        try:
            decision = decide("lone_work", facts, on=ON)
            own_host = rules_engine._CURRENT.pid == os.getpid() and rules_engine._CURRENT.host is not parent_host
            os.write(write_end, json.dumps([decision.decision["group"], own_host]).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        reported = json.loads(pipe.read() or "null")
    os.waitpid(child, 0)
    assert reported == [group, True]
    assert rules_engine._host() is parent_host


# --- rule data that goes wrong at decision time ---------------------------------------------------------


def write_catalog(directory: Path, rule_list: list[dict[str, Any]]) -> Catalog:
    """A one-rule-set catalog in ``directory``: fact ``level`` (integer), derived ``is_high``."""
    directory.mkdir(exist_ok=True)
    (directory / "parameters.json").write_text(json.dumps({"high.from": [{"value": 5, "valid_from": "2020-01-01"}]}))
    ruleset = {
        "name": "levels",
        "title": {"da": "Niveauer", "en": "Levels"},
        "facts": {"level": {"type": "integer"}},
        "derived": {"is_high": {"op": "at_least", "fact": "level", "parameter": "high.from"}},
        "decision": {"band": {"type": "string", "values": ["low", "high"]}},
        "rules": rule_list,
        "citations": {"X-R1": {"da": "Regel", "en": "Rule", "source": "test"}},
    }
    (directory / "levels.rules.json").write_text(json.dumps(ruleset))
    return Catalog.load(directory)


def rule(name: str, condition: dict[str, Any], **outcome: Any) -> dict[str, Any]:
    return {"name": name, "cites": ["X-R1"], "pri": 1, "all": [{"m": condition}], **outcome}


def test_a_custom_rule_set_decides_through_durable_rules(tmp_path: Path) -> None:
    catalog = write_catalog(
        tmp_path,
        [rule("high", {"is_high": True}, set={"band": "high"}), rule("low", {"is_high": False}, set={"band": "low"})],
    )
    assert catalog.decide("levels", {"level": 5}, on=ON).decision == {"band": "high"}
    assert catalog.decide("levels", {"level": 4}, on=ON).decision == {"band": "low"}
    assert catalog.decide("levels", {"level": 4}, on=ON).fired == ("X-R1",)


def test_when_no_rule_matches_the_decision_is_refused_not_guessed(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path, [rule("high", {"is_high": True}, set={"band": "high"})])
    with pytest.raises(RulesError) as caught:
        catalog.decide("levels", {"level": 1}, on=ON)
    assert caught.value.fields == {"band": "no rule decided it"}
    assert catalog.decide("levels", {"level": 9}, on=ON).decision == {"band": "high"}


def test_two_rules_that_contradict_each_other_are_an_error(tmp_path: Path) -> None:
    catalog = write_catalog(
        tmp_path,
        [
            rule("high", {"is_high": True}, set={"band": "high"}),
            rule("odd", {"$gt": {"level": 6}}, set={"band": "low"}),
        ],
    )
    assert catalog.decide("levels", {"level": 6}, on=ON).decision == {"band": "high"}
    with pytest.raises(RulesError, match="contradict") as caught:
        catalog.decide("levels", {"level": 7}, on=ON)
    assert set(caught.value.fields) == {"band"}


def test_an_exception_swallowed_by_durable_rules_is_raised() -> None:
    ruleset = default_catalog().get("lone_work")
    outcome = Outcome(exception="exception caught boom, traceback ['  File ...']")
    with pytest.raises(RulesError, match=r"failed: exception caught boom$"):
        assemble(ruleset, outcome, {}, {})


def test_facts_no_rule_matches_are_handled_without_harm(tmp_path: Path) -> None:
    """In durable-rules 2.0.28 (our Python 3.11 build) deleting the state of a fact no rule handled, in a
    rule set that has never handled one, segfaulted the process: undefined behaviour, the 3.12 build
    survived it. The catch-all the engine adds to every rule set means no fact is ever unhandled.
    """
    catalog = write_catalog(tmp_path, [rule("high", {"is_high": True}, set={"band": "high"})])
    for level in (1, 2, 3):
        with pytest.raises(RulesError, match="reached no decision"):
            catalog.decide("levels", {"level": level}, on=ON)
    assert catalog.decide("levels", {"level": 9}, on=ON).decision == {"band": "high"}


def test_a_rule_set_edited_only_in_its_outcomes_decides_with_the_new_outcomes(tmp_path: Path) -> None:
    first = write_catalog(tmp_path / "first", [rule("any_level", {"$gte": {"level": 0}}, set={"band": "low"})])
    second = write_catalog(tmp_path / "second", [rule("any_level", {"$gte": {"level": 0}}, set={"band": "high"})])
    assert first.decide("levels", {"level": 1}, on=ON).decision == {"band": "low"}
    assert second.decide("levels", {"level": 1}, on=ON).decision == {"band": "high"}
    assert first.decide("levels", {"level": 1}, on=ON).decision == {"band": "low"}


def test_reloading_the_data_keeps_decisions_working() -> None:
    before = decide("lone_work", lone_work(3)[0], on=ON)
    rules.reload()
    assert default_catalog() is not None
    assert decide("lone_work", lone_work(3)[0], on=ON) == before
