"""The case page shows the case's recent history with a "show older events" link that pages back through the rest."""

from __future__ import annotations

import html
import re

import processes
from processes.store.audit import AuditKind, record

ENTRY = re.compile(r'<li class="history__entry" data-kind="([a-z_]+)">')
TITLE = re.compile(r'<span class="history__detail">“([^”]*)”</span>')
OLDER = re.compile(r'<a href="([^"]+)" data-testid="history-older">([^<]+)</a>')


def _with_comments(database, case_id: str, count: int) -> None:
    """`count` events on the case, each titled by its number (as a comment would add them)."""
    with database.write() as session:
        for number in range(count):
            record(session, case_id=case_id, actor="anna", kind=AuditKind.COMMENT_ADDED,
                   detail={"title": f"note {number}"})


def test_the_case_page_shows_the_newest_events_and_a_link_to_the_older_ones_that_works(browser, database, start_case):
    [task] = start_case("kemi")
    _with_comments(database, task.case_id, 120)
    browser.login("karl")
    browser.in_english()  # (the Danish words are in messages.po; test_translations checks the catalogue)

    page = browser.client.get(f"/cases/{task.case_id}").text

    assert len(ENTRY.findall(page)) == processes.RECENT_HISTORY
    assert TITLE.findall(page)[-1] == "note 119"
    assert TITLE.findall(page)[0] == "note 70"
    seen, pages = [TITLE.findall(page)], 1
    while (older := OLDER.search(page)) is not None:
        assert html.unescape(older.group(2)) == "Show older events"
        response = browser.client.get(html.unescape(older.group(1)))
        assert response.status_code == 200, response.text
        page, pages = response.text, pages + 1
        seen.insert(0, TITLE.findall(page))
        assert "Newest events" in page
    kinds = ENTRY.findall(page)
    assert kinds[0] == "case_started"  # the oldest page begins with the case's start
    assert pages == 3
    titled = [title for titles in seen for title in titles if title.startswith("note ")]
    assert titled == [f"note {number}" for number in range(120)]  # each event once, in order


def test_a_case_with_a_short_history_has_no_older_link(browser, start_case):
    [task] = start_case("kemi")
    browser.login("karl")

    page = browser.client.get(f"/cases/{task.case_id}").text

    assert ENTRY.findall(page)[0] == "case_started"
    assert OLDER.search(page) is None


def test_the_history_page_keeps_to_the_cases_readers_and_refuses_a_bad_cursor(browser, database, start_case):
    [task] = start_case("kemi")
    browser.login("emil")  # an employee of another unit

    assert browser.client.get(f"/cases/{task.case_id}/history").status_code == 403

    browser.login("karl")
    refused = browser.client.get(f"/cases/{task.case_id}/history?before=nonsense", follow_redirects=True)
    assert "before" in refused.text
