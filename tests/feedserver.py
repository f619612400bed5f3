"""A local feed server for tests and benchmarks (aiohttp.web on 127.0.0.1, port chosen by the OS).

Every path serves a :class:`Route` that tests change at will::

    async with FeedServer() as server:
        server.set_feed("/feed", body)               # 200 with ETag and Last-Modified, 304 on match
        server.fail("/feed", 503, retry_after="120")  # fail until cleared (or ``times=n`` requests)
        server.redirect("/old", "/feed", status=301)  # relative or absolute target
        server.trickle("/slow", body, interval=10)    # one byte every ``interval`` seconds
        server.gzip_bomb("/bomb", size=64 << 20)      # gzip body expanding to ``size`` bytes
        server.url("/feed"); server.count("/feed"); server.requests  # address, counters, log
        server.max_in_flight                          # most requests answered at once

Each request is recorded (path with query, headers) before it is answered.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import socket
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime, formatdate

from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult


@dataclass
class Route:
    """What one path answers. ``fail_times`` None with ``fail_status`` set: fail every time."""

    body: bytes = b""
    content_type: str = "application/rss+xml; charset=utf-8"
    etag: str | None = None
    last_modified: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    fail_status: int | None = None
    fail_times: int | None = None
    fail_headers: dict[str, str] = field(default_factory=dict)
    fail_body: bytes = b""
    redirect_to: str | None = None
    redirect_status: int = 301
    trickle_interval: float | None = None
    gzip: bool = False
    delay: float = 0.0


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]


@functools.cache
def gzip_of_zeros(size: int) -> bytes:
    """A gzip stream that expands to ``size`` zero bytes (about a thousandth of it compressed)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"\x00" * (1 << 20)
    parts = []
    remaining = size
    while remaining > 0:
        parts.append(compressor.compress(block[: min(remaining, len(block))]))
        remaining -= len(block)
    parts.append(compressor.flush())
    return b"".join(parts)


class FeedServer:
    """See the module docstring. ``host`` must be a loopback address."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.routes: dict[str, Route] = {}
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> FeedServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- configuration ---------------------------------------------------------------------------

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def set_feed(
        self,
        path: str,
        body: bytes,
        *,
        content_type: str = "application/rss+xml; charset=utf-8",
        etag: str | None = "auto",
        last_modified: str | None = "auto",
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
    ) -> Route:
        """Serve ``body`` at ``path`` (replacing whatever was there), after ``delay`` seconds.
        ``"auto"`` validators derive from the body (ETag) and the time of the call
        (Last-Modified); None sends none."""
        route = Route(
            body=body,
            content_type=content_type,
            etag=f'"{hashlib.sha1(body).hexdigest()[:16]}"' if etag == "auto" else etag,
            last_modified=formatdate(usegmt=True) if last_modified == "auto" else last_modified,
            headers=dict(headers or {}),
            delay=delay,
        )
        self.routes[path] = route
        return route

    def fail(
        self,
        path: str,
        status: int,
        *,
        times: int | None = None,
        retry_after: str | None = None,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
    ) -> None:
        """Answer ``status`` at ``path`` for the next ``times`` requests (None: until cleared)."""
        route = self.routes.setdefault(path, Route())
        route.fail_status = status
        route.fail_times = times
        route.fail_headers = dict(headers or {})
        if retry_after is not None:
            route.fail_headers["Retry-After"] = retry_after
        route.fail_body = body

    def clear_failure(self, path: str) -> None:
        route = self.routes[path]
        route.fail_status = None
        route.fail_times = None

    def redirect(self, path: str, to: str, status: int = 301) -> None:
        self.routes[path] = Route(redirect_to=to, redirect_status=status)

    def trickle(self, path: str, body: bytes, interval: float) -> None:
        """Send ``body`` one byte every ``interval`` seconds."""
        self.routes[path] = Route(body=body, trickle_interval=interval, etag=None)

    def gzip_bomb(self, path: str, size: int = 64 << 20) -> None:
        """Serve a gzip body that expands to ``size`` bytes of zeros."""
        self.routes[path] = Route(body=gzip_of_zeros(size), gzip=True)

    def count(self, path: str) -> int:
        """How many requests asked for ``path`` (query string included when given)."""
        return sum(
            1 for r in self.requests if r.path == path or ("?" not in path and r.path.split("?")[0] == path)
        )

    # --- serving ---------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(RecordedRequest(request.path_qs, dict(request.headers)))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._answer(request)
        finally:
            self.in_flight -= 1

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        route = self.routes.get(request.path_qs) or self.routes.get(request.path)
        if route is None:
            return web.Response(status=404, text="no such feed")
        if route.fail_status is not None and (route.fail_times is None or route.fail_times > 0):
            if route.fail_times is not None:
                route.fail_times -= 1
            return web.Response(status=route.fail_status, body=route.fail_body, headers=route.fail_headers)
        if route.delay:
            await asyncio.sleep(route.delay)
        if route.redirect_to is not None:
            return web.Response(status=route.redirect_status, headers={"Location": route.redirect_to})
        validators = {}
        if route.etag:
            validators["ETag"] = route.etag
        if route.last_modified:
            validators["Last-Modified"] = route.last_modified
        inm = request.headers.get("If-None-Match")
        ims = request.headers.get("If-Modified-Since")
        if (route.etag and inm == route.etag) or (
            inm is None and route.last_modified and ims == route.last_modified
        ):
            return web.Response(status=304, headers={**validators, **route.headers})
        headers = {"Content-Type": route.content_type, **validators, **route.headers}
        if route.gzip:
            headers["Content-Encoding"] = "gzip"
        if route.trickle_interval is None:
            return web.Response(body=route.body, headers=headers)
        response = web.StreamResponse(headers=headers)
        await response.prepare(request)
        for i in range(len(route.body)):
            await response.write(route.body[i : i + 1])
            await asyncio.sleep(route.trickle_interval)
        await response.write_eof()
        return response


class StaticResolver(AbstractResolver):
    """A fake DNS for tests: maps host names to fixed addresses (an aiohttp resolver).

    Lets a test name a host that "resolves" to loopback, to check the fetcher's connect-time
    address filter without real DNS.
    """

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        if host not in self.table:
            raise OSError(f"no such host {host}")
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for address in self.table[host]
        ]

    async def close(self) -> None:
        return None


def rss_item(n: int, published: datetime, *, label: str, guid_base: int) -> bytes:
    """One WordPress-style RSS item (for tests that publish new posts into a feed)."""
    slug = label.lower().replace(" ", "-")
    return f"""
  <item>
    <title>{label} article {n}</title>
    <link>https://learninginaction.com/{slug}-{n}/</link>
    <dc:creator><![CDATA[Alison Whitmire]]></dc:creator>
    <pubDate>{format_datetime(published)}</pubDate>
    <category><![CDATA[Coaching]]></category>
    <guid isPermaLink="false">https://learninginaction.com/?p={guid_base + n}</guid>
    <description><![CDATA[{label} article number {n}.]]></description>
  </item>""".encode()
