"""A fan-out case's status board and its exported tables over the JSON API (issue #16): the same data and the
same access decision as the web pages, as JSON, CSV and XLSX."""

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


def campaign(database: processes.Database) -> str:
    """A precursor campaign over kemi and energi in which energi has answered (nothing handled)."""
    lise, eva = processes.get_user(database, "lise"), processes.get_user(database, "eva")
    case = processes.start_case(database, process="precursor_reporting", unit="cas-ab",
                                data={"reporting_year": 2027, "units": ["kemi", "energi"]}, actor=lise)
    processes.complete_task(database, open_task(database, case.id, "declare", "energi"), actor=eva,
                            data={"handles_precursors": False, "contact_person": "eva"})
    return case.id


def consolidate(database: processes.Database, case_id: str) -> None:
    """Kemi declares acetic anhydride, its contact person files the report and the coordinator accepts it."""
    karl, kim, lise = (processes.get_user(database, name) for name in ("karl", "kim", "lise"))
    processes.complete_task(database, open_task(database, case_id, "declare", "kemi"), actor=karl, data={
        "handles_precursors": True, "contact_person": "kim",
        "substances": [{"substance": "acetic anhydride", "annual_quantity": 12, "quantity_unit": "l"}]})
    processes.complete_task(database, open_task(database, case_id, "file_report"), actor=kim, data={
        "substance": "acetic anhydride", "quantity_unit": "l", "opening_stock": 10,
        "purchases": [{"supplier": "=HYPERLINK(1)", "quantity": 2}], "consumption": 3, "disposed": 0,
        "closing_stock": 9})
    processes.complete_task(database, open_task(database, case_id, "review"), actor=lise, data={"review": "accept"})


def test_the_board_is_json_with_counts_and_a_row_per_unit(database, api):
    case_id = campaign(database)

    response = api.get(f"/cases/{case_id}/board", as_="lise")

    assert response.status_code == 200, response.get_json()
    board = response.get_json()
    assert board["case_id"] == case_id and board["process"] == "precursor_reporting"
    assert board["counts"] == {"answered": 1, "answered_late": 0, "late": 0, "open": 1}
    assert [(row["unit"], row["state"], row["task"]) for row in board["rows"]] == [
        ("energi", "answered", "declare"), ("kemi", "open", "declare")]
    assert board["rows"][0]["completed_by"] == "eva" and board["rows"][0]["due_at"].startswith("2027-06-15")


def test_whoever_may_not_read_the_case_gets_403_and_what_is_not_there_404(database, api):
    case_id = campaign(database)

    for path in ("board", "tables/consolidated_report", "tables/consolidated_report?format=csv"):
        refused = api.get(f"/cases/{case_id}/{path}", as_="emil")  # an employee of DTU Energi: no task here
        assert refused.status_code == 403, path
        assert refused.get_json()["error"]["code"]
    assert api.get(f"/cases/{case_id}/board", as_=None).status_code == 401
    assert api.get("/cases/no-such-case/board", as_="lise").status_code == 404

    assert api.get(f"/cases/{case_id}/tables/consolidated_report", as_="lise").status_code == 404  # not yet
    assert api.get(f"/cases/{case_id}/tables/other", as_="lise").status_code == 404  # not exported


def test_the_consolidated_table_as_json_csv_and_xlsx(database, api):
    case_id = campaign(database)
    consolidate(database, case_id)

    table = api.get(f"/cases/{case_id}/tables/consolidated_report", as_="lise").get_json()
    as_csv = api.get(f"/cases/{case_id}/tables/consolidated_report", as_="lise", query_string={"format": "csv"})
    as_xlsx = api.get(f"/cases/{case_id}/tables/consolidated_report", as_="lise", query_string={"format": "xlsx"})

    assert table["name"] == "consolidated_report" and table["case_id"] == case_id
    dtu = table["rows"][-1]
    assert dict(zip(table["columns"], dtu, strict=True))["closing_stock"] == 9
    assert dtu == ["Acetic anhydride", "2A", "DTU", "l", 10, 2, 3, 0, 0, 9]
    assert as_csv.mimetype == "text/csv"
    assert as_csv.headers["Content-Disposition"] == f'attachment; filename="consolidated_report-{case_id[:8]}.csv"'
    rows = list(csv.reader(io.StringIO(as_csv.get_data(as_text=True))))
    assert rows[0] == table["columns"] and rows[-1] == [str(cell) for cell in dtu]
    assert as_xlsx.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(as_xlsx.get_data())).active
    assert [cell.value for cell in sheet[sheet.max_row]] == dtu


def test_an_unknown_format_is_a_400_naming_it_before_the_case_is_read(database, api):
    case_id = campaign(database)

    for query in ({"format": "pdf"}, {"fromat": "csv"}):
        refused = api.get(f"/cases/{case_id}/tables/consolidated_report", as_="emil", query_string=query)
        assert refused.status_code == 400
        assert set(refused.get_json()["error"]["fields"]) == set(query)
