"""The case list pages (issue #17): my cases with status, my unit's cases, search; a constant number of SQL
statements per page; the queue row says what its case is about; the case header shows title and badge."""

from __future__ import annotations

import re

from tests.web.test_query_count import counted_statements

CASE_ROW = re.compile(r'<tr class="case-row" data-case-id="([^"]+)"')


def _case_ids(browser, **query):
    page = browser.client.get("/cases", query_string=query)
    assert page.status_code == 200, page.text
    return CASE_ROW.findall(page.text)


def test_the_applicant_sees_her_application_under_my_cases_with_its_status(browser, start_case):
    task = start_case("kemi")[0]
    browser.login("anna")

    page = browser.client.get("/cases")

    assert CASE_ROW.findall(page.text) == [task.case_id]
    assert 'data-status="running"' in page.text
    assert task.case_title and task.case_title in page.text


def test_a_search_finds_the_case_for_the_units_amk_and_not_for_another_units_amk(browser, start_case, client):
    task = start_case("kemi")[0]
    surname = task.case_title.split(":")[0].split()[-1]
    browser.login("karl")
    assert _case_ids(browser, scope="unit", q=surname) == [task.case_id]
    assert _case_ids(browser, scope="unit", q="nosuchwordanywhere") == []
    browser.client.post("/logout", data={"csrf_token": browser.csrf_token()})
    browser.login("eva")
    assert _case_ids(browser, scope="unit", q=surname) == []


def test_the_queue_row_and_the_case_header_say_what_the_case_is_about(browser, start_case):
    task = start_case("kemi")[0]
    browser.login("karl")

    queue = browser.client.get("/").text
    assert task.case_title in queue and task.case_summary in queue
    assert '<time datetime="' in queue.split(task.case_title, 1)[1].split("</tr>", 1)[0]  # its due date

    case_page = browser.client.get(f"/cases/{task.case_id}").text
    header = case_page.split("<h1>", 1)[1].split("</h1>", 1)[0]
    assert task.case_title in header and task.case_badge in header


def test_the_case_list_runs_the_same_queries_for_10_cases_as_for_80(browser, start_case, database):
    start_case("kemi", 10)
    browser.login("karl")
    browser.client.get("/cases", query_string={"scope": "unit"})  # warm the caches

    with counted_statements(database) as few:
        assert len(_case_ids(browser, scope="unit")) == 10
    start_case("kemi", 70)  # more than three pages of 25: page 3 of the search is full
    with counted_statements(database) as many:
        assert len(_case_ids(browser, scope="unit")) == 25
    with counted_statements(database) as searched:
        assert len(_case_ids(browser, scope="unit", q="ethanol fume", status="running", page=3)) == 25

    assert len(few) == len(many) == len(searched)
    assert len(few) <= 20, few
