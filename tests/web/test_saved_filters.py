"""Saved queue filters: save the current filter, share it with a group, apply it, delete your own."""

from __future__ import annotations

import re

import processes


def test_saving_the_current_filter_and_applying_it(browser, start_case, database):
    tasks = start_case("kemi", 2)
    processes.claim_task(database, tasks[0].id, actor=processes.get_user(database, "karl"))
    browser.login("karl")

    response = browser.post("/filters", {"name": "Mine", "assignee": "me", "sort": "due_at", "page": "3"})

    assert response.status_code == 303
    assert response.headers["Location"] == "/?assignee=me&sort=due_at"
    page = browser.client.get("/").text
    assert '<a href="/?assignee=me&amp;sort=due_at">Mine</a>' in page
    assert browser.task_ids(assignee="me", sort="due_at") == [tasks[0].id]


def test_a_filter_shared_with_a_group_is_visible_to_a_colleague(app, browser, database):
    processes.create_user(database, "kim", password="kim-password", name="Kim", groups=["amk"], units=["kemi"])
    browser.login("karl")
    browser.post("/filters", {"name": "Kemi AMK unassigned", "group": "amk", "assignee": "none",
                              "shared_group": "amk"})
    browser.post("/filters", {"name": "Only mine", "assignee": "me"})
    browser.post("/logout")

    browser.login("kim", "kim-password")
    browser.in_english()
    page = browser.client.get("/").text

    assert "Kemi AMK unassigned" in page
    assert "shared with amk" in page
    assert "by karl" in page
    assert "Only mine" not in page
    assert "/filters/" not in page  # kim cannot delete karl's filter: no delete button


def test_sharing_with_a_group_you_are_not_in_is_refused_with_a_message(browser):
    browser.login("karl")
    browser.in_english()

    response = browser.post("/filters", {"name": "HR", "shared_group": "hr"})

    assert response.status_code == 303
    page = browser.client.get("/").text
    assert "you can only share with your own groups" in page
    assert ">HR</a>" not in page


def test_deleting_your_own_saved_filter(browser):
    browser.login("karl")
    browser.post("/filters", {"name": "Temporary", "assignee": "none"})
    [filter_id] = re.findall(r'action="/filters/(\d+)/delete"', browser.client.get("/").text)

    response = browser.post(f"/filters/{filter_id}/delete", {"next": "/"})

    assert response.status_code == 303
    assert "Temporary" not in browser.client.get("/").text


def test_deleting_someone_elses_filter_gives_the_403_page(browser, database):
    karl = processes.get_user(database, "karl")
    saved = processes.save_filter(database, name="Karl's", query={}, shared_group="amk", actor=karl)
    browser.login("eva")

    assert browser.post(f"/filters/{saved.id}/delete").status_code == 403
