"""GateService and ApplicationRepository against a real SQLite file: the form's pages, the first
decision winning at the database, planned effects, batched joins and restoring returning members."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.config_schema import CommunityConfig, GateConfig, QuestionConfig, RolesConfig
from bot.db.applications import ApplicationRepository
from bot.db.database import Database
from bot.domain.applications import AlreadyDecided, ApplicationClosed, Event, InvalidTransition
from bot.services.gate import GateService

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
GUILD = 10
MOD = 99
QUESTIONS = tuple(QuestionConfig(id=f"q{i}", label=f"Q{i}", style="short", min_length=2) for i in range(1, 7))
CONFIG = CommunityConfig(roles=RolesConfig(member=1, pending=2), gate=GateConfig(questions=QUESTIONS))


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database(tmp_path / "gate.db").open()
    await database.migrate()
    yield database
    await database.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def service(db: Database, clock: ManualClock) -> GateService:
    return GateService(ApplicationRepository(db), clock)


async def submitted_app(service: GateService, user: int = 1):
    (app,), _ = await service.members_joined(GUILD, [(user, NOW, None)], CONFIG)
    page1 = await service.save_page(app, 0, {f"q{i}": f"a{i}" for i in range(1, 6)}, CONFIG)
    assert page1.next_page == 1 and not page1.submitted
    done = await service.save_page(page1.app, 1, {"q6": "a6"}, CONFIG)
    assert done.submitted and done.next_page is None
    return done.app


async def test_six_questions_take_two_pages_and_keep_every_answer(service: GateService) -> None:
    app = await submitted_app(service)
    assert app.status == "submitted"
    assert app.answers == {f"q{i}": f"a{i}" for i in range(1, 7)}


async def test_a_page_with_a_blank_required_answer_is_refused_and_nothing_is_saved(
    service: GateService,
) -> None:
    (app,), _ = await service.members_joined(GUILD, [(1, NOW, None)], CONFIG)
    outcome = await service.save_page(
        app, 0, {"q1": "   ", "q2": "ok", "q3": "ok", "q4": "ok", "q5": "ok"}, CONFIG
    )
    assert outcome.errors == ["“Q1” needs an answer."]
    stored = await service.repo.get(app.id)
    assert stored is not None and stored.pages_done == 0 and stored.answers == {}


async def test_first_decision_wins_even_when_both_race(service: GateService) -> None:
    app = await submitted_app(service)
    results = await asyncio.gather(
        service.act(app.id, Event.APPROVE, MOD, CONFIG),
        service.act(app.id, Event.DENY, MOD + 1, CONFIG, "no"),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, Exception)]
    losers = [r for r in results if isinstance(r, AlreadyDecided)]
    assert len(winners) == 1 and len(losers) == 1
    effects = await service.repo.effects_of(app.id)
    decided = [e for e in effects if e.event_id == winners[0].event_id]
    assert effects == decided  # only the winner planned effects


async def test_approve_plans_the_steps_in_order(service: GateService) -> None:
    app = await submitted_app(service)
    decision = await service.act(app.id, Event.APPROVE, MOD, CONFIG)
    steps = [e.step for e in await service.repo.pending_effects(decision.event_id)]
    assert steps == [
        "grant_member_role", "remove_pending_role", "notify_applicant", "update_queue_message", "log_decision",
    ]  # fmt: skip
    events = await service.repo.events(app.id)
    assert [(e.event, e.from_status, e.to_status, e.actor_id) for e in events][-1] == (
        "approve", "submitted", "approved", MOD,
    )  # fmt: skip


async def test_deny_with_kick_and_a_reason(service: GateService) -> None:
    config = replace(CONFIG, gate=replace(CONFIG.gate, deny_action="kick"))
    app = await submitted_app(service)
    decision = await service.act(app.id, Event.DENY, MOD, config, "  too short  ")
    assert decision.app.reason == "too short" and decision.app.decided_by == MOD
    effects = await service.repo.pending_effects(decision.event_id)
    assert [e.step for e in effects] == [
        "notify_applicant",
        "kick_member",
        "update_queue_message",
        "log_decision",
    ]
    assert effects[0].text == "too short"


async def test_a_withdrawn_application_cannot_be_decided(service: GateService) -> None:
    app = await submitted_app(service)
    await service.act(app.id, Event.LEAVE, app.user_id, CONFIG)
    with pytest.raises(ApplicationClosed):
        await service.act(app.id, Event.APPROVE, MOD, CONFIG)


async def test_batched_joins_skip_open_applications_and_restore_approved_members(
    service: GateService,
) -> None:
    app = await submitted_app(service, user=1)
    await service.act(app.id, Event.APPROVE, MOD, CONFIG)
    (open_app,), _ = await service.members_joined(GUILD, [(2, NOW, None)], CONFIG)
    new, restored = await service.members_joined(
        GUILD, [(1, NOW, None), (2, NOW, None), (3, NOW, None)], CONFIG
    )
    assert restored == [1]
    assert [a.user_id for a in new] == [3]  # user 2 already has an open application
    assert [e.event for e in await service.repo.events(app.id)][-1] == "rejoin_restored"
    assert open_app.user_id == 2


async def test_reapplying_after_a_denial_waits_for_the_cooldown(
    service: GateService, clock: ManualClock
) -> None:
    app = await submitted_app(service)
    await service.act(app.id, Event.DENY, MOD, CONFIG)
    with pytest.raises(InvalidTransition, match="apply again"):
        await service.open_for_applicant(GUILD, app.user_id, CONFIG)
    await clock.advance(timedelta(hours=CONFIG.gate.reapply_cooldown_hours))
    again = await service.open_for_applicant(GUILD, app.user_id, CONFIG)
    assert again.id != app.id and again.status == "awaiting_form"


async def test_one_open_application_per_member_is_enforced_by_the_schema(
    db: Database, service: GateService
) -> None:
    await service.members_joined(GUILD, [(1, NOW, None)], CONFIG)
    with pytest.raises(sqlite3.IntegrityError):
        await db.conn.execute(
            "INSERT INTO applications (guild_id, user_id, status, joined_at, entered_at, created_at) "
            "VALUES (?, 1, 'submitted', ?, ?, ?)",
            (GUILD, NOW.isoformat(), NOW.isoformat(), NOW.isoformat()),
        )


async def test_a_refused_decision_changes_nothing_and_a_missing_application_is_reported(
    service: GateService,
) -> None:
    """The read, the domain's decision and the write are one transaction (one trip to the database
    thread): a refusal inside it leaves no event, no effect and the status as it was."""
    app = await submitted_app(service)
    before = await service.repo.events(app.id)
    with pytest.raises(InvalidTransition, match="does not exist here"):
        await service.act(app.id, Event.APPROVE, MOD, CONFIG, guild_id=GUILD + 1)
    with pytest.raises(InvalidTransition, match="no longer exists"):
        await service.act(app.id + 100, Event.APPROVE, MOD, CONFIG)
    stored = await service.repo.get(app.id)
    assert stored is not None and stored.status == "submitted"
    assert await service.repo.events(app.id) == before
    assert await service.repo.effects_of(app.id) == []
    assert not service.repo.db.raw.in_transaction
