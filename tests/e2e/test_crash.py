"""The crash test: the bot as a subprocess, SIGKILLed at random moments while a batch of due
announcements goes out, restarted; every announcement appears exactly once (none lost, none doubled).
The long version (30 kills) is ``python bench/crash.py``."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.crashkit import crash_run
from tests.emulator.server import Emulator
from tests.emulator.world import World


async def test_sigkill_during_a_batch_loses_and_doubles_nothing(
    emulator: Emulator, world: World, tmp_path: Path
) -> None:
    report = await crash_run(emulator, world, tmp_path, articles=60, kills=5, seed=20261126)
    logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in report.log_paths[-2:])
    # 60 messages at 0.2 s each, 4 at a time, take at least 3 s; a kill 0-0.6 s after a run's first
    # post lands while the batch is still going out.
    assert report.kills == 5 and report.kills_mid_batch >= 1, logs
    assert report.lost == [], logs
    assert report.doubled == [], logs
    assert sorted(report.counts) == sorted(report.links)
