"""Membership applications: the state machine, the effects of a decision, and the form.

States and allowed transitions (anything else raises :class:`InvalidTransition`)::

    awaiting_form --submit (applicant)--> submitted
    awaiting_form --leave--------------> withdrawn
    awaiting_form --expire-------------> expired        (never applied within the policy's time)
    submitted ----approve (moderator)--> approved
    submitted ----deny (moderator)-----> denied
    submitted ----ask (moderator)------> needs_info     (the question is the ``reason``)
    submitted ----leave----------------> withdrawn
    needs_info ---answer (applicant)---> submitted
    needs_info ---ask (moderator)------> needs_info     (a follow-up question)
    needs_info ---approve / deny-------> approved / denied (a moderator need not wait for the answer)
    needs_info ---leave----------------> withdrawn
    needs_info ---expire---------------> expired        (the applicant never answered)

``approved``, ``denied``, ``withdrawn`` and ``expired`` are final: a member who joins again gets a
new application. Invariants:

* **First decision wins.** Approving or denying a decided application raises :class:`AlreadyDecided`
  naming who decided, when, and the outcome; acting on a withdrawn or expired application raises
  :class:`ApplicationClosed`.
* Only the applicant submits or answers; a moderator never decides or questions their own application.
* ``ask`` needs a question (``reason``); ``deny`` may carry a reason that is passed to the applicant.
* A decision is recorded as ``decided_by``/``decided_at`` and never changes afterwards.

Effects are an ordered plan of idempotent :class:`EffectStep` s, each with a stable ``key`` (for
example ``grant_member_role``) so storage can record the steps done and resume after a crash
(:func:`remaining_steps`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum


class Status(StrEnum):
    AWAITING_FORM = "awaiting_form"
    SUBMITTED = "submitted"
    NEEDS_INFO = "needs_info"
    APPROVED = "approved"
    DENIED = "denied"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"

    @property
    def is_final(self) -> bool:
        return self in _FINAL

    @property
    def is_decision(self) -> bool:
        return self in (Status.APPROVED, Status.DENIED)


_FINAL = frozenset({Status.APPROVED, Status.DENIED, Status.WITHDRAWN, Status.EXPIRED})


class Event(StrEnum):
    SUBMIT = "submit"
    ANSWER = "answer"
    ASK = "ask"
    APPROVE = "approve"
    DENY = "deny"
    LEAVE = "leave"
    EXPIRE = "expire"


TRANSITIONS: Mapping[tuple[Status, Event], Status] = {
    (Status.AWAITING_FORM, Event.SUBMIT): Status.SUBMITTED,
    (Status.AWAITING_FORM, Event.LEAVE): Status.WITHDRAWN,
    (Status.AWAITING_FORM, Event.EXPIRE): Status.EXPIRED,
    (Status.SUBMITTED, Event.APPROVE): Status.APPROVED,
    (Status.SUBMITTED, Event.DENY): Status.DENIED,
    (Status.SUBMITTED, Event.ASK): Status.NEEDS_INFO,
    (Status.SUBMITTED, Event.LEAVE): Status.WITHDRAWN,
    (Status.NEEDS_INFO, Event.ANSWER): Status.SUBMITTED,
    (Status.NEEDS_INFO, Event.ASK): Status.NEEDS_INFO,
    (Status.NEEDS_INFO, Event.APPROVE): Status.APPROVED,
    (Status.NEEDS_INFO, Event.DENY): Status.DENIED,
    (Status.NEEDS_INFO, Event.LEAVE): Status.WITHDRAWN,
    (Status.NEEDS_INFO, Event.EXPIRE): Status.EXPIRED,
}
"""The whole state machine: (from, event) -> to. Pairs not listed are invalid."""

_APPLICANT_EVENTS = frozenset({Event.SUBMIT, Event.ANSWER})
_MODERATOR_EVENTS = frozenset({Event.ASK, Event.APPROVE, Event.DENY})


@dataclass(frozen=True, slots=True)
class ApplicationState:
    """One application as stored. ``entered_at`` is when the current status began (joined, submitted,
    asked...); ``decided_by``/``decided_at`` are set once, by approve or deny; ``question`` is the
    moderator's open question while ``needs_info``; ``reason`` is the last reason given."""

    applicant_id: int
    status: Status
    joined_at: datetime
    entered_at: datetime
    decided_by: int | None = None
    decided_at: datetime | None = None
    reason: str | None = None
    question: str | None = None

    @classmethod
    def joined(cls, applicant_id: int, at: datetime) -> ApplicationState:
        """A fresh application for a member who just joined."""
        return cls(applicant_id, Status.AWAITING_FORM, at, at)


