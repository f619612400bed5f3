"""Schedule entries as admins see them, and the short references they type back: ``a<id>`` for an
announcement, ``j<id>`` for any other job; a bare number means an announcement. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

_REF = re.compile(r"^\s*#?(?P<prefix>[aj]?)(?P<id>\d{1,18})\s*$", re.IGNORECASE)


class ScheduleError(ValueError):
    """The request cannot be done; the message says why, for the admin."""


@dataclass(frozen=True)
class ScheduleEntry:
    """One line of ``/schedule list``."""

    ref: str
    due_at: datetime | None
    state: str
    title: str
    action: str
    channel_id: int | None = None
    recurring: bool = False
    announcement_id: int | None = None
    job_id: int | None = None


def parse_ref(text: str) -> tuple[str, int]:
    """("a", id) or ("j", id) from "a12", "j34", "#12" or "12"; ScheduleError otherwise."""
    match = _REF.match(text)
    if not match:
        raise ScheduleError(
            f"`{text[:40]}` is not a schedule id. Use the id shown by `/schedule list`, e.g. `a12`."
        )
    return (match["prefix"].lower() or "a"), int(match["id"])
