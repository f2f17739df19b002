"""The organisation's hierarchy and where a new task goes: a unit named by the data, a person named by the
data (issue #11)."""

from __future__ import annotations

import pytest

from processes import create_user, deploy, list_tasks, start_case
from processes.errors import EngineFailure
from processes.people.organisation import PARENTS, UNITS, next_level_leader, unit_chain, unit_leaders
from tests.samples import one_task_bpmn


def _deploy(db, owner, properties: dict[str, str]) -> None:
    """Process ``routed``: one task in lane amk, with these task properties."""
    xml = one_task_bpmn("routed", name="Routed", lane="amk", task_properties=properties)
    deploy(db, xml, "routed.bpmn", actor=owner)


def test_every_unit_has_a_known_parent_and_reaches_dtu(db):
    assert len(UNITS) >= 30
    with db.read() as session:
        for unit in UNITS:
            assert unit_chain(session, unit)[-1] == "dtu"
        assert unit_chain(session, "cas-ab") == ["cas-ab", "cas", "dtu"]
    assert all(parent is None or parent in UNITS for parent in PARENTS.values())


def test_the_next_level_leader_is_the_leader_of_the_unit_above(db):
    create_user(db, "lene", password=None, groups=["leaders"], units=["kemi"])
    create_user(db, "rektor", password=None, groups=["leaders"], units=["dtu"])
    with db.read() as session:
        assert unit_leaders(session, "kemi") == ["lene"]
        assert next_level_leader(session, "kemi") == ["rektor"]
        assert next_level_leader(session, "kemi", passing="rektor") == []
        assert next_level_leader(session, "dtu") == []


def test_a_task_goes_to_the_unit_the_data_names(db, owner, anna):
    _deploy(db, owner, {"unit": "target_unit"})
    energi_amk = create_user(db, "eva", password=None, groups=["amk"], units=["energi"])
    kemi_amk = create_user(db, "karl", password=None, groups=["amk"], units=["kemi"])

    case = start_case(db, process="routed", unit="kemi", data={"target_unit": "energi"}, actor=anna)

    assert [(task.group, task.unit) for task in case.tasks] == [("amk", "energi")]
    assert [task.id for task in list_tasks(db, actor=energi_amk)[0]] == [case.tasks[0].id]
    assert list_tasks(db, actor=kemi_amk)[0] == []


def test_an_unknown_unit_stops_the_start(db, owner, anna):
    _deploy(db, owner, {"unit": "target_unit"})

    with pytest.raises(EngineFailure, match="unknown unit"):
        start_case(db, process="routed", unit="kemi", data={"target_unit": "atlantis"}, actor=anna)


def test_a_task_goes_to_the_person_the_data_names_and_no_group_sees_it(db, owner, anna):
    _deploy(db, owner, {"assignee": "data.get('kontaktperson')"})
    contact = create_user(db, "kim", password=None, email="kim@dtu.dk", groups=["employees"], units=["food"])
    kemi_amk = create_user(db, "karl", password=None, groups=["amk"], units=["kemi"])

    by_email = start_case(db, process="routed", unit="kemi", data={"kontaktperson": "KIM@dtu.dk"}, actor=anna)
    by_name = start_case(db, process="routed", unit="kemi", data={"kontaktperson": "kim"}, actor=anna)
    nobody = start_case(db, process="routed", unit="kemi", data={}, actor=anna)

    assert [(t.group, t.assignee) for t in by_email.tasks + by_name.tasks] == [(None, "kim"), (None, "kim")]
    assert [(t.group, t.assignee) for t in nobody.tasks] == [("amk", None)]
    assert {t.id for t in list_tasks(db, actor=contact)[0]} == {by_email.tasks[0].id, by_name.tasks[0].id}
    assert [t.id for t in list_tasks(db, actor=kemi_amk)[0]] == [nobody.tasks[0].id]


def test_an_assignee_expression_may_name_the_next_level_leader(db, owner, anna):
    """``next_level_leader()`` in an expression: the leader of the unit above, unless ``passing`` is them."""
    _deploy(db, owner,
            {"assignee": "next_level_leader(passing=data.get('reported')) if data.get('escalate') else None"})
    create_user(db, "lene", password=None, groups=["leaders"], units=["kemi"])
    create_user(db, "rektor", password=None, groups=["leaders"], units=["dtu"])
    create_user(db, "prorektor", password=None, groups=["leaders"], units=["dtu"])

    escalated = start_case(db, process="routed", unit="kemi", data={"escalate": True}, actor=anna)
    passing = start_case(db, process="routed", unit="kemi", data={"escalate": True, "reported": "prorektor"},
                         actor=anna)
    plain = start_case(db, process="routed", unit="kemi", data={}, actor=anna)

    assert [(t.group, t.assignee) for t in escalated.tasks] == [(None, "prorektor")]
    assert [(t.group, t.assignee) for t in passing.tasks] == [(None, "rektor")]
    assert [(t.group, t.assignee) for t in plain.tasks] == [("amk", None)]


def test_next_level_leader_of_a_named_unit(db, owner, anna):
    _deploy(db, owner, {"assignee": "next_level_leader(unit='cas-ab')"})
    case = start_case(db, process="routed", unit="kemi", data={}, actor=anna)
    assert [(t.group, t.assignee) for t in case.tasks] == [("amk", None)]  # nobody above CAS AB: the lane

    create_user(db, "cas_chef", password=None, groups=["leaders"], units=["cas"])
    case = start_case(db, process="routed", unit="kemi", data={}, actor=anna)
    assert [t.assignee for t in case.tasks] == ["cas_chef"]
