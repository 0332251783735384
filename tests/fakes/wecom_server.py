"""A small WeCom long-connection server for the tests: one smart robot, the frames of 智能机器人长连接.

Every frame shape below follows WeCom's document 智能机器人长连接
(developer.work.weixin.qq.com/document/path/101463) and the bodies it refers to; the comment on
each names the section. Frames are ``{"cmd", "headers": {"req_id"}, "body"}``; WeCom answers each
command the robot sends with ``{"headers": {"req_id"}, "errcode", "errmsg"}`` (回包).

What the document leaves to WeCom, modelled here and said so:
- at-least-once: a callback the robot has not answered (no ``aibot_respond_*`` on its req_id) when
  its connection ends is pushed again, same msgid, new req_id, once a robot is subscribed again
  (the document tells robots to de-duplicate on msgid); callbacks raised while no robot is
  connected wait for the next subscription;
- a req_id is good only on the connection its callback came on;
- ``drop()`` ends the connection with a TCP FIN and no close frame, as a broken network does;
  whatever the robot sends after it is lost, never acknowledged.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

Frame = dict[str, Any]


@dataclass
class Callback:
    """A callback WeCom raised: a message (aibot_msg_callback) or an event (aibot_event_callback)."""

    cmd: str
    body: Frame
    answered: bool = False

    @property
    def msgid(self) -> str:
        return str(self.body["msgid"])

    @property
    def chat(self) -> str:
        return str(self.body.get("chatid") or self.body["from"]["userid"])


@dataclass
class Sent:
    """What the robot said and WeCom accepted: a reply, a card update or a push."""

    cmd: str
    chat: str  # the conversation it went to: a group's chatid or a person's userid
    body: Frame
    callback: Callback | None  # the callback it answers (None for a push)
    # The 回包 went out on a live connection. False: the connection broke between taking the message
    # and answering it, so the robot cannot know it arrived and may rightly send it again.
    acknowledged: bool = False
    connection: int = 0  # the number of the connection it came on (1 the first, 2 after one drop, …)
    at: float = field(default_factory=time.time)  # when WeCom accepted it (the bench's clock)

    @property
    def text(self) -> str:
        """The text a person sees, markdown escapes undone (a card: its title and text)."""
        body = self.body
        if "template_card" in body:
            card = body["template_card"]
            raw = card.get("main_title", {}).get("title", "") + "\n" + card.get("sub_title_text", "")
        elif "stream" in body:
            raw = body["stream"].get("content", "")
        else:
            raw = body.get("markdown", {}).get("content", "")
        return _unescape(raw)

    @property
    def buttons(self) -> list[str]:
        return [b["text"] for b in self.body.get("template_card", {}).get("button_list", [])]

    @property
    def options(self) -> list[str]:
        """The texts of the card's list to pick from (button_selection), if it has one."""
        return [o["text"] for o in self.body.get("template_card", {}).get("button_selection", {}).get("option_list", [])]

    def key(self, label: str) -> str:
        return next(b["key"] for b in self.body["template_card"]["button_list"] if b["text"] == label)


def _unescape(text: str) -> str:
    out, escaped = [], False
    for ch in text:
        if escaped or ch != "\\":
            out.append(ch)
            escaped = False
        else:
            escaped = True
    return "".join(out)


@dataclass
class _Connection:
    ws: ServerConnection
    number: int
    subscribed: bool = False
    dead: bool = False
    callbacks: dict[str, Callback] = field(default_factory=dict)  # by req_id pushed on this connection


