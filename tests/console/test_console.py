"""The console replays a scripted working day through the real CLI and prints the expected transcript."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
# A chart's or a workbook's size in bytes depends on library versions: a transcript keeps the file's name only.
_FILE_SIZE = re.compile(r"（\d+\.\d KB）")


def without_file_sizes(text: str) -> str:
    return _FILE_SIZE.sub("（… KB）", text)


def reportbot(*args: str, db: Path, stdin: str | None = None, policy: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{db}", "TELEGRAM_BOT_TOKEN": "",
           "REPORTBOT_POLICY": str(policy) if policy else ""}
    return subprocess.run(
        [sys.executable, "-m", "reportbot.bot.cli", *args],
        input=stdin, check=False, capture_output=True, text=True, env=env, timeout=120, cwd=HERE,
    )


@pytest.mark.parametrize("script", ["opening_day", "office_week"])
def test_a_scripted_day_replays_to_its_expected_transcript(script: str, tmp_path: Path) -> None:
    """opening_day: one morning on the default policy; office_week: a week of visits, expiries, re-reports,
    a 公号 and digests, on a compressed policy (office_week.policy.toml) so that a week shows every rule."""
    policy = HERE / f"{script}.policy.toml"
    result = reportbot(
        "console", "--demo", db=tmp_path / "ledger.db", stdin=(HERE / f"{script}.txt").read_text("utf-8"),
        policy=policy if policy.exists() else None,
    )
    assert result.returncode == 0, result.stderr
    expected_file = HERE / f"{script}.expected.txt"
    if os.environ.get("REPORTBOT_UPDATE_TRANSCRIPTS"):
        expected_file.write_text(without_file_sizes(result.stdout), "utf-8")
    assert without_file_sizes(result.stdout) == expected_file.read_text("utf-8")


def test_the_console_says_what_it_cannot_read_and_goes_on(tmp_path: Path) -> None:
    script = "!clock 2026-11-23 10:00\nhello there\n!tap @102 确认\n@101 /mine\n"
    result = reportbot("console", "--demo", db=tmp_path / "ledger.db", stdin=script)
    assert result.returncode == 0, result.stderr
    assert "?? 看不懂这一行" in result.stdout
    assert "?? 没有带“确认”按钮的消息" in result.stdout
    assert "-> 101: 您目前没有有效报备。" in result.stdout


def test_photos_and_documents_are_named_with_their_size_and_saved_with_files(tmp_path: Path) -> None:
    script = "!clock 2026-11-23 10:00\n@104 /stats today\n@104 /export today\n"
    files = tmp_path / "files"
    result = reportbot("console", "--demo", "--files", str(files), db=tmp_path / "ledger.db", stdin=script)
    assert result.returncode == 0, result.stderr
    photo = re.search(r"^-> 104: \[图片\] (stats-20261123-20261123\.png)（\d+\.\d KB） 已保存到 (.+)$", result.stdout, re.MULTILINE)
    document = re.search(r"^-> 104: \[文件\] (报备台账-森林半岛-20261123-20261123\.xlsx)（\d+\.\d KB） 已保存到 (.+)$",
                         result.stdout, re.MULTILINE)
    assert photo and document, result.stdout
    assert (files / photo[1]).read_bytes().startswith(b"\x89PNG") and Path(photo[2]) == files / photo[1]
    assert (files / document[1]).read_bytes().startswith(b"PK")
    assert "  森林半岛 今天统计（2026-11-23）" in result.stdout  # the caption, indented under the file's line


def test_the_transcript_shows_a_typed_whole_number_masked(tmp_path: Path) -> None:
    script = ("!clock 2026-11-23 10:00\n"
              "@101 报备 客户：张先生 电话：13812388888 队名：飞虎队 拓客：李四 到访：明天下午3点\n")
    result = reportbot("console", "--demo", db=tmp_path / "ledger.db", stdin=script)
    assert result.returncode == 0, result.stderr
    assert "<< @101 报备 客户：张先生 电话：138***88888" in result.stdout
    assert "13812388888" not in result.stdout and "回执号" in result.stdout
