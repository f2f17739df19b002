"""Old notifications are deleted by the worker: read in-app notifications and finished mails older than
``notifications.retention_days`` (180), in bounded batches; unread notifications and mails still to be sent stay."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from processes import (
    FixedClock,
    add_comment,
    create_user,
    list_notices,
    open_notice,
    purge_expired,
    run_pass,
    start_case,
)
from processes.notify.retention import DEFAULT_RETENTION_DAYS, RETENTION_PARAMETER, retention_days
from processes.store.models import InboxItem, InboxRead, Notification

NOW = dt.datetime(2027, 6, 1, 12, 0, tzinfo=dt.UTC)


def days_ago(days: int) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


@pytest.fixture
def case_id(db, note_loop, anna) -> str:
    return start_case(db, process=note_loop, unit="kemi", data={"note": "n"}, actor=anna,
                      clock=FixedClock(days_ago(500))).id


def add_inbox(db, case_id: str, name: str, age: int, *, readers: tuple[str, ...] = (), group: bool = False) -> None:
    with db.write() as session:
        item = InboxItem(kind="group_task" if group else "comment", recipient=None if group else "anna",
                         group="amk" if group else None, unit="kemi" if group else None, case_id=case_id,
                         actor=name, created_at=days_ago(age))
        session.add(item)
        session.flush()
        session.add_all([InboxRead(item_id=item.id, username=reader, read_at=days_ago(age - 1)) for reader in readers])


def add_mail(db, case_id: str, name: str, age: int, status: str, *, sent_age: int | None = None) -> None:
    with db.write() as session:
        session.add(Notification(
            case_id=case_id, template=name, recipient_user="anna", to_address="anna@dtu.example", subject=name,
            body="", data={}, status=status, created_at=days_ago(age),
            sent_at=days_ago(sent_age) if sent_age is not None else None,
            next_attempt_at=NOW + dt.timedelta(hours=1) if status == "pending" else None,  # not due in this pass
            lease_until=NOW + dt.timedelta(minutes=5) if status == "sending" else None))


def inbox_left(db) -> list[str]:
    with db.read() as session:
        return sorted(session.scalars(select(InboxItem.actor).where(InboxItem.actor.is_not(None))))


def mails_left(db, prefix: str = "t_") -> list[str]:
    with db.read() as session:
        return sorted(name for name in session.scalars(select(Notification.template)) if name.startswith(prefix))


def test_the_retention_is_a_parameter_of_180_days():
    assert retention_days(NOW.date()) == DEFAULT_RETENTION_DAYS == 180
    assert RETENTION_PARAMETER == "notifications.retention_days"


def test_one_worker_pass_deletes_exactly_the_read_notices_and_finished_mails_past_the_retention(db, case_id):
    add_inbox(db, case_id, "read_old", 200, readers=("anna",))
    add_inbox(db, case_id, "read_181", 181, readers=("anna",))
    add_inbox(db, case_id, "read_179", 179, readers=("anna",))  # read, but not old enough
    add_inbox(db, case_id, "unread_old", 400)  # nobody opened it: kept however old
    add_inbox(db, case_id, "group_read_old", 300, readers=("kim",), group=True)  # one member opened it
    add_inbox(db, case_id, "group_unread_old", 300, group=True)
    add_mail(db, case_id, "t_sent_old", 200, "sent", sent_age=200)
    add_mail(db, case_id, "t_logged_old", 181, "logged", sent_age=181)
    add_mail(db, case_id, "t_failed_old", 300, "failed")
    add_mail(db, case_id, "t_sent_young", 100, "sent", sent_age=100)
    add_mail(db, case_id, "t_sent_late", 400, "sent", sent_age=10)  # written before an outage, sent after it
    add_mail(db, case_id, "t_pending_old", 400, "pending")  # still to be sent: never deleted
    add_mail(db, case_id, "t_sending_old", 400, "sending")

    result = run_pass(db, clock=FixedClock(NOW), smtp_url=None)

    assert (result.purged.inbox, result.purged.outbox) == (3, 3)
    assert inbox_left(db) == ["group_unread_old", "read_179", "unread_old"]
    assert mails_left(db) == ["t_pending_old", "t_sending_old", "t_sent_late", "t_sent_young"]
    with db.read() as session:
        assert session.scalar(select(Notification.status).where(Notification.template == "t_pending_old")) == "pending"
        assert [reader.username for reader in session.scalars(select(InboxRead))] == ["anna"]  # read_179's

    again = run_pass(db, clock=FixedClock(NOW), smtp_url=None)
    assert (again.purged.inbox, again.purged.outbox) == (0, 0)


def test_a_pass_deletes_in_batches_and_at_most_its_bound_the_next_passes_the_rest(db, case_id):
    for index in range(5):
        add_inbox(db, case_id, f"read_{index}", 200 + index, readers=("anna",))
        add_mail(db, case_id, f"t_sent_{index}", 200 + index, "sent", sent_age=200 + index)
    add_inbox(db, case_id, "unread", 300)
    clock = FixedClock(NOW)

    first = purge_expired(db, clock=clock, batch=2, max_batches=2)

    assert (first.inbox, first.outbox) == (4, 4)  # two batches of two, each kind
    assert inbox_left(db) == ["read_0", "unread"] and mails_left(db) == ["t_sent_0"]  # the oldest went first
    second = purge_expired(db, clock=clock, batch=2, max_batches=2)
    assert (second.inbox, second.outbox) == (1, 1)
    assert inbox_left(db) == ["unread"] and mails_left(db) == []
    with pytest.raises(ValueError):
        purge_expired(db, clock=clock, batch=0)


def test_a_shorter_retention_deletes_younger_rows(db, case_id):
    add_inbox(db, case_id, "read_40", 40, readers=("anna",))
    add_inbox(db, case_id, "read_20", 20, readers=("anna",))

    assert purge_expired(db, clock=FixedClock(NOW), days=30).inbox == 1
    assert inbox_left(db) == ["read_20"]


def test_notices_written_and_read_by_the_real_steps_are_deleted_half_a_year_later_unread_ones_stay(
        db, note_loop, anna):
    bo = create_user(db, "bo", password="bo-password", email="bo@dtu.example", groups=["employees"], units=["kemi"])
    start = FixedClock(dt.datetime(2027, 1, 4, 9, tzinfo=dt.UTC))
    case = start_case(db, process=note_loop, unit="kemi", data={"note": "n"}, actor=anna, clock=start)
    add_comment(db, case.id, body="Jeg kigger på det", actor=bo, clock=start)  # anna hears of it, and never opens it
    (group_task,) = [notice for notice in list_notices(db, actor=bo).items if notice.kind == "group_task"]
    open_notice(db, group_task.id, actor=bo, clock=start)
    assert run_pass(db, clock=start, smtp_url=None).mail.logged >= 1  # delivered (logged: no SMTP server)
    with db.read() as session:
        comment = session.scalar(select(InboxItem.id).where(InboxItem.kind == "comment"))
        mails = set(session.scalars(select(Notification.id).where(Notification.status == "logged")))

    assert run_pass(db, clock=FixedClock(start.now() + dt.timedelta(days=179)), smtp_url=None).purged.inbox == 0
    later = run_pass(db, clock=FixedClock(start.now() + dt.timedelta(days=181)), smtp_url=None)

    assert (later.purged.inbox, later.purged.outbox) == (1, len(mails))
    with db.read() as session:
        assert session.get(InboxItem, group_task.id) is None
        assert session.get(InboxItem, comment) is not None
        assert session.scalars(select(Notification.id).where(Notification.id.in_(mails))).all() == []
    assert [notice.kind for notice in list_notices(db, actor=anna).items] == ["comment"]
