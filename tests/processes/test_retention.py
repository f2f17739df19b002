"""Erasing a closed case's personal data after its process's retention period (processes/retention.py,
issue #14), through the real engine, database and worker with a moved clock.

The psychological work-accident process declares ``personalData`` (names, free text) and ``retention`` =
the parameter ``psych_accident.retention`` (P5Y). A near-miss closed on 3 July 2026 10:00 UTC keeps its data
until 3 July 2031 10:00 UTC; the worker's pass at that instant erases it once, and the statistics still count it.
"""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from sqlalchemy import func, select

from processes import (
    CaseFilter,
    Database,
    FixedClock,
    add_attachment,
    add_comment,
    case_history,
    complete_task,
    create_user,
    erase_expired,
    get_case,
    list_cases,
    process_statistics,
    run_pass,
    start_case,
)
from processes.advance import restored_workflow
from processes.engine import runtime
from processes.engine.timers import before
from processes.store.models import Attachment, AuditEvent, Case, Comment, DecisionRecord

UTC = dt.UTC
FREE_TEXT = "A threatening note on the door of lab 227"
NEAR_MISS = {"reporter_role": "witness", "personal_injury": False, "near_miss": True, "event_type": "threat_written",
             "what_happened": FREE_TEXT, "where": "Building 207, lab 227", "witnesses": "Bo Vidne",
             "injury_date": "2026-07-02"}
REVIEW = {"potential_severity": "medium", "assessment": "Lock the door; talk to Bo Vidne"}
CLOSED_AT = dt.datetime(2026, 7, 3, 10, 0, tzinfo=UTC)


def at(moment: dt.datetime) -> FixedClock:
    return FixedClock(moment)


@pytest.fixture
def db(bundled_db):
    """Every shipped diagram deployed (tests/processes/conftest.py's bundled_db)."""
    return bundled_db


@pytest.fixture
def people(db):
    return {name: create_user(db, name, password=None, groups=groups, units=units, email=f"{name}@example.dtu.dk")
            for name, groups, units in (("eva", ["employees"], ["kemi"]), ("rita", ["amr"], ["kemi"]),
                                        ("karl", ["amk"], ["kemi"]))}


@pytest.fixture
def closed_case(db, people):
    case = start_case(db, process="psych_accident_report", unit="kemi", data=NEAR_MISS, actor=people["eva"],
                      clock=at(dt.datetime(2026, 7, 2, 12, tzinfo=UTC)))
    add_comment(db, case.id, body="Bo Vidne saw who did it", actor=people["eva"])
    add_attachment(db, case.id, filename="door.txt", content_type="text/plain", content=b"photo of the note",
                   actor=people["eva"])
    [review] = case.tasks
    case = complete_task(db, review.id, data=REVIEW, actor=people["rita"], clock=at(CLOSED_AT))
    assert case.status == "completed"
    return case.id


def _everything_stored(db: Database, case_id: str) -> str:
    """The case's rows as text: data, run state, history details, decisions' facts, comments."""
    with db.read() as session:
        case = session.get(Case, case_id)
        assert case is not None
        parts = [json.dumps(case.data), case.state, case.title, case.title_en, case.summary, case.badge,
                 case.search_text or ""]  # what lists and search show
        events = session.scalars(select(AuditEvent).where(AuditEvent.case_id == case_id))
        parts += [json.dumps(event.detail) for event in events]
        parts += [json.dumps(d.facts) for d in session.scalars(select(DecisionRecord)
                                                               .where(DecisionRecord.case_id == case_id))]
        parts += list(session.scalars(select(Comment.body).where(Comment.case_id == case_id)))
    return "\n".join(parts)


def _found_by_search(db: Database, actor, words: str) -> set[str]:
    return {row.id for row in list_cases(db, actor=actor, filters=CaseFilter(scope="mine", q=words)).cases}


def _erasures(db: Database, case_id: str) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.case_id == case_id, AuditEvent.kind == "personal_data_erased")) or 0


