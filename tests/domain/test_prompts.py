"""Reader-question extraction and prompt choice (bot.domain.prompts)."""

from __future__ import annotations

from pathlib import Path

import feedparser
import pytest

from bot.domain.prompts import (
    MAX_PROMPT_CHARS,
    Prompt,
    PromptSource,
    choose_prompts,
    clip_prompt,
    extract_reader_questions,
    html_blocks,
    question_groups,
)

FEED = Path(__file__).resolve().parents[1] / "fixtures" / "blog" / "feed.xml"


@pytest.fixture(scope="module")
def articles() -> dict[str, str]:
    parsed = feedparser.parse(FEED.read_bytes())
    return {entry.title: entry.content[0].value for entry in parsed.entries}


def test_feed_fixture_has_the_five_posts(articles: dict[str, str]) -> None:
    assert len(articles) == 5


def test_when_the_coach_gets_stuck_yields_its_three_closing_questions(articles: dict[str, str]) -> None:
    assert extract_reader_questions(articles["When the Coach Gets Stuck"]) == [
        "Do you get stuck?",
        "Have you gotten stuck and then gotten unstuck?",
        "What rules do you follow?",
    ]


def test_oldest_profession_keeps_the_question_group_together(articles: dict[str, str]) -> None:
    assert extract_reader_questions(articles["Coaching and the world’s oldest profession…"]) == [
        "What about you? Do you know which way you lean? Boundaries blurred or boundaries too thick?"
    ]


def test_information_and_gifts_of_emotions_has_no_reader_questions(articles: dict[str, str]) -> None:
    assert extract_reader_questions(articles["The Information and Gifts of Emotions"]) == []


def test_empathy_part_1_heading_question_and_author_questions_are_not_prompts(
    articles: dict[str, str],
) -> None:
    # Closes with the heading-like "Where to start?" and advice to coaches: nothing asked of readers.
    assert extract_reader_questions(articles["Can You Coach Empathy? (Part 1)"]) == []


def test_empathy_part_2_answered_question_and_dialogue_are_not_prompts(articles: dict[str, str]) -> None:
    # "So, how does one demonstrate empathy...? Funny you should ask." and Bill's quoted dialogue.
    html = articles["Can You Coach Empathy? (Part 2)"]
    assert extract_reader_questions(html) == []
    assert question_groups(html, closing_block_count=100) == []


def test_stuck_earlier_first_person_questions_are_not_reader_questions(articles: dict[str, str]) -> None:
    groups = question_groups(articles["When the Coach Gets Stuck"], closing_block_count=100)
    texts = [group.text for group in groups]
    assert "But, I don’t believe everything in the book, so how can I follow it scrupulously?" in texts
    assert extract_reader_questions(articles["When the Coach Gets Stuck"], closing_block_count=100) == [
        "Do you get stuck?",
        "Have you gotten stuck and then gotten unstuck?",
        "What rules do you follow?",
    ]


def test_quoted_word_does_not_split_a_sentence(articles: dict[str, str]) -> None:
    groups = question_groups(articles["When the Coach Gets Stuck"], closing_block_count=100)
    assert not any(group.text.startswith("get, right") for group in groups)


def test_only_the_closing_blocks_count() -> None:
    html = "<p>Do you like tea?</p>" + "".join(f"<p>Paragraph {n}.</p>" for n in range(5))
    assert extract_reader_questions(html) == []
    assert extract_reader_questions(html, closing_block_count=6) == ["Do you like tea?"]


def test_trailing_boilerplate_is_ignored() -> None:
    html = (
        "<p>Have you tried journaling?</p>"
        "<p>– Alison</p><p>Alison Whitmire President | Learning In Action</p>"
        "<p>P.S. Our training calendar is set! Are you in?</p>"
        "<p>* Bracketing means something. Do you bracket?</p>"
        "<p>Share this:</p><p>Twitter</p><p>Facebook</p>"
        '<p>The post <a href="https://x">Stuck</a> appeared first on <a href="https://y">Blog</a>.</p>'
    )
    assert extract_reader_questions(html, closing_block_count=1) == ["Have you tried journaling?"]


