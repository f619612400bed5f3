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
