"""In-app notifications (issue #17): a task for my group in my units, a task given to me, a comment on a case I
started or work on; read marking; the e-mail choice per kind, honoured by the real outbox; a restricted case's
notifications show only their kind."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from processes import (
    FixedClock,
    add_comment,
    assign_tasks,
    claim_task,
    create_user,
    deploy,
    list_notices,
    notice_settings,
    open_notice,
    set_notice_settings,
    start_case,
    unread_count,
)
from processes.errors import InvalidData, NotFound
from processes.store.models import InboxItem, Notification
from tests.samples import one_task_bpmn

NOW = FixedClock(dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC))
SECRET = "Hemmelig sag om Bo Hansen"


@pytest.fixture
def people(db, owner):
    """ulla (employee, kemi); kim and kirsten (AMK, kemi); karen (AMK, energi); all with e-mail addresses."""
    made = {}
    for name, group, unit in [("ulla", "employees", "kemi"), ("kim", "amk", "kemi"), ("kirsten", "amk", "kemi"),
                              ("karen", "amk", "energi")]:
        made[name] = create_user(db, name, password=f"{name}-password", email=f"{name}@dtu.example",
                                 groups=[group], units=[unit])
    return made


def deployed(db, owner, *, restricted: bool = False) -> str:
    key = "notices_restricted" if restricted else "notices_plain"
    properties = {"sensitivity": "restricted"} if restricted else {}
    xml = one_task_bpmn(key, name="Notices (test)", lane="amk", task_id="review", task_name="Gennemgå notatet",
                        start_form="free_note", starter_lane="employees",
                        process_properties={**properties, "caseTitle": "{note}"})
    deploy(db, xml, f"{key}.bpmn", actor=owner)
    return key


def started(db, owner, people, *, restricted: bool = False):
    return start_case(db, process=deployed(db, owner, restricted=restricted), unit="kemi", actor=people["ulla"],
                      data={"note": SECRET}, clock=NOW)


def kinds(db, user) -> list[tuple[str, str]]:
    return [(notice.kind, notice.case_id) for notice in list_notices(db, actor=user).items]


def mails_to(db, case_id: str) -> list[tuple[str, str]]:
    with db.read() as session:
        return sorted(session.execute(select(Notification.template, Notification.to_address)
                                      .where(Notification.case_id == case_id)).all())


def test_a_new_task_is_one_row_for_its_group_and_unit_seen_by_its_members_there_only(db, owner, people):
    case = started(db, owner, people)

    with db.read() as session:
        rows = list(session.scalars(select(InboxItem).where(InboxItem.case_id == case.id)))
    assert [(row.kind, row.group, row.unit, row.recipient) for row in rows] == [("group_task", "amk", "kemi", None)]
    assert kinds(db, people["kim"]) == kinds(db, people["kirsten"]) == [("group_task", case.id)]
    assert kinds(db, people["karen"]) == []  # AMK of another unit
    assert kinds(db, people["ulla"]) == []  # not in the group
    notice = list_notices(db, actor=people["kim"]).items[0]
    assert (notice.case_title, notice.task_title, notice.task_id) == (SECRET, "Gennemgå notatet", case.tasks[0].id)


def test_a_task_assigned_to_me_tells_me_and_nobody_else(db, owner, people):
    case = started(db, owner, people)
    task_id = case.tasks[0].id

    assign_tasks(db, [task_id], assignee="kirsten", actor=people["kim"], clock=NOW)

    assert ("task_assigned", case.id) in kinds(db, people["kirsten"])
    assert ("task_assigned", case.id) not in kinds(db, people["kim"])
    assert kinds(db, people["karen"]) == []
    assert list_notices(db, actor=people["kirsten"]).items[0].actor == "kim"
    claim_task(db, task_id, actor=people["kirsten"])  # taking a task yourself tells nobody anything new
    assert [kind for kind, _ in kinds(db, people["kirsten"])] == ["task_assigned", "group_task"]


def test_a_comment_tells_the_starter_and_the_task_holder_not_the_author_nor_another_unit(db, owner, people):
    case = started(db, owner, people)
    claim_task(db, case.tasks[0].id, actor=people["kim"])

    add_comment(db, case.id, body="Har du talt med Bo?", actor=people["kim"], clock=NOW)
    assert ("comment", case.id) in kinds(db, people["ulla"])
    assert ("comment", case.id) not in kinds(db, people["kim"])

    add_comment(db, case.id, body="Ja.", actor=people["ulla"], clock=NOW)
    assert ("comment", case.id) in kinds(db, people["kim"])
    assert ("comment", case.id) not in kinds(db, people["kirsten"])  # in the group, but not working the case
    assert kinds(db, people["karen"]) == []


def test_opening_the_list_or_one_notification_marks_it_read_for_me_only(db, owner, people):
    first = started(db, owner, people)
    second = start_case(db, process="notices_plain", unit="kemi", actor=people["ulla"], data={"note": "To"},
                        clock=NOW)
    kim, kirsten = people["kim"], people["kirsten"]
    assert unread_count(db, actor=kim) == unread_count(db, actor=kirsten) == 2

    newest, older = list_notices(db, actor=kim).items
    assert newest.case_id == second.id
    assert open_notice(db, older.id, actor=kim, clock=NOW).read is False  # as it was when opened
    assert unread_count(db, actor=kim) == 1
    assert [item.read for item in list_notices(db, actor=kim).items] == [False, True]

    page = list_notices(db, actor=kim, mark_read=True, clock=NOW)
    assert [item.read for item in page.items] == [False, True]  # shown as new this once
    assert page.unread == 0 == unread_count(db, actor=kim)
    assert unread_count(db, actor=kirsten) == 2  # the group's row is read per member
    assert first.id in {item.case_id for item in list_notices(db, actor=kirsten).items}

    with pytest.raises(NotFound):
        open_notice(db, older.id, actor=people["karen"])  # not hers: another unit's


def test_email_choice_per_kind_is_honoured_by_the_outbox(db, owner, people):
    assert notice_settings(db, actor=people["kim"]) == {"group_task": True, "task_assigned": True, "comment": False}
    set_notice_settings(db, {"group_task": False}, actor=people["kim"])
    set_notice_settings(db, {"comment": True}, actor=people["ulla"])

    case = started(db, owner, people)
    assert mails_to(db, case.id) == [("task_assigned", "kirsten@dtu.example")]  # kim chose no mail
    assert ("group_task", case.id) in kinds(db, people["kim"])  # ... but sees it in the app

    claim_task(db, case.tasks[0].id, actor=people["kim"])
    add_comment(db, case.id, body="Et spørgsmål", actor=people["kim"], clock=NOW)
    add_comment(db, case.id, body="Et svar", actor=people["ulla"], clock=NOW)
    # ulla asked for comment mail; kim did not (the default), so his comment notice is in the app only
    assert ("comment_added", "ulla@dtu.example") in mails_to(db, case.id)
    assert ("comment_added", "kim@dtu.example") not in mails_to(db, case.id)
    assert ("comment", case.id) in kinds(db, people["kim"])

    set_notice_settings(db, {"task_assigned": False}, actor=people["kirsten"])
    assign_tasks(db, [case.tasks[0].id], assignee="kirsten", actor=people["kim"], clock=NOW)
    assert ("task_assigned", case.id) in kinds(db, people["kirsten"])
    assert mails_to(db, case.id).count(("task_assigned", "kirsten@dtu.example")) == 1  # the group's mail only


def test_bad_settings_are_refused_naming_each_field_and_change_nothing(db, people):
    with pytest.raises(InvalidData) as refused:
        set_notice_settings(db, {"group_task": False, "gossip": True, "comment": "yes"}, actor=people["kim"])
    assert refused.value.fields == {"email.gossip": "unknown kind of notification",
                                    "email.comment": "must be true or false"}
    assert notice_settings(db, actor=people["kim"])["group_task"] is True


def test_a_restricted_cases_notifications_show_only_their_kind(db, owner, people):
    case = started(db, owner, people, restricted=True)
    claim_task(db, case.tasks[0].id, actor=people["kim"])
    add_comment(db, case.id, body="Fortroligt", actor=people["ulla"], clock=NOW)

    for user in (people["kim"], people["kirsten"]):
        for notice in list_notices(db, actor=user).items:
            assert notice.restricted
            assert (notice.case_title, notice.case_title_en, notice.task_title, notice.task_title_en) == (
                None, None, None, None)
    assert {kind for kind, _ in kinds(db, people["kim"])} == {"group_task", "comment"}
