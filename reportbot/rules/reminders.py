"""When reminders fall due (SPEC §7), and the quiet hours that hold them back. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from reportbot.rules.policy import Policy


class Kind(StrEnum):
    APPOINTMENT_DAY = "appt_day"  # the canvasser, on the appointment day in the morning
    APPOINTMENT_SOON = "appt_soon"  # the canvasser, a couple of hours before
    EXPIRES_TONIGHT = "expiry_warn"  # the canvasser, on the last valid day
    EXPIRED = "expired"  # the canvasser, when the report expired
    PENDING = "pending"  # the assistants: still unconfirmed
    FIRST_FOLLOWUP = "follow1"  # the owner after a visit
    SECOND_FOLLOWUP = "follow2"
    LAPSED = "lapsed"  # the owner lost a visited customer for want of follow-up
    DIGEST = "digest"  # the group, every evening
    WEEKLY = "weekly"  # the group, once a week: the week's statistics with the chart


@dataclass(frozen=True)
class Planned:
    kind: Kind
    due: datetime  # aware


def _at(day: datetime, clock: time) -> datetime:
    return day.replace(hour=clock.hour, minute=clock.minute, second=0, microsecond=0)


def plan_for_report(reported_at: datetime, appointment: datetime, valid_until: datetime, policy: Policy) -> list[Planned]:
    """The reminders a new report will need; the ones already past at report time are left out."""
    tz = ZoneInfo(policy.timezone)
    appt = appointment.astimezone(tz)
    last_day = valid_until.astimezone(tz) - timedelta(minutes=1)
    plans = [
        Planned(Kind.PENDING, reported_at + timedelta(minutes=policy.pending_alert_minutes)),
        Planned(Kind.APPOINTMENT_DAY, _at(appt, policy.appointment_day_reminder)),
        Planned(Kind.APPOINTMENT_SOON, appt - timedelta(hours=policy.appointment_lead_hours)),
        Planned(Kind.EXPIRES_TONIGHT, _at(last_day, policy.expiry_warning)),
    ]
    return [p for p in plans if reported_at < p.due and (p.kind in (Kind.PENDING, Kind.EXPIRES_TONIGHT) or p.due < appointment)]


def plan_for_visit(visited_at: datetime, policy: Policy) -> list[Planned]:
    """Follow-up reminders for the owner, a little before each deadline."""
    warn = timedelta(hours=policy.followup_warning_hours)
    first = visited_at + timedelta(hours=policy.first_followup_hours)
    second = visited_at + timedelta(days=policy.second_followup_days)
    return [Planned(Kind.FIRST_FOLLOWUP, max(visited_at, first - warn)), Planned(Kind.SECOND_FOLLOWUP, second - warn)]


def quiet(now: datetime, policy: Policy) -> bool:
    """True inside the quiet hours (22:00–08:00 by default), when no reminder is sent."""
    local = now.astimezone(ZoneInfo(policy.timezone)).time()
    start, end = policy.quiet_start, policy.quiet_end
    return (start <= local or local < end) if start > end else (start <= local < end)


def digest_due(now: datetime, policy: Policy) -> str | None:
    """The local day (YYYYMMDD) whose digest is due at ``now``, or None before the digest time."""
    local = now.astimezone(ZoneInfo(policy.timezone))
    return local.strftime("%Y%m%d") if local.time() >= policy.digest_time else None


def weekly_digest_due(now: datetime, policy: Policy) -> str | None:
    """The local day (YYYYMMDD) whose weekly digest is due at ``now``: on the policy's weekday from its
    time on, and never when the policy turns it off."""
    local = now.astimezone(ZoneInfo(policy.timezone))
    if not policy.weekly_digest or local.isoweekday() != policy.weekly_digest_weekday:
        return None
    return local.strftime("%Y%m%d") if local.time() >= policy.weekly_digest_time else None
