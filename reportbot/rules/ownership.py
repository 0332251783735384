"""Who owns a visiting customer (判客, SPEC §5–6): pure decisions over plain values."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from reportbot.rules.model import Report, Status


class Rule(StrEnum):
    """Which clause of SPEC §5 decided ownership."""

    REPORTED = "reported"  # 1. an active report holds the customer: the reporter owns
    BROUGHT = "brought"  # 2. no report; the canvasser who brought them in person owns
    NATURAL = "natural"  # 3. otherwise a natural visitor (自然来访), owned by the office
    LATE_CLAIM = "late_claim"  # a report sent before the visit, proven to a manager afterwards
    REASSIGNED = "reassigned"  # a manager revoked the owner and named who follows up


RULE_LABELS = {
    Rule.REPORTED: "报备在先：按报备记录归属报备人",
    Rule.BROUGHT: "无人报备：归属亲自带客上门的拓客",
    Rule.NATURAL: "无有效报备、无人带客：自然来访，归案场",
    Rule.LATE_CLAIM: "经理核实到访前的报备证据后归属",
    Rule.REASSIGNED: "经理撤销原归属并指定跟进人",
}


@dataclass(frozen=True)
class Decision:
    rule: Rule
    owner_id: int | None  # None: the office (natural visitor)
    report_id: int | None = None


def decide_owner(active_report: Report | None, brought_by_id: int | None) -> Decision:
    """SPEC §5: an active report wins over who brought the customer; nobody → the office."""
    if active_report is not None and active_report.status in (Status.PENDING, Status.CONFIRMED):
        return Decision(Rule.REPORTED, active_report.canvasser_id, active_report.id)
    if brought_by_id is not None:
        return Decision(Rule.BROUGHT, brought_by_id)
    return Decision(Rule.NATURAL, None)


# Reasons a customer could not be reached: the seed asks an assistant to check these (SPEC §6).
_UNREACHABLE = re.compile(r"停机|关机|无法接通|打不通|联系不上|未接|不接|空号")


def unreachable(reason: str | None) -> bool:
    return bool(reason and _UNREACHABLE.search(reason))


def becomes_public(consecutive_expiries: int, max_rereports: int) -> bool:
    """After the first report and ``max_rereports`` re-reports have all expired, the customer is public."""
    return consecutive_expiries > max_rereports


def ownership_lapsed(last_activity: datetime, now: datetime, lapse_days: int) -> bool:
    """A visited customer with no follow-up for ``lapse_days`` loses its owner (SPEC §7)."""
    return now - last_activity >= timedelta(days=lapse_days)


def proof_precedes_visit(proof_at: datetime, visit_at: datetime, reported_at_least: datetime | None = None) -> bool:
    """A late claim stands only on a record dated before the visit."""
    return proof_at < visit_at and (reported_at_least is None or proof_at >= reported_at_least)
