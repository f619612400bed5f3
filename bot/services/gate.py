"""The membership gate's bookkeeping, without Discord: applications move through the domain's state
machine (:mod:`bot.domain.applications`), every transition is stored with its planned effects in one
transaction, and a lost race (two moderators at once) surfaces as the domain's ``AlreadyDecided``."""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.config_schema import CommunityConfig, GateConfig
from bot.db.applications import (
    ApplicationRepository,
    ApplicationRow,
    EffectRow,
    PlannedEffect,
    TransitionWrite,
)
from bot.domain.applications import (
    ApplicationState,
    EffectOptions,
    Event,
    GatePolicy,
    InvalidTransition,
    Question,
    QuestionStyle,
    Status,
    paginate_questions,
    plan_effects,
    reapply_check,
    restores_membership,
    transition,
    validate_answers,
)

log = logging.getLogger(__name__)


def state_of(row: ApplicationRow) -> ApplicationState:
    """The domain's view of a stored application."""
    return ApplicationState(
        applicant_id=row.user_id,
        status=Status(row.status),
        joined_at=row.joined_at,
        entered_at=row.entered_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        reason=row.reason,
        question=row.question,
    )


def questions_of(gate: GateConfig) -> list[Question]:
    """The configured form as domain questions."""
    return [
        Question(
            id=q.id,
            label=q.label,
            style=QuestionStyle(q.style),
            required=q.required,
            min_length=q.min_length,
            max_length=q.max_length,
            placeholder=q.placeholder,
        )
        for q in gate.questions
    ]


def policy_of(gate: GateConfig) -> GatePolicy:
    """Timing rules from the config (0 hours: disabled)."""
    remind = timedelta(hours=gate.remind_after_hours) if gate.remind_after_hours else None
    expire = timedelta(hours=gate.expire_after_hours) if gate.expire_after_hours else None
    if remind and expire and remind >= expire:
        remind = None
    return GatePolicy(remind_after=remind, expire_after=expire,
                      reapply_cooldown=timedelta(hours=gate.reapply_cooldown_hours))  # fmt: skip


@dataclass(frozen=True)
class PageOutcome:
    """The result of saving one page of the form."""

    app: ApplicationRow
    errors: list[str]
    next_page: int | None  # the page to show next, None when the form is complete
    pages: int
    submitted: bool  # the application just moved to submitted
    updated: bool  # an already submitted application's answers were replaced


@dataclass(frozen=True)
class Decision:
    """A stored transition: the application as it now is, the event, and its effects to carry out."""

    app: ApplicationRow
    event_id: int
    effects: list[EffectRow]


