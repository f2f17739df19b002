"""What is new for me (issue #17) on the pages: the header's counter, the list that marks read when opened, the
e-mail settings; the list costs the same SQL for 10 notifications as for a full page."""

from __future__ import annotations

import re

import processes
from tests.web.test_query_count import counted_statements

NOTICE_ROW = re.compile(r'data-notice-id="(\d+)"')
COUNTER = re.compile(r'class="notice-counter__count">([^<]+)<')


def counter(browser) -> str:
    match = COUNTER.search(browser.client.get("/cases").text)
    assert match
    return match.group(1)


def test_the_counter_and_the_list_show_my_groups_new_tasks_and_opening_the_list_marks_them_read(
        browser, start_case, database):
    start_case("kemi", 2)
    start_case("energi", 1)  # another unit's AMK task: not for karl
    browser.login("karl")
    assert counter(browser) == "2"

    page = browser.client.get("/notifications")
    assert page.status_code == 200
    assert len(NOTICE_ROW.findall(page.text)) == 2
    assert page.text.count("notice--new") == 2
    assert counter(browser) == "0"
    assert "notice--new" not in browser.client.get("/notifications").text


def test_opening_one_notification_marks_it_read_and_goes_to_its_task(browser, start_case, database):
    task = start_case("kemi", 1)[0]
    browser.login("karl")
    karl = processes.get_user(database, "karl")
    notice = processes.list_notices(database, actor=karl).items[0]
    assert counter(browser) == "1"

    opened = browser.client.get(f"/notifications/{notice.id}")
    assert opened.status_code == 303
    assert opened.headers["Location"].endswith(f"/tasks/{task.id}")
    assert counter(browser) == "0"
    assert browser.client.get("/notifications/999999").status_code == 404


def test_the_settings_page_saves_my_email_choice(browser, database):
    browser.login("karl")
    assert browser.post("/notifications/settings", {"email_comment": "on"}).status_code == 303
    karl = processes.get_user(database, "karl")
    assert processes.notice_settings(database, actor=karl) == {
        "group_task": False, "task_assigned": False, "comment": True}
    page = browser.client.get("/notifications/settings").text
    assert page.count(" checked") == 1


def test_the_list_runs_the_same_queries_for_10_notifications_as_for_a_full_page(browser, start_case, database):
    start_case("kemi", 10)
    browser.login("karl")
    browser.client.get("/notifications/settings")  # warm caches the same way for both counts

    with counted_statements(database) as few:
        assert len(NOTICE_ROW.findall(browser.client.get("/notifications").text)) == 10
    start_case("kemi", 60)
    with counted_statements(database) as many:
        assert len(NOTICE_ROW.findall(browser.client.get("/notifications").text)) == 50

    assert len(few) == len(many), (few, many)
