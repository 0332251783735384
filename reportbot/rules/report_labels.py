"""The labels canvassers write before the fields of a report (SPEC §3): one table, read by the parser,
shown by /help and docs/usage.md.

Canvassers paste the templates their teams have used for years, so every label of the common
templates is here, per field. Where labels overlap the longest wins (客户姓名 is one label, not 客户 +
姓名; 渠道专员联系方式 is the canvasser's own number, not the customer's 联系方式), so order inside a list
does not matter.

Besides the fields a report is made of, a template carries lines the bot does not use: the visit's
date on a line of its own (``DATE``, joined with the time), the project (``PROJECT``, which picks the
project when the sender belongs to several) and lines to leave alone (``IGNORED``: the property type,
the number of visitors, the canvasser's own phone …). None of them is ever read into another field;
nor is a line that starts with a label nobody listed (``其他信息：…``).

``find_labels`` finds them in a message (folded: report_text.py): a label and a colon (a remark or an
English gloss may stand between: 客户姓名（必填）：, 客户 Name:), not inside a word (意向客户：… is no
客户); at the start of a line a label and a space, a label in brackets (【客户】张先生), a phone label and
its number (电话139…); between words a label and a space, in a message with no colon label at all; a line
starting with a label nobody listed; and a field's label glued to the value before it (客户：张先生电话：…)
when that field has no label of its own.
"""

from __future__ import annotations

import re
from typing import Any, Final

from reportbot.rules.refusal import Field

LABELS: Final[dict[Field, tuple[str, ...]]] = {  # the common ones first: /help shows the first nine
    Field.CUSTOMER: (
        "客户", "客户姓名", "姓名", "客户名称", "客户姓氏", "客户名", "客户名字", "客户称呼", "customer",
    ),
    Field.PHONE: (
        "电话", "手机", "手机号", "客户电话", "联系电话", "联系方式", "客户联系方式", "号码", "手机号码", "电话号码",
        "客户手机", "客户手机号", "客户号码", "客户联系电话", "客户手机号码", "phone", "mobile", "tel",
    ),
    Field.TEAM: (
        "队名", "团队", "团队名称", "所属团队", "渠道", "渠道名称", "渠道公司", "公司", "门店", "战队", "队伍",
        "小组", "公司名称", "门店名称", "所属门店", "分销公司", "中介公司", "team",
    ),
    Field.CANVASSER: (
        "拓客", "报备人", "报备人姓名", "经纪人", "渠道专员", "渠道专员姓名", "渠道人员", "行销", "姓名(行销)",
        "行销人员", "拓客人员", "行销姓名", "拓客姓名", "经纪人姓名", "canvasser", "agent",
    ),
    Field.APPOINTMENT: (
        "到访", "到访时间", "预约时间", "预约到访", "预计到访", "预计到访时间", "客户预计到访时间", "带看时间",
        "预约", "时间", "预约到访时间", "来访时间", "预计来访时间", "time", "visit", "appointment",
    ),
    Field.NOTE: ("备注", "说明", "note", "remark"),
    Field.REASON: ("原因", "未到访原因", "reason"),
}

DATE = "date"  # the visit's day on a line of its own; its time is on the 到访时间 line
PROJECT = "project"
IGNORED = "ignored"

OTHER_LABELS: Final[dict[str, tuple[str, ...]]] = {
    DATE: ("到访日期", "预约日期", "预计到访日期", "带看日期", "来访日期"),
    PROJECT: ("项目", "报备项目", "项目名称", "楼盘", "楼盘名称", "案场"),
    IGNORED: (
        "物业类型", "客户来源", "到访人数", "来访人数", "人数", "意向", "意向户型", "意向面积", "客户意向",
        "客户需求", "需求", "预算", "客户性别", "性别", "报备时间", "经纪人电话", "经纪人手机", "经纪人联系方式",
        "渠道专员联系方式", "渠道专员电话", "渠道人员电话", "渠道电话", "报备人电话", "报备人手机", "拓客电话",
        "置业顾问", "置业顾问电话",
    ),
}

# Field labels whose values are phone numbers of someone who is not the customer: a number there is no
# second customer phone.
NOT_THE_CUSTOMERS_PHONE: Final[frozenset[str]] = frozenset(
    label for label in OTHER_LABELS[IGNORED] if "电话" in label or "手机" in label or "联系方式" in label
)


def shown(field_: Field, most: int = 9) -> str:
    """The labels of a field for a person: '客户、客户姓名、姓名、客户名称 …' (Chinese ones first)."""
    chinese = [label for label in LABELS[field_] if not label.isascii()]
    return "、".join(chinese[:most]) + (" …" if len(chinese) > most else "")


REQUIRED: Final = (Field.CUSTOMER, Field.PHONE, Field.TEAM, Field.CANVASSER, Field.APPOINTMENT)
Kind = Field | str  # a report field, or DATE / PROJECT / IGNORED
Label = tuple[int, int, Kind, str]  # start, end (where the value begins), kind, the label as written


def _label_pattern(label: str) -> str:
    if label.isascii() and label.isalpha():
        return rf"(?<![A-Za-z]){re.escape(label)}(?![A-Za-z])"
    # 姓名(行销): spaces allowed inside the parentheses; '（）' are folded to '()' already.
    return r"\s*".join(re.escape(part) for part in re.split(r"(?=[()])|(?<=[()])", label) if part)


_KIND_OF: dict[str, Kind] = {label.lower(): f for f, labels in LABELS.items() for label in labels}
_KIND_OF.update({label: kind for kind, labels in OTHER_LABELS.items() for label in labels})