def test_the_worker_erases_the_personal_data_at_the_end_of_the_period_once_and_the_statistics_stay(
    db, people, closed_case, smtp_server,
):
    stored = _everything_stored(db, closed_case)
    assert FREE_TEXT in stored and "Bo Vidne" in stored and "Lock the door" in stored
    assert _found_by_search(db, people["eva"], "threatening") == {closed_case}

    one_second_early = CLOSED_AT.replace(year=2031) - dt.timedelta(seconds=1)
    assert run_pass(db, clock=at(one_second_early), smtp_url=smtp_server.url).erasures.erased == 0
    assert FREE_TEXT in _everything_stored(db, closed_case)

    assert run_pass(db, clock=at(CLOSED_AT.replace(year=2031)), smtp_url=smtp_server.url).erasures.erased == 1

    stored = _everything_stored(db, closed_case)
    for personal in (FREE_TEXT, "Building 207", "Bo Vidne", "Lock the door", "Bo Vidne saw who did it"):
        assert personal not in stored, stored[max(0, stored.find(personal) - 300):stored.find(personal) + 50]
    case = get_case(db, closed_case, actor=people["eva"])
    assert "what_happened" not in case.data and "where" not in case.data and "assessment" not in case.data
    assert case.data["event_type"] == "threat_written"  # a counted code, not personal data
    assert case.data["classification"]["track"] == "near_miss"
    with db.read() as session, restored_workflow(session, session.get(Case, closed_case), at(CLOSED_AT)) as flow:
        restored = runtime.case_data(flow)  # the run state still restores, without the erased fields
        assert restored["event_type"] == "threat_written" and "what_happened" not in restored
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Attachment)
                              .where(Attachment.case_id == closed_case)) == 0
        assert list(session.scalars(select(Comment.body).where(Comment.case_id == closed_case))) == [""]
        erasure = session.scalars(select(AuditEvent).where(AuditEvent.case_id == closed_case,
                                                           AuditEvent.kind == "personal_data_erased")).one()
    assert erasure.actor is None
    assert set(erasure.detail["fields"]) == {"what_happened", "where", "witnesses", "assessment"}
    assert (erasure.detail["comments"], erasure.detail["attachments"], erasure.detail["retention"]) == (1, 1, "P5Y")
    assert _found_by_search(db, people["eva"], "threatening") == set()  # erased words are not found either
    history = case_history(db, closed_case, actor=people["eva"])
    assert "personal_data_erased" in [entry.kind for entry in history.entries]

    later = at(CLOSED_AT.replace(year=2032))
    assert run_pass(db, clock=later, smtp_url=smtp_server.url).erasures.erased == 0  # idempotent
    assert _erasures(db, closed_case) == 1

    view = process_statistics(db, "psych_accident_report", actor=people["karl"], unit="kemi", clock=later)
    [kemi] = view.units
    assert kemi.cases == 1
    assert kemi.by["event_type"] == {"threat_written": 1}
    assert kemi.by["classification.track"] == {"near_miss": 1}


def test_a_running_case_keeps_its_data_however_old(db, people):
    running = start_case(db, process="psych_accident_report", unit="kemi", data=NEAR_MISS, actor=people["eva"],
                         clock=at(dt.datetime(2026, 7, 2, 12, tzinfo=UTC)))

    assert erase_expired(db, clock=at(dt.datetime(2040, 1, 1, tzinfo=UTC))).erased == 0

    assert get_case(db, running.id, actor=people["eva"]).data["what_happened"] == FREE_TEXT


def test_two_workers_at_the_same_moment_erase_the_case_exactly_once(db, people, closed_case):
    second = Database(db.url)  # another worker: its own engine and connections
    barrier = threading.Barrier(2)
    erased: list[int] = []
    moment = at(CLOSED_AT.replace(year=2031, month=8))

    def worker(database: Database) -> None:
        barrier.wait()
        erased.append(erase_expired(database, clock=moment).erased)

    threads = [threading.Thread(target=worker, args=(database,)) for database in (db, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    second.dispose()

    assert sorted(erased) == [0, 1]
    assert _erasures(db, closed_case) == 1


@pytest.mark.parametrize(("moment", "duration", "expected"), [
    ("2031-07-03T10:00:00+00:00", "P5Y", "2026-07-03T10:00:00+00:00"),
    ("2031-03-31T10:00:00+00:00", "P1M", "2031-02-28T10:00:00+00:00"),  # no 31 February: the month's last day
    ("2032-02-29T00:00:00+00:00", "P1Y", "2031-02-28T00:00:00+00:00"),
    ("2031-01-20T00:00:00+00:00", "P2M3DT1H", "2030-11-16T23:00:00+00:00"),
])
def test_a_retention_period_is_counted_back_on_the_calendar(moment, duration, expected):
    assert before(dt.datetime.fromisoformat(moment), duration) == dt.datetime.fromisoformat(expected)


def test_a_retention_period_that_is_not_a_duration_is_refused():
    with pytest.raises(ValueError, match="not an ISO-8601 duration"):
        before(dt.datetime(2031, 1, 1, tzinfo=UTC), "five years")