class FakeWeCom:
    """Serves wss:// on 127.0.0.1; the test raises callbacks and reads what the robot sent."""

    def __init__(self, ssl_context: ssl.SSLContext, bot_id: str = "aibot-test", secret: str = "s3cret") -> None:
        self.ssl_context = ssl_context
        self.bot_id = bot_id
        self.secret = secret
        self.sent: list[Sent] = []
        self.subscriptions = 0  # successful aibot_subscribe so far
        self.pushes: list[tuple[int, str]] = []  # (connection number, msgid) of every callback pushed
        self.rejected: list[Frame] = []  # commands answered with a non-zero errcode
        self.mute = False  # True: what the robot says is lost on the way (neither accepted nor acknowledged)
        self._callbacks: list[Callback] = []
        self._current: _Connection | None = None
        self._numbers = itertools.count(1)
        self._msgids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._server: Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        port = next(iter(self._server.sockets)).getsockname()[1]
        return f"wss://127.0.0.1:{port}"

    async def __aenter__(self) -> Self:
        # WeCom sends its own heartbeats' answers; no websocket-level pings from the server side.
        self._server = await serve(self._serve, "127.0.0.1", 0, ssl=self.ssl_context, ping_interval=None)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    # -- what the test does --

    async def user_says(self, userid: str, text: str, *, chatid: str | None = None, msgid: str | None = None) -> Callback:
        """A member writes to the robot: privately, or in group ``chatid`` (the text then starts with the @-mention)."""
        # 接收消息 / 文本消息: msgid, aibotid, chatid (group only), chattype, from.userid, msgtype, text.content
        body: Frame = {
            "msgid": msgid or f"msg{next(self._msgids)}-{uuid.uuid4().hex[:8]}",
            "aibotid": self.bot_id,
            "chattype": "group" if chatid else "single",
            "from": {"userid": userid},
            "msgtype": "text",
            "text": {"content": text},
        }
        if chatid:
            body["chatid"] = chatid
        return await self._raise(Callback("aibot_msg_callback", body))

    async def press(
        self, userid: str, on: Sent, label: str, *, msgid: str | None = None, pick: str | None = None
    ) -> Callback:
        """A member presses a button of a card the robot sent (按钮交互型) to a group or to them; ``pick``: the
        option they chose first in the card's list (button_selection), by its text."""
        card = on.body["template_card"]
        in_group = on.chat != userid
        # 接收事件 / 模板卡片事件: event.eventtype template_card_event; event.template_card_event carries
        # card_type, event_key (the button's key) and task_id (the card's).
        body: Frame = {
            "msgid": msgid or f"evt{next(self._msgids)}-{uuid.uuid4().hex[:8]}",
            "create_time": 1764000000,
            "aibotid": self.bot_id,
            "chattype": "group" if in_group else "single",
            "from": {"userid": userid},
            "msgtype": "event",
            "event": {
                "eventtype": "template_card_event",
                "template_card_event": {
                    "card_type": card["card_type"],
                    "event_key": on.key(label),
                    "task_id": card["task_id"],
                },
            },
        }
        if pick is not None:  # 按钮交互模版卡片的事件: the list's choice rides along as selected_items
            selection = card["button_selection"]
            [option] = [o["id"] for o in selection["option_list"] if o["text"] == pick]
            body["event"]["template_card_event"]["selected_items"] = {"selected_item": [
                {"question_key": selection["question_key"], "option_ids": {"option_id": [option]}}]}
        if in_group:
            body["chatid"] = on.chat
        return await self._raise(Callback("aibot_event_callback", body))

    async def raise_again(self, callback: Callback) -> Callback:
        """The same callback (same msgid) raised once more, as an at-least-once sender may."""
        return await self._raise(Callback(callback.cmd, dict(callback.body)))

    async def close_cleanly(self, code: int = 1001) -> None:
        """The server ends the connection with a close frame (1001: going away, as a restart sends)."""
        connection = self._current
        assert connection is not None, "no robot is connected"
        self._current = None
        await connection.ws.close(code, "server restart")

    async def drop(self) -> None:
        """The connection breaks: a FIN without a close frame; anything the robot sends after is lost."""
        connection = self._current
        assert connection is not None, "no robot is connected"
        self._current = None
        connection.dead = True
        transport = connection.ws.transport
        if transport.can_write_eof():
            transport.write_eof()
        else:
            transport.abort()

    async def wait(self, condition: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
        """Until ``condition`` holds (every change re-checks it); fails the test after ``timeout`` seconds."""
        async def _wait() -> None:
            async with self._changed:
                await self._changed.wait_for(condition)

        try:
            await asyncio.wait_for(_wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"WeCom fake: still waiting for {what or condition} after {timeout} s; "
                                 f"sent: {[(s.cmd, s.chat, s.text[:40]) for s in self.sent]}") from None

    async def wait_subscribed(self, count: int = 1) -> None:
        await self.wait(lambda: self.subscriptions >= count and self._current is not None, what=f"subscription {count}")

    def to(self, chat: str) -> list[Sent]:
        return [s for s in self.sent if s.chat == chat]

    def answers(self, callback: Callback) -> list[Sent]:
        """Replies on this callback's msgid (on any of its deliveries)."""
        return [s for s in self.sent if s.callback is not None and s.callback.msgid == callback.msgid]

    # -- the server --

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _raise(self, callback: Callback) -> Callback:
        self._callbacks.append(callback)
        if self._current is not None:
            await self._push(self._current, callback)
        return callback

    async def _push(self, connection: _Connection, callback: Callback) -> None:
        req_id = f"{callback.cmd}_{uuid.uuid4().hex}"
        connection.callbacks[req_id] = callback
        self.pushes.append((connection.number, callback.msgid))
        # 长连接 / 消息推送, 事件推送: {cmd, headers: {req_id}, body}
        await connection.ws.send(json.dumps({"cmd": callback.cmd, "headers": {"req_id": req_id}, "body": callback.body},
                                            ensure_ascii=False))

    async def _answer(self, connection: _Connection, req_id: str, errcode: int = 0, errmsg: str = "ok") -> bool:
        """Whether the 回包 could go out (not after a drop, which may come while the command is taken)."""
        if connection.dead:
            return False
        # 长连接 / 回包: {headers: {req_id}, errcode, errmsg}
        await connection.ws.send(json.dumps({"headers": {"req_id": req_id}, "errcode": errcode, "errmsg": errmsg}))
        return not connection.dead

    async def _serve(self, ws: ServerConnection) -> None:
        connection = _Connection(ws, next(self._numbers))
        try:
            async for raw in ws:
                if connection.dead:
                    continue  # the network is gone: nothing arrives
                await self._command(connection, json.loads(raw))
        except ConnectionClosed:
            pass
        finally:
            if self._current is connection:
                self._current = None
            await self._notify()

    async def _command(self, connection: _Connection, frame: Frame) -> None:
        cmd, req_id, body = frame.get("cmd"), frame.get("headers", {}).get("req_id", ""), frame.get("body") or {}
        if cmd == "aibot_subscribe":
            # 长连接 / 订阅: body {bot_id, secret}
            if body.get("bot_id") != self.bot_id or body.get("secret") != self.secret:
                await self._reject(connection, req_id, frame, 40001, "invalid bot_id or secret")
                return
            await self._answer(connection, req_id)
            await self._subscribed(connection)
        elif cmd == "ping":
            # 长连接 / 心跳: {cmd: ping, headers: {req_id}}
            await self._answer(connection, req_id)
        elif not connection.subscribed:
            await self._reject(connection, req_id, frame, 40014, "not subscribed")
        elif self.mute:
            return
        elif cmd in ("aibot_respond_msg", "aibot_respond_update_msg"):
            await self._respond(connection, cmd, req_id, frame, body)
        elif cmd == "aibot_send_msg":
            # 长连接 / 主动推送消息: body {chatid, msgtype markdown|template_card, ...}
            if not body.get("chatid") or body.get("msgtype") not in ("markdown", "template_card"):
                await self._reject(connection, req_id, frame, 40008, "invalid message type")
                return
            accepted = Sent(cmd, str(body["chatid"]), body, None, connection=connection.number)
            self.sent.append(accepted)
            accepted.acknowledged = await self._answer(connection, req_id)
        else:
            await self._reject(connection, req_id, frame, 40008, f"unknown cmd {cmd}")
        await self._notify()

    async def _respond(self, connection: _Connection, cmd: str, req_id: str, frame: Frame, body: Frame) -> None:
        callback = connection.callbacks.get(req_id)
        if callback is None:
            await self._reject(connection, req_id, frame, 846605, "invalid req_id")
            return
        if cmd == "aibot_respond_update_msg":
            # 长连接 / 更新模板卡片: only on a template_card_event's req_id; body {response_type
            # update_template_card, template_card} with the task_id of the card pressed
            event = callback.body.get("event", {}).get("template_card_event")
            card = body.get("template_card") or {}
            if body.get("response_type") != "update_template_card" or event is None or card.get("task_id") != event["task_id"]:
                await self._reject(connection, req_id, frame, 40058, "invalid template_card update")
                return
        elif body.get("msgtype") not in ("stream", "template_card") or callback.cmd != "aibot_msg_callback":
            # 长连接 / 回复消息: on a message callback's req_id, body msgtype stream {id, finish, content} or template_card
            await self._reject(connection, req_id, frame, 40008, "invalid reply")
            return
        callback.answered = True
        accepted = Sent(cmd, callback.chat, body, callback, connection=connection.number)
        self.sent.append(accepted)
        accepted.acknowledged = await self._answer(connection, req_id)

    async def _reject(self, connection: _Connection, req_id: str, frame: Frame, errcode: int, errmsg: str) -> None:
        self.rejected.append(frame)
        await self._answer(connection, req_id, errcode, errmsg)

    async def _subscribed(self, connection: _Connection) -> None:
        previous = self._current
        if previous is not None and previous is not connection:
            # 接收事件 / 连接断开事件: the older connection is told, then closed
            await previous.ws.send(json.dumps({"cmd": "aibot_event_callback", "headers": {"req_id": uuid.uuid4().hex},
                                               "body": {"msgid": uuid.uuid4().hex, "aibotid": self.bot_id,
                                                        "msgtype": "event",
                                                        "event": {"eventtype": "disconnected_event"}}}))
            await previous.ws.close(1000, "replaced by a newer connection")
        connection.subscribed = True
        self._current = connection
        self.subscriptions += 1
        for callback in list(self._callbacks):  # what waited, and what went unanswered on earlier connections
            if not callback.answered and not any(c is callback for c in connection.callbacks.values()):
                await self._push(connection, callback)
