"""Cases started by time: a process whose start event is a timer is started by the worker at each occurrence.

``process_schedules`` holds one row per process key with the next occurrence of its newest version's timer
start (``R/2027-03-01T00:00:00+01:00/P1Y``: every 1 March). The worker first brings the rows in step with
the newest versions, then claims due rows like the case wake-ups (SQLite: the ``BEGIN IMMEDIATE`` write
lock; PostgreSQL: ``FOR UPDATE SKIP LOCKED``) and, in ONE transaction, writes the occurrence to
``scheduled_starts`` (unique per process and occurrence), starts the case and moves the row on to the next
occurrence. So an occurrence starts exactly one case across workers and restarts: a worker that dies
mid-way rolls back and the occurrence is still due; one that replays a past day (``--now``) starts what was
due then and nothing twice.

**Catching up after an outage.** When no worker ran over several occurrences (a campaign every 1 March,
the worker down for three years), the next pass starts ONE case, for the latest occurrence due, not one per
missed occurrence: a recurring start is about the present, and a pile of stale campaigns helps nobody. The
earlier occurrences are skipped: the started case's history says which (``timer_starts_skipped``, also on
its ``timer_fired`` event), the worker logs a warning, and the schedule moves on to the occurrence after
the one started. A timer with one occurrence (a date, a duration) is started late as it was.

A case started so has no starter (the system) and the unit its start event names (property ``unit``).

**A timer from a parameter.** The timer's expression may read the version's effective-dated parameters
(``param('precursor.campaign_start')``) and ``today()``; it is evaluated in the sandbox at deploy and at
each scheduling, with the values in force on the scheduling day (Copenhagen). A timer whose expression is
more than a quoted text (``TimerStart.dynamic``) is scheduled again at every pass, so a value that comes
into force later (a new dated entry, or a new version from the modeler) moves the next start from that
day on. A yearly date ``--MM-DD`` starts one case each calendar year: moving the date after this year's
case started waits for next year.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from processes import bundles
from processes.advance import new_case
from processes.clock import LOCAL_ZONE, SYSTEM_CLOCK, Clock
from processes.deployments import SPEC_CACHE
from processes.engine import events, runtime
from processes.errors import ProcessError
from processes.store.audit import AuditKind, record
from processes.store.db import Database, unit_of_work
from processes.store.models import ProcessSchedule, ProcessVersion, ScheduledStart

logger = logging.getLogger("amflow.worker")

MAX_STARTS_PER_PASS = 1_000
MAX_OCCURRENCES_SCANNED = 100_000
MAX_SKIPPED_LISTED = 100  # the history names at most this many skipped occurrences (all are counted)


@dataclass(frozen=True)
class StartPass:
    """What one pass over the timer starts did."""

    started: int = 0
    failed: int = 0


def _next_occurrence(timer: events.TimerStart, origin: dt.datetime, after: dt.datetime | None) -> dt.datetime | None:
    """The first occurrence at or after ``origin`` and strictly after ``after`` (the last one started); for
    a yearly date, in a later calendar year than ``after``."""
    after_year = after.astimezone(LOCAL_ZONE).year if after is not None and timer.yearly else None
    for index, moment in enumerate(events.occurrences(timer, origin)):
        if index > MAX_OCCURRENCES_SCANNED:
            return None
        if moment >= origin and (after is None or moment > after) and (
                after_year is None or moment.astimezone(LOCAL_ZONE).year > after_year):
            return moment
    return None


@dataclass(frozen=True)
class _CatchUp:
    """The occurrence to start now, and the due ones before it that are skipped."""

    start: dt.datetime
    skipped: tuple[dt.datetime, ...] = ()  # the first MAX_SKIPPED_LISTED, oldest first
    skipped_count: int = 0


def _catch_up(timer: events.TimerStart, origin: dt.datetime, due: dt.datetime, now: dt.datetime) -> _CatchUp:
    """From the due occurrence ``due`` on, the latest occurrence at or before ``now`` (one per calendar year
    for a yearly date) is the one started; the due ones before it are skipped."""
    start, skipped, count = due, [], 0
    for index, moment in enumerate(events.occurrences(timer, origin)):
        if index > MAX_OCCURRENCES_SCANNED or moment > now:
            break
        if moment <= start or (timer.yearly and moment.astimezone(LOCAL_ZONE).year
                               <= start.astimezone(LOCAL_ZONE).year):
            continue
        if count < MAX_SKIPPED_LISTED:
            skipped.append(start)
        count += 1
        start = moment
    return _CatchUp(start, tuple(skipped), count)


def _timer_of(session: Session, version_id: int, clock: Clock) -> events.TimerStart | None:
    """The version's timer start evaluated with its parameters in force today (None if it has none)."""
    timer = events.timer_start_of(SPEC_CACHE.get(session, version_id).parsed.spec)
    if timer is None:
        return None
    today = runtime.now_utc(clock).astimezone(LOCAL_ZONE).date()
    return events.evaluated(timer, events.timer_functions(bundles.for_version(session, version_id), today))


