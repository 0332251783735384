"""Hostile input for the fuzz tests (issue 4 §7): what a chat can carry, and how many examples to try.

The default suite tries a few hundred inputs. The long run tries REPORTBOT_FUZZ_EXAMPLES per fuzz test
(docs/development.md, "Tests"): ``REPORTBOT_FUZZ_EXAMPLES=25000 ./scripts/test.sh -m fuzz`` (8 properties, 200,000 inputs).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.office import CHEN, GROUP, LI, WANG, ZHAO

FUZZ_ENV = "REPORTBOT_FUZZ_EXAMPLES"
LONG = int(os.environ.get(FUZZ_ENV) or 0)
TELEGRAM_MAX = 4096  # characters in one Telegram message

# A long run takes as long as it takes: no per-test timeout then.
mark = [pytest.mark.fuzz, pytest.mark.timeout(0 if LONG else 300)]


def fuzz_settings(default: int) -> settings:
    """``default`` examples in the ordinary suite, REPORTBOT_FUZZ_EXAMPLES in the long run."""
    return settings(
        max_examples=LONG or default,
        deadline=None,
        database=None,  # every run explores afresh; nothing is written under the worktree
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                               HealthCheck.data_too_large, HealthCheck.large_base_example],
    )


LABELS = ["客户：", "电话：", "手机：", "队名：", "拓客：", "到访：", "预约时间:", "备注：", "原因：", "带客：", "同行：",
          "接手：", "证据：", "时间：", "姓名(行销)：", "customer:", "phone:"]
VALUES = ["张先生", "张", "钱女士", "138***88888", "13812388888", "+86 139-8765-4321", "１３８＊＊＊８８８８８",
          "138xxx88888", "飞虎队", "猛虎队", "李四", "王五", "明天下午3点", "周六上午10点", "今天15:00", "下周二 14:00",
          "11-25 15:00", "25号下午两点", "2", "BB-20261123-0001", "确认", "09:00"]
SQL = ["'; DROP TABLE report; --", "\" OR 1=1 --", "%", "_", "\\", "'", "NULL", "$1", "1; SELECT pg_sleep(1)"]
SPECIAL = ["\n", "\t", " ", "，", "：", "\u202e", "\u202c", "\u200f", "\u200d", "\ufeff", "\x00", "\x07", "\x1b",
           "\r", "\u3000", "😀", "👨‍👩‍👧", "🇨🇳", "ﷺ", "עברית", "العربية", "Ω", "\u0301", "𠀀"]
PREFIXES = ["", "报备 ", "报备\n", "/report ", "/who ", "/visit ", "/follow ", "/rereport ", "/claim ", "/revoke ",
            "/release ", "/forget ", "/mine", "/help", "/start", "/report@SomeBot ", "/", "/unknown ", "报备人："]

_fragment = st.one_of(
    st.sampled_from(LABELS + VALUES + SQL + SPECIAL),
    st.text(max_size=20),
    st.characters(codec="utf-8"),
    st.integers(-(10**20), 10**20).map(str),
)
# A fragment repeated up to the length of a whole message: huge field values.
_piece = st.one_of(_fragment, st.tuples(_fragment, st.integers(1, TELEGRAM_MAX)).map(lambda t: (t[0] * t[1])[:TELEGRAM_MAX]))

NAMES = ["张先生", "钱女士", "孙女士", "李", "Mr Li", "张'; --", "\u202e张先生", "😀", "张" * 21, ""]
PHONES = ["138***88888", "13812388888", "13899988888", "139***12345", "+86 139-8765-4321", "137***00001",
          "15900001111", "138***8888", "1381238888"]
# Who may file which team's report: the canvasser their own; the assistant and the manager any canvasser's.
TEAMS = [("飞虎队", "李四"), ("猛虎队", "王五"), ("案场", "赵敏"), ("飞虎队", "王五"), ("无名队", "无名")]
FILERS = {("飞虎队", "李四"): [LI, ZHAO, CHEN], ("猛虎队", "王五"): [WANG, ZHAO, CHEN]}
PEOPLE = [LI, ZHAO, WANG, CHEN, LI, ZHAO, WANG, CHEN, "999"]  # canvassers, assistant, manager; a stranger
WHERE = [None, None, None, GROUP, GROUP, GROUP, "-999"]  # private, the project's group, a foreign group
WHEN = ["明天下午3点", "后天上午10点", "周六上午10点", "明早9点", "今天23:00", "今天3点", "下周二 14:00", "明天",
        "昨天下午3点", "2026-11-25 15:30", "12月32日下午3点", "下下周一"]
NOTES = ["带父母一起来", "她女儿电话13987654321", "'; DELETE FROM event; --", "😀" * 50, "很" * 250, "客户出差"]
_value = st.one_of(_fragment, _fragment, _piece)
# Many customers, so that reports, duplicates, visits and forgets meet each other, masked and full.
_phones = st.one_of(
    st.sampled_from(PHONES),
    st.builds(lambda d, n: f"13{d}***{n:05d}", st.integers(3, 9), st.integers(0, 30)),
    st.builds(lambda d, m, n: f"13{d}{m:03d}{n:05d}", st.integers(3, 9), st.integers(0, 999), st.integers(0, 30)),
)


@st.composite
def _report_like(draw: st.DrawFn) -> tuple[str, str]:
    """A labelled report with at most one hostile field, so that the deep paths are reached too:
    receipts, duplicates, re-reports, limits, then visits, follow-ups and forgets of those customers."""
    team, who = draw(st.sampled_from(TEAMS))
    fields = {"客户": draw(st.sampled_from(NAMES)), "电话": draw(_phones), "队名": team, "拓客": who,
              "到访": draw(st.sampled_from(WHEN))}
    for label in draw(st.lists(st.sampled_from(["备注", "原因"]), max_size=2, unique=True)):
        fields[label] = draw(st.sampled_from(NOTES))
    hostile = draw(st.sampled_from([None, None, None, *fields]))
    if hostile is not None:
        fields[hostile] = draw(_value)
    separator = draw(st.sampled_from(["\n", " ", "，", "\n\n"]))
    sender = draw(st.sampled_from(FILERS.get((team, who), []) + PEOPLE[:1]))
    return sender, "报备" + separator + separator.join(f"{label}：{value}" for label, value in fields.items())


@st.composite
def _command_like(draw: st.DrawFn) -> str:
    """A lifecycle command with a usually-right target and hostile arguments."""
    command = draw(st.sampled_from(["/who", "/visit", "/follow", "/claim", "/revoke", "/release", "/forget",
                                    "/rereport"]))
    receipts = st.builds(lambda d, n: f"BB-202611{d:02d}-{n:04d}", st.integers(20, 30), st.integers(1, 5))
    target = draw(st.one_of(_phones, _phones, receipts, st.sampled_from(NAMES), _value))
    rest = draw(st.lists(st.one_of(st.sampled_from(LABELS + VALUES), _value), max_size=6))
    return " ".join([command, target, *rest])


_junk = st.builds(lambda prefix, pieces: prefix + "".join(pieces), st.sampled_from(PREFIXES), st.lists(_piece, max_size=12))


def hostile_text() -> st.SearchStrategy[str]:
    """A message of up to 4096 characters: junk after a command or report prefix, or a report or a
    command whose fields are mostly right and sometimes hostile."""
    return st.one_of(_junk, _report_like().map(lambda pair: pair[1]), _command_like()).map(lambda t: t[:TELEGRAM_MAX])


@st.composite
def chat_message(draw: st.DrawFn) -> tuple[str, str, str | None]:
    """(sender, text, group or None): anyone, anywhere; a report mostly from someone who may file it."""
    where = draw(st.sampled_from(WHERE))
    kind = draw(st.sampled_from(["report", "command", "junk"]))
    if kind == "report":
        sender, text = draw(_report_like())
    else:
        sender, text = draw(st.sampled_from(PEOPLE)), draw(_command_like() if kind == "command" else _junk)
    return sender, text[:TELEGRAM_MAX], where


VERBS = ["c", "r", "x", "b", "z", "", "C", "cc"]
IDS = ["1", "2", "0", "-1", "2147483648", "999999999999999999", "9999999999999999999", "1e3", "01", "abc", "",
       " 1", "１"]
REASONS = ["format", "false", "dup", "other", "", "x" * 60, "DUP", "null"]


@st.composite
def callback_data(draw: st.DrawFn) -> object:
    """Button data: well-formed, nearly well-formed, arbitrary text, or not text at all."""
    structured = st.builds(
        lambda prefix, verb, id_, reason: ":".join([prefix, verb, id_] + ([reason] if reason is not None else [])),
        st.sampled_from(["rb1", "rb2", "RB1", "", "rb1 "]), st.sampled_from(VERBS),
        st.one_of(st.sampled_from(IDS), st.integers(-(10**20), 10**20).map(str)),
        st.one_of(st.none(), st.sampled_from(REASONS)),
    )
    wrong_types = st.one_of(st.none(), st.integers(), st.floats(), st.binary(max_size=64),
                            st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers()))
    return draw(st.one_of(structured, st.text(max_size=80), wrong_types))
