"""The composition root: the one place where settings become a database, a renderer and the services."""

from __future__ import annotations

from reportbot.bot.policy_file import load_policy
from reportbot.bot.settings import Settings
from reportbot.handlers.context import Services, WebLinks
from reportbot.handlers.render import Renderer
from reportbot.rules.privacy import PhoneKey
from reportbot.rules.visit_code import code_key
from reportbot.storage.db import Database


def build_services(settings: Settings) -> Services:
    """Everything the use cases need, built once per process (never at import time)."""
    policy = load_policy(settings.reportbot_policy)
    key = settings.phone_hash_key
    web = None
    if settings.web_url is not None and settings.web_secret is not None:
        web = WebLinks(settings.web_url, code_key(settings.web_secret.get_secret_value()))
    return Services(
        db=Database(settings.database_url),
        render=Renderer(policy.timezone, policy.mask_suffix_digits),
        policy=policy,
        phone_key=PhoneKey(key.get_secret_value().encode()) if key else None,
        web=web,
    )
