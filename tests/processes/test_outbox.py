"""The e-mail outbox on a real SQLite file and a real SMTP server on loopback (aiosmtpd).

Time only moves when a test moves the FixedClock; nothing sleeps.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import socket
import threading
import uuid
from pathlib import Path

import pytest
from jinja2 import UndefinedError
from sqlalchemy import event, select

from processes import Database, FixedClock, SendReport, SmtpSettings, create_user, send_pending
from processes.notify import mailer, outbox
from processes.notify.outbox import queue
from processes.store.models import AuditEvent, Case, Notification, ProcessVersion, User
from tests.processes.smtp import SmtpServer

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
CONTEXT = {
    "case_id": "case-1", "process": "lone_work_approval", "process_name": "Godkendelse af alenearbejde",
    "unit": "kemi", "task_title": "Vurdér risikoen", "data": {"applicant_name": "Anna", "hazards": ["chemicals"]},
}
TEMPLATES = (
    "task_assigned", "task_reminder", "task_escalated", "lone_work_registered", "lone_work_rejected",
    "lone_work_not_approved", "lone_work_approved", "lone_work_expiry_reminder", "lone_work_expired",
    "precursor_reminder", "precursor_escalated",
    "lone_work_check_in_missed",
    "task_link", "contractor_portal", "contractor_contact_appointed", "contractor_incident_reported",
    "lone_work_revoked", "psych_accident_closed", "psych_accident_deadline_today", "link_renewed",
    "comment_added",
)
NOTHING = SendReport(sent=0, logged=0, retried=0, failed=0)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def case_id(db: Database) -> str:
    """A case row to hang audit events on (written directly: these tests are about mail, not the engine)."""
    with db.write() as session:
        version = ProcessVersion(key="mail_test", version=1, name="Mail test", filename="mail_test.bpmn",
                                 bpmn_xml="<definitions/>", checksum="0" * 64)
        session.add(version)
        session.flush()
        case = Case(id=str(uuid.uuid4()), process_version_id=version.id, process_key="mail_test", unit="kemi",
                    status="running", data={}, state="{}", serializer_version="1")
        session.add(case)
    return case.id


def person(db: Database, username: str, *, groups: list[str], units: list[str], email: str | None = "",
           language: str = "da") -> str:
    create_user(db, username, password=None, name=username.title(), groups=groups, units=units,  # no hashing: fast
                email=f"{username}@dtu.dk" if email == "" else email, language=language)
    return username


def queue_mail(db: Database, *, template: str = "task_assigned", unit: str | None = "kemi",
               case_id: str | None = None, now: dt.datetime = NOW, context: dict | None = None, **recipients) -> int:
    with db.write() as session:
        return queue(session, case_id=case_id, unit=unit, template=template, context=context or CONTEXT, now=now,
                     **recipients)


def notifications(db: Database) -> list[Notification]:
    with db.read() as session:
        return list(session.scalars(select(Notification).order_by(Notification.id)))


def audit_events(db: Database, case_id: str, kind: str) -> list[dict]:
    with db.read() as session:
        query = select(AuditEvent.detail).where(AuditEvent.case_id == case_id, AuditEvent.kind == kind)
        return list(session.scalars(query.order_by(AuditEvent.id)))


def recipients_of(db: Database) -> list[str]:
    return sorted(row.recipient_user for row in notifications(db))


# --- Who is told -------------------------------------------------------------------------------------------

def test_a_group_message_goes_to_the_group_members_in_the_unit_and_not_to_those_of_another_unit(db):
    person(db, "karin", groups=["amk"], units=["kemi"])
    person(db, "erik", groups=["amk"], units=["energi"])
    person(db, "lars", groups=["leaders"], units=["kemi"])
    assert queue_mail(db, recipient_group="amk", unit="kemi") == 1
    assert recipients_of(db) == ["karin"]
    [row] = notifications(db)
    assert (row.to_address, row.recipient_group, row.unit) == ("karin@dtu.dk", "amk", "kemi")


def test_a_central_group_is_told_whatever_units_its_members_belong_to(db):
    person(db, "carl", groups=["arbejdsmiljo"], units=[])
    person(db, "cecilie", groups=["arbejdsmiljo"], units=["energi"])
    person(db, "karin", groups=["amk"], units=["kemi"])
    assert queue_mail(db, recipient_group="arbejdsmiljo", unit="kemi") == 2
    assert recipients_of(db) == ["carl", "cecilie"]


def test_a_user_addressed_both_by_name_and_through_a_group_gets_one_message(db):
    person(db, "karin", groups=["amk"], units=["kemi"])
    person(db, "kim", groups=["amk"], units=["kemi"])
    assert queue_mail(db, recipient_user="karin", recipient_group="amk") == 2
    assert recipients_of(db) == ["karin", "kim"]


def test_inactive_users_are_not_told(db):
    person(db, "karin", groups=["amk"], units=["kemi"])
    person(db, "kim", groups=["amk"], units=["kemi"])
    with db.write() as session:
        session.scalars(select(User).where(User.username == "kim")).one().active = False
    assert queue_mail(db, recipient_group="amk") == 1
    assert recipients_of(db) == ["karin"]


def test_each_recipient_gets_the_message_in_their_own_language(db):
    person(db, "karin", groups=["amk"], units=["kemi"], language="da")
    person(db, "kim", groups=["amk"], units=["kemi"], language="en")
    queue_mail(db, recipient_group="amk")
    karin, kim = notifications(db)
    assert (karin.language, karin.subject) == ("da", "Ny opgave til din gruppe: Vurdér risikoen (DTU Kemi)")
    assert (kim.language, kim.subject) == ("en", "New task for your group: Vurdér risikoen (DTU Kemi)")
    assert karin.body.startswith("Hej Karin\n") and "Opgave: Vurdér risikoen" in karin.body
    assert kim.body.startswith("Hello Kim\n") and "Task: Vurdér risikoen" in kim.body


def test_a_task_for_one_person_says_it_is_for_them_and_not_for_their_group(db):
    person(db, "anna", groups=["employees"], units=["kemi"])
    queue_mail(db, recipient_user="anna")
    [row] = notifications(db)
    assert row.subject.startswith("Ny opgave til dig:")
    assert row.recipient_group is None


def test_a_recipient_without_an_email_address_gets_no_row_but_an_audit_event(db, case_id):
    person(db, "karin", groups=["amk"], units=["kemi"])
    person(db, "nina", groups=["amk"], units=["kemi"], email=None)
    assert queue_mail(db, recipient_group="amk", case_id=case_id) == 1
    assert recipients_of(db) == ["karin"]
    assert audit_events(db, case_id, "notification_skipped") == [
        {"user": "nina", "template": "task_assigned", "reason": "no e-mail address"},
    ]


def test_a_message_that_reaches_nobody_is_audited_rather_than_lost(db, case_id):
    person(db, "erik", groups=["amk"], units=["energi"])
    assert queue_mail(db, recipient_group="amk", unit="kemi", case_id=case_id) == 0
    assert queue_mail(db, recipient_user="ghost", case_id=case_id) == 0
    assert queue_mail(db, recipient_user=None, case_id=case_id) == 0  # e.g. "the starter" of a system case
    assert [event["reason"] for event in audit_events(db, case_id, "notification_skipped")] == [
        "no active member of the group in the unit", "unknown or inactive user", "no recipient given",
    ]
    assert notifications(db) == []


def test_queueing_is_part_of_the_callers_transaction_and_rolls_back_with_it(db):
    person(db, "karin", groups=["amk"], units=["kemi"])
    with pytest.raises(RuntimeError, match="the step failed"), db.write() as session:
        queue(session, case_id=None, unit="kemi", template="task_assigned", recipient_group="amk",
              context=CONTEXT, now=NOW)
        raise RuntimeError("the step failed")
    assert notifications(db) == []


def test_queueing_runs_the_same_few_queries_however_many_recipients_there_are(db):
    def selects_to_queue_for(unit: str) -> int:
        statements: list[str] = []

        def count(_conn, _cursor, statement, *_args) -> None:
            statements.append(statement)

        event.listen(db.write_engine, "before_cursor_execute", count)
        try:
            queue_mail(db, recipient_group="amk", unit=unit)
        finally:
            event.remove(db.write_engine, "before_cursor_execute", count)
        return sum(statement.lstrip().upper().startswith("SELECT") for statement in statements)

    person(db, "karin", groups=["amk"], units=["kemi"])
    for number in range(8):
        person(db, f"amk{number}", groups=["amk"], units=["energi"])
    assert selects_to_queue_for("kemi") == selects_to_queue_for("energi") == 1


def test_a_queued_row_is_pending_and_due_now_with_its_own_message_id_and_a_small_data_summary(db):
    person(db, "karin", groups=["amk"], units=["kemi"])
    queue_mail(db, recipient_group="amk")
    queue_mail(db, recipient_group="amk")
    first, second = notifications(db)
    assert (first.status, first.attempts, first.next_attempt_at, first.created_at) == ("pending", 0, NOW, NOW)
    assert re.fullmatch(r"<amflow-[0-9a-f]{32}@amflow\.local>", first.message_id)
    assert first.message_id != second.message_id
    assert first.data == {key: value for key, value in CONTEXT.items() if key != "data"}


def test_an_unknown_template_is_refused_with_its_name(db):
    person(db, "karin", groups=["amk"], units=["kemi"])
    with pytest.raises(ValueError, match="unknown e-mail template 'no_such_mail'"):
        queue_mail(db, template="no_such_mail", recipient_group="amk")
    with pytest.raises(ValueError, match="invalid e-mail template name"):
        queue_mail(db, template="../secrets", recipient_group="amk")


def test_a_subject_stays_on_one_line_whatever_the_case_data_holds(db):
    person(db, "lars", groups=["leaders"], units=["kemi"])
    context = {**CONTEXT, "data": {"applicant_name": "Anna\r\nBcc: everyone@example.com"}}
    queue_mail(db, template="lone_work_registered", recipient_group="leaders", context=context)
    [row] = notifications(db)
    assert row.subject == "Alenearbejde registreret: Anna Bcc: everyone@example.com (DTU Kemi)"


# --- Templates ---------------------------------------------------------------------------------------------

MINIMAL_CONTEXT = {"case_id": "case-7", "process": "p", "process_name": "P", "unit": "kemi", "data": {},
                   "unit_name": "DTU Kemi", "recipient_name": "Karin", "recipient_group": "amk",
                   # what the engine adds to a mailed link's context (user-task property linkTo)
                   "task_title": "T", "link_url": "https://amflow.example/link/x", "link_expires_at": NOW.isoformat()}


@pytest.mark.parametrize("language", ["da", "en"])
@pytest.mark.parametrize("template", TEMPLATES)
def test_every_template_exists_and_renders_in_both_languages_with_a_minimal_context(template, language):
    assert (Path(outbox.__file__).parent / "mail" / f"{template}.{language}.txt").is_file()
    used, subject, body = outbox.render(template, language, MINIMAL_CONTEXT)
    assert used == language
    assert subject and "\n" not in subject
    assert "case-7" in body
    assert "Karin" in body


def test_the_shipped_templates_are_exactly_the_known_ones():
    assert outbox.template_names() == sorted(TEMPLATES)


def test_every_template_a_shipped_diagram_names_has_a_danish_and_an_english_text():
    bpmn = Path(outbox.__file__).parents[2] / "bpmn"
    named = set()
    for path in bpmn.glob("*.bpmn"):
        text = path.read_text(encoding="utf-8")
        named |= set(re.findall(r'id="template" type="str" value="\'([a-z0-9_]+)\'"', text))
        named |= set(re.findall(r'name="linkTemplate" value="([a-z0-9_]+)"', text))
    assert len(named) > 10
    folder = Path(outbox.__file__).parent / "mail"
    missing = sorted(f"{name}.{language}" for name in named for language in ("da", "en")
                     if not (folder / f"{name}.{language}.txt").is_file())
    assert missing == []
    assert named <= set(TEMPLATES)


def test_the_lone_work_decisions_tell_the_applicant_what_the_case_data_says():
    context = {**MINIMAL_CONTEXT, "data": {"valid_until": "2027-06-30", "conditions": "Kun i stinkskab.",
                                           "reason": "Der mangler en alarm."}}
    _, subject, body = outbox.render("lone_work_approved", "da", context)
    assert subject == "Alenearbejde godkendt til og med 2027-06-30"
    assert "Kun i stinkskab." in body
    _, _, body = outbox.render("lone_work_not_approved", "en", context)
    assert "Reason: Der mangler en alarm." in body
    _, _, body = outbox.render("lone_work_rejected", "da", context)
    assert "BEK 1839/2023 § 11, stk. 1" in body


def test_a_due_time_is_shown_in_danish_time():
    context = {**MINIMAL_CONTEXT, "task_title": "Vurdér risikoen", "due_at": "2026-11-24T13:00:00+00:00"}
    _, _, body = outbox.render("task_reminder", "da", context)
    assert "Frist: 2026-11-24 14:00" in body


def test_a_template_typo_fails_loudly():
    with pytest.raises(UndefinedError):
        outbox.render("task_assigned", "da", {"data": {}})


def test_an_english_recipient_gets_the_danish_text_when_no_english_template_exists(tmp_path, monkeypatch):
    (tmp_path / "only_danish.da.txt").write_text("Subject: Hej {{ recipient_name }}\n\nKun på dansk.\n")
    monkeypatch.setattr(outbox, "_template_folder", lambda: tmp_path)
    outbox._compiled.cache_clear()
    try:
        assert outbox.render("only_danish", "en", MINIMAL_CONTEXT) == ("da", "Hej Karin", "Kun på dansk.\n")
    finally:
        outbox._compiled.cache_clear()


# --- Sending over SMTP -------------------------------------------------------------------------------------

def test_a_message_arrives_exactly_once_and_is_marked_sent(db, clock, smtp_server):
    person(db, "karin", groups=["amk"], units=["kemi"])
    queue_mail(db, recipient_group="amk")
    clock.advance(dt.timedelta(seconds=30))
    assert send_pending(db, smtp_url=smtp_server.url, clock=clock) == SendReport(sent=1, logged=0, retried=0,
                                                                                  failed=0)
    assert send_pending(db, smtp_url=smtp_server.url, clock=clock) == NOTHING
    [mail] = smtp_server.received
    assert mail.rcpt_tos == ("karin@dtu.dk",)
    assert mail.mail_from == "amflow@localhost"
    [row] = notifications(db)
    assert (row.status, row.sent_at, row.attempts, row.lease_until) == ("sent", clock.now(), 0, None)


def test_the_message_carries_the_stored_message_id_subject_body_and_language(db, clock, smtp_server):
    person(db, "karin", groups=["amk"], units=["kemi"])
    queue_mail(db, template="task_reminder", recipient_group="amk")
    send_pending(db, smtp_url=smtp_server.url, clock=clock, sender="amflow@dtu.dk")
    [row] = notifications(db)
    [mail] = smtp_server.received
    assert mail.message_id == row.message_id
    assert mail.subject == row.subject == "Påmindelse: Vurdér risikoen venter stadig (DTU Kemi)"
    assert mail.body == row.body
    assert (mail.to, mail.message["From"], mail.message["Content-Language"]) == (
        "karin@dtu.dk", "amflow@dtu.dk", "da")
    assert mail.message["Auto-Submitted"] == "auto-generated"
    assert mail.message.get_content_charset() == "utf-8"


def test_a_temporary_failure_is_retried_only_when_the_clock_reaches_the_backoff_and_then_arrives_once(
    db, clock, smtp_server,
):
    person(db, "karin", groups=["amk"], units=["kemi"])
    queue_mail(db, recipient_group="amk")
    smtp_server.fail_next(2)
    assert send_pending(db, smtp_url=smtp_server.url, clock=clock).retried == 1
    [row] = notifications(db)
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 1, NOW + dt.timedelta(minutes=2))
    assert row.last_error == "451 4.3.0 Try again later"

    clock.advance(dt.timedelta(minutes=1, seconds=59))
    assert send_pending(db, smtp_url=smtp_server.url, clock=clock) == NOTHING
    clock.advance(dt.timedelta(seconds=1))
    assert send_pending(db, smtp_url=smtp_server.url, clock=clock).retried == 1
    [row] = notifications(db)
    assert (row.attempts, row.next_attempt_at) == (2, clock.now() + dt.timedelta(minutes=4))

    clock.advance(dt.timedelta(minutes=4))
    assert send_pending(db, smtp_url=smtp_server.url, clock=clock).sent == 1
    clock.advance(dt.timedelta(days=1))
    assert send_pending(db, smtp_url=smtp_server.url, clock=clock) == NOTHING
    assert len(smtp_server.received) == 1
    assert notifications(db)[0].status == "sent"


def test_a_message_that_keeps_failing_is_marked_failed_after_max_attempts_and_audited(
    db, clock, smtp_server, case_id,
):
    person(db, "karin", groups=["amk"], units=["kemi"])
    queue_mail(db, recipient_group="amk", case_id=case_id)
    smtp_server.fail_next(10, reply="550 5.1.1 Mailbox unavailable")
    reports = []
    for _ in range(3):
        reports.append(send_pending(db, smtp_url=smtp_server.url, clock=clock, max_attempts=3))
        clock.advance(dt.timedelta(hours=1))
    assert reports == [SendReport(0, 0, 1, 0), SendReport(0, 0, 1, 0), SendReport(0, 0, 0, 1)]
    assert send_pending(db, smtp_url=smtp_server.url, clock=clock) == NOTHING
    [row] = notifications(db)
    assert (row.status, row.attempts, row.sent_at) == ("failed", 3, None)
    assert audit_events(db, case_id, "notification_failed") == [{
        "notification": row.id, "template": "task_assigned", "to": "karin@dtu.dk", "attempts": 3,
        "error": "550 5.1.1 Mailbox unavailable",
    }]
    assert smtp_server.received == []


def test_a_server_that_hangs_up_with_421_is_called_again_for_the_next_message_of_the_batch(db, clock, smtp_server):
    person(db, "karin", groups=["amk"], units=["kemi"])
    person(db, "kim", groups=["amk"], units=["kemi"])
    queue_mail(db, recipient_group="amk")
    smtp_server.fail_next(1, reply="421 4.3.2 Service shutting down")
    assert send_pending(db, smtp_url=smtp_server.url, clock=clock) == SendReport(sent=1, logged=0, retried=1,
                                                                                  failed=0)
    assert [mail.to for mail in smtp_server.received] == ["kim@dtu.dk"]


def test_a_server_that_cannot_be_reached_is_a_temporary_failure_for_the_whole_batch(db, clock):
    person(db, "karin", groups=["amk"], units=["kemi"])
    person(db, "kim", groups=["amk"], units=["kemi"])
    queue_mail(db, recipient_group="amk")
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    report = send_pending(db, smtp_url=f"smtp://127.0.0.1:{port}", clock=clock)
    assert report == SendReport(sent=0, logged=0, retried=2, failed=0)
    assert all(row.status == "pending" and row.last_error.startswith("cannot reach 127.0.0.1")
               for row in notifications(db))


def test_credentials_in_the_smtp_url_are_used_to_log_in(db, clock):
    person(db, "karin", groups=["amk"], units=["kemi"])
    queue_mail(db, recipient_group="amk")
    with SmtpServer(credentials=("amflow", "s3cret:/@")) as server:
        assert send_pending(db, smtp_url=server.url, clock=clock).sent == 1
        assert [mail.login for mail in server.received] == ["amflow"]


def test_without_an_smtp_url_messages_are_written_to_the_log_and_marked_logged(db, clock, caplog):
    person(db, "karin", groups=["amk"], units=["kemi"])
    queue_mail(db, recipient_group="amk")
    caplog.set_level(logging.INFO, logger="amflow.mail")
    assert send_pending(db, smtp_url=None, clock=clock) == SendReport(sent=0, logged=1, retried=0, failed=0)
    assert send_pending(db, smtp_url="", clock=clock) == NOTHING
    [record] = [record for record in caplog.records if record.name == "amflow.mail"]
    [row] = notifications(db)
    assert record.levelno == logging.INFO
    assert "karin@dtu.dk" in record.getMessage()
    assert row.subject in record.getMessage() and row.body in record.getMessage()
    assert (row.status, row.sent_at) == ("logged", NOW)


def test_a_message_left_sending_by_a_dead_sender_is_claimed_again_when_its_lease_runs_out(
    db, clock, smtp_server,
):
    person(db, "karin", groups=["amk"], units=["kemi"])
    queue_mail(db, recipient_group="amk")
    with db.write() as session:  # a sender claimed it, then died before it could send
        row = session.scalars(select(Notification)).one()
        row.status, row.lease_until = "sending", NOW + mailer.LEASE
    assert send_pending(db, smtp_url=smtp_server.url, clock=clock) == NOTHING
    clock.advance(mailer.LEASE)
    assert send_pending(db, smtp_url=smtp_server.url, clock=clock) == NOTHING  # the lease runs until then
    clock.advance(dt.timedelta(seconds=1))
    assert send_pending(db, smtp_url=smtp_server.url, clock=clock).sent == 1
    assert len(smtp_server.received) == 1
    assert notifications(db)[0].status == "sent"


def test_two_senders_running_at_the_same_time_deliver_every_message_once(db, clock, smtp_server):
    for number in range(20):
        person(db, f"amk{number}", groups=["amk"], units=["kemi"])
    queue_mail(db, recipient_group="amk")
    queue_mail(db, recipient_group="amk")
    start = threading.Barrier(2)
    reports: list[SendReport] = []
    errors: list[BaseException] = []

    def sender() -> None:
        own = Database(db.url)  # its own engine and connections, as a second worker process would have
        try:
            start.wait()
            while (report := send_pending(own, smtp_url=smtp_server.url, clock=clock, limit=3)) != NOTHING:
                reports.append(report)
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)
        finally:
            own.dispose()

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    received = [mail.message_id for mail in smtp_server.received]
    assert len(received) == len(set(received)) == 40
    assert sorted(received) == sorted(row.message_id for row in notifications(db))
    assert sum(report.sent for report in reports) == 40
    assert {row.status for row in notifications(db)} == {"sent"}


# --- The SMTP URL ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "expected"), [
    ("smtp://mail.dtu.dk", SmtpSettings(host="mail.dtu.dk", port=25)),
    ("smtp://127.0.0.1:2525", SmtpSettings(host="127.0.0.1", port=2525)),
    ("smtp://amflow:p%40ss@mail.dtu.dk:25",
     SmtpSettings(host="mail.dtu.dk", port=25, username="amflow", password="p@ss")),
    ("smtp+starttls://amflow:pw@smtp.office365.com",
     SmtpSettings(host="smtp.office365.com", port=587, username="amflow", password="pw", starttls=True)),
    ("smtps://mail.dtu.dk", SmtpSettings(host="mail.dtu.dk", port=465, implicit_tls=True)),
])
def test_smtp_urls_name_host_port_credentials_and_tls(url, expected):
    assert SmtpSettings.from_url(url) == expected


@pytest.mark.parametrize("url", ["http://mail.dtu.dk", "smtp://", "mail.dtu.dk:25"])
def test_a_malformed_smtp_url_is_refused_before_anything_is_claimed(db, clock, url):
    person(db, "karin", groups=["amk"], units=["kemi"])
    queue_mail(db, recipient_group="amk")
    with pytest.raises(ValueError, match="SMTP URL"):
        send_pending(db, smtp_url=url, clock=clock)
    assert notifications(db)[0].status == "pending"
