"""Process bundles (#12 items 1-3): a case keeps the forms, rule sets and mail templates of its version,
a decision keeps what explains it and replays to the same result, and a model reads parameters at a date.

Everything runs for real: the deploy reads copies of the shipped folders (edited like a process owner
edits the files), SpiffWorkflow runs the diagram, durable-rules decides, the database is SQLite or
PostgreSQL (``--database=postgresql``).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from importlib import resources
from pathlib import Path

import pytest
from sqlalchemy import func, select

import processes
from processes import Database, FixedClock, complete_task, create_user, deploy, get_case, get_task, start_case
from processes.bundles import BUNDLES
from processes.bundlesources import Sources
from processes.deployments import SPEC_CACHE
from processes.errors import InvalidData, InvalidModel
from processes.store.models import BundleEntry, Notification
from processes.views import UserView

BPMN = (Path(__file__).parent / "bpmn" / "bundle_accident.bpmn").read_bytes()
FILE = "bundle_accident.bpmn"
# An accident on 29 June 2026, decided on 2 July: the ASL threshold of the injury day (1 day) applies.
ACCIDENT = {"personal_injury": True, "exposure": "sudden", "absence_days_beyond_injury_day": 2,
            "injury_date": "2026-06-29", "first_absence_day": "2026-06-30"}
DECIDED_AT = FixedClock(dt.datetime(2026, 7, 2, 9, 0, tzinfo=dt.UTC))


@pytest.fixture
def sources(tmp_path: Path) -> Sources:
    """Copies of the shipped forms, rules and mail folders, to edit as a process owner would."""
    for name, package in (("forms", resources.files("forms") / "schemas"), ("rules", resources.files("rules") / "data"),
                          ("mail", resources.files("processes.notify") / "mail")):
        shutil.copytree(str(package), tmp_path / name)
    return Sources(forms=tmp_path / "forms", rules=tmp_path / "rules", mail=tmp_path / "mail")


@pytest.fixture
def ulla(db: Database) -> UserView:
    """An employee of DTU Kemi with an e-mail address (so mail to her is written)."""
    return create_user(db, "ulla", password="ulla-password", email="ulla@dtu.example", groups=["employees"],
                       units=["kemi"])


def _edit_json(path: Path, change: object) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    change(document)  # type: ignore[operator]
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")


def _require_summary(schema: dict) -> None:  # type: ignore[type-arg]
    schema["required"] = ["note", "summary"]
    schema["properties"]["summary"] = {"type": "string", "minLength": 1, "title": "Resumé", "x-title-en": "Summary"}


def _drop_register_internally(ruleset: dict) -> None:  # type: ignore[type-arg]
    ruleset["rules"] = [rule for rule in ruleset["rules"] if rule["name"] != "register_internally"]


def _the_task(db: Database, case_id: str, user: UserView) -> str:
    case = get_case(db, case_id, actor=user)
    assert len(case.tasks) == 1
    return case.tasks[0].id


def _version_two(db: Database, sources: Sources, owner: UserView) -> None:
    """Edit a form, a rule set and a mail template on disk, and deploy the unchanged BPMN again."""
    _edit_json(sources.forms / "free_note.schema.json", _require_summary)  # type: ignore[operator]
    _edit_json(sources.rules / "accident_report.rules.json", _drop_register_internally)  # type: ignore[operator]
    reminder = sources.mail / "task_reminder.da.txt"  # type: ignore[operator]
    text = reminder.read_text(encoding="utf-8")
    reminder.write_text(text.replace("Subject: Påmindelse:", "Subject: NY UDGAVE:", 1), encoding="utf-8")
    assert deploy(db, BPMN, FILE, actor=owner, sources=sources).version == 2


def test_a_running_case_keeps_the_form_rule_set_and_mail_template_of_its_version(
    db: Database, owner: UserView, ulla: UserView, sources: Sources
) -> None:
    assert deploy(db, BPMN, FILE, actor=owner, sources=sources).version == 1
    assert deploy(db, BPMN, FILE, actor=owner, sources=sources).version == 1  # nothing changed: no new version
    old = start_case(db, process="bundle_accident", unit="kemi", data=ACCIDENT, actor=ulla, clock=DECIDED_AT)
    _version_two(db, sources, owner)
    new = start_case(db, process="bundle_accident", unit="kemi", data=ACCIDENT, actor=ulla, clock=DECIDED_AT)
    assert (old.version, new.version) == (1, 2)

    # Forms: each case shows and validates with its own version, even after a restart (caches emptied).
    SPEC_CACHE.clear()
    BUNDLES.clear()
    old_task, new_task = _the_task(db, old.id, ulla), _the_task(db, new.id, ulla)
    old_form, new_form = get_task(db, old_task, actor=ulla).form, get_task(db, new_task, actor=ulla).form
    assert old_form is not None and new_form is not None
    assert "summary" not in old_form.schema["properties"]
    assert new_form.schema["required"] == ["note", "summary"]
    with pytest.raises(InvalidData) as refused:
        complete_task(db, new_task, data={"note": "fell on the stairs"}, actor=ulla, clock=DECIDED_AT)
    assert set(refused.value.fields) == {"summary"}
    old_done = complete_task(db, old_task, data={"note": "fell on the stairs"}, actor=ulla, clock=DECIDED_AT)
    new_done = complete_task(db, new_task, data={"note": "fell", "summary": "stairs"}, actor=ulla, clock=DECIDED_AT)

    # Rule sets: the old case decided with the rule set of version 1, the new one with version 2's.
    old_decision, new_decision = old_done.decisions[0], new_done.decisions[0]
    assert old_decision.decision["register_internally"] is True
    assert new_decision.decision["register_internally"] is False
    assert old_decision.ruleset_version != new_decision.ruleset_version
    assert old_decision.parameters_version == new_decision.parameters_version  # parameters unchanged: one entry

    # Mail templates: the reminder each case wrote has the subject of its own version.
    with db.read() as session:
        subjects = dict(session.execute(select(Notification.case_id, Notification.subject)
                                        .where(Notification.template == "task_reminder")).all())
        shared = session.scalar(select(func.count()).select_from(BundleEntry).where(
            BundleEntry.kind == "parameters"))
    assert subjects[old.id].startswith("Påmindelse:")
    assert subjects[new.id].startswith("NY UDGAVE:")
    assert shared == 1  # content-addressed: the same parameters are stored once for both versions


def test_a_decision_stores_what_explains_it_and_replays_to_the_same_result(
    db: Database, owner: UserView, ulla: UserView
) -> None:
    deploy(db, BPMN, FILE, actor=owner)
    case = start_case(db, process="bundle_accident", unit="kemi", data=ACCIDENT, actor=ulla, clock=DECIDED_AT)
    done = complete_task(db, _the_task(db, case.id, ulla), data={"note": "n"}, actor=ulla, clock=DECIDED_AT)

    decision = done.decisions[0]
    assert decision.facts == ACCIDENT
    assert decision.derived["meets_asl_absence_threshold"] is True
    assert decision.on == "2026-06-29"  # the injury day's law (the task's onField), not the day it was decided
    assert decision.law_date_from == "field:injury_date"
    assert decision.parameters["accident.report.absence_threshold_days.ASL"] == 1
    assert decision.ruleset_version is not None and len(decision.ruleset_version) == 64
    assert decision.decision["report_to_aes"] is True

    SPEC_CACHE.clear()
    BUNDLES.clear()
    replayed = processes.replay_decision(db, case.id, index=0, actor=ulla)
    assert replayed["same"] is True
    assert (replayed["decision"], replayed["fired"], replayed["parameters"], replayed["on"]) == (
        decision.decision, decision.fired, decision.parameters, "2026-06-29")


def test_param_reads_a_parameter_at_a_date(db: Database, owner: UserView, ulla: UserView) -> None:
    deploy(db, BPMN, FILE, actor=owner)
    case = start_case(db, process="bundle_accident", unit="kemi", data=ACCIDENT, actor=ulla, clock=DECIDED_AT)
    done = complete_task(db, _the_task(db, case.id, ulla), data={"note": "n"}, actor=ulla, clock=DECIDED_AT)

    assert (done.data["threshold_before"], done.data["threshold_after"]) == (1, 3)
    assert done.data["threshold_today"] == 3  # without on: the run's clock (2 July 2026)
    assert done.data["deadline_time"] == "23:59"
    assert done.data["deadline"] == "2026-07-13T23:59:00+02:00"


def test_param_is_offered_to_models_and_checked_like_any_function(db: Database, owner: UserView) -> None:
    bad = BPMN.replace(b'param("accident.report.absence_threshold_days.ASL")', b'parm("x")')
    with pytest.raises(InvalidModel, match="only these functions may be called"):
        deploy(db, bad, FILE, actor=owner)


def test_a_bundle_refuses_a_broken_document_at_deploy(
    db: Database, owner: UserView, sources: Sources
) -> None:
    (sources.rules / "accident_report.rules.json").write_text("{not json", encoding="utf-8")  # type: ignore[operator]
    with pytest.raises(InvalidModel, match=r"accident_report\.rules\.json"):
        deploy(db, BPMN, FILE, actor=owner, sources=sources)
    assert processes.list_processes(db, actor=owner) == []
