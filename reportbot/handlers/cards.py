"""The confirmation card posted to a project's group, and its buttons (built in one place).

A report's card is one message per report — until the group's line falls behind its channel's limit
(Telegram lets 20 messages a minute into a group): then the transport gathers the cards waiting in it
into one card (``gather``) that lists each report with its own 确认 and 驳回 and a 全部确认. A gathered
card is recorded (storage.cards): its buttons name it, so a press finds the card's reports and the card
is edited as decisions come in. A report's live card is the newest gathered card it is on; a press on an
older one (cards in flight at a crash are sent again, gathered) changes nothing and says where the report
went. A single card, like a pending reminder's, always decides: its report is never taken off it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from reportbot.handlers.callbacks import CardAction, GatheredAction, Verb
from reportbot.handlers.context import Services
from reportbot.handlers.messages import PICKED, Button, Keyboard, Pick, Send
from reportbot.rules.model import REJECT_LABELS, RejectReason, Report, Status

# Channels whose cards take only a few buttons (a WeCom template card: 6): there a gathered card's reports
# are picked from a list (``Pick``: at most 10 options) and acted on with 确认所选 / 驳回所选.
PICKS_FROM_A_LIST = frozenset({"wecom"})
TEXT_MOST = 4000  # a gathered card's text, within Telegram's 4,096 characters a message


def decision_buttons(report_id: int) -> Keyboard:
    return (
        (
            Button("确认", CardAction(Verb.CONFIRM, report_id).encode()),
            Button("驳回", CardAction(Verb.REJECT_MENU, report_id).encode()),
        ),
    )


def reason_buttons(report_id: int) -> Keyboard:
    reasons = tuple(
        Button(REJECT_LABELS[reason], CardAction(Verb.REJECT, report_id, reason).encode()) for reason in RejectReason
    )
    return (reasons[:2], reasons[2:], (Button("返回", CardAction(Verb.BACK, report_id).encode()),))


def card(svc: Services, report: Report, *, choosing_reason: bool = False) -> tuple[str, Keyboard]:
    """The card's text and buttons for the report as it stands now."""
    text = svc.render("card.j2", r=report, choosing_reason=choosing_reason, moved=False, Status=Status)
    if report.status is not Status.PENDING:
        return text, ()
    return text, reason_buttons(report.id) if choosing_reason else decision_buttons(report.id)


# -- gathered cards ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    number: int  # its place on the card, from 1
    report: Report
    moved: bool  # its live card is a newer one

    @property
    def open(self) -> bool:
        """Still to be decided here."""
        return not self.moved and self.report.status is Status.PENDING


def lines_of(card_id: int, reports: Sequence[Report], live: dict[int, int]) -> list[Line]:
    """The card's reports in its order; ``live``: report id → its newest card (a report missing is on this one)."""
    return [Line(n, r, live.get(r.id, card_id) != card_id) for n, r in enumerate(reports, 1)]


def gathered_card(
    svc: Services, card_id: int, lines: Sequence[Line], channel: str, *, choosing: int | None = None
) -> tuple[str, Keyboard, Pick | None]:
    """A gathered card's text, buttons and list to pick from, as its reports stand now. ``choosing``: the
    report whose reject reason is being chosen (the card's buttons are then that report's reasons)."""
    chosen = next((line for line in lines if line.report.id == choosing and line.open), None)
    if len(lines) == 1:  # a card sent again after a crash: one report, the single card's look
        line = lines[0]
        text = svc.render("card.j2", r=line.report, choosing_reason=chosen is not None, moved=line.moved,
                          Status=Status)
    else:
        text = svc.render("card_gathered.j2", lines=lines, chosen=chosen, Status=Status, brief=False)
        if len(text) > TEXT_MOST:  # twenty reports with long notes: the notes and reasons stay on their receipts
            text = svc.render("card_gathered.j2", lines=lines, chosen=chosen, Status=Status, brief=True)
    if chosen is not None:
        return text, _reasons(card_id, chosen.report.id), None
    open_lines = [line for line in lines if line.open]
    if not open_lines:
        return text, (), None
    if len(lines) == 1:
        return text, (_row(card_id, open_lines[0].report.id, "确认", "驳回"),), None
    every = ((Button("全部确认", GatheredAction(Verb.ALL, card_id).encode()),),) if len(open_lines) > 1 else ()
    if channel in PICKS_FROM_A_LIST:
        options = tuple((str(line.report.id), f"{line.number}. {line.report.customer} {line.report.phone}")
                        for line in open_lines)
        return text, (_row(card_id, None, "确认所选", "驳回所选"), *every), Pick("选择报备", options)
    rows = tuple(_row(card_id, line.report.id, f"{line.number} 确认", f"{line.number} 驳回") for line in open_lines)
    return text, rows + every, None


def _row(card_id: int, report_id: int | None, confirm: str, reject: str) -> tuple[Button, ...]:
    """确认 and 驳回 for one report (``report_id`` None: for the one picked from the card's list)."""
    picked = PICKED if report_id is None else None
    return (
        Button(confirm, GatheredAction(Verb.CONFIRM, card_id, report_id).encode(picked)),
        Button(reject, GatheredAction(Verb.REJECT_MENU, card_id, report_id).encode(picked)),
    )


def _reasons(card_id: int, report_id: int) -> Keyboard:
    reasons = tuple(
        Button(REJECT_LABELS[reason], GatheredAction(Verb.REJECT, card_id, report_id, reason).encode())
        for reason in RejectReason
    )
    return (reasons[:2], reasons[2:], (Button("返回", GatheredAction(Verb.BACK, card_id, report_id).encode()),))


async def gather(svc: Services, channel: str, chat_id: str, report_ids: Sequence[int], now: datetime) -> Send:
    """One card for these reports' waiting cards (in this order), recorded as their live card from now on."""
    async with svc.db.uow() as uow:
        card_id = await uow.cards.add(channel, chat_id, report_ids, now)
        reports = await uow.reports.get_many(report_ids)
        await uow.commit()
    text, buttons, pick = gathered_card(svc, card_id, lines_of(card_id, reports, {}), channel)
    return Send(chat_id, text, buttons, channel, pick=pick)
