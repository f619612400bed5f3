"""The long mixed crash test: ``python bench/crash_mixed.py [--kills 30] [--seed N]``.

Articles appearing in a feed, scheduled announcements (each opening a thread), admins' prompts due
in those threads, and members joining, applying and being approved (interactions sent while the bot
is down fail and are retried, as a person would) while the bot process is SIGKILLed at seeded random
moments and restarted. Reports what was lost or doubled per kind. The bounded form runs in CI
(tests/e2e/test_crash_mixed.py); both share tests/e2e/crashmixkit.py.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, report

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.e2e.crashmixkit import mixed_run
from tests.emulator.server import Emulator
from tests.emulator.world import build_default_world
from tests.feedserver import FeedServer


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    # Enough work to keep every run busy: the span grows with the number of kills.
    span = max(20.0, args.kills * 4.0)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="roundtable-crashmix-") as tmp:
        async with Emulator() as emulator, FeedServer() as feed_server:
            world = build_default_world(emulator)
            result = await mixed_run(
                emulator, world, feed_server, Path(tmp), kills=args.kills, seed=args.seed,
                fresh=6, scheduled=max(8, args.kills), applicants=max(5, args.kills // 2), span=span, run_between=(1.0, 6.0),
                finish_within=180,
            )  # fmt: skip
    elapsed = time.perf_counter() - started
    lost, doubled = result.lost(), result.doubled()
    rows = [
        (f"crash_mixed: {result.kills} SIGKILLs ({result.kills_after_ready} after ready), {len(result.links)} articles, lost",
         len(lost["articles"]), "-", len(lost["articles"]), "0"),
        ("crash_mixed: articles doubled", len(doubled["articles"]), "-", len(doubled["articles"]), "0"),
        ("crash_mixed: threads doubled", len(doubled["threads"]), "-", len(doubled["threads"]), "0"),
        (f"crash_mixed: {len(result.prompts)} prompts, lost", len(lost["prompts"]), "-", len(lost["prompts"]), "0"),
        ("crash_mixed: prompts doubled", len(doubled["prompts"]), "-", len(doubled["prompts"]), "0"),
        (f"crash_mixed: {len(result.applicants)} approvals, lost", len(lost["approvals"]), "-",
         len(lost["approvals"]), "0"),
        ("crash_mixed: applicants told twice", len(doubled["approvals"]), "-", len(doubled["approvals"]), "0"),
        ("crash_mixed: interactions retried after a kill", result.retried_interactions, "-", "-", "-"),
        ("crash_mixed: wall time", f"{elapsed:.1f} s", "-", "-", "-"),
    ]  # fmt: skip
    report("crash_mixed", rows)
    if not result.ok:
        print(f"lost: {lost}\ndoubled: {doubled}", file=sys.stderr)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
