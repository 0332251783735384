"""The storage section's footprint: the peak RSS of a process that builds the bot's services and answers
1,000 reports and 100 ``/who``, beside its peak once the services are built; and ``/who``'s latency in it.

A child process of its own, so that its peak RSS is the bot's alone: ``python -m bench.storage_bench URL
FIRST REPORTS QUERIES SECONDS`` answers REPORTS reports of new customers from number FIRST on and QUERIES
``/who`` about them (each phase capped at SECONDS) and prints its figures as JSON. It is started through
bench/storage_bench.py, as before the section was split into modules, so that it imports what it always
has: the idle figure is the stack the storage section's modules bring with them.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from bench.common import ROOT, Row, Stat, capped_calls, own_peak_rss_mib, percentile
from bench.storage_ledger import SECTION, Ledger, Plan, phone_text, services, where
from bench.storage_pipeline import ask_who, send_report


async def footprint_child(
    url: str, first: int, reports: int, queries: int, seconds: float
) -> dict[str, float]:
    """Services built, then reports and /who answered (each phase capped at ``seconds``): peak RSS."""
    svc = services(url)
    stack_mb = own_peak_rss_mib()
    try:
        done = len(await capped_calls(lambda i: send_report(svc, phone_text(first + i), i), reports, seconds))
        step = max(1, done // queries)
        who = await capped_calls(
            lambda q: ask_who(svc, phone_text(first + q * step % done)), queries, seconds
        )
    finally:
        await svc.db.dispose()
    return {"stack_mb": stack_mb, "peak_mb": own_peak_rss_mib(), "reports": done, "queries": len(who),
            "who_p50_ms": percentile(who, 50), "who_p99_ms": percentile(who, 99)}  # fmt: skip


async def footprint_once(ledger: Ledger, plan: Plan) -> dict[str, float]:
    first = ledger.take_phones(plan.footprint_reports)
    numbers = (first, plan.footprint_reports, plan.footprint_queries, plan.footprint_seconds)
    args = [ledger.url, *map(str, numbers)]
    path = os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(ROOT)]))
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.storage_bench", *args, cwd=ROOT, env={**os.environ, "PYTHONPATH": path},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await child.communicate()
    if child.returncode:
        raise RuntimeError(f"footprint child failed: {err.decode()[-2000:]}")
    return dict(json.loads(out))


async def footprint(ledger: Ledger, plan: Plan) -> dict[str, Stat]:
    runs = [await footprint_once(ledger, plan) for _ in range(plan.footprint_reps)]
    return {key: Stat.of([r[key] for r in runs]) for key in runs[0]}


def footprint_rows(ledger: Ledger, plan: Plan, fp: dict[str, Stat]) -> list[Row]:
    work = f"{fp['reports'].median:,.0f} reports + {fp['queries'].median:,.0f} /who"
    note = "child process, VmHWM"
    if (fp["reports"].low, fp["queries"].low) < (plan.footprint_reports, plan.footprint_queries):
        planned = f"{plan.footprint_reports:,} + {plan.footprint_queries}"
        note += f"; only these of {planned} fit the {plan.footprint_seconds:.0f} s cap per phase"
    return [
        Row(SECTION, f"peak RSS after {work} — {where(ledger)}", fp["peak_mb"], "MB", "services built, idle",
            fp["stack_mb"], "< 150 MB", note, higher_is_better=False),
        Row(SECTION, f"/who p50 (in the footprint run) — {where(ledger)}", fp["who_p50_ms"], "ms",
            note=f"p99 {fp['who_p99_ms'].show(2)} ms", higher_is_better=False),
    ]  # fmt: skip


def child_main(argv: list[str]) -> None:
    """The child process: ``argv`` is URL FIRST REPORTS QUERIES SECONDS; the figures go to stdout as JSON."""
    url, first, reports, queries, seconds = argv[0], *map(int, argv[1:4]), float(argv[4])
    print(json.dumps(asyncio.run(footprint_child(url, first, reports, queries, seconds))))
