"""SPEC §3, the report message: labelled or positional, every problem named at once."""

from __future__ import annotations

import time
import unicodedata
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reportbot.rules import report_text
from reportbot.rules.phone import Phone
from reportbot.rules.policy import Policy
from reportbot.rules.refusal import Field, Refusal
from reportbot.rules.report_labels import LABELS
from reportbot.rules.report_parse import ReportDraft, is_report, parse_report
from reportbot.rules.timeparse import parse_appointment

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)  # a Monday
POLICY = Policy()
TEMPLATES = Path(__file__).resolve().parents[2] / "reportbot" / "templates" / "refusals"

CANONICAL = "报备\n客户：张先生\n电话：138***88888\n队名：飞虎队\n拓客：李四\n到访时间：明天下午3点"


def draft(text: str, policy: Policy = POLICY) -> ReportDraft:
    result = parse_report(text, NOW, policy)
    assert isinstance(result, ReportDraft), result
    return result


def refusals(text: str, policy: Policy = POLICY) -> tuple[Refusal, ...]:
    result = parse_report(text, NOW, policy)
    assert isinstance(result, tuple), result
    return result


def codes(text: str) -> list[str]:
    return [r.code for r in refusals(text)]


def at(text: str) -> datetime:
    appointment = parse_appointment(text, NOW)
    assert not isinstance(appointment, Refusal), appointment
    return appointment.at


def test_the_canonical_labelled_report_gives_every_field():
    assert draft(CANONICAL) == ReportDraft(
        customer="张先生",
        phone=Phone("138***88888", was_full=False),
        team="飞虎队",
        canvasser="李四",
        appointment=datetime(2026, 11, 24, 15, 0, tzinfo=TZ),
        appointment_text="明天下午3点",
    )


# -- is_report -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["/report 客户：张先生", "/report", "/report@SomeBot 客户：张先生", "/REPORT 张先生", "报备", "报备：客户：张先生",
     "报备 张先生 138***88888", "  报备\n客户：张先生", "\u200b报备 张先生"],
)
def test_a_message_starting_with_the_command_or_the_word_is_a_report(text):
    assert is_report(text)


@pytest.mark.parametrize(
    "text", ["报备人：李四", "报备人:李四 客户：张先生", "/reports", "/reportx", "你好", "客户：张先生", "请报备一下", ""]
)
def test_other_messages_are_not_reports(text):
    assert not is_report(text)


# -- labels ----------------------------------------------------------------------------------------


def report_with(label_of: dict[Field, str], sep: str = "\n", colon: str = "：") -> str:
    values = {
        Field.CUSTOMER: "张先生",
        Field.PHONE: "138***88888",
        Field.TEAM: "飞虎队",
        Field.CANVASSER: "李四",
        Field.APPOINTMENT: "明天下午3点",
    }
    defaults = {Field.CUSTOMER: "客户", Field.PHONE: "电话", Field.TEAM: "队名", Field.CANVASSER: "拓客",
                Field.APPOINTMENT: "到访时间"}
    labels = {**defaults, **label_of}
    return "报备" + sep + sep.join(f"{labels[f]}{colon}{values[f]}" for f in values)


EXPECTED = ReportDraft("张先生", Phone("138***88888", False), "飞虎队", "李四",
                       datetime(2026, 11, 24, 15, 0, tzinfo=TZ), "明天下午3点")


@pytest.mark.parametrize("label", ["客户", "客户姓名", "姓名", "Customer", "customer", "CUSTOMER"])
def test_every_customer_label_is_understood(label):
    assert draft(report_with({Field.CUSTOMER: label})) == EXPECTED


@pytest.mark.parametrize("label", ["电话", "手机", "手机号", "号码", "手机号码", "客户电话", "phone", "Phone", "mobile"])
def test_every_phone_label_is_understood(label):
    assert draft(report_with({Field.PHONE: label})) == EXPECTED


@pytest.mark.parametrize("label", ["队名", "团队", "战队", "team", "Team"])
def test_every_team_label_is_understood(label):
    assert draft(report_with({Field.TEAM: label})) == EXPECTED


@pytest.mark.parametrize(
    "label", ["拓客", "行销", "报备人", "姓名(行销)", "姓名（行销）", "姓名 （ 行销 ）", "行销人员", "拓客人员",
              "canvasser", "Agent"]
)
def test_every_canvasser_label_is_understood(label):
    assert draft(report_with({Field.CANVASSER: label})) == EXPECTED


