"""The report pipeline in process: reports as the Telegram transport hands them over, as the storage loads.

A report is an ``Incoming`` with a delivery key, handled once (reportbot/handlers/delivery.py: the key, the
use case and its answers in the outbox, one transaction), by one caller, by one caller in groups as
bot/polling.py makes them, and on PostgreSQL by 8 concurrent callers into one project and into all five.
bench/storage_throughput.py sets these loads beside the bare floors; the race and the footprint send
their reports through the same functions.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable

from bench.common import POSTGRES, Load, calls, grouped
from bench.storage_ledger import (
    ASSISTANT,
    CANVASSERS,
    MESSAGE_IDS,
    OVER_TCP,
    PROJECTS,
    Ledger,
    Plan,
    phone_text,
)
from reportbot.bot import polling
from reportbot.handlers import delivery
from reportbot.handlers.context import Services
from reportbot.handlers.messages import Incoming, Send
from reportbot.handlers.router import handle_message
from tests.storage.race import REPORTED_AT, TEAM, canvasser

REPORT_TEXT = "报备 客户：张先生 电话：{phone} 队名：" + TEAM + " 拓客：{name} 到访：明天下午3点"

# Names of the loads, as the table shows them.
PIPELINE, PIPELINE_8 = "pipeline, 1 caller", "pipeline, 8 concurrent callers"
# The same, spread over the five projects (each report sent in its project's group): a project's
# writers queue on its receipt counter and audit-chain head; writers of different projects do not.
PIPELINE_8_SPREAD = "pipeline, 8 concurrent callers, 5 projects"
PIPELINE_GROUPED = (
    f"pipeline, 1 caller, groups of up to {polling.GROUP} or {polling.GROUP_SECONDS * 1000:g} ms in one "
    "transaction (as bot/polling.py)"
)


def report_message(phone: str, i: int) -> Incoming:
    """Canvasser i mod 200 reports customer ``phone`` in a private chat with the bot, with a delivery key."""
    person = canvasser(i % CANVASSERS)
    assert person.telegram_id
    text = REPORT_TEXT.format(phone=phone, name=person.name)
    key = f"msg:{person.telegram_id}:{os.getpid()}-{next(MESSAGE_IDS)}"  # the footprint child reports too
    return Incoming("telegram", person.telegram_id, person.telegram_id, False, text, REPORTED_AT, str(i), key)


async def answer_report(svc: Services, phone: str, i: int) -> bool:
    """Report i as the Telegram transport hands it over (delivery.handle_once: the key, the use case and
    its answers in the outbox, one transaction): True for a receipt, False for a duplicate."""
    msg = report_message(phone, i)
    handled = await delivery.handle_once(svc.db, msg, lambda: handle_message(msg, svc))
    actions = [q.action for q in handled.answers]
    answer = actions[0].text if actions and isinstance(actions[0], Send) else repr(actions)
    assert "回执号" in answer or "撞单" in answer, answer
    return "回执号" in answer


async def send_group_report(svc: Services, phone: str, i: int) -> None:
    """Report i sent in the group of project i mod 5 (as registered: -1009000 - n): the card must come back."""
    person = canvasser(i % CANVASSERS)
    assert person.telegram_id
    text = REPORT_TEXT.format(phone=phone, name=person.name)
    group = str(-1009000 - i % len(PROJECTS))
    key = f"msg:{group}:{os.getpid()}-{next(MESSAGE_IDS)}"
    msg = Incoming("telegram", person.telegram_id, group, True, text, REPORTED_AT, str(i), key)
    handled = await delivery.handle_once(svc.db, msg, lambda: handle_message(msg, svc))
    cards = [q.action.text for q in handled.answers if isinstance(q.action, Send) and q.action.chat_id == group]
    assert cards and "BB-" in cards[-1], handled


async def send_report(svc: Services, phone: str, i: int) -> None:
    """Report i of a new customer; a receipt must come back."""
    assert await answer_report(svc, phone, i)


async def ask_who(svc: Services, phone: str) -> None:
    """The assistant asks /who about a customer; the answer must name the customer."""
    assert ASSISTANT.telegram_id
    user = ASSISTANT.telegram_id
    actions = await handle_message(Incoming("telegram", user, user, False, f"/who {phone}", REPORTED_AT), svc)
    assert isinstance(actions[0], Send) and phone in actions[0].text, actions


def pipeline_loads(svc: Services, ledger: Ledger, plan: Plan, tcp: Services | None = None) -> dict[str, Load]:
    """The pipeline's loads; ``tcp``: the same services over TCP, for the 8-caller loads' second run."""
    # After each report (or group) the load yields to the event loop once, as the bot does when it
    # awaits the network between updates. On SQLite nothing in a report awaits I/O, so without it the
    # loop's other work never ran: the checkpointer never copied the log, and the log grew all run long.
    def one_via(over: Services) -> Callable[[int], Awaitable[None]]:
        async def one(i: int) -> None:
            await send_report(over, phone_text(ledger.take_phones()), i)
            await asyncio.sleep(0)

        return one

    one = one_via(svc)

    async def one_group(g: int) -> int:
        """As bot/polling.py's _in_one_transaction: up to GROUP reports, or fewer once GROUP_SECONDS passed."""
        started, done = time.perf_counter(), 0
        async with delivery.batch(svc.db):
            while done < polling.GROUP:
                await send_report(svc, phone_text(ledger.take_phones()), g * polling.GROUP + done)
                done += 1
                if time.perf_counter() - started >= polling.GROUP_SECONDS:
                    break
        await asyncio.sleep(0)
        return done

    loads = {
        PIPELINE: calls(one, plan.pipeline_reports),
        PIPELINE_GROUPED: grouped(one_group, plan.pipeline_reports),
    }
    if ledger.kind == POSTGRES:
        for over, via in ((svc, ""), (tcp, OVER_TCP)):
            if over is None:
                continue
            loads[PIPELINE_8 + via] = calls(one_via(over), plan.pipeline_reports, workers=8)
            loads[PIPELINE_8_SPREAD + via] = calls(
                lambda i, s=over: send_group_report(s, phone_text(ledger.take_phones()), i), plan.pipeline_reports,
                workers=8,
            )  # fmt: skip
    return loads
