"""Why a report (or a field of it) is refused: a field, a code and the values for its message."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class Field(StrEnum):
    """The fields of a report, as a canvasser knows them."""

    CUSTOMER = "customer"
    PHONE = "phone"
    TEAM = "team"
    CANVASSER = "canvasser"
    APPOINTMENT = "appointment"
    NOTE = "note"
    REASON = "reason"
    REPORTED_AT = "reported_at"  # a row of an imported sheet: when it was reported (issue 27)
    STATUS = "status"  # a row of an imported sheet: its status
    FORMAT = "format"  # the message as a whole (no field recognisable at all)


@dataclass(frozen=True)
class Refusal:
    """One thing wrong with a report.

    ``code`` names a template ``templates/refusals/<code>.j2`` that renders one Chinese sentence
    from ``params``; ``field`` says which field the sentence is about.
    """

    field: Field
    code: str
    # dataclasses.field spelled out: the attribute `field` above reads like it in this class body
    params: Mapping[str, str] = dataclasses.field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def of(cls, field_: Field, code: str, **params: object) -> Refusal:
        return cls(field_, code, MappingProxyType({k: str(v) for k, v in params.items()}))