class InvalidTransition(Exception):
    """The event is not allowed now; ``str()`` is a message fit for the person who tried."""


class AlreadyDecided(InvalidTransition):
    """Someone decided first. Carries who, when and what, for "first decision wins" replies."""

    def __init__(self, decided_by: int, decided_at: datetime, outcome: Status) -> None:
        self.decided_by = decided_by
        self.decided_at = decided_at
        self.outcome = outcome
        super().__init__(
            f"This application was already {outcome.value} by <@{decided_by}> "
            f"at {decided_at:%Y-%m-%d %H:%M} UTC."
        )


class ApplicationClosed(InvalidTransition):
    """The application ended without a decision (the member left, or it expired)."""

    def __init__(self, status: Status, at: datetime) -> None:
        self.status = status
        self.at = at
        what = "the member left" if status is Status.WITHDRAWN else "it expired"
        super().__init__(f"This application is closed: {what} at {at:%Y-%m-%d %H:%M} UTC.")


@dataclass(frozen=True, slots=True)
class TransitionResult:
    """The application before and after ``event``, applied by ``actor_id`` at ``at``."""

    before: ApplicationState
    after: ApplicationState
    event: Event
    actor_id: int
    at: datetime


def _refuse(app: ApplicationState, event: Event, actor_id: int, reason: str | None) -> None:
    """Raise InvalidTransition when ``event`` may not happen now; return when it may."""
    if event in _MODERATOR_EVENTS and app.status.is_decision:
        assert app.decided_by is not None and app.decided_at is not None
        raise AlreadyDecided(app.decided_by, app.decided_at, app.status)
    if app.status in (Status.WITHDRAWN, Status.EXPIRED):
        raise ApplicationClosed(app.status, app.entered_at)
    if (app.status, event) not in TRANSITIONS:
        raise InvalidTransition(f"Cannot {event.value} an application that is {app.status.value}.")
    if event in _APPLICANT_EVENTS and actor_id != app.applicant_id:
        raise InvalidTransition(f"Only the applicant can {event.value} this application.")
    if event in _MODERATOR_EVENTS and actor_id == app.applicant_id:
        raise InvalidTransition("You cannot review your own application.")
    if event is Event.ASK and not (reason and reason.strip()):
        raise InvalidTransition("Asking the applicant needs a question.")


def transition(
    app: ApplicationState, event: Event, actor_id: int, at: datetime, reason: str | None = None
) -> TransitionResult:
    """Apply ``event`` (see the module docstring for what is allowed); never mutates ``app``."""
    _refuse(app, event, actor_id, reason)
    status = TRANSITIONS[(app.status, event)]
    cleaned = reason.strip() if reason and reason.strip() else None
    after = replace(app, status=status, entered_at=at, reason=cleaned or app.reason)
    if event is Event.ASK:
        after = replace(after, question=cleaned)
    elif event is Event.ANSWER:
        after = replace(after, question=None)
    if status.is_decision:
        after = replace(after, decided_by=actor_id, decided_at=at, reason=cleaned)
    return TransitionResult(app, after, event, actor_id, at)


# --- effects ------------------------------------------------------------------------------------


class StepKey(StrEnum):
    """Stable identifiers of effect steps; stored, so never rename a value."""

    GRANT_MEMBER_ROLE = "grant_member_role"
    REMOVE_PENDING_ROLE = "remove_pending_role"
    NOTIFY_APPLICANT = "notify_applicant"
    SEND_QUESTION = "send_question"
    KICK_MEMBER = "kick_member"
    UPDATE_QUEUE_MESSAGE = "update_queue_message"
    LOG_DECISION = "log_decision"


