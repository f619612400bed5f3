"""Raid benchmark for the membership gate; run ``python bench/raid.py`` from the project root.

1,000 members join at once, each applies, and a moderator approves every card as it appears, against
the local Discord emulator with its ``realistic`` rate limits (message create 5/5 s per channel,
member edits 10/10 s per guild, 50 requests/s global). Prints the wall time against the lower bound
those limits force (target: within 1.2x), the global 429 count (target: 0) and what was lost
(target: nothing: every joiner has an application, every approved member holds the member role and
was welcomed).

Options: ``--joins N`` (default 1000), ``--approvals N`` (default: as many as joins),
``--pending-role`` (also give and remove the pending role; the bound then counts the member edits
actually made, since a member approved before their join is processed never gets the pending role),
``--log-decisions`` (also post each decision to the admin log).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _common import report  # noqa: E402

from tests.emulator.server import Emulator  # noqa: E402
from tests.emulator.world import build_default_world  # noqa: E402
from tests.gate_raid import raid  # noqa: E402
from tests.harness import BotRunner, world_config  # noqa: E402


async def main(joins: int, approvals: int, pending_role: bool, log_decisions: bool) -> int:
    emulator = Emulator()
    await emulator.start()
    try:
        world = build_default_world(emulator)
        with tempfile.TemporaryDirectory() as tmp:
            config = world_config(world, gate={"log_decisions": log_decisions})
            if not pending_role:
                config["community"]["roles"]["pending"] = None
            runner = BotRunner(emulator, world, Path(tmp), config)
            await runner.start()
            try:
                result = await raid(
                    emulator, world, runner, joins, approvals, patience=max(600.0, joins * 6.0)
                )
            finally:
                await runner.stop()
    finally:
        await emulator.stop()
    ratio = result.seconds / result.lower_bound if result.lower_bound else float("nan")
    print(f"raid: {result.joins} joins, {result.approvals} approvals (realistic rate limits)")
    print(
        f"  pending role: {'yes' if pending_role else 'no'}; decisions logged: {'yes' if log_decisions else 'no'}"
    )
    for name, seconds in result.bound_detail.items():
        print(f"  bound from {name:<36} {seconds:8.1f} s")
    print(f"  lower bound                                    {result.lower_bound:8.1f} s")
    print(
        f"  measured                                       {result.seconds:8.1f} s   ratio {ratio:.2f}x (target <= 1.2x)"
    )
    print(f"  global 429s {result.global_429}; per-route 429s {result.user_429}")
    print(
        f"  lost: {result.lost} (applications {result.lost_applications}, roles {result.lost_roles}, "
        f"welcomes {result.lost_welcomes})"
    )
    print(f"  queue channel messages: {result.queue_messages} ({result.burst_summaries} burst summary)")
    print(f"  interactions not answered in time: {len(result.unanswered)}")
    for line in result.unanswered[:10]:
        print(f"    {line}")
    report(
        "raid",
        [
            (f"raid: {result.joins:,} joins + {result.approvals:,} approvals, realistic limits",
             f"{result.seconds:.1f} s", f"{result.lower_bound:.1f} s (limits' lower bound)", f"{ratio:.2f}x",
             "<= 1.2x"),
            ("raid: global 429s", result.global_429, "-", result.global_429, "0"),
            ("raid: lost (applications, roles, welcomes)", result.lost, "-", result.lost, "0"),
            ("raid: interactions not answered in time", len(result.unanswered), "-", len(result.unanswered), "0"),
        ],
    )  # fmt: skip
    return 0 if result.lost == 0 and result.global_429 == 0 and not result.unanswered else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--joins", type=int, default=1000)
    parser.add_argument("--approvals", type=int, default=None)
    parser.add_argument("--pending-role", action="store_true")
    parser.add_argument("--log-decisions", action="store_true")
    parser.add_argument("--log", help="write the bot's log to this file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.log:
        handler = logging.FileHandler(args.log)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        for name in ("cogs", "bot", "discord.ui", "discord.gateway"):
            logging.getLogger(name).addHandler(handler)
            logging.getLogger(name).setLevel(logging.DEBUG if name == "discord.ui" else logging.INFO)
    approvals = args.joins if args.approvals is None else min(args.approvals, args.joins)
    sys.exit(asyncio.run(main(args.joins, approvals, args.pending_role, args.log_decisions)))
