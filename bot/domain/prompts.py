"""Discussion prompts: reader questions pulled from an article, and the choice of what to post.

An article's thread opens with a few prompts. The best prompts are the article's own closing
questions to its readers ("Do you get stuck?"), so :func:`extract_reader_questions` looks for them;
when there are none, :func:`choose_prompts` falls back to templates.

Extraction rules (each one is a test):

* Only the closing part of the article counts: the last ``closing_block_count`` (4) content blocks
  (paragraphs, list items, quotes) once trailing boilerplate is dropped ("The post X appeared first
  on Y", "P.S. ...", footnotes starting with ``*``, signatures such as "– Alison", share links and
  short unpunctuated lines such as a name and job title).
* Headings never count: ``h1``-``h6``, a block that is entirely bold, or a short standalone
  question paragraph without a second-person word ("Where to start?").
* A question is a sentence ending in ``?``, ``？`` (full width) or French spaced `` ?``; a Spanish
  sentence opening with ``¿`` works the same. Block quotes are someone else's words and never
  count. Text inside double quotes (“...”, "...", «...») is dialogue: it is masked before sentences
  are split, so quoted questions never count. Text in parentheses is ignored when deciding whom a
  question addresses.
* A question counts when it addresses the reader: it contains a second-person word (English
  "you/your/yours/you're/yourself", plus tú/usted/vous/votre/你/您 ...), or, failing any such
  question, an inclusive "we/us/our". First-person-only questions ("how can I follow it?") never count.
* A question the author answers in the next sentence is rhetorical and is dropped: the next
  sentence starts with an answer marker ("Funny you should ask", "The answer is", "Well, ...",
  "Yes.", "Two things:") or, in the same paragraph, is a short declarative (four words or fewer).
* Consecutive questions in one paragraph are grouped: a fragment that does not open like a
  question ("Boundaries blurred or boundaries too thick?", "Or something else?") joins the question
  before it, and a short lead-in ("What about you?") joins the question after it. Each group is one
  prompt string.
* Prompts are at most :data:`MAX_PROMPT_CHARS` characters: a long group keeps its leading
  questions that fit; a single long question is clipped at a word boundary and ends with "…?".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from html.parser import HTMLParser

MAX_PROMPT_CHARS = 300

_BLOCK_TAGS = frozenset(
    {"p", "li", "blockquote", "div", "section", "article", "ul", "ol", "dd", "dt", "pre", "figcaption"}
    | {"h1", "h2", "h3", "h4", "h5", "h6", "table", "tr", "td", "th", "br", "hr"}
)
_HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_BOLD_TAGS = frozenset({"strong", "b"})
_SKIP_TAGS = frozenset({"script", "style", "noscript", "template"})


@dataclass(frozen=True, slots=True)
class Block:
    """One block of visible text. ``heading`` is true for h1-h6 and for blocks that are all bold;
    ``quoted`` for text inside a ``blockquote`` (someone else's words, never a prompt)."""

    text: str
    heading: bool = False
    quoted: bool = False


class _BlockParser(HTMLParser):
    """Splits HTML into text blocks at block-level tags; nested lists yield one block per item."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self._parts: list[str] = []
        self._bold_chars = 0
        self._bold_depth = 0
        self._heading_depth = 0
        self._quote_depth = 0
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth += 1
        elif tag in _BLOCK_TAGS:
            self._flush()
            if tag in _HEADING_TAGS:
                self._heading_depth += 1
            if tag == "blockquote":
                self._quote_depth += 1
        elif tag in _BOLD_TAGS:
            self._bold_depth += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK_TAGS:
            self._flush()
            if tag in _HEADING_TAGS:
                self._heading_depth = max(0, self._heading_depth - 1)
            if tag == "blockquote":
                self._quote_depth = max(0, self._quote_depth - 1)
        elif tag in _BOLD_TAGS:
            self._bold_depth = max(0, self._bold_depth - 1)

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        self._parts.append(data)
        if self._bold_depth:
            self._bold_chars += len(data.strip())

    def close(self) -> None:
        super().close()
        self._flush()

    def _flush(self) -> None:
        raw = "".join(self._parts)
        text = normalise_space(raw)
        if text:
            all_bold = self._bold_chars >= len(re.sub(r"\s", "", raw))
            heading = bool(self._heading_depth) or all_bold
            self.blocks.append(Block(text, heading=heading, quoted=bool(self._quote_depth)))
        self._parts = []
        self._bold_chars = 0


def normalise_space(text: str) -> str:
    """Collapse every run of whitespace (including no-break spaces) to one space and strip."""
    return re.sub(r"\s+", " ", text).strip()


def html_blocks(html: str) -> list[Block]:
    """The visible text blocks of ``html``, in document order; entities decoded, scripts dropped."""
    parser = _BlockParser()
    parser.feed(html)
    parser.close()
    return parser.blocks


_BOILERPLATE = (
    re.compile(r"^the post\b.*\bappeared first on\b", re.I),
    re.compile(r"^p\.\s?s\.?(\s|$)", re.I),
    re.compile(r"^\*"),
    re.compile(r"^[–—-]+\s*\S"),
    re.compile(r"^(share this|share on|click to share|like this|related|tweet|pin it|email this)\b", re.I),
    re.compile(r"^(facebook|twitter|linkedin|pinterest|reddit|email|print)$", re.I),
)


def _is_boilerplate(block: Block) -> bool:
    text = block.text
    if any(pattern.search(text) for pattern in _BOILERPLATE):
        return True
    unpunctuated = not re.search(r"[.!?？！。…:;]['’\"”)]*$", text)
    return unpunctuated and len(text.split()) <= 12


def closing_blocks(blocks: Sequence[Block], count: int = 4) -> list[Block]:
    """The last ``count`` non-heading blocks once trailing boilerplate blocks are dropped."""
    end = len(blocks)
    while end and (_is_boilerplate(blocks[end - 1]) or blocks[end - 1].heading):
        end -= 1
    content = [block for block in blocks[:end] if not block.heading]
    return content[-count:] if count > 0 else []


_QUOTED = re.compile(r"“[^”]*”|\"[^\"]*\"|«[^»]*»|„[^“”]*[“”]")
_PARENTHESISED = re.compile(r"\([^()]*\)")
# A sentence ends at . ! ? (ASCII or full width) or an ellipsis, optionally followed by closing
# quotes/brackets; ASCII marks need whitespace (or the end) after them, full-width marks do not.
_SENTENCE_END = re.compile(r"(?<=[.!?…])['’\"”»)\]]*\s+|(?<=[？！。])['’\"”»)\]]*\s*")

_SECOND_PERSON = re.compile(
    r"\b(you|your|yours|yourself|yourselves|you're|you’re|you've|you’ve|you'd|you’d|you.ll|you’ll"
    r"|tú|tu|usted|ustedes|vosotros|vosotras|te|ti|vous|votre|vos|toi|du|dich|dir|dein|deine)\b"
    r"|[你您]",
    re.I,
)
_FIRST_PERSON_PLURAL = re.compile(r"\b(we|us|our|ours|we're|we’re|we've|we’ve)\b", re.I)
_QUESTION_OPENERS = re.compile(
    r"^(¿|what|what's|what’s|who|whom|whose|why|how|when|where|which|whether|do|does|did|is|are|was|were"
    r"|have|has|had|can|could|would|will|should|shall|may|might|must|am|isn't|aren't|don't|doesn't"
    r"|didn't|won't|wouldn't|can't|couldn't|shouldn't|haven't|hasn't|any|anyone|anybody|ever|so"
    r"|but)\b",
    re.I,
)
_CONTINUATION_OPENERS = re.compile(r"^(or|and|nor)\b", re.I)
_ANSWER_MARKERS = re.compile(
    r"^(funny you should ask|glad you asked|good question|great question|the answer is|the answer:"
    r"|well[,.!]|yes[,.!]|yes$|no[,.!]|no$|nope|yep|absolutely|of course|simple[.:!]|easy[.:!]|here's|here is"
    r"|here’s|it turns out|turns out|because\b|(one|two|three|four|five|a few|several) (things|reasons|ways)\b)",
    re.I,
)
_LEAD_IN = re.compile(r"^(and |so )?((what|how) about (you|yours|your \w+)|and you|you)\s?[?？]$", re.I)
_FRAGMENT_WORDS = 8
_HEADING_QUESTION_WORDS = 6
_SHORT_ANSWER_WORDS = 4


def _mask_quotes(text: str) -> str:
    """Replace the inside of every double-quoted span by a neutral character, keeping offsets."""
    return _QUOTED.sub(lambda match: match[0][0] + "⋯" * (len(match[0]) - 2) + match[0][-1], text)


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence as written, and the same text with quoted dialogue masked (for all the tests)."""

    text: str
    masked: str


def split_sentences(text: str) -> list[Sentence]:
    """Split ``text`` into sentences; quoted dialogue never ends or splits a sentence."""
    masked = _mask_quotes(text)
    sentences: list[Sentence] = []
    start = 0
    for match in [*_SENTENCE_END.finditer(masked), None]:
        end = match.start() if match else len(masked)
        stop = match.end() if match else len(masked)
        trail = masked[end:stop].rstrip() if match else ""
        original = text[start : end + len(trail)].strip()
        if original:
            sentences.append(Sentence(original, masked[start : end + len(trail)].strip()))
        start = stop
    return sentences


def is_question(sentence: str) -> bool:
    """True when ``sentence`` ends with a question mark (ASCII, full width or French-spaced)
    that is not inside double-quoted dialogue."""
    return bool(re.search(r"[?？]['’)\]]*$", _mask_quotes(sentence).strip()))


def addresses_reader(sentence: str) -> bool:
    """True when the sentence, quotes and parentheses aside, contains a second-person word."""
    return bool(_SECOND_PERSON.search(_PARENTHESISED.sub(" ", _mask_quotes(sentence))))


def is_inclusive(sentence: str) -> bool:
    """True when the sentence, quotes and parentheses aside, says "we", "us" or "our"."""
    return bool(_FIRST_PERSON_PLURAL.search(_PARENTHESISED.sub(" ", _mask_quotes(sentence))))


def _is_answer(sentence: str, same_block: bool) -> bool:
    if is_question(sentence):
        return False
    if _ANSWER_MARKERS.search(sentence.strip()):
        return True
    return same_block and len(sentence.split()) <= _SHORT_ANSWER_WORDS


def _is_heading_like(block: Block, sentences: Sequence[str]) -> bool:
    if block.heading:
        return True
    if len(sentences) != 1 or not is_question(sentences[0]):
        return False
    only = sentences[0]
    short = len(only.split()) <= _HEADING_QUESTION_WORDS
    return short and not addresses_reader(only) and not is_inclusive(only)


def _is_fragment(question: str) -> bool:
    """A question that only completes the one before it ("Or something else?", "Boundaries blurred
    or boundaries too thick?"): it opens with or/and, or it is short, opens unlike a question and
    addresses nobody."""
    if _CONTINUATION_OPENERS.search(question):
        return True
    unlike_a_question = not _QUESTION_OPENERS.search(question)
    return unlike_a_question and not addresses_reader(question) and len(question.split()) <= _FRAGMENT_WORDS


def _group_run(run: Sequence[str]) -> list[list[str]]:
    """Split consecutive questions into prompt groups (fragments join back, lead-ins join forward)."""
    groups: list[list[str]] = []
    pending_lead_in: list[str] = []
    for question in run:
        if _is_fragment(question) and groups and not pending_lead_in:
            groups[-1].append(question)
            continue
        group = [*pending_lead_in, question]
        pending_lead_in = []
        if _LEAD_IN.search(question):
            pending_lead_in = group
            continue
        groups.append(group)
    if pending_lead_in:
        groups.append(pending_lead_in)
    return groups


@dataclass(frozen=True, slots=True)
class QuestionGroup:
    """Questions that belong together, in article order; ``text`` is what gets posted."""

    questions: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(self.questions)

    @property
    def addresses_reader(self) -> bool:
        return any(addresses_reader(question) for question in self.questions)

    @property
    def inclusive(self) -> bool:
        return any(is_inclusive(question) for question in self.questions)


def _question_runs(sentences: Sequence[str], next_block_first: str | None) -> list[list[str]]:
    """Runs of consecutive questions in one block, minus questions answered right after."""
    runs: list[list[str]] = []
    current: list[str] = []
    for sentence in sentences:
        if is_question(sentence):
            current.append(sentence)
            continue
        if current:
            if _is_answer(sentence, same_block=True):
                current.pop()
            if current:
                runs.append(current)
            current = []
    if current:
        if next_block_first is not None and _is_answer(next_block_first, same_block=False):
            current.pop()
        if current:
            runs.append(current)
    return runs


def question_groups(html: str, closing_block_count: int = 4) -> list[QuestionGroup]:
    """Every candidate question group in the closing blocks of ``html``, in article order,
    before the reader filter and the length limit are applied."""
    blocks = closing_blocks(html_blocks(html), closing_block_count)
    sentences_per_block = [[s.text for s in split_sentences(block.text)] for block in blocks]
    groups: list[QuestionGroup] = []
    for index, (block, sentences) in enumerate(zip(blocks, sentences_per_block, strict=True)):
        if block.quoted or _is_heading_like(block, sentences):
            continue
        following = sentences_per_block[index + 1] if index + 1 < len(sentences_per_block) else []
        for run in _question_runs(sentences, following[0] if following else None):
            groups.extend(QuestionGroup(tuple(group)) for group in _group_run(run))
    return groups


def clip_prompt(questions: Sequence[str], limit: int = MAX_PROMPT_CHARS) -> str | None:
    """Join ``questions`` into at most ``limit`` characters: keep the leading questions that fit,
    or clip a single long question at a word boundary, ending it with "…?". None if nothing fits."""
    kept: list[str] = []
    for question in questions:
        candidate = " ".join([*kept, question])
        if len(candidate) > limit:
            break
        kept.append(question)
    if kept:
        return " ".join(kept)
    first = questions[0] if questions else ""
    words = first.split()
    clipped: list[str] = []
    for word in words:
        if len(" ".join([*clipped, word])) + 2 > limit:
            break
        clipped.append(word)
    if len(clipped) < 3:
        return None
    return " ".join(clipped).rstrip(",;:—–-") + "…?"


def extract_reader_questions(html: str, max_questions: int = 3, closing_block_count: int = 4) -> list[str]:
    """Up to ``max_questions`` prompts (each one question group) addressed to the reader, taken from
    the closing part of the article, in article order. Empty when the article asks its readers nothing."""
    groups = question_groups(html, closing_block_count)
    chosen = [group for group in groups if group.addresses_reader]
    if not chosen:
        chosen = [group for group in groups if group.inclusive]
    prompts: list[str] = []
    for group in chosen:
        if len(prompts) >= max_questions:
            break
        text = clip_prompt(group.questions)
        if text is not None and text not in prompts:
            prompts.append(text)
    return prompts


class PromptSource(StrEnum):
    ADMIN = "admin"
    ARTICLE = "article"
    CATEGORY = "category"
    DEFAULT = "default"


@dataclass(frozen=True, slots=True)
class Prompt:
    """A prompt to post in an article's thread and where it came from."""

    text: str
    source: PromptSource


def choose_prompts(
    admin_prompts: Sequence[str],
    extracted: Sequence[str],
    category_templates: Mapping[str, Sequence[str]],
    categories: Iterable[str],
    default_templates: Sequence[str],
    limit: int = 3,
) -> list[Prompt]:
    """Up to ``limit`` prompts, filled in priority order: the admin's prompts for this article, then
    the article's own reader questions, then templates of the article's categories (in the article's
    category order; category names match case-insensitively), then the default templates.

    Blank prompts are skipped and a text already chosen (ignoring case and spacing) is not repeated,
    so a lower-priority source only fills what the higher ones left open.
    """
    templates_by_category = {
        name.casefold().strip(): list(texts) for name, texts in category_templates.items()
    }
    category_texts = [
        text for category in categories for text in templates_by_category.get(category.casefold().strip(), [])
    ]
    sources: list[tuple[PromptSource, Sequence[str]]] = [
        (PromptSource.ADMIN, admin_prompts),
        (PromptSource.ARTICLE, extracted),
        (PromptSource.CATEGORY, category_texts),
        (PromptSource.DEFAULT, default_templates),
    ]
    chosen: list[Prompt] = []
    seen: set[str] = set()
    for source, texts in sources:
        for text in texts:
            if len(chosen) >= limit:
                return chosen
            cleaned = normalise_space(text)
            key = cleaned.casefold()
            if cleaned and key not in seen:
                seen.add(key)
                chosen.append(Prompt(cleaned, source))
    return chosen
