"""A local DingTalk: the Stream gateway (connections/open + a WebSocket of JSON frames) and the robot's OpenAPI.

The bot reaches it through DINGTALK_OPENAPI_ENDPOINT. Frames are those the SDK (dingtalk-stream 0.24.3)
reads and acknowledges: ``{"specVersion", "type": "CALLBACK", "headers": {"messageId", "topic", …},
"data": "<json>"}``; an ack is ``{"code", "headers": {"messageId"}, "message", "data"}``. A frame not
acknowledged stays pending (``unacked``) and is sent again on the next connection, as DingTalk does.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from tests.fakes.messenger import FakeMessenger, Sent

MESSAGE_TOPIC = "/v1.0/im/bot/messages/get"
CARD_TOPIC = "/v1.0/card/instances/callback"


class FakeDingTalk(FakeMessenger):
    def __init__(self, client_id: str = "dingrobot", secret: str = "s3cret", *, per_chat: int = 20,
                 period: float = 60.0) -> None:
        super().__init__(per_chat=per_chat, period=period)
        self.client_id, self.secret = client_id, secret
        self.acks: dict[str, int] = {}  # frame messageId → the code it was acknowledged with
        self.frames: dict[str, dict[str, Any]] = {}  # every frame pushed, by messageId
        self.cards_by_id: dict[str, str] = {}  # cardBizId → its chat
        self.webhook_expired = False
        self.sessions: dict[str, str] = {}  # a sessionWebhook's key → its chat

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1.0/gateway/connections/open", self._open)
        app.router.add_get("/connect", self._connect)
        app.router.add_post("/v1.0/oauth2/accessToken", self._token)
        app.router.add_post("/v1.0/robot/groupMessages/send", self._group_text)
        app.router.add_post("/v1.0/robot/oToMessages/batchSend", self._private_text)
        app.router.add_post("/v1.0/im/v1.0/robot/interactiveCards/send", self._card)
        app.router.add_put("/v1.0/im/robots/interactiveCards", self._update)
        app.router.add_post("/session/{session}", self._webhook)

    # -- the gateway --

    async def _open(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("clientId") != self.client_id or body.get("clientSecret") != self.secret:
            return web.json_response({"code": "InvalidAuthentication"}, status=401)
        return web.json_response({"endpoint": f"ws://127.0.0.1:{self.port}/connect", "ticket": "ticket+/="})

    async def _connect(self, request: web.Request) -> web.WebSocketResponse:
        assert request.query.get("ticket") == "ticket+/="
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self.sockets.append(socket)
        self.connections += 1
        self.notify()
        for message_id in self.unacked():  # DingTalk sends again what was not acknowledged
            await socket.send_str(json.dumps(self.frames[message_id], ensure_ascii=False))
        async for message in socket:
            ack = json.loads(message.data)
            self.acks[ack["headers"]["messageId"]] = int(ack["code"])
            self.notify()
        return socket

    async def push(self, topic: str, data: dict[str, Any], message_id: str | None = None) -> str:
        message_id = message_id or self.next_id("frame-")
        frame = {"specVersion": "1.0", "type": "CALLBACK",
                 "headers": {"appId": "app", "connectionId": "c1", "contentType": "application/json",
                             "messageId": message_id, "time": str(int(time.time() * 1000)), "topic": topic},
                 "data": json.dumps(data, ensure_ascii=False)}
        self.frames[message_id] = frame
        live = self.live()
        assert live, "no live connection to push on"
        await live[-1].send_str(json.dumps(frame, ensure_ascii=False))
        return message_id

    async def resend(self, message_id: str) -> None:
        """A frame again (DingTalk re-sends what was not acknowledged; here a test decides when)."""
        await self.live()[-1].send_str(json.dumps(self.frames[message_id], ensure_ascii=False))

    def unacked(self) -> list[str]:
        return [m for m in self.frames if self.acks.get(m) != 200]

    async def wait_acked(self, message_id: str) -> None:
        await self.wait(lambda: self.acks.get(message_id) == 200, what=f"the ack of {message_id}")

    async def say(self, user: str, text: str, *, group: str | None = None, msg_id: str | None = None) -> str:
        """A member writes to the robot: privately, or in ``group`` @-mentioning it."""
        msg_id = msg_id or self.next_id("msg")
        chat = group or user
        data = {
            "conversationId": chat, "conversationType": "2" if group else "1", "msgId": msg_id,
            "senderNick": user, "senderStaffId": user, "senderId": f"$:LWCP_v1:${user}", "chatbotUserId": "robot",
            "robotCode": self.client_id, "isInAtList": True, "createAt": int(time.time() * 1000),
            "sessionWebhook": f"{self.base}/session/{self._session_of(chat)}",
            "sessionWebhookExpiredTime": int((time.time() + (-60 if self.webhook_expired else 3600)) * 1000),
            "msgtype": "text", "text": {"content": f" {text}" if group else text},
        }
        return await self.push(MESSAGE_TOPIC, data)

    def _session_of(self, chat: str) -> str:
        session = self.next_id("s")
        self.sessions[session] = chat
        return session

    async def press(self, user: str, card: Sent, label: str) -> str:
        """``user`` presses the button labelled ``label`` on ``card``."""
        content = {"cardPrivateData": {"actionIds": [card.data(label)], "params": {}}}
        data = {"outTrackId": card.card_id, "corpId": "corp", "userId": user, "type": "actionCallback",
                "content": json.dumps(content), "extension": "{}",
                **({"openConversationId": card.chat} if card.chat.startswith("cid") else {})}
        return await self.push(CARD_TOPIC, data)

    # -- the OpenAPI --

    async def _token(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("appKey") != self.client_id or body.get("appSecret") != self.secret:
            return web.json_response({"code": "InvalidAuthentication"}, status=401)
        return web.json_response({"accessToken": "token-1", "expireIn": 7200})

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("x-acs-dingtalk-access-token") == "token-1"

    async def _sent(self, request: web.Request, chat: str, sent: Sent, key: str | None = None) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"code": "InvalidAuthentication"}, status=401)
        trouble = self.trouble()
        if trouble == "down":
            return web.json_response({"code": "ServiceUnavailable"}, status=503)
        if key is not None and key in self.keys:  # a card posted again with its cardBizId: posted once
            return web.json_response({"processQueryKey": self.keys[key]})
        if not self.within_limit(chat):
            return web.json_response({"code": "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"}, status=403)
        self.record(sent)
        if key is not None:
            self.keys[key] = self.next_id("q")
        if trouble == "lose":
            return web.json_response({"code": "ServiceUnavailable"}, status=503)
        return web.json_response({"processQueryKey": self.next_id("q")})

    async def _group_text(self, request: web.Request) -> web.Response:
        body = await request.json()
        assert body["robotCode"] == self.client_id and body["msgKey"] == "sampleText"
        if body["openConversationId"] == "cidGONE":  # a group the robot was removed from
            return web.json_response({"code": "invalidParameter.openConversationId.notExist"}, status=400)
        chat = body["openConversationId"]
        return await self._sent(request, chat, Sent("text", chat, json.loads(body["msgParam"])["content"]))

    async def _private_text(self, request: web.Request) -> web.Response:
        body = await request.json()
        (chat,) = body["userIds"]
        return await self._sent(request, chat, Sent("text", chat, json.loads(body["msgParam"])["content"]))

    @staticmethod
    def _card_of(kind: str, chat: str, card_id: str, card_data: str) -> Sent:
        data = json.loads(card_data)
        text = data["header"]["title"]["text"] + "\n" + next(c["text"] for c in data["contents"] if c["type"] == "text")
        buttons = [(a["label"]["text"], a["id"]) for c in data["contents"] if c["type"] == "action" for a in c["actions"]]
        return Sent(kind, chat, text, buttons, card_id)

    async def _card(self, request: web.Request) -> web.Response:
        body = await request.json()
        assert body["cardTemplateId"] == "StandardCard"
        chat = body.get("openConversationId") or json.loads(body["singleChatReceiver"])["userId"]
        self.cards_by_id[body["cardBizId"]] = chat
        return await self._sent(request, chat, self._card_of("card", chat, body["cardBizId"], body["cardData"]),
                                key=body["cardBizId"])

    async def _update(self, request: web.Request) -> web.Response:
        body = await request.json()
        chat = self.cards_by_id.get(body["cardBizId"])
        if chat is None:
            return web.json_response({"code": "param.cardBizIdNotFound"}, status=400)
        return await self._sent(request, chat, self._card_of("update", chat, body["cardBizId"], body["cardData"]))

    async def _webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        chat = self.sessions[request.match_info["session"]]
        if self.webhook_expired:
            return web.json_response({"errcode": 300001, "errmsg": "session webhook expired"})
        if not self.within_limit(chat):
            return web.json_response({"errcode": 410100, "errmsg": "send too fast"})
        self.record(Sent("text", chat, body["text"]["content"], via="webhook"))
        return web.json_response({"errcode": 0, "errmsg": "ok"})
