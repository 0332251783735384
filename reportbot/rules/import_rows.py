"""One row of an imported spreadsheet as a report, or what is wrong with it, field by field (issue 27).

Each cell goes through the check the report parser uses for that field (rules/report_fields.py,
rules/phone.py): a name with digits, a 前三后四 phone under the default policy, a team too long are refused
in the same words as in the chat. What the chat cannot have is checked here: the report time (required,
not in the future; the original time, because first come is decided by it), the status, and the team and
canvasser against the office's staff (``Directory``): a team nobody is registered in is refused, a
canvasser not registered in that team is recorded by name and flagged (``Row.registered`` False).

A whole phone number is masked on the way in (``Phone.was_full``), in the phone column and in the notes;
none is kept. The template's example row (its note is ``EXAMPLE_NOTE``) and empty rows are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, TypeVar

from reportbot.rules.import_columns import COLUMN_NAMES, TEMPLATE_COLUMNS, Column
from reportbot.rules.import_values import (
    NO_TIME,
    STATUS_SHOWN,
    Cell,
    TimeProblem,
    as_text,
    read_status,
    read_time,
)
from reportbot.rules.model import REJECT_LABELS, RejectReason, Staff, Status
from reportbot.rules.phone import Phone
from reportbot.rules.policy import Policy
from reportbot.rules.privacy import mask_full_numbers
from reportbot.rules.refusal import Field, Refusal
from reportbot.rules.report_fields import check_customer, check_name, check_optional, check_phone
from reportbot.rules.report_text import fold, normalise

EXAMPLE_NOTE: Final = "示例行，导入时跳过，可删除"
RECEIPT: Final = re.compile(r"BB-\d{8}-\d{4,8}")
_REJECT_WORDS: Final = {label: reason for reason, label in REJECT_LABELS.items()}
T = TypeVar("T")


def name_key(name: str) -> str:
    """A team's or a person's name as compared: folded, spaces collapsed (as check_name leaves it)."""
    return normalise(fold(name))


@dataclass(frozen=True)
class Directory:
    """The office's staff as the import matches names against them."""

    staff: tuple[Staff, ...]
    teams: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "teams", frozenset(name_key(s.team) for s in self.staff))

    def in_team(self, name: str, team: str) -> list[Staff]:
        return [s for s in self.staff if name_key(s.name) == name and name_key(s.team) == team]

    def named(self, name: str) -> list[Staff]:
        return [s for s in self.staff if name_key(s.name) == name_key(name)]


@dataclass(frozen=True)
class Row:
    """A row read and checked: a report to import, its times aware in the office's zone."""

    line: int
    customer: str
    phone: Phone
    team: str
    canvasser: str
    canvasser_id: int | None  # None: not registered in that team, recorded by name (flagged)
    reported_at: datetime
    appointment_at: datetime | None
    status: Status | None  # as the sheet says; None: worked out from the time (rules/import_plan.py)
    note: str | None
    receipt_no: str | None = None
    filed_by_id: int | None = None
    decided_by_id: int | None = None
    decided_at: datetime | None = None
    reject_reason: RejectReason | None = None
    reason: str | None = None

    @property
    def registered(self) -> bool:
        return self.canvasser_id is not None


@dataclass(frozen=True)
class RowProblem:
    """One thing wrong with a row: its line in the file, the column and why (a refusal's template)."""

    line: int
    column: Column
    refusal: Refusal


def read_row(
    line: int, cells: Mapping[Column, Cell], directory: Directory, policy: Policy, now: datetime
) -> Row | list[RowProblem] | None:
    """The row as a report, or every problem in it; None for an empty row or the template's example."""
    if all(not as_text(v).strip() for v in cells.values()):
        return None
    if normalise(as_text(cells.get(Column.NOTE))) == EXAMPLE_NOTE:
        return None
    problems: list[RowProblem] = []

    def keep(column: Column, value: T | Refusal) -> T | None:
        if isinstance(value, Refusal):
            problems.append(RowProblem(line, column, value))
            return None
        return value

    text = {column: as_text(value) for column, value in cells.items()}
    digits = policy.mask_suffix_digits
    customer = keep(Column.CUSTOMER, check_customer(text.get(Column.CUSTOMER)))
    phone = keep(Column.PHONE, check_phone(text.get(Column.PHONE), policy))
    team = keep(Column.TEAM, check_name(text.get(Column.TEAM), Field.TEAM, True))
    canvasser = keep(Column.CANVASSER, check_name(text.get(Column.CANVASSER), Field.CANVASSER, False))
    reported_at = keep(Column.REPORTED_AT, _reported_at(cells.get(Column.REPORTED_AT), text, now))
    appointment = keep(Column.APPOINTMENT, _optional_time(Column.APPOINTMENT, Field.APPOINTMENT, cells, text, now))
    decided_at = keep(Column.DECIDED_AT, _optional_time(Column.DECIDED_AT, Field.STATUS, cells, text, now))
    status = keep(Column.STATUS, _status(cells.get(Column.STATUS)))
    note = keep(Column.NOTE, check_optional(text.get(Column.NOTE), Field.NOTE))
    reason = keep(Column.REASON, check_optional(text.get(Column.REASON), Field.REASON))
    canvasser_id: int | None = None
    if team is not None and team not in directory.teams:
        problems.append(RowProblem(line, Column.TEAM, Refusal.of(Field.TEAM, "import_team_unknown", team=team)))
    elif team is not None and canvasser is not None:
        found = directory.in_team(canvasser, team)
        if len(found) > 1:
            refusal = Refusal.of(Field.CANVASSER, "import_canvasser_ambiguous", name=canvasser, team=team)
            problems.append(RowProblem(line, Column.CANVASSER, refusal))
        canvasser_id = found[0].id if len(found) == 1 else None
    if reported_at is not None and appointment is not None and appointment < reported_at:
        refusal = Refusal.of(Field.APPOINTMENT, "import_appointment_before_report",
                             at=as_text(cells.get(Column.APPOINTMENT)))
        problems.append(RowProblem(line, Column.APPOINTMENT, refusal))
    if problems:
        return problems
    assert customer is not None and phone is not None and team is not None and canvasser is not None
    assert reported_at is not None
    return Row(
        line=line, customer=customer, phone=phone, team=team, canvasser=canvasser, canvasser_id=canvasser_id,
        reported_at=reported_at, appointment_at=appointment, status=status,
        note=mask_full_numbers(note, digits) if note else None,
        receipt_no=_receipt(text.get(Column.RECEIPT)),
        filed_by_id=None if name_key(text.get(Column.FILED_BY, "")) == canvasser else _person(
            directory, text.get(Column.FILED_BY)),
        decided_by_id=_person(directory, text.get(Column.DECIDED_BY)),
        decided_at=decided_at,
        reject_reason=_reject_reason(text.get(Column.REJECT_REASON)),
        reason=mask_full_numbers(reason, digits) if reason else None,
    )