@pytest.mark.parametrize("label", ["到访", "到访时间", "预约", "预约时间", "时间", "time", "Visit"])
def test_every_appointment_label_is_understood(label):
    assert draft(report_with({Field.APPOINTMENT: label})) == EXPECTED


def test_the_note_label_is_understood():
    assert draft(CANONICAL + "\n备注：带父母一起来").note == "带父母一起来"
    assert draft(CANONICAL + "\nNote: with parents").note == "with parents"


@pytest.mark.parametrize("label", ["原因", "未到访原因", "reason"])
def test_every_reason_label_is_understood(label):
    assert draft(CANONICAL + f"\n{label}：客户出差").reason == "客户出差"


def test_note_and_reason_are_optional():
    result = draft(CANONICAL)
    assert result.note is None and result.reason is None


def test_an_empty_note_is_no_note():
    assert draft(CANONICAL + "\n备注：").note is None


def test_the_longest_label_wins():
    result = draft("报备\n客户姓名：张先生\n手机号：138***88888\n队名：飞虎队\n姓名（行销）：李四\n到访时间：明天下午3点")
    assert result.customer == "张先生" and result.canvasser == "李四"
    assert result.appointment_text == "明天下午3点"


def test_every_label_of_a_field_maps_to_that_field_only():
    seen: dict[str, Field] = {}
    for field_, labels in LABELS.items():
        for label in labels:
            assert seen.setdefault(label.lower(), field_) is field_, label


def test_labels_are_fields_in_any_order():
    text = "报备\n到访时间：明天下午3点\n拓客：李四\n电话：138***88888\n队名：飞虎队\n客户：张先生"
    assert draft(text) == EXPECTED


@pytest.mark.parametrize("colon", ["：", ":", " : ", "：  "])
def test_chinese_or_english_colons_are_accepted(colon):
    assert draft(report_with({}, colon=colon)) == EXPECTED


@pytest.mark.parametrize("sep", ["\n", " ", "，", ",", "；", ";", "、", "\r\n", "  ", "， "])
def test_fields_may_be_separated_by_newlines_spaces_or_commas(sep):
    assert draft(report_with({}, sep=sep)) == EXPECTED


def test_fields_may_follow_each_other_without_separator():
    assert draft("报备 客户：张先生电话：138***88888队名：飞虎队拓客：李四到访时间：明天下午3点") == EXPECTED


def test_values_may_contain_spaces():
    text = "报备 客户：张先生 电话：138***88888 队名：飞虎队 拓客：李四 到访：11-25 15:00 备注：带 父母 一起来"
    result = draft(text)
    assert result.appointment_text == "11-25 15:00"
    assert result.appointment == at("11-25 15:00")
    assert result.note == "带 父母 一起来"


def test_values_are_trimmed_and_whitespace_collapsed():
    result = draft("报备\n客户：  张先生　\n电话：138***88888\n队名：飞虎  队\n拓客：李四\n到访时间：明天下午3点\n备注：带　父母\t 一起来 ")
    assert result.customer == "张先生"
    assert result.team == "飞虎 队"
    assert result.note == "带 父母 一起来"


def test_the_command_may_be_followed_by_a_colon():
    assert draft(CANONICAL.replace("报备\n", "报备：")) == EXPECTED
    assert draft(CANONICAL.replace("报备\n", "报备: ")) == EXPECTED


@pytest.mark.parametrize("command", ["/report", "/report@SomeBot", "/report@reportbot_bot"])
def test_the_slash_command_and_its_bot_form_are_accepted(command):
    assert draft(CANONICAL.replace("报备", command, 1)) == EXPECTED


def test_a_report_without_the_command_is_still_read():
    assert draft(CANONICAL.removeprefix("报备\n")) == EXPECTED


def test_a_label_repeated_with_the_same_value_is_fine():
    assert draft(CANONICAL + "\n客户：张先生") == EXPECTED


def test_a_label_repeated_with_another_value_is_refused_on_that_field():
    assert refusals(CANONICAL + "\n队名：猛虎队") == (Refusal.of(Field.TEAM, "report_field_twice", label="队名"),)


