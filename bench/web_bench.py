"""The web desk and ledger at 1,000,000 stored reports (issue 23): desk preview and a filtered ledger page.

The storage bench's history (bench/storage_history.py: 1,000,000 reports over 90 days in five projects, their
chained events, a visit per visited report) is generated on each database; the web is served on a local
port in this process, signed in as the assistant of the first project, and asked page after page by a
client in the same process — as is a bare aiohttp page (a fixed small HTML body) in the same run, the
ceiling a page is judged against. A desk preview reads the customer's reports, active report, visit and
history and who may be named as having brought them; a ledger page is 50 rows of one project filtered by
canvasser, or by status and team, after a key.
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

from aiohttp import ClientSession, CookieJar, web

from bench.common import POSTGRES, SQLITE, Row, Stat, percentile
from bench.storage_history import STORED_DAYS, open_ledger
from bench.storage_ledger import phone_text, services
from reportbot.bot.web.server import web_app
from reportbot.handlers.context import WebLinks
from reportbot.handlers.messages import Incoming
from reportbot.handlers.web_access import handle_web
from reportbot.rules.visit_code import code_key
from reportbot.scheduler.clock import SystemClock

STORED = 1_000_000
RUNS, PAGES = 3, 200
GOALS = {"desk": ("< 50 ms", 50.0), "ledger": ("< 100 ms", 100.0)}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _timed(session: ClientSession, urls: list[str]) -> tuple[float, list[float]]:
    """(pages a second, latencies in ms), one page after another."""
    latencies = []
    started = time.perf_counter()
    for url in urls:
        t0 = time.perf_counter()
        async with session.get(url) as answer:
            await answer.read()
            assert answer.status == 200, (url, answer.status)
        latencies.append((time.perf_counter() - t0) * 1000)
    return len(urls) / (time.perf_counter() - started), latencies


async def _bare(root: str) -> list[tuple[float, list[float]]]:
    async def page(request: web.Request) -> web.Response:
        return web.Response(text="<!doctype html><title>x</title><p>判客</p>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with ClientSession() as session:
            await _timed(session, [f"http://127.0.0.1:{port}/"] * 20)
            return [await _timed(session, [f"http://127.0.0.1:{port}/"] * PAGES) for _ in range(RUNS)]
    finally:
        await runner.cleanup()


async def _measured(kind: str, tmp: Path) -> dict[str, list[tuple[float, list[float]]]]:
    async with open_ledger(kind, STORED, tmp) as ledger:
        svc = services(ledger.url)
        svc = type(svc)(db=svc.db, render=svc.render, policy=svc.policy,
                        web=WebLinks("https://desk.example.com", code_key("bench-web-secret-" + "x" * 32)))
        runner = web.AppRunner(web_app(svc, SystemClock(), secure_cookies=False), access_log=None)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        base = f"http://127.0.0.1:{port}"
        try:
            async with svc.db.uow(write=False) as uow:
                assistant = await uow.staff.by_identity(("telegram",), "4000")
            assert assistant is not None
            [link] = await handle_web(Incoming("telegram", "4000", "4000", False, "/web", SystemClock().now()),
                                      assistant, svc)
            token = re.search(r"/login/(\S+)", link.text)[1]  # type: ignore[attr-defined, index]
            async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as session:
                async with session.post(f"{base}/login/{token}") as answer:
                    assert answer.status == 200
                project = ledger.project_ids[0]
                per_day = -(-STORED // STORED_DAYS)
                # Stored report i is in the first project when (i % per_day) % 5 == 0: customers of its desk.
                phones = [phone_text(d * per_day + 5 * j) for d in range(STORED_DAYS) for j in range(3)]
                desk = [f"{base}/desk/customer?" + urlencode({"p": project, "phone": p}) for p in phones][:PAGES]
                filters = [{"canvasser": ledger.canvasser_ids[n % 200]} if n % 2 else
                           {"status": ("expired", "visited", "rejected")[n % 3], "team": "飞虎队"} for n in range(PAGES)]
                pages = [f"{base}/ledger?" + urlencode({"project": project, **f}) for f in filters]
                await _timed(session, desk[:20] + pages[:20])  # warm up
                return {"desk": [await _timed(session, desk) for _ in range(RUNS)],
                        "ledger": [await _timed(session, pages) for _ in range(RUNS)]}
        finally:
            await runner.cleanup()
            await svc.db.dispose()


def _rows(kind: str, measured: dict[str, list[tuple[float, list[float]]]], bare: list[tuple[float, list[float]]]
          ) -> list[Row]:
    rows = []
    bare_rate = Stat.of([rate for rate, _ in bare])
    bare_p99 = Stat.of([percentile(lat, 99) for _, lat in bare])
    names = {"desk": "desk preview", "ledger": "ledger page, 50 rows, filtered (canvasser, or status and team)"}
    for page, runs in measured.items():
        p99 = Stat.of([percentile(lat, 99) for _, lat in runs])
        p50 = Stat.of([percentile(lat, 50) for _, lat in runs])
        goal, _ = GOALS[page]
        note = (f"{RUNS}×{PAGES} pages, signed in (the session looked up each time), one after another; "
                f"p50 {p50.show(2)} ms; {STORED:,} stored")
        rows.append(Row("web", f"{names[page]} p99 — {kind}", p99, "ms", "bare aiohttp page p99", bare_p99,
                        goal=goal, note=note, higher_is_better=False))
        rows.append(Row("web", f"{names[page]} — {kind}", Stat.of([rate for rate, _ in runs]), "pages/s",
                        "bare aiohttp page", bare_rate, note=note))
    return rows


async def run(long: bool) -> list[Row]:
    bare = await _bare("")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="web-bench-") as tmp:
        for kind in (SQLITE, POSTGRES):
            rows += _rows(kind, await _measured(kind, Path(tmp)), bare)
    return rows
