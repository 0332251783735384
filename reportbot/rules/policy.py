"""The policy: every number an operator may change, with the defaults SPEC.md documents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time


@dataclass(frozen=True)
class Policy:
    """Operator-tunable numbers (SPEC §10). Validated where the policy file is read."""

    timezone: str = "Asia/Shanghai"
    report_window_days: int = 7
    mask_suffix_digits: int = 5
    min_lead_minutes: int = 30
    max_active_reports_per_canvasser: int = 50
    max_rereports: int = 3
    pending_alert_minutes: int = 30
    quiet_start: time = time(22, 0)
    quiet_end: time = time(8, 0)
    appointment_day_reminder: time = time(9, 0)
    appointment_lead_hours: int = 2
    expiry_warning: time = time(9, 0)  # on the last valid day: "expires tonight, a re-report needs a reason"
    first_followup_hours: int = 24
    second_followup_days: int = 3
    followup_warning_hours: int = 4  # remind the owner this long before a follow-up deadline
    ownership_lapse_days: int = 7
    digest_time: time = time(21, 0)
    weekly_digest: bool = True  # the group's weekly statistics with the chart (周统计)
    weekly_digest_weekday: int = 7  # ISO weekday of the weekly digest: 1 Monday … 7 Sunday
    weekly_digest_time: time = time(21, 0)
    sweep_seconds: int = 30
