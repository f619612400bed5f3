"""Pure helpers of the admin feature: splitting long output for Discord, the last-error registry,
mention parsing for /config set."""

from __future__ import annotations

from datetime import UTC, datetime

import discord
import pytest

from bot.clock import ManualClock
from bot.errors import UserFacingError
from bot.health import MAX_MESSAGE, HealthRegistry
from bot.render import EMBED_TOTAL
from bot.render.admin import format_value, pack_embeds, split_lines
from cogs.admin.config import normalise_entity_value


def test_split_lines_never_splits_a_line_and_respects_the_limit() -> None:
    lines = [f"line {i} " + "x" * 50 for i in range(200)]
    chunks = split_lines(lines, limit=1000)
    assert all(len(c) <= 1000 for c in chunks)
    assert "\n".join(chunks).split("\n") == lines


def test_split_lines_clips_a_line_longer_than_the_limit() -> None:
    chunks = split_lines(["short", "y" * 5000], limit=100)
    assert chunks[0] == "short" and len(chunks[1]) == 100 and chunks[1].endswith("…")


def test_pack_embeds_keeps_each_message_within_discords_limits() -> None:
    embeds = [discord.Embed(title=str(i), description="z" * 2500) for i in range(9)]
    messages = pack_embeds(embeds)
    assert sum(len(m) for m in messages) == 9
    assert all(sum(len(e) for e in m) <= EMBED_TOTAL and len(m) <= 10 for m in messages)


def test_format_value_shows_channels_and_roles_as_mentions_and_the_rest_literally() -> None:
    assert format_value("channels.welcome", 12) == "<#12>"
    assert format_value("roles.moderators", [1, 2]) == "<@&1>, <@&2>"
    assert format_value("gate.rules_text", None) == "not set"
    assert format_value("gate.rules_text", "say `hi` @everyone") == '`"say ˋhiˋ @everyone"`'


@pytest.mark.parametrize(
    ("key", "text", "expected"),
    [
        ("channels.welcome", "<#123456789012345678>", "123456789012345678"),
        ("channels.welcome", "123456789012345678", "123456789012345678"),
        ("roles.member", "<@&223456789012345678>", "223456789012345678"),
        (
            "roles.moderators",
            "<@&1234567890123456789>, <@&2234567890123456789>",
            "[1234567890123456789, 2234567890123456789]",
        ),
        ("roles.notify", "none", "null"),
        ("timezone", " Europe/London ", "Europe/London"),
    ],
)
def test_entity_values_accept_mentions_and_ids(key: str, text: str, expected: str) -> None:
    assert normalise_entity_value(key, text) == expected


def test_entity_values_refuse_text_and_several_for_one() -> None:
    with pytest.raises(UserFacingError, match="takes a channel"):
        normalise_entity_value("channels.welcome", "#general")
    with pytest.raises(UserFacingError, match="one value"):
        normalise_entity_value("roles.member", "<@&123456789012345678> <@&223456789012345678>")


async def test_health_registry_keeps_the_latest_error_per_part_newest_first() -> None:
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    health = HealthRegistry(clock)
    health.record_error("/feed add", "first")
    await clock.advance(60)
    health.record_error("task poller", "x" * 1000)
    await clock.advance(60)
    health.record_error("/feed add", "second")
    errors = health.last_errors()
    by_part = {e.part: e for e in errors}
    assert by_part["/feed add"].message == "second" and by_part["/feed add"].count == 2
    assert len(by_part["task poller"].message) == MAX_MESSAGE
    assert [e.part for e in errors] == ["/feed add", "task poller"]


def _feed(**fields: object):  # type: ignore[no-untyped-def]
    from bot.db.articles import FeedRow

    base = dict(
        id=1, guild_id=1, url="https://example.com/feed/", title="Blog", channel_id=None, mention_role_id=None,
        discussion="thread", policy="immediate", source="command", paused=False, pause_reason=None,
        is_wordpress=True, etag=None, last_modified=None, body_hash=None, baseline_done=True,
        last_polled_at=None, last_success_at=None, last_new_article_at=None, next_poll_at=None,
        consecutive_failures=0, last_error=None, redirect_candidate=None, redirect_confirmations=0,
        created_by=None, created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    base.update(fields)
    return FeedRow(**base)  # type: ignore[arg-type]


def test_feed_health_shows_healthy_backing_off_and_paused_feeds() -> None:
    from bot.render.admin import feed_health_lines

    polled = datetime(2026, 1, 2, tzinfo=UTC)
    text = feed_health_lines(
        [
            _feed(title="Good", last_polled_at=polled),
            _feed(title="Flaky", consecutive_failures=3, last_error="HTTP 503", next_poll_at=polled),
            _feed(title="Gone @everyone", paused=True, pause_reason="HTTP 404 ten times in a row"),
        ]
    )
    lines = text.split("\n")
    assert lines[0] == f"✅ Good: polled <t:{int(polled.timestamp())}:R>"
    assert lines[1].startswith("⏳ Flaky: backing off after 3 failure(s)") and lines[1].endswith("HTTP 503")
    assert lines[2].startswith("⏸️ Gone @\u200beveryone: paused (HTTP 404 ten times in a row)")
    assert feed_health_lines([]) == "no feeds yet (/feed add)"
    many = feed_health_lines([_feed(title=f"F{i}") for i in range(12)])
    assert many.endswith("… and 4 more (/feed list)")