def test_dialogue_questions_are_skipped() -> None:
    html = (
        '<p>I asked Bill, “Why do you think Ted told you?” He said: "Do you really want to know?" '
        "Then « Tu viens ? » she said.</p>"
    )
    assert extract_reader_questions(html) == []


def test_rhetorical_question_answered_by_marker_is_skipped() -> None:
    html = "<p>Why do you need a coach? The answer is simple: perspective. What do you think?</p>"
    assert extract_reader_questions(html) == ["What do you think?"]


def test_rhetorical_question_answered_by_short_declarative_is_skipped() -> None:
    html = "<p>Is it worth your time? Absolutely it is. Have you tried it yourself?</p>"
    assert extract_reader_questions(html) == ["Have you tried it yourself?"]


def test_rhetorical_question_answered_in_next_paragraph_is_skipped() -> None:
    html = "<p>What's the point of all this for you?</p><p>Two things: focus and care.</p>"
    assert extract_reader_questions(html) == []


def test_question_followed_by_a_long_statement_is_kept() -> None:
    html = "<p>Do you get stuck? Share with us the what and the how of your experiences.</p>"
    assert extract_reader_questions(html) == ["Do you get stuck?"]


@pytest.mark.parametrize(
    "html",
    [
        "<h2>Are you ready?</h2><p>Some text.</p>",
        "<h4>What can you do?</h4>",
        "<p><strong>Do you want to know more?</strong></p><p>Text.</p>",
        "<p>Where to start?</p><p>At the beginning.</p>",
    ],
)
def test_headings_are_not_prompts(html: str) -> None:
    assert extract_reader_questions(html) == []


def test_short_standalone_second_person_question_is_a_prompt() -> None:
    assert extract_reader_questions("<p>Some text.</p><p>Do you get stuck?</p>") == ["Do you get stuck?"]


def test_no_questions_gives_empty_list() -> None:
    assert extract_reader_questions("<p>Just statements here.</p><p>Nothing to ask.</p>") == []
    assert extract_reader_questions("") == []


def test_max_questions_limits_the_number_of_prompts() -> None:
    html = "<p>Do you run? Do you swim? Do you cycle? Do you climb?</p>"
    assert extract_reader_questions(html, max_questions=2) == ["Do you run?", "Do you swim?"]


def test_inclusive_we_questions_are_a_fallback_when_nothing_addresses_you() -> None:
    assert extract_reader_questions("<p>What would we change first?</p>") == ["What would we change first?"]
    assert extract_reader_questions("<p>How can I follow it?</p><p>Why did I stop?</p>") == []


def test_very_long_question_is_clipped_at_a_word_boundary() -> None:
    long_question = "Do you " + " ".join(f"word{n}" for n in range(80)) + "?"
    [prompt] = extract_reader_questions(f"<p>{long_question}</p>")
    assert len(prompt) <= MAX_PROMPT_CHARS
    assert prompt.endswith("…?")
    assert long_question.startswith(prompt[:-2])
    assert prompt[:-2].split()[-1].startswith("word")  # no half word before the ellipsis
    assert long_question[len(prompt) - 2] == " "


def test_long_group_keeps_leading_questions_that_fit() -> None:
    second = "Or " + " ".join(["longer"] * 60) + "?"
    assert clip_prompt(["Do you lean one way?", second]) == "Do you lean one way?"


def test_clip_prompt_drops_what_cannot_be_clipped_sensibly() -> None:
    assert clip_prompt(["Supercalifragilistic" * 20 + "?"]) is None


def test_spanish_question_marks() -> None:
    html = "<p>Esto es todo. ¿Y tú qué opinas? ¿Te ha pasado alguna vez?</p>"
    assert extract_reader_questions(html) == ["¿Y tú qué opinas?", "¿Te ha pasado alguna vez?"]


def test_full_width_question_mark() -> None:
    html = "<p>这是文章。你怎么看？你遇到过吗？</p>"
    assert extract_reader_questions(html) == ["你怎么看？", "你遇到过吗？"]


