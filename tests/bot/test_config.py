"""Settings and the policy file: defaults, validation, clear refusals."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from reportbot.bot.policy_file import PolicyError, load_policy
from reportbot.bot.settings import Settings
from reportbot.rules.policy import Policy


def test_the_default_database_is_a_sqlite_file_under_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert Settings(_env_file=None).database_url == "sqlite+aiosqlite:///./data/reportbot.db"  # type: ignore[call-arg]


def test_the_webhook_listens_on_loopback_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    """SPEC §11: WEBHOOK_LISTEN defaults to 127.0.0.1:8080, behind a reverse proxy — not every interface."""
    monkeypatch.delenv("WEBHOOK_LISTEN", raising=False)
    assert Settings(_env_file=None).webhook_listen == "127.0.0.1:8080"  # type: ignore[call-arg]


def test_plain_database_urls_get_the_async_driver() -> None:
    assert Settings(database_url="postgresql://u@h/db").database_url == "postgresql+asyncpg://u@h/db"
    assert Settings(database_url="sqlite:///x.db").database_url == "sqlite+aiosqlite:///x.db"
    with pytest.raises(ValidationError):
        Settings(database_url="mysql://u@h/db")


def test_the_file_url_sits_beside_a_local_bot_api_server() -> None:
    settings = Settings(telegram_base_url="http://127.0.0.1:9000/bot")
    assert settings.telegram_base_file_url == "http://127.0.0.1:9000/file/bot"


def test_an_empty_token_means_no_telegram_and_a_malformed_one_is_refused() -> None:
    assert Settings(telegram_bot_token="").telegram_bot_token is None
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(telegram_bot_token="changeme")
    with pytest.raises(ValidationError, match="BotFather"):
        Settings(telegram_bot_token="not-a-token")


def test_no_policy_file_means_the_documented_defaults() -> None:
    assert load_policy(None) == Policy()
    assert Policy().report_window_days == 7 and Policy().mask_suffix_digits == 5


def test_a_policy_file_overrides_only_what_it_names(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('report_window_days = 15\nquiet_start = "21:30:00"\n', "utf-8")
    policy = load_policy(path)
    assert policy.report_window_days == 15 and policy.quiet_start == time(21, 30) and policy.min_lead_minutes == 30


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ("report_window_days = 0", "report_window_days"),
        ('timezone = "Mars/Olympus"', "timezone"),
        ("mask_suffix_digit = 4", "mask_suffix_digit"),
        ("report_window_days = [", "not valid TOML"),
    ],
)
def test_a_bad_policy_file_is_refused_naming_the_key(tmp_path: Path, content: str, named: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(content, "utf-8")
    with pytest.raises(PolicyError, match=named.replace("[", r"\[")):
        load_policy(path)


ROOT = Path(__file__).resolve().parents[2]


def test_the_example_policy_file_states_exactly_the_defaults() -> None:
    assert load_policy(ROOT / "policy.example.toml") == Policy()


def test_env_example_documents_every_setting_and_nothing_else() -> None:
    keys = {
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text("utf-8").splitlines()
        if line and not line.startswith("#")
    }
    assert keys == {name.upper() for name in Settings.model_fields}


def test_an_empty_policy_path_as_in_env_example_means_the_defaults() -> None:
    assert Settings(reportbot_policy="").reportbot_policy is None


def test_a_phone_hash_key_must_be_a_real_secret_and_empty_means_none() -> None:
    assert Settings(phone_hash_key="").phone_hash_key is None
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(phone_hash_key="changeme")
    with pytest.raises(ValidationError, match="too short"):
        Settings(phone_hash_key="short")
    key = Settings(phone_hash_key="  k9Vd2x7QbL0sTzWq4nYe  ").phone_hash_key
    assert key is not None and key.get_secret_value() == "k9Vd2x7QbL0sTzWq4nYe" and "k9Vd" not in repr(key)


def test_the_log_format_is_text_or_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    assert Settings(_env_file=None).log_format == "text"  # type: ignore[call-arg]
    assert Settings(log_format="JSON").log_format == "json"
    with pytest.raises(ValidationError):
        Settings(log_format="xml")
