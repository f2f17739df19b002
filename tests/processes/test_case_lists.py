"""Case titles, due dates in Danish working days, case lists and full-text search (issue #17), on the real
engine, rules and database."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import rules
from processes import (
    CaseFilter,
    FixedClock,
    complete_task,
    create_user,
    deploy,
    list_cases,
    list_tasks,
    start_case,
)
from processes.access import Action, may, readable_cases
from processes.errors import InvalidData, InvalidModel
from processes.store.models import Case
from tests.processes.test_lone_work_process import APPLICATION, REVIEW

COPENHAGEN = dt.timezone(dt.timedelta(hours=2))  # summer time, spring 2027


@pytest.fixture
def db(bundled_db):
    """Every shipped diagram deployed (tests/processes/conftest.py's bundled_db)."""
    return bundled_db


@pytest.fixture
def people(db):
    specs = {
        "anna": (["employees"], ["kemi"]), "emil": (["employees"], ["energi"]),
        "karl": (["amk"], ["kemi"]), "kurt": (["amk"], ["energi"]), "lene": (["leaders"], ["kemi"]),
        "arne": (["arbejdsmiljo"], []), "hanne": (["hr"], ["kemi"]), "hugo": (["hr"], ["energi"]),
    }
    return {name: create_user(db, name, password=f"{name}-password", groups=groups, units=units)
            for name, (groups, units) in specs.items()}


def test_add_working_days_skips_weekends_and_danish_public_holidays():
    assert rules.add_working_days(dt.date(2027, 3, 19), 1) == dt.date(2027, 3, 22)  # Friday -> Monday
    # Easter 2027: Skærtorsdag 25/3, Langfredag 26/3, Påskedag 28/3, 2. Påskedag 29/3
    assert rules.add_working_days(dt.date(2027, 3, 24), 5) == dt.date(2027, 4, 5)
    # Juleaften is no public holiday; 1. and 2. juledag are
    assert rules.add_working_days(dt.date(2026, 12, 23), 1) == dt.date(2026, 12, 24)
    assert rules.add_working_days(dt.date(2026, 12, 24), 1) == dt.date(2026, 12, 28)
    assert rules.add_working_days(dt.date(2026, 12, 23), 0) == dt.date(2026, 12, 23)
    with pytest.raises(ValueError, match="working days"):
        rules.add_working_days(dt.date(2027, 1, 1), -1)


def test_a_lone_work_case_gets_its_title_summary_and_badge_and_its_review_is_due_in_five_working_days(
        db, people):
    clock = FixedClock(dt.datetime(2027, 3, 24, 9, 0, tzinfo=COPENHAGEN))  # the Wednesday before Easter
    case = start_case(db, process="lone_work_approval", unit="kemi", actor=people["anna"], clock=clock,
                      data={**APPLICATION, "start_date": "2027-04-12", "end_date": "2027-04-30"})

    assert case.title == "Anna Ansat: Destillation i stinkskab efter kl. 18"
    assert case.summary == "Lyngby 207 112, 2027-04-12"
    assert case.badge == "Risikofyldt alenearbejde"  # the decision value by the rule set's value_titles
    assert case.badge_en == "Risky lone work"
    tasks, _ = list_tasks(db, actor=people["karl"])
    assert [(t.name, t.case_title) for t in tasks] == [("amk_review", case.title)]
    # five Danish working days after Wednesday 24 March 2027: Tuesday 30/3 .. Monday 5/4, at its end
    assert tasks[0].due_at == dt.datetime(2027, 4, 5, 23, 59, 59, tzinfo=COPENHAGEN)

    after_review = complete_task(db, tasks[0].id, data=REVIEW, actor=people["karl"], clock=clock)
    assert after_review.tasks[0].name == "leader_approval"
    assert after_review.tasks[0].due_at == dt.datetime(2027, 4, 5, 23, 59, 59, tzinfo=COPENHAGEN)


def test_a_case_template_with_anything_but_fields_is_refused_at_deploy(db, people):
    xml = (b'<?xml version="1.0" encoding="UTF-8"?>'
           b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
           b'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="x">'
           b'<bpmn:process id="bad_title" isExecutable="true"><bpmn:extensionElements><spiffworkflow:properties>'
           b'<spiffworkflow:property name="caseTitle" value="{name.__class__} {x!r}" />'
           b'</spiffworkflow:properties></bpmn:extensionElements>'
           b'<bpmn:startEvent id="s"/></bpmn:process></bpmn:definitions>')
    with pytest.raises(InvalidModel, match="caseTitle"):
        deploy(db, xml, "bad_title.bpmn", actor=None)


def _ids(db, actor, **filters):
    return {summary.id for summary in list_cases(db, actor=actor, filters=CaseFilter(**filters)).cases}


def test_my_cases_my_units_cases_and_search_show_what_each_reader_may_see(db, people):
    mine = start_case(db, process="lone_work_approval", unit="kemi", actor=people["anna"],
                      data={**APPLICATION, "applicant_name": "Anna Sørensen-Ansat"})
    other = start_case(db, process="lone_work_approval", unit="energi", actor=people["emil"],
                       data={**APPLICATION, "applicant_name": "Emil Energisk", "task_description": "Lasermåling"})

    assert _ids(db, people["anna"]) == {mine.id}
    assert _ids(db, people["emil"]) == {other.id}
    assert _ids(db, people["karl"]) == set()  # the AMK started none and none is about him
    assert _ids(db, people["karl"], scope="unit") == {mine.id}
    assert _ids(db, people["kurt"], scope="unit") == {other.id}
    assert _ids(db, people["arne"], scope="all") == {mine.id, other.id}  # a central group

    assert _ids(db, people["karl"], scope="all", q="Sørensen") == {mine.id}
    assert _ids(db, people["karl"], scope="all", q="sørensen ansat") == {mine.id}
    assert _ids(db, people["kurt"], scope="all", q="Sørensen") == set()  # another unit's AMK
    assert _ids(db, people["arne"], scope="all", q="Lasermåling") == {other.id}
    assert _ids(db, people["arne"], scope="all", q='Laser" OR *') == set()  # no query syntax gets through
    assert _ids(db, people["arne"], scope="all", process="lone_work_approval", status="running") == {
        mine.id, other.id}
    assert _ids(db, people["arne"], scope="all", status="completed") == set()
    tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=2)
    assert _ids(db, people["arne"], scope="all", created_from=tomorrow) == set()

    page = list_cases(db, actor=people["anna"], filters=CaseFilter())
    assert [(c.title, c.status.value, c.badge) for c in page.cases] == [
        ("Anna Sørensen-Ansat: Destillation i stinkskab efter kl. 18", "running", "Risikofyldt alenearbejde")]


