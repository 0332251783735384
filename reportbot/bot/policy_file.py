"""The policy file (TOML, REPORTBOT_POLICY): read, validated, turned into rules.policy.Policy."""

from __future__ import annotations

import tomllib
from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from reportbot.rules.policy import Policy


class PolicyError(ValueError):
    """A policy file that cannot be used; the message says which key and why."""


class _PolicyFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = Policy.timezone
    report_window_days: int = Field(default=Policy.report_window_days, ge=1, le=60)
    mask_suffix_digits: int = Field(default=Policy.mask_suffix_digits, ge=3, le=6)
    min_lead_minutes: int = Field(default=Policy.min_lead_minutes, ge=0, le=24 * 60)
    max_active_reports_per_canvasser: int = Field(default=Policy.max_active_reports_per_canvasser, ge=1, le=10_000)
    max_rereports: int = Field(default=Policy.max_rereports, ge=0, le=100)
    pending_alert_minutes: int = Field(default=Policy.pending_alert_minutes, ge=1, le=24 * 60)
    quiet_start: time = Policy.quiet_start
    quiet_end: time = Policy.quiet_end
    appointment_day_reminder: time = Policy.appointment_day_reminder
    appointment_lead_hours: int = Field(default=Policy.appointment_lead_hours, ge=0, le=48)
    expiry_warning: time = Policy.expiry_warning
    first_followup_hours: int = Field(default=Policy.first_followup_hours, ge=1, le=24 * 30)
    second_followup_days: int = Field(default=Policy.second_followup_days, ge=1, le=60)
    followup_warning_hours: int = Field(default=Policy.followup_warning_hours, ge=0, le=72)
    ownership_lapse_days: int = Field(default=Policy.ownership_lapse_days, ge=1, le=365)
    digest_time: time = Policy.digest_time
    weekly_digest: bool = Policy.weekly_digest
    weekly_digest_weekday: int = Field(default=Policy.weekly_digest_weekday, ge=1, le=7)
    weekly_digest_time: time = Policy.weekly_digest_time
    sweep_seconds: int = Field(default=Policy.sweep_seconds, ge=1, le=3600)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Shanghai)") from None
        return value


def load_policy(path: Path | None) -> Policy:
    """The defaults, overridden by the file's keys. Raises PolicyError naming the bad key."""
    if path is None:
        return Policy()
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyError(f"policy file {path} not found (REPORTBOT_POLICY)") from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"policy file {path} is not valid TOML: {exc}") from None
    try:
        parsed = _PolicyFile(**data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise PolicyError(f"policy file {path}: {problems}") from None
    return Policy(**parsed.model_dump())
