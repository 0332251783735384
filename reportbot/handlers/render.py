"""Every user-facing text comes from a jinja2 template in reportbot/templates/ (Chinese first).

Chat texts are plain (Telegram gets no parse mode), so whatever a user typed is shown as typed and can
inject no markup: there is nothing to escape, and autoescape is off on purpose. The web's pages are HTML
(templates/web/, ``Renderer(html=True)``): there every value is escaped, a canvasser's ``<script>`` in a
customer's name is text. The two kinds never share a template. In both, a whole phone number is masked
in every rendered text, so none is ever echoed.
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined

from reportbot.rules import privacy, report_labels, timeparse
from reportbot.rules.model import REJECT_LABELS, ROLE_LABELS, STATUS_LABELS
from reportbot.rules.ownership import unreachable
from reportbot.rules.refusal import Field, Refusal

FIELD_LABELS = {
    Field.CUSTOMER: "客户",
    Field.PHONE: "电话",
    Field.TEAM: "队名",
    Field.CANVASSER: "拓客",
    Field.APPOINTMENT: "到访时间",
    Field.NOTE: "备注",
    Field.REASON: "原因",
    Field.REPORTED_AT: "报备时间",
    Field.STATUS: "状态",
    Field.FORMAT: "格式",
}


def time_left(delta: timedelta) -> str:
    """'3天5小时', '5小时20分钟', '12分钟', '不到1分钟'."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "不到1分钟"
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}天{hours}小时" if hours else f"{days}天"
    if hours:
        return f"{hours}小时{mins}分钟" if mins else f"{hours}小时"
    return f"{mins}分钟"


class Renderer:
    """Renders a named template with the office's time zone applied to every datetime."""

    def __init__(self, timezone: str, mask_suffix_digits: int = 5, *, html: bool = False) -> None:
        """``html``: the web's pages (templates/web, every value escaped); else the chat texts (plain)."""
        self.tz = ZoneInfo(timezone)
        self.mask_suffix_digits = mask_suffix_digits
        env = Environment(
            loader=PackageLoader("reportbot", "templates/web" if html else "templates"),
            undefined=StrictUndefined,
            autoescape=html,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            auto_reload=False,  # templates do not change under a running bot: no stat() per message
        )
        env.filters.update(
            when=lambda dt: timeparse.describe(dt.astimezone(self.tz)),
            day=lambda dt: timeparse.describe_day(dt.astimezone(self.tz)),
            short=lambda dt: dt.astimezone(self.tz).strftime("%m-%d %H:%M"),
            stamp=lambda dt: dt.astimezone(self.tz).strftime("%Y-%m-%d %H:%M"),
            until=lambda dt: timeparse.describe((dt - timedelta(minutes=1)).astimezone(self.tz)),
            left=time_left,
            status=lambda s: STATUS_LABELS[s],
            role=lambda r: ROLE_LABELS[r],
            reject=lambda r: REJECT_LABELS[r],
            field=lambda f: FIELD_LABELS[f],
            percent=lambda r: "—" if r is None else f"{r:.0%}",
        )
        env.globals["unreachable"] = unreachable
        env.globals["labels"] = {f: report_labels.shown(f) for f in report_labels.LABELS}
        self.env = env

    def __call__(self, template: str, /, **context: object) -> str:
        text = self.env.get_template(template).render(**context)
        text = privacy.mask_full_numbers(text, self.mask_suffix_digits)
        return "\n".join(line.rstrip() for line in text.strip().splitlines())

    def refusal(self, refusal: Refusal) -> str:
        return self(f"refusals/{refusal.code}.j2", params=refusal.params)

    def has_refusal(self, code: str) -> bool:
        return f"refusals/{code}.j2" in self.env.list_templates()