def test_two_customers_in_one_message_are_refused_as_such_never_one_silently_dropped():
    assert refusals(CANONICAL + "\n姓名：王女士") == (Refusal.of(Field.CUSTOMER, "report_several_customers"),)
    two = "报备\n1. 客户：张先生 电话：138***88888\n2. 客户：王女士 电话：139***12345\n队名：飞虎队\n拓客：李四\n到访：明天下午3点"
    assert refusals(two) == (Refusal.of(Field.CUSTOMER, "report_several_customers"),)


def test_full_width_digits_colons_and_parentheses_are_understood():
    result = draft("报备\n客户：张先生\n电话：１３８＊＊＊８８８８８\n队名：飞虎队\n姓名（行销）：李四\n到访时间：明天下午３点")
    assert result.phone.masked == "138***88888"
    assert result.appointment_text == "明天下午3点"


def test_the_customer_name_is_kept_as_typed():
    assert draft(CANONICAL.replace("张先生", "Ｚｈａｎｇ先生")).customer == "Ｚｈａｎｇ先生"


def test_team_and_canvasser_are_normalised_to_compare_with_registrations():
    result = draft(CANONICAL.replace("飞虎队", "飞虎２组"))
    assert result.team == "飞虎2组"


def test_zero_width_and_control_characters_are_ignored():
    text = CANONICAL.replace("张先生", "张\u200b先生").replace("电话", "电\u200d话").replace("李四", "李四\x07")
    assert draft(text) == EXPECTED


# -- the customer's phone --------------------------------------------------------------------------


def test_a_full_number_is_masked_and_flagged():
    result = draft(CANONICAL.replace("138***88888", "138 1238 8888"))
    assert result.phone == Phone("138***88888", was_full=True)


def test_the_suffix_policy_is_applied():
    result = draft(CANONICAL.replace("138***88888", "138****8888"), Policy(mask_suffix_digits=4))
    assert result.phone.masked == "138****8888"
    assert codes(CANONICAL.replace("138***88888", "138****8888")) == ["phone_suffix_short"]


def test_a_phone_refusal_is_passed_through():
    assert refusals(CANONICAL.replace("138***88888", "120***88888")) == (
        Refusal.of(Field.PHONE, "phone_prefix", prefix="120"),
    )


# -- positional form -------------------------------------------------------------------------------


def test_the_positional_form_is_accepted():
    assert draft("报备 张先生 138***88888 飞虎队 李四 明天下午3点") == EXPECTED


def test_the_positional_appointment_is_the_rest_of_the_line():
    result = draft("报备 张先生 138***88888 飞虎队 李四 下周二 14:00")
    assert result.appointment_text == "下周二 14:00"
    assert result.appointment == at("下周二 14:00")


def test_the_positional_form_accepts_a_phone_in_groups():
    assert draft("报备 张先生 138 **** 88888 飞虎队 李四 明天下午3点") == EXPECTED
    full = draft("报备 张先生 138 1238 8888 飞虎队 李四 明天下午3点")
    assert full.phone == Phone("138***88888", was_full=True)


def test_the_positional_form_accepts_commas():
    assert draft("报备，张先生，138***88888，飞虎队，李四，明天下午3点") == EXPECTED


def test_the_positional_form_with_the_slash_command():
    assert draft("/report@SomeBot 张先生 138***88888 飞虎队 李四 明天下午3点") == EXPECTED


def test_the_positional_form_accepts_a_latin_customer_name():
    assert draft("报备 Zhang San 138***88888 飞虎队 李四 明天下午3点").customer == "Zhang San"


def test_the_positional_form_without_appointment_says_so():
    assert refusals("报备 张先生 138***88888 飞虎队 李四") == (Refusal.of(Field.APPOINTMENT, "appointment_missing"),)


def test_the_positional_form_with_only_customer_and_phone_names_the_rest():
    assert codes("报备 张先生 138***88888") == ["team_missing", "canvasser_missing", "appointment_missing"]


def test_the_positional_form_without_a_phone_says_the_phone_is_missing():
    assert refusals("报备 张先生 飞虎队 李四 明天下午3点") == (
        Refusal.of(Field.PHONE, "phone_missing", example="138***88888"),
    )


def test_the_positional_form_with_a_bad_phone_names_the_phone():
    assert codes("报备 张先生 138 飞虎队 李四 明天下午3点") == ["phone_length"]


