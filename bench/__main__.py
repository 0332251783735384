"""`python -m bench [--long] [--only SECTION…] [--out FILE]`: every benchmark, one Markdown table.

The default run stays under ten minutes; `--long` adds the runs with 1,000,000 stored reports and the
opening-morning burst of the gathered cards (`--only cards` runs it alone, about four minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import (
    cards_bench,
    import_bench,
    outage_bench,
    parse_bench,
    storage_bench,
    telegram_bench,
    web_bench,
)
from bench.common import Row, table

SECTIONS = {"storage": storage_bench.run, "telegram": telegram_bench.run, "outage": outage_bench.run,
            "parse": parse_bench.run, "web": web_bench.run, "cards": cards_bench.run, "import": import_bench.run}


MINUTES_LONG = {"cards"}  # sections whose figures take minutes of wall time by what they measure


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    psql = subprocess.run(["psql", "--version"], check=False, capture_output=True, text=True)
    pg = psql.stdout.strip() or "psql ?"
    return (
        f"{os.cpu_count()} cores ({cpu}){memory}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}; {pg}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--long", action="store_true", help="also the 1,000,000-report runs")
    parser.add_argument("--only", nargs="*", choices=sorted(SECTIONS), help="run only these sections")
    parser.add_argument("--out", type=Path, help="also write the table (and the machine) to this file")
    args = parser.parse_args()
    rows: list[Row] = []
    started = time.perf_counter()
    for name, run in SECTIONS.items():
        if args.only and name not in args.only:
            continue
        if name in MINUTES_LONG and not args.only and not args.long:  # named, or with --long
            continue
        print(f"… {name}", file=sys.stderr, flush=True)
        rows += asyncio.run(run(args.long))
    elapsed = time.perf_counter() - started
    report = "\n".join(
        [
            (
                f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {'long' if args.long else 'default'} mode, "
                f"{elapsed / 60:.1f} min, on {machine()}."
            ),
            "",
            table(rows),
        ]
    )
    print(report)
    if args.out:
        args.out.write_text(report + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
