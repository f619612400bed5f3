"""The fault soak, bounded for CI: 10% of requests fail with 5xx (some after taking effect), bursts of
429s, the gateway is dropped / told to RECONNECT / sent INVALID_SESSION, the feed server errors and
times out, while new articles keep appearing. Every article is announced exactly once, and the
invalid-request counter stays far below Discord's ban threshold. The long form is ``python bench/soak.py``."""

from __future__ import annotations

from tests.e2e.soakkit import soak_run
from tests.emulator.server import Emulator
from tests.emulator.world import World
from tests.feedserver import FeedServer
from tests.harness import BotRunner


async def test_soak_under_faults_loses_and_doubles_nothing(
    emulator: Emulator, world: World, runner: BotRunner, feed_server: FeedServer
) -> None:
    report = await soak_run(emulator, world, runner, feed_server, rounds=4, per_round=2, seed=3)
    assert report.injected["5xx (random)"] > 0 and report.route_429 + report.global_429 > 0
    assert report.identifies + report.resumes >= 4  # every gateway disturbance was recovered from
    assert report.lost == [] and report.doubled == [], report.counts
    assert report.invalid_requests < 1_000  # Discord bans at 10,000 in 10 minutes
    assert emulator.unknown_routes == []
