"""One process, several channels: each action goes to the transport of the channel it names."""

from __future__ import annotations

import logging

import pytest

from reportbot.bot.channels import Channels
from reportbot.handlers.messages import Action, Send


def test_each_send_goes_to_its_channel_and_one_naming_none_to_the_first() -> None:
    got: dict[str, list[Action]] = {"telegram": [], "wecom": []}
    channels = Channels()
    channels.add("telegram", got["telegram"].extend)
    channels.add("wecom", got["wecom"].extend)
    assert channels.names == ("telegram", "wecom")
    channels.dispatch([Send("lisi", "提醒", channel="wecom"), Send("-1001234", "日报", channel="telegram"), Send("101", "x")])
    assert [a.chat_id for a in got["wecom"]] == ["lisi"]
    assert [a.chat_id for a in got["telegram"]] == ["-1001234", "101"]


def test_an_action_for_a_channel_not_running_is_logged_not_sent(caplog: pytest.LogCaptureFixture) -> None:
    got: list[Action] = []
    channels = Channels()
    channels.add("wecom", got.extend)
    with caplog.at_level(logging.WARNING):
        channels.dispatch([Send("-1001234", "日报", channel="telegram")])
    assert got == [] and "no telegram channel" in caplog.text
