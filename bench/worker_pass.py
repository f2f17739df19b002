"""The timer worker's cost per pass against the number of open cases that have nothing due (engine only, SQLite).

For each N, a database holds N waiting cases (half of tests/processes/bpmn/timer_escalation.bpmn with their
timers a year ahead, half of tests/processes/bpmn/note_loop.bpmn without timers, each waiting on a user task)
plus a fixed set of batches of DUE cases of timer_escalation (20 cases whose reminder is due, per batch).
The bulk is made fast: one case of each process is started through the engine, then its rows (case, task,
audit events, wake-up) are copied with SQL under fresh ids. The worker only ever reads the wake-up table
(``case_timers``), and that is what the copies fill.

Timed: ``fire_due_timers`` with nothing due (an idle pass, the worker's normal state) and with one batch of
20 due (each batch is fired once, at its own instant). Rounds alternate between the databases, medians are
printed, and every figure is also given as a ratio to N=0 from the same run (the machine is shared and noisy).
Finally the ``EXPLAIN QUERY PLAN`` of the claim query the worker really sent, to show the index it uses.

    .venv/bin/python bench/worker_pass.py                 # N = 0, 1,000, 10,000
    .venv/bin/python bench/worker_pass.py --sizes 0,100000
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import sqlite3
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import event, func, select, text

from processes import Database, FixedClock, TimerPass, create_user, deploy, fire_due_timers, start_case
from processes.store.models import CaseTimer

BPMN_DIR = Path(__file__).resolve().parents[1] / "tests" / "processes" / "bpmn"
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
REMIND_AFTER = dt.timedelta(hours=24)
BATCH_SPACING = dt.timedelta(hours=1)  # batch r starts at T0 + r hours, so its reminders fall due one by one
IDLE_AT = T0 + dt.timedelta(hours=12)  # nothing is due yet
FAR_AHEAD = dt.timedelta(days=365)

CASE_COLUMNS = ("process_version_id", "process_key", "unit", "status", "data", "state", "serializer_version",
                "revision", "started_by", "created_at", "updated_at", "completed_at")
TASK_COLUMNS = ("process_key", "name", "title", '"group"', "unit", "assignee", "status", "form", "due_at",
                "created_at", "completed_at", "completed_by")


@dataclass
class Bench:
    """One database of the run, and what was measured on it."""

    waiting: int
    db: Database
    idle: list[float] = field(default_factory=list)
    due: list[float] = field(default_factory=list)
    idle_statements: int = 0
    claim: tuple[str, tuple[object, ...]] | None = None


def _clone(db: Database, template_id: str, copies: int) -> None:
    """Copy a case's rows ``copies`` times under fresh ids, in one transaction."""
    if copies == 0:
        return
    columns = ", ".join(CASE_COLUMNS)
    task_columns = ", ".join(TASK_COLUMNS)
    with db.write() as session:
        session.execute(text("CREATE TEMP TABLE clone (case_id TEXT PRIMARY KEY, task_id TEXT)"))
        session.execute(text("INSERT INTO clone VALUES (:case_id, :task_id)"),
                        [{"case_id": str(uuid.uuid4()), "task_id": str(uuid.uuid4())} for _ in range(copies)])
        session.execute(text(f"INSERT INTO cases (id, {columns}) SELECT clone.case_id, {columns} "
                             "FROM clone, cases WHERE cases.id = :template"), {"template": template_id})
        session.execute(text(f"INSERT INTO tasks (id, case_id, {task_columns}) "
                             f"SELECT clone.task_id, clone.case_id, {task_columns} FROM clone, tasks "
                             "WHERE tasks.case_id = :template"), {"template": template_id})
        session.execute(text("INSERT INTO audit_events (case_id, at, actor, kind, detail) "
                             "SELECT clone.case_id, a.at, a.actor, a.kind, a.detail FROM clone, audit_events a "
                             "WHERE a.case_id = :template ORDER BY clone.rowid, a.id"), {"template": template_id})
        session.execute(text("INSERT INTO case_timers (case_id, due_at, status, attempts, last_error) "
                             "SELECT clone.case_id, t.due_at, t.status, t.attempts, t.last_error "
                             "FROM clone, case_timers t WHERE t.case_id = :template"), {"template": template_id})
        session.execute(text("DROP TABLE clone"))


