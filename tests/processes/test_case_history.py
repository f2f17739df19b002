"""A step returns the case with its recent history, not all of it; older events are read page by page.

A long case (note_loop: a user task, a script and a gateway, round after round) writes four events a
round. Every step used to read and return all of them, so a step's cost grew with the case's age.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from processes import (
    HIDDEN_KINDS,
    MAX_HISTORY_PAGE,
    RECENT_HISTORY,
    Database,
    case_history,
    complete_task,
    create_user,
    get_case,
    start_case,
)
from processes.errors import Forbidden, InvalidData, NotFound
from processes.store.audit import history
from processes.store.models import AuditEvent, DecisionRecord
from processes.views import CaseView, HistoryEntry, UserView

ROUNDS = 30  # four events a round: well past two pages of RECENT_HISTORY


def _loop(db: Database, actor: UserView, rounds: int) -> CaseView:
    case = start_case(db, process="note_loop", unit="kemi", data={}, actor=actor)
    for number in range(rounds):
        case = complete_task(db, case.tasks[0].id, data={"note": f"round {number}"}, actor=actor)
    return case


def _everything(db: Database, case_id: str) -> list[HistoryEntry]:
    with db.read() as session:
        return history(session, case_id)[0]


def _all_pages(db: Database, case_id: str, actor: UserView, limit: int, **options: bool) -> list[HistoryEntry]:
    pages, cursor = [], None
    while True:
        page = case_history(db, case_id, actor=actor, before=cursor, limit=limit, **options)
        assert len(page.entries) <= limit
        pages.append(page.entries)
        cursor = page.next_cursor
        if cursor is None:
            return [entry for entries in reversed(pages) for entry in entries]


def test_a_step_returns_the_newest_events_and_a_cursor_to_the_older_ones(db, anna, note_loop):
    case = _loop(db, anna, ROUNDS)
    everything = _everything(db, case.id)

    assert len(everything) > 2 * RECENT_HISTORY
    assert case.history == everything[-RECENT_HISTORY:]  # the newest, oldest first, as before
    assert case.history[-1].kind in ("task_created", "notification_queued", "notification_skipped")
    assert case.history_next_cursor is not None
    assert get_case(db, case.id, actor=anna).history == everything[-RECENT_HISTORY:]


def test_paging_back_from_the_cursor_reads_every_event_once_in_order(db, anna, note_loop):
    case = _loop(db, anna, ROUNDS)
    everything = _everything(db, case.id)

    older = case_history(db, case.id, actor=anna, before=case.history_next_cursor, limit=30)
    assert older.entries == everything[-RECENT_HISTORY - 30:-RECENT_HISTORY]
    assert _all_pages(db, case.id, anna, limit=7) == everything
    assert _all_pages(db, case.id, anna, limit=MAX_HISTORY_PAGE) == everything
    assert everything[0].kind == "case_started"
    with db.read() as session:
        assert len(everything) == session.scalar(select(func.count()).where(AuditEvent.case_id == case.id))


def test_a_short_case_carries_its_whole_history_as_before(db, anna, note_loop):
    case = _loop(db, anna, 2)

    assert case.history == _everything(db, case.id)
    assert case.history_next_cursor is None
    assert case_history(db, case.id, actor=anna).next_cursor is None


def test_the_pages_can_leave_out_the_engines_bookkeeping(db, anna, note_loop):
    case = _loop(db, anna, ROUNDS)
    shown = [entry for entry in _everything(db, case.id) if entry.kind not in HIDDEN_KINDS]

    newest = case_history(db, case.id, actor=anna, hide_bookkeeping=True)

    assert newest.entries == shown[-RECENT_HISTORY:]
    assert _all_pages(db, case.id, anna, limit=11, hide_bookkeeping=True) == shown


def test_only_readers_of_the_case_read_its_history(db, anna, emil, note_loop):
    case = _loop(db, anna, 1)

    with pytest.raises(Forbidden):
        case_history(db, case.id, actor=emil)
    with pytest.raises(NotFound):
        case_history(db, "no-such-case", actor=anna)


@pytest.mark.parametrize(("before", "limit", "field"), [
    ("abc", 10, "before"), ("-5", 10, "before"), ("0", 10, "before"), ("1" * 19, 10, "before"),
    (None, 0, "limit"), (None, MAX_HISTORY_PAGE + 1, "limit"),
])
def test_a_bad_cursor_or_limit_is_refused_naming_it(db, anna, note_loop, before, limit, field):
    case = _loop(db, anna, 1)

    with pytest.raises(InvalidData) as refused:
        case_history(db, case.id, actor=anna, before=before, limit=limit)

    assert set(refused.value.fields) == {field}


def test_a_case_carries_its_newest_decisions_not_all_of_them(db, anna, note_loop):
    case = _loop(db, anna, 1)
    at = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    with db.write() as session:  # a case that loops through a business-rule task takes one decision a round
        for number in range(60):
            session.add(DecisionRecord(case_id=case.id, task="decide", ruleset="lone_work",
                                       decision={"round": number}, fired=[], parameters={},
                                       on=at.date(), at=at + dt.timedelta(minutes=number)))

    case = complete_task(db, case.tasks[0].id, data={"note": "again"}, actor=anna)

    assert [decision.decision["round"] for decision in case.decisions] == list(range(10, 60))


def test_a_reader_with_a_task_in_the_case_pages_its_history(db, anna, note_loop):
    karl = create_user(db, "karl-reader", password="karl-password", groups=["employees"], units=["kemi"])
    case = _loop(db, anna, ROUNDS)

    assert _all_pages(db, case.id, karl, limit=50) == _everything(db, case.id)
