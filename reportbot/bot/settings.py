"""One settings class, read from the environment and `.env` (`.env.example` documents every key)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_TOKENS = {"changeme", "change-me", "your-token-here", "123456:abc-def", "token"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    telegram_bot_token: SecretStr | None = None
    telegram_base_url: str = "https://api.telegram.org/bot"
    telegram_poll_interval: float = Field(default=0.0, ge=0.0, le=60.0)
    database_url: str = "sqlite+aiosqlite:///./data/reportbot.db"
    reportbot_policy: Path | None = None
    log_level: str = "INFO"
    wecom_bot_id: str | None = None
    wecom_bot_secret: SecretStr | None = None
    wecom_ws_url: str = "wss://openws.work.weixin.qq.com"
    wecom_ca_file: Path | None = None

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

    @field_validator("reportbot_policy", "wecom_bot_id", "wecom_bot_secret", "wecom_ca_file", mode="before")
    @classmethod
    def _empty_means_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("wecom_ws_url")
    @classmethod
    def _wecom_needs_tls(cls, value: str) -> str:
        # The SDK always hands websockets an SSL context, which a ws:// address refuses.
        if not value.startswith("wss://"):
            raise ValueError("WECOM_WS_URL must start with wss:// (the WeCom SDK always speaks TLS)")
        return value

    @field_validator("wecom_ca_file")
    @classmethod
    def _ca_file_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"WECOM_CA_FILE {value} is not a file (PEM certificates of the extra CAs)")
        return value

    @property
    def wecom_configured(self) -> bool:
        """WeCom runs when both the robot's id and its secret are set."""
        return bool(self.wecom_bot_id and self.wecom_bot_secret and self.wecom_bot_secret.get_secret_value().strip())

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