def build(path: Path, waiting: int, rounds: int, batch: int) -> Bench:
    db = Database(f"sqlite:///{path}")
    db.upgrade()
    owner = create_user(db, "owner", password="owner-password", groups=["process-owners"], units=[])
    amk = create_user(db, "karl", password="karl-password", email="karl@example.dtu.dk", groups=["amk"],
                      units=["kemi"])
    employee = create_user(db, "anna", password="anna-password", email="anna@example.dtu.dk",
                           groups=["employees"], units=["kemi"])
    for name in ("timer_escalation.bpmn", "note_loop.bpmn"):
        deploy(db, (BPMN_DIR / name).read_bytes(), name, actor=owner)
    with_timer = start_case(db, process="timer_escalation", unit="kemi", data={}, actor=amk,
                            clock=FixedClock(T0 + FAR_AHEAD))
    without_timer = start_case(db, process="note_loop", unit="kemi", data={}, actor=employee, clock=FixedClock(T0))
    _clone(db, with_timer.id, waiting // 2 - 1 if waiting else 0)
    _clone(db, without_timer.id, waiting - waiting // 2 - 1 if waiting else 0)
    if not waiting:  # N = 0: remove the two templates again
        with db.write() as session:
            for case_id in (with_timer.id, without_timer.id):
                session.execute(text("DELETE FROM cases WHERE id = :id"), {"id": case_id})
    for r in range(rounds):
        clock = FixedClock(T0 + r * BATCH_SPACING)
        for _ in range(batch):
            start_case(db, process="timer_escalation", unit="kemi", data={}, actor=amk, clock=clock)
    db.dispose()  # every database starts from an empty WAL (the pool reconnects on the next use)
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with db.read() as session:
        cases = session.scalar(text("SELECT count(*) FROM cases"))
        timers = session.scalar(select(func.count()).select_from(CaseTimer))
    assert cases == waiting + rounds * batch, (cases, waiting)
    print(f"  N={waiting:>7,}: {cases:,} cases, {timers:,} wake-up rows, {path.stat().st_size / 2**20:.1f} MiB",
          flush=True)
    return Bench(waiting, db)


def measure_idle(bench: Bench, passes: int) -> None:
    clock = FixedClock(IDLE_AT)
    statements: list[tuple[str, tuple[object, ...]]] = []

    def collect(_conn, _cursor, statement, parameters, _context, _executemany) -> None:
        statements.append((statement, tuple(parameters)))

    event.listen(bench.db.write_engine, "before_cursor_execute", collect)
    try:
        assert fire_due_timers(bench.db, clock=clock) == TimerPass()
    finally:
        event.remove(bench.db.write_engine, "before_cursor_execute", collect)
    bench.idle_statements = len(statements)
    bench.claim = next(s for s in statements if s[0].lstrip().upper().startswith("SELECT") and "case_timers" in s[0])
    for _ in range(passes):
        started = time.perf_counter()
        fire_due_timers(bench.db, clock=clock)
        bench.idle.append(time.perf_counter() - started)


def measure_due(bench: Bench, round_number: int, batch: int) -> None:
    clock = FixedClock(T0 + round_number * BATCH_SPACING + REMIND_AFTER + dt.timedelta(seconds=1))
    started = time.perf_counter()
    result = fire_due_timers(bench.db, clock=clock)
    bench.due.append(time.perf_counter() - started)
    assert result == TimerPass(fired=batch), result


def query_plan(bench: Bench) -> list[str]:
    assert bench.claim is not None
    statement, parameters = bench.claim
    with bench.db.read_engine.connect() as connection:
        rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
    return [row[-1] for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="0,1000,10000", help="numbers of waiting cases, comma-separated")
    parser.add_argument("--rounds", type=int, default=5, help="due passes per size (one batch each)")
    parser.add_argument("--batch", type=int, default=20, help="due timers per due pass")
    parser.add_argument("--idle-passes", type=int, default=100, help="idle passes per size and round")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]

    with tempfile.TemporaryDirectory() as tmp:
        print("building the databases", flush=True)
        benches = [build(Path(tmp) / f"worker_{n}.db", n, args.rounds, args.batch) for n in sizes]
        try:
            for bench in benches:  # warm-up: caches, the spec cache, SQLite's page cache
                measure_idle(bench, args.idle_passes)
                bench.idle.clear()
            for round_number in range(args.rounds):  # alternate and rotate, so drift hits every size alike
                shift = round_number % len(benches)
                for bench in benches[shift:] + benches[:shift]:
                    measure_idle(bench, args.idle_passes)
                    measure_due(bench, round_number, args.batch)
            base = benches[0]
            base_idle, base_due = statistics.median(base.idle), statistics.median(base.due)
            print()
            print(f"{'waiting cases':>14}{'idle ms/pass':>14}{'ratio':>7}{'SQL/idle':>10}"
                  f"{f'due ms/pass ({args.batch})':>20}{'ratio':>7}{'ms/timer':>10}")
            for bench in benches:
                idle, due = statistics.median(bench.idle), statistics.median(bench.due)
                print(f"{bench.waiting:>14,}{idle * 1000:>14.3f}{idle / base_idle:>7.2f}{bench.idle_statements:>10}"
                      f"{due * 1000:>20.1f}{due / base_due:>7.2f}{due * 1000 / args.batch:>10.2f}")
            print(f"\nratios are to N={base.waiting:,} in this run; medians of {args.rounds * args.idle_passes} idle "
                  f"and {args.rounds} due passes")
            print(f"\nclaim query (N={benches[-1].waiting:,}):\n  {' '.join(benches[-1].claim[0].split())}")
            print("EXPLAIN QUERY PLAN:")
            for line in query_plan(benches[-1]):
                print(f"  {line}")
        finally:
            for bench in benches:
                bench.db.dispose()


if __name__ == "__main__":
    main()
