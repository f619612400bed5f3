"""`Emulator`: the aiohttp app (REST under /api/v10 and the /gateway websocket), the request and
event logs, `wait_for`, and the fault and scenario APIs (scenario drivers live in `drivers.py`)."""

# The public API takes explicit timeouts, like discord.py's wait_for.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from time import monotonic
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from .drivers import Drivers
from .faults import Faults
from .gateway import Gateway
from .interactions import InteractionRecord
from .ratelimit import RateLimiter
from .rest import Req, Rest
from .state import ApiError, Guild, Member, State

log = logging.getLogger(__name__)
JSON = "application/json"
NO_AUTH_PREFIXES = ("/interactions/", "/webhooks/{webhook_id}/{webhook_token}")


class Clock:
    """The emulator's own time (monotonic seconds). `advance()` moves it forward without sleeping;
    it drives interaction deadlines, token lifetime and the nonce window (not rate limits)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.monotonic() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass
class RequestRecord:
    method: str
    path: str
    template: str  # route template, e.g. "/channels/{channel_id}/messages" (the path if unknown)
    params: dict[str, str]
    query: dict[str, str]
    json: Any
    reason: str | None  # X-Audit-Log-Reason, URL-decoded
    time: float  # emulator clock at arrival
    files: list[dict[str, Any]] = field(default_factory=list)
    mono: float = field(default_factory=monotonic)  # real arrival time (for rates)
    status: int | None = None  # None while in flight
    code: int | None = None  # Discord JSON error code on errors
    response: Any = None

    @property
    def route(self) -> str:
        return f"{self.method} {self.template}"


@dataclass
class EventRecord:
    name: str
    data: dict[str, Any]
    time: float


class Emulator(Drivers):
    """A local Discord: REST + gateway on 127.0.0.1, with state, rate limits and fault injection.

    Start with `await Emulator().start()` (port 0 by default) and stop with `await stop()`.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limits: str = "generous",
        interaction_timeout: float = 3.0,
        token_lifetime: float = 15 * 60.0,
        nonce_window: float = 120.0,
        wait_poll: float = 0.01,
    ) -> None:
        self.host, self.port = host, port
        self.state = State()
        self.clock = Clock()
        self.ratelimit = RateLimiter(rate_limits)
        self.faults = Faults()
        self.gateway = Gateway(self)
        self.rest = Rest(self)
        self.interaction_timeout = interaction_timeout
        self.token_lifetime = token_lifetime
        self.nonce_window = nonce_window
        self.wait_poll = wait_poll
        self.requests: list[RequestRecord] = []
        self.events: list[EventRecord] = []
        self.unknown_routes: list[tuple[str, str]] = []
        self.interactions: dict[str, InteractionRecord] = {}
        self._waiters: list[asyncio.Future[None]] = []
        self._runner: web.AppRunner | None = None
        self.world: Any = None  # set by build_default_world

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> Emulator:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self

    async def stop(self) -> None:
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Emulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/gateway"

    async def reset(self) -> None:
        """Forget everything: close gateway sessions, fresh state, logs, faults and rate limits.
        Build a world again afterwards. (A fresh Emulator per test is simpler and preferred.)"""
        await self.gateway.close_all()
        self.gateway.sessions.clear()
        self.state = State()
        self.rest.state = self.state
        self.rest.nonces.clear()
        self.faults.clear()
        self.ratelimit.use(
            self.ratelimit.preset_name if self.ratelimit.preset_name != "custom" else "generous"
        )
        self.interactions.clear()
        self.clock.offset = 0.0
        self.reset_logs()

    def reset_logs(self) -> None:
        """Forget the request/event logs and 429 counters (state is kept)."""
        self.requests.clear()
        self.events.clear()
        self.unknown_routes.clear()
        self.ratelimit.counts_429.clear()
        self.ratelimit.invalid.clear()

    # -- faults -------------------------------------------------------------------------------
    async def drop_gateway(self) -> None:
        """Close the bot's websocket(s) with a resumable code; the client RESUMEs."""
        await self.gateway.drop()

    async def send_reconnect(self) -> None:
        await self.gateway.send_reconnect()

    async def send_invalid_session(self, resumable: bool) -> None:
        await self.gateway.send_invalid_session(resumable)

    # -- observation --------------------------------------------------------------------------
    def _notify(self) -> None:
        for fut in self._waiters:
            if not fut.done():
                fut.set_result(None)
        self._waiters.clear()

    def _record_event(self, name: str, data: dict[str, Any]) -> None:
        self.events.append(EventRecord(name, data, self.clock.now()))

    def mark(self) -> tuple[int, int]:
        """A position in the request and event logs, for `wait_for(kind, since=mark)`."""
        return len(self.requests), len(self.events)

    def requests_to(self, route: str, status: int | None = None) -> list[RequestRecord]:
        """Completed requests matching "METHOD /template" (e.g. "POST /channels/{channel_id}/messages")."""
        return [
            r
            for r in self.requests
            if r.route == route and r.status is not None and status in (None, r.status)
        ]

    def peak_rate(self, window: float = 1.0, route: str | None = None, *, accepted_only: bool = False) -> int:
        """Most requests (optionally to one "METHOD /template" route; optionally not counting
        429s) that arrived within any `window` seconds of real time, for load tests."""
        times = [
            r.mono
            for r in self.requests
            if (route is None or r.route == route) and not (accepted_only and r.status == 429)
        ]
        best, lo = 0, 0
        for hi, t in enumerate(times):
            while t - times[lo] > window:
                lo += 1
            best = max(best, hi - lo + 1)
        return best

    def _find(self, kind: str, check: Callable[[Any], Any] | None, since: tuple[int, int]) -> Any:
        if " " in kind:
            items: list[Any] = [
                r for r in self.requests[since[0] :] if r.status is not None and r.route == kind
            ]
        elif kind == "request":
            items = [r for r in self.requests[since[0] :] if r.status is not None]
        else:
            items = [e for e in self.events[since[1] :] if e.name == kind]
        for item in items:
            if check is None or check(item.data if isinstance(item, EventRecord) else item):
                return item
        return None

    async def wait_for(
        self,
        what: str | Callable[[], Any],
        check: Callable[[Any], Any] | None = None,
        *,
        timeout: float = 5.0,
        since: tuple[int, int] = (0, 0),
    ) -> Any:
        """Wait until a condition holds and return its (truthy) value.

        `what` is either a zero-argument callable (re-evaluated after every REST request, gateway
        event and every `wait_poll` seconds, so it may look at the bot's cache too), or a kind:
        a gateway event name ("MESSAGE_CREATE"; `check` gets the event data), a route
        ("POST /channels/{channel_id}/messages"; `check` gets the RequestRecord, which must be
        complete) or "request". Kinds search the logs from `since` (default: from the start).
        Raises TimeoutError naming what was awaited.
        """
        pred = what if callable(what) else (lambda: self._find(what, check, since))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = pred()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"emulator.wait_for timed out after {timeout}s waiting for {what!r}")
            fut: asyncio.Future[None] = loop.create_future()
            self._waiters.append(fut)
            try:
                await asyncio.wait_for(fut, min(remaining, self.wait_poll))
            except TimeoutError:
                pass

    # -- member removal (shared by kick, ban and the leave driver) -----------------------------
    def remove_member(self, guild: Guild, member: Member) -> None:
        guild.members.pop(member.id, None)
        for ch in guild.channels.values():
            if ch.is_thread and member.id in ch.thread_members:
                del ch.thread_members[member.id]
        payload = {"guild_id": str(guild.id), "user": member.user.payload()}
        self.gateway.dispatch("GUILD_MEMBER_REMOVE", payload, guild_id=guild.id)

    # -- HTTP ---------------------------------------------------------------------------------
    def _response(self, status: int, body: Any, headers: dict[str, str]) -> web.Response:
        if status == 204 or body is None:
            return web.Response(status=status, headers=headers)
        return web.Response(
            status=status, body=json.dumps(body).encode(), headers={**headers, "Content-Type": JSON}
        )

    async def _parse_body(self, request: web.Request) -> tuple[Any, list[dict[str, Any]]]:
        files: list[dict[str, Any]] = []
        if not request.can_read_body:
            return None, files
        ctype = request.content_type
        if ctype.startswith("multipart/"):
            payload: Any = None
            reader = await request.multipart()
            async for part in reader:
                name = getattr(part, "name", None)
                data = await part.read()  # type: ignore[union-attr]
                if name == "payload_json":
                    payload = json.loads(data.decode())
                elif name is not None:
                    files.append(
                        {
                            "field": name,
                            "filename": getattr(part, "filename", None) or name,
                            "size": len(data),
                            "content_type": part.headers.get("Content-Type"),  # type: ignore[union-attr]
                            "data": bytes(data),
                        }
                    )
            return payload, files
        raw = await request.read()
        if not raw:
            return None, files
        try:
            return json.loads(raw), files
        except ValueError:
            return None, files

    async def _handle(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        method = request.method
        match = self.rest.router.match(method, path)
        template = match[0] if match else self.rest.router.template_for(path)
        params = match[1] if match else {}
        body, files = await self._parse_body(request)
        reason = request.headers.get("X-Audit-Log-Reason")
        rec = RequestRecord(
            method=method,
            path=path,
            template=template,
            params=params,
            query=dict(request.query),
            json=body,
            reason=unquote(reason) if reason else None,
            time=self.clock.now(),
            files=files,
        )
        self.requests.append(rec)
        try:
            status, out, headers = await self._process(request, rec, match, body, files)
        except Exception:
            log.exception("emulator handler crashed on %s %s", method, path)
            status, out, headers = 500, {"message": "500: Internal Server Error", "code": 0}, {}
        rec.status = status
        rec.response = out
        if isinstance(out, dict) and status >= 400:
            rec.code = out.get("code")
        if isinstance(out, str):
            resp = web.Response(status=status, text=out, headers=headers, content_type="text/html")
        else:
            resp = self._response(status, out, headers)
        self._notify()
        return resp

    async def _process(
        self, request: web.Request, rec: RequestRecord, match: Any, body: Any, files: list[dict[str, Any]]
    ) -> tuple[int, Any, dict[str, str]]:
        method, path, template = rec.method, rec.path, rec.template
        app = self.state.app
        token: str | None = None
        if not template.startswith(NO_AUTH_PREFIXES):
            auth = request.headers.get("Authorization", "")
            if app is None or auth != f"Bot {app.token}":
                self.ratelimit.note_invalid(401)
                return 401, {"message": "401: Unauthorized", "code": 0}, {}
            token = app.token
        delay = self.faults.latency_for(method, template, path)
        if delay:
            await asyncio.sleep(delay)
        failure = self.faults.take_failure(method, template, path)
        if failure is not None:
            return self._injected(failure)
        soak = token is not None
        if soak:
            random_failure = self.faults.take_random(method, template, path, after_effect=False)
            if random_failure is not None:
                return self._injected(random_failure)
        if self.ratelimit.invalid_requests() > self.ratelimit.cloudflare_ban_threshold:
            self.ratelimit.counts_429["cloudflare"] += 1
            return 429, "<html><body>Error 1015: You are being rate limited.</body></html>", {}
        verdict = self.ratelimit.check(token, method, template, rec.params)
        if not verdict.ok:
            return 429, verdict.body, verdict.headers
        headers = verdict.headers
        if match is None:
            self.unknown_routes.append((method, path))
            log.error("emulator: unknown route %s %s", method, path)
            return 404, {"message": "404: Not Found", "code": 0}, headers
        handler = match[2]
        req = Req(method, path, template, rec.params, rec.query, body, files, rec.reason)
        try:
            status, out = await handler(req)
        except ApiError as e:
            self.ratelimit.note_invalid(e.status)
            return e.status, e.body(), headers
        if soak and status < 400:
            lost = self.faults.take_random(method, template, path, after_effect=True)
            if lost is not None:
                return self._injected(lost)
        return status, out, headers

    def _injected(self, f: Any) -> tuple[int, Any, dict[str, str]]:
        if f.status == 429:
            self.ratelimit.counts_429["global" if f.global_ else "user"] += 1
            self.ratelimit.note_invalid(429)
            if not f.via:
                return 429, "<html><body>You are being rate limited (Cloudflare).</body></html>", {}
            headers = {
                "Retry-After": str(max(1, int(f.retry_after + 0.999))),
                "X-RateLimit-Scope": "global" if f.global_ else "user",
                "Via": "1.1 google",
            }
            if f.global_:
                headers["X-RateLimit-Global"] = "true"
            else:
                headers.update(
                    {
                        "X-RateLimit-Limit": "1",
                        "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset": f"{time.time() + f.retry_after:.3f}",
                        "X-RateLimit-Reset-After": f"{f.retry_after:.3f}",
                        "X-RateLimit-Bucket": "injected",
                    }
                )
            body = {
                "message": "You are being rate limited.",
                "retry_after": f.retry_after,
                "global": f.global_,
            }
            return 429, body, headers
        if f.status in (401, 403):
            self.ratelimit.note_invalid(f.status)
        return f.status, {"message": f"{f.status}: injected fault", "code": f.code}, {}
