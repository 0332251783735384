#!/usr/bin/env bash
# Installs reportbot into .venv and runs it (`reportbot run`) on the embedded SQLite default.
# Without TELEGRAM_BOT_TOKEN (in the environment or .env) it says how to get one and offers the console.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
exec .venv/bin/reportbot run "$@"