def _time_refusal(problem: TimeProblem, field_: Field, column: Column, written: str) -> Refusal:
    code = "import_time_no_time" if problem == NO_TIME else "import_time_unrecognised"
    return Refusal.of(field_, code, column=COLUMN_NAMES[column], text=written.strip()[:30])


def _reported_at(value: Cell, text: Mapping[Column, str], now: datetime) -> datetime | Refusal:
    found = read_time(value, now)
    if found is None:
        return Refusal.of(Field.REPORTED_AT, "import_reported_at_missing")
    if isinstance(found, TimeProblem):
        return _time_refusal(found, Field.REPORTED_AT, Column.REPORTED_AT, text.get(Column.REPORTED_AT, ""))
    if found > now:
        return Refusal.of(Field.REPORTED_AT, "import_reported_at_future", at=found.strftime("%Y-%m-%d %H:%M"))
    return found


def _optional_time(
    column: Column, field_: Field, cells: Mapping[Column, Cell], text: Mapping[Column, str], now: datetime
) -> datetime | None | Refusal:
    found = read_time(cells.get(column), now)
    if isinstance(found, TimeProblem):
        return _time_refusal(found, field_, column, text.get(column, ""))
    return found


def _status(value: Cell) -> Status | None | Refusal:
    found = read_status(value)
    if isinstance(found, str) and not isinstance(found, Status):
        return Refusal.of(Field.STATUS, "import_status_unknown", text=found[:20], shown=STATUS_SHOWN)
    return found


def _receipt(value: str | None) -> str | None:
    """The receipt number of a row /export wrote (kept when it is free); any other numbering is not ours."""
    text = normalise(fold(value or "")).upper()
    return text if RECEIPT.fullmatch(text) else None


def _person(directory: Directory, name: str | None) -> int | None:
    """Who filed or decided it, when the sheet says so and exactly one registered person has that name."""
    found = directory.named(name or "") if name and name.strip() else []
    return found[0].id if len(found) == 1 else None


def _reject_reason(value: str | None) -> RejectReason | None:
    text = normalise(value or "")
    return _REJECT_WORDS.get(text, RejectReason.OTHER) if text else None


def read_rows(
    rows: Sequence[tuple[int, Mapping[Column, Cell]]], directory: Directory, policy: Policy, now: datetime
) -> tuple[list[Row], list[RowProblem], int]:
    """Every row read: the reports, every problem (by line), and how many rows were skipped (empty, example)."""
    read: list[Row] = []
    problems: list[RowProblem] = []
    skipped = 0
    for line, cells in rows:
        found = read_row(line, cells, directory, policy, now)
        if found is None:
            skipped += 1
        elif isinstance(found, Row):
            read.append(found)
        else:
            problems.extend(found)
    return read, problems, skipped


def template_example(now: datetime, policy: Policy) -> list[Cell]:
    """The example row of `reportbot import template`, under TEMPLATE_COLUMNS (skipped when imported)."""
    from datetime import timedelta

    from reportbot.rules.phone import mask_example

    reported = (now - timedelta(days=1)).replace(hour=14, minute=0, second=0, microsecond=0, tzinfo=None)
    example: dict[Column, Cell] = {
        Column.CUSTOMER: "张先生", Column.PHONE: mask_example(policy.mask_suffix_digits), Column.TEAM: "飞虎队",
        Column.CANVASSER: "李四", Column.REPORTED_AT: reported, Column.APPOINTMENT: reported + timedelta(days=2, hours=1),
        Column.STATUS: "有效", Column.NOTE: EXAMPLE_NOTE,
    }
    return [example.get(column) for column in TEMPLATE_COLUMNS]
