"""The confirmation card posted to a project's group, and its buttons (built in one place)."""

from __future__ import annotations

from reportbot.handlers.callbacks import CardAction, Verb
from reportbot.handlers.context import Services
from reportbot.handlers.messages import Button, Keyboard
from reportbot.rules.model import REJECT_LABELS, RejectReason, Report, Status


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
    text = svc.render("card.j2", r=report, choosing_reason=choosing_reason, Status=Status)
    if report.status is not Status.PENDING:
        return text, ()
    return text, reason_buttons(report.id) if choosing_reason else decision_buttons(report.id)
