"""Issue #17's acceptance in a real browser, in Danish and English: the AMK's queue says whose application
each task is about, what it is about and when it is due; the applicant finds her application under "my
cases" with its status; a search for the applicant's surname finds the case for the AMK of the unit and
not for the AMK of another unit.

The page's own words are found by their structure (the search form's field by name, a row by its case id),
so one set of selectors serves both languages.
"""

from __future__ import annotations

import copy

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_lone_work_pages import G2_APPLICATION, PASSWORD, PROCESS, Visit, _post_json
from tests.web.test_english_words import danish_left, danish_words, visible_text

SURNAMES = {"da": "Kvistgaard", "en": "Brøndumsen"}


def _start(browsing, language: str) -> tuple[dict, dict]:
    api = browsing.url("/api/v1")
    token = _post_json(f"{api}/auth/token", {"username": "anna", "password": PASSWORD})["token"]
    data = {**copy.deepcopy(G2_APPLICATION), "applicant_name": f"Anna {SURNAMES[language]}",
            "task_description": f"Distilling ethanol ({language})"}
    return _post_json(f"{api}/cases", {"process": PROCESS, "unit": "kemi", "data": data}, token), data


def _search(page: Page, surname: str) -> None:
    page.goto("/cases?scope=unit")
    page.locator('#case-search input[name="q"]').fill(surname)
    page.locator("#case-search button[type=submit]").click()
    page.wait_for_load_state()


@pytest.mark.parametrize("language", ["da", "en"])
def test_the_queue_my_cases_and_search_in_the_browser(browsing, language):
    case, data = _start(browsing, language)
    title = f"{data['applicant_name']}: {data['task_description']}"

    karl = Visit(browsing, language, "desktop").log_in("karl")  # AMK of DTU Kemi
    karl.goto("/")
    row = karl.locator("tr.task", has=karl.locator(f'a[href="/cases/{case["id"]}"]'))
    expect(row).to_have_count(1)
    expect(row).to_contain_text(data["applicant_name"])
    expect(row).to_contain_text(data["task_description"])
    expect(row.locator("time")).to_have_count(1)  # its due date, five working days on
    if language == "en":  # no Danish word left on the queue, the task and the case page (the drawn diagram too)
        danish, task_id = danish_words(), row.get_attribute("data-task-id")
        for path in ("/", f"/tasks/{task_id}", f"/cases/{case['id']}"):
            karl.goto(path)
            karl.wait_for_load_state("networkidle")
            assert danish_left(visible_text(karl.content()), danish) == [], path
        karl.goto("/")

    anna = Visit(browsing, language, "desktop").log_in("anna")
    anna.goto("/cases")
    mine = anna.locator(f'tr.case-row[data-case-id="{case["id"]}"]')
    expect(mine).to_contain_text(title)
    expect(mine.locator("[data-status]")).to_have_attribute("data-status", "running")

    _search(karl, SURNAMES[language])
    expect(karl.locator(f'tr.case-row[data-case-id="{case["id"]}"]')).to_have_count(1)
    expect(karl.locator("tr.case-row")).to_have_count(1)

    eva = Visit(browsing, language, "desktop").log_in("eva")  # AMK of DTU Energi
    _search(eva, SURNAMES[language])
    expect(eva.locator("tr.case-row")).to_have_count(0)
    expect(eva.get_by_text(data["applicant_name"])).to_have_count(0)
