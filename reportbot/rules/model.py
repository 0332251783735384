"""The ledger's nouns as plain frozen dataclasses: what storage hands to the rules and the handlers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    """Who may do what (SPEC §2); each role may everything the ones before it may."""

    CANVASSER = "canvasser"
    ASSISTANT = "assistant"
    MANAGER = "manager"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _ROLE_ORDER.index(self)

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


_ROLE_ORDER = [Role.CANVASSER, Role.ASSISTANT, Role.MANAGER, Role.ADMIN]

ROLE_LABELS = {
    Role.CANVASSER: "拓客",
    Role.ASSISTANT: "销售助理",
    Role.MANAGER: "经理",
    Role.ADMIN: "管理员",
}


class Status(StrEnum):
    """A report's state in the ledger (SPEC §4–6)."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    VISITED = "visited"
    EXPIRED = "expired"

    @property
    def active(self) -> bool:
        """An active report holds its customer: nobody else may report them."""
        return self in ACTIVE_STATUSES


ACTIVE_STATUSES = frozenset({Status.PENDING, Status.CONFIRMED})

STATUS_LABELS = {
    Status.PENDING: "待确认",
    Status.CONFIRMED: "已确认",
    Status.REJECTED: "已驳回",
    Status.VISITED: "已到访",
    Status.EXPIRED: "已失效",
}


class RejectReason(StrEnum):
    """Why an assistant rejected a report (SPEC §5)."""

    FORMAT = "format"
    FALSE_INFO = "false"
    DUPLICATE = "dup"
    OTHER = "other"


REJECT_LABELS = {
    RejectReason.FORMAT: "格式错误",
    RejectReason.FALSE_INFO: "信息不实",
    RejectReason.DUPLICATE: "重复",
    RejectReason.OTHER: "其他",
}


class EventKind(StrEnum):
    """What can happen to a customer; the /who history lists these in time order."""

    REPORTED = "reported"
    DUPLICATE_REFUSED = "duplicate_refused"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    VISITED = "visited"
    REVISITED = "revisited"
    EXPIRED = "expired"
    PUBLIC = "public"
    RELEASED = "released"
    CLAIMED = "claimed"
    REVOKED = "revoked"
    FOLLOWED_UP = "followed_up"
    LAPSED = "lapsed"
    DEAL = "deal"  # 成交: recorded for the customer's owner (SPEC §2, manager statistics)
    FORGOTTEN = "forgotten"  # a manager erased the customer's name and phone (the phone here is the tombstone)
    IMPORTED = "imported"  # a spreadsheet of reports was imported (issue 27): one event per file, no customer (phone '')


@dataclass(frozen=True)
class Staff:
    id: int
    name: str
    team: str
    role: Role
    default_project_id: int | None


@dataclass(frozen=True)
class Project:
    id: int
    name: str
    tg_chat_id: str | None
    wecom_chat_id: str | None
    dingtalk_chat_id: str | None = None
    feishu_chat_id: str | None = None

    def chat_on(self, channel: str) -> str | None:
        """The project's group chat on ``channel`` (None: it has none there)."""
        return {"telegram": self.tg_chat_id, "wecom": self.wecom_chat_id, "dingtalk": self.dingtalk_chat_id,
                "feishu": self.feishu_chat_id}.get(channel)

    @property
    def has_group(self) -> bool:
        return any((self.tg_chat_id, self.wecom_chat_id, self.dingtalk_chat_id, self.feishu_chat_id))


@dataclass(frozen=True)
class Report:
    id: int
    project_id: int
    receipt_no: str
    customer: str
    phone: str
    team: str
    canvasser_id: int
    canvasser_name: str
    filed_by_id: int
    appointment_at: datetime
    reported_at: datetime
    valid_until: datetime
    status: Status
    note: str | None
    reason: str | None = None
    decided_by_name: str | None = None
    decided_at: datetime | None = None
    reject_reason: RejectReason | None = None
    phone_hash: str | None = None  # keyed hash of the full number, when the report gave one


@dataclass(frozen=True)
class Event:
    at: datetime
    kind: EventKind
    phone: str
    actor_name: str
    actor_team: str
    receipt_no: str | None
    detail: str | None


@dataclass(frozen=True)
class Visit:
    """The customer's first visit and who owns them now (owner None: the office)."""

    id: int
    project_id: int
    phone: str
    at: datetime
    rule: str
    owner_id: int | None
    owner_name: str | None
    owner_team: str | None
    brought_by_id: int | None
    companions: int
    report_id: int | None
    last_activity_at: datetime
    lapsed_at: datetime | None
    phone_hash: str | None = None  # keyed hash of the full number, when the visit was registered with one


@dataclass(frozen=True)
class Deal:
    """A deal (成交) recorded for the customer's owner at the time (owner None: the office)."""

    id: int
    project_id: int
    phone: str
    at: datetime
    owner_id: int | None
    owner_name: str | None
    team: str | None
    recorded_by_name: str
    report_id: int | None
    note: str | None