def test_french_spaced_question_mark() -> None:
    html = "<p>Voilà. Et vous, qu'en pensez-vous ? Avez-vous déjà vécu cela ?</p>"
    assert extract_reader_questions(html) == ["Et vous, qu'en pensez-vous ?", "Avez-vous déjà vécu cela ?"]


def test_nested_list_items_are_separate_blocks() -> None:
    html = "<ul><li>Think about it<ul><li>Do you plan ahead?</li></ul>and then act.</li></ul>"
    assert [block.text for block in html_blocks(html)] == [
        "Think about it",
        "Do you plan ahead?",
        "and then act.",
    ]
    assert extract_reader_questions(html) == ["Do you plan ahead?"]


def test_html_entities_are_decoded() -> None:
    html = "<p>Do you&nbsp;trust your &quot;gut&quot; &amp; your team&#8217;s view&#63;</p>"
    assert extract_reader_questions(html) == ['Do you trust your "gut" & your team’s view?']


def test_parenthesised_you_does_not_make_a_question_address_the_reader() -> None:
    html = "<p>A rule book (if you subscribe to it) exists, but what are the rules?</p>"
    assert extract_reader_questions(html) == []


def test_scripts_are_not_text() -> None:
    html = "<p>Text.</p><script>var q = 'Do you see me?';</script>"
    assert extract_reader_questions(html) == []


# --- choose_prompts ---------------------------------------------------------------------------


def test_choose_prompts_priority_admin_article_category_default() -> None:
    prompts = choose_prompts(
        admin_prompts=["Admin asks?"],
        extracted=["Article asks?"],
        category_templates={"Leadership": ["Category asks?"]},
        categories=["leadership"],
        default_templates=["Default asks?"],
        limit=4,
    )
    assert prompts == [
        Prompt("Admin asks?", PromptSource.ADMIN),
        Prompt("Article asks?", PromptSource.ARTICLE),
        Prompt("Category asks?", PromptSource.CATEGORY),
        Prompt("Default asks?", PromptSource.DEFAULT),
    ]


def test_choose_prompts_stops_at_limit_with_higher_priority_first() -> None:
    prompts = choose_prompts(["A1", "A2"], ["E1", "E2"], {}, [], ["D1"], limit=3)
    assert [(p.text, p.source) for p in prompts] == [
        ("A1", PromptSource.ADMIN),
        ("A2", PromptSource.ADMIN),
        ("E1", PromptSource.ARTICLE),
    ]


def test_choose_prompts_falls_back_to_defaults_without_article_questions() -> None:
    prompts = choose_prompts([], [], {"Coaching": ["C1"]}, ["Other"], ["D1", "D2"], limit=3)
    assert [(p.text, p.source) for p in prompts] == [
        ("D1", PromptSource.DEFAULT),
        ("D2", PromptSource.DEFAULT),
    ]


def test_choose_prompts_skips_duplicates_and_blanks() -> None:
    prompts = choose_prompts(["Same  question?", "  "], ["same question?"], {}, [], ["Other?"], limit=3)
    assert [(p.text, p.source) for p in prompts] == [
        ("Same question?", PromptSource.ADMIN),
        ("Other?", PromptSource.DEFAULT),
    ]


def test_choose_prompts_category_order_follows_article_categories() -> None:
    templates = {"B": ["from B"], "A": ["from A"]}
    prompts = choose_prompts([], [], templates, ["a", "b"], [], limit=3)
    assert [p.text for p in prompts] == ["from A", "from B"]


def test_blockquote_questions_are_someone_elses_words() -> None:
    html = "<blockquote><p>Do you even lift?</p></blockquote><p>That is what he asked me.</p>"
    assert [block.quoted for block in html_blocks(html)] == [True, False]
    assert extract_reader_questions(html) == []


def test_zero_max_questions_gives_nothing() -> None:
    assert extract_reader_questions("<p>Do you run?</p>", max_questions=0) == []
