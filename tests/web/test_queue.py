"""My queue: the tasks of my groups and units, filtered, sorted and paged; claiming, assigning, bulk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import processes


def test_a_kemi_amk_sees_kemi_tasks_and_never_energi_ones(browser, start_case, auth):
    kemi = start_case("kemi", 2)
    energi = start_case("energi", 2)
    browser.login("karl")

    shown = browser.task_ids()
    assert set(shown) == {task.id for task in kemi}
    assert not set(shown) & {task.id for task in energi}
    assert browser.task_ids(unit="energi") == []  # asking for energi shows nothing either
    api = browser.client.get("/api/v1/tasks", headers=auth.headers("karl")).get_json()["items"]
    assert {task["id"] for task in api} == {task.id for task in kemi}


def test_the_rows_link_to_the_task_and_the_case(browser, start_case):
    [task] = start_case("kemi")
    browser.login("karl")

    page = browser.client.get("/").text

    assert f'href="/tasks/{task.id}"' in page
    assert f'href="/cases/{task.case_id}"' in page
    assert "Gennemgå risikovurderingen" in page


def test_an_empty_queue_says_so(browser):
    browser.login("karl")
    browser.in_english()

    assert "No tasks are waiting for you" in browser.client.get("/").text
    assert "No tasks match these filters." in browser.client.get("/?assignee=me").text


def test_the_queue_pages_through_many_tasks_with_the_total(browser, start_case):
    tasks = start_case("kemi", 30)
    browser.login("karl")
    browser.in_english()

    first = browser.task_ids()
    second = browser.task_ids(page=2)

    assert len(first) == 25
    assert len(second) == 5
    assert set(first) | set(second) == {task.id for task in tasks}
    page = browser.client.get("/").text
    assert "Showing 1\N{EN DASH}25 of 30 tasks" in page
    assert "Page 1 of 2" in page
    assert 'href="/?page=2" rel="next"' in page


def test_the_queue_sorts_by_a_column_both_ways(browser, start_case, database):
    start_case("kemi", 3)
    karl = processes.get_user(database, "karl")
    tasks, _ = processes.list_tasks(database, actor=karl)
    processes.claim_task(database, tasks[1].id, actor=karl)
    browser.login("karl")

    ascending = browser.task_ids(sort="assignee")
    descending = browser.task_ids(sort="assignee", order="desc")

    assert ascending[0] == tasks[1].id  # "karl" first, the unassigned (NULL) last
    assert descending[0] == tasks[1].id  # NULLs stay last both ways
    assert ascending[1:] != descending[1:]


def test_the_queue_filters_by_assignee(browser, start_case, database):
    tasks = start_case("kemi", 3)
    processes.claim_task(database, tasks[0].id, actor=processes.get_user(database, "karl"))
    browser.login("karl")

    assert browser.task_ids(assignee="me") == [tasks[0].id]
    assert set(browser.task_ids(assignee="none")) == {tasks[1].id, tasks[2].id}
    assert browser.task_ids(group="employees") == []
    assert len(browser.task_ids(group="amk", unit="kemi", process="lone_work_approval")) == 3


def test_an_overdue_task_is_marked_in_words_not_only_in_red(browser, start_due_task):
    now = datetime.now(UTC)
    late = start_due_task("kemi", now - timedelta(days=3))
    on_time = start_due_task("kemi", now)
    browser.login("karl")
    browser.in_english()

    page = browser.client.get("/").text
    assert f'<tr class="task task--overdue" data-task-id="{late.id}"' in page
    assert f'<tr class="task" data-task-id="{on_time.id}"' in page
    assert '<strong class="overdue-badge">Overdue</strong>' in page
    assert browser.task_ids(overdue="1") == [late.id]
    assert browser.task_ids(overdue="0") == [on_time.id]


def test_due_dates_are_shown_in_copenhagen_time(browser, start_due_task):
    start_due_task("kemi", datetime(2026, 1, 10, 23, 30, tzinfo=UTC))  # due 2026-01-11 23:30 UTC
    browser.login("karl")
    browser.in_english()

    page = browser.client.get("/").text

    assert 'datetime="2026-01-11T23:30:00+00:00"' in page
    assert "12 Jan 2026 00:30" in page  # 00:30 the next day in Copenhagen (CET), day before month (#17)
    assert "1/12/26" not in page and " AM" not in page  # never the American short form


def test_bad_query_values_are_ignored_with_a_message(browser, start_case):
    start_case("kemi")
    browser.login("karl")
    browser.in_english()

    page = browser.client.get("/?sort=password&page=-1&assignee=everyone&group=hr&overdue=maybe")

    assert page.status_code == 200
    assert "Ignored filter values that are not valid: group, assignee, overdue, sort, page" in page.text
    assert len(browser.task_ids()) == 1


def test_claiming_and_unclaiming_a_task_from_the_queue(browser, start_case, database):
    [task] = start_case("kemi")
    browser.login("karl")

    claimed = browser.post(f"/queue/{task.id}/claim", {"next": "/?unit=kemi"})

    assert claimed.status_code == 303
    assert claimed.headers["Location"] == "/?unit=kemi"
    assert processes.get_task(database, task.id, actor=processes.get_user(database, "karl")).assignee == "karl"
    assert browser.task_ids(assignee="me") == [task.id]

    browser.post(f"/queue/{task.id}/unclaim")
    assert processes.get_task(database, task.id, actor=processes.get_user(database, "karl")).assignee is None


def test_claiming_a_task_someone_else_has_is_flashed_not_an_error_page(browser, start_case, database, demo_users):
    [task] = start_case("kemi")
    karl = processes.get_user(database, "karl")
    colleague = processes.create_user(database, "kim", password="kim-password", name="Kim", groups=["amk"],
                                      units=["kemi"])
    processes.claim_task(database, task.id, actor=colleague)
    browser.login(karl.username)
    browser.in_english()

    response = browser.post(f"/queue/{task.id}/claim", headers={"Referer": "http://localhost/?unit=kemi"})

    assert response.status_code == 303
    assert response.headers["Location"] == "/?unit=kemi"
    assert "already claimed by kim" in browser.client.get("/").text


def test_bulk_claim_takes_every_chosen_task(browser, start_case, database):
    tasks = start_case("kemi", 3)
    browser.login("karl")

    response = browser.post("/queue/bulk", {"action": "claim", "task": [tasks[0].id, tasks[2].id]})

    assert response.status_code == 303
    assert set(browser.task_ids(assignee="me")) == {tasks[0].id, tasks[2].id}


def test_bulk_claim_is_all_or_none(browser, start_case, database):
    tasks = start_case("kemi", 2)
    colleague = processes.create_user(database, "kim", password="kim-password", name="Kim", groups=["amk"],
                                      units=["kemi"])
    processes.claim_task(database, tasks[1].id, actor=colleague)
    browser.login("karl")

    browser.post("/queue/bulk", {"action": "claim", "task": [tasks[0].id, tasks[1].id]})

    assert browser.task_ids(assignee="me") == []


def test_bulk_assign_gives_the_tasks_to_a_colleague(browser, start_case, database):
    tasks = start_case("kemi", 2)
    processes.create_user(database, "kim", password="kim-password", name="Kim Kollega", groups=["amk"],
                          units=["kemi"])
    browser.login("karl")
    assert '<option value="kim">Kim Kollega</option>' in browser.client.get("/").text

    response = browser.post("/queue/bulk", {"action": "assign", "assignee": "kim",
                                            "task": [task.id for task in tasks]})

    assert response.status_code == 303
    kim_queue, _ = processes.list_tasks(database, actor=processes.get_user(database, "kim"),
                                        filters=processes.TaskFilter(assignee="me"))
    assert {task.id for task in kim_queue} == {task.id for task in tasks}


def test_bulk_without_chosen_tasks_says_so(browser):
    browser.login("karl")
    browser.in_english()

    browser.post("/queue/bulk", {"action": "claim"})

    assert "Choose one or more tasks first." in browser.client.get("/").text


def test_assigning_one_task_on_its_own_page(browser, start_case, database):
    [task] = start_case("kemi")
    processes.create_user(database, "kim", password="kim-password", name="Kim Kollega", groups=["amk"],
                          units=["kemi"])
    browser.login("karl")

    page = browser.client.get(f"/queue/{task.id}/assign?next=/%3Fassignee%3Dnone")
    assert page.status_code == 200
    assert '<option value="kim">Kim Kollega</option>' in page.text

    response = browser.post(f"/queue/{task.id}/assign", {"assignee": "kim", "next": "/?assignee=none"})

    assert response.headers["Location"] == "/?assignee=none"
    assert processes.get_task(database, task.id, actor=processes.get_user(database, "kim")).assignee == "kim"


def test_assigning_to_someone_who_may_not_work_the_task_is_refused_with_a_message(browser, start_case, database):
    [task] = start_case("kemi")
    browser.login("karl")
    browser.in_english()

    response = browser.post(f"/queue/{task.id}/assign", {"assignee": "eva"})

    assert response.status_code == 303
    assert "eva may not work this task" in browser.client.get("/").text
    assert processes.get_task(database, task.id, actor=processes.get_user(database, "karl")).assignee is None


def test_a_central_group_member_can_filter_on_every_unit(browser):
    browser.login("ditte")

    page = browser.client.get("/").text

    assert '<option value="energi">DTU Energi</option>' in page  # units by their names (#17)
    assert '<option value="kemi">DTU Kemi</option>' in page


def test_a_task_claimed_by_someone_else_offers_neither_claim_nor_assign(browser, start_case, database):
    [task] = start_case("kemi")
    colleague = processes.create_user(database, "kim", password="kim-password", name="Kim", groups=["amk"],
                                      units=["kemi"])
    processes.claim_task(database, task.id, actor=colleague)
    browser.login("karl")

    page = browser.client.get("/").text

    assert f"/queue/{task.id}/claim" not in page
    assert f"/queue/{task.id}/assign" not in page
    assert ">kim</td>" in page


def test_a_queue_of_more_than_1000_tasks_says_more_than_1000_and_still_pages_on(browser, database):
    from tests.queue_data import Row, insert_tasks  # noqa: PLC0415 - bulk rows: only this test needs 1001 tasks

    insert_tasks(database, [Row(group="amk", unit="kemi", created=i % 61) for i in range(1001)])
    browser.login("karl")
    browser.in_english()

    page = browser.client.get("/?page=40").text
    assert "Showing 976\N{EN DASH}1000 of more than 1000 tasks" in page
    assert "Page 40<" in page and 'href="/?page=41" rel="next"' in page
    assert len(browser.task_ids(page=41)) == 1
