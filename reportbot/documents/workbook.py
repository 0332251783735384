"""An .xlsx workbook from plain sheets (openpyxl): frozen bold header, fitted widths, real Excel dates.

Excel dates carry no time zone, so every aware datetime is written as the office's local wall time.
Every text cell passes the phone guard once more: a whole mobile number never reaches the file.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from reportbot.rules.privacy import mask_full_numbers

DATE_FORMAT = "yyyy-mm-dd hh:mm"
MIN_WIDTH, MAX_WIDTH = 6, 60

Cell = str | int | float | datetime | None


@dataclass(frozen=True)
class Sheet:
    title: str  # at most 31 characters (Excel's limit)
    headers: tuple[str, ...]
    rows: Sequence[Sequence[Cell]]


def display_width(text: str) -> int:
    """Columns a text takes in a spreadsheet: wide (CJK) characters count two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _shown(value: Cell) -> str:
    if isinstance(value, datetime):
        return "2026-11-23 10:00"
    return "" if value is None else str(value)


def build_workbook(sheets: Sequence[Sheet], timezone: str, suffix_digits: int, created: datetime) -> bytes:
    """The workbook's bytes; ``created`` (aware) is stamped as its creation time."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    tz = ZoneInfo(timezone)
    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]  # stubs: "any sheet or None"; a new Workbook: its one Worksheet
    book.properties.creator = "reportbot"
    book.properties.created = book.properties.modified = created.astimezone(tz).replace(tzinfo=None)
    for sheet in sheets:
        ws = book.create_sheet(sheet.title[:31])
        ws.append(list(sheet.headers))
        for cell in ws[1]:
            cell.font = Font(bold=True)
        widths = [display_width(h) for h in sheet.headers]
        for row in sheet.rows:
            ws.append([_value(v, tz, suffix_digits) for v in row])
            for cell, value in zip(ws[ws.max_row], row, strict=True):
                if isinstance(value, datetime):
                    cell.number_format = DATE_FORMAT
            widths = [max(w, display_width(_shown(v))) for w, v in zip(widths, row, strict=True)]
        for column, width in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(column)].width = min(MAX_WIDTH, max(MIN_WIDTH, width + 2))
        ws.freeze_panes = "A2"
        if sheet.rows:
            ws.auto_filter.ref = ws.dimensions
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _value(value: Cell, tz: ZoneInfo, suffix_digits: int) -> Cell:
    if isinstance(value, datetime):
        return value.astimezone(tz).replace(tzinfo=None, microsecond=0)
    if isinstance(value, str):
        return mask_full_numbers(value, suffix_digits)
    return value
