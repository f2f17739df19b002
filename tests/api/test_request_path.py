"""The everyday request path (issue #10, W1) is one transaction per request and a bounded number of SQL
statements: start a case, list the queue, read a task, complete it, read the case, and `GET /me`.

The process has W1's shape (bench/w1_shape.bpmn): start -> a report by the starter -> a script -> an exclusive
gateway -> a review by a group -> end. Counted on the app's own engines, on SQLite and PostgreSQL alike
(transactions by the engines' `begin` event; our own `BEGIN [IMMEDIATE]` on SQLite is not a statement).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

import processes
from processes.store.models import AuditEvent

W1_SHAPE = Path(__file__).resolve().parents[2] / "bench" / "w1_shape.bpmn"

# The most statements each call may run (without BEGIN/COMMIT); before issue #10's work they were 19, 5, 5,
# 20, 8 and 3, in two transactions each (the token check in one, the use case in the other).
# Since the first measure (11 / 3 / 3 / 14 / 6 / 1, 54 a case) issue #17 added, per step, the in-app notices
# (their rows and the readers' e-mail choices) and the case's search words, and to a queue page the case titles;
# then a new case's view stopped reading decisions and incidents, and a completion and a task's page read their
# task, case (and open tasks) at once. Then (55 a case) a completion learnt whether its task has drafts with its
# task, a case's words became one upsert, and a case view reads its decisions, incidents and history at once.
# Then a start wrote its case row once (INSERT with the state the step leaves, no UPDATE after it), and a
# queue page came to 2 (the token check and one statement with its capped total).
MOST_STATEMENTS = {"start": 10, "list tasks": 2, "read task": 2, "complete task": 11, "read case": 4, "me": 1}
MOST_PER_CASE = 40


@dataclass
class Counted:
    statements: list[str] = field(default_factory=list)
    transactions: int = 0


@contextmanager
def counting(database: processes.Database) -> Iterator[Counted]:
    counted = Counted()

    def statement(_conn: Any, _cursor: Any, text: str, *_args: Any) -> None:
        if not text.lstrip().upper().startswith("BEGIN"):
            counted.statements.append(text)

    def begin(_conn: Any) -> None:
        counted.transactions += 1

    engines = list({id(engine): engine for engine in (database.read_engine, database.write_engine)}.values())
    for engine in engines:
        event.listen(engine, "before_cursor_execute", statement)
        event.listen(engine, "begin", begin)
    try:
        yield counted
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", statement)
            event.remove(engine, "begin", begin)


@pytest.fixture
def w1(database: processes.Database) -> None:
    processes.deploy(database, W1_SHAPE.read_bytes(), W1_SHAPE.name, actor=processes.get_user(database, "owen"))


def run_case(api: Any, database: processes.Database) -> dict[str, list[Counted]]:
    """One W1 case through its 8 calls, and /me; what each call ran."""
    seen: dict[str, list[Counted]] = {}

    def call(kind: str, method: str, path: str, user: str, body: Any = None) -> Any:
        with counting(database) as counted:
            response = api.call(method, path, as_=user, json=body)
        assert response.status_code < 300, response.get_json()
        seen.setdefault(kind, []).append(counted)
        return response.get_json()

    case = call("start", "POST", "/cases", "anna",
                {"process": "w1_shape", "unit": "kemi", "data": {"note": "Spild i laboratoriet"}})
    for user, data in (("anna", {"note": "Flaske tabt", "details": {"severity": "high"}}), ("karl", {"note": "Ok"})):
        [task] = [item for item in call("list tasks", "GET", "/tasks", user)["items"] if item["case_id"] == case["id"]]
        call("read task", "GET", f"/tasks/{task['id']}", user)
        case = call("complete task", "POST", f"/tasks/{task['id']}/complete", user, {"data": data})
    assert case["status"] == "completed"
    call("read case", "GET", f"/cases/{case['id']}", "anna")
    call("me", "GET", "/me", "anna")
    return seen


def test_every_call_of_the_everyday_path_is_one_transaction(api, auth, database, w1):
    for user in ("anna", "karl"):
        auth.token(user)  # logging in is not part of the path
    run_case(api, database)  # the process version parsed and cached, as in a running service

    seen = run_case(api, database)

    assert {kind: [counted.transactions for counted in calls] for kind, calls in seen.items()} == {
        "start": [1], "list tasks": [1, 1], "read task": [1, 1], "complete task": [1, 1], "read case": [1], "me": [1],
    }


def test_the_everyday_path_runs_few_statements(api, auth, database, w1):
    for user in ("anna", "karl"):
        auth.token(user)
    run_case(api, database)

    seen = run_case(api, database)

    most = {kind: max(len(counted.statements) for counted in calls) for kind, calls in seen.items()}
    assert most == {kind: min(most[kind], limit) for kind, limit in MOST_STATEMENTS.items()}, (
        {kind: [counted.statements for counted in calls] for kind, calls in seen.items()})
    per_case = sum(len(counted.statements) for kind, calls in seen.items() if kind != "me" for counted in calls)
    assert per_case <= MOST_PER_CASE
    [start] = seen["start"]
    written = [text.split()[0].upper() for text in start.statements
               if text.lstrip().upper().startswith(("INSERT INTO CASES ", "UPDATE CASES "))]
    assert written == ["INSERT"]  # the new case's row is written once, as the step leaves it


def test_a_revoked_token_stops_working_at_the_next_request(api, auth, database, w1):
    """The token is checked in the request's own transaction, never remembered between requests."""
    assert api.get("/me", as_="anna").status_code == 200
    processes.revoke_all(database, "anna", actor=None)

    response = api.get("/me", as_="anna")

    assert response.status_code == 401
    assert api.post("/cases", as_="anna", json={"process": "w1_shape", "unit": "kemi",
                                                "data": {"note": "x"}}).status_code == 401


def test_a_refused_completion_changes_nothing_and_the_next_request_works(api, auth, database, w1):
    """A use case that fails rolls back the request's transaction, token check included; nothing is left open."""
    case = api.post("/cases", as_="anna", json={"process": "w1_shape", "unit": "kemi", "data": {"note": "x"}})
    task = case.get_json()["tasks"][0]

    refused = api.post(f"/tasks/{task['id']}/complete", as_="anna", json={"data": {"note": ""}})
    again = api.get(f"/tasks/{task['id']}", as_="anna")

    assert refused.status_code == 422
    assert again.status_code == 200
    assert (again.get_json()["status"], again.get_json()["assignee"]) == (task["status"], "anna")
    history = processes.get_case(database, case.get_json()["id"], actor=processes.get_user(database, "anna")).history
    assert [entry.kind for entry in history].count(processes.AuditKind.TASK_COMPLETED) == 0


def test_a_write_inside_a_read_block_of_a_write_request_joins_its_transaction(app, database):
    """On SQLite a write request holds the write lock from its first query: a block nested in a block of the
    request must not open a transaction of its own (it would wait for that lock), it joins."""
    with app.test_request_context(method="POST"), database.request(write=True), database.read() as outer:
        anna = processes.get_user(database, "anna")  # a read of its own, as before
        with database.write() as inner:
            assert inner is outer
            processes.store.audit.record(inner, case_id=None, actor=anna.username,
                                         kind=processes.AuditKind.PROCESS_DEPLOYED, detail={"nested": True})
    with database.read() as session:
        assert session.scalar(select(AuditEvent.detail).where(AuditEvent.actor == "anna")) == {"nested": True}
