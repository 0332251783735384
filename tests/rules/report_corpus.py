"""The report corpus written with the parser (issue 22): every header, label, separator, mask and date form
the issue and SPEC §3 name, and each kind of refusal. tests/rules/report_corpus_unseen.py is the held-out
part, written without the parser; tests/rules/test_report_corpus.py runs both.

Every expectation assumes the report arrives at 2026-12-04 10:00 Asia/Shanghai (a Friday) under the
default policy (first 3 and last 5 digits of the phone visible, visits up to the end of 2026-12-11).
"""

from __future__ import annotations

from tests.rules.report_corpus_unseen import Case


def ok(customer: str, phone: str, team: str, canvasser: str, appointment: str, **extra: str) -> dict[str, str]:
    return {"customer": customer, "phone": phone, "team": team, "canvasser": canvasser,
            "appointment": appointment, **extra}


ZHANG = ok("张先生", "138***88888", "飞虎队", "李四", "2026-12-05 15:00")
BODY = "客户：张先生\n电话：138***88888\n队名：飞虎队\n拓客：李四\n到访：明天下午3点"

SEEN: list[Case] = [
    # headers
    *(Case(f"{header}\n{BODY}", ZHANG) for header in (
        "报备", "【报备】", "【客户报备】", "#报备#", "报备客户", "客户报备", "森林半岛报备", "江湾壹号客户报备",
        "【森林半岛】报备", "报备：", "/report", "＃报备＃", "✅报备",
    )),
    Case(f"【报备】\n{BODY}", ZHANG, private=False),
    Case(f"森林半岛报备\n{BODY}", ZHANG, private=False),
    Case(BODY, ZHANG),  # no header, in a private chat
    Case("张先生 138***88888 飞虎队 李四 明天下午3点", ZHANG),  # no header, no label, private
    Case("报备张先生 138***88888 飞虎队 李四 明天下午3点", ZHANG),
    Case("报备，张先生，138***88888，飞虎队，李四，明天下午3点", ZHANG),
    # the labels of each field
    *(Case(f"报备\n{label}：张先生\n电话：138***88888\n队名：飞虎队\n拓客：李四\n到访：明天下午3点", ZHANG)
      for label in ("客户姓名", "姓名", "客户名称", "客户姓氏")),
    *(Case(f"报备\n客户：张先生\n{label}：138***88888\n队名：飞虎队\n拓客：李四\n到访：明天下午3点", ZHANG)
      for label in ("手机", "手机号", "客户电话", "联系电话", "联系方式", "客户联系方式")),
    *(Case(f"报备\n客户：张先生\n电话：138***88888\n{label}：飞虎队\n拓客：李四\n到访：明天下午3点", ZHANG)
      for label in ("团队", "团队名称", "所属团队", "渠道", "渠道名称", "渠道公司", "公司", "门店")),
    *(Case(f"报备\n客户：张先生\n电话：138***88888\n队名：飞虎队\n{label}：李四\n到访：明天下午3点", ZHANG)
      for label in ("报备人", "报备人姓名", "经纪人", "渠道专员", "渠道专员姓名", "渠道人员")),
    *(Case(f"报备\n客户：张先生\n电话：138***88888\n队名：飞虎队\n拓客：李四\n{label}：明天下午3点", ZHANG)
      for label in ("到访时间", "预约时间", "预约到访", "预计到访", "预计到访时间", "客户预计到访时间", "带看时间")),
    Case("报备\n客户：张先生\n电话：138***88888\n队名：飞虎队\n拓客：李四\n到访日期：12月5日\n到访时间：下午3点", ZHANG),
    Case(BODY + "\n说明：带父母一起来", {**ZHANG, "note": "带父母一起来"}),
    # separators
    Case("报备\n客户 张先生\n电话 138***88888\n队名 飞虎队\n拓客 李四\n到访 明天下午3点", ZHANG),
    Case("报备\n客户\t张先生\n电话\t138***88888\n队名\t飞虎队\n拓客\t李四\n到访\t明天下午3点", ZHANG),
    Case("报备 客户 张先生 电话 138***88888 队名 飞虎队 拓客 李四 到访 明天下午3点", ZHANG),
    Case("报备\n客户 ： 张先生\n电话: 138***88888\n队名 :飞虎队\n拓客：李四\n到访：明天下午3点", ZHANG),
    Case("报备 客户：张先生，电话：138***88888，队名：飞虎队，拓客：李四，到访：明天下午3点", ZHANG),
    Case("报备 客户：张先生；电话：138***88888；队名：飞虎队；拓客：李四；到访：明天下午3点", ZHANG),
    Case("报备 客户:张先生;电话:138***88888;队名:飞虎队;拓客:李四;到访:明天下午3点", ZHANG),
    Case("报备\n👤客户：张先生\n📞电话：138***88888\n🏠队名：飞虎队\n🙋拓客：李四\n🕒到访：明天下午3点", ZHANG),
    Case("报备\n• 客户：张先生\n• 电话：138***88888\n• 队名：飞虎队\n• 拓客：李四\n• 到访：明天下午3点", ZHANG),
    Case("报备\n1. 客户：张先生\n2. 电话：138***88888\n3. 队名：飞虎队\n4. 拓客：李四\n5. 到访：明天下午3点", ZHANG),
    Case("报备\n\n客户：张先生  \n\n电话：138***88888\n队名：飞虎队   \n拓客：李四\n\n到访：明天下午3点\n", ZHANG),
    Case("报备\n客户：张先生电话：138***88888\n队名：飞虎队拓客：李四\n到访：明天下午3点", ZHANG),
    Case("报备\n客户：张先生\n电话：１３８＊＊＊８８８８８\n队名：飞虎队\n拓客：李四\n到访：明天下午３点", ZHANG),
    # lines the bot does not use
    Case("报备\n项目：森林半岛\n物业类型：住宅\n" + BODY + "\n客户来源：自拓\n到访人数：2人\n意向：三房", ZHANG),
    Case("报备\n" + BODY.replace("到访：明天下午3点", "到访：明天下午3点\n到访人数：2人"), ZHANG),
    Case("报备\n" + BODY + "\n经纪人电话：13912346666", ZHANG),
    Case("报备\n" + BODY + "\n渠道专员联系方式：139****6666", ZHANG),
    Case("报备\n" + BODY + "\n其他情况：想看江景房", ZHANG),
    Case("报备\n报备时间：2026.12.4 9:50\n" + BODY, ZHANG),
    # masks as typed
    *(Case(BODY.replace("138***88888", mask), ZHANG) for mask in (
        "138****88888", "138xxx88888", "138XXX88888", "138×××88888", "138 *** 88888", "138-***-88888",
        "138＊＊＊88888", "13812388888", "138 1238 8888",
    )),
    # dates as typed
    *(Case(BODY.replace("明天下午3点", when), ok("张先生", "138***88888", "飞虎队", "李四", expected))
      for when, expected in (
          ("2026/12/9 17:20", "2026-12-09 17:20"), ("2026-12-11 09:30", "2026-12-11 09:30"),
          ("12/9 14:00", "2026-12-09 14:00"), ("12.10 15:00", "2026-12-10 15:00"),
          ("12月10日15:00", "2026-12-10 15:00"), ("明晚7点", "2026-12-05 19:00"),
          ("周三下午两点", "2026-12-09 14:00"), ("下午3点半", "2026-12-04 15:30"),
          ("2026/12/9 17:20:00", "2026-12-09 17:20"),
      )),
    # refusals, one thing wrong each
    Case(BODY.replace("138***88888", "138****8888"), refused="phone"),  # 前三后四 under 前三后五
    Case(BODY.replace("电话：138***88888\n", ""), refused="phone"),
    Case(BODY.replace("138***88888", "123***88888"), refused="phone"),
    Case(BODY.replace("138***88888", "138***88888 139***12345"), refused="phone"),  # which one? not a guess
    Case("报备\n客户：张先生\n电话：138***88888\n队名：飞虎队\n拓客：李四\n到访：明天下午3点\n其他电话：139***12345",
         refused="phone"),
    Case(BODY + "\n客户：王女士\n电话：139***12345", refused="customer"),  # two customers: one report each
    Case("报备\n1. 客户：张先生 电话：138***88888\n2. 客户：王女士 电话：139***12345\n队名：飞虎队\n拓客：李四\n到访：明天下午3点",
         refused="customer"),
    Case(BODY.replace("客户：张先生\n", ""), refused="customer"),
    Case(BODY.replace("队名：飞虎队\n", ""), refused="team"),
    Case(BODY.replace("拓客：李四\n", ""), refused="canvasser"),
    Case(BODY.replace("明天下午3点", "明天"), refused="appointment"),
    Case(BODY.replace("明天下午3点", "12月20日下午3点"), refused="appointment"),
    Case(BODY.replace("到访：明天下午3点", "到访日期：12月5日"), refused="appointment"),
    Case("报备\n" + BODY.replace("到访：明天下午3点", "到访：明天上午10点 到访人数：2人"),
         ok("张先生", "138***88888", "飞虎队", "李四", "2026-12-05 10:00")),
]

# Group chatter that is about reports, customers and times, and still no report (besides the held-out
# CHATTER of report_corpus_unseen.py).
CHATTER_SEEN: list[str] = [
    "收到", "客户到了", "3号楼1201 350万", "已报备", "报备了吗", "报备一下", "我刚报备了张先生",
    "王五报备的客户电话138***88888", "报备人是谁？", "报备时间截止到几点", "报备规则发群里了",
    "客户报备的时候要写全名", "138***88888那个客户到了", "明天下午3点开会", "客户：张先生到了没",
    "#报备#格式看群公告", "【报备】请大家注意格式", "电话多少", "报备格式：客户 电话 队名 拓客 到访",
]
