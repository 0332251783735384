"""Use case: /export (and `reportbot export`) — the period's ledger as an .xlsx workbook, one sheet per table."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from reportbot.documents.workbook import Sheet, build_workbook
from reportbot.handlers.context import Services
from reportbot.handlers.identity import private_chat_of
from reportbot.handlers.messages import Action, Incoming, Send, SendDocument
from reportbot.handlers.scope import resolve_scope
from reportbot.rules.model import REJECT_LABELS, STATUS_LABELS, EventKind, Project, RejectReason, Staff
from reportbot.rules.reminders import Kind
from reportbot.rules.stats import Period

EVENT_LABELS = {
    EventKind.REPORTED: "报备",
    EventKind.DUPLICATE_REFUSED: "撞单被拒",
    EventKind.CONFIRMED: "确认",
    EventKind.REJECTED: "驳回",
    EventKind.VISITED: "到访",
    EventKind.REVISITED: "复访",
    EventKind.EXPIRED: "失效",
    EventKind.PUBLIC: "列为公号",
    EventKind.RELEASED: "解除公号",
    EventKind.CLAIMED: "证据改判",
    EventKind.REVOKED: "撤销归属",
    EventKind.FOLLOWED_UP: "跟进",
    EventKind.LAPSED: "归属失效",
    EventKind.DEAL: "成交",
    EventKind.IMPORTED: "导入台账",
    EventKind.FORGOTTEN: "应客户要求删除姓名和电话",
}
RULE_NAMES = {
    "reported": "报备在先",
    "brought": "带客上门",
    "natural": "自然来访",
    "late_claim": "证据改判",
    "reassigned": "撤销改派",
}
REMINDER_NAMES: dict[str, str] = {
    Kind.APPOINTMENT_DAY: "到访日提醒",
    Kind.APPOINTMENT_SOON: "到访前提醒",
    Kind.EXPIRES_TONIGHT: "今晚失效提醒",
    Kind.EXPIRED: "失效通知",
    Kind.PENDING: "待确认提醒",
    Kind.FIRST_FOLLOWUP: "首次跟进提醒",
    Kind.SECOND_FOLLOWUP: "二次跟进提醒",
    Kind.LAPSED: "归属失效通知",
    Kind.DIGEST: "日报",
    Kind.WEEKLY: "周统计",
}
LAST_MINUTE = timedelta(minutes=1)  # validity ends at midnight; receipts show 23:59 of the last day, so does the sheet
_UNSAFE = re.compile(r'[\\/:*?"<>|\s]+')


@dataclass(frozen=True)
class Ledger:
    build: Callable[[], bytes]  # the workbook, made from rows already read
    filename: str
    counts: dict[str, int]


async def export_ledger(svc: Services, project: Project, period: Period, now: datetime) -> Ledger:
    """Reports with their status history, visits and decisions, refused duplicates, reminders sent,
    deals and the event log of ``period``; dates in local time, phones masked."""
    async with svc.db.uow(write=False) as uow:
        reports = await uow.ledger.reports(project.id, period.start, period.end)
        events = await uow.ledger.events(project.id, period.start, period.end)
        visits = await uow.ledger.visits(project.id, period.start, period.end)
        reminders = await uow.ledger.reminders_sent(project.id, period.start, period.end)
        deals = await uow.deals.between(project.id, period.start, period.end)
    tz = svc.tz
    history: dict[int, list[str]] = {}
    for e in events:
        if e.report_id is not None and e.kind is not EventKind.DUPLICATE_REFUSED:
            stamp = e.at.astimezone(tz).strftime("%m-%d %H:%M")
            history.setdefault(e.report_id, []).append(f"{stamp} {EVENT_LABELS[e.kind]}（{e.actor_name}）")
    in_period = [e for e in events if period.start <= e.at < period.end]
    duplicates = [e for e in in_period if e.kind is EventKind.DUPLICATE_REFUSED]
    sheets = [
        Sheet("报备", ("回执号", "报备时间", "客户", "电话", "队名", "拓客", "录入人", "预约到访", "有效期至", "状态",
                     "处理人", "处理时间", "驳回原因", "备注", "重报原因", "状态记录"),
              [(r.receipt_no, r.reported_at, r.customer, r.phone, r.team, r.canvasser_name, r.filed_by_name,
                r.appointment_at, r.valid_until - LAST_MINUTE, STATUS_LABELS[r.status], r.decided_by_name, r.decided_at,
                REJECT_LABELS[RejectReason(r.reject_reason)] if r.reject_reason else None, r.note, r.reason,
                "；".join(history.get(r.id, []))) for r in reports]),
        Sheet("到访判客", ("到访时间", "电话", "客户", "回执号", "判客依据", "当前归属", "归属队", "带客人", "登记人",
                       "同行人数", "归属失效时间"),
              [(v.at, v.phone, v.customer, v.receipt_no, RULE_NAMES.get(v.rule, v.rule), v.owner_name or "案场",
                v.owner_team, v.brought_by_name, v.registered_by_name, v.companions, v.lapsed_at) for v in visits]),
        Sheet("撞单被拒", ("时间", "电话", "被拒拓客", "所在队", "代报人", "在先回执号", "在先队名"),
              [(e.at, e.phone, e.actor_name, e.actor_team, e.detail, e.receipt_no, e.report_team) for e in duplicates]),
        Sheet("提醒发送", ("发送时间", "应发时间", "类型", "对象", "回执号", "电话"),
              [(m.sent_at, m.due_at, REMINDER_NAMES.get(m.kind, m.kind), m.to_name or "项目群", m.receipt_no,
                m.phone) for m in reminders]),
        Sheet("成交", ("成交时间", "电话", "归属人", "归属队", "登记人", "备注"),
              [(d.at, d.phone, d.owner_name or "案场", d.team, d.recorded_by_name, d.note) for d in deals]),
        Sheet("事件记录", ("时间", "电话", "事件", "操作人", "所在队", "回执号", "说明"),
              [(e.at, e.phone, EVENT_LABELS[e.kind], e.actor_name, e.actor_team, e.receipt_no, e.detail)
               for e in in_period]),
    ]
    # Built when it is sent (SendDocument), on a thread: a month's workbook takes a while to build, and
    # neither the handling's transaction nor the event loop should wait for it.
    build = partial(build_workbook, sheets, svc.policy.timezone, svc.policy.mask_suffix_digits, now)
    filename = f"报备台账-{_UNSAFE.sub('_', project.name)}-{period.first:%Y%m%d}-{period.last:%Y%m%d}.xlsx"
    counts = {"reports": len(reports), "visits": len(visits), "duplicates": len(duplicates), "deals": len(deals),
              "reminders": len(reminders), "events": len(in_period)}
    return Ledger(build, filename, counts)


async def handle_export(
    msg: Incoming, sender: Staff, project: Project | None, args: str, svc: Services
) -> list[Action]:
    """The workbook goes to the asker privately; asked in a group, the group is only told it was sent."""
    scope = await resolve_scope(msg, sender, project, args, svc, "export", default="month")
    if isinstance(scope, list):
        return scope
    ledger = await export_ledger(svc, scope.project, scope.period, msg.now)
    caption = svc.render("export_caption.j2", project=scope.project, period=scope.period, counts=ledger.counts)
    if not msg.is_group:
        return [SendDocument(msg.chat_id, ledger.build, ledger.filename, caption)]
    async with svc.db.uow(write=False) as uow:
        private = await private_chat_of(uow, sender.id, msg.channel)
    if private is None:
        return [Send(msg.chat_id, svc.render("export_in_private.j2", me=sender, sent=False))]
    return [SendDocument(private, ledger.build, ledger.filename, caption),
            Send(msg.chat_id, svc.render("export_in_private.j2", me=sender, sent=True))]
