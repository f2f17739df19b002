"""The status board of a precursor campaign (issue #16) and its consolidated report as a page, CSV and XLSX."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook
from sqlalchemy import select

import processes
from processes.store.models import TaskRecord


def open_task(database: processes.Database, case_id: str, name: str, unit: str | None = None) -> str:
    with database.read() as session:
        query = select(TaskRecord.id).where(TaskRecord.case_id == case_id, TaskRecord.name == name,
                                            TaskRecord.status.in_(["ready", "claimed"]))
        return session.scalars(query.where(TaskRecord.unit == unit) if unit else query).one()


def users(database: processes.Database, *names: str) -> list[processes.UserView]:
    return [processes.get_user(database, name) for name in names]


def test_the_coordinator_sees_the_board_and_downloads_the_consolidated_report(database, browser):
    lise, karl, eva, kim = users(database, "lise", "karl", "eva", "kim")
    case = processes.start_case(database, process="precursor_reporting", unit="cas-ab",
                                data={"reporting_year": 2027, "units": ["kemi", "energi"]}, actor=lise)
    processes.complete_task(database, open_task(database, case.id, "declare", "energi"), actor=eva,
                            data={"handles_precursors": False, "contact_person": "eva"})

    browser.login("lise")
    page = browser.client.get(f"/cases/{case.id}/board")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-unit="energi" data-state="answered"' in html and 'data-unit="kemi" data-state="open"' in html
    assert "js/board.js" in html
    data = browser.client.get(f"/cases/{case.id}/board.json").get_json()
    assert data["counts"] == {"answered": 1, "answered_late": 0, "late": 0, "open": 1}
    assert [(row["unit"], row["state"]) for row in data["rows"]] == [("energi", "answered"), ("kemi", "open")]
    assert 'id="status-board-link"' in browser.client.get(f"/cases/{case.id}").get_data(as_text=True)

    processes.complete_task(database, open_task(database, case.id, "declare", "kemi"), actor=karl, data={
        "handles_precursors": True, "contact_person": "kim",
        "substances": [{"substance": "acetic anhydride", "annual_quantity": 12, "quantity_unit": "l"}]})
    processes.complete_task(database, open_task(database, case.id, "file_report"), actor=kim, data={
        "substance": "acetic anhydride", "quantity_unit": "l", "opening_stock": 10,
        "purchases": [{"supplier": "=HYPERLINK(1)", "quantity": 2}], "consumption": 3, "disposed": 0,
        "closing_stock": 9})
    processes.complete_task(database, open_task(database, case.id, "review"), actor=lise, data={"review": "accept"})

    table = browser.client.get(f"/cases/{case.id}/tables/consolidated_report")
    assert table.status_code == 200 and "Download XLSX" in browser.in_english().client.get(
        f"/cases/{case.id}/tables/consolidated_report").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(
        browser.client.get(f"/cases/{case.id}/tables/consolidated_report.csv").get_data(as_text=True))))
    assert rows[-1] == ["Acetic anhydride", "2A", "DTU", "l", "10", "2", "3", "0", "0", "9"]
    workbook = browser.client.get(f"/cases/{case.id}/tables/consolidated_report.xlsx")
    assert workbook.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(workbook.get_data())).active
    assert [cell.value for cell in sheet[3]] == ["Acetic anhydride", "2A", "DTU", "l", 10, 2, 3, 0, 0, 9]


def test_the_board_is_refused_to_whoever_may_not_read_the_case(database, browser):
    (lise,) = users(database, "lise")
    case = processes.start_case(database, process="precursor_reporting", unit="cas-ab",
                                data={"reporting_year": 2027, "units": ["kemi"]}, actor=lise)
    browser.login("emil")  # an employee of DTU Energi: no task in this case
    assert browser.client.get(f"/cases/{case.id}/board").status_code == 403
    assert browser.client.get(f"/cases/{case.id}/board.json").status_code == 403
    assert browser.client.get(f"/cases/{case.id}/tables/consolidated_report.csv").status_code == 403
    browser.login("lise")
    assert browser.client.get(f"/cases/{case.id}/tables/consolidated_report.csv").status_code == 404  # not yet
    assert browser.client.get(f"/cases/{case.id}/tables/other.csv").status_code == 404
