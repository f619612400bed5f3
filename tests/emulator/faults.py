"""Fault injection for REST: forced error responses and added latency."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


def _matcher(path: str | re.Pattern[str] | None):
    """A route template ("/channels/{channel_id}/messages") matches the template exactly; a regex
    (compiled, or a string starting with "^") is searched in the concrete path."""
    if path is None:
        return lambda template, concrete: True
    if isinstance(path, re.Pattern):
        return lambda template, concrete: path.search(concrete) is not None
    if path.startswith("^"):
        rx = re.compile(path)
        return lambda template, concrete: rx.search(concrete) is not None
    return lambda template, concrete: template == path


@dataclass
class Failure:
    method: str
    match: Any
    status: int
    remaining: int
    global_: bool
    via: bool
    retry_after: float
    code: int
    fired: int = 0


@dataclass
class Latency:
    method: str
    match: Any
    seconds: float


@dataclass
class Faults:
    failures: list[Failure] = field(default_factory=list)
    latencies: list[Latency] = field(default_factory=list)

    def fail_next(
        self,
        method: str,
        path: str | re.Pattern[str] | None,
        status: int = 500,
        count: int = 1,
        global_: bool = False,
        via: bool = True,
        retry_after: float = 0.05,
        code: int = 0,
    ) -> Failure:
        """Make the next `count` requests matching (method or "*", path) fail with `status`.

        429s look exactly like Discord's (route or, with `global_`, global scope); `via=False`
        makes a Cloudflare-style 429 (no Via header, HTML body) that discord.py raises at once.
        """
        f = Failure(method.upper(), _matcher(path), status, count, global_, via, retry_after, code)
        self.failures.append(f)
        return f

    def add_latency(
        self, seconds: float, method: str = "*", path: str | re.Pattern[str] | None = None
    ) -> Latency:
        """Delay matching requests (all of them by default) by `seconds` before handling."""
        lat = Latency(method.upper(), _matcher(path), seconds)
        self.latencies.append(lat)
        return lat

    def clear(self) -> None:
        self.failures.clear()
        self.latencies.clear()

    def take_failure(self, method: str, template: str, path: str) -> Failure | None:
        for f in self.failures:
            if f.remaining > 0 and f.method in ("*", method) and f.match(template, path):
                f.remaining -= 1
                f.fired += 1
                return f
        return None

    def latency_for(self, method: str, template: str, path: str) -> float:
        return sum(
            lat.seconds for lat in self.latencies if lat.method in ("*", method) and lat.match(template, path)
        )
