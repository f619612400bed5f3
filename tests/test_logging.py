from __future__ import annotations

import logging

from bot.logging_setup import RedactingFormatter


def test_token_is_redacted_from_messages_and_tracebacks() -> None:
    token = "MTIz.token-value.xyz"
    formatter = RedactingFormatter("%(message)s", [token])
    try:
        raise RuntimeError(f"failed with {token}")
    except RuntimeError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "login %s", (token,), sys.exc_info())
    text = formatter.format(record)
    assert token not in text
    assert text.count("[redacted]") >= 2


def _record(msg: str, args: tuple[object, ...] = (), **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("bot.x", logging.INFO, __file__, 1, msg, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_extras_become_sorted_key_value_pairs_on_one_line() -> None:
    formatter = RedactingFormatter("%(levelname)s %(name)s: %(message)s", [])
    text = formatter.format(_record("posted %s", ("ok",), guild=42, feature="articles", note="two words"))
    assert text == 'INFO bot.x: posted ok feature=articles guild=42 note="two words"'


def test_a_multiline_message_stays_one_event_per_line() -> None:
    formatter = RedactingFormatter("%(message)s", [])
    text = formatter.format(_record("first\nsecond", guild=1))
    assert "\n" not in text and text.endswith("guild=1")


def test_token_in_an_extra_is_redacted() -> None:
    token = "MTIz.token-value.xyz"
    formatter = RedactingFormatter("%(message)s", [token])
    text = formatter.format(_record("login", header=f"Bot {token}"))
    assert token not in text and "[redacted]" in text


def test_configure_logging_uses_the_level_setting(capsys) -> None:  # type: ignore[no-untyped-def]
    from bot.logging_setup import configure_logging

    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    try:
        configure_logging("WARNING", secrets=["s3cret-token"])
        logging.getLogger("bot.y").info("hidden", extra={"guild": 1})
        logging.getLogger("bot.y").warning("shown s3cret-token", extra={"guild": 2})
        err = capsys.readouterr().err
        assert "hidden" not in err
        assert "shown [redacted] guild=2" in err
    finally:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]
