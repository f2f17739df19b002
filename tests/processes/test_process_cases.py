"""A process's case list (``process_cases``, property ``listColumns``) is one statement, and each reader sees in it
exactly the cases ``access.may`` lets them read: a small matrix of readers and cases, on the real database."""

from __future__ import annotations

import pytest

from processes import TaskFilter, complete_task, create_user, deploy, list_tasks, process_cases, start_case
from processes.access import Action, may
from processes.store.models import Case
from tests.processes.test_case_lists import HEALTH_NOTE

# test_case_lists's health note, but a normal (not restricted) process read by its `readers` groups: hr in the
# case's unit, cas (central) anywhere; it lists `place`; its one task is the case unit's leaders'.
SITE_VISIT = HEALTH_NOTE.replace(b'id="health_note" name="Health note"', b'id="site_visit" name="Site visit"').replace(
    b"""      <spiffworkflow:property name="sensitivity" value="restricted" />
      <spiffworkflow:property name="readers" value="hr" />
      <spiffworkflow:property name="subject" value="about" />
      <spiffworkflow:property name="caseTitle" value="Note about {about}" />
""", b"""      <spiffworkflow:property name="readers" value="hr, cas" />
      <spiffworkflow:property name="listColumns" value="place" />
""")
assert b"restricted" not in SITE_VISIT and b"site_visit" in SITE_VISIT


READERS = {
    "anna": (["employees"], ["kemi", "energi"]), "emil": (["employees"], ["energi"]), "lene": (["leaders"], ["kemi"]),
    "hanne": (["hr"], ["kemi"]), "hugo": (["hr"], ["energi"]), "carl": (["cas"], []),
    "karl": (["amk"], ["kemi"]), "arne": (["arbejdsmiljo"], []), "root": (["admins"], []),
}


@pytest.fixture
def visits(db):
    deploy(db, SITE_VISIT, "site_visit.bpmn", actor=None)
    people = {name: create_user(db, name, password=f"{name}-password", groups=groups, units=units)
              for name, (groups, units) in READERS.items()}
    cases = {
        "anna_kemi": start_case(db, process="site_visit", unit="kemi", data={"place": "lab"}, actor=people["anna"]),
        "emil_energi": start_case(db, process="site_visit", unit="energi", data={"place": "hall"},
                                  actor=people["emil"]),
        "anna_energi": start_case(db, process="site_visit", unit="energi", data={"place": "lab"},
                                  actor=people["anna"]),
    }
    task = list_tasks(db, actor=people["lene"], filters=TaskFilter(case_id=cases["anna_kemi"].id))[0][0]
    complete_task(db, task.id, data={"note": "seen"}, actor=people["lene"])  # a completed case stays listed
    return people, {name: case.id for name, case in cases.items()}


def _listed(db, reader, **asked) -> set[str]:
    return {row.id for row in process_cases(db, process="site_visit", actor=reader, **asked).rows}


def test_each_reader_lists_exactly_the_cases_may_lets_them_read(db, visits):
    people, cases = visits
    with db.read() as session:
        rows = list(session.query(Case).filter(Case.process_key == "site_visit"))
        allowed = {name: {case.id for case in rows if may(session, reader, Action.READ, case)}
                   for name, reader in people.items()}
    assert {name: _listed(db, reader) for name, reader in people.items()} == allowed

    # the matrix is not trivial: starters, the unit's leaders, a reader group in its unit and a central one
    assert allowed["anna"] == {cases["anna_kemi"], cases["anna_energi"]}
    assert allowed["emil"] == {cases["emil_energi"]}
    assert allowed["lene"] == {cases["anna_kemi"]}
    assert allowed["hanne"] == {cases["anna_kemi"]}
    assert allowed["hugo"] == {cases["emil_energi"], cases["anna_energi"]}
    assert allowed["carl"] == set(cases.values())
    assert allowed["karl"] == set()


def test_the_unit_status_and_field_filters_narrow_what_the_reader_may_read(db, visits):
    people, cases = visits
    assert _listed(db, people["carl"], unit="energi") == {cases["emil_energi"], cases["anna_energi"]}
    assert _listed(db, people["carl"], where={"status": "completed"}) == {cases["anna_kemi"]}
    assert _listed(db, people["carl"], where={"place": "lab"}) == {cases["anna_kemi"], cases["anna_energi"]}
    assert _listed(db, people["hugo"], where={"place": "lab", "status": "running"}) == {cases["anna_energi"]}
    assert _listed(db, people["karl"], where={"place": "lab"}) == set()
    listed = process_cases(db, process="site_visit", actor=people["carl"], limit=2)
    assert [row.id for row in listed.rows] == [cases["anna_energi"], cases["emil_energi"]]  # newest first
