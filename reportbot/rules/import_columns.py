"""The columns of a spreadsheet of reports (issue 27: day one, the office's ledger carried over), and
where its header is.

An office's sheet names its columns as its assistant did years ago: the report parser's labels
(rules/report_labels.py: 客户姓名, 联系电话, 渠道, 经纪人 …), the headers ``/export`` writes (回执号, 报备时间,
预约到访, 有效期至, 状态 …) and a few more that only sheets use (报备日期, 客户状态). A header cell is
folded before it is looked up (full-width letters and colons, spaces anywhere, a remark in brackets
such as 电话（必填）, a star marking a required column), so ``客户 姓名*`` is 客户姓名.

Sheets carry a title above the header (``森林半岛渠道报备台账 2026年11月``, often merged across the row),
sometimes a group row (``客户信息`` over 客户 and 电话): the header is the first row, among the first
``HEADER_SEARCH_ROWS``, that names the most known columns and at least ``HEADER_MIN_KNOWN`` of them.
Columns nobody listed (序号, 物业类型 …) are left alone; a known column twice is a problem, never a guess.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from reportbot.rules.import_values import Cell
from reportbot.rules.refusal import Field
from reportbot.rules.report_labels import LABELS
from reportbot.rules.report_text import fold

HEADER_SEARCH_ROWS = 10
HEADER_MIN_KNOWN = 3


class Column(StrEnum):
    """A column the import reads."""

    CUSTOMER = "customer"
    PHONE = "phone"
    TEAM = "team"
    CANVASSER = "canvasser"
    REPORTED_AT = "reported_at"
    APPOINTMENT = "appointment"
    STATUS = "status"
    NOTE = "note"
    # Written by /export, read back so that an exported ledger comes back the same (a restore, a second office).
    RECEIPT = "receipt"
    FILED_BY = "filed_by"
    DECIDED_BY = "decided_by"
    DECIDED_AT = "decided_at"
    REJECT_REASON = "reject_reason"
    REASON = "reason"


REQUIRED: Final = (Column.CUSTOMER, Column.PHONE, Column.TEAM, Column.CANVASSER, Column.REPORTED_AT)

# The name a person reads: the template's header, and the column named in a problem.
COLUMN_NAMES: Final[dict[Column, str]] = {
    Column.CUSTOMER: "客户",
    Column.PHONE: "电话",
    Column.TEAM: "队名",
    Column.CANVASSER: "拓客",
    Column.REPORTED_AT: "报备时间",
    Column.APPOINTMENT: "预约到访时间",
    Column.STATUS: "状态",
    Column.NOTE: "备注",
    Column.RECEIPT: "回执号",
    Column.FILED_BY: "录入人",
    Column.DECIDED_BY: "处理人",
    Column.DECIDED_AT: "处理时间",
    Column.REJECT_REASON: "驳回原因",
    Column.REASON: "重报原因",
}

# The columns of `reportbot import template`, in order (the list).
TEMPLATE_COLUMNS: Final = (
    Column.CUSTOMER, Column.PHONE, Column.TEAM, Column.CANVASSER, Column.REPORTED_AT, Column.APPOINTMENT,
    Column.STATUS, Column.NOTE,
)

_FROM_LABELS: Final = {
    Column.CUSTOMER: Field.CUSTOMER, Column.PHONE: Field.PHONE, Column.TEAM: Field.TEAM,
    Column.CANVASSER: Field.CANVASSER, Column.APPOINTMENT: Field.APPOINTMENT, Column.NOTE: Field.NOTE,
}
# Beyond the parser's labels: the /export headers and what sheets call their columns.
_MORE: Final[dict[Column, tuple[str, ...]]] = {
    Column.CUSTOMER: ("客户姓名/称呼",),
    Column.TEAM: ("所在队", "归属队", "队伍名称", "团队名"),
    Column.CANVASSER: ("拓客人", "报备人员", "置业顾问/拓客"),
    Column.REPORTED_AT: ("报备时间", "报备日期", "报备日期时间", "报备时间点", "提交时间", "登记时间", "录入时间",
                         "reported", "reportedat", "reporttime"),
    Column.APPOINTMENT: ("预约到访时间", "预约到访日期", "预计到访日期", "预约来访时间"),
    Column.STATUS: ("状态", "报备状态", "客户状态", "当前状态", "status"),
    Column.NOTE: ("备注说明", "其他备注"),
    Column.RECEIPT: ("回执号", "回执编号", "报备编号", "报备单号", "receipt"),
    Column.FILED_BY: ("录入人", "代报人", "登记人"),
    Column.DECIDED_BY: ("处理人", "确认人", "审核人"),
    Column.DECIDED_AT: ("处理时间", "确认时间", "审核时间"),
    Column.REJECT_REASON: ("驳回原因",),
    Column.REASON: ("重报原因", "原因", "未到访原因"),
}
# In a sheet 时间 alone is as likely the report's time as the visit's: not read (the parser reads it as the
# visit's, where the message says 报备). 有效期至 and 状态记录 (/export) are worked out again, not read.
_NOT_IN_SHEETS: Final = frozenset({"时间", "time"})


def _key(header: str) -> str:
    """A header cell as it is looked up: folded, lower case, without spaces, remarks, stars and colons."""
    text = fold(header).lower()
    text = re.sub(r"\([^()]*\)|\[[^\[\]]*\]|【[^【】]*】", "", text)
    return re.sub(r"[\s*:：#.、]+", "", text)


def _aliases() -> dict[str, Column]:
    found: dict[str, Column] = {}
    for column, field_ in _FROM_LABELS.items():
        for label in LABELS[field_]:
            if label not in _NOT_IN_SHEETS:
                found[_key(label)] = column
    for column, labels in _MORE.items():
        for label in labels:
            found[_key(label)] = column
    for column, name in COLUMN_NAMES.items():
        found[_key(name)] = column
    found[_key("姓名(行销)")] = Column.CANVASSER  # brackets are remarks elsewhere; this one names the column
    found[_key("预约到访")] = Column.APPOINTMENT  # /export's header
    return found


ALIASES: Final[dict[str, Column]] = _aliases()


def column_of(header: object) -> Column | None:
    """The column a header cell names, or None (a column the import leaves alone)."""
    if not isinstance(header, str):
        return None
    if "(行销)" in fold(header).replace(" ", "") or "（行销）" in header:
        return Column.CANVASSER
    return ALIASES.get(_key(header))


@dataclass(frozen=True)
class Header:
    """Where the header is (its index in the rows given) and which column each cell position is."""

    index: int
    columns: dict[int, Column]


@dataclass(frozen=True)
class HeaderProblem:
    """No header found, a required column missing, or a column named twice; the names are COLUMN_NAMES."""

    code: str  # "no_header" | "missing" | "twice"
    columns: tuple[str, ...] = ()


def find_header(rows: Sequence[Sequence[object]]) -> Header | HeaderProblem:
    """The header among the first rows: the one naming most known columns (the first of equals)."""
    best: tuple[int, dict[int, Column], list[Column]] | None = None
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        named = [(position, column_of(cell)) for position, cell in enumerate(row)]
        known = [(position, column) for position, column in named if column is not None]
        if len(known) >= HEADER_MIN_KNOWN and (best is None or len(known) > len(best[1])):
            seen: list[Column] = [column for _, column in known]
            best = (index, dict(known), seen)
    if best is None:
        return HeaderProblem("no_header", tuple(COLUMN_NAMES[c] for c in REQUIRED))
    index, columns, seen = best
    twice = sorted({c for c in seen if seen.count(c) > 1}, key=list(Column).index)
    if twice:
        return HeaderProblem("twice", tuple(COLUMN_NAMES[c] for c in twice))
    missing = [c for c in REQUIRED if c not in columns.values()]
    if missing:
        return HeaderProblem("missing", tuple(COLUMN_NAMES[c] for c in missing))
    return Header(index, columns)


def under_header(header: Header, rows: Sequence[tuple[int, Sequence[Cell]]]) -> list[tuple[int, dict[Column, Cell]]]:
    """The rows below the header, each (line, cell of every known column; None where the row is short)."""
    return [
        (line, {column: cells[position] if position < len(cells) else None
                for position, column in header.columns.items()})
        for line, cells in rows[header.index + 1:]
    ]
