"""Who is writing, and how to reach a staff member: per-channel user ids, always strings."""

from __future__ import annotations

from reportbot.handlers.context import Unit
from reportbot.rules.model import Project, Staff

# The chat channels, in the order a person or group is looked for on when any of them would do.
CHAT_CHANNELS = ("telegram", "wecom", "dingtalk", "feishu")
# The identity namespaces each channel may look a sender up in, in order. The console stands in
# for every channel: `@101` is a Telegram id, `@zhangsan` a WeCom, DingTalk or Feishu user id (SPEC §11).
CHANNEL_NAMESPACES: dict[str, tuple[str, ...]] = {
    **{channel: (channel,) for channel in CHAT_CHANNELS},
    "console": CHAT_CHANNELS,
}

CHANNEL_LABELS = {"telegram": "Telegram", "wecom": "企业微信", "dingtalk": "钉钉", "feishu": "飞书", "console": "控制台"}
# Channels whose transport sends a picture (SendPhoto); elsewhere a QR code is given as its link.
SHOWS_PHOTOS = frozenset({"telegram", "console"})


def namespaces(channel: str) -> tuple[str, ...]:
    return CHANNEL_NAMESPACES.get(channel, (channel,))


async def find_sender(uow: Unit, channel: str, sender_id: str) -> Staff | None:
    return await uow.staff.by_identity(namespaces(channel), sender_id)


async def find_sender_at_home(uow: Unit, channel: str, sender_id: str) -> tuple[Staff | None, Project | None]:
    """The sender and the project their private messages belong to: their default project, or the
    only project there is (None when there are several and they have no default)."""
    found = await uow.staff.by_identity_at_home(namespaces(channel), sender_id)
    if found is None:
        return None, None
    sender, home = found
    if sender.default_project_id is None:
        projects = await uow.projects.all()
        home = projects[0] if len(projects) == 1 else None
    return sender, home


async def private_chat_of(uow: Unit, staff_id: int, channel: str) -> str | None:
    """The chat id that reaches this person privately on ``channel`` (a private chat's id is the user id)."""
    identities = await uow.staff.identities(staff_id)
    for namespace in namespaces(channel):
        if namespace in identities:
            return identities[namespace]
    return None


def group_chat(project: Project, channel: str) -> str | None:
    """The project's group on this channel (the console, standing in for every channel, takes the first)."""
    if channel in CHAT_CHANNELS:
        return project.chat_on(channel)
    return next((chat for chat in map(project.chat_on, CHAT_CHANNELS) if chat), None)
