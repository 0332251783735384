"""Logs: one JSON object a line with LOG_FORMAT=json, and never a whole phone number in either format."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from reportbot.bot.logs import configure_logging

FULL = "13812388888"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The root logger as configure_logging leaves it, restored afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    yield stream
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])


def log_everything(logger: logging.Logger) -> None:
    logger.debug("message in", extra={"text": f"报备 电话：{FULL}", "number": int(FULL), "count": 3})
    logger.info("customer %s called from %s", "张先生", "138 1238 8888")
    try:
        raise ValueError(f"bad phone {FULL}")
    except ValueError:
        logger.exception("update failed for +86%s", FULL)


def test_json_logs_are_one_object_a_line_with_extras_and_no_full_number(captured: io.StringIO) -> None:
    configure_logging("DEBUG", "json", 5, captured)
    log_everything(logging.getLogger("reportbot.test"))
    lines = captured.getvalue().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["level"] for r in records] == ["DEBUG", "INFO", "ERROR"]
    assert {"time", "level", "logger", "message"} <= set(records[0]) and records[0]["logger"] == "reportbot.test"
    assert records[0]["text"] == "报备 电话：138***88888" and records[0]["count"] == 3
    assert records[0]["number"] == "138***88888"
    assert records[1]["message"] == "customer 张先生 called from 138***88888"
    assert "ValueError: bad phone 138***88888" in records[2]["exc"] and records[2]["message"].endswith("138***88888")
    assert FULL not in captured.getvalue() and "1238" not in captured.getvalue()


def test_text_logs_mask_numbers_in_messages_arguments_extras_and_tracebacks(captured: io.StringIO) -> None:
    configure_logging("DEBUG", "text", 4, captured)
    log_everything(logging.getLogger("reportbot.test"))
    text = captured.getvalue()
    assert "customer 张先生 called from 138****8888" in text and "ValueError: bad phone 138****8888" in text
    assert "text='报备 电话：138****8888'" in text
    assert FULL not in text and "1238" not in text


def test_logging_is_set_up_once_for_every_logger_and_sql_echo_stays_off(captured: io.StringIO) -> None:
    configure_logging("DEBUG", "json", 5, captured)
    configure_logging("DEBUG", "json", 5, captured)
    assert len(logging.getLogger().handlers) == 1
    logging.getLogger("telegram.ext.Application").debug("update %s", {"text": FULL})
    logging.getLogger("sqlalchemy.engine.Engine").info("INSERT … %s", FULL)
    lines = captured.getvalue().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["logger"] == "telegram.ext.Application"
    assert FULL not in captured.getvalue()
