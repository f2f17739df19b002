"""The outbound webhook (service operator ``webhook``): a JSON post to a configured target through an outbox,
delivered by the worker with retries and back-off; a receiver that fails never stops the case."""

from __future__ import annotations

import datetime as dt
import socket

import pytest
from sqlalchemy import select

from processes import CaseStatus, FixedClock, complete_task, deliver_pending, deploy, errors, get_case, start_case
from processes.notify import webhooks
from processes.store.models import CaseLink, Incident, WebhookDelivery
from processes.views import LinkGrant

from .conftest import BPMN_DIR
from .webhook_server import WebhookServer

T0 = dt.datetime(2031, 3, 3, 8, 0, tzinfo=dt.UTC)
DATA = {"guest_email": "site.lead@builder.example", "guest_name": "Sif Lead", "contact": "Kaj Kontakt"}


@pytest.fixture
def portal(db, owner) -> str:
    deploy(db, (BPMN_DIR / "guest_portal.bpmn").read_bytes(), "guest_portal.bpmn", actor=owner)
    return "guest_portal"


def deliveries(db) -> list[WebhookDelivery]:
    with db.read() as session:
        return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def kinds(db, case_id, anna) -> list[str]:
    return [entry.kind for entry in get_case(db, case_id, actor=anna).history]


def test_the_step_writes_the_post_and_the_worker_delivers_it_to_the_configured_url(db, anna, portal):
    case = start_case(db, process=portal, unit="kemi", data=DATA, actor=anna, clock=FixedClock(T0))
    [row] = deliveries(db)
    assert (row.status, row.target, row.task, row.payload) == (
        "pending", "fm", "tell_fm", {"contact": "Kaj Kontakt", "guest": "site.lead@builder.example"})
    assert {task.name for task in case.tasks} == {"first", "second"}  # the case went on without waiting

    with WebhookServer() as server:
        report = deliver_pending(db, targets={"fm": server.url}, clock=FixedClock(T0))
    assert report == webhooks.WebhookReport(delivered=1)
    [post] = server.received
    assert post.path == "/fm/work-orders"
    assert post.body == {"delivery": row.id, "case_id": case.id, "task": "tell_fm",
                         "payload": {"contact": "Kaj Kontakt", "guest": "site.lead@builder.example"}}
    assert post.headers["X-Amflow-Delivery"] == str(row.id)
    assert post.headers["Content-Type"].startswith("application/json")
    assert deliveries(db)[0].status == "delivered"
    assert "webhook_queued" in kinds(db, case.id, anna) and "webhook_delivered" in kinds(db, case.id, anna)


def test_a_failing_receiver_is_retried_with_back_off_then_an_incident_and_the_case_goes_on(db, anna, portal):
    case = start_case(db, process=portal, unit="kemi", data=DATA, actor=anna, clock=FixedClock(T0))
    with WebhookServer() as server:
        server.fail_next(webhooks.MAX_ATTEMPTS + 1)
        now = T0
        assert deliver_pending(db, targets={"fm": server.url}, clock=FixedClock(now)).retried == 1
        [row] = deliveries(db)
        assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 1, now + dt.timedelta(minutes=1))
        assert "HTTP 503" in (row.last_error or "")
        # not due again before its back-off has passed
        assert deliver_pending(db, targets={"fm": server.url}, clock=FixedClock(now + dt.timedelta(seconds=59))) \
            == webhooks.WebhookReport()
        # meanwhile the case moves on
        case = complete_task(db, case.tasks[0].id, data={"note": "done"}, actor=guest(db, case.id))
        for _attempt in range(2, webhooks.MAX_ATTEMPTS + 1):
            now = deliveries(db)[0].next_attempt_at
            report = deliver_pending(db, targets={"fm": server.url}, clock=FixedClock(now))
        assert report.failed == 1 and server.received == []
    [row] = deliveries(db)
    assert (row.status, row.attempts) == ("failed", webhooks.MAX_ATTEMPTS)
    with db.read() as session:
        [incident] = session.scalars(select(Incident).where(Incident.case_id == case.id))
    assert incident.kind == "webhook" and "HTTP 503" in incident.message
    assert get_case(db, case.id, actor=anna).status == CaseStatus.RUNNING
    assert kinds(db, case.id, anna).count("webhook_retry") == webhooks.MAX_ATTEMPTS - 1


def test_an_unreachable_receiver_is_a_retry_too(db, anna, portal):
    start_case(db, process=portal, unit="kemi", data=DATA, actor=anna, clock=FixedClock(T0))
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # closed again below: nothing listens there
    report = deliver_pending(db, targets={"fm": f"http://127.0.0.1:{port}/x"}, clock=FixedClock(T0))
    assert report.retried == 1
    assert "cannot reach" in (deliveries(db)[0].last_error or "")


def test_a_target_without_a_configured_url_is_skipped_and_the_history_says_why(db, anna, portal):
    case = start_case(db, process=portal, unit="kemi", data=DATA, actor=anna, clock=FixedClock(T0))
    assert deliver_pending(db, targets={}, clock=FixedClock(T0)) == webhooks.WebhookReport(skipped=1)
    assert deliveries(db)[0].status == "skipped"
    skipped = [entry.detail for entry in get_case(db, case.id, actor=anna).history if entry.kind == "webhook_skipped"]
    assert "no URL is configured for webhook target 'fm'" in skipped[0]["reason"]


@pytest.mark.parametrize(("target", "payload", "problem"), [
    ("'http://evil.example/'", "{'a': 1}", "quoted lower-case word"),
    ("fm", "{'a': 1}", "quoted lower-case word"),
    ("'fm'", "", "needs a payload"),
])
def test_a_webhook_names_a_configured_target_and_a_payload_or_it_is_not_deployed(db, owner, target, payload,
                                                                                  problem):
    xml = (BPMN_DIR / "guest_portal.bpmn").read_text().replace('value="\'fm\'"', f'value="{target}"')
    xml = xml.replace('''value="{'contact': contact, 'guest': guest_email}"''', f'value="{payload}"')
    with pytest.raises(errors.InvalidModel) as refused:
        deploy(db, xml.encode(), "guest_portal.bpmn", actor=owner)
    assert problem in str(refused.value.fields) + refused.value.message


def guest(db, case_id) -> LinkGrant:
    """The guest, through the link the engine made for the case's tasks (property linkTo)."""
    with db.read() as session:
        row = session.scalars(select(CaseLink).where(CaseLink.case_id == case_id)).one()
        return LinkGrant(id=row.id, case_id=case_id, tasks=tuple(row.tasks), name=row.name, email=row.email,
                         expires_at=row.expires_at, language=row.language)
