"""Cases started by time (#12 item 5): a yearly timer start fires once per occurrence, across workers and replays."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from processes import (
    CaseStatus,
    Database,
    FixedClock,
    bundleedits,
    complete_task,
    create_user,
    deploy,
    errors,
    fire_due_starts,
    get_case,
    run_pass,
    start_case,
)
from processes.starts import MAX_SKIPPED_LISTED
from processes.store.models import AuditEvent, Case, ProcessSchedule, ProcessVersion, ScheduledStart

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


def audit_details(db: Database, kind: str) -> list[dict]:
    with db.read() as session:
        return list(session.scalars(select(AuditEvent.detail).where(AuditEvent.kind == kind).order_by(AuditEvent.id)))


def test_occurrences_missed_while_no_worker_ran_start_one_case_for_the_latest_and_the_rest_are_skipped(db, yearly):
    assert fire_due_starts(db, clock=moment(2033, 6, 1)).started == 1  # 2030, 2031 and 2032 skipped
    assert fire_due_starts(db, clock=moment(2033, 6, 1)).started == 0

    assert [row[0] for row in started_cases(db)] == [MARCH_1_2030.replace(year=2033)]
    skipped = [MARCH_1_2030.replace(year=year).isoformat() for year in (2030, 2031, 2032)]
    (event,) = audit_details(db, "timer_starts_skipped")
    assert event["skipped"] == skipped and event["skipped_count"] == 3
    (fired,) = audit_details(db, "timer_fired")
    assert fired["start"] == MARCH_1_2030.replace(year=2033).isoformat() and fired["skipped"] == skipped
    assert next_start(db) == MARCH_1_2030.replace(year=2034)

    assert fire_due_starts(db, clock=moment(2034, 3, 1)).started == 1  # on time again: nothing skipped
    assert len(audit_details(db, "timer_starts_skipped")) == 1
    assert "skipped" not in audit_details(db, "timer_fired")[-1]


def test_a_short_cycle_missed_many_times_starts_once_counts_every_skip_and_names_the_first_ones(db, owner):
    xml = YEARLY.read_bytes().replace(b'"R/2030-03-01T00:00:00+01:00/P1Y"', b'"R/2030-03-01T00:00:00+01:00/PT1H"')
    deploy(db, xml, YEARLY.name, actor=owner)

    clock = FixedClock(MARCH_1_2030 + dt.timedelta(days=10, minutes=30))  # 240 hourly occurrences due
    assert fire_due_starts(db, clock=clock).started == 1

    assert [row[0] for row in started_cases(db)] == [MARCH_1_2030 + dt.timedelta(days=10)]
    (event,) = audit_details(db, "timer_starts_skipped")
    assert event["skipped_count"] == 240
    assert len(event["skipped"]) == MAX_SKIPPED_LISTED
    assert event["skipped"][0] == MARCH_1_2030.isoformat()
    assert next_start(db) == MARCH_1_2030 + dt.timedelta(days=10, hours=1)


def test_a_timer_start_with_one_occurrence_is_started_late_and_skips_nothing(db, owner):
    xml = (YEARLY.read_bytes().replace(b"<bpmn:timeCycle>", b"<bpmn:timeDate>")
           .replace(b"</bpmn:timeCycle>", b"</bpmn:timeDate>")
           .replace(b'"R/2030-03-01T00:00:00+01:00/P1Y"', b'"2030-03-01T00:00:00+01:00"'))
    deploy(db, xml, YEARLY.name, actor=owner)

    assert fire_due_starts(db, clock=moment(2033, 6, 1)).started == 1

    assert [row[0] for row in started_cases(db)] == [MARCH_1_2030]
    assert audit_details(db, "timer_starts_skipped") == []
    assert next_start(db) is None


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


def yearly_database(database: str) -> str:
    """A migrated database with the yearly timer-start process deployed, for worker processes to run on."""
    db = Database(database)
    try:
        db.upgrade()
        owner = create_user(db, "owner", password="owner-password", groups=["process-owners"], units=[])
        deploy(db, YEARLY.read_bytes(), YEARLY.name, actor=owner)
    finally:
        db.dispose()
    return database


def test_two_worker_processes_start_each_yearly_occurrence_exactly_once_over_a_moved_clock(
        tmp_path, make_database_url):
    database = yearly_database(make_database_url("starts"))

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


def test_after_a_three_year_outage_the_restarted_worker_starts_one_case_records_the_skips_and_schedules_the_next(
        tmp_path, make_database_url):
    database = yearly_database(make_database_url("outage"))

    before = run_workers(tmp_path, database, "2030-03-01T08:00:00+01:00", 1)
    after = run_workers(tmp_path, database, "2033-06-01T08:00:00+02:00", 1)  # down from 2 March 2030 till now
    again = run_workers(tmp_path, database, "2033-06-01T09:00:00+02:00", 1)

    assert [int(out[0].split("cases started=")[1].split()[0]) for out in (before, after, again)] == [1, 1, 0]
    db = Database(database)
    try:
        assert [row[0].year for row in started_cases(db)] == [2030, 2033]
        (skip,) = audit_details(db, "timer_starts_skipped")
        assert skip["skipped"] == [MARCH_1_2030.replace(year=2031).isoformat(),
                                   MARCH_1_2030.replace(year=2032).isoformat()]
        with db.read() as session:
            assert session.get(ProcessSchedule, "yearly_campaign").next_at == MARCH_1_2030.replace(year=2034)
            skipped_on = session.scalar(select(AuditEvent.case_id).where(AuditEvent.kind == "timer_starts_skipped"))
            started_2033 = session.scalar(select(ScheduledStart.case_id).where(
                ScheduledStart.occurrence_at == MARCH_1_2030.replace(year=2033)))
        assert skipped_on == started_2033  # in the history of the case that was started
    finally:
        db.dispose()


# --- a timer start's date from an effective-dated parameter (issue #16) ----------------------------------------

FROM_PARAMETER = YEARLY.read_bytes().replace(
    b'"R/2030-03-01T00:00:00+01:00/P1Y"', b"param('precursor.campaign_start')")


def copenhagen_midnight(year: int, month: int, day: int) -> dt.datetime:
    return dt.datetime(year, month, day, tzinfo=ZoneInfo("Europe/Copenhagen")).astimezone(dt.UTC)


def next_start(db: Database) -> dt.datetime | None:
    with db.read() as session:
        found = session.get(ProcessSchedule, "yearly_campaign").next_at
    return found.astimezone(dt.UTC) if found else None


def deployed_on(db: Database, day: dt.datetime) -> None:
    """Every version of the campaign as if deployed on ``day`` (deploy takes the real time): the schedule
    starts from there, whenever the suite runs."""
    with db.write() as session:
        session.execute(update(ProcessVersion).where(ProcessVersion.key == "yearly_campaign").values(deployed_at=day))


def add_value(db: Database, owner, value: str, valid_from: str, day: dt.datetime) -> None:
    """A process owner adds a dated value of the parameter in the modeler (a new version) on ``day``."""
    bundleedits.add_parameter_value(db, owner, "yearly_campaign", "precursor.campaign_start", value=value,
                                valid_from=valid_from, note="the campaign's date")
    deployed_on(db, day)


@pytest.fixture
def from_parameter(db: Database, owner) -> str:
    """The yearly campaign whose timer is ``param('precursor.campaign_start')`` (shipped: ``--03-01``),
    deployed on 30 November 2039."""
    deploy(db, FROM_PARAMETER, YEARLY.name, actor=owner)
    deployed_on(db, dt.datetime(2039, 11, 30, tzinfo=dt.UTC))
    return "yearly_campaign"


def test_a_new_value_of_the_parameter_moves_the_next_start_and_one_case_a_year_stays(db, from_parameter, owner):
    assert fire_due_starts(db, clock=moment(2040, 1, 10)).started == 0
    assert next_start(db) == copenhagen_midnight(2040, 3, 1)  # the shipped --03-01

    add_value(db, owner, "--04-15", "2040-01-01", moment(2040, 1, 10).now())

    assert fire_due_starts(db, clock=moment(2040, 3, 1)).started == 0
    assert next_start(db) == copenhagen_midnight(2040, 4, 15)
    assert fire_due_starts(db, clock=moment(2040, 4, 15)).started == 1
    assert next_start(db) == copenhagen_midnight(2041, 4, 15)

    add_value(db, owner, "--06-01", "2040-01-01", moment(2040, 5, 1).now())  # after this year's start
    assert fire_due_starts(db, clock=moment(2040, 6, 2)).started == 0  # 2040 has its campaign already
    assert next_start(db) == copenhagen_midnight(2041, 6, 1)
    assert [row[0] for row in started_cases(db)] == [copenhagen_midnight(2040, 4, 15)]


def test_a_value_dated_later_moves_the_start_when_it_comes_into_force_without_a_new_deploy(db, from_parameter,
                                                                                          owner):
    add_value(db, owner, "--05-01", "2041-01-01", moment(2039, 12, 1).now())

    assert fire_due_starts(db, clock=moment(2040, 3, 1)).started == 1  # 2040: still 1 March
    assert next_start(db) == copenhagen_midnight(2041, 3, 1)  # what is in force on 1 March 2040
    assert fire_due_starts(db, clock=moment(2041, 1, 2)).started == 0
    assert next_start(db) == copenhagen_midnight(2041, 5, 1)  # scheduled again with the values of 2041
    assert fire_due_starts(db, clock=moment(2041, 3, 1)).started == 0
    assert fire_due_starts(db, clock=moment(2041, 5, 1)).started == 1
    assert [row[0] for row in started_cases(db)] == [copenhagen_midnight(2040, 3, 1), copenhagen_midnight(2041, 5, 1)]


@pytest.mark.parametrize(("expression", "words"), [
    (b"param('no.such_parameter')", "no.such_parameter"),
    (b"param('precursor.unit_deadline')", "06-15"),  # a value, but not a timer
    (b"'--02-29'", "--02-29"),  # not every year has the day
    (b"__import__('os')", "timer start start"),
])
def test_a_timer_start_expression_that_gives_no_timer_is_refused_at_deploy(db, owner, expression, words):
    xml = FROM_PARAMETER.replace(b"param('precursor.campaign_start')", expression)

    with pytest.raises(errors.InvalidModel) as refused:
        deploy(db, xml, YEARLY.name, actor=owner)

    assert words in refused.value.message
