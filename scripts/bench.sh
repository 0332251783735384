#!/usr/bin/env bash
# Installs what the benchmarks need (as scripts/test.sh does) and runs them all: one Markdown table.
#   ./scripts/bench.sh                 default run (under ten minutes)
#   ./scripts/bench.sh --long          also the runs with 1,000,000 stored reports
#   ./scripts/bench.sh --out bench/RESULTS.md
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
npm ci --prefix tests/emulator --no-audit --no-fund --loglevel=error
pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start

exec .venv/bin/python -m bench "$@"
