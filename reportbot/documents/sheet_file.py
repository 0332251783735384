"""A spreadsheet of reports as rows of cells (issue 27): .xlsx through openpyxl, or .csv.

What offices hand in: a workbook whose first rows are a title merged across the sheet, a header with
merged cells (a group 客户信息 over 客户 and 电话; a 队名 merged down over its team's rows), dates as real
Excel dates or as text; or a CSV saved by Excel — in China that is GBK (read as GB 18030, which holds it),
elsewhere UTF-8 with a byte-order mark. Every merged range is filled with its top-left value, so each
cell reads as the person sees it. The workbook's sheet named 报备 is read when there is one (the sheet
``/export`` writes the reports into), else the first. Rows keep the line number the person sees (Excel's
row number, the CSV's line), and rows with nothing in them are left out.

Nothing here decides what a cell means: rules/import_columns.py finds the header, rules/import_rows.py
reads the cells.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

Cell = str | int | float | datetime | date | time | None
REPORTS_SHEET = "报备"
MAX_ROWS = 200_000  # a sheet longer than this is no office's ledger: refused before it fills the memory


class SheetError(ValueError):
    """The file cannot be read as a spreadsheet; the message says why, in Chinese and English."""


@dataclass(frozen=True)
class Table:
    sheet: str | None  # the workbook's sheet read (None: a CSV)
    rows: tuple[tuple[int, tuple[Cell, ...]], ...]  # (line number, cells), empty rows left out


def read_table(data: bytes, filename: str) -> Table:
    """The rows of an .xlsx or .csv file (by its name's ending; a workbook is also known by its bytes)."""
    if filename.lower().endswith((".xlsx", ".xlsm")) or data[:2] == b"PK":
        return _read_xlsx(data)
    if filename.lower().endswith(".xls"):
        raise SheetError("不支持旧版 .xls 文件：请在 Excel 里另存为 .xlsx 或 CSV / .xls is not supported: "
                         "save it as .xlsx or CSV")
    return _read_csv(data)


def _blank(value: Cell) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _cell(value: object) -> Cell:
    """openpyxl's value as a plain cell: a Decimal a float, rich text or a formula's text a string."""
    if value is None or isinstance(value, str | int | float | datetime | date | time):
        return value
    from decimal import Decimal

    return float(value) if isinstance(value, Decimal) else str(value)


def _read_xlsx(data: bytes) -> Table:
    from zipfile import BadZipFile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        # Not read-only: a read-only sheet knows nothing of its merged cells.
        book = load_workbook(io.BytesIO(data), data_only=True)
    except (BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise SheetError(f"打不开这个 Excel 文件 / not a readable .xlsx workbook: {exc}") from None
    ws = book[REPORTS_SHEET] if REPORTS_SHEET in book.sheetnames else book.worksheets[0]
    if ws.max_row > MAX_ROWS:
        raise SheetError(f"工作表有 {ws.max_row} 行，超过 {MAX_ROWS} 行 / more than {MAX_ROWS} rows")
    grid: list[list[Cell]] = [[_cell(v) for v in row] for row in ws.iter_rows(values_only=True)]
    for merged in ws.merged_cells.ranges:
        top, left = merged.min_row - 1, merged.min_col - 1
        value = grid[top][left] if top < len(grid) and left < len(grid[top]) else None
        for r in range(merged.min_row - 1, min(merged.max_row, len(grid))):
            for c in range(merged.min_col - 1, min(merged.max_col, len(grid[r]))):
                grid[r][c] = value
    rows = tuple((number, tuple(cells)) for number, cells in enumerate(grid, start=1)
                 if not all(_blank(v) for v in cells))
    return Table(ws.title, rows)


def _decode(data: bytes) -> str:
    """UTF-8 (with or without a byte-order mark), else GB 18030: what Excel in China saves a CSV as."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise SheetError("CSV 文件既不是 UTF-8 也不是 GBK 编码 / the CSV is neither UTF-8 nor GBK") from None


def _read_csv(data: bytes) -> Table:
    text = _decode(data)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    rows: list[tuple[int, tuple[Cell, ...]]] = []
    try:
        for cells in reader:
            if len(rows) > MAX_ROWS:
                raise SheetError(f"超过 {MAX_ROWS} 行 / more than {MAX_ROWS} rows")
            if not all(_blank(v) for v in cells):
                rows.append((reader.line_num, tuple(cells)))
    except csv.Error as exc:
        raise SheetError(f"CSV 第 {reader.line_num} 行读不了 / line {reader.line_num}: {exc}") from None
    return Table(None, tuple(rows))


def template_workbook(headers: Sequence[str], example: Sequence[Cell], date_columns: Sequence[int],
                      created: datetime) -> bytes:
    """An empty sheet of reports to fill in: the header, bold and frozen, and one example row in grey
    (``date_columns``: positions formatted as dates, yyyy-mm-dd hh:mm)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    from reportbot.documents.workbook import DATE_FORMAT, display_width

    book = Workbook()
    ws = book.active
    assert ws is not None
    ws.title = REPORTS_SHEET
    book.properties.creator = "reportbot"
    book.properties.created = book.properties.modified = created.replace(tzinfo=None)
    ws.append(list(headers))
    ws.append(list(example))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for position, cell in enumerate(ws[2]):
        cell.font = Font(color="808080", italic=True)
        if position in date_columns:
            cell.number_format = DATE_FORMAT
    for position, header in enumerate(headers, start=1):
        shown = max(display_width(header), display_width(str(example[position - 1] or "")), 16 if position - 1
                    in date_columns else 0)
        ws.column_dimensions[get_column_letter(position)].width = min(40, shown + 2)
    ws.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
