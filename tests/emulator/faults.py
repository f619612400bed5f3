"""Fault injection for REST: forced error responses and added latency."""

from __future__ import annotations

import random
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
class RandomFailure:
    """Fail a share of matching requests at random (seeded), for soak tests."""

    method: str
    match: Any
    rate: float
    status: int
    after_effect: bool
    rng: random.Random
    retry_after: float = 0.05
    global_: bool = False
    via: bool = True
    code: int = 0
    fired: int = 0


@dataclass
class Faults:
    failures: list[Failure] = field(default_factory=list)
    latencies: list[Latency] = field(default_factory=list)
    random_failures: list[RandomFailure] = field(default_factory=list)

    def fail_randomly(
        self,
        rate: float,
        *,
        status: int = 500,
        method: str = "*",
        path: str | re.Pattern[str] | None = None,
        after_effect: bool = False,
        seed: int = 0,
        retry_after: float = 0.05,
        global_: bool = False,
    ) -> RandomFailure:
        """Fail about ``rate`` of matching bot requests (interaction callbacks and webhook followups
        are never failed by this). With ``after_effect`` the request takes effect first and only the
        response is lost (a 5xx after Discord did the work: the hardest case for exactly-once)."""
        f = RandomFailure(
            method.upper(),
            _matcher(path),
            rate,
            status,
            after_effect,
            random.Random(seed),
            retry_after,
            global_,
        )
        self.random_failures.append(f)
        return f

    def take_random(
        self, method: str, template: str, path: str, *, after_effect: bool
    ) -> RandomFailure | None:
        for f in self.random_failures:
            if f.after_effect != after_effect or f.method not in ("*", method) or not f.match(template, path):
                continue
            if f.rng.random() < f.rate:
                f.fired += 1
                return f
        return None

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
        self.random_failures.clear()

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
