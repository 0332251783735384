"""The web in a real browser (issue 23): Debian's Chromium driven by Playwright, at a phone's size and a desk's.

The canvasser reports in chat; the assistant signs in with the link /web sent, finds the customer at the
desk by the full number, sees who would own them, registers the visit; the group notice and the /who
history are the ones /visit makes. The camera: Chromium's fake camera plays a video of the receipt's QR
code, the page's scanner reads it and opens the desk on that report. Screenshots of every page are taken
(with REPORTBOT_UPDATE_SCREENSHOTS=1 into docs/screenshots/, for docs/web.md and the README): look at them.
"""

from __future__ import annotations

import io
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from PIL import Image
from playwright.async_api import Browser, Page, async_playwright

from reportbot.bot.web.server import web_app
from reportbot.handlers.context import Services
from reportbot.handlers.web_access import qr_png
from reportbot.scheduler.clock import ManualClock
from tests.fakes.pg_cluster import free_port
from tests.office import CHEN, GROUP, LI, WANG, ZHAO, Chat, only, open_office, report_text
from tests.web.desk import office_clock, sign_in_link, with_web

CHROMIUM = "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 860}
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
FULL = "13812388888"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def y4m_of(png: bytes, path: Path, size: tuple[int, int] = (640, 480), frames: int = 8) -> None:
    """A still video (YUV4MPEG2, 4:2:0) of a picture on white, for Chromium's fake camera."""
    picture = Image.open(io.BytesIO(png)).convert("L")
    picture.thumbnail((size[1] - 40, size[1] - 40))
    canvas = Image.new("L", size, 255)
    canvas.paste(picture, ((size[0] - picture.width) // 2, (size[1] - picture.height) // 2))
    chroma = bytes([128]) * (size[0] // 2 * size[1] // 2)
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{size[0]} H{size[1]} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + canvas.tobytes() + chroma + chroma)


@pytest.fixture
async def served(svc: Services) -> AsyncIterator[tuple[Services, ManualClock, str]]:
    office = with_web(svc)
    await open_office(office)
    clock = office_clock()
    runner = web.AppRunner(web_app(office, clock, secure_cookies=False))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield office, clock, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def signed_in(browser: Browser, office: Services, clock: ManualClock, base: str, user: str,
                    viewport: dict[str, int]) -> Page:
    page = await browser.new_page(viewport=viewport)  # type: ignore[arg-type]
    token = await sign_in_link(office, user, clock)
    await page.goto(f"{base}/login/{token}")
    await page.get_by_role("button", name="登录").click()
    await page.wait_for_load_state()
    return page


async def shot(page: Page, name: str, folder: Path) -> None:
    path = folder / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    if os.environ.get("REPORTBOT_UPDATE_SCREENSHOTS") == "1" and "sqlite" in folder.name:
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOCS / path.name)


async def test_the_desk_in_a_browser_registers_the_visit_as_visit_does(
    served: tuple[Services, ManualClock, str], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    office, clock, base = served
    folder = tmp_path / request.node.callspec.id
    folder.mkdir()
    chat = Chat(office)
    await chat.say(LI, report_text(phone=FULL, extra="\n备注：带父母一起来"))
    await chat.say(WANG, report_text(customer="刘女士", phone="139***12345", team="猛虎队", who="王五"))
    await chat.say(LI, report_text(customer="<script>x</script>", phone="137***55555"))
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await signed_in(browser, office, clock, base, ZHAO, PHONE)
            assert page.url.endswith("/desk")
            alerts: list[str] = []
            page.on("dialog", lambda dialog: alerts.append(dialog.message))
            await page.get_by_placeholder("电话").fill(FULL)
            await shot(page, "desk-phone", folder)
            await page.get_by_role("button", name="查找").click()
            await page.wait_for_url(re.compile(r"/desk/customer\?"))
            assert FULL not in page.url
            verdict = await page.locator(".verdict").inner_text()
            assert "李四（飞虎队）" in verdict and "报备在先" in verdict
            assert FULL not in await page.content()
            await shot(page, "desk-preview-phone", folder)
            await page.get_by_label("同行人数").fill("2")
            await page.get_by_role("button", name="登记到访并判客").click()
            await page.wait_for_load_state()
            assert "已登记到访" in await page.locator(".verdict").inner_text()
            await shot(page, "desk-registered-phone", folder)

            manager = await signed_in(browser, office, clock, base, CHEN, DESKTOP)
            await manager.goto(f"{base}/desk")
            await manager.get_by_placeholder("电话").fill("138***88888")
            await manager.get_by_role("button", name="查找").click()
            await manager.wait_for_url(re.compile(r"/desk/customer\?"))
            assert "只按第一次到访判客" in await manager.locator(".verdict").inner_text()  # the visit shown, no second
            await shot(manager, "desk-desktop", folder)
            await manager.goto(f"{base}/ledger")
            rows = await manager.locator("tbody tr").count()
            assert rows == 3 and await manager.get_by_text("<script>x</script>").count() == 1  # text, inert
            await shot(manager, "ledger-desktop", folder)
            await manager.goto(f"{base}/stats?period=week")
            assert await manager.locator("svg.chart").count() == 3
            await shot(manager, "stats-desktop", folder)
            await manager.set_viewport_size(PHONE)  # type: ignore[arg-type]
            await manager.goto(f"{base}/ledger")
            await shot(manager, "ledger-phone", folder)
            await manager.goto(f"{base}/stats?period=week")
            await shot(manager, "stats-phone", folder)
            canvasser = await signed_in(browser, office, clock, base, LI, PHONE)
            await canvasser.goto(f"{base}/me")
            await canvasser.locator("summary").first.click()
            assert await canvasser.locator("img.qr").first.is_visible()
            await shot(canvasser, "me-phone", folder)
            await canvasser.goto(f"{base}/desk")
            assert "无权使用" in await canvasser.content()
            assert alerts == []  # nothing anybody typed ran as script
        finally:
            await browser.close()
    group = [a.text for a in await chat.say(ZHAO, "/who 138***88888") if hasattr(a, "text")]
    assert any("经网页登记" in text for text in group)
    assert only(await Chat(office).say(ZHAO, "/who 138***88888"), ZHAO).text.count("登记到访") == 1
    assert GROUP


async def test_the_desk_camera_reads_a_receipts_qr_code_and_opens_its_report(
    served: tuple[Services, ManualClock, str], tmp_path: Path
) -> None:
    office, clock, base = served
    await Chat(office).say(LI, report_text())
    assert office.web is not None
    video = tmp_path / "qr.y4m"
    y4m_of(qr_png(office.web.visit_url(1).replace("https://desk.example.com", base)), video)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=[
            *ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}"])
        try:
            context = await browser.new_context(viewport=PHONE, permissions=["camera"])  # type: ignore[arg-type]
            page = await context.new_page()
            token = await sign_in_link(office, ZHAO, clock)
            await page.goto(f"{base}/login/{token}")
            await page.get_by_role("button", name="登录").click()
            await page.wait_for_url(re.compile(r"/desk$"))
            await page.get_by_role("button", name="扫带看码").click()
            await page.wait_for_url(re.compile(r"/desk/customer\?.*by=1"), timeout=20_000)
            assert "李四（飞虎队）" in await page.locator(".verdict").inner_text()
            assert await page.locator('select[name="by"] option[selected]').inner_text() == "李四（飞虎队）"
        finally:
            await browser.close()
