"""The systemd units in deploy/ are units systemd accepts, and say what docs/operations.md promises.

`systemd-analyze verify` reads a unit file as systemd would load it. Two things make it a weak check on
its own, and the test makes up for both. It exits 0 on an unknown key, a misspelt one or a value it cannot
parse — it only prints a warning and ignores the line, as systemd would at boot — so here a unit passes
only when verify exits 0 *and* prints nothing about it. And it refuses a unit whose ExecStart is not an
executable on this machine: the units name /opt/reportbot/.venv/bin/reportbot, the path on the office's
server, so they are verified as copies in a temporary directory with that path pointing at true(1).
Deliberately broken units show that the check fails when it should.

systemd-analyze comes with Debian's `systemd` package; scripts/test.sh installs it when it is missing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
SERVER_BINARY = "/opt/reportbot/.venv/bin/reportbot"
UNITS = ("reportbot.service", "reportbot-backup.service", "reportbot-backup.timer")


@dataclass(frozen=True)
class Verdict:
    returncode: int
    complaints: list[str]  # what verify said about the units checked (anything else it prints is not theirs)

    @property
    def accepted(self) -> bool:
        return self.returncode == 0 and not self.complaints


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.fail("systemd-analyze is missing (Debian package `systemd`): scripts/test.sh installs it; "
                    "the units in deploy/ are not checked without it")
    return found


def verify(*units: Path) -> Verdict:
    """`systemd-analyze verify` on these unit files, as strictly as it can be made to judge them."""
    analyze = systemd_analyze()
    helps = subprocess.run([analyze, "--help"], capture_output=True, text=True, check=False).stdout
    options = ["--man=no"]  # Documentation= names a file on the server, not a man page here
    if "--generators" in helps:
        options.append("--generators=no")  # this machine's generators say nothing about our units
    if "--recursive-errors" in helps:
        options.append("--recursive-errors=no")  # judge our units, not this machine's network-online.target
    result = subprocess.run([analyze, "verify", *options, *map(str, units)], capture_output=True, text=True,
                            check=False, cwd=units[0].parent, timeout=60)
    names = {unit.name for unit in units}
    said = (result.stdout + result.stderr).splitlines()
    return Verdict(result.returncode, [line for line in said if any(name in line for name in names)])


@pytest.fixture
def stand_in() -> Path:
    """An executable of this machine to stand where the server has reportbot, so that verify finds
    ExecStart's binary (true(1); verify only checks that it is there and executable)."""
    return Path(shutil.which("true") or sys.executable)


def copy_unit(name: str, into: Path, stand_in: Path, text: str | None = None) -> Path:
    """The unit from deploy/ (or ``text``) written into ``into``, its reportbot binary replaced by the stand-in."""
    content = (DEPLOY / name).read_text("utf-8") if text is None else text
    target = into / name
    target.write_text(content.replace(SERVER_BINARY, str(stand_in)), "utf-8")
    return target


def settings_of(name: str) -> dict[tuple[str, str], list[str]]:
    """(section, key) → every value given, in order, as systemd reads a unit's lines (comments left out)."""
    found: dict[tuple[str, str], list[str]] = {}
    section = ""
    for line in (DEPLOY / name).read_text("utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if header := re.fullmatch(r"\[(\w+)\]", line):
            section = header.group(1)
            continue
        key, _, value = line.partition("=")
        found.setdefault((section, key.strip()), []).append(value.strip())
    return found


def test_the_units_in_deploy_are_the_ones_the_operations_guide_installs() -> None:
    assert sorted(p.name for p in DEPLOY.iterdir()) == sorted(UNITS)
    guide = (ROOT / "docs" / "operations.md").read_text("utf-8")
    for name in UNITS:
        assert f"deploy/{name}" in guide


def test_systemd_accepts_every_unit_in_deploy(tmp_path: Path, stand_in: Path) -> None:
    units = [copy_unit(name, tmp_path, stand_in) for name in UNITS]
    verdict = verify(*units)
    assert verdict.accepted, verdict


def test_the_check_refuses_a_unit_systemd_would_refuse(tmp_path: Path, stand_in: Path) -> None:
    broken = copy_unit("reportbot-backup.timer", tmp_path, stand_in,
                       text="[Timer]\nOnCalendar=*-*-* 25:99:00\n[Install]\nWantedBy=timers.target\n")
    copy_unit("reportbot-backup.service", tmp_path, stand_in)
    verdict = verify(broken)
    assert verdict.returncode != 0 and not verdict.accepted, verdict


def test_the_check_refuses_a_unit_systemd_would_only_warn_about(tmp_path: Path, stand_in: Path) -> None:
    """A typo in a key and a value systemd cannot parse: verify exits 0 and warns; the check refuses."""
    unit = (DEPLOY / "reportbot.service").read_text("utf-8")
    typo = unit.replace("Restart=on-failure", "Restart=sometimes\nRestrat=on-failure")
    assert typo != unit
    verdict = verify(copy_unit("reportbot.service", tmp_path, stand_in, text=typo))
    assert not verdict.accepted
    assert any("Restrat" in line for line in verdict.complaints), verdict
    assert any("sometimes" in line for line in verdict.complaints), verdict


def test_the_check_refuses_a_unit_whose_program_is_not_there(tmp_path: Path, stand_in: Path) -> None:
    unit = copy_unit("reportbot.service", tmp_path, stand_in)
    unit.write_text(unit.read_text("utf-8").replace(str(stand_in), str(tmp_path / "not-installed")), "utf-8")
    assert not verify(unit).accepted


def test_the_bot_runs_as_its_own_user_from_the_clone_and_comes_back_after_a_failure() -> None:
    bot = settings_of("reportbot.service")
    assert bot[("Service", "ExecStart")] == [f"{SERVER_BINARY} run"]
    assert bot[("Service", "User")] == ["reportbot"]
    assert bot[("Service", "WorkingDirectory")] == ["/opt/reportbot"]
    assert bot[("Service", "EnvironmentFile")] == ["/opt/reportbot/.env"]
    assert bot[("Service", "Restart")] == ["on-failure"]
    assert bot[("Install", "WantedBy")] == ["multi-user.target"]


def test_the_units_write_only_to_the_data_dir_and_the_backups() -> None:
    for name, writable in (("reportbot.service", ["/var/lib/reportbot"]),
                           ("reportbot-backup.service", ["/var/backups/reportbot", "/var/lib/reportbot"])):
        unit = settings_of(name)
        assert unit[("Service", "NoNewPrivileges")] == ["yes"]
        assert unit[("Service", "ProtectSystem")] == ["strict"]
        assert unit[("Service", "ReadWritePaths")] == [" ".join(writable)]


def test_the_nightly_backup_writes_a_dated_file_and_makes_up_a_missed_night() -> None:
    backup = settings_of("reportbot-backup.service")
    [command] = backup[("Service", "ExecStart")]
    assert f"{SERVER_BINARY} backup " in command and "/var/backups/reportbot/reportbot-" in command
    assert backup[("Service", "User")] == ["reportbot"]
    timer = settings_of("reportbot-backup.timer")
    assert timer[("Timer", "OnCalendar")] == ["*-*-* 02:30:00"]
    assert timer[("Timer", "Persistent")] == ["true"]
