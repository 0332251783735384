"""200 canvassers report the same customer at the same moment: exactly one receipt.

Also runnable as a separate bot process: `python -m tests.storage.race URL FIRST COUNT START_AT`
submits reports FIRST..FIRST+COUNT-1 at wall-clock time START_AT and prints how many got a receipt.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from reportbot.handlers import delivery, directory
from reportbot.handlers.context import Services
from reportbot.handlers.directory import NewStaff
from reportbot.handlers.messages import Incoming, Send
from reportbot.handlers.render import Renderer
from reportbot.handlers.router import handle_message
from reportbot.rules.policy import Policy
from reportbot.storage.db import Database

SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许"
GIVEN = "伟芳娜敏静丽强磊军洋"
TEAM = "飞虎队"
REPORTED_AT = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def canvasser(n: int) -> NewStaff:
    """Canvasser n (0–199): a distinct name without digits, Telegram id 5000+n."""
    name = SURNAMES[n % 20] + GIVEN[n // 20] + "生"
    return NewStaff(name, TEAM, "canvasser", str(5000 + n), project="开盘楼盘")


async def register(db: Database, count: int, now: datetime) -> None:
    await directory.add_project(db, "开盘楼盘", "-1009000", None, now)
    await directory.import_staff(db, [(n + 2, canvasser(n)) for n in range(count)], now)


async def report_all(svc: Services, numbers: range, now: datetime, *, delivered: bool = False) -> list[bool]:
    """Every canvasser in ``numbers`` sends the same customer at once; True where a receipt came back.

    ``delivered``: through handlers.delivery with a delivery key, as the Telegram transport does.
    """

    async def one(n: int) -> bool:
        person = canvasser(n)
        text = f"报备 客户：张先生 电话：138***88888 队名：{TEAM} 拓客：{person.name} 到访：明天下午3点"
        key = f"msg:{5000 + n}:{n}" if delivered else None
        msg = Incoming("telegram", str(5000 + n), str(5000 + n), False, text, now, str(n), key)
        if delivered:
            handled = await delivery.handle_once(svc.db, msg, lambda: handle_message(msg, svc))
            actions = [q.action for q in handled.answers]
        else:
            actions = await handle_message(msg, svc)
        texts = [a.text for a in actions if isinstance(a, Send) and a.chat_id == str(5000 + n)]
        assert len(texts) == 1, texts
        assert "回执号" in texts[0] or "撞单" in texts[0], texts[0]
        return "回执号" in texts[0]

    return list(await asyncio.gather(*(one(n) for n in numbers)))


async def _worker(url: str, first: int, count: int, start_at: float) -> int:
    policy = Policy()
    db = Database(url)
    svc = Services(db=db, render=Renderer(policy.timezone), policy=policy)
    try:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        return sum(await report_all(svc, range(first, first + count), REPORTED_AT))
    finally:
        await db.dispose()


if __name__ == "__main__":
    url, first, count, start_at = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    print(asyncio.run(_worker(url, first, count, start_at)))
