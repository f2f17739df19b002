"""`GET /api/v1/tasks` at size: sort and order, keyset paging by `cursor`, and a total counted up to 1000."""

from __future__ import annotations

import processes
from service.schemas import TaskPageSchema
from tests.queue_data import Row, insert_tasks


def test_the_cursor_walks_the_same_pages_as_the_offset(api, database):
    insert_tasks(database, [Row(group="amk", unit="kemi", created=i % 4, due=None if i % 3 else i) for i in range(23)])
    insert_tasks(database, [Row(group="amk", unit="energi", created=1) for _ in range(5)])  # never karl's
    query = {"sort": "due_at", "order": "desc", "limit": "5"}

    by_offset = []
    for offset in range(0, 30, 5):
        body = api.get("/tasks", as_="karl", query_string={**query, "offset": str(offset)}).get_json()
        by_offset += body["items"]
        assert (body["total"], body["total_capped"]) == (23, False)
    by_cursor, cursor = [], None
    while True:
        response = api.get("/tasks", as_="karl", query_string={**query, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.get_json()
        by_cursor += response.get_json()["items"]
        cursor = response.get_json()["next_cursor"]
        if cursor is None:
            break

    assert [task["id"] for task in by_cursor] == [task["id"] for task in by_offset]
    assert len(by_cursor) == 23 and {task["unit"] for task in by_cursor} == {"kemi"}
    due = [task["due_at"] for task in by_cursor]
    dated = [value for value in due if value is not None]
    assert dated == sorted(dated, reverse=True) and due == dated + [None] * (23 - len(dated))  # NULLs last


def test_more_than_1000_tasks_say_1000_and_capped(api, database):
    insert_tasks(database, [Row(group="employees", unit="kemi", created=i % 97) for i in range(1001)])
    body = api.get("/tasks", as_="karl", query_string={"limit": "2"}).get_json()
    assert (body["total"], body["total_capped"], len(body["items"])) == (1000, True, 2)
    assert body["next_cursor"]
    assert api.get("/tasks", as_="eva").get_json() == {"items": [], "total": 0, "total_capped": False,
                                                       "next_cursor": None}  # energi's AMK sees none of them


def test_bad_sort_order_or_cursor_is_refused_naming_the_parameter(api, database):
    insert_tasks(database, [Row(group="amk", unit="kemi") for _ in range(3)])
    cursor = api.get("/tasks", as_="karl", query_string={"limit": "1"}).get_json()["next_cursor"]
    for query, field, status in (({"sort": "password"}, "sort", 400), ({"order": "up"}, "order", 400),
                                 ({"cursor": "bm9wZQ"}, "cursor", 422),
                                 ({"cursor": cursor, "sort": "title"}, "cursor", 422),
                                 ({"cursor": cursor, "offset": "1"}, "cursor", 422)):
        response = api.get("/tasks", as_="karl", query_string=query)
        assert response.status_code == status, (query, response.get_json())
        assert field in response.get_json()["error"]["fields"], (query, response.get_json())


def test_a_page_of_tasks_is_what_the_documented_schema_dumps(api, database):
    """The page is dumped by schemas.dump_task, not marshmallow: it must give TaskPageSchema's exact output."""
    insert_tasks(database, [Row(group="amk", unit="kemi", created=1, due=5, assignee="karl", status="claimed"),
                            Row(group="amk", unit="kemi", created=2), Row(group=None, unit="kemi", assignee="karl")])
    body = api.get("/tasks", as_="karl").get_json()
    karl = processes.get_user(database, "karl")
    page = processes.task_page(database, actor=karl)
    documented = TaskPageSchema().dump({"items": page.tasks, "total": page.total, "total_capped": False,
                                        "next_cursor": None})
    assert body == documented
    assert {task["assignee"] for task in body["items"]} == {"karl", None}
    assert {task["status"] for task in body["items"]} == {"claimed", "ready"}
    assert any(task["due_at"] for task in body["items"]) and any(task["due_at"] is None for task in body["items"])
