"""User-task property ``linkTo``: the engine gives the task to an e-mail address through a signed link and mails
it; later tasks for the same address join the same link (one page for all of them: a portal)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from processes import (
    FixedClock,
    LinkKeys,
    complete_task,
    configure_links,
    create_link,
    create_user,
    deploy,
    get_case,
    grant_for,
    link_page,
    renew_link,
    send_pending,
    start_case,
)
from processes.store.models import CaseLink, Notification

from .conftest import BPMN_DIR

T0 = dt.datetime(2031, 3, 3, 8, 0, tzinfo=dt.UTC)
KEYS = LinkKeys({"t1": "a-test-key-of-some-length"}, "t1")
BASE = "https://amflow.example"
DATA = {"guest_email": "Site.Lead@Builder.example", "guest_name": "Sif Lead", "guest_language": "en",
        "contact": "Kaj Kontakt"}


@pytest.fixture
def portal(db, owner) -> str:
    deploy(db, (BPMN_DIR / "guest_portal.bpmn").read_bytes(), "guest_portal.bpmn", actor=owner)
    configure_links(db, KEYS, BASE + "/")
    return "guest_portal"


def link_mails(db) -> list[Notification]:
    with db.read() as session:
        return list(session.scalars(select(Notification).where(Notification.template == "task_link")
                                    .order_by(Notification.id)))


def token_of(mail: Notification) -> str:
    url = next(word for word in mail.body.split() if word.startswith(BASE + "/link/"))
    return url.removeprefix(BASE + "/link/")


def test_the_ready_tasks_get_one_link_and_one_mail_in_the_persons_language(db, anna, portal, smtp_server):
    case = start_case(db, process=portal, unit="kemi", data=DATA, actor=anna, clock=FixedClock(T0))
    [mail] = link_mails(db)
    assert (mail.to_address, mail.language, mail.recipient_user) == ("site.lead@builder.example", "en", None)
    assert "Dear Sif Lead" in mail.body and "valid until 2031-03-10 09:00" in mail.body  # P7D, Danish time
    with db.read() as session:
        [row] = session.scalars(select(CaseLink))
    assert (sorted(row.tasks), row.created_by, row.expires_at) == (["first", "second"], "amflow",
                                                                    T0 + dt.timedelta(days=7))

    grant = grant_for(db, token_of(mail), keys=KEYS, clock=FixedClock(T0))
    page = link_page(db, grant)
    assert {task.name for task in page.tasks} == {"first", "second"}
    assert page.header == "Contact: Kaj Kontakt"  # the process's linkHeader over the case data

    send_pending(db, smtp_url=smtp_server.url, clock=FixedClock(T0))
    [received] = [m for m in smtp_server.received if "site.lead@builder.example" in m.rcpt_tos]
    assert token_of(mail) in received.message.get_content()
    assert case.id in received.message.get_content()


def test_a_person_without_an_account_gets_the_link_mail_not_a_task_assigned_mail_that_cannot_reach_them(
        db, anna, portal):
    case = start_case(db, process=portal, unit="kemi", data=DATA, actor=anna, clock=FixedClock(T0))
    history = get_case(db, case.id, actor=anna).history
    assert [e for e in history if e.kind == "notification_skipped"] == []
    with db.read() as session:
        assert session.scalars(select(Notification).where(Notification.template == "task_assigned")).all() == []


def test_a_later_task_joins_the_link_without_a_new_mail(db, anna, portal):
    case = start_case(db, process=portal, unit="kemi", data=DATA, actor=anna, clock=FixedClock(T0))
    grant = grant_for(db, token_of(link_mails(db)[0]), keys=KEYS, clock=FixedClock(T0))
    for task in case.tasks:
        case = complete_task(db, task.id, data={"note": f"{task.name} done"}, actor=grant, clock=FixedClock(T0))
    assert [task.name for task in case.tasks] == ["third"]
    assert len(link_mails(db)) == 1
    grant = grant_for(db, token_of(link_mails(db)[0]), keys=KEYS, clock=FixedClock(T0))  # the same token
    assert [task.name for task in link_page(db, grant).tasks] == ["third"]
    history = get_case(db, case.id, actor=anna).history
    assert [entry.detail["task"] for entry in history if entry.kind == "link_extended"] == ["second", "third"]


def test_an_expired_link_is_renewed_and_mailed_again_when_a_new_task_is_ready(db, anna, portal):
    case = start_case(db, process=portal, unit="kemi", data=DATA, actor=anna, clock=FixedClock(T0))
    old = token_of(link_mails(db)[0])
    grant = grant_for(db, old, keys=KEYS, clock=FixedClock(T0))
    later = FixedClock(T0 + dt.timedelta(days=8))
    complete_task(db, case.tasks[0].id, data={"note": "x"}, actor=grant, clock=FixedClock(T0))
    complete_task(db, case.tasks[1].id, data={"note": "y"}, actor=grant, clock=later)  # link expired meanwhile
    _first, second = link_mails(db)
    assert token_of(second) != old
    assert link_page(db, grant_for(db, token_of(second), keys=KEYS, clock=later)).tasks[0].name == "third"
    with pytest.raises(Exception, match="revoked"):  # the earlier token no longer opens anything
        grant_for(db, old, keys=KEYS, clock=later)


def test_a_link_a_handler_revoked_stays_revoked_and_is_not_mailed_again(db, anna, portal):
    case = start_case(db, process=portal, unit="kemi", data=DATA, actor=anna, clock=FixedClock(T0))
    token = token_of(link_mails(db)[0])
    grant = grant_for(db, token, keys=KEYS, clock=FixedClock(T0))
    complete_task(db, case.tasks[0].id, data={"note": "x"}, actor=grant, clock=FixedClock(T0))
    with db.write() as session:  # as revoke_link does for a handler (its access rules are tested in tests/api)
        session.scalars(select(CaseLink)).one().revoked_at = T0
    case = complete_task(db, case.tasks[1].id, data={"note": "y"}, actor=grant, clock=FixedClock(T0))
    assert [task.name for task in case.tasks] == ["third"]
    assert len(link_mails(db)) == 1
    with pytest.raises(Exception, match="revoked"):
        grant_for(db, token, keys=KEYS, clock=FixedClock(T0))


def test_without_a_configured_signer_the_link_is_made_and_the_history_says_why_no_mail_went(db, owner, anna):
    deploy(db, (BPMN_DIR / "guest_portal.bpmn").read_bytes(), "guest_portal.bpmn", actor=owner)
    case = start_case(db, process="guest_portal", unit="kemi", data=DATA, actor=anna, clock=FixedClock(T0))
    assert link_mails(db) == []
    skipped = [entry.detail for entry in get_case(db, case.id, actor=anna).history
               if entry.kind == "notification_skipped" and entry.detail.get("template") == "task_link"]
    assert "no link signer" in skipped[0]["reason"]


def test_a_link_to_that_is_not_an_address_is_recorded_not_mailed(db, anna, portal):
    case = start_case(db, process=portal, unit="kemi", data={**DATA, "guest_email": "nobody"}, actor=anna,
                      clock=FixedClock(T0))
    assert link_mails(db) == []
    skipped = [entry.detail for entry in get_case(db, case.id, actor=anna).history
               if entry.kind == "notification_skipped" and entry.detail.get("template") == "task_link"]
    assert skipped and skipped[0]["reason"] == "linkTo is not an e-mail address"


def test_a_link_a_handler_renews_is_mailed_to_its_holder_in_their_language(db, anna, portal, smtp_server):
    case = start_case(db, process=portal, unit="kemi", data=DATA, actor=anna, clock=FixedClock(T0))
    old = token_of(link_mails(db)[0])
    with db.read() as session:
        link_id = session.scalars(select(CaseLink.id)).one()
    handler = create_user(db, "root", password=None, groups=["admins"], units=[])  # the guest's tasks are theirs
    later = FixedClock(T0 + dt.timedelta(days=2))
    renewed = renew_link(db, link_id, keys=KEYS, actor=handler, ttl=dt.timedelta(days=30), clock=later)

    with db.read() as session:
        [mail] = session.scalars(select(Notification).where(Notification.template == "link_renewed"))
    assert (mail.to_address, mail.language, mail.case_id) == ("site.lead@builder.example", "en", case.id)
    assert f"{BASE}/link/{renewed.token}" in mail.body and "no longer works" in mail.body
    assert "valid until 2031-04-04 10:00" in mail.body  # 30 days from the renewal, Danish summer time
    assert "Kaj Kontakt" not in mail.body  # the case data stays out of the mail

    send_pending(db, smtp_url=smtp_server.url, clock=later)
    [received] = [m for m in smtp_server.received if "renewed" in m.message["Subject"]]
    assert list(received.rcpt_tos) == ["site.lead@builder.example"]
    assert renewed.token in received.message.get_content()
    assert grant_for(db, renewed.token, keys=KEYS, clock=later).case_id == case.id
    with pytest.raises(Exception, match="revoked"):  # the earlier token stopped working
        grant_for(db, old, keys=KEYS, clock=later)
    queued = [e.detail for e in get_case(db, case.id, actor=handler).history
              if e.kind == "notification_queued" and e.detail.get("template") == "link_renewed"]
    assert queued == [{"template": "link_renewed", "recipient_user": None, "recipient_group": None,
                       "link": link_id, "to": "site.lead@builder.example", "messages": 1}]


def test_a_renewed_link_without_an_address_is_only_returned_to_the_handler(db, anna, portal):
    case = start_case(db, process=portal, unit="kemi", data=DATA, actor=anna, clock=FixedClock(T0))
    handler = create_user(db, "root", password=None, groups=["admins"], units=[])
    link = create_link(db, case.id, name="Bo uden mail", email="", tasks=["first"], keys=KEYS, actor=handler,
                       clock=FixedClock(T0))
    renewed = renew_link(db, link.id, keys=KEYS, actor=handler, clock=FixedClock(T0))
    assert renewed.token
    with db.read() as session:
        assert session.scalars(select(Notification).where(Notification.template == "link_renewed")).all() == []
