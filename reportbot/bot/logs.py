"""Logging, set up in one place for every command: text or JSON lines, whole phone numbers always masked.

``LOG_FORMAT=json`` writes one JSON object a line: ``time``, ``level``, ``logger``, ``message``, any
``extra={...}`` fields, and ``exc`` for a traceback. Whatever a log call carries — the message, its
arguments, extras, an exception and its traceback, from our code or a library's — passes through
:func:`reportbot.rules.privacy.mask_full_numbers` before it is written.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from reportbot.rules.privacy import contains_full_number, mask_full_numbers

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
# Libraries whose DEBUG lines repeat SQL and its parameters (customer names): kept at WARNING, so that
# LOG_LEVEL=DEBUG never turns on what SQLAlchemy calls echo.
QUIET = ("httpx", "alembic", "sqlalchemy.engine", "aiosqlite")


class RedactingFormatter(logging.Formatter):
    """``time level logger: message`` lines with every whole phone number masked."""

    def __init__(self, suffix_digits: int) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.suffix_digits = suffix_digits

    def mask(self, text: str) -> str:
        return mask_full_numbers(text, self.suffix_digits)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = _extras(record)
        if extras:
            line += " " + " ".join(f"{key}={value!r}" for key, value in extras.items())
        return self.mask(line)


class JsonFormatter(RedactingFormatter):
    """One JSON object a line; every value masked before it is encoded, so the line stays valid JSON."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update(_extras(record))
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            data["stack"] = self.formatStack(record.stack_info)
        return json.dumps({key: self._value(value) for key, value in data.items()}, ensure_ascii=False)

    def _value(self, value: object) -> object:
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, int | float) and not contains_full_number(str(value)):
            return value
        return self.mask(value if isinstance(value, str) else str(value))


def _extras(record: logging.LogRecord) -> dict[str, object]:
    return {key: value for key, value in vars(record).items() if key not in _STANDARD and not key.startswith("_")}


def configure_logging(level: str, log_format: str, suffix_digits: int, stream: TextIO | None = None) -> None:
    """Route every logger through one redacting handler (``reportbot run``, ``console`` and the rest)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(suffix_digits) if log_format == "json" else RedactingFormatter(suffix_digits))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.captureWarnings(True)
