"""Reading a report message (rules/report_parse.py): p50 and p99 beside the parser as it was before issue 22.

The parser now reads the templates canvassers already use (more labels, lines it leaves alone, headers
told from chatter, a second phone looked for). Its cost per message is measured here in one run beside the
parser of f886fc6 (loaded from git, on today's phone and time modules), for an ordinary report and for a
2 KB message: a template padded with the lines a long template carries.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from datetime import datetime
from types import ModuleType
from zoneinfo import ZoneInfo

from bench.common import ROOT, Row, Stat, percentile
from reportbot.rules import report_parse
from reportbot.rules.policy import Policy

BEFORE = "f886fc6"
RUNS, PARSES = 5, 3000
NOW = datetime(2026, 12, 4, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
ORDINARY = "报备\n客户：张先生\n电话：138***88888\n队名：飞虎队\n拓客：李四\n到访：明天下午3点"
PADDING = "物业类型：住宅\n客户来源：自拓\n意向：三房两厅，南北通透，预算300万左右，关注学区和地铁\n到访人数：2人\n"


def two_kb() -> str:
    text = "【客户报备】\n项目：森林半岛\n客户姓名：张先生\n客户联系方式：138xxx88888\n渠道公司：飞虎队\n渠道专员姓名：李四\n"
    while len(text.encode()) < 2000:
        text += PADDING
    return text + "客户预计到访时间：2026/12/5 15:00\n备注：带父母一起来"


def _before() -> ModuleType | None:
    try:
        source = subprocess.run(["git", "show", f"{BEFORE}:reportbot/rules/report_parse.py"], cwd=ROOT,
                                capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None  # not a git checkout with that history: the row shows the figure alone
    spec = importlib.util.spec_from_loader("report_parse_before", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    exec(compile(source, f"{BEFORE}:report_parse.py", "exec"), module.__dict__)  # noqa: S102 — our own history
    return module


def _timed(parse: object, text: str) -> tuple[float, float]:
    """(p50, p99) in µs of parse(text, NOW, policy) over PARSES calls."""
    policy = Policy()
    samples = []
    for _ in range(PARSES):
        started = time.perf_counter_ns()
        parse(text, NOW, policy)  # type: ignore[operator]
        samples.append((time.perf_counter_ns() - started) / 1000)
    return percentile(samples, 50), percentile(samples, 99)


def _rows(name: str, text: str, before: ModuleType | None) -> list[Row]:
    now = [_timed(report_parse.parse_report, text) for _ in range(RUNS)]
    then = [_timed(before.parse_report, text) for _ in range(RUNS)] if before else []
    rows = []
    for index, label in ((0, "p50"), (1, "p99")):
        rows.append(Row(
            "parse", f"parse_report {label} — {name} ({len(text.encode()):,} bytes)", Stat.of([r[index] for r in now]),
            "µs", f"the parser at {BEFORE}" if then else "", Stat.of([r[index] for r in then]) if then else None,
            note=f"{RUNS}×{PARSES} parses, one core; the reading as the bot does it (header, labels, checks, time)",
            higher_is_better=False,
        ))
    return rows


async def run(long: bool) -> list[Row]:
    before = _before()
    return _rows("an ordinary report", ORDINARY, before) + _rows("a 2 KB template", two_kb(), before)