@dataclass(frozen=True, slots=True)
class EffectStep:
    """One idempotent thing to do after a decision. ``text`` is what to tell the applicant (the
    deny reason or the question); ``fallback`` names where to notify when a DM fails."""

    key: StepKey
    text: str | None = None
    fallback: str | None = None


@dataclass(frozen=True, slots=True)
class EffectOptions:
    """Guild configuration that shapes the plan."""

    pending_role_configured: bool = False
    kick_on_deny: bool = False


WELCOME_CHANNEL_MENTION = "welcome_channel_mention"


def plan_effects(result: TransitionResult, options: EffectOptions) -> tuple[EffectStep, ...]:
    """The ordered steps that carry out ``result`` (empty for events that need none)."""
    reason = result.after.reason
    if result.event is Event.APPROVE:
        steps = [EffectStep(StepKey.GRANT_MEMBER_ROLE)]
        if options.pending_role_configured:
            steps.append(EffectStep(StepKey.REMOVE_PENDING_ROLE))
        steps += [
            EffectStep(StepKey.NOTIFY_APPLICANT, fallback=WELCOME_CHANNEL_MENTION),
            EffectStep(StepKey.UPDATE_QUEUE_MESSAGE),
            EffectStep(StepKey.LOG_DECISION),
        ]
        return tuple(steps)
    if result.event is Event.DENY:
        steps = [EffectStep(StepKey.NOTIFY_APPLICANT, text=reason)]
        if options.kick_on_deny:
            steps.append(EffectStep(StepKey.KICK_MEMBER))
        steps += [EffectStep(StepKey.UPDATE_QUEUE_MESSAGE), EffectStep(StepKey.LOG_DECISION)]
        return tuple(steps)
    if result.event is Event.ASK:
        return (
            EffectStep(StepKey.SEND_QUESTION, text=result.after.question),
            EffectStep(StepKey.UPDATE_QUEUE_MESSAGE),
        )
    return ()


def remaining_steps(plan: Sequence[EffectStep], done: Collection[str]) -> list[EffectStep]:
    """The steps of ``plan`` not yet recorded as done, in plan order (resume after a crash)."""
    return [step for step in plan if step.key.value not in done]


# --- the form -----------------------------------------------------------------------------------

LABEL_MAX = 45
PLACEHOLDER_MAX = 100
ANSWER_MAX = 4000
MODAL_MAX_INPUTS = 5


class QuestionStyle(StrEnum):
    SHORT = "short"
    PARAGRAPH = "paragraph"


@dataclass(frozen=True, slots=True)
class Question:
    """One form question, within Discord's text-input limits: label 1-45 characters, placeholder at
    most 100, 0 <= min_length <= max_length <= 4000. ``id`` is unique within a form."""

    id: str
    label: str
    style: QuestionStyle = QuestionStyle.SHORT
    required: bool = True
    min_length: int = 0
    max_length: int = ANSWER_MAX
    placeholder: str | None = None

    def __post_init__(self) -> None:
        if not self.id.strip():
            raise ValueError("A question needs an id.")
        if not 1 <= len(self.label.strip()) <= LABEL_MAX:
            raise ValueError(f"Question {self.id!r}: the label must be 1 to {LABEL_MAX} characters.")
        if self.placeholder is not None and len(self.placeholder) > PLACEHOLDER_MAX:
            raise ValueError(
                f"Question {self.id!r}: the placeholder must be at most {PLACEHOLDER_MAX} characters."
            )
        if not 0 <= self.min_length <= self.max_length <= ANSWER_MAX or self.max_length < 1:
            raise ValueError(
                f"Question {self.id!r}: lengths must satisfy 0 <= min_length <= max_length <= {ANSWER_MAX}."
            )


