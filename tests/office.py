"""A small sales office for tests: the demo office of `reportbot console --demo`, driven in code."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from datetime import datetime

from reportbot.bot.demo import DEMO_GROUP, seed_demo
from reportbot.handlers import delivery
from reportbot.handlers.context import Services
from reportbot.handlers.decide import handle_press
from reportbot.handlers.messages import Action, Edit, Incoming, Press, Send
from reportbot.handlers.router import handle_message
from tests.conftest import local

GROUP = DEMO_GROUP
LI, ZHAO, WANG, CHEN = "101", "102", "103", "104"  # canvasser 飞虎队, assistant, canvasser 猛虎队, manager
_KEYS = itertools.count(1)  # delivery keys, unique within a test run
Actions = list[Action]


async def open_office(svc: Services, at: str = "2026-11-20 09:00") -> None:
    await seed_demo(svc.db, local(at))


class Chat:
    """Sends messages and presses as people would, through the transport-neutral handlers.

    ``delivered``: as the Telegram transport does, each with a delivery key, inside one enclosing
    transaction (handlers.delivery); else straight to the handler, as the console does. The
    ``both_paths`` fixture (tests/handlers/conftest.py) runs a test module both ways.
    """

    delivered = False

    def __init__(self, svc: Services, at: str = "2026-11-23 10:00") -> None:
        self.svc = svc
        self.now: datetime = local(at)
        self._ids = 1000

    def at(self, when: str) -> Chat:
        self.now = local(when)
        return self

    async def say(self, user: str, text: str, *, group: str | None = None) -> list[Action]:
        self._ids += 1
        msg = Incoming(
            channel="console",
            sender_id=user,
            chat_id=group or user,
            is_group=group is not None,
            text=text,
            now=self.now,
            message_id=str(self._ids),
            delivery_key=f"msg:{next(_KEYS)}" if self.delivered else None,
        )
        return await self._handle(msg, lambda: handle_message(msg, self.svc))

    async def press(self, user: str, on: Send | Edit, label: str, message_id: str = "1") -> list[Action]:
        data = next(b.data for row in on.buttons for b in row if b.label == label)
        press = Press("console", user, on.chat_id, getattr(on, "message_id", message_id), data, self.now,
                      f"press:{next(_KEYS)}" if self.delivered else None)
        return await self._handle(press, lambda: handle_press(press, self.svc))

    async def _handle(self, item: Incoming | Press, work: Callable[[], Awaitable[Actions]]) -> Actions:
        if not self.delivered:
            return await work()
        handled = await delivery.handle_once(self.svc.db, item, work)
        assert not handled.duplicate
        return [q.action for q in handled.answers]


def sent(actions: list[Action], chat: str) -> list[Send]:
    return [a for a in actions if isinstance(a, Send) and a.chat_id == chat]


def only(actions: list[Action], chat: str) -> Send:
    found = sent(actions, chat)
    assert len(found) == 1, f"expected one message to {chat}, got {actions}"
    return found[0]


SURNAMES = "赵钱孙周吴郑冯陈褚卫蒋沈韩杨朱秦尤许何吕施孔曹严华金魏陶姜"


def customer(n: int) -> str:
    """The n-th of 60 distinct customer names (a name may not hold digits)."""
    return SURNAMES[n % len(SURNAMES)] + ("先生" if n // len(SURNAMES) % 2 == 0 else "女士")


def report_text(customer: str = "张先生", phone: str = "138***88888", team: str = "飞虎队", who: str = "李四",
                when: str = "明天下午3点", extra: str = "") -> str:
    return f"报备\n客户：{customer}\n电话：{phone}\n队名：{team}\n拓客：{who}\n到访：{when}{extra}"
