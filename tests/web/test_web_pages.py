"""The web desk and ledger (issue 23), page by page, on SQLite and PostgreSQL: sign-in, the desk's preview and
registration as /visit does it, visit codes, the ledger's pages, roles, CSRF, escaping, no full number."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update

from reportbot.bot.web.server import PAGES, SECURITY_HEADERS, page_role, web_app
from reportbot.handlers.context import Services
from reportbot.handlers.messages import Incoming, SendPhoto
from reportbot.handlers.router import handle_message
from reportbot.handlers.web_access import qr_png
from reportbot.rules.model import Role, Status
from reportbot.storage.tables import EventRow, StaffRow, VisitRow
from reportbot.storage.transport_tables import OutboxRow
from tests.office import CHEN, GROUP, LI, WANG, ZHAO, Chat, only, open_office, report_text
from tests.web.desk import WEB_URL, browsers, office_clock, with_web

FULL = "13812388888"


@pytest.fixture
async def office(svc: Services) -> Services:
    web_svc = with_web(svc)
    await open_office(web_svc)
    return web_svc


async def test_a_sign_in_link_works_once_within_ten_minutes(office: Services) -> None:
    clock = office_clock()
    async with browsers(office, clock) as (_, browser):
        from tests.web.desk import sign_in_link

        token = await sign_in_link(office, ZHAO, clock)
        first = await browser()
        response, page = await first.get(f"/login/{token}")  # a link preview fetching it must not use it up
        assert response.status == 200 and "登录" in page
        response, page = await first.post(f"/login/{token}", csrf=False)
        assert response.status == 200 and urlsplit(str(response.url)).path == "/desk" and "赵敏" in page
        second = await browser()
        response, page = await second.post(f"/login/{token}", csrf=False)
        assert response.status == 403 and "链接已失效" in page
        late = await sign_in_link(office, ZHAO, clock)
        clock.set(clock.now() + timedelta(minutes=11))
        response, _ = await second.post(f"/login/{late}", csrf=False)
        assert response.status == 403
        response, page = await second.get("/desk")
        assert response.status == 401 and "/web" in page


async def test_the_desk_previews_then_registers_the_visit_as_visit_does(office: Services) -> None:
    await Chat(office).say(LI, report_text())
    clock = office_clock()
    clock.set(clock.now() + timedelta(hours=1))
    async with browsers(office, clock) as (_, browser):
        desk = await browser(ZHAO)
        response, page = await desk.post("/desk", {"q": FULL})  # the full number is POSTed, never in a URL
        assert response.status == 200 and FULL not in str(response.url) and "138***88888" in str(response.url)
        assert "现在登记到访，归属：<b>李四（飞虎队）</b>" in page and "报备在先" in page
        assert FULL not in page
        async with office.db.uow(write=False) as uow:
            assert await uow.visits.of_customer(1, "138***88888") is None  # the preview recorded nothing
        query = parse_qs(urlsplit(str(response.url)).query)
        response, page = await desk.post("/desk/visit", {"p": query["p"][0], "phone": "138***88888",
                                                         "k": query.get("k", [""])[0], "companions": "2", "by": ""})
        assert response.status == 200 and "已登记到访" in page and "李四" in page
    async with office.db.uow(write=False) as uow:
        visit = (await uow.session.execute(select(VisitRow.owner_id, VisitRow.companions, VisitRow.rule))).one()
        event = (await uow.session.execute(select(EventRow.actor_id, EventRow.detail)
                                           .where(EventRow.kind == "visited"))).one()
        notices = [(o.channel, o.chat_id) for o in (await uow.session.execute(select(OutboxRow))).scalars()
                   if "判客" in o.payload or "归属" in o.payload]
    assert visit.owner_id is not None and visit.companions == 2 and visit.rule == "reported"
    assert event.actor_id == 2 and "经网页登记" in (event.detail or "")  # 赵敏, through the web
    assert ("telegram", GROUP) in notices and ("telegram", LI) in notices  # the group and the owner, stored
    who = only(await Chat(office).at("2026-11-23 12:00").say(ZHAO, "/who 138***88888"), ZHAO).text
    assert "登记到访" in who and "经网页登记" in who


async def test_desk_q_in_the_address_searches_but_a_full_number_there_is_not_led_on(office: Services) -> None:
    """SPEC §11: /desk?q= a phone, receipt, name or visit code."""
    await Chat(office).say(LI, report_text())
    async with browsers(office, office_clock()) as (_, browser):
        desk = await browser(ZHAO)
        for q in ("138***88888", "BB-20261123-0001", "张先生"):
            response, page = await desk.get("/desk?" + urlencode({"q": q}))
            assert urlsplit(str(response.url)).path == "/desk/customer", q
            assert "现在登记到访，归属：<b>李四（飞虎队）</b>" in page
        response, page = await desk.get(f"/desk?q={FULL}")
        assert urlsplit(str(response.url)).path == "/desk" and "完整号码不要放在网址里" in page
        assert FULL not in page and "138***88888" not in page  # not searched, not echoed
        response, page = await desk.get("/desk?q=BB-20991231-0001")
        assert "没有找到" in page


async def test_a_scanned_visit_code_opens_its_report_and_counts_as_brought_by_its_canvasser(office: Services) -> None:
    import zxingcpp
    from PIL import Image

    receipt = only(await Chat(office).say(LI, report_text()), LI)
    assert "带看码：" in receipt.text and receipt.buttons[0][0].label == "带看二维码"
    [photo] = await Chat(office).say(LI, "/qr BB-20261123-0001")
    assert isinstance(photo, SendPhoto)
    png = await photo.png()
    assert png is not None
    [decoded] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert decoded.text.startswith(f"{WEB_URL}/v/")
    path = urlsplit(decoded.text).path
    async with browsers(office, office_clock()) as (_, browser):
        desk = await browser(ZHAO)
        response, page = await desk.get(path)
        assert urlsplit(str(response.url)).path == "/desk/customer" and "by=1" in str(response.url)
        assert "李四" in page and "BB-20261123-0001" in page
        query = parse_qs(urlsplit(str(response.url)).query)
        await desk.post("/desk/visit", {"p": query["p"][0], "phone": query["phone"][0], "by": query["by"][0]})
        _, page = await desk.get(path)  # scanned twice: the first visit is shown
        assert "已于" in page and "到访" in page
    async with office.db.uow(write=False) as uow:
        brought = (await uow.session.execute(select(VisitRow.brought_by_id))).scalar_one()
    assert brought == 1  # 李四, the report's canvasser


async def test_a_forged_code_is_404_and_an_ended_reports_code_says_so(office: Services) -> None:
    await Chat(office).say(LI, report_text())
    async with browsers(office, office_clock()) as (_, browser):
        desk = await browser(ZHAO)
        response, _ = await desk.get("/v/aaaaaaaaaaaaaaaaaaaa")
        assert response.status == 404
    async with office.db.uow() as uow:
        await uow.reports.set_status(1, Status.EXPIRED, only_from=(Status.PENDING, Status.CONFIRMED))
        await uow.commit()
    assert office.web is not None
    async with browsers(office, office_clock()) as (_, browser):
        desk = await browser(ZHAO)
        _, page = await desk.get(f"/v/{office.web.visit_code(1)}")
        assert "已失效" in page


@pytest.mark.parametrize("user,role", [(LI, Role.CANVASSER), (ZHAO, Role.ASSISTANT), (CHEN, Role.MANAGER)])
async def test_every_page_asks_the_role_of_its_chat_command(office: Services, user: str, role: Role) -> None:
    paths = {"desk": "/desk", "customer": "/customer?p=1&phone=138***88888", "ledger": "/ledger",
             "export": "/ledger.xlsx?project=1", "stats": "/stats", "me": "/me"}
    await Chat(office).say(LI, report_text())
    async with browsers(office, office_clock()) as (_, browser):
        person = await browser(user)
        for page, path in paths.items():
            response, _ = await person.get(path)
            allowed = role.at_least(page_role(page))
            assert (response.status == 200) == allowed, (page, role, response.status)
            if not allowed:
                assert response.status == 403
    assert set(paths) == set(PAGES)


async def test_a_state_change_without_the_csrf_token_is_refused_and_records_nothing(office: Services) -> None:
    await Chat(office).say(LI, report_text())
    async with browsers(office, office_clock()) as (_, browser):
        desk = await browser(ZHAO)
        response, _ = await desk.post("/desk/visit", {"p": "1", "phone": "138***88888"}, csrf=False)
        assert response.status == 403
        response, _ = await desk.post("/desk/visit", {"p": "1", "phone": "138***88888", "csrf": "forged"})
        assert response.status == 403
    async with office.db.uow(write=False) as uow:
        assert (await uow.session.execute(select(VisitRow))).first() is None


async def test_another_projects_customer_is_404_not_403(office: Services) -> None:
    from reportbot.handlers import directory

    await directory.add_project(office.db, "江湾壹号", "-100777", None, office_clock().now())
    await Chat(office).say(LI, report_text())
    async with browsers(office, office_clock()) as (_, browser):
        desk = await browser(ZHAO)  # 赵敏's project is 森林半岛 (#1)
        for path in ("/customer?p=2&phone=138***88888", "/ledger?project=2", "/desk/customer?p=2&phone=138***88888"):
            response, _ = await desk.get(path)
            assert response.status == 404, path


async def test_what_people_typed_is_inert_in_every_page(office: Services) -> None:
    hostile = report_text(customer="<b>张</b>", extra="\n备注：<script>alert(1)</script><img src=x onerror=alert(2)>")
    assert "回执号" in only(await Chat(office).say(LI, hostile), LI).text
    async with browsers(office, office_clock()) as (_, browser):
        for user, paths in ((CHEN, ["/ledger", "/customer?p=1&phone=138***88888", "/desk/customer?p=1&phone=138***88888",
                                    "/stats"]), (LI, ["/me"])):
            person = await browser(user)
            for path in paths:
                _, page = await person.get(path)
                assert "<script>alert" not in page and "<img src=x" not in page and "<b>张</b>" not in page, path
                assert "&lt;b&gt;张&lt;/b&gt;" in page or path == "/stats", path


async def test_after_a_day_of_full_numbers_no_page_shows_one(office: Services) -> None:
    chat = Chat(office)
    await chat.say(LI, report_text(phone=FULL, extra="\n备注：她女儿电话13987654321"))
    await chat.say(ZHAO, f"/who {FULL}")
    async with browsers(office, office_clock()) as (_, browser):
        manager = await browser(CHEN)
        _, searched = await manager.post("/desk", {"q": FULL})
        _, listed = await manager.post("/ledger", {"project": "1", "q": FULL})
        pages = [searched, listed]
        for path in ("/ledger", "/customer?p=1&phone=138***88888", "/stats", "/desk"):
            pages.append((await manager.get(path))[1])
        canvasser = await browser(LI)
        pages.append((await canvasser.get("/me"))[1])
    for page in pages:
        digits = re.sub(r"\D", "", re.sub(r"\s", "", page))
        assert FULL not in page and "13987654321" not in page and FULL not in digits


async def test_the_ledger_pages_by_key_filters_and_keeps_a_full_number_out_of_the_url(office: Services) -> None:
    chat = Chat(office)
    for n in range(100):  # each canvasser holds at most 50 reports (policy)
        who = (LI, "飞虎队", "李四") if n % 2 else (WANG, "猛虎队", "王五")
        await chat.at(f"2026-11-2{1 + n // 60} {8 + (n % 60) // 10:02d}:{(n % 10) * 5:02d}").say(
            who[0], report_text(customer=f"客{chr(0x4E00 + n)}", phone=f"139***{n:05d}", team=who[1], who=who[2],
                                when="后天下午3点"))
    async with browsers(office, office_clock()) as (_, browser):
        manager = await browser(CHEN)
        seen: list[str] = []
        response, page = await manager.get("/ledger")
        while True:
            rows = re.findall(r">(BB-\d{8}-\d{4})</a>", page)
            seen += rows
            following = re.search(r'href="(/ledger\?[^"]*after=[^"]+)"', page)
            if not following:
                break
            response, page = await manager.get(following[1].replace("&amp;", "&"))
        assert len(seen) == 100 == len(set(seen)) and seen == sorted(seen, reverse=True)
        response, page = await manager.post("/ledger", {"project": "1", "team": "猛虎队"})
        assert "team=" in str(response.url) and len(re.findall(r">BB-", page)) == 50
        response, page = await manager.post("/ledger", {"project": "1", "q": "13912300042"})  # a full number
        assert "13912300042" not in str(response.url) and "139***00042" in str(response.url)
        assert len(re.findall(r">BB-", page)) == 1
        response, _ = await manager.get("/ledger.xlsx?project=1&from=2026-11-01&to=2026-11-30")
        book = load_workbook(io.BytesIO(await response.read()))
        assert response.status == 200 and book["报备"].max_row == 101


async def test_a_session_ends_on_sign_out_on_a_role_change_and_on_revoke(office: Services) -> None:
    async with browsers(office, office_clock()) as (_, browser):
        desk = await browser(ZHAO)
        assert (await desk.get("/desk"))[0].status == 200
        await desk.post("/logout")
        assert (await desk.get("/desk"))[0].status == 401
        desk = await browser(ZHAO)
        async with office.db.uow() as uow:  # 赵敏 is made a manager: her session was for an assistant
            await uow.session.execute(update(StaffRow).where(StaffRow.id == 2).values(role="manager"))
            await uow.commit()
        assert (await desk.get("/desk"))[0].status == 401
        manager = await browser(CHEN)
        async with office.db.uow() as uow:  # what `reportbot web revoke --staff 4` does
            assert await uow.web.end_all_of(4, "revoked", office_clock().now()) == 1
            await uow.commit()
        assert (await manager.get("/ledger"))[0].status == 401


async def test_every_response_carries_the_security_headers(office: Services) -> None:
    async with browsers(office, office_clock()) as (_, browser):
        desk = await browser(ZHAO)
        for path in ("/desk", "/ledger", "/nowhere", "/static/app.css"):
            response, _ = await desk.get(path)
            for name, value in SECURITY_HEADERS.items():
                assert response.headers.get(name) == value, (path, name)
            if not path.startswith("/static"):
                assert response.headers["Cache-Control"] == "no-store"
        assert "'unsafe-inline'" not in SECURITY_HEADERS["Content-Security-Policy"]


async def test_sign_in_links_are_rate_limited_per_address(office: Services) -> None:
    async with browsers(office, office_clock()) as (_, browser):
        stranger = await browser()
        statuses = [(await stranger.post(f"/login/guess{n}", csrf=False))[0].status for n in range(25)]
        assert statuses[:20] == [403] * 20 and set(statuses[20:]) == {429}
        # Behind the proxy on this host, another address (the one the proxy appended) is not held up;
        # what a client writes before it changes nothing.
        spoofed = {"X-Forwarded-For": "10.0.0.9, 127.0.0.1"}
        other = {"X-Forwarded-For": "1.2.3.4, 10.0.0.7"}
        assert (await stranger.post("/login/guess", csrf=False, headers=spoofed))[0].status == 429
        assert (await stranger.post("/login/guess", csrf=False, headers=other))[0].status == 403


async def test_only_guesses_count_a_busy_desk_scans_code_after_code(office: Services) -> None:
    chat = Chat(office)
    for n in range(30):
        await chat.say(LI, report_text(customer="张先生", phone=f"138***{n:05d}"))
    assert office.web is not None
    async with browsers(office, office_clock()) as (_, browser):
        desk = await browser(ZHAO)
        for rid in range(1, 31):  # 30 customers arrive with their codes within minutes: none is refused
            response, _ = await desk.get(urlsplit(office.web.visit_url(rid)).path)
            assert response.status == 200 and "by=1" in str(response.url), rid
        forged = [(await desk.get(f"/v/{'a' * 17}{n:03d}"))[0].status for n in range(21)]
        assert forged[:20] == [404] * 20 and forged[20] == 429
        response, page = await desk.get(urlsplit(office.web.visit_url(1)).path)
        assert response.status == 429 and "稍后" in page  # a guessing address waits, even with a real code


def test_the_address_is_the_peer_unless_a_proxy_on_this_host_forwarded_it() -> None:
    from unittest import mock

    from aiohttp.test_utils import make_mocked_request

    from reportbot.bot.web.pages import _address

    def asking(peer: str, forwarded: str | None) -> str:
        transport = mock.Mock()
        transport.get_extra_info.side_effect = lambda name, default=None: (peer, 5555) if name == "peername" else default
        headers = {"X-Forwarded-For": forwarded} if forwarded else {}
        return _address(make_mocked_request("GET", "/v/x", headers=headers, transport=transport))

    assert asking("203.0.113.5", "198.51.100.1") == "203.0.113.5"  # no proxy: the header is the client's word
    assert asking("127.0.0.1", "198.51.100.1, 203.0.113.9") == "203.0.113.9"  # the proxy's own entry
    assert asking("::1", "203.0.113.9") == "203.0.113.9"
    assert asking("127.0.0.1", None) == "127.0.0.1"


async def test_behind_https_the_session_cookie_is_secure_httponly_and_lax(office: Services) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from tests.web.desk import sign_in_link

    clock = office_clock()
    client = TestClient(TestServer(web_app(office, clock, secure_cookies=True)))
    await client.start_server()
    try:
        token = await sign_in_link(office, ZHAO, clock)
        response = await client.post(f"/login/{token}", allow_redirects=False)
        cookie = response.headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    finally:
        await client.close()


async def test_web_in_chat_goes_privately_and_is_never_stored(office: Services) -> None:
    actions = await Chat(office).say(ZHAO, "/web", group=GROUP)
    link = next(a for a in actions if "login" in getattr(a, "text", ""))
    assert link.chat_id == ZHAO and link.ephemeral
    assert any("私聊" in a.text for a in actions if a.chat_id == GROUP)
    stranger = await handle_message(Incoming("telegram", "999", "999", False, "/web", office_clock().now()), office)
    assert "还没有登记" in stranger[0].text
    svg = qr_png(f"{WEB_URL}/v/x")
    assert svg.startswith(b"\x89PNG")


async def test_mine_links_the_web_page_of_my_reports_when_the_web_is_on(office: Services, svc: Services) -> None:
    await Chat(office).say(LI, report_text())
    mine = only(await Chat(office).say(LI, "/mine"), LI).text
    assert f"{WEB_URL}/me" in mine and "/web" in mine
    assert "网页" not in only(await Chat(svc).say(LI, "/mine"), LI).text  # no web: no link
    async with browsers(office, office_clock()) as (_, browser):
        canvasser = await browser(LI)
        response, page = await canvasser.get("/me")
        assert response.status == 200 and "BB-20261123-0001" in page and "剩余" in page
