"""Messages through a signed link: the catching event's ``senders`` may name ``link`` (the case's own links)
and ``readers`` (whoever may read the case); a link posts only such messages, only into its own case, and
only while it is live."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from processes import (
    FixedClock,
    LinkKeys,
    case_messages,
    configure_links,
    create_user,
    deploy,
    get_case,
    grant_for,
    revoke_link,
    send_link_message,
    send_message,
    start_case,
)
from processes.errors import Forbidden, InvalidModel, NotFound
from processes.links import LinkRefused
from processes.store.models import CaseLink, Notification

from .conftest import BPMN_DIR

T0 = dt.datetime(2031, 3, 3, 8, 0, tzinfo=dt.UTC)
CLOCK = FixedClock(T0)
KEYS = LinkKeys({"t1": "a-test-key-of-some-length"}, "t1")
BASE = "https://amflow.example"


@pytest.fixture
def guest_messages(db, owner) -> str:
    deploy(db, (BPMN_DIR / "guest_messages.bpmn").read_bytes(), "guest_messages.bpmn", actor=owner)
    configure_links(db, KEYS, BASE)
    return "guest_messages"


def started(db, anna, guest: str):
    case = start_case(db, process="guest_messages", unit="kemi", actor=anna, clock=CLOCK,
                      data={"guest_email": guest, "guest_name": guest.split("@", maxsplit=1)[0]})
    with db.read() as session:
        mail = session.scalars(select(Notification).where(Notification.case_id == case.id,
                                                          Notification.template == "task_link")).one()
    url = next(word for word in mail.body.split() if word.startswith(BASE + "/link/"))
    return case, url.removeprefix(BASE + "/link/")


def test_a_link_posts_the_messages_whose_senders_name_link_into_its_own_case(db, anna, guest_messages):
    case, token = started(db, anna, "sif@byg.example")
    grant = grant_for(db, token, keys=KEYS, clock=CLOCK)
    assert [m.name for m in case_messages(db, case.id, actor=grant, clock=CLOCK)] == ["site report"]
    # the case's readers (its starter) still get both: "readers" keeps them among the senders
    assert {m.name for m in case_messages(db, case.id, actor=anna, clock=CLOCK)} == {"site report", "staff note"}

    send_link_message(db, grant, "site report", data={"note": "Scaffold moved to room 113"}, clock=CLOCK)
    after = get_case(db, case.id, actor=anna)
    assert after.data["last_report"] == "Scaffold moved to room 113"
    [received] = [e for e in after.history if e.kind == "message_received"]
    assert received.actor == "link for sif"


def test_a_link_may_not_post_a_message_that_does_not_name_link(db, anna, guest_messages):
    case, token = started(db, anna, "sif@byg.example")
    grant = grant_for(db, token, keys=KEYS, clock=CLOCK)
    with pytest.raises(Forbidden):
        send_link_message(db, grant, "staff note", data={"note": "let me in"}, clock=CLOCK)
    assert "staff_note" not in get_case(db, case.id, actor=anna).data
    # a user who may read the case posts it (no senders: whoever may read)
    send_message(db, case.id, "staff note", data={"note": "ok"}, actor=anna, clock=CLOCK)


def test_the_link_of_case_a_cannot_see_or_post_into_case_b(db, anna, guest_messages):
    _case_a, token_a = started(db, anna, "sif@byg.example")
    case_b, _token_b = started(db, anna, "bo@andet.example")
    grant_a = grant_for(db, token_a, keys=KEYS, clock=CLOCK)
    with pytest.raises(NotFound):
        case_messages(db, case_b.id, actor=grant_a, clock=CLOCK)
    with pytest.raises(Forbidden):  # the user API refuses a link as its caller
        send_message(db, case_b.id, "site report", data={"note": "x"}, actor=grant_a, clock=CLOCK)  # type: ignore[arg-type]
    assert "last_report" not in get_case(db, case_b.id, actor=anna).data


def test_a_revoked_link_cannot_post_even_with_a_grant_read_before_the_revocation(db, anna, guest_messages):
    case, token = started(db, anna, "sif@byg.example")
    grant = grant_for(db, token, keys=KEYS, clock=CLOCK)
    with db.read() as session:
        link_id = session.scalars(select(CaseLink.id).where(CaseLink.case_id == case.id)).one()
    admin = create_user(db, "root", password=None, groups=["admins"], units=[])  # the guest's task is no one else's
    revoke_link(db, link_id, actor=admin, clock=CLOCK)
    with pytest.raises(LinkRefused):
        grant_for(db, token, keys=KEYS, clock=CLOCK)
    with pytest.raises(Forbidden):
        send_link_message(db, grant, "site report", data={"note": "too late"}, clock=CLOCK)
    assert "last_report" not in get_case(db, case.id, actor=anna).data


def test_deploy_refuses_an_unknown_senders_word_and_accepts_link_and_readers(db, owner):
    xml = (BPMN_DIR / "guest_messages.bpmn").read_text().replace('value="readers link"', 'value="readers lnk"')
    with pytest.raises(InvalidModel, match="lnk"):
        deploy(db, xml.encode(), "guest_messages.bpmn", actor=owner)
