"""The bot on telegram-test-api: throughput against a PTB echo bot, latency under Telegram's limits, cold start.

Three measurements, one module each: the cold start of `reportbot run` (bench/telegram_cold_start.py),
throughput beside the PTB echo bot (bench/telegram_throughput.py) and receipts under the production rate
limiter (bench/telegram_limits.py). They share the simulated office (bench/telegram_office.py) and the bot
process on a fresh emulator (bench/telegram_bot.py: every bot runs in its own process, so that the
simulated people take no CPU from the bot under test).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.common import Row
from bench.telegram_cold_start import cold_start_rows
from bench.telegram_limits import limits_rows
from bench.telegram_throughput import throughput_rows


async def run(long: bool) -> list[Row]:
    """All three measurements; default mode ≈ 5 minutes, long mode adds the full minute under the limits."""
    with tempfile.TemporaryDirectory(prefix="telegram-bench-") as tmp:
        root = Path(tmp)
        rows = await cold_start_rows(root)
        rows += await throughput_rows(long, root)
        rows += await limits_rows(long, root)
        return rows