def test_a_bad_list_filter_is_refused_naming_the_field(db, people):
    for filters, field in ((CaseFilter(scope="everything"), "scope"), (CaseFilter(status="open"), "status"),
                           (CaseFilter(limit=500), "limit")):
        with pytest.raises(InvalidData) as refused:
            list_cases(db, actor=people["anna"], filters=filters)
        assert field in refused.value.fields


HEALTH_NOTE = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="D" targetNamespace="x">
  <bpmn:process id="health_note" name="Health note" isExecutable="true">
    <bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="sensitivity" value="restricted" />
      <spiffworkflow:property name="readers" value="hr" />
      <spiffworkflow:property name="subject" value="about" />
      <spiffworkflow:property name="caseTitle" value="Note about {about}" />
    </spiffworkflow:properties></bpmn:extensionElements>
    <bpmn:laneSet id="L"><bpmn:lane id="Lane_1" name="leaders">
      <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>look</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>end</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>a</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="look" name="Look"><bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="form" value="free_note" /></spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>a</bpmn:incoming><bpmn:outgoing>b</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>b</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="a" sourceRef="start" targetRef="look" />
    <bpmn:sequenceFlow id="b" sourceRef="look" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""


# The same with the readers group on a case that is not restricted: ``may`` lets hr of the unit read it.
OPEN_NOTE = (HEALTH_NOTE.replace(b'<spiffworkflow:property name="sensitivity" value="restricted" />', b"")
             .replace(b'id="health_note" name="Health note"', b'id="open_note" name="Open note"'))


def test_the_list_query_agrees_with_may_for_every_reader_and_case(db, people):
    deploy(db, HEALTH_NOTE, "health_note.bpmn", actor=None)
    deploy(db, OPEN_NOTE, "open_note.bpmn", actor=None)
    restricted = start_case(db, process="health_note", unit="kemi", data={"about": "emil"}, actor=people["lene"])
    unrestricted = start_case(db, process="open_note", unit="kemi", data={"about": "emil"}, actor=people["lene"])
    start_case(db, process="lone_work_approval", unit="kemi", actor=people["anna"], data=APPLICATION)
    start_case(db, process="lone_work_approval", unit="energi", actor=people["emil"], data=APPLICATION)
    admin = create_user(db, "root", password="root-password", groups=["admins"], units=[])

    assert restricted.title == "Note about emil"
    assert _ids(db, people["emil"]) == {restricted.id} | _ids(db, people["emil"], process="lone_work_approval")
    with db.read() as session:
        cases = list(session.query(Case))
        for reader in [*people.values(), admin]:
            by_rule = {case.id for case in cases if may(session, reader, Action.READ, case)}
            by_query = set(session.scalars(session.query(Case.id).filter(readable_cases(reader)).statement))
            assert by_query == by_rule, reader.username
    assert restricted.id in _ids(db, people["hanne"], scope="unit")  # hr of the case's unit: a named reader
    assert restricted.id not in _ids(db, people["hugo"], scope="all")  # hr of another unit
    assert restricted.id not in _ids(db, people["arne"], scope="all")  # central, but not a reader
    assert unrestricted.id in _ids(db, people["hanne"], scope="unit")  # readers of a case that is not restricted
    assert unrestricted.id not in _ids(db, people["hugo"], scope="all")


W1_SHAPE = Path(__file__).resolve().parents[2] / "bench" / "w1_shape.bpmn"


def test_a_step_that_changes_a_cases_words_finds_it_by_the_new_words_only(db, people):
    """The words are written once per change (one upsert on SQLite, whose triggers replace the FTS row)."""
    deploy(db, W1_SHAPE.read_bytes(), W1_SHAPE.name, actor=None)
    case = start_case(db, process="w1_shape", unit="kemi", actor=people["anna"], data={"note": "Syrespild"})
    other = start_case(db, process="w1_shape", unit="kemi", actor=people["anna"], data={"note": "Syrespild"})
    assert _ids(db, people["arne"], scope="all", q="syrespild") == {case.id, other.id}

    complete_task(db, case.tasks[0].id, data={"note": "Flaskebrud", "details": {"severity": "low"}},
                  actor=people["anna"])

    assert _ids(db, people["arne"], scope="all", q="syrespild") == {other.id}
    assert _ids(db, people["arne"], scope="all", q="flaskebrud") == {case.id}
