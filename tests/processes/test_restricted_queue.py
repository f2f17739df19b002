"""Admins and the tasks of restricted cases (issue #14): the admins' right to work every task stops at a
restricted case (``access.may``), so their queue does not list those tasks, and the case lists and search
(``caselist``, ``access.readable_cases``) agree, unless the admin is also a member who may."""

from __future__ import annotations

import pytest

from processes import (
    CaseFilter,
    Database,
    TaskFilter,
    create_user,
    deploy,
    errors,
    get_case,
    get_task,
    list_cases,
    list_tasks,
    start_case,
)
from processes.views import UserView
from tests.samples import one_task_bpmn


@pytest.fixture
def cases(db: Database, owner, anna) -> dict[str, str]:
    """A restricted and a normal case in DTU Kemi, each waiting for the unit's AMK."""
    found = {}
    for key, properties in (("quiet", {"sensitivity": "restricted"}), ("plain", {})):
        xml = one_task_bpmn(key, name="Queue test", lane="amk", task_id="look", task_name="Look at it",
                            start_form="free_note", starter_lane="employees", process_properties=properties)
        deploy(db, xml, f"{key}.bpmn", actor=owner)
        found[key] = start_case(db, process=key, unit="kemi", actor=anna,
                                data={"note": f"zebracrossing {key}"}).id
    return found


@pytest.fixture
def admins(db: Database) -> dict[str, UserView]:
    return {
        "admin": create_user(db, "ada", password="ada-password", groups=["admins"], units=[]),
        "admin_amk_kemi": create_user(db, "adam", password="adam-password", groups=["admins", "amk"],
                                      units=["kemi"]),
        "admin_amk_fysik": create_user(db, "adele", password="adele-password", groups=["admins", "amk"],
                                       units=["fysik"]),
    }


def queued(db: Database, actor: UserView) -> set[str]:
    tasks, total = list_tasks(db, actor=actor, filters=TaskFilter(limit=100))
    assert total == len(tasks)
    return {task.process for task in tasks}


def listed(db: Database, actor: UserView, **filters: str) -> set[str]:
    return {case.process for case in list_cases(db, actor=actor, filters=CaseFilter(scope="all", **filters)).cases}


def may_read(db: Database, case_id: str, actor: UserView) -> bool:
    try:
        get_case(db, case_id, actor=actor)
    except errors.Forbidden:
        return False
    return True


@pytest.mark.parametrize(("who", "sees"), [
    ("admin", {"plain"}),  # an admin only: not the restricted case
    ("admin_amk_kemi", {"plain", "quiet"}),  # also the kemi AMK the task is for
    ("admin_amk_fysik", {"plain"}),  # an AMK of another unit
])
def test_an_admin_queue_lists_a_restricted_cases_task_only_when_they_may_work_it(db, cases, admins, who, sees):
    actor = admins[who]

    assert queued(db, actor) == sees
    assert queued(db, actor) == {key for key in cases if may_read(db, cases[key], actor)}
    for key, case_id in cases.items():
        (task,) = get_case(db, case_id, actor=create_user(db, f"amk-{who}", password="amk-password",
                                                          groups=["amk"], units=["kemi"])).tasks
        if key in sees:
            assert get_task(db, task.id, actor=actor).process == key
        else:
            with pytest.raises(errors.Forbidden):
                get_task(db, task.id, actor=actor)


@pytest.mark.parametrize(("who", "sees"), [
    ("admin", {"plain"}), ("admin_amk_kemi", {"plain", "quiet"}), ("admin_amk_fysik", {"plain"}),
])
def test_the_case_list_and_search_agree_with_the_queue_and_may(db, cases, admins, who, sees):
    actor = admins[who]

    assert listed(db, actor) == sees
    assert listed(db, actor, q="zebracrossing") == sees
    assert {key for key in cases if may_read(db, cases[key], actor)} == sees
