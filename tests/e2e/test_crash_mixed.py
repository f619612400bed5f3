"""The mixed crash test, bounded for CI: articles appearing in a feed, scheduled announcements with
their threads, admins' prompts, members applying and being approved, while the bot process is
SIGKILLed at seeded random moments and restarted. Afterwards every article is announced once, every
approval applied once (role held, applicant told once), every prompt sent once. The long version
(30 kills) is ``python bench/crash_mixed.py``."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.crashmixkit import mixed_run
from tests.emulator.server import Emulator
from tests.emulator.world import World
from tests.feedserver import FeedServer


async def test_sigkill_during_a_mixed_workload_loses_and_doubles_nothing(
    emulator: Emulator, world: World, feed_server: FeedServer, tmp_path: Path
) -> None:
    report = await mixed_run(emulator, world, feed_server, tmp_path, kills=5, seed=20261126)
    logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in report.log_paths[-2:])
    assert report.kills == 5 and report.runs == 6 and report.kills_after_ready >= 1, logs
    assert len(report.applicants) == 5 and report.links and report.prompts
    assert report.lost() == {"articles": [], "prompts": [], "approvals": []}, logs
    assert report.doubled() == {"articles": [], "prompts": [], "approvals": [], "threads": []}, logs