def test_the_positional_form_with_a_number_before_the_phone_names_the_customer():
    assert codes("报备 张先生2 138***88888 飞虎队 李四 明天下午3点") == ["customer_digits"]


# -- refusals --------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["报备", "/report", "报备 你好", "报备一下这个客户", "", "   ", "报备 张先生"])
def test_nothing_recognisable_is_one_format_refusal(text):
    assert refusals(text) == (Refusal.of(Field.FORMAT, "report_format"),)


def test_a_report_with_only_the_command_and_labels_names_every_missing_field_in_order():
    assert refusals("报备 备注：明天来") == (
        Refusal.of(Field.CUSTOMER, "customer_missing"),
        Refusal.of(Field.PHONE, "phone_missing", example="138***88888"),
        Refusal.of(Field.TEAM, "team_missing"),
        Refusal.of(Field.CANVASSER, "canvasser_missing"),
        Refusal.of(Field.APPOINTMENT, "appointment_missing"),
    )


def test_several_problems_are_all_named_in_field_order():
    text = "报备\n到访时间：\n拓客：李四3\n队名：" + "队" * 21 + "\n电话：120***88888\n客户：张先生1"
    assert refusals(text) == (
        Refusal.of(Field.CUSTOMER, "customer_digits"),
        Refusal.of(Field.PHONE, "phone_prefix", prefix="120"),
        Refusal.of(Field.TEAM, "team_too_long", max=20, got=21),
        Refusal.of(Field.CANVASSER, "canvasser_digits"),
        Refusal.of(Field.APPOINTMENT, "appointment_missing"),
    )


@pytest.mark.parametrize("name", ["张先生", "张女士", "张三", "张", "欧阳女士", "John Smith", "王" * 20])
def test_customer_names_of_one_to_twenty_characters_without_digits_are_accepted(name):
    assert draft(CANONICAL.replace("张先生", name)).customer == name


def test_a_missing_customer_is_refused():
    assert refusals(CANONICAL.replace("张先生", "")) == (Refusal.of(Field.CUSTOMER, "customer_missing"),)


@pytest.mark.parametrize("name", ["张先生1", "张３", "①号客户"])
def test_a_customer_with_digits_is_refused(name):
    assert refusals(CANONICAL.replace("张先生", name)) == (Refusal.of(Field.CUSTOMER, "customer_digits"),)


def test_a_customer_longer_than_twenty_characters_is_refused():
    assert refusals(CANONICAL.replace("张先生", "张" * 21)) == (
        Refusal.of(Field.CUSTOMER, "customer_too_long", max=20, got=21),
    )


def test_a_missing_team_is_refused():
    assert refusals(CANONICAL.replace("飞虎队", "")) == (Refusal.of(Field.TEAM, "team_missing"),)


def test_a_team_may_contain_digits():
    assert draft(CANONICAL.replace("飞虎队", "2组")).team == "2组"


def test_a_team_longer_than_twenty_characters_is_refused():
    assert refusals(CANONICAL.replace("飞虎队", "队" * 21)) == (
        Refusal.of(Field.TEAM, "team_too_long", max=20, got=21),
    )


def test_a_missing_canvasser_is_refused():
    assert refusals(CANONICAL.replace("李四", "")) == (Refusal.of(Field.CANVASSER, "canvasser_missing"),)


def test_a_canvasser_with_digits_is_refused():
    assert refusals(CANONICAL.replace("李四", "李四4")) == (Refusal.of(Field.CANVASSER, "canvasser_digits"),)


def test_a_canvasser_longer_than_twenty_characters_is_refused():
    assert refusals(CANONICAL.replace("李四", "李" * 21)) == (
        Refusal.of(Field.CANVASSER, "canvasser_too_long", max=20, got=21),
    )


def test_a_missing_appointment_is_refused():
    assert refusals(CANONICAL.replace("明天下午3点", "")) == (
        Refusal.of(Field.APPOINTMENT, "appointment_missing"),
    )


def test_an_unreadable_appointment_is_refused_as_the_time_parser_says():
    expected = parse_appointment("改天吧", NOW)
    assert isinstance(expected, Refusal) and expected.field is Field.APPOINTMENT
    assert refusals(CANONICAL.replace("明天下午3点", "改天吧")) == (expected,)


