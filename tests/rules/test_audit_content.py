"""The audit chain's content, as Python and PostgreSQL (a report filed and chained in one statement) build it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from reportbot.rules.audit import event_content, event_content_around_report, with_report

AT = datetime(2026, 11, 23, 2, 30, 0, 123456, tzinfo=UTC)


@pytest.mark.parametrize("report_id", [None, 7, 10**12])
@pytest.mark.parametrize("detail", [None, "赵敏", 'a "quoted", [bracketed] note'])
def test_the_content_around_a_report_id_joins_to_the_content(report_id: int | None, detail: str | None) -> None:
    content = event_content(3, report_id, "reported", 42, AT, detail, "ab" * 32)
    around = event_content_around_report(3, "reported", 42, AT, detail, "ab" * 32)
    assert with_report(around, report_id) == content
    if report_id is not None:  # PostgreSQL puts filed.id::text between the halves
        before, after = around
        assert before + str(report_id) + after == content
    assert json.loads(content) == [3, report_id, "reported", 42, "2026-11-23T02:30:00.123456+00:00", detail, "ab" * 32]
