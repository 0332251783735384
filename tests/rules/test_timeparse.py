"""The appointment time: reading what canvassers type, and its window (SPEC §3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reportbot
from reportbot.rules.policy import Policy
from reportbot.rules.refusal import Field, Refusal
from reportbot.rules.timeparse import (
    Appointment,
    check_window,
    describe,
    describe_day,
    parse_appointment,
    validity_end,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)  # a Monday morning
YEAR_END = datetime(2026, 12, 30, 10, 0, tzinfo=SHANGHAI)  # a Wednesday
SATURDAY = datetime(2026, 11, 28, 10, 0, tzinfo=SHANGHAI)
LATE = datetime(2026, 11, 23, 23, 50, tzinfo=SHANGHAI)
POLICY = Policy()
TEMPLATES = Path(reportbot.__file__).parent / "templates" / "refusals"


def at(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def window_code(when: datetime, reported_at: datetime, policy: Policy = POLICY) -> str | None:
    refusal = check_window(when, reported_at, policy)
    return None if refusal is None else refusal.code


def parsed(text: str, now: datetime = NOW) -> datetime:
    result = parse_appointment(text, now)
    assert isinstance(result, Appointment), (text, result)
    return result.at


def refused(text: str, now: datetime = NOW) -> Refusal:
    result = parse_appointment(text, now)
    assert isinstance(result, Refusal), (text, result)
    assert result.field is Field.APPOINTMENT
    return result


# --- what canvassers type, against Monday 2026-11-23 10:00 --------------------------------------

PHRASES = [
    # the SPEC's examples
    ("11月25日下午3点", at(11, 25, 15)),
    ("11-25 15:00", at(11, 25, 15)),
    ("2026-11-25 15:30", at(11, 25, 15, 30)),
    ("明天下午3点半", at(11, 24, 15, 30)),
    ("后天上午10点", at(11, 25, 10)),
    ("周六上午10点", at(11, 28, 10)),
    ("下周二 14:00", at(12, 1, 14)),
    ("今天下午4点", at(11, 23, 16)),
    ("今晚7点", at(11, 23, 19)),
    ("25号下午两点", at(11, 25, 14)),
    ("明早9点", at(11, 24, 9)),
    # calendar dates
    ("11月25号 下午3:30", at(11, 25, 15, 30)),
    ("11/25 15:00", at(11, 25, 15)),
    ("11.25 15:00", at(11, 25, 15)),
    ("2026年11月25日15时", at(11, 25, 15)),
    ("2026/11/25 15:00", at(11, 25, 15)),
    ("11月25日 15点30分", at(11, 25, 15, 30)),
    ("11月25日15时30分", at(11, 25, 15, 30)),
    ("十一月二十五日下午三点", at(11, 25, 15)),
    ("二〇二六年十一月二十五日下午三点", at(11, 25, 15)),
    ("二十五号下午三点", at(11, 25, 15)),
    ("11月25日(周三) 15:00", at(11, 25, 15)),  # the bot's own echo
    ("11月25日周三下午3点", at(11, 25, 15)),
    # relative days
    ("明天 15:00", at(11, 24, 15)),
    ("明天下午三点一刻", at(11, 24, 15, 15)),
    ("明天下午3点三刻", at(11, 24, 15, 45)),
    ("明天下午3点45", at(11, 24, 15, 45)),
    ("明天下午3点15分", at(11, 24, 15, 15)),
    ("明天下午三点零五", at(11, 24, 15, 5)),
    ("明天上午十点半", at(11, 24, 10, 30)),
    ("明天上午十一点", at(11, 24, 11)),
    ("明天中午12点", at(11, 24, 12)),
    ("明天中午1点", at(11, 24, 13)),
    ("明天晚上8点", at(11, 24, 20)),
    ("明晚8点", at(11, 24, 20)),
    ("明天早上8点", at(11, 24, 8)),
    ("明天下午12点", at(11, 24, 12)),
    ("明天凌晨5点", at(11, 24, 5)),
    ("后天 9:30", at(11, 25, 9, 30)),
    ("大后天上午10点", at(11, 26, 10)),
    ("明天下午3", at(11, 24, 15)),
    ("明天3pm", at(11, 24, 15)),
    ("明天 3:30 PM", at(11, 24, 15, 30)),
    ("明天10am", at(11, 24, 10)),
    # weekdays
    ("星期六上午10点", at(11, 28, 10)),
    ("礼拜天下午2点", at(11, 29, 14)),
    ("周日下午2点", at(11, 29, 14)),
    ("周天下午2点", at(11, 29, 14)),
    ("这周五下午3点", at(11, 27, 15)),
    ("本周五下午3点", at(11, 27, 15)),
    ("下周一上午9点", at(11, 30, 9)),
    ("下个星期一上午9点", at(11, 30, 9)),
    ("下下周一 10:00", at(12, 7, 10)),
    ("周一下午3点", at(11, 23, 15)),  # today is Monday
    # today, and no date at all
    ("今天15:00", at(11, 23, 15)),
    ("今天 16:30", at(11, 23, 16, 30)),
    ("今晚7点半", at(11, 23, 19, 30)),
    ("今天傍晚6点", at(11, 23, 18)),
    ("今天 9:30", at(11, 23, 9, 30)),
    ("今天13点", at(11, 23, 13)),
    ("下午3点", at(11, 23, 15)),
    ("15:00", at(11, 23, 15)),
    # bare hours on another day
    ("明天3点整", at(11, 24, 15)),
    ("明天3点钟", at(11, 24, 15)),
    ("明天6点", at(11, 24, 18)),
    ("明天7点", at(11, 24, 7)),
    ("明天12点", at(11, 24, 12)),
    ("明天0点", at(11, 24, 0)),
    # midnight
    ("明天24点", at(11, 25, 0)),
    ("今晚12点", at(11, 24, 0)),
    # full-width, spaces and filler words
    ("１５：００", at(11, 23, 15)),
    ("明天１５：００", at(11, 24, 15)),
    ("１１月２５日　下午３点", at(11, 25, 15)),
    ("  明天下午3点  ", at(11, 24, 15)),
    ("约明天下午3点左右", at(11, 24, 15)),
    ("明天下午3点前后到访", at(11, 24, 15)),
]


@pytest.mark.parametrize(("text", "expected"), PHRASES)
def test_every_phrase_canvassers_type_means_one_precise_time(text: str, expected: datetime) -> None:
    result = parsed(text)
    assert result == expected
    assert result.tzinfo is NOW.tzinfo
    assert result.second == 0 and result.microsecond == 0


# --- rule 1: a missing year or month rolls forward ----------------------------------------------


def test_a_date_already_past_this_year_means_next_year() -> None:
    assert parsed("1月5日下午3点", YEAR_END) == at(1, 5, 15, year=2027)
    assert parsed("12月29日下午3点", YEAR_END) == at(12, 29, 15, year=2027)
    assert parsed("12月31日下午3点", YEAR_END) == at(12, 31, 15)


def test_relative_days_and_weekdays_cross_the_year_end() -> None:
    assert parsed("后天上午10点", YEAR_END) == at(1, 1, 10, year=2027)
    assert parsed("下周一上午9点", YEAR_END) == at(1, 4, 9, year=2027)
    assert parsed("周五下午3点", YEAR_END) == at(1, 1, 15, year=2027)


def test_a_day_without_a_month_rolls_into_next_month_once_it_has_passed() -> None:
    assert parsed("5号下午3点", YEAR_END) == at(1, 5, 15, year=2027)
    assert parsed("22号下午3点") == at(12, 22, 15)
    assert parsed("23号下午3点") == at(11, 23, 15)  # today
    assert parsed("25号下午两点", datetime(2026, 11, 25, 9, 0, tzinfo=SHANGHAI)) == at(11, 25, 14)


def test_a_written_year_is_taken_as_written() -> None:
    assert parsed("2027-01-05 15:00") == at(1, 5, 15, year=2027)
    assert parsed("2025-11-25 15:00") == at(11, 25, 15, year=2025)


# --- rule 2: weekdays ----------------------------------------------------------------------------


def test_bare_weekday_means_next_occurrence_counting_today() -> None:
    assert parsed("周六上午10点", SATURDAY) == at(11, 28, 10)
    assert parsed("周日上午10点", SATURDAY) == at(11, 29, 10)
    assert parsed("周五上午10点", SATURDAY) == at(12, 4, 10)


def test_this_week_means_the_current_monday_based_week_even_when_past() -> None:
    assert parsed("这周五下午3点", SATURDAY) == at(11, 27, 15)
    assert parsed("本周日下午3点", SATURDAY) == at(11, 29, 15)


def test_next_week_means_the_next_monday_based_week() -> None:
    assert parsed("下周六上午10点", SATURDAY) == at(12, 5, 10)
    assert parsed("下周一上午10点", SATURDAY) == at(11, 30, 10)
    assert parsed("下周日上午10点") == at(12, 6, 10)


def test_a_weekday_next_to_a_date_must_agree_with_it() -> None:
    refusal = refused("11月25日周五下午3点")
    assert refusal.code == "appointment_weekday_mismatch"
    assert dict(refusal.params) == {"day": "11月25日(周三)", "weekday": "周五"}
    assert refused("明天周三下午3点").code == "appointment_weekday_mismatch"
    assert parsed("明天周二下午3点") == at(11, 24, 15)


# --- rules 3 and 4: periods and bare hours ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "hour"),
    [
        ("明天凌晨12点", 0), ("明天凌晨3点", 3), ("明天早上7点", 7), ("明天早9点", 9), ("明天上午12点", 12),
        ("明天中午11点", 11), ("明天中午12点", 12), ("明天中午1点", 13), ("明天中午2点", 14),
        ("明天下午1点", 13), ("明天下午11点", 23), ("明天下午12点", 12), ("明天下午15点", 15),
        ("明天傍晚5点", 17), ("明天晚上9点", 21), ("明天晚9点", 21), ("明天晚上21点", 21),
    ],
)
def test_a_period_of_the_day_sets_the_hour(text: str, hour: int) -> None:
    assert parsed(text).hour == hour


@pytest.mark.parametrize(("text", "hour"), [("明天1点", 13), ("明天6点", 18), ("明天7点", 7), ("明天11点", 11)])
def test_a_bare_hour_on_another_day_means_afternoon_for_1_to_6(text: str, hour: int) -> None:
    assert parsed(text).hour == hour


@pytest.mark.parametrize("text", ["今天3点", "今天3点半", "今天12点", "3点", "10点", "23号3点", "周一3点"])
def test_a_bare_hour_today_is_refused_as_ambiguous(text: str) -> None:
    refusal = refused(text)
    assert refusal.code == "appointment_today_ambiguous"
    assert refusal.params["hour"] in text


def test_a_colon_time_is_a_24_hour_time_taken_as_written() -> None:
    assert parsed("今天 9:30") == at(11, 23, 9, 30)
    assert parsed("明天 3:00") == at(11, 24, 3)
    assert parsed("明天下午3:00") == at(11, 24, 15)


def test_a_bare_hour_on_saturday_means_saturday_today_so_it_is_ambiguous() -> None:
    assert refused("周六3点", SATURDAY).code == "appointment_today_ambiguous"


# --- rule 5: no date means today ----------------------------------------------------------------


def test_a_time_without_a_date_is_today_even_when_already_past() -> None:
    assert parsed("下午3点", LATE) == at(11, 23, 15)
    assert parsed("今晚11点", LATE) == at(11, 23, 23)
    assert parsed("明早9点", LATE) == at(11, 24, 9)


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_an_empty_time_is_missing(text: str) -> None:
    assert refused(text).code == "appointment_missing"


@pytest.mark.parametrize(
    "text",
    ["xyz", "随便", "尽快", "明天下午3点到5点", "明天 11月25日 下午3点", "明天下周二下午3点", "约", "下周末", "3点过5分"],
)
def test_text_that_is_not_a_time_is_unrecognised(text: str) -> None:
    refusal = refused(text)
    assert refusal.code == "appointment_unrecognised"
    assert refusal.params["text"] == text


def test_an_unrecognised_text_is_quoted_shortened() -> None:
    assert len(refused("啊" * 100).params["text"]) == 30


@pytest.mark.parametrize(("text", "day"), [("明天", "11月24日(周二)"), ("11月25日", "11月25日(周三)"),
                                           ("周六", "11月28日(周六)"), ("明天下午", "11月24日(周二)"),
                                           ("下午", "11月23日(周一)")])
def test_a_day_without_a_clock_time_is_refused(text: str, day: str) -> None:
    refusal = refused(text)
    assert refusal.code == "appointment_no_time"
    assert dict(refusal.params) == {"day": day}


@pytest.mark.parametrize(("text", "date"), [("2月30日下午3点", "2月30日"), ("2027-02-29 15:00", "2027年2月29日"),
                                            ("13月1日下午3点", "13月1日"), ("31号下午3点", "11月31日"),
                                            ("0号下午3点", "12月0日")])
def test_a_day_that_does_not_exist_is_a_bad_date(text: str, date: str) -> None:
    refusal = refused(text)
    assert refusal.code == "appointment_bad_date"
    assert dict(refusal.params) == {"date": date}


@pytest.mark.parametrize(("text", "time"), [("明天25点", "25点"), ("明天10:75", "10:75"), ("明天24:30", "24:30"),
                                            ("明天上午15点", "上午15点"), ("明天凌晨8点", "凌晨8点"),
                                            ("明天中午5点", "中午5点"), ("明天下午0点", "下午0点")])
def test_an_hour_or_minute_out_of_range_is_a_bad_time(text: str, time: str) -> None:
    refusal = refused(text)
    assert refusal.code == "appointment_bad_time"
    assert dict(refusal.params) == {"time": time}


@pytest.mark.parametrize(("text", "time", "hour"), [("明天晚上1点", "晚上1点", "1"), ("明天晚4点", "晚4点", "4"),
                                                    ("明天夜里2点", "夜里2点", "2")])
def test_one_to_four_in_the_evening_is_asked_about_not_taken_for_the_afternoon(text: str, time: str, hour: str) -> None:
    """晚上1点 used to become 13:00. It means past midnight as often as it is a slip for 下午1点."""
    refusal = refused(text)
    assert refusal.code == "appointment_late_night"
    assert dict(refusal.params) == {"time": time, "hour": hour}
    assert parsed("后天凌晨1点").hour == 1 and parsed("明天下午1点").hour == 13


@pytest.mark.parametrize(("text", "time"), [("明天晚上16点", "晚上16点"), ("明天傍晚13点", "傍晚13点")])
def test_an_afternoon_hour_written_as_evening_is_a_bad_time(text: str, time: str) -> None:
    refusal = refused(text)
    assert refusal.code == "appointment_bad_time"
    assert dict(refusal.params) == {"time": time}


def test_a_midnight_after_the_last_representable_day_is_a_bad_date() -> None:
    assert refused("9999-12-31 24:00").code == "appointment_bad_date"


# --- the window ----------------------------------------------------------------------------------


def test_the_end_of_the_seventh_day_after_the_report_is_still_accepted() -> None:
    assert check_window(at(11, 30, 23, 59), NOW, POLICY) is None
    assert check_window(at(11, 30, 23, 59), at(11, 23, 0, 1), POLICY) is None


def test_the_eighth_day_after_the_report_is_refused() -> None:
    refusal = check_window(at(12, 1, 0, 0), LATE, POLICY)
    assert refusal is not None and refusal.field is Field.APPOINTMENT
    assert refusal.code == "appointment_beyond_window"
    assert dict(refusal.params) == {"days": "7", "last_day": "11月30日(周一)"}


def test_a_past_appointment_is_refused() -> None:
    for when in (NOW, NOW - timedelta(minutes=1), at(11, 23, 15) - timedelta(days=1)):
        refusal = check_window(when, NOW, POLICY)
        assert refusal is not None and refusal.code == "appointment_past"
    past = check_window(at(11, 23, 9), NOW, POLICY)
    assert past is not None and dict(past.params) == {"at": "11月23日(周一) 09:00"}


def test_an_appointment_less_than_the_lead_time_after_the_report_is_refused() -> None:
    refusal = check_window(NOW + timedelta(minutes=29), NOW, POLICY)
    assert refusal is not None and refusal.code == "appointment_too_soon"
    assert dict(refusal.params) == {"minutes": "30"}
    assert check_window(NOW + timedelta(minutes=30), NOW, POLICY) is None


def test_the_window_follows_the_policy() -> None:
    policy = Policy(report_window_days=2, min_lead_minutes=0)
    assert check_window(at(11, 25, 23, 59), NOW, policy) is None
    assert window_code(at(11, 26, 0, 0), NOW, policy) == "appointment_beyond_window"
    assert check_window(NOW + timedelta(minutes=1), NOW, policy) is None


def test_the_report_time_may_come_in_any_time_zone() -> None:
    reported_utc = NOW.astimezone(UTC)
    assert check_window(NOW + timedelta(minutes=30), reported_utc, POLICY) is None
    assert window_code(NOW + timedelta(minutes=29), reported_utc) == "appointment_too_soon"
    # 2026-11-23 17:00 UTC is already 11-24 01:00 in Shanghai: the report day is the 24th.
    late_utc = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
    assert check_window(at(12, 1, 23, 59), late_utc, POLICY) is None


def test_validity_ends_at_local_midnight_after_the_last_day() -> None:
    end = validity_end(LATE, POLICY)
    assert end == at(12, 1, 0, 0)
    assert end.tzinfo == SHANGHAI
    assert validity_end(at(11, 23, 0, 0), POLICY) == at(12, 1, 0, 0)
    assert validity_end(datetime(2026, 11, 23, 17, 0, tzinfo=UTC), POLICY) == at(12, 2, 0, 0)


def test_a_parsed_time_checked_against_its_report_time() -> None:
    assert window_code(parsed("下午3点", LATE), LATE) == "appointment_past"
    assert window_code(parsed("今天 10:20"), NOW) == "appointment_too_soon"
    assert window_code(parsed("下周二 14:00"), NOW) == "appointment_beyond_window"
    assert check_window(parsed("下周一 23:59"), NOW, POLICY) is None


# --- describing ----------------------------------------------------------------------------------


def test_describe_writes_day_weekday_and_two_digit_clock() -> None:
    assert describe(at(11, 25, 15)) == "11月25日(周三) 15:00"
    assert describe(at(1, 5, 9, 5, year=2027)) == "1月5日(周二) 09:05"
    assert describe_day(at(11, 29, 0)) == "11月29日(周日)"


def test_a_described_time_reads_back_as_itself() -> None:
    when = at(11, 25, 9, 5)
    assert parsed(describe(when)) == when


# --- every refusal has its sentence ------------------------------------------------------------


def assert_well_formed(result: Appointment | Refusal, now: datetime) -> None:
    if isinstance(result, Appointment):
        assert result.at.tzinfo is now.tzinfo and result.at.second == 0
        return
    assert isinstance(result, Refusal)
    assert result.field is Field.APPOINTMENT
    assert result.code.startswith("appointment_")
    assert (TEMPLATES / f"{result.code}.j2").is_file(), result.code
    assert all(isinstance(v, str) for v in result.params.values())


def test_every_refusal_template_renders_its_params_as_one_line() -> None:
    jinja2 = pytest.importorskip("jinja2")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined)
    samples = [
        refused(""), refused("xyz"), refused("明天"), refused("3点"), refused("2月30日下午3点"),
        refused("明天25点"), refused("11月25日周五下午3点"), refused("明天晚上1点"),
        check_window(at(11, 23, 9), NOW, POLICY), check_window(NOW + timedelta(minutes=5), NOW, POLICY),
        check_window(at(12, 5, 10), NOW, POLICY),
    ]
    codes = set()
    for refusal in samples:
        assert refusal is not None
        source = (TEMPLATES / f"{refusal.code}.j2").read_text(encoding="utf-8")
        assert not source.endswith("\n\n")
        text = env.get_template(f"{refusal.code}.j2").render(params=refusal.params)
        assert text and "\n" not in text and "<" not in text
        codes.add(refusal.code)
    assert codes == {p.stem for p in TEMPLATES.glob("appointment_*.j2")}


VOCABULARY = [
    "今天", "明天", "后天", "大后天", "今", "明", "早", "晚", "上午", "下午", "中午", "凌晨", "傍晚", "晚上",
    "周", "星期", "礼拜", "这", "本", "下", "下下", "个", "一", "二", "两", "三", "五", "六", "七", "九", "十",
    "零", "〇", "日", "天", "号", "月", "年", "点", "时", "分", "半", "刻", "整", "钟", "约", "左右", "前后",
    ":", "：", "-", "/", ".", " ", "(", ")", "am", "pm", "１", "２", "０", "0", "1", "2", "3", "9", "12", "24",
    "25", "31", "59", "60", "99", "2026", "9999", "0000",
]


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_parsing_any_text_never_raises(text: str) -> None:
    for now in (NOW, YEAR_END):
        assert_well_formed(parse_appointment(text, now), now)


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(VOCABULARY), max_size=10).map("".join))
def test_parsing_time_words_in_any_order_never_raises(text: str) -> None:
    for now in (NOW, YEAR_END, SATURDAY, LATE):
        assert_well_formed(parse_appointment(text, now), now)


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)).map(
    lambda d: d.replace(second=0, microsecond=0, tzinfo=SHANGHAI)))
def test_any_described_time_reads_back_within_the_year(when: datetime) -> None:
    result = parse_appointment(describe(when), when - timedelta(days=1))
    assert isinstance(result, Appointment) and result.at == when
