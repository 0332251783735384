"""One settings class, read from the environment and `.env` (`.env.example` documents every key)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

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
    data_dir: Path = Path("./data")  # local files: the outbox journal of answers sent, WeCom's inbox spool
    log_level: str = "INFO"
    webhook_url: str | None = None  # the public https URL Telegram posts updates to (run --webhook)
    webhook_secret: SecretStr | None = None  # sent back by Telegram in X-Telegram-Bot-Api-Secret-Token
    webhook_listen: str = "127.0.0.1:8080"  # where the webhook server listens: loopback, behind a TLS proxy (SPEC §11)
    wecom_bot_id: str | None = None
    wecom_bot_secret: SecretStr | None = None
    wecom_ws_url: str = "wss://openws.work.weixin.qq.com"
    wecom_ca_file: Path | None = None
    dingtalk_client_id: str | None = None  # the Stream-mode robot's AppKey (Client ID)
    dingtalk_client_secret: SecretStr | None = None
    # The SDK's own name for it: where the OpenAPI and the Stream gateway are (a local fake in tests).
    dingtalk_openapi_endpoint: str = "https://api.dingtalk.com"
    feishu_app_id: str | None = None  # the Feishu app's App ID (cli_…)
    feishu_app_secret: SecretStr | None = None
    feishu_domain: str = "https://open.feishu.cn"  # Lark (international): https://open.larksuite.com
    log_format: Literal["text", "json"] = "text"
    phone_hash_key: SecretStr | None = None
    web_listen: str | None = None  # host:port the web desk and ledger serve on; off when unset
    web_url: str | None = None  # the public base URL put into sign-in links and QR codes
    web_secret: SecretStr | None = None  # signs sessions' cookies and makes the visit codes (required with the web)

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

    @field_validator("web_listen", "web_url", "web_secret", mode="before")
    @classmethod
    def _web_empty_means_off(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("web_listen")
    @classmethod
    def _web_listen_address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("WEB_LISTEN must be host:port, e.g. 127.0.0.1:8081")
        return value

    @field_validator("web_url")
    @classmethod
    def _web_url_shape(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("https://", "http://")) or not urlsplit(value).netloc:
            raise ValueError("WEB_URL must be the public address, e.g. https://desk.example.com")
        return value.rstrip("/")

    @field_validator("web_secret")
    @classmethod
    def _web_secret_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        secret = value.get_secret_value().strip()
        if secret.lower() in PLACEHOLDER_KEYS or secret.lower().startswith("change"):
            raise ValueError("WEB_SECRET is still a placeholder: make one with `openssl rand -hex 32`")
        if len(secret) < 32:
            raise ValueError("WEB_SECRET is too short: use at least 32 random characters (`openssl rand -hex 32`)")
        return SecretStr(secret)

    @property
    def web_configured(self) -> bool:
        return self.web_listen is not None

    def web_problem(self) -> str | None:
        """Why the web cannot start, in words for the person running it; None when it can (or is off)."""
        if self.web_listen is None:
            return None
        missing = [key for key, value in (("WEB_URL", self.web_url), ("WEB_SECRET", self.web_secret)) if value is None]
        if missing:
            return f"WEB_LISTEN is set, so the web needs {' and '.join(missing)} too (see .env.example)"
        return None

    @property
    def web_address(self) -> tuple[str, int]:
        assert self.web_listen is not None
        host, _, port = self.web_listen.rpartition(":")
        return host, int(port)

    @field_validator("reportbot_policy", "wecom_bot_id", "wecom_bot_secret", "wecom_ca_file", "dingtalk_client_id",
                     "dingtalk_client_secret", "feishu_app_id", "feishu_app_secret", mode="before")
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

    @property
    def dingtalk_configured(self) -> bool:
        """DingTalk runs when the robot's Client ID and Client Secret are both set."""
        return bool(self.dingtalk_client_id and self.dingtalk_client_secret)

    @property
    def feishu_configured(self) -> bool:
        """Feishu runs when the app's App ID and App Secret are both set."""
        return bool(self.feishu_app_id and self.feishu_app_secret)

    @property
    def chat_channels_configured(self) -> bool:
        """Any messenger other than Telegram (they run in bot/channels.py)."""
        return self.wecom_configured or self.dingtalk_configured or self.feishu_configured

    @field_validator("dingtalk_openapi_endpoint", "feishu_domain")
    @classmethod
    def _an_address(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("DINGTALK_OPENAPI_ENDPOINT and FEISHU_DOMAIN are http(s):// addresses")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if value.startswith("sqlite://"):
            return value.replace("sqlite://", "sqlite+aiosqlite://", 1)
        if value.startswith(("postgresql://", "postgres://")):
            return "postgresql+asyncpg://" + value.split("://", 1)[1]
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("DATABASE_URL must be sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db")
        return value

    @field_validator("webhook_url", mode="before")
    @classmethod
    def _empty_url_means_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("webhook_secret")
    @classmethod
    def _secret_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        secret = value.get_secret_value().strip()
        if secret.lower() in PLACEHOLDER_TOKENS or secret.lower().startswith("change"):
            raise ValueError("WEBHOOK_SECRET is still a placeholder: make one with `openssl rand -hex 32`")
        if not re.fullmatch(r"[A-Za-z0-9_-]{16,256}", secret):
            raise ValueError("WEBHOOK_SECRET: 16–256 characters of A–Z, a–z, 0–9, _ and - (Telegram's rule)")
        return SecretStr(secret)

    @field_validator("webhook_listen")
    @classmethod
    def _listen_address(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("WEBHOOK_LISTEN must be host:port, e.g. 127.0.0.1:8080")
        return value

    def journal_path(self, channel: str) -> Path:
        """The channel's outbox journal (bot/journal.py), named after the database so that two ledgers never share one."""
        ledger = hashlib.sha256(self.database_url.encode()).hexdigest()[:10]
        return self.data_dir / f"outbox-{channel}-{ledger}.journal"

    def spool_path(self, channel: str) -> Path:
        """The channel's spool of incoming callbacks (bot/spool.py), named after the database like the journal."""
        ledger = hashlib.sha256(self.database_url.encode()).hexdigest()[:10]
        return self.data_dir / f"inbox-{channel}-{ledger}.spool"

    @property
    def webhook_address(self) -> tuple[str, int]:
        host, _, port = self.webhook_listen.rpartition(":")
        return host, int(port)

    @property
    def webhook_path(self) -> str:
        """The path the server answers on: the one in WEBHOOK_URL (a proxy in front keeps it)."""
        return urlsplit(self.webhook_url or "").path or "/"

    def webhook_problem(self) -> str | None:
        """Why webhook mode cannot start, in words for the person running it; None when it can."""
        missing = [key for key, value in (("WEBHOOK_URL", self.webhook_url), ("WEBHOOK_SECRET", self.webhook_secret))
                   if value is None]
        if missing:
            return f"run --webhook needs {' and '.join(missing)} (see .env.example)"
        if not (self.webhook_url or "").startswith("https://"):
            return "WEBHOOK_URL must start with https:// (Telegram only posts to https)"
        return None

    @property
    def telegram_base_file_url(self) -> str:
        """Where files are fetched: Telegram's /file/bot beside /bot (also for a local Bot API server)."""
        base = self.telegram_base_url.rstrip("/")
        return base[: -len("/bot")] + "/file/bot" if base.endswith("/bot") else base + "/file"