@pytest.mark.parametrize(
    "text", ["明天下午3点", "11月25日下午3点", "11-25 15:00", "2026-11-25 15:30", "后天上午10点", "下周二 14:00"]
)
def test_the_appointment_is_read_by_the_time_parser(text):
    result = draft(CANONICAL.replace("明天下午3点", text))
    assert result.appointment == at(text)
    assert result.appointment_text == text


def test_the_window_is_not_checked_here():
    assert draft(CANONICAL.replace("明天下午3点", "2026-12-25 15:30")).appointment == at("2026-12-25 15:30")


def test_a_note_longer_than_two_hundred_characters_is_refused():
    assert draft(CANONICAL + "\n备注：" + "好" * 200).note == "好" * 200
    assert refusals(CANONICAL + "\n备注：" + "好" * 201) == (
        Refusal.of(Field.NOTE, "note_too_long", max=200, got=201),
    )


def test_a_reason_longer_than_two_hundred_characters_is_refused():
    assert refusals(CANONICAL + "\n原因：" + "忙" * 201) == (
        Refusal.of(Field.REASON, "reason_too_long", max=200, got=201),
    )


# -- properties ------------------------------------------------------------------------------------

ALL_LABELS = sorted({label for labels in LABELS.values() for label in labels})
pieces = st.one_of(
    st.sampled_from(ALL_LABELS),
    st.sampled_from(
        ["：", ":", " ", "\n", "，", ",", "；", "、", "*", "＊", "x", "-", "+86", "\u200b", "　", "报备", "/report"]
    ),
    st.text(alphabet="0123456789１３８", min_size=1, max_size=12),
    st.sampled_from(["张先生", "飞虎队", "李四", "明天下午3点", "下周二", "14:00", "138***88888", "13812388888"]),
    st.text(max_size=8),
)
report_like = st.lists(pieces, max_size=40).map("".join)


def assert_well_formed(result):
    if isinstance(result, ReportDraft):
        assert len(result.phone.masked) == 11
        assert result.appointment.tzinfo is not None
        return
    assert result, "a refusal tuple is never empty"
    for refusal in result:
        assert isinstance(refusal.field, Field)
        assert (TEMPLATES / f"{refusal.code}.j2").is_file(), f"no template for {refusal.code}"
    order = [r.field for r in result]
    field_order = [Field.CUSTOMER, Field.PHONE, Field.TEAM, Field.CANVASSER, Field.APPOINTMENT, Field.NOTE,
                   Field.REASON, Field.FORMAT]
    assert order == sorted(order, key=field_order.index)
    assert len(set(order)) == len(order), "every field is named at most once"


@settings(max_examples=300)
@given(st.text(max_size=600))
def test_parse_report_never_raises_on_arbitrary_text(text):
    assert_well_formed(parse_report(text, NOW, POLICY))


@settings(max_examples=300)
@given(report_like)
def test_parse_report_never_raises_on_report_like_text(text):
    assert_well_formed(parse_report(text, NOW, POLICY))
    assert is_report(text) in (True, False)


@pytest.mark.parametrize(
    "text",
    [
        "报备" + "客户：" * 1400,
        "报备 " + "1" * 4090,
        "报备 " + "138*" * 1000,
        "报备 " + "姓名 ( 行销 " * 400,
        "报备 " + " ".join(["138"] * 1000),
        "/report@" + "a" * 4000,
        "报备 " + "a" * 4090 + ":",
        "报备 " + "\u200b" * 4090,
    ],
)
def test_a_long_hostile_message_is_handled_quickly(text):
    started = time.perf_counter()
    assert_well_formed(parse_report(text[:4096], NOW, POLICY))
    assert time.perf_counter() - started < 1.0


def _clean_char_by_char(text: str) -> str:
    """The definition report_text.clean keeps, one character at a time (it uses a cached translate table)."""
    kept = []
    for ch in text.replace("\r\n", "\n"):
        ch = report_text.LINE_BREAKS.get(ch, ch)
        if ch == "\n" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn"):
            kept.append(ch)
    return "".join(kept)


@settings(max_examples=300)
@given(st.text(max_size=200))
def test_cleaning_and_folding_by_table_equal_the_per_character_definition(text):
    assert report_text.clean(text) == _clean_char_by_char(text)
    assert report_text.fold(text) == "".join(report_text.fold_char(ch) for ch in text)
