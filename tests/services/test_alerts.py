from __future__ import annotations

from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.db.alerts import AlertRepository
from bot.db.database import Database
from bot.services.alerts import AlertMessage, AlertService


@pytest.fixture
async def setup(tmp_path: Path):
    async with Database(tmp_path / "rt.db") as db:
        await db.migrate()
        service = AlertService(AlertRepository(db), ManualClock())
        delivered: list[AlertMessage] = []
        accept = {"ok": True}

        async def sink(alert: AlertMessage) -> bool:
            if accept["ok"]:
                delivered.append(alert)
            return accept["ok"]

        service.sink = sink
        yield service, delivered, accept


async def test_same_problem_is_reported_once(setup) -> None:
    service, delivered, _ = setup
    for _ in range(3):
        await service.report(1, "feed:1", "Feed paused: HTTP 500", fix="Check the site")
    assert [a.text for a in delivered] == ["Feed paused: HTTP 500"]


async def test_changed_problem_and_resolution_are_reported_again(setup) -> None:
    service, delivered, _ = setup
    await service.report(1, "feed:1", "Feed failing: HTTP 500")
    await service.report(1, "feed:1", "Feed failing: timed out")
    assert await service.resolve(1, "feed:1", "Feed recovered") is True
    assert await service.resolve(1, "feed:1", "Feed recovered") is False
    await service.report(1, "feed:1", "Feed failing: timed out")  # reopened after resolution
    assert [(a.text, a.resolved) for a in delivered] == [
        ("Feed failing: HTTP 500", False),
        ("Feed failing: timed out", False),
        ("Feed recovered", True),
        ("Feed failing: timed out", False),
    ]


async def test_undelivered_alert_is_retried_on_next_report(setup) -> None:
    service, delivered, accept = setup
    accept["ok"] = False
    assert await service.report(1, "perm", "Missing Manage Roles") is False
    accept["ok"] = True
    assert await service.report(1, "perm", "Missing Manage Roles") is True
    assert await service.report(1, "perm", "Missing Manage Roles") is False
    assert len(delivered) == 1
    assert [a.key for a in await service.open_alerts(1)] == ["perm"]


async def test_resolving_unknown_problem_says_nothing(setup) -> None:
    service, delivered, _ = setup
    assert await service.resolve(1, "never", "fine") is False
    assert delivered == []
