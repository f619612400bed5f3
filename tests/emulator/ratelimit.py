"""Discord-style rate limiting: per-route buckets per top-level resource, a global limit, and the
invalid-request counter (spec §9). Two presets: `generous` (functional tests) and `realistic`."""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

# Routes exempt from the global limit (interaction endpoints).
GLOBAL_EXEMPT = re.compile(r"^/(interactions/|webhooks/\{webhook_id\}/\{webhook_token\})")
TOP_LEVEL = ("channel_id", "guild_id", "webhook_id", "webhook_token", "interaction_id")


@dataclass
class RouteLimit:
    method: str  # "*" for any
    template: str  # exact route template, or a regex if it starts with "^"
    bucket: str
    limit: int
    window: float

    def matches(self, method: str, template: str) -> bool:
        if self.method not in ("*", method):
            return False
        if self.template.startswith("^"):
            return re.search(self.template, template) is not None
        return self.template == template


@dataclass
class Preset:
    routes: list[RouteLimit]
    default_limit: int
    default_window: float
    global_limit: int  # per second


PRESETS: dict[str, Preset] = {
    "generous": Preset(routes=[], default_limit=1000, default_window=1.0, global_limit=1000),
    "realistic": Preset(
        routes=[
            RouteLimit("POST", "/channels/{channel_id}/messages", "message-create", 5, 5.0),
            RouteLimit(
                "*", "^/channels/\\{channel_id\\}/messages/\\{message_id\\}/reactions", "reactions", 1, 0.25
            ),
            RouteLimit("PATCH", "/guilds/{guild_id}/members/{user_id}", "member-edit", 10, 10.0),
            RouteLimit("*", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", "member-edit", 10, 10.0),
            RouteLimit("PATCH", "/guilds/{guild_id}/roles/{role_id}", "role-edit", 10, 10.0),
        ],
        default_limit=50,
        default_window=1.0,
        global_limit=50,
    ),
}


@dataclass
class _Window:
    limit: int
    window: float
    start: float = 0.0
    used: int = 0

    def roll(self, now: float) -> None:
        if self.used and now >= self.start + self.window:
            self.used = 0
        if self.used == 0:
            self.start = now

    def reset_after(self, now: float) -> float:
        return max(0.0, self.start + self.window - now) if self.used else self.window


@dataclass
class Verdict:
    ok: bool
    headers: dict[str, str]
    body: dict[str, Any] | None = None
    scope: str | None = None


@dataclass
class RateLimiter:
    preset_name: str = "generous"
    preset: Preset = field(init=False)
    buckets: dict[tuple[str, str], _Window] = field(default_factory=dict)
    globals_: dict[str, _Window] = field(default_factory=dict)
    counts_429: Counter[str] = field(default_factory=Counter)
    invalid: deque[float] = field(default_factory=deque)
    enabled: bool = True
    # Past this many invalid requests in 10 minutes, answer like Cloudflare's ban (429, no Via, HTML).
    cloudflare_ban_threshold: int = 10_000

    def __post_init__(self) -> None:
        self.use(self.preset_name)

    def use(self, preset: str | Preset) -> None:
        """Switch preset ("generous", "realistic", or a `Preset`) and forget all bucket state."""
        self.preset = PRESETS[preset] if isinstance(preset, str) else preset
        self.preset_name = preset if isinstance(preset, str) else "custom"
        self.buckets.clear()
        self.globals_.clear()

    def _route(self, method: str, template: str) -> RouteLimit:
        for r in self.preset.routes:
            if r.matches(method, template):
                return r
        p = self.preset
        return RouteLimit(method, template, f"{method} {template}", p.default_limit, p.default_window)

    def check(self, token: str | None, method: str, template: str, params: dict[str, str]) -> Verdict:
        """Account one request; return headers to send, or a 429 verdict (which consumes nothing)."""
        now = time.monotonic()
        route = self._route(method, template)
        bucket_hash = hashlib.sha1(route.bucket.encode()).hexdigest()[:32]
        resource = ":".join(params.get(k, "") for k in TOP_LEVEL)
        win = self.buckets.setdefault((bucket_hash, resource), _Window(route.limit, route.window))
        win.roll(now)
        if self.enabled and token is not None and not GLOBAL_EXEMPT.match(template):
            g = self.globals_.setdefault(token, _Window(self.preset.global_limit, 1.0))
            g.roll(now)
            if g.used >= g.limit:
                retry = g.reset_after(now)
                self.counts_429["global"] += 1
                self.note_invalid(429)
                return Verdict(
                    False,
                    {
                        "Retry-After": str(max(1, math.ceil(retry))),
                        "X-RateLimit-Global": "true",
                        "X-RateLimit-Scope": "global",
                        "Via": "1.1 google",
                    },
                    {
                        "message": "You are being rate limited.",
                        "retry_after": round(retry, 3),
                        "global": True,
                    },
                    "global",
                )
        if self.enabled and win.used >= win.limit:
            retry = win.reset_after(now)
            self.counts_429["user"] += 1
            self.note_invalid(429)
            headers = self._headers(win, bucket_hash, now, remaining=0)
            headers.update(
                {
                    "Retry-After": str(max(1, math.ceil(retry))),
                    "X-RateLimit-Scope": "user",
                    "Via": "1.1 google",
                }
            )
            body = {"message": "You are being rate limited.", "retry_after": round(retry, 3), "global": False}
            return Verdict(False, headers, body, "user")
        if self.enabled and token is not None and not GLOBAL_EXEMPT.match(template):
            self.globals_[token].used += 1
        win.used += 1
        return Verdict(True, self._headers(win, bucket_hash, now, remaining=max(0, win.limit - win.used)))

    def _headers(self, win: _Window, bucket_hash: str, now: float, remaining: int) -> dict[str, str]:
        after = win.reset_after(now)
        return {
            "X-RateLimit-Limit": str(win.limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": f"{time.time() + after:.3f}",
            "X-RateLimit-Reset-After": f"{after:.3f}",
            "X-RateLimit-Bucket": bucket_hash,
        }

    def note_invalid(self, status: int, scope: str | None = None) -> None:
        if status in (401, 403, 429) and scope != "shared":
            self.invalid.append(time.monotonic())

    def invalid_requests(self, window: float = 600.0) -> int:
        """401/403/429 responses (excluding shared-scope 429s) in the last `window` seconds."""
        cutoff = time.monotonic() - window
        while self.invalid and self.invalid[0] < cutoff:
            self.invalid.popleft()
        return len(self.invalid)
