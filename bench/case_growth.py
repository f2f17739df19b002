"""How the cost of one step grows with the age of a case (engine and JSON response, real database).

Runs one looping test case (tests/processes/bpmn/note_loop.bpmn: a user task, a script, a gateway) for
N steps. A step is what `POST /api/v1/tasks/{id}/complete` does: ``complete_task`` (one transaction) and
the case it returns dumped to JSON by the API's ``CaseSchema``. At checkpoints it prints the median time
of 20 steps, their SQL statements, the response and stored-state sizes and the events the case has; the
ratio is against 20 steps of a young case (its steps 11 to 30) timed alternately with them in the same run
(the target: at most 1.5x at step 1,000).

For comparison, in the same run: the time to read and dump the case's *whole* history (what every step
did before a step returned only the newest ``RECENT_HISTORY`` events), and the cost of paging through it
with ``case_history``.

    .venv/bin/python bench/case_growth.py --steps 1000
    .venv/bin/python bench/case_growth.py --steps 1000 --postgresql   # or --database-url URL of an empty database
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import event, func, select

from processes import CaseView, Database, UserView, case_history, complete_task, create_user, deploy, start_case
from processes.store.audit import history
from processes.store.models import AuditEvent, Case
from service.schemas import CaseSchema, HistoryEntrySchema

ROOT = Path(__file__).resolve().parents[1]
BPMN = ROOT / "tests" / "processes" / "bpmn" / "note_loop.bpmn"
PAIRS = 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--database-url", help="an empty database (default: a temporary SQLite file)")
    parser.add_argument("--postgresql", action="store_true",
                        help="on a throw-away PostgreSQL server (tests/postgres.py, as the test suite uses)")
    args = parser.parse_args()
    if args.postgresql:
        # tests/ is not installed: find it from the checkout; and not bench/ first, whose queue.py would
        # shadow the standard library's queue (psycopg imports it)
        sys.path[:] = [str(ROOT), *(entry for entry in sys.path if Path(entry or ".").resolve() != ROOT / "bench")]
        with importlib.import_module("tests.postgres").postgres_server() as server:
            args.database_url = server.create_database("case_growth")
            run(args)
    else:
        run(args)


def run(args: argparse.Namespace) -> None:
    logging.disable(logging.WARNING)  # "no e-mail address" for every task of the loop
    checkpoints = sorted({c for c in (10, 100, 250, 500, 1000, 2000, args.steps) if c <= args.steps})

    with tempfile.TemporaryDirectory() as tmp:
        db = Database(args.database_url or f"sqlite:///{tmp}/growth.db")
        db.upgrade()
        owner = create_user(db, "owner", password="owner-password", groups=["process-owners"], units=[])
        anna = create_user(db, "anna", password="anna-password", groups=["employees"], units=["kemi"])
        deploy(db, BPMN.read_bytes(), BPMN.name, actor=owner)
        statements = [0]
        event.listen(db.write_engine, "before_cursor_execute", lambda *_: statements.__setitem__(0, statements[0] + 1))
        schema = CaseSchema()

        def step(case: CaseView, note: str) -> tuple[CaseView, float, int, int]:
            before, started = statements[0], time.perf_counter()
            case = complete_task(db, case.tasks[0].id, data={"note": note}, actor=anna)
            body = json.dumps(schema.dump(case))
            return case, time.perf_counter() - started, statements[0] - before, len(body)

        case = start_case(db, process="note_loop", unit="kemi", data={}, actor=anna)
        rows, age = [], 0  # age: the steps the long case has taken
        for number in checkpoints:
            while age < number - 1:
                case, age = step(case, f"step {age + 1}")[0], age + 1
            # The machine is shared and its load drifts: time the old case's steps interleaved with those of
            # a young case (steps 11 to 30), so both medians see the same load.
            young = start_case(db, process="note_loop", unit="kemi", data={}, actor=anna)
            for warm in range(10):
                young = step(young, f"young {warm}")[0]
            old_times, young_times, old_sql, young_sql = [], [], 0, 0
            for pair in range(PAIRS):
                young, seconds, sql, _ = step(young, f"young step {pair}")
                young_times.append(seconds)
                young_sql = max(young_sql, sql)
                case, seconds, sql, body = step(case, f"step {age + 1}")
                age += 1
                old_times.append(seconds)
                old_sql = max(old_sql, sql)
            rows.append((number, statistics.median(old_times), statistics.median(young_times), old_sql, young_sql,
                         body, *case_facts(db, case.id, anna)))
        db.dispose()

    print(f"{'step':>6}{'ms/step':>9}{'young ms':>9}{'ratio':>7}{'SQL/step':>9}{'young SQL':>10}{'response KB':>12}"
          f"{'state KB':>9}{'events':>8}{'whole history ms':>17}{'paged ms':>9}")
    for number, old, young_ms, sql, young_sql, body, events, state, full, paged in rows:
        print(f"{number:>6}{old * 1000:>9.2f}{young_ms * 1000:>9.2f}{old / young_ms:>7.2f}{sql:>9}{young_sql:>10}"
              f"{body / 1024:>12.1f}{state / 1024:>9.1f}{events:>8}{full * 1000:>17.2f}{paged * 1000:>9.1f}")
    print(f"\nA step = complete_task + CaseSchema dump + json.dumps. ms/step: median of {PAIRS} steps of the long "
          f"case from the step named; young ms: median of {PAIRS} steps of a new case (its steps 11 to "
          f"{10 + PAIRS}) run alternately with them; ratio = ms/step / young ms (target <= 1.5). SQL: the most "
          "statements one step ran.\nwhole history ms = reading and dumping every event of the case, as each "
          "step did before paging; paged ms = reading all of it through case_history, 500 events a page.")


def case_facts(db: Database, case_id: str, reader: UserView) -> tuple[int, int, float, float]:
    """The case's event count and state size; the time to read its whole history at once and page by page."""
    with db.read() as session:
        events = session.scalar(select(func.count()).where(AuditEvent.case_id == case_id)) or 0
        state = len(session.scalar(select(Case.state).where(Case.id == case_id)) or "")
    started = time.perf_counter()
    with db.read() as session:
        entries, _ = history(session, case_id)
        json.dumps(HistoryEntrySchema(many=True).dump(entries))
    full = time.perf_counter() - started
    started = time.perf_counter()
    cursor: str | None = None
    while True:
        cursor = case_history(db, case_id, actor=reader, before=cursor, limit=500).next_cursor
        if cursor is None:
            return events, state, full, time.perf_counter() - started


if __name__ == "__main__":
    main()
