"""Text from outside made inert for Discord, and clipped to its limits."""

from __future__ import annotations

import re

import pytest

from bot.render import clip, clip_words, inert, thread_name

MASKED_LINK = re.compile(r"(?<!\\)\[[^\]]*\]\(")


@pytest.mark.parametrize(
    "text",
    [
        "[click](https://evil.example)",
        "a [x [y] z](https://evil.example)",
        "[[a]](https://evil.example)",
        "[a](b)[c](https://evil.example)",
        "[a]\n(https://evil.example)",
    ],
)
def test_no_masked_link_survives(text: str) -> None:
    out = inert(text)
    assert "](" not in out
    assert not MASKED_LINK.search(out)


def test_mentions_and_mass_pings_are_broken() -> None:
    out = inert("@everyone @here <@123456789012345678> <@&123456789012345678> <#123456789012345678>")
    assert "@everyone" not in out and "@here" not in out
    assert "<@123456789012345678>" not in out and "<@&123456789012345678>" not in out
    assert "<#123456789012345678>" not in out


def test_headings_and_quotes_at_line_start_are_escaped() -> None:
    out = inert("# Big\n-# small\n> quote")
    assert not any(line.startswith(("#", "-#", ">")) for line in out.splitlines())


def test_clip_keeps_graphemes_whole_and_marks_the_cut() -> None:
    thumbs = "👍🏽" * 10
    for limit in range(3, 12):
        out = clip("ab" + thumbs, limit)
        assert len(out) <= limit and out.endswith("…")
        body = out[:-1]
        # never a skin tone without its thumb, never a thumb without its tone
        assert body.count("👍") == body.count("\U0001f3fd"), (limit, body)
    assert clip("short", 10) == "short"
    assert not clip("abc\\" + "d" * 20, 5).endswith("\\…")


def test_thread_names_fit_discord() -> None:
    assert thread_name("   ") == "Discussion"
    name = thread_name("word " * 50)
    assert 1 <= len(name) <= 100 and name.endswith("…")
    assert clip_words("alpha beta gamma delta", 12) == "alpha beta…"
