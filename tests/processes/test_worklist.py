"""Drafts, comments, attachments, assigning, bulk claims and saved filters on a real database."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from processes import (
    TaskFilter,
    add_attachment,
    add_comment,
    assign_tasks,
    claim_tasks,
    colleagues_for,
    complete_task,
    create_user,
    delete_filter,
    get_attachment,
    get_draft,
    get_task,
    list_comments,
    list_filters,
    list_tasks,
    queue_screen,
    save_draft,
    save_filter,
    start_case,
)
from processes.errors import Conflict, Forbidden, InvalidData
from processes.people.identity import may_work, user_view
from processes.store.models import TaskRecord, User
from processes.worklist import safe_filename
from tests.queue_data import Row, insert_tasks


@pytest.fixture
def bent(db):
    return create_user(db, "bent", password="bent-password", groups=["employees"], units=["kemi"],
                       email="bent@example.dtu.dk")


@pytest.fixture
def tasks(db, anna, note_loop):
    return [start_case(db, process=note_loop, unit="kemi", data={}, actor=anna).tasks[0] for _ in range(3)]


def test_a_draft_is_kept_per_user_until_the_task_is_completed(db, anna, bent, tasks):
    save_draft(db, tasks[0].id, data={"note": "half"}, actor=anna)
    save_draft(db, tasks[0].id, data={"note": "half, more"}, actor=anna)
    assert get_draft(db, tasks[0].id, actor=anna) == {"note": "half, more"}
    assert get_draft(db, tasks[0].id, actor=bent) is None
    complete_task(db, tasks[0].id, data={"note": "done"}, actor=anna)
    assert get_draft(db, tasks[0].id, actor=anna) is None


def test_a_draft_of_someone_elses_units_task_is_refused(db, emil, tasks):
    with pytest.raises(Forbidden):
        save_draft(db, tasks[0].id, data={"note": "x"}, actor=emil)


def test_comments_and_attachments_belong_to_those_who_may_read_the_case(db, anna, emil, tasks):
    comment = add_comment(db, tasks[0].case_id, body="  Ring til Karl  ", actor=anna)
    assert (comment.author, comment.body) == ("anna", "Ring til Karl")
    assert [c.body for c in list_comments(db, tasks[0].case_id, actor=anna)] == ["Ring til Karl"]
    attachment = add_attachment(db, tasks[0].case_id, filename="../../etc/APV 2026.pdf", content_type="application/pdf",
                                content=b"%PDF-1.4 test", actor=anna)
    view, content = get_attachment(db, attachment.id, actor=anna)
    assert (view.filename, view.size, content) == ("APV 2026.pdf", 13, b"%PDF-1.4 test")
    with pytest.raises(Forbidden):
        add_comment(db, tasks[0].case_id, body="x", actor=emil)
    with pytest.raises(Forbidden):
        get_attachment(db, attachment.id, actor=emil)
    with pytest.raises(InvalidData):
        add_comment(db, tasks[0].case_id, body="   ", actor=anna)


@pytest.mark.parametrize(
    ("given", "safe"),
    [("a/b/c.txt", "c.txt"), ("..\\x.exe", "x.exe"), ("<script>.html", "_script_.html"), ("", "attachment"),
     ("...", "attachment")],
)
def test_attachment_names_lose_paths_and_odd_characters(given, safe):
    assert safe_filename(given) == safe


def test_tasks_can_be_claimed_in_bulk_all_or_none(db, anna, bent, tasks):
    claim_tasks(db, [tasks[0].id], actor=bent)
    with pytest.raises(Conflict):
        claim_tasks(db, [t.id for t in tasks], actor=anna)
    assert [get_task(db, t.id, actor=anna).assignee for t in tasks] == ["bent", None, None]
    claimed = claim_tasks(db, [tasks[1].id, tasks[2].id], actor=anna)
    assert {t.assignee for t in claimed} == {"anna"}


def test_a_task_is_assigned_only_to_a_colleague_who_may_work_it(db, anna, bent, emil, tasks):
    assert {u.username for u in colleagues_for(db, tasks[0].id, actor=anna)} == {"anna", "bent"}
    [assigned] = assign_tasks(db, [tasks[0].id], assignee="bent", actor=anna)
    assert (assigned.assignee, assigned.status) == ("bent", "claimed")
    with pytest.raises(InvalidData) as caught:
        assign_tasks(db, [tasks[1].id], assignee="emil", actor=anna)
    assert "assignee" in caught.value.fields
    assert list_tasks(db, actor=bent, filters=TaskFilter(assignee="me"))[1] == 1


def test_saved_filters_are_private_unless_shared_with_one_of_your_groups(db, anna, bent, emil):
    own = save_filter(db, name="Forfaldne", query={"overdue": True, "unit": "kemi"}, shared_group=None, actor=anna)
    shared = save_filter(db, name="Kemi", query={"unit": "kemi"}, shared_group="employees", actor=anna)
    assert [f.name for f in list_filters(db, actor=anna)] == ["Forfaldne", "Kemi"]
    assert [f.name for f in list_filters(db, actor=bent)] == ["Kemi"]
    assert [f.name for f in list_filters(db, actor=emil)] == ["Kemi"]  # emil is in employees too
    with pytest.raises(InvalidData):
        save_filter(db, name="x", query={}, shared_group="leaders", actor=anna)
    with pytest.raises(InvalidData):
        save_filter(db, name="x", query={"drop": "table"}, shared_group=None, actor=anna)
    with pytest.raises(Forbidden):
        delete_filter(db, shared.id, actor=bent)
    delete_filter(db, own.id, actor=anna)
    assert [f.name for f in list_filters(db, actor=anna)] == ["Kemi"]


def test_the_queue_sorts_by_due_date_title_or_creation(db, anna, tasks):
    ids = [t.id for t in list_tasks(db, actor=anna, filters=TaskFilter(sort="created_at"))[0]]
    newest_first = [t.id for t in list_tasks(db, actor=anna, filters=TaskFilter(sort="created_at", descending=True))[0]]
    assert newest_first == list(reversed(ids))
    with pytest.raises(InvalidData):
        list_tasks(db, actor=anna, filters=TaskFilter(sort="password"))


def test_the_colleagues_offered_are_the_active_users_who_may_work_the_task(db, note_loop):
    """colleagues_for and the queue's bulk form read the candidates with their groups and units in one
    statement: the same users, by name, as may_work over every active user (the admin account aside)."""
    people = {name: create_user(db, name, password=f"{name}-password", name=label, groups=groups, units=units)
              for name, label, groups, units in [
                  ("admin", "Admin", ["admins"], []), ("ada", "Ada", ["admins"], ["food"]),
                  ("kim", "Kim", ["amk", "employees"], ["kemi", "energi"]), ("ole", "Ole", ["amk"], ["energi"]),
                  ("ida", "Ida", ["arbejdsmiljo"], []), ("gone", "Gone", ["amk"], ["kemi"]),
                  ("zed", "Zed", [], []), ("bo", "Bo", ["amk"], ["kemi"]), ("bo2", "Bo", ["amk"], ["kemi"])]}
    with db.write() as session:
        session.execute(update(User).where(User.username == "gone").values(active=False))
    ids = insert_tasks(db, [Row(group="amk", unit="kemi"), Row(group="arbejdsmiljo", unit="food", assignee="zed",
                                                                  status="claimed"),
                            Row(group=None, unit="kemi", assignee="kim", status="claimed"),
                            Row(group="amk", unit="energi", assignee="bo", status="claimed")])
    with db.read() as session:
        everyone = [user_view(user) for user in session.scalars(select(User).where(User.active.is_(True)))]
        rows = {task_id: session.get(TaskRecord, task_id) for task_id in ids}
        expected = {task_id: sorted((view for view in everyone if may_work(view, row) and view.username != "admin"),
                                    key=lambda view: (view.name, view.username))
                    for task_id, row in rows.items()}
    for task_id in ids:
        assert colleagues_for(db, task_id, actor=people["ada"]) == expected[task_id], task_id
    assert [view.username for view in expected[ids[0]]] == ["ada", "bo", "bo2", "kim"]  # by name; not gone, admin
    screen = queue_screen(db, actor=people["ada"], filters=TaskFilter(sort="created_at"))
    first_open = screen.page.tasks[0]
    assert screen.colleagues == expected[first_open.id]
