"""Discussion rules: forum tags for categories, quiet threads, follow-up text and days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain.discussions import (
    TagPlan,
    followup_due,
    followup_text,
    is_quiet,
    plan_forum_tags,
    tag_name,
    valid_followup_days,
)


def test_existing_tags_are_reused_case_insensitively_and_missing_ones_created() -> None:
    plan = plan_forum_tags(["Coaching", "QUESTION", " Self  Care "], {1: "question", 2: "self care"})
    assert plan == TagPlan(reuse=(1, 2), create=("Coaching",))


def test_no_tag_is_created_once_the_forum_has_twenty() -> None:
    existing = {i: f"tag{i}" for i in range(20)}
    assert plan_forum_tags(["New one", "TAG3"], existing) == TagPlan(reuse=(3,), create=())


def test_only_the_room_left_is_used_for_new_tags() -> None:
    existing = {i: f"tag{i}" for i in range(19)}
    assert plan_forum_tags(["A", "B"], existing) == TagPlan(reuse=(), create=("A",))


def test_at_most_five_tags_are_applied_without_repeats_or_blanks() -> None:
    plan = plan_forum_tags(["a", "A", " ", "b", "c", "d", "e", "f"], {})
    assert plan.create == ("a", "b", "c", "d", "e")


def test_tag_names_fit_twenty_characters_at_a_word_boundary() -> None:
    assert tag_name("Getting  Unstuck Together Again") == "Getting Unstuck"
    assert tag_name("Supercalifragilisticexpialidocious") == "Supercalifragilistic"
    assert len(tag_name("x" * 50)) == 20


def test_quiet_means_fewer_than_the_threshold() -> None:
    assert is_quiet(2, 3)
    assert not is_quiet(3, 3)
    assert not is_quiet(0, 0)  # a threshold of 0 never posts


def test_followup_text_skips_prompts_already_posted_anywhere_in_the_thread() -> None:
    opening = "**Let's talk**\n1️⃣ Do you get stuck?\n2️⃣ What rules do you follow?"
    candidates = ["Do you get stuck?", "What  rules do you follow?", "What stood out to you?"]
    assert followup_text(candidates, [opening]) == "What stood out to you?"
    assert followup_text(candidates[:2], [opening]) is None
    assert followup_text(candidates, []) == "Do you get stuck?"


def test_followup_days_and_due_times() -> None:
    assert valid_followup_days([5, 2, 2, 0, 31]) == [2, 5]
    at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert followup_due(at, 2) == at + timedelta(days=2)