def _last_started(session: Session, key: str) -> dt.datetime | None:
    last = session.scalar(select(func.max(ScheduledStart.occurrence_at)).where(ScheduledStart.process_key == key))
    if isinstance(last, str):  # SQLite hands an aggregate back as text
        last = dt.datetime.fromisoformat(last)
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=dt.UTC)
    return last


def _same_moment(a: dt.datetime | None, b: dt.datetime | None) -> bool:
    if a is None or b is None:
        return a is b
    return (a if a.tzinfo else a.replace(tzinfo=dt.UTC)) == (b if b.tzinfo else b.replace(tzinfo=dt.UTC))


def sync_schedules(db: Database, clock: Clock = SYSTEM_CLOCK) -> None:
    """Give each process's newest version its schedule row (the next occurrence of its timer start, if any),
    and schedule again each timer that reads parameters (its next occurrence with today's values)."""
    with db.read() as session:
        newest = dict(session.execute(
            select(ProcessVersion.key, func.max(ProcessVersion.id)).group_by(ProcessVersion.key)).all())
        known = {key: (version_id, next_at) for key, version_id, next_at in session.execute(
            select(ProcessSchedule.process_key, ProcessSchedule.process_version_id, ProcessSchedule.next_at))}
        moved = {key: version_id for key, version_id in newest.items()
                 if key in known and known[key][0] == version_id and _moved(session, key, version_id, clock,
                                                                            known[key][1])}
    for key, version_id in newest.items():
        if known.get(key, (None, None))[0] == version_id and key not in moved:
            continue
        try:
            with db.write() as session:
                _sync_one(session, key, version_id, clock, again=key in moved)
        except IntegrityError:
            continue  # another worker wrote the row at the same moment: theirs is the same
        except ProcessError as exc:  # the timer's expression fails with today's parameters: kept on the row
            logger.warning("timer start of %s cannot be scheduled: %s", key, exc.message)
            with db.write() as session:
                row = session.get(ProcessSchedule, key)
                if row is not None:
                    row.last_error = exc.message


def _moved(session: Session, key: str, version_id: int, clock: Clock, next_at: dt.datetime | None) -> bool:
    """Whether a timer that reads parameters falls on another moment with today's values."""
    timer = events.timer_start_of(SPEC_CACHE.get(session, version_id).parsed.spec)
    if timer is None or not timer.dynamic:
        return False
    try:
        evaluated = _timer_of(session, version_id, clock)
    except ProcessError:
        return False  # the pass that starts it records the error on the row
    assert evaluated is not None
    version = session.get(ProcessVersion, version_id)
    assert version is not None
    return not _same_moment(_next_occurrence(evaluated, version.deployed_at, _last_started(session, key)), next_at)


def _sync_one(session: Session, key: str, version_id: int, clock: Clock, *, again: bool = False) -> None:
    row = session.get(ProcessSchedule, key)
    if row is not None and row.process_version_id == version_id and not again:
        return
    version = session.get(ProcessVersion, version_id)
    assert version is not None
    next_at = None
    timer = _timer_of(session, version_id, clock)
    if timer is not None:
        next_at = _next_occurrence(timer, version.deployed_at, _last_started(session, key))
    if row is None:
        session.add(ProcessSchedule(process_key=key, process_version_id=version_id, next_at=next_at))
    else:
        row.process_version_id, row.next_at, row.last_error = version_id, next_at, None
    session.flush()


