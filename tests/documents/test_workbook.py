"""The workbook writer: Excel dates in local time, numbers as numbers, fitted widths, no whole phone number."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from openpyxl import load_workbook

from reportbot.documents.workbook import Sheet, build_workbook, display_width

CREATED = datetime(2026, 11, 29, 13, 0, tzinfo=UTC)


def book(*sheets: Sheet):  # type: ignore[no-untyped-def]
    return load_workbook(io.BytesIO(build_workbook(sheets, "Asia/Shanghai", 5, CREATED)))


def test_cells_keep_their_types_and_aware_times_become_local_excel_dates() -> None:
    at = datetime(2026, 11, 23, 1, 30, 15, 999, tzinfo=UTC)  # 09:30 in Shanghai
    ws = book(Sheet("报备", ("时间", "客户", "人数", "备注"), [(at, "张先生", 2, None)]))["报备"]
    when, name, count, note = (c for c in ws[2])
    assert when.value == datetime(2026, 11, 23, 9, 30, 15) and when.is_date and when.number_format == "yyyy-mm-dd hh:mm"
    assert (name.value, name.data_type) == ("张先生", "s")
    assert (count.value, count.data_type) == (2, "n")
    assert note.value is None


def test_the_header_is_bold_and_frozen_and_columns_fit_wide_characters() -> None:
    ws = book(Sheet("到访", ("电话", "说明"), [("138***88888", "报备在先：按报备记录归属报备人")]))["到访"]
    assert ws.freeze_panes == "A2" and ws["A1"].font.b and ws.auto_filter.ref == "A1:B2"
    assert ws.column_dimensions["A"].width == 11 + 2
    assert ws.column_dimensions["B"].width == display_width("报备在先：按报备记录归属报备人") + 2 == 32


def test_a_whole_mobile_number_in_any_text_cell_is_masked() -> None:
    ws = book(Sheet("事件", ("说明",), [("客户说打 139 1234 5678 找他",)]))["事件"]
    assert ws["A2"].value == "客户说打 139***45678 找他"


def test_sheet_titles_are_cut_to_excels_limit_and_an_empty_sheet_keeps_its_header() -> None:
    wb = book(Sheet("很长" * 20, ("甲", "乙"), []))
    [ws] = wb.worksheets
    assert len(ws.title) == 31 and ws.max_row == 1 and [c.value for c in ws[1]] == ["甲", "乙"]
    assert wb.properties.creator == "reportbot" and wb.properties.created == datetime(2026, 11, 29, 21, 0)


def test_display_width_counts_wide_characters_twice() -> None:
    assert display_width("BB-1") == 4 and display_width("张先生") == 6 and display_width("（11）") == 6
