"""The report written out: JSON, CSV (one table, or every table in one long layout), ODS with
one sheet per table, and the printable annual-report page."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Final, Literal

import msgspec
from jinja2 import Environment, FileSystemLoader, select_autoescape
from odfdo import Document
from odfdo import Table as Sheet

from disclosure.reports.metrics import SPECS
from disclosure.reports.service import Report
from disclosure.reports.tables import Cell, Table

Format = Literal["json", "csv", "ods", "html"]
FORMATS: Final[tuple[Format, ...]] = ("json", "csv", "ods", "html")
# The response adds the charset (UTF-8) to the text types itself.
MEDIA_TYPES: Final[dict[Format, str]] = {
    "json": "application/json",
    "csv": "text/csv",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "html": "text/html",
}
# The columns of the CSV that holds every table: one line per cell.
LONG_COLUMNS: Final = ("table", "row", "row_label", "column", "column_label", "value")
_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)


def _shown(value: Cell) -> str:
    return "" if value is None else str(value)


def table_csv(table: Table) -> str:
    """One table as CSV: a header of column labels, then one line per row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["row", "label", *(c.id for c in table.columns)])
    for row in table.rows:
        writer.writerow([row.id, row.label, *(_shown(row.cells.get(c.id))
                                              for c in table.columns)])
    return out.getvalue()


def long_csv(report: Report) -> str:
    """Every table in one CSV, one line per cell (LONG_COLUMNS)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(LONG_COLUMNS)
    for table in report.tables:
        for row in table.rows:
            for column in table.columns:
                writer.writerow([table.id, row.id, row.label, column.id, column.label,
                                 _shown(row.cells.get(column.id))])
    return out.getvalue()


def ods(report: Report) -> bytes:
    """An OpenDocument spreadsheet, one sheet per table named by its id: the column ids on the
    first line, their labels on the second, then the rows."""
    document = Document("spreadsheet")
    document.body.clear()
    for table in report.tables:
        sheet = Sheet(table.id)
        lines: list[list[Cell]] = [
            ["row", "label", *(c.id for c in table.columns)],
            ["", table.title, *(c.label for c in table.columns)],
        ]
        lines += [[row.id, row.label, *(row.cells.get(c.id) for c in table.columns)]
                  for row in table.rows]
        sheet.set_values([[("" if v is None else v) for v in line] for line in lines])
        document.body.append(sheet)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def html(report: Report, *, area_name: str) -> str:
    """The printable annual report: each table with the year before and the change."""
    template = _TEMPLATES.get_template("annual.html")
    return template.render(report=report, area_name=area_name, specs=SPECS)


def render(report: Report, form: Format, *, table: str | None = None,
           area_name: str = "") -> bytes:
    """The report in one format; CSV is one table if `table` names it, else every table."""
    if form == "json":
        if table is not None:
            return msgspec.json.encode(next(t for t in report.tables if t.id == table))
        return msgspec.json.encode(report)
    if form == "csv":
        if table is not None:
            return table_csv(next(t for t in report.tables if t.id == table)).encode()
        return long_csv(report).encode()
    if form == "ods":
        return ods(report)
    return html(report, area_name=area_name or report.area).encode()