def _trie(words: list[str]) -> str:
    """One pattern matching the longest of ``words`` at a place, as a trie: 客户(?:姓名|联系方式|…)?. The
    regex engine tries an alternation of 170 labels one by one at every character; a trie, a branch."""
    tree: dict[str, Any] = {}
    for word in words:
        node = tree
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def pattern(node: dict[str, Any]) -> str:
        ends = "" in node
        branches = [re.escape(ch) + pattern(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if ends else body

    return pattern(tree)


# The labels without parentheses go into the trie; 姓名(行销) (spaces allowed inside) and the Latin ones
# (whole words only) stay alternatives of their own, tried first.
_SPECIAL = [label for label in _KIND_OF if "(" in label or label.isascii()]
_ANY_LABEL = "|".join([*(_label_pattern(label) for label in sorted(_SPECIAL, key=len, reverse=True)),
                       _trie([label for label in _KIND_OF if label not in _SPECIAL])])
_CJK = r"\u4e00-\u9fff"
# A label and a colon, where a field may start: not inside a word (意向客户：… is no 客户).
# After the label, before the colon, a remark (客户姓名（必填）：) or an English gloss (客户 Name:) may stand.
_GLOSS = r"(?:[ \t]*\([^()\n]{1,12}\)|[ \t]+[A-Za-z]{1,12}(?:[ \t][A-Za-z]{1,12})?)?"
_COLON_LABEL = re.compile(rf"(?<![{_CJK}A-Za-z])(?P<label>{_ANY_LABEL}){_GLOSS}[ \t]*:", re.IGNORECASE)
# A label and a space at the start of a line (after a bullet or a number): 客户 张先生.
# At the start of a line (after a bullet or a number), one of: a label and a space (客户 张先生); a phone
# label with its number right after it, no colon, no space (电话139***10101: digits cannot be part of a
# label); a label in brackets (【客户】张先生, [电话]138***88888); a label nobody listed and a colon (其他信息：…,
# its value is left alone). Tried at each line's start only.
_LINE_LABEL = re.compile(
    r"[ \t]*(?:(?:[-*•·>●○◆◇]+|\d{1,2}[.、)]?)[ \t]*)?(?:"
    rf"(?P<space>{_ANY_LABEL})[ \t]+(?=\S)"
    rf"|(?P<phone>{_trie([x for x in LABELS[Field.PHONE] if not x.isascii()])})(?=\+?(?:86)?1[3-9][0-9])"
    rf"|[【\[](?P<bracket>{_ANY_LABEL})[】\]][ \t]*:?"
    rf"|(?P<unknown>[{_CJK}]{{2,8}})[ \t]*:)",
    re.IGNORECASE,
)
# A field's label and a colon glued to the word before it (see find_labels).
_GLUED_LABEL = re.compile(rf"(?P<label>{_ANY_LABEL})[ \t]*:", re.IGNORECASE)
# The same between words, only in a message that uses no colon at all: 客户 张先生 电话 138***88888 …
_WORD_LABEL = re.compile(rf"(?:^|(?<=\s))(?P<label>{_ANY_LABEL})[ \t]+(?=\S)", re.IGNORECASE)


def _line_starts(text: str) -> list[int]:
    starts, at = [0], text.find("\n")
    while at >= 0:
        starts.append(at + 1)
        at = text.find("\n", at + 1)
    return starts


def kind_of(label: str) -> Kind:
    kind = _KIND_OF.get(label)
    return kind if kind is not None else _KIND_OF["".join(label.split()).lower()]


def find_labels(folded: str) -> list[Label]:
    """Every label in the text, in order, none overlapping another."""
    found = [(m.start("label"), m.end(), kind_of(m["label"]), m["label"]) for m in _COLON_LABEL.finditer(folded)]
    if not found:
        found = [(m.start("label"), m.end(), kind_of(m["label"]), m["label"]) for m in _WORD_LABEL.finditer(folded)]
    for start in _line_starts(folded):
        m = _LINE_LABEL.match(folded, start)
        if m is None:
            continue
        if m["space"] is not None:
            found.append((m.start("space"), m.end(), kind_of(m["space"]), m["space"]))
        elif m["phone"] is not None:
            found.append((m.start("phone"), m.end(), Field.PHONE, m["phone"]))
        elif m["bracket"] is not None:
            found.append((m.start(), m.end(), kind_of(m["bracket"]), m["bracket"]))
        elif m["unknown"].lower() not in _KIND_OF:
            found.append((m.start("unknown"), m.end(), IGNORED, m["unknown"]))
    kept = _without_overlaps(found)
    # A field's label glued to the value before it (客户：张先生电话：138…) counts when that field has
    # no label of its own yet, and it sits in the value of a field (not in a line left alone).
    present = {kind for _, _, kind, _ in kept}
    if present.issuperset(REQUIRED):
        return kept
    glued = [(m.start("label"), m.end(), kind_of(m["label"]), m["label"]) for m in _GLUED_LABEL.finditer(folded)]
    extra = [g for g in glued if isinstance(g[2], Field) and g[2] not in present and _inside_a_field(g[0], kept)]
    return _without_overlaps(kept + extra) if extra else kept


def _without_overlaps(found: list[Label]) -> list[Label]:
    """At one place the longest label wins (姓名（行销）：, not 姓名 and a space)."""
    kept: list[Label] = []
    for label in sorted(found, key=lambda label: (label[0], -label[1])):
        if not kept or label[0] >= kept[-1][1]:
            kept.append(label)
    return kept


def _inside_a_field(position: int, labels: list[Label]) -> bool:
    before = [label for label in labels if label[1] <= position]
    return bool(before) and isinstance(before[-1][2], Field) and not any(a <= position < b for a, b, _, _ in labels)
