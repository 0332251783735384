"""A local Feishu: the long connection's endpoint and WebSocket (protobuf frames, built with the SDK's own ``pb``
module) and the OpenAPI the bot sends with. The bot reaches it through FEISHU_DOMAIN.

An event is a DATA frame (headers type=event, message_id, trace_id, sum=1, seq=0) carrying the event's JSON;
the SDK answers it with the same frame, its payload ``{"code": 200, …}`` — the acknowledgement. The
endpoint's ClientConfig tells the SDK to reconnect at once (ReconnectNonce 0, ReconnectInterval 1).
"""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import WSMsgType, web
from lark_oapi.ws.pb.pbbp2_pb2 import Frame

from tests.fakes.messenger import FakeMessenger, Sent

SERVICE_ID = 7


def _header(frame: Frame, key: str) -> str:
    return next((h.value for h in frame.headers if h.key == key), "")


class FakeFeishu(FakeMessenger):
    def __init__(self, app_id: str = "cli_a1b2c3d4e5", secret: str = "s3cret", *, per_chat: int = 5,
                 period: float = 1.0) -> None:
        super().__init__(per_chat=per_chat, period=period)
        self.app_id, self.secret = app_id, secret
        self.acks: dict[str, int] = {}  # frame message_id → the code of its answer
        self.events: dict[str, bytes] = {}  # every frame pushed, by message_id
        self.cards_by_id: dict[str, str] = {}  # a card's message_id → its chat
        self._seq = 0
        self.busy = 0  # endpoint requests still to answer "system busy" (as Feishu does when it is)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/callback/ws/endpoint", self._endpoint)
        app.router.add_get("/ws", self._connect)
        app.router.add_post("/open-apis/auth/v3/tenant_access_token/internal", self._token)
        app.router.add_post("/open-apis/im/v1/messages", self._send)
        app.router.add_patch("/open-apis/im/v1/messages/{message_id}", self._update)

    # -- the long connection --

    async def _endpoint(self, request: web.Request) -> web.Response:
        body = await request.json()
        if self.busy > 0:
            self.busy -= 1
            return web.json_response({"code": 1, "msg": "system busy"})
        if body.get("AppID") != self.app_id or body.get("AppSecret") != self.secret:
            return web.json_response({"code": 1000040344, "msg": "invalid app credentials"})
        url = f"ws://127.0.0.1:{self.port}/ws?device_id=dev{self.connections + 1}&service_id={SERVICE_ID}"
        config = {"ReconnectCount": -1, "ReconnectInterval": 1, "ReconnectNonce": 0, "PingInterval": 120}
        return web.json_response({"code": 0, "msg": "ok", "data": {"URL": url, "ClientConfig": config}})

    async def _connect(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self.sockets.append(socket)
        self.connections += 1
        self.notify()
        for message_id in self.unacked():  # Feishu sends again what was not acknowledged
            await socket.send_bytes(self.events[message_id])
        async for message in socket:
            if message.type != WSMsgType.BINARY:
                continue
            frame = Frame()
            frame.ParseFromString(message.data)
            if frame.method == 0 and _header(frame, "type") == "ping":
                pong = Frame(method=0, service=SERVICE_ID, SeqID=0, LogID=0)
                pong.headers.add(key="type", value="pong")
                await socket.send_bytes(pong.SerializeToString())
            elif frame.method == 1:
                self.acks[_header(frame, "message_id")] = int(json.loads(frame.payload).get("code", 0))
                self.notify()
        return socket

    async def push(self, event: dict[str, Any], message_id: str | None = None) -> str:
        message_id = message_id or self.next_id("ws-")
        self._seq += 1
        frame = Frame(method=1, service=SERVICE_ID, SeqID=self._seq, LogID=self._seq,
                      payload=json.dumps(event, ensure_ascii=False).encode())
        for key, value in (("type", "event"), ("message_id", message_id), ("trace_id", f"t{self._seq}"),
                           ("sum", "1"), ("seq", "0")):
            frame.headers.add(key=key, value=value)
        self.events[message_id] = frame.SerializeToString()
        live = self.live()
        assert live, "no live connection to push on"
        await live[-1].send_bytes(self.events[message_id])
        return message_id

    async def resend(self, message_id: str) -> None:
        """An event again (Feishu re-sends what was not acknowledged; here a test decides when)."""
        await self.live()[-1].send_bytes(self.events[message_id])

    def unacked(self) -> list[str]:
        return [m for m in self.events if self.acks.get(m) != 200]

    async def wait_acked(self, message_id: str) -> None:
        await self.wait(lambda: self.acks.get(message_id) == 200, what=f"the ack of {message_id}")

    def _event(self, event_type: str, event: dict[str, Any]) -> dict[str, Any]:
        return {"schema": "2.0", "header": {"event_id": self.next_id("ev"), "event_type": event_type,
                                            "create_time": str(int(time.time() * 1000)), "token": "",
                                            "app_id": self.app_id, "tenant_key": "tenant"}, "event": event}

    async def say(self, user: str, text: str, *, group: str | None = None, message_id: str | None = None) -> str:
        """A member writes to the bot: privately, or in ``group`` @-mentioning it (the mention is "@_user_1")."""
        message = {"message_id": message_id or self.next_id("om_"), "chat_id": group or f"oc_p2p_{user}",
                   "chat_type": "group" if group else "p2p", "message_type": "text",
                   "content": json.dumps({"text": f"@_user_1 {text}" if group else text}, ensure_ascii=False),
                   "create_time": str(int(time.time() * 1000))}
        if group:
            message["mentions"] = [{"key": "@_user_1", "name": "报备助手", "id": {"open_id": "ou_bot"}}]
        sender = {"sender_id": {"open_id": user, "union_id": f"on_{user}"}, "sender_type": "user"}
        return await self.push(self._event("im.message.receive_v1", {"sender": sender, "message": message}))

    async def press(self, user: str, card: Sent, label: str) -> str:
        event = {"operator": {"open_id": user}, "token": "c-token",
                 "action": {"value": {"d": card.data(label)}, "tag": "button"},
                 "context": {"open_message_id": card.card_id, "open_chat_id": card.chat}}
        return await self.push(self._event("card.action.trigger", event))

    # -- the OpenAPI --

    async def _token(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("app_id") != self.app_id or body.get("app_secret") != self.secret:
            return web.json_response({"code": 10014, "msg": "app secret invalid"})
        return web.json_response({"code": 0, "msg": "ok", "tenant_access_token": "t-1", "expire": 7200})

    async def _sent(self, request: web.Request, chat: str, sent: Sent, key: str | None = None) -> web.Response:
        if request.headers.get("Authorization") != "Bearer t-1":
            return web.json_response({"code": 99991663, "msg": "invalid access token"}, status=400)
        trouble = self.trouble()
        if trouble == "down":
            return web.json_response({"code": 1, "msg": "service unavailable"}, status=503)
        if key is not None and key in self.keys:  # the same uuid again: Feishu posts it once
            return web.json_response({"code": 0, "msg": "success", "data": {"message_id": self.keys[key]}})
        if not self.within_limit(chat):
            return web.json_response({"code": 99991400, "msg": "request trigger frequency limit"}, status=400)
        self.record(sent)
        if key is not None:
            self.keys[key] = sent.card_id
        if trouble == "lose":
            return web.json_response({"code": 1, "msg": "service unavailable"}, status=503)
        return web.json_response({"code": 0, "msg": "success", "data": {"message_id": sent.card_id}})

    @staticmethod
    def _card(kind: str, chat: str, card_id: str, content: str) -> Sent:
        card = json.loads(content)
        text = card["header"]["title"]["content"] + "\n" + card["elements"][0]["text"]["content"]
        buttons = [(a["text"]["content"], a["value"]["d"]) for e in card["elements"] if e["tag"] == "action"
                   for a in e["actions"]]
        return Sent(kind, chat, text, buttons, card_id)

    async def _send(self, request: web.Request) -> web.Response:
        body = await request.json()
        kind = request.query["receive_id_type"]
        chat = body["receive_id"]
        assert (kind == "chat_id") == chat.startswith("oc_"), (kind, chat)
        if chat == "oc_gone":  # a group the bot was removed from
            return web.json_response({"code": 230002, "msg": "Bot/User can NOT be out of the chat."}, status=400)
        message_id = self.next_id("om_")
        key = body.get("uuid")
        if body["msg_type"] == "interactive":
            self.cards_by_id[message_id] = chat
            return await self._sent(request, chat, self._card("card", chat, message_id, body["content"]), key)
        assert body["msg_type"] == "text"
        return await self._sent(request, chat, Sent("text", chat, json.loads(body["content"])["text"], card_id=message_id),
                                key)

    async def _update(self, request: web.Request) -> web.Response:
        body = await request.json()
        message_id = request.match_info["message_id"]
        chat = self.cards_by_id.get(message_id)
        if chat is None:
            return web.json_response({"code": 230001, "msg": "message not found"}, status=400)
        return await self._sent(request, chat, self._card("update", chat, message_id, body["content"]))
