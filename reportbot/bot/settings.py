"""One settings class, read from the environment and `.env` (`.env.example` documents every key)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_TOKENS = {"changeme", "change-me", "your-token-here", "123456:abc-def", "token"}
PLACEHOLDER_KEYS = {"changeme", "change-me", "secret", "your-secret-here", "your-key-here", "phone-hash-key"}
PHONE_HASH_KEY_MIN = 16


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    telegram_bot_token: SecretStr | None = None
    telegram_base_url: str = "https://api.telegram.org/bot"
    telegram_poll_interval: float = Field(default=0.0, ge=0.0, le=60.0)
    database_url: str = "sqlite+aiosqlite:///./data/reportbot.db"
    reportbot_policy: Path | None = None
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"
    phone_hash_key: SecretStr | None = None

    @field_validator("telegram_bot_token")
    @classmethod
    def _refuse_placeholder_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        token = value.get_secret_value().strip()
        if not token:
            return None  # an empty .env line means "no Telegram"
        if token.lower() in PLACEHOLDER_TOKENS:
            raise ValueError("TELEGRAM_BOT_TOKEN is still the example placeholder: put BotFather's token there")
        if ":" not in token:
            raise ValueError("TELEGRAM_BOT_TOKEN looks wrong: BotFather's tokens look like 123456789:AAE…")
        return SecretStr(token)

    @field_validator("phone_hash_key")
    @classmethod
    def _refuse_weak_phone_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None  # no key: visits with a full number match by the masked key only
        key = value.get_secret_value().strip()
        if key.lower() in PLACEHOLDER_KEYS:
            raise ValueError("PHONE_HASH_KEY is still the example placeholder: put a random secret there "
                             "(python -c 'import secrets; print(secrets.token_urlsafe(32))')")
        if len(key) < PHONE_HASH_KEY_MIN:
            raise ValueError(f"PHONE_HASH_KEY is too short: use at least {PHONE_HASH_KEY_MIN} random characters "
                             "(python -c 'import secrets; print(secrets.token_urlsafe(32))')")
        return SecretStr(key)

    @field_validator("log_format", mode="before")
    @classmethod
    def _log_format_lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("reportbot_policy", mode="before")
    @classmethod
    def _empty_policy_means_defaults(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if value.startswith("sqlite:///") or value.startswith("sqlite://"):
            return value.replace("sqlite://", "sqlite+aiosqlite://", 1)
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            return "postgresql+asyncpg://" + value.split("://", 1)[1]
        if not (value.startswith("sqlite+aiosqlite://") or value.startswith("postgresql+asyncpg://")):
            raise ValueError("DATABASE_URL must be sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db")
        return value

    @property
    def telegram_base_file_url(self) -> str:
        """Where files are fetched: Telegram's /file/bot beside /bot (also for a local Bot API server)."""
        base = self.telegram_base_url.rstrip("/")
        return base[: -len("/bot")] + "/file/bot" if base.endswith("/bot") else base + "/file"
