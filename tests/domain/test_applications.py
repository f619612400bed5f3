"""Membership applications (bot.domain.applications)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.applications import (
    TRANSITIONS,
    AlreadyDecided,
    ApplicationClosed,
    ApplicationState,
    EffectOptions,
    EffectStep,
    Event,
    GatePolicy,
    InvalidTransition,
    Question,
    QuestionStyle,
    Status,
    StepKey,
    expiry_due,
    paginate_questions,
    plan_effects,
    reapply_check,
    remaining_steps,
    reminder_due,
    restores_membership,
    transition,
    validate_answers,
    validate_form,
)

APPLICANT = 100
MOD_A = 200
MOD_B = 300
T0 = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def submitted() -> ApplicationState:
    return transition(ApplicationState.joined(APPLICANT, T0), Event.SUBMIT, APPLICANT, at(5)).after


# --- state machine ------------------------------------------------------------------------------


def test_join_then_submit() -> None:
    app = ApplicationState.joined(APPLICANT, T0)
    assert app.status is Status.AWAITING_FORM
    result = transition(app, Event.SUBMIT, APPLICANT, at(5))
    assert result.before is app
    assert result.after.status is Status.SUBMITTED
    assert result.after.entered_at == at(5)
    assert result.after.joined_at == T0


def test_approve_records_decider_and_time() -> None:
    after = transition(submitted(), Event.APPROVE, MOD_A, at(10)).after
    assert (after.status, after.decided_by, after.decided_at) == (Status.APPROVED, MOD_A, at(10))


def test_deny_keeps_reason() -> None:
    after = transition(submitted(), Event.DENY, MOD_A, at(10), reason="  Not a coach  ").after
    assert (after.status, after.reason) == (Status.DENIED, "Not a coach")


def test_ask_then_answer_returns_to_submitted() -> None:
    asked = transition(submitted(), Event.ASK, MOD_A, at(10), reason="Where do you practise?").after
    assert (asked.status, asked.question) == (Status.NEEDS_INFO, "Where do you practise?")
    answered = transition(asked, Event.ANSWER, APPLICANT, at(20), reason="London").after
    assert (answered.status, answered.question) == (Status.SUBMITTED, None)


def test_moderator_may_decide_while_waiting_for_answer() -> None:
    asked = transition(submitted(), Event.ASK, MOD_A, at(10), reason="Why?").after
    assert transition(asked, Event.APPROVE, MOD_B, at(11)).after.status is Status.APPROVED


def test_follow_up_question_replaces_open_question() -> None:
    asked = transition(submitted(), Event.ASK, MOD_A, at(10), reason="First?").after
    again = transition(asked, Event.ASK, MOD_B, at(11), reason="Second?").after
    assert (again.status, again.question) == (Status.NEEDS_INFO, "Second?")


@pytest.mark.parametrize("status", [Status.AWAITING_FORM, Status.SUBMITTED, Status.NEEDS_INFO])
def test_leaving_withdraws_an_open_application(status: Status) -> None:
    app = ApplicationState(APPLICANT, status, T0, T0)
    assert transition(app, Event.LEAVE, APPLICANT, at(1)).after.status is Status.WITHDRAWN


def test_expiry_only_while_waiting_on_the_applicant() -> None:
    for status in (Status.AWAITING_FORM, Status.NEEDS_INFO):
        app = ApplicationState(APPLICANT, status, T0, T0)
        assert transition(app, Event.EXPIRE, 0, at(1)).after.status is Status.EXPIRED
    with pytest.raises(InvalidTransition, match="Cannot expire an application that is submitted"):
        transition(submitted(), Event.EXPIRE, 0, at(1))


def test_first_decision_wins() -> None:
    approved = transition(submitted(), Event.APPROVE, MOD_A, at(10)).after
    with pytest.raises(AlreadyDecided) as raised:
        transition(approved, Event.DENY, MOD_B, at(11), reason="late")
    assert (raised.value.decided_by, raised.value.decided_at, raised.value.outcome) == (
        MOD_A,
        at(10),
        Status.APPROVED,
    )
    assert str(raised.value) == "This application was already approved by <@200> at 2026-11-26 06:10 UTC."


def test_second_approval_is_also_already_decided() -> None:
    denied = transition(submitted(), Event.DENY, MOD_A, at(10)).after
    with pytest.raises(AlreadyDecided, match="already denied by <@200>"):
        transition(denied, Event.APPROVE, MOD_B, at(11))
    with pytest.raises(AlreadyDecided):
        transition(denied, Event.ASK, MOD_B, at(11), reason="?")


def test_acting_on_a_withdrawn_application_says_the_member_left() -> None:
    left = transition(submitted(), Event.LEAVE, APPLICANT, at(7)).after
    with pytest.raises(ApplicationClosed, match="the member left at 2026-11-26 06:07 UTC"):
        transition(left, Event.APPROVE, MOD_A, at(8))


def test_acting_on_an_expired_application_says_it_expired() -> None:
    expired = transition(ApplicationState.joined(APPLICANT, T0), Event.EXPIRE, 0, at(9)).after
    with pytest.raises(ApplicationClosed, match="it expired"):
        transition(expired, Event.SUBMIT, APPLICANT, at(10))


def test_only_the_applicant_submits_and_answers() -> None:
    with pytest.raises(InvalidTransition, match="Only the applicant"):
        transition(ApplicationState.joined(APPLICANT, T0), Event.SUBMIT, MOD_A, at(1))


def test_moderator_cannot_review_own_application() -> None:
    with pytest.raises(InvalidTransition, match="your own application"):
        transition(submitted(), Event.APPROVE, APPLICANT, at(10))


def test_ask_needs_a_question() -> None:
    with pytest.raises(InvalidTransition, match="needs a question"):
        transition(submitted(), Event.ASK, MOD_A, at(10), reason="   ")


def test_cannot_approve_before_the_form_is_submitted() -> None:
    with pytest.raises(InvalidTransition, match="Cannot approve an application that is awaiting_form"):
        transition(ApplicationState.joined(APPLICANT, T0), Event.APPROVE, MOD_A, at(1))


def test_every_unlisted_pair_is_refused_and_listed_pairs_are_accepted() -> None:
    for status in Status:
        for event in Event:
            app = ApplicationState(APPLICANT, status, T0, T0, decided_by=MOD_A, decided_at=T0)
            actor = APPLICANT if event in (Event.SUBMIT, Event.ANSWER, Event.LEAVE) else MOD_B
            if (status, event) in TRANSITIONS:
                result = transition(app, event, actor, at(1), reason="why")
                assert result.after.status is TRANSITIONS[(status, event)]
            else:
                with pytest.raises(InvalidTransition):
                    transition(app, event, actor, at(1), reason="why")


def test_final_states_have_no_outgoing_transitions() -> None:
    assert all(not status.is_final for status, _ in TRANSITIONS)


# --- effects ------------------------------------------------------------------------------------


def test_approve_plan_order_with_pending_role() -> None:
    result = transition(submitted(), Event.APPROVE, MOD_A, at(10))
    plan = plan_effects(result, EffectOptions(pending_role_configured=True))
    assert [step.key for step in plan] == [
        StepKey.GRANT_MEMBER_ROLE,
        StepKey.REMOVE_PENDING_ROLE,
        StepKey.NOTIFY_APPLICANT,
        StepKey.UPDATE_QUEUE_MESSAGE,
        StepKey.LOG_DECISION,
    ]
    assert plan[2].fallback == "welcome_channel_mention"


def test_approve_plan_without_pending_role() -> None:
    result = transition(submitted(), Event.APPROVE, MOD_A, at(10))
    assert StepKey.REMOVE_PENDING_ROLE not in [step.key for step in plan_effects(result, EffectOptions())]


def test_deny_plan_carries_reason_and_optional_kick() -> None:
    result = transition(submitted(), Event.DENY, MOD_A, at(10), reason="Spam")
    assert plan_effects(result, EffectOptions(kick_on_deny=True)) == (
        EffectStep(StepKey.NOTIFY_APPLICANT, text="Spam"),
        EffectStep(StepKey.KICK_MEMBER),
        EffectStep(StepKey.UPDATE_QUEUE_MESSAGE),
        EffectStep(StepKey.LOG_DECISION),
    )
    assert StepKey.KICK_MEMBER not in [step.key for step in plan_effects(result, EffectOptions())]


def test_ask_plan_sends_the_question() -> None:
    result = transition(submitted(), Event.ASK, MOD_A, at(10), reason="Which school?")
    assert plan_effects(result, EffectOptions()) == (
        EffectStep(StepKey.SEND_QUESTION, text="Which school?"),
        EffectStep(StepKey.UPDATE_QUEUE_MESSAGE),
    )


def test_submit_has_no_decision_effects() -> None:
    result = transition(ApplicationState.joined(APPLICANT, T0), Event.SUBMIT, APPLICANT, at(1))
    assert plan_effects(result, EffectOptions()) == ()


def test_step_keys_are_stable_strings() -> None:
    assert StepKey.GRANT_MEMBER_ROLE.value == "grant_member_role"
    assert {key.value for key in StepKey} == {
        "grant_member_role",
        "remove_pending_role",
        "notify_applicant",
        "send_question",
        "kick_member",
        "update_queue_message",
        "log_decision",
    }


def test_remaining_steps_resumes_after_crash() -> None:
    plan = plan_effects(transition(submitted(), Event.APPROVE, MOD_A, at(10)), EffectOptions(True))
    remaining = remaining_steps(plan, {"grant_member_role", "remove_pending_role"})
    assert [step.key for step in remaining] == [
        StepKey.NOTIFY_APPLICANT,
        StepKey.UPDATE_QUEUE_MESSAGE,
        StepKey.LOG_DECISION,
    ]
    assert remaining_steps(plan, {step.key.value for step in plan}) == []


# --- form ---------------------------------------------------------------------------------------


def q(question_id: str, **kwargs: object) -> Question:
    return Question(question_id, f"Label {question_id}", **kwargs)  # type: ignore[arg-type]


def test_question_limits() -> None:
    Question("a", "x" * 45)
    with pytest.raises(ValueError, match="1 to 45"):
        Question("a", "x" * 46)
    with pytest.raises(ValueError, match="1 to 45"):
        Question("a", "  ")
    with pytest.raises(ValueError, match="placeholder"):
        Question("a", "Label", placeholder="p" * 101)
    with pytest.raises(ValueError, match="min_length <= max_length"):
        Question("a", "Label", min_length=10, max_length=5)
    with pytest.raises(ValueError, match="<= 4000"):
        Question("a", "Label", max_length=4001)
    with pytest.raises(ValueError, match="needs an id"):
        Question(" ", "Label")


def test_validate_form_rejects_empty_and_duplicate_ids() -> None:
    with pytest.raises(ValueError, match="at least one"):
        validate_form([])
    with pytest.raises(ValueError, match="repeated: a"):
        validate_form([q("a"), q("b"), q("a")])
    validate_form([q("a"), q("b")])


def test_paginate_questions() -> None:
    questions = [q(str(n)) for n in range(12)]
    pages = paginate_questions(questions)
    assert [len(page) for page in pages] == [5, 5, 2]
    assert [question for page in pages for question in page] == questions
    assert paginate_questions(questions[:5]) == [questions[:5]]
    assert paginate_questions([]) == []
    assert [len(page) for page in paginate_questions(questions, per_page=4)] == [4, 4, 4]
    with pytest.raises(ValueError):
        paginate_questions(questions, per_page=6)


def test_validate_answers() -> None:
    questions = [
        q("name", max_length=10),
        q("why", style=QuestionStyle.PARAGRAPH, min_length=20),
        q("site", required=False),
    ]
    assert validate_answers(questions, {"name": "Ann", "why": "x" * 20}) == []
    assert validate_answers(questions, {"name": "  ", "why": "short", "site": ""}) == [
        "“Label name” needs an answer.",
        "“Label why” needs at least 20 characters.",
    ]
    assert validate_answers(questions, {"name": "A" * 11, "why": "x" * 25, "extra": "?"}) == [
        "“Label name” allows at most 10 characters.",
        "Unknown question 'extra'.",
    ]


# --- timing and history -------------------------------------------------------------------------


def test_reminder_and_expiry_due() -> None:
    policy = GatePolicy(remind_after=timedelta(hours=24), expire_after=timedelta(days=3))
    assert reminder_due(T0, policy) == T0 + timedelta(hours=24)
    assert expiry_due(T0, policy) == T0 + timedelta(days=3)
    off = GatePolicy(remind_after=None, expire_after=None)
    assert reminder_due(T0, off) is None
    assert expiry_due(T0, off) is None


def test_gate_policy_validation() -> None:
    with pytest.raises(ValueError, match="before the application expires"):
        GatePolicy(remind_after=timedelta(days=3), expire_after=timedelta(days=2))
    with pytest.raises(ValueError, match="negative"):
        GatePolicy(reapply_cooldown=timedelta(days=-1))


def denied_at(when: datetime) -> ApplicationState:
    return ApplicationState(APPLICANT, Status.DENIED, T0, when, decided_by=MOD_A, decided_at=when)


def approved_at(when: datetime) -> ApplicationState:
    return ApplicationState(APPLICANT, Status.APPROVED, T0, when, decided_by=MOD_A, decided_at=when)


def test_reapply_cooldown_after_denial() -> None:
    policy = GatePolicy(reapply_cooldown=timedelta(days=30))
    history = [denied_at(T0)]
    blocked = reapply_check(history, T0 + timedelta(days=29), policy)
    assert (blocked.allowed, blocked.available_at) == (False, T0 + timedelta(days=30))
    assert reapply_check(history, T0 + timedelta(days=30), policy).allowed
    assert reapply_check([], T0, policy).allowed
    withdrawn = ApplicationState(APPLICANT, Status.WITHDRAWN, T0, T0)
    assert reapply_check([withdrawn], T0, policy).allowed


def test_reapply_cooldown_counts_from_latest_denial() -> None:
    policy = GatePolicy(reapply_cooldown=timedelta(days=30))
    check = reapply_check(
        [denied_at(T0), denied_at(T0 + timedelta(days=40))], T0 + timedelta(days=50), policy
    )
    assert (check.allowed, check.available_at) == (False, T0 + timedelta(days=70))


def test_restores_membership() -> None:
    assert restores_membership([approved_at(T0)])
    assert not restores_membership([])
    assert not restores_membership([approved_at(T0), denied_at(at(5))])
    assert restores_membership([denied_at(T0), approved_at(at(5))])
    withdrawn = ApplicationState(APPLICANT, Status.WITHDRAWN, T0, at(9))
    assert restores_membership([approved_at(T0), withdrawn])
