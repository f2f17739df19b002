"""Cases started by time (#12 item 5): a yearly timer start fires once per occurrence, across workers and replays."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from processes import (
    CaseStatus,
    Database,
    FixedClock,
    complete_task,
    create_user,
    deploy,
    errors,
    fire_due_starts,
    get_case,
    run_pass,
    start_case,
)
from processes.store.models import AuditEvent, Case, ProcessSchedule, ScheduledStart

from .conftest import BPMN_DIR

YEARLY = BPMN_DIR / "yearly_campaign.bpmn"
AMFLOW = Path(sys.executable).parent / "amflow"
WORKER_TIMEOUT_SECONDS = 60
MARCH_1_2030 = dt.datetime(2030, 2, 28, 23, 0, tzinfo=dt.UTC)  # 00:00 in Copenhagen (+01:00)


def moment(year: int, month: int, day: int, hour: int = 12) -> FixedClock:
    return FixedClock(dt.datetime(year, month, day, hour, tzinfo=dt.UTC))


def started_cases(db: Database) -> list[tuple[dt.datetime, str | None, str, str | None]]:
    """(occurrence, case's starter, unit, process) of every case started by time, oldest first."""
    with db.read() as session:
        rows = session.execute(
            select(ScheduledStart.occurrence_at, Case.started_by, Case.unit, Case.process_key)
            .join(Case, Case.id == ScheduledStart.case_id).order_by(ScheduledStart.occurrence_at)).all()
    return [tuple(row) for row in rows]


@pytest.fixture
def yearly(db: Database, owner) -> str:
    deploy(db, YEARLY.read_bytes(), YEARLY.name, actor=owner)
    return "yearly_campaign"


def test_a_yearly_timer_start_starts_one_case_per_year_as_the_system_for_the_unit_of_the_model(db, yearly):
    assert fire_due_starts(db, clock=moment(2030, 2, 28)).started == 0  # before the first occurrence

    assert fire_due_starts(db, clock=moment(2030, 3, 1)).started == 1
    assert fire_due_starts(db, clock=moment(2030, 3, 1)).started == 0  # the same day again: nothing
    assert fire_due_starts(db, clock=moment(2030, 12, 31)).started == 0
    assert fire_due_starts(db, clock=moment(2031, 3, 2)).started == 1

    assert started_cases(db) == [
        (MARCH_1_2030, None, "kemi", yearly),
        (MARCH_1_2030.replace(year=2031), None, "kemi", yearly),
    ]
    with db.read() as session:
        case_ids = list(session.scalars(select(ScheduledStart.case_id)))
        assert session.get(ProcessSchedule, yearly).next_at == MARCH_1_2030.replace(year=2032)
        fired = session.scalars(select(AuditEvent.detail).where(AuditEvent.kind == "timer_fired")).all()
        assert [detail["start"] for detail in fired] == ["2030-02-28T23:00:00+00:00", "2031-02-28T23:00:00+00:00"]
    amk = create_user(db, "kim", password="kim-password", groups=["amk"], units=["kemi"])
    for case_id in case_ids:  # started now, not waiting for the next 1 March: the task is there
        tasks = get_case(db, case_id, actor=amk).tasks
        assert [task.name for task in tasks] == ["check"]
        assert complete_task(db, tasks[0].id, data={"note": "checked"}, actor=amk).status == CaseStatus.COMPLETED


def test_occurrences_missed_while_no_worker_ran_are_each_started_once_on_the_next_pass(db, yearly):
    assert fire_due_starts(db, clock=moment(2033, 6, 1)).started == 4  # 2030, 2031, 2032 and 2033
    assert fire_due_starts(db, clock=moment(2033, 6, 1)).started == 0

    assert [row[0].year for row in started_cases(db)] == [2030, 2031, 2032, 2033]
    assert all(row[0].month == 2 and row[0].day == 28 and row[0].hour == 23 for row in started_cases(db))


def test_a_campaign_is_started_by_hand_only_by_a_permitted_group(db, yearly, anna, owner):
    with pytest.raises(errors.Forbidden):
        start_case(db, process=yearly, unit="kemi", data={}, actor=anna)

    boss = create_user(db, "boss", password="boss-password", groups=["process-owners"], units=["kemi"])
    case = start_case(db, process=yearly, unit="kemi", data={}, actor=boss, clock=moment(2026, 12, 1))

    assert [task.name for task in case.tasks] == ["check"]  # by hand it starts now, whatever the timer says
    assert fire_due_starts(db, clock=moment(2026, 12, 1)).started == 0


def test_a_timer_start_event_must_name_the_unit_of_its_cases(db, owner):
    xml = YEARLY.read_bytes().replace(b'<spiffworkflow:property name="unit" value="kemi"/>', b"")

    with pytest.raises(errors.InvalidModel) as refused:
        deploy(db, xml, YEARLY.name, actor=owner)

    assert "unit" in refused.value.message and refused.value.element == "start"


def test_the_worker_pass_starts_the_cases_due(db, yearly):
    result = run_pass(db, clock=moment(2030, 3, 1), smtp_url=None)

    assert result.starts.started == 1


# --- two real worker processes on one database ---------------------------------------------------------------

def run_workers(tmp_path: Path, database: str, now: str, count: int) -> list[str]:
    """``count`` times ``amflow worker --once --now NOW`` at the same time; their outputs."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AMFLOW_")}
    env |= {"AMFLOW_DATABASE_URL": database, "AMFLOW_INSTANCE_PATH": str(tmp_path / "instance"),
            "AMFLOW_SECRET_KEY": "worker-test-secret-key-0123456789", "AMFLOW_LOG_LEVEL": "WARNING"}
    workers = [subprocess.Popen([str(AMFLOW), "worker", "--once", "--now", now], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(count)]
    outputs = []
    for worker in workers:
        out, err = worker.communicate(timeout=WORKER_TIMEOUT_SECONDS)
        assert worker.returncode == 0, err.decode()[-3000:]
        outputs.append(out.decode())
    return outputs


def test_two_worker_processes_start_each_yearly_occurrence_exactly_once_over_a_moved_clock(
        tmp_path, make_database_url):
    database = make_database_url("starts")
    db = Database(database)
    try:
        db.upgrade()
        owner = create_user(db, "owner", password="owner-password", groups=["process-owners"], units=[])
        deploy(db, YEARLY.read_bytes(), YEARLY.name, actor=owner)
    finally:
        db.dispose()

    first = run_workers(tmp_path, database, "2030-03-01T08:00:00+01:00", 2)
    again = run_workers(tmp_path, database, "2030-03-01T09:00:00+01:00", 2)  # a replay of the same day
    next_year = run_workers(tmp_path, database, "2031-03-01T08:00:00+01:00", 2)

    started = [sum(int(out.split("cases started=")[1].split()[0]) for out in outs)
               for outs in (first, again, next_year)]
    assert started == [1, 0, 1]
    db = Database(database)
    try:
        assert [(row[0].year, row[1], row[2]) for row in started_cases(db)] == [(2030, None, "kemi"),
                                                                              (2031, None, "kemi")]
    finally:
        db.dispose()
