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