class GateService:
    def __init__(self, repo: ApplicationRepository, clock: Clock) -> None:
        self.repo = repo
        self.clock = clock

    async def members_joined(
        self,
        guild_id: int,
        joins: list[tuple[int, datetime, datetime | None]],
        config: CommunityConfig,
        *,
        first_joins: Collection[int] = (),
        mark: tuple[str, str] | None = None,
    ) -> tuple[list[ApplicationRow], list[int]]:
        """A batch of joins (user id, joined at, account created at), in order: returns the new
        applications and the users whose membership is restored (approved before, not denied since).
        ``first_joins``: users known to have no history here (not looked up). ``mark``: a state key
        and value stored with the new applications (see ``ApplicationRepository.create_many``)."""
        now = self.clock.now()
        unknown = [user_id for user_id, _, _ in joins if user_id not in first_joins]
        histories = await self.repo.histories(guild_id, unknown) if unknown else {}
        restored: list[int] = []
        fresh: list[tuple[int, datetime, datetime | None]] = []
        for user_id, joined_at, created_at in joins:
            history = histories.get(user_id, [])
            if config.gate.restore_role_on_rejoin and restores_membership([state_of(r) for r in history]):
                restored.append(user_id)
                await self.repo.record_event(
                    history[-1].id, now, None, "rejoin_restored", history[-1].status, None
                )
            else:
                fresh.append((user_id, joined_at, created_at))
        return await self.repo.create_many(guild_id, fresh, now, mark=mark), restored

    async def open_for_applicant(
        self, guild_id: int, user_id: int, config: CommunityConfig
    ) -> ApplicationRow:
        """The application the member fills in: their open one, else a new one (joined before the
        gate existed, or applying again after an earlier outcome), subject to the re-apply cooldown."""
        app = await self.repo.get_open(guild_id, user_id)
        if app is not None:
            return app
        now = self.clock.now()
        history = await self.repo.history(guild_id, user_id)
        check = reapply_check([state_of(r) for r in history], now, policy_of(config.gate))
        if not check.allowed:
            assert check.available_at is not None
            raise InvalidTransition(f"You can apply again <t:{int(check.available_at.timestamp())}:R>.")
        app, _ = await self.repo.create(guild_id, user_id, joined_at=now, account_created_at=None, now=now)
        return app

    async def save_page(
        self, app: ApplicationRow, page: int, values: dict[str, str], config: CommunityConfig
    ) -> PageOutcome:
        """Validate and store one page of answers; the last page submits the application (or, when it
        was already submitted, replaces its answers)."""
        questions = questions_of(config.gate)
        pages = paginate_questions(questions)
        if not 0 <= page < len(pages):
            raise InvalidTransition("The form changed since you opened it; please press Apply again.")
        page_questions = pages[page]
        known = {q.id for q in page_questions}
        cleaned = {k: v.strip() for k, v in values.items() if k in known}
        errors = validate_answers(page_questions, cleaned)
        if errors:
            return PageOutcome(app, errors, page, len(pages), False, False)
        answers = {**app.answers, **{k: v for k, v in cleaned.items() if v}}
        for q in page_questions:
            if q.id not in cleaned or not cleaned[q.id]:
                answers.pop(q.id, None)
        if page + 1 < len(pages):
            await self.repo.save_answers(app.id, answers, page + 1)
            fresh = await self.repo.get(app.id)
            assert fresh is not None
            return PageOutcome(fresh, [], page + 1, len(pages), False, False)
        answers = {q.id: answers[q.id] for q in questions if q.id in answers}
        all_errors = validate_answers(questions, answers)
        if all_errors:  # an earlier page is incomplete (the form changed in between)
            return PageOutcome(app, all_errors, 0, len(pages), False, False)
        now = self.clock.now()
        status = Status(app.status)
        if status is Status.AWAITING_FORM:
            result = transition(state_of(app), Event.SUBMIT, app.user_id, now)
            written = await self.repo.write_transition(
                TransitionWrite(app.id, app.status, result.after.status.value, now, app.user_id, "submit",
                                None, None, None, None, now, answers)
            )  # fmt: skip
            if written is None:
                raise InvalidTransition("Your application changed meanwhile; please press Apply again.")
            await self.repo.save_answers(app.id, answers, len(pages))
            fresh = await self.repo.get(app.id)
            assert fresh is not None
            return PageOutcome(fresh, [], None, len(pages), True, False)
        if status in (Status.SUBMITTED, Status.NEEDS_INFO):
            await self.repo.save_answers(app.id, answers, len(pages))
            await self.repo.record_event(app.id, now, app.user_id, "update", app.status, None)
            fresh = await self.repo.get(app.id)
            assert fresh is not None
            return PageOutcome(fresh, [], None, len(pages), False, True)
        raise InvalidTransition(f"This application is {app.status}; it cannot be changed.")

    async def act(
        self,
        app_id: int,
        event: Event,
        actor_id: int,
        config: CommunityConfig,
        reason: str | None = None,
        *,
        guild_id: int | None = None,
    ) -> Decision:
        """Apply a moderator's or the applicant's event (approve, deny, ask, answer, leave, expire),
        store it with its effects, and return the updated application. ``guild_id``: the server the
        event comes from (an application of another one is refused). Raises the domain's
        ``InvalidTransition`` (``AlreadyDecided`` when another moderator was first).

        The read, the domain's decision and the write are one transaction in one trip to the
        database thread (see :meth:`ApplicationRepository.decide`): the first decision wins, and a
        click waits on one trip, not two."""
        options = EffectOptions(
            pending_role_configured=config.roles.pending is not None,
            kick_on_deny=config.gate.deny_action == "kick",
        )
        kick_on_expiry = config.gate.kick_on_expiry
        clean_reason = reason.strip() if reason and reason.strip() else None

        def plan(app: ApplicationRow) -> TransitionWrite:  # on the database thread: pure code only
            if guild_id is not None and app.guild_id != guild_id:
                raise InvalidTransition("This application does not exist here.")
            now = self.clock.now()
            result = transition(state_of(app), event, actor_id, now, reason)
            effects = [PlannedEffect(s.key.value, s.text, s.fallback) for s in plan_effects(result, options)]
            if event is Event.EXPIRE and kick_on_expiry:
                effects.append(PlannedEffect("kick_member"))
            if event in (Event.ANSWER, Event.LEAVE):
                effects.append(PlannedEffect("update_queue_message"))
            if event in (Event.ASK, Event.ANSWER, Event.LEAVE, Event.EXPIRE):
                effects.append(PlannedEffect("log_decision"))  # every transition reaches the admin log
            after = result.after
            return TransitionWrite(
                app.id, app.status, after.status.value, now, actor_id, event.value, clean_reason,
                after.question,
                after.decided_by if after.status.is_decision else None,
                after.decided_at if after.status.is_decision else None,
                None, None, effects,
            )  # fmt: skip

        written = await self.repo.decide(app_id, plan)
        if written is None:
            raise InvalidTransition("This application no longer exists.")
        log.info("application %s: %s by %s -> %s", app_id, event.value, actor_id, written.app.status)
        return Decision(written.app, written.event_id, written.effects)
