"""A bounded raid in CI: 50 joins at once and 4 approvals under realistic rate limits. Nothing is
lost, no global 429, and the queue gets one burst summary instead of 50 messages. (Timing is
measured by ``bench/raid.py``, never asserted here.)"""

from __future__ import annotations

from tests.emulator.server import Emulator
from tests.emulator.world import World
from tests.gate_raid import raid
from tests.harness import BotRunner, world_config


async def test_raid_of_50_joins_loses_nothing_and_never_hits_the_global_limit(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    # No pending role, so the joins themselves do not wait on the 10-per-10-seconds member-edit bucket.
    config = world_config(world, gate={"log_decisions": False})
    config["community"]["roles"]["pending"] = None
    runner.write_config(config)
    await runner.start()
    result = await raid(emulator, world, runner, joins=50, approvals=4, patience=60)
    assert result.lost == 0, result
    assert result.unanswered == []
    assert result.global_429 == 0
    assert result.burst_summaries == 1
    # one summary + 4 cards: not one message per join
    assert result.queue_messages == 5
    assert emulator.unknown_routes == []
