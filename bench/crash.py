"""The long crash test: ``python bench/crash.py [--kills 30] [--articles 30] [--seed N]``.

The bot runs as a subprocess (``python -m bot``) against the emulator with N announcements due at
the same moment; it is SIGKILLed at random moments (seeded) while they go out, restarted each time,
and at the end every announcement must appear in the channel exactly once. The emulator's nonce
de-duplication is off, so only the bot's own bookkeeping prevents doubles. The short version runs in
the test suite (tests/e2e/test_crash.py).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT
from _common import report as report_rows

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.e2e.crashkit import crash_run
from tests.emulator.server import Emulator
from tests.emulator.world import build_default_world


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=30)
    parser.add_argument("--articles", type=int, default=150)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency", type=float, default=0.2, help="seconds added to each message POST")
    args = parser.parse_args()
    started = time.perf_counter()
    async with Emulator() as emulator:
        world = build_default_world(emulator)
        workdir = tempfile.mkdtemp(prefix="roundtable-crash-")
        if True:
            report = await crash_run(
                emulator, world, Path(workdir), articles=args.articles, kills=args.kills, seed=args.seed,
                latency=args.latency, finish_within=180,
            )  # fmt: skip
    elapsed = time.perf_counter() - started
    n = len(report.links)
    rows = [
        (
            f"crash: {n} announcements, {report.kills} SIGKILLs ({report.kills_mid_batch} mid-batch), lost",
            len(report.lost),
            "-",
            len(report.lost),
            "0",
        ),
        ("crash: doubled", len(report.doubled), "-", len(report.doubled), "0"),
        ("crash: wall time", f"{elapsed:.1f} s", "-", "-", "-"),
    ]
    report_rows("crash", rows)
    ok = not report.lost and not report.doubled
    print(
        "OK: every announcement exactly once" if ok else f"FAIL: lost {report.lost} doubled {report.doubled}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
