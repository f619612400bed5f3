"""Logging, configured once by the command line (never at import).

One line per event: ``time level logger: message key=value …``. Context goes in ``extra``:
``log.info("posted", extra={"guild": gid, "feature": "articles", "article": aid})`` appends
``guild=… feature=articles article=…`` (sorted, values with spaces quoted, newlines escaped so an event
stays on one line). Every line passes through :class:`RedactingFormatter`, which replaces the bot token
(and any other secret it is given) with ``[redacted]`` wherever it appears, including in tracebacks
and in the extras.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from typing import Any

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


#: Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


def _kv_value(value: Any) -> str:
    text = str(value)
    if not text or any(c in text for c in ' "=\n\r\t'):
        return json.dumps(text, ensure_ascii=False)
    return text


def extras_of(record: logging.LogRecord) -> str:
    """``key=value`` pairs for the ``extra={...}`` fields of ``record``, sorted by key."""
    pairs = [
        f"{key}={_kv_value(value)}"
        for key, value in sorted(vars(record).items())
        if key not in _STANDARD and not key.startswith("_")
    ]
    return " ".join(pairs)


class RedactingFormatter(logging.Formatter):
    def __init__(self, fmt: str, secrets: Iterable[str]) -> None:
        super().__init__(fmt)
        self.secrets = [s for s in secrets if s and len(s) >= 6]

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record).replace("\n", "\\n")
        extras = extras_of(record)
        return f"{line} {extras}" if extras else line

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        return text


def configure_logging(level: str, secrets: Iterable[str] = ()) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(FORMAT, secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("discord").setLevel(max(logging.getLevelName(level), logging.INFO))
    logging.getLogger("discord.http").setLevel(logging.WARNING)
    logging.getLogger("discord.gateway").setLevel(logging.WARNING)
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)
