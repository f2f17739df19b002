"""How the cost of one step grows with the size of a case (engine only, real SQLite file).

Runs one looping test case (tests/processes/bpmn/note_loop.bpmn: a user task, a script, a gateway) for
N steps and prints, at checkpoints, the time of a complete-task step, its SQL statement count, and the
stored state size. Ratios are against the step-10 figures of the same run.

SpiffWorkflow keeps every task instance in its tree, so the restore and save of a step grow linearly with
the steps already taken (a linear per-step cost); the SQL statement count must stay flat and the state
must grow linearly (completed tasks keep no data copy), never quadratically.

    .venv/bin/python bench/case_growth.py --steps 1000
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import event, select

from processes import Database, complete_task, create_user, deploy, start_case
from processes.store.models import Case

BPMN = Path(__file__).resolve().parents[1] / "tests" / "processes" / "bpmn" / "note_loop.bpmn"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=1000)
    args = parser.parse_args()
    checkpoints = sorted({c for c in (10, 100, 250, 500, 1000, 2000, args.steps) if c <= args.steps})

    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/growth.db")
        db.upgrade()
        owner = create_user(db, "owner", password="owner-password", groups=["process-owners"], units=[])
        anna = create_user(db, "anna", password="anna-password", groups=["employees"], units=["kemi"])
        deploy(db, BPMN.read_bytes(), BPMN.name, actor=owner)
        statements = [0]
        event.listen(db.write_engine, "before_cursor_execute", lambda *_: statements.__setitem__(0, statements[0] + 1))
        case = start_case(db, process="note_loop", unit="kemi", data={}, actor=anna)
        rows, window = [], []
        for step in range(1, args.steps + 1):
            before, started = statements[0], time.perf_counter()
            case = complete_task(db, case.tasks[0].id, data={"note": f"step {step}"}, actor=anna)
            window.append((time.perf_counter() - started, statements[0] - before))
            if step in checkpoints:
                with db.read() as session:
                    size = len(session.scalar(select(Case.state).where(Case.id == case.id)))
                rows.append((step, statistics.median(t for t, _ in window[-10:]), window[-1][1], size))
        _, base_time, _, base_size = rows[0]
        print(f"{'step':>6}{'ms/step':>10}{'ratio':>8}{'SQL/step':>10}{'state KB':>10}{'ratio':>8}")
        for step, seconds, sql, size in rows:
            print(f"{step:>6}{seconds * 1000:>10.2f}{seconds / base_time:>8.1f}{sql:>10}{size / 1024:>10.1f}"
                  f"{size / base_size:>8.1f}")
        db.dispose()


if __name__ == "__main__":
    main()
