#!/usr/bin/env bash
# Installs everything the tests need and runs the whole suite:
#   a virtualenv with the package and its test extras, the npm Bot API emulator (telegram-test-api),
#   Debian's Chromium and Noto CJK fonts for the browser tests, systemd-analyze for the units in deploy/,
#   and a running PostgreSQL (started here if it is not). Extra arguments go to pytest; without any,
#   `ruff check` and `mypy` run first.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"

if ! command -v npm >/dev/null; then
  apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi
npm ci --prefix tests/emulator --no-audit --no-fund --loglevel=error

# The web's pages are tested in a real browser: Debian's Chromium (Playwright's own download is not reachable
# here) and Noto CJK, so that screenshots show Chinese.
if [ ! -x /usr/bin/chromium ] || ! dpkg -s fonts-noto-cjk >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
fi

# The systemd units in deploy/ are checked with `systemd-analyze verify` (tests/test_deploy.py), which comes
# with Debian's systemd package.
if ! command -v systemd-analyze >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null
fi

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
if ! pg_up; then
  if ! ls /etc/postgresql >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
  fi
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start
  for _ in $(seq 1 60); do pg_up && break; sleep 0.5; done
  pg_up || { echo "PostgreSQL did not come up on 127.0.0.1:5432" >&2; exit 1; }
fi

# The whole suite (no arguments, as CI runs it) starts with the linter and the type checker (strict, on
# rules/ and storage/: pyproject.toml); a chosen subset does not.
if [ $# -eq 0 ]; then
  .venv/bin/ruff check --quiet . || { echo "ruff found problems (above); fix them or run a subset" >&2; exit 1; }
  .venv/bin/mypy || { echo "mypy found problems (above); fix them or run a subset" >&2; exit 1; }
fi

exec .venv/bin/python -m pytest "$@"
