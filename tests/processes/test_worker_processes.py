"""The installed ``amflow worker`` as real processes on one database: two at once, and one killed mid-pass.

The database is prepared in this process (migrations, users, tests/processes/bpmn/timer_escalation.bpmn,
cases started at T0 with a FixedClock), then handed to ``amflow worker --once --now T0+25h``: every case's
reminder timer (24 hours) is due, its escalation timer (three days) is not.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from processes import Database, FixedClock, create_user, deploy, send_pending, start_case
from processes.store.models import AuditEvent, CaseTimer, Notification, TaskRecord

BPMN = Path(__file__).parent / "bpmn" / "timer_escalation.bpmn"
AMFLOW = Path(sys.executable).parent / "amflow"
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
REMINDERS_DUE = T0 + dt.timedelta(hours=25)
ESCALATION_DUE = T0 + dt.timedelta(days=3)
AMKS_WITH_MAIL = ("karl", "kim")
WORKER_TIMEOUT_SECONDS = 60
FIRED = re.compile(r"timers fired=(\d+) retried=(\d+) incidents=(\d+)")


def prepare_database(url: str, cases: int) -> list[str]:
    """Migrate, add Kemi's AMKs (two with an address, one without), deploy, start ``cases`` cases at T0."""
    db = Database(url)
    try:
        db.upgrade()
        owner = create_user(db, "owner", password="owner-password", groups=["process-owners"], units=[])
        starter = None
        for username in AMKS_WITH_MAIL:
            starter = create_user(db, username, password=f"{username}-password", email=f"{username}@example.dtu.dk",
                                  groups=["amk"], units=["kemi"])
        create_user(db, "nora", password="nora-password", groups=["amk"], units=["kemi"])
        deploy(db, BPMN.read_bytes(), BPMN.name, actor=owner)
        clock = FixedClock(T0)
        ids = [start_case(db, process="timer_escalation", unit="kemi", data={}, actor=starter, clock=clock).id
               for _ in range(cases)]
        # the "new task" mails of the start are out of the way (logged), so the workers send only reminders
        while send_pending(db, smtp_url=None, clock=clock, limit=1_000).logged:
            pass
    finally:
        db.dispose()
    return ids


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def finish(self) -> tuple[int, int, int]:
        """Wait for a clean exit; (fired, retried, incidents) as the worker printed them."""
        try:
            code = self.process.wait(timeout=WORKER_TIMEOUT_SECONDS)
        finally:
            self.stop()
        assert code == 0, self.stderr.read_text(encoding="utf-8")[-3000:]
        printed = FIRED.search(self.stdout.read_text(encoding="utf-8"))
        assert printed, self.stdout.read_text(encoding="utf-8")
        fired, retried, incidents = (int(group) for group in printed.groups())
        return fired, retried, incidents

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def start_worker(
    directory: Path, database: str, *, name: str, smtp_url: str | None = None, **settings: str,
) -> WorkerProcess:
    """``amflow worker --once --now T0+25h`` with its own environment (``AMFLOW_<settings>`` too); output to files."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AMFLOW_")}
    env |= {
        "AMFLOW_DATABASE_URL": database,
        "AMFLOW_INSTANCE_PATH": str(directory / "instance"),
        "AMFLOW_SECRET_KEY": "worker-test-secret-key-0123456789",
        "AMFLOW_LOG_LEVEL": "WARNING",
    }
    if smtp_url is not None:
        env["AMFLOW_SMTP_URL"] = smtp_url
    env |= {f"AMFLOW_{key}": value for key, value in settings.items()}
    stdout, stderr = directory / f"{name}.out", directory / f"{name}.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [str(AMFLOW), "worker", "--once", "--now", REMINDERS_DUE.isoformat()], env=env, stdout=out, stderr=err,
        )
    return WorkerProcess(process, stdout, stderr)


def timer_fired_per_case(db: Database) -> Counter[str]:
    with db.read() as session:
        return Counter(session.scalars(select(AuditEvent.case_id).where(AuditEvent.kind == "timer_fired")))


def reminder_rows(db: Database) -> list[Notification]:
    with db.read() as session:
        return list(session.scalars(select(Notification).where(Notification.template == "task_reminder")))


def assert_every_reminder_fired_once(db: Database, case_ids: list[str]) -> list[Notification]:
    """One timer_fired per case, one reminder row per AMK per case, each case waiting for its escalation."""
    assert timer_fired_per_case(db) == Counter(case_ids)
    rows = reminder_rows(db)
    per_recipient = Counter((row.case_id, row.recipient_user) for row in rows)
    assert per_recipient == Counter({(case_id, amk): 1 for case_id in case_ids for amk in AMKS_WITH_MAIL})
    with db.read() as session:
        wakeups = session.execute(select(CaseTimer.status, CaseTimer.due_at, func.count())
                                  .group_by(CaseTimer.status, CaseTimer.due_at)).all()
        assert wakeups == [("scheduled", ESCALATION_DUE, len(case_ids))]
        open_tasks = session.execute(select(TaskRecord.name, TaskRecord.status, func.count())
                                     .group_by(TaskRecord.name, TaskRecord.status)).all()
        assert open_tasks == [("handle", "ready", len(case_ids))]
    return rows


def test_two_workers_at_once_fire_each_reminder_once_and_deliver_each_mail_once(
    tmp_path, make_database_url, smtp_server):
    database = make_database_url("worker")
    case_ids = prepare_database(database, 60)

    workers = [start_worker(tmp_path, database, name=f"worker{n}", smtp_url=smtp_server.url) for n in (1, 2)]
    results = [worker.finish() for worker in workers]

    assert sum(fired for fired, _, _ in results) == len(case_ids), results
    assert all((retried, incidents) == (0, 0) for _, retried, incidents in results)
    db = Database(database)
    try:
        rows = assert_every_reminder_fired_once(db, case_ids)
    finally:
        db.dispose()
    assert {row.status for row in rows} == {"sent"}
    arrived = Counter(mail.message_id for mail in smtp_server.received)
    assert arrived == Counter({row.message_id: 1 for row in rows})
    addresses = {row.message_id: row.to_address for row in rows}
    assert all(mail.to == addresses[mail.message_id] for mail in smtp_server.received)


def count_fired(db: Database) -> int:
    with db.read() as session:
        return session.execute(select(func.count()).select_from(AuditEvent)
                               .where(AuditEvent.kind == "timer_fired")).scalar_one()


def test_a_worker_killed_mid_pass_loses_no_timer_and_the_next_run_fires_each_remaining_one_once(
    tmp_path, make_database_url
):
    database = make_database_url("worker")
    case_ids = prepare_database(database, 300)

    worker = start_worker(tmp_path, database, name="killed")
    watcher = Database(database)
    try:
        deadline = time.monotonic() + WORKER_TIMEOUT_SECONDS
        while count_fired(watcher) == 0:
            assert worker.process.poll() is None, worker.stderr.read_text(encoding="utf-8")[-3000:]
            assert time.monotonic() < deadline, "the worker fired nothing"
            time.sleep(0.005)  # waiting for the other process, not for time to pass
        os.kill(worker.process.pid, signal.SIGKILL)
        assert worker.process.wait(timeout=WORKER_TIMEOUT_SECONDS) == -signal.SIGKILL
        fired_before_the_kill = count_fired(watcher)
    finally:
        watcher.dispose()
        worker.stop()
    assert 0 < fired_before_the_kill < len(case_ids), "the worker was not killed in the middle of its pass"

    fired, retried, incidents = start_worker(tmp_path, database, name="rerun").finish()

    assert (fired, retried, incidents) == (len(case_ids) - fired_before_the_kill, 0, 0)
    db = Database(database)
    try:
        assert_every_reminder_fired_once(db, case_ids)
        with db.read() as session:
            assert session.execute(select(func.count()).select_from(AuditEvent)
                                   .where(AuditEvent.kind == "timer_retry")).scalar_one() == 0
        if db.is_sqlite:
            with db.read() as session:
                assert session.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
    finally:
        db.dispose()



# --- Bugs found while writing these tests (they fail until the worker command is fixed) ------------------------

def test_one_worker_run_with_once_delivers_every_mail_that_is_due(
    tmp_path, make_database_url, smtp_server):
    """`--once` is "process what is due now, then exit" (the replay of a day), but a pass sends at most 100
    messages (run_pass calls send_pending with its default limit): 60 cases x 2 AMKs = 120 reminders."""
    database = make_database_url("worker")
    case_ids = prepare_database(database, 60)

    start_worker(tmp_path, database, name="worker", smtp_url=smtp_server.url).finish()

    db = Database(database)
    try:
        rows = reminder_rows(db)
    finally:
        db.dispose()
    assert len(rows) == 2 * len(case_ids)
    assert Counter(row.status for row in rows) == {"sent": len(rows)}
    assert len(smtp_server.received) == len(rows)


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [("SMTP_URL", "http://mail.example.dtu.dk", "SMTP"), ("WORKER_INTERVAL", "0", "AMFLOW_WORKER_INTERVAL")],
)
def test_a_bad_setting_stops_the_worker_with_a_message_before_any_timer_fires(
    tmp_path, make_database_url, setting, value, named):
    """Settings are validated at start-up (STYLE.md 13). Today a bad AMFLOW_SMTP_URL is only noticed by
    send_pending, after the timers fired (and in the loop: every pass), and a ConfigError from `worker`'s own
    load_config() call escapes as a traceback (the other commands print `Error: ...`)."""
    database = make_database_url("worker")
    prepare_database(database, 3)

    worker = start_worker(tmp_path, database, name="worker", **{setting: value})
    code = worker.process.wait(timeout=WORKER_TIMEOUT_SECONDS)
    worker.stop()

    stderr = worker.stderr.read_text(encoding="utf-8")
    assert code != 0
    assert named in stderr
    assert "Traceback" not in stderr, stderr[-2000:]
    db = Database(database)
    try:
        assert timer_fired_per_case(db) == Counter()
    finally:
        db.dispose()
