"""The queue page costs the same number of SQL statements for 10 tasks as for 200: no query per row."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

import processes


@contextmanager
def counted_statements(database: processes.Database) -> Iterator[list[str]]:
    """Collect every SQL statement the app's engines run inside the block."""
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    engines = {id(engine): engine for engine in (database.read_engine, database.write_engine)}.values()
    for engine in engines:
        event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", count)


def test_the_queue_runs_the_same_queries_for_10_tasks_as_for_200(browser, start_case, database):
    start_case("kemi", 10)
    browser.login("karl")
    browser.client.get("/")  # warm caches (process specs) the same way for both counts

    with counted_statements(database) as few:
        assert len(browser.task_ids()) == 10
    start_case("kemi", 190)
    with counted_statements(database) as many:
        assert len(browser.task_ids()) == 25
    with counted_statements(database) as many_filtered:
        assert len(browser.task_ids(assignee="none", sort="title", order="desc", page=8)) == 25

    assert len(few) == len(many) == len(many_filtered)
    assert len(few) <= 20, few  # five short read transactions; a query per row would break this
    # the page, its total and its cases' words are one statement
    assert not [statement for statement in many if "FROM cases" in statement and "tasks" not in statement], many
