"""A case's exported table (``processes.case_table``) as CSV and as an XLSX workbook (openpyxl)."""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import Workbook

from processes.views import TableView

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CSV_MIMETYPE = "text/csv"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _safe_text(value: Any) -> Any:
    """Text a spreadsheet would run as a formula is given a leading apostrophe (CSV/formula injection)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_csv(table: TableView) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow(["" if value is None else _safe_text(value) for value in row])
    return buffer.getvalue()


def to_xlsx(table: TableView) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = table.name[:31]
    sheet.append(table.columns)
    for row in table.rows:
        sheet.append([_safe_text(value) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def download_name(table: TableView, extension: str) -> str:
    """The file name a download of the table is saved as: the table's name and the case id's first part."""
    return f"{table.name}-{table.case_id[:8]}.{extension}"
