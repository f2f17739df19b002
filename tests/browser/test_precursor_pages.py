"""Issue #16 in a real browser: the coordinator's status board refreshes itself, and the consolidated report
is shown as a page and downloaded as XLSX. The campaign's steps are taken over the JSON API."""

from __future__ import annotations

import io
import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

PASSWORD = "demo-amflow"  # the published demo password (processes/demo.py)
DESKTOP = {"width": 1280, "height": 800}


def call(url: str, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def token(api: str, username: str) -> str:
    return call(f"{api}/auth/token", {"username": username, "password": PASSWORD})["token"]


def complete(api: str, who: str, task: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    return call(f"{api}/tasks/{task['id']}/complete", {"data": data}, token(api, who))


@pytest.mark.slow
def test_the_coordinator_watches_the_board_and_downloads_the_consolidated_report(browsing):
    api = browsing.url("/api/v1")
    case = call(f"{api}/cases", {"process": "precursor_reporting", "unit": "cas-ab",
                                 "data": {"reporting_year": 2027, "units": ["kemi", "energi"]}}, token(api, "lise"))
    declare = {task["unit"]: task for task in case["tasks"]}
    complete(api, "eva", declare["energi"], {"handles_precursors": False, "contact_person": "eva"})

    page = browsing.new_page(DESKTOP)
    page.goto("/login")
    page.get_by_label("Brugernavn").fill("lise")
    page.get_by_label("Adgangskode").fill(PASSWORD)
    page.get_by_role("button", name="Log ind", exact=True).click()
    expect(page.get_by_test_id("who")).to_be_visible()
    page.goto(f"/cases/{case['id']}")
    page.locator("#status-board-link").click()
    # Danish once the lead compiles the catalogue (messages.mo), the English source text until then
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("^(Statustavle|Status board)$"))
    expect(page.locator('tr[data-unit="energi"]')).to_have_attribute("data-state", "answered")
    expect(page.locator('tr[data-unit="kemi"]')).to_have_attribute("data-state", "open")
    expect(page.locator('[data-count="open"]')).to_have_text("1")

    # kemi answers while the board is open: it refreshes without a reload
    after = complete(api, "karl", declare["kemi"], {
        "handles_precursors": True, "contact_person": "kim",
        "substances": [{"substance": "acetic anhydride", "annual_quantity": 12, "quantity_unit": "l"}]})
    expect(page.locator('tr[data-unit="kemi"]')).to_have_attribute("data-state", "answered")
    expect(page.locator('[data-count="answered"]')).to_have_text("2")
    expect(page.locator('[data-count="open"]')).to_have_text("0")

    (report,) = [task for task in after["tasks"] if task["name"] == "file_report"]
    reviewed = complete(api, "kim", report, {
        "substance": "acetic anhydride", "quantity_unit": "l", "opening_stock": 10,
        "purchases": [{"supplier": "Merck", "quantity": 2}], "consumption": 3, "disposed": 0, "closing_stock": 9})
    (review,) = [task for task in reviewed["tasks"] if task["name"] == "review"]
    complete(api, "lise", review, {"review": "accept"})

    page.goto(f"/cases/{case['id']}")
    page.locator('a[data-table="consolidated_report"]').click()
    expect(page.locator("#case-table tr.case-table__total td").first).to_have_text("Acetic anhydride")
    with page.expect_download() as download:
        page.locator("#download-xlsx").click()
    sheet = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes())).active
    assert [cell.value for cell in sheet[3]] == ["Acetic anhydride", "2A", "DTU", "l", 10, 2, 3, 0, 0, 9]
    assert browsing.csp_violations == []
