"""The long fault soak: ``python bench/soak.py [--rounds 20] [--per-round 3] [--rate 0.10] [--seed N]``.

The real bot (in this process) against the emulator while 10% of its requests fail with 500/502/504
(a further share of message sends fail *after* Discord created the message), 429 bursts (route and
global) hit message sends, the gateway is dropped, told to RECONNECT and sent INVALID_SESSION, and the
feed server errors and times out; new articles appear every round. Reports lost/doubled work and the
invalid-request counter (Discord bans at 10,000 in 10 minutes). The bounded form runs in CI
(tests/e2e/test_soak.py); both share tests/e2e/soakkit.py.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from _common import ROOT, report

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.e2e.soakkit import soak_run
from tests.emulator.server import Emulator
from tests.emulator.world import build_default_world
from tests.feedserver import FeedServer
from tests.harness import BotRunner, world_config


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--per-round", type=int, default=3)
    parser.add_argument("--rate", type=float, default=0.10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--applicants", type=int, default=2, help="members applying and approved per round")
    parser.add_argument("--quick", action="store_true", help="6 rounds of 2 articles")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.per_round, args.applicants = 6, 2, 1
    with tempfile.TemporaryDirectory() as tmp:
        async with Emulator() as emulator, FeedServer() as feed_server:
            world = build_default_world(emulator)
            runner = BotRunner(emulator, world, Path(tmp), world_config(world))
            try:
                result = await soak_run(
                    emulator, world, runner, feed_server, rounds=args.rounds, per_round=args.per_round,
                    rate=args.rate, seed=args.seed, applicants_per_round=args.applicants, finish_within=600,
                )  # fmt: skip
            finally:
                await runner.stop()
    faults = ", ".join(f"{k}: {v}" for k, v in sorted(result.injected.items()))
    print(f"faults injected: {faults}; failed polls retried: {result.failed_polls}", file=sys.stderr)
    print(f"gateway: {result.identifies} IDENTIFY, {result.resumes} RESUME", file=sys.stderr)
    n = len(result.links)
    rows = [
        (f"soak: {n} articles + {len(result.applicants)} approvals, {result.rounds} rounds, {args.rate:.0%} 5xx, lost",
         len(result.lost), "-",
         len(result.lost), "0"),
        ("soak: doubled", len(result.doubled), "-", len(result.doubled), "0"),
        ("soak: invalid requests (401/403/429) in 10 min", result.invalid_requests, "10,000 (ban)",
         f"{result.invalid_requests / 10_000:.1%}", "<= 10%"),
        ("soak: global 429s (all injected)", result.global_429, "-", "-", "-"),
        ("soak: wall time", f"{result.seconds:.1f} s", "-", "-", "-"),
    ]  # fmt: skip
    report("soak", rows)
    return 0 if not result.lost and not result.doubled else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