def _claim_due(session: Session, db: Database, now: dt.datetime, skip: set[str]) -> ProcessSchedule | None:
    query = (select(ProcessSchedule).where(ProcessSchedule.next_at.is_not(None), ProcessSchedule.next_at <= now)
             .order_by(ProcessSchedule.next_at).limit(1))
    if skip:
        query = query.where(ProcessSchedule.process_key.not_in(skip))
    if not db.is_sqlite:
        query = query.with_for_update(skip_locked=True)
    return session.scalar(query)


def _start_one(db: Database, clock: Clock, skip: set[str]) -> str | None:
    """Start the case of the earliest due process (its latest due occurrence, the missed ones before it
    skipped); its process key, or None when nothing is due."""
    now = runtime.now_utc(clock)
    with unit_of_work(db) as session:
        row = _claim_due(session, db, now, skip)
        if row is None:
            return None
        key, due = row.process_key, row.next_at
        assert due is not None
        try:
            timer = _timer_of(session, row.process_version_id, clock)
            if timer is None:
                row.next_at = None
                return key
            version = session.get(ProcessVersion, row.process_version_id)
            assert version is not None
            catch_up = _catch_up(timer, version.deployed_at, due, now)
            occurrence = catch_up.start
            session.add(ScheduledStart(process_key=key, occurrence_at=occurrence))
            session.flush()  # the unique occurrence first: a second start of it fails here, before any case
            case = new_case(session, process=key, unit=timer.properties["unit"], data={}, starter=None, clock=clock)
            session.flush()
            session.execute(update(ScheduledStart)
                            .where(ScheduledStart.process_key == key, ScheduledStart.occurrence_at == occurrence)
                            .values(case_id=case.id))
            fired: dict[str, object] = {"start": occurrence.isoformat(), "element": timer.element}
            if catch_up.skipped_count:
                skipped = {"skipped": [moment.isoformat() for moment in catch_up.skipped],
                           "skipped_count": catch_up.skipped_count}
                fired |= skipped
                record(session, case_id=case.id, actor=None, kind=AuditKind.TIMER_STARTS_SKIPPED, at=now,
                       detail={"start": occurrence.isoformat(), "element": timer.element} | skipped)
                logger.warning("timer start of %s: %d missed occurrence(s) from %s on skipped; started the one of %s",
                               key, catch_up.skipped_count, catch_up.skipped[0].isoformat(), occurrence.isoformat())
            record(session, case_id=case.id, actor=None, kind=AuditKind.TIMER_FIRED, at=now, detail=fired)
            row.next_at = _next_occurrence(timer, version.deployed_at, occurrence)
            row.last_error = None
        except (ProcessError, IntegrityError) as exc:
            raise _StartFailed(key, exc) from exc
    return key


class _StartFailed(Exception):
    def __init__(self, key: str, error: BaseException) -> None:
        super().__init__(f"process {key}: {error}")
        self.key = key
        self.error = error


def fire_due_starts(db: Database, *, clock: Clock, limit: int = MAX_STARTS_PER_PASS) -> StartPass:
    """Start a case for every occurrence due at ``clock.now()`` (at most ``limit``), each in its own transaction."""
    sync_schedules(db, clock)
    started = failed = 0
    failing: set[str] = set()
    for _ in range(limit):
        try:
            key = _start_one(db, clock, failing)
        except _StartFailed as failure:
            logger.warning("timer start of %s failed: %s", failure.key, failure.error)
            message = getattr(failure.error, "message", None) or f"{type(failure.error).__name__}: {failure.error}"
            with db.write() as session:
                row = session.get(ProcessSchedule, failure.key)
                if row is not None:
                    row.last_error = message
            failing.add(failure.key)
            failed += 1
            continue
        if key is None:
            break
        started += 1
    return StartPass(started=started, failed=failed)