def validate_form(questions: Sequence[Question]) -> None:
    """ValueError unless the form has at least one question and unique ids."""
    if not questions:
        raise ValueError("The application form needs at least one question.")
    ids = [question.id for question in questions]
    duplicates = sorted({question_id for question_id in ids if ids.count(question_id) > 1})
    if duplicates:
        raise ValueError(f"Question ids must be unique; repeated: {', '.join(duplicates)}.")


def paginate_questions(
    questions: Sequence[Question], per_page: int = MODAL_MAX_INPUTS
) -> list[list[Question]]:
    """Split the form into modal pages of at most ``per_page`` (1-5) questions, keeping order."""
    if not 1 <= per_page <= MODAL_MAX_INPUTS:
        raise ValueError(f"A modal page holds 1 to {MODAL_MAX_INPUTS} questions.")
    return [list(questions[start : start + per_page]) for start in range(0, len(questions), per_page)]


def validate_answers(questions: Sequence[Question], answers: Mapping[str, str]) -> list[str]:
    """Errors in ``answers`` (question id -> text, surrounding space ignored), one per problem in
    form order; an empty list means the answers are acceptable. Answers to unknown ids are errors."""
    errors: list[str] = []
    for question in questions:
        answer = answers.get(question.id, "").strip()
        if not answer:
            if question.required:
                errors.append(f"“{question.label}” needs an answer.")
            continue
        if len(answer) < question.min_length:
            errors.append(f"“{question.label}” needs at least {question.min_length} characters.")
        if len(answer) > question.max_length:
            errors.append(f"“{question.label}” allows at most {question.max_length} characters.")
    known = {question.id for question in questions}
    errors += [f"Unknown question {answer_id!r}." for answer_id in answers if answer_id not in known]
    return errors


# --- timing and history -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GatePolicy:
    """Timing rules. ``None`` disables a reminder or expiry. The reminder must come before expiry."""

    remind_after: timedelta | None = timedelta(days=1)
    expire_after: timedelta | None = timedelta(days=7)
    reapply_cooldown: timedelta = timedelta(days=30)

    def __post_init__(self) -> None:
        durations = [self.remind_after, self.expire_after, self.reapply_cooldown]
        if any(duration is not None and duration < timedelta(0) for duration in durations):
            raise ValueError("Gate durations cannot be negative.")
        if self.remind_after and self.expire_after and self.remind_after >= self.expire_after:
            raise ValueError("The reminder must come before the application expires.")


def reminder_due(joined_at: datetime, policy: GatePolicy) -> datetime | None:
    """When to remind a member who has not applied yet (None: no reminders)."""
    return joined_at + policy.remind_after if policy.remind_after is not None else None


def expiry_due(entered_at: datetime, policy: GatePolicy) -> datetime | None:
    """When an application waiting on the applicant (awaiting_form since joining, or needs_info since
    the question) expires; ``entered_at`` is when that status began. None: never."""
    return entered_at + policy.expire_after if policy.expire_after is not None else None


@dataclass(frozen=True, slots=True)
class ReapplyCheck:
    """Whether a member may apply again; ``available_at`` is when they may if not now."""

    allowed: bool
    available_at: datetime | None = None


def reapply_check(history: Sequence[ApplicationState], now: datetime, policy: GatePolicy) -> ReapplyCheck:
    """A denial blocks new applications for ``policy.reapply_cooldown`` from its decision; other
    outcomes (left, expired, approved) do not."""
    denials = [app.decided_at for app in history if app.status is Status.DENIED and app.decided_at]
    if not denials:
        return ReapplyCheck(True)
    available_at = max(denials) + policy.reapply_cooldown
    return ReapplyCheck(now >= available_at, None if now >= available_at else available_at)


def restores_membership(history: Sequence[ApplicationState]) -> bool:
    """True when a rejoining member gets the member role back without applying: they were approved
    before and have not been denied since their latest approval."""
    decisions = sorted(
        (app for app in history if app.status.is_decision and app.decided_at is not None),
        key=lambda app: app.decided_at or app.joined_at,
    )
    return bool(decisions) and decisions[-1].status is Status.APPROVED
