"""The gateway websocket: HELLO/IDENTIFY/READY, heartbeats, RESUME with replay, member chunking,
zlib-stream compression, intent gating, and fault hooks (drop, RECONNECT, INVALID_SESSION)."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from .state import P

if TYPE_CHECKING:
    from .server import Emulator

log = logging.getLogger(__name__)


class Intents:
    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_MODERATION = 1 << 2
    GUILD_PRESENCES = 1 << 8
    GUILD_MESSAGES = 1 << 9
    GUILD_MESSAGE_REACTIONS = 1 << 10
    GUILD_MESSAGE_TYPING = 1 << 11
    DIRECT_MESSAGES = 1 << 12
    DIRECT_MESSAGE_REACTIONS = 1 << 13
    DIRECT_MESSAGE_TYPING = 1 << 14
    MESSAGE_CONTENT = 1 << 15


GUILD_EVENTS = {
    "GUILD_CREATE": Intents.GUILDS,
    "GUILD_UPDATE": Intents.GUILDS,
    "GUILD_DELETE": Intents.GUILDS,
    "GUILD_ROLE_CREATE": Intents.GUILDS,
    "GUILD_ROLE_UPDATE": Intents.GUILDS,
    "GUILD_ROLE_DELETE": Intents.GUILDS,
    "CHANNEL_CREATE": Intents.GUILDS,
    "CHANNEL_UPDATE": Intents.GUILDS,
    "CHANNEL_DELETE": Intents.GUILDS,
    "CHANNEL_PINS_UPDATE": Intents.GUILDS,
    "THREAD_CREATE": Intents.GUILDS,
    "THREAD_UPDATE": Intents.GUILDS,
    "THREAD_DELETE": Intents.GUILDS,
    "THREAD_LIST_SYNC": Intents.GUILDS,
    "THREAD_MEMBER_UPDATE": Intents.GUILDS,
    "THREAD_MEMBERS_UPDATE": Intents.GUILDS,
    "GUILD_MEMBER_ADD": Intents.GUILD_MEMBERS,
    "GUILD_MEMBER_UPDATE": Intents.GUILD_MEMBERS,
    "GUILD_MEMBER_REMOVE": Intents.GUILD_MEMBERS,
    "GUILD_BAN_ADD": Intents.GUILD_MODERATION,
    "GUILD_BAN_REMOVE": Intents.GUILD_MODERATION,
    "MESSAGE_CREATE": Intents.GUILD_MESSAGES,
    "MESSAGE_UPDATE": Intents.GUILD_MESSAGES,
    "MESSAGE_DELETE": Intents.GUILD_MESSAGES,
    "MESSAGE_DELETE_BULK": Intents.GUILD_MESSAGES,
    "MESSAGE_REACTION_ADD": Intents.GUILD_MESSAGE_REACTIONS,
    "MESSAGE_REACTION_REMOVE": Intents.GUILD_MESSAGE_REACTIONS,
    "TYPING_START": Intents.GUILD_MESSAGE_TYPING,
}
DM_EVENTS = {
    "MESSAGE_CREATE": Intents.DIRECT_MESSAGES,
    "MESSAGE_UPDATE": Intents.DIRECT_MESSAGES,
    "MESSAGE_DELETE": Intents.DIRECT_MESSAGES,
    "CHANNEL_PINS_UPDATE": Intents.DIRECT_MESSAGES,
    "MESSAGE_REACTION_ADD": Intents.DIRECT_MESSAGE_REACTIONS,
    "MESSAGE_REACTION_REMOVE": Intents.DIRECT_MESSAGE_REACTIONS,
    "TYPING_START": Intents.DIRECT_MESSAGE_TYPING,
}
CHANNEL_SCOPED = ("MESSAGE_", "TYPING_START", "CHANNEL_PINS_UPDATE")
PRIVILEGED = {
    Intents.GUILD_MEMBERS: "members_intent",
    Intents.GUILD_PRESENCES: "presences_intent",
    Intents.MESSAGE_CONTENT: "message_content_intent",
}


@dataclass
class Connection:
    ws: web.WebSocketResponse
    compress: bool
    queue: asyncio.Queue[dict[str, Any] | None] = field(default_factory=asyncio.Queue)
    zctx: Any = None
    session: Session | None = None

    def __post_init__(self) -> None:
        if self.compress:
            self.zctx = zlib.compressobj()

    def encode(self, payload: dict[str, Any]) -> bytes | str:
        text = json.dumps(payload, separators=(",", ":"))
        if self.zctx is None:
            return text
        return self.zctx.compress(text.encode()) + self.zctx.flush(zlib.Z_SYNC_FLUSH)


@dataclass
class Session:
    id: str
    intents: int
    seq: int = 0
    backlog: list[dict[str, Any]] = field(default_factory=list)
    conn: Connection | None = None
    invalid: bool = False


class Gateway:
    def __init__(self, emulator: Emulator) -> None:
        self.em = emulator
        self.sessions: dict[str, Session] = {}
        self.connections: list[Connection] = []
        self.frames_received: list[dict[str, Any]] = []
        self.heartbeat_interval = 41250
        self.ack_heartbeats = True  # False simulates a zombie connection
        self._open = asyncio.Event()
        self._open.set()
        self.identify_count = 0
        self.resume_count = 0

    # -- public fault hooks -------------------------------------------------------------------
    def block_connections(self) -> None:
        """Hold new websocket connections (before HELLO) until `unblock_connections()`."""
        self._open.clear()

    def unblock_connections(self) -> None:
        self._open.set()

    def live(self) -> list[Session]:
        return [s for s in self.sessions.values() if s.conn is not None and not s.invalid]

    async def drop(self, code: int = 4000) -> None:
        """Close every live socket abruptly (non-fatal code): the client resumes."""
        for conn in list(self.connections):
            await self._close(conn, code)

    async def send_reconnect(self) -> None:
        for conn in list(self.connections):
            self._enqueue(conn, {"op": 7, "d": None})

    async def send_invalid_session(self, resumable: bool) -> None:
        for conn in list(self.connections):
            if conn.session is not None and not resumable:
                conn.session.invalid = True
            self._enqueue(conn, {"op": 9, "d": resumable})

    async def send_heartbeat_request(self) -> None:
        for conn in list(self.connections):
            self._enqueue(conn, {"op": 1, "d": None})

    async def close_all(self) -> None:
        for conn in list(self.connections):
            await self._close(conn, 1001)

    # -- dispatch -----------------------------------------------------------------------------
    def dispatch(
        self, event: str, data: dict[str, Any], *, guild_id: int | None = None, dm: bool = False
    ) -> None:
        """Send an event to every session whose intents allow it (and keep it for RESUME)."""
        self.em._record_event(event, data)
        if not dm and event.startswith(CHANNEL_SCOPED) and not self._bot_sees(data.get("channel_id")):
            self.em._notify()
            return
        for session in list(self.sessions.values()):
            if session.invalid:
                continue
            needed = (DM_EVENTS if dm else GUILD_EVENTS).get(event)
            if needed is not None and not session.intents & needed:
                continue
            payload = data
            if event in ("MESSAGE_CREATE", "MESSAGE_UPDATE") and not dm:
                payload = self._gate_content(session, data)
            self._send_dispatch(session, event, payload)
        self.em._notify()

    def _bot_sees(self, channel_id: str | None) -> bool:
        """Discord only sends channel-scoped events for channels the bot can view."""
        state = self.em.state
        ch = state.channels.get(int(channel_id)) if channel_id else None
        if ch is None or ch.guild_id is None:
            return True
        me = state.guilds[ch.guild_id].members.get(state.bot_user.id)
        return me is not None and bool(state.permissions_in(ch, me) & P.VIEW_CHANNEL)

    def _gate_content(self, session: Session, data: dict[str, Any]) -> dict[str, Any]:
        if session.intents & Intents.MESSAGE_CONTENT:
            return data
        bot_id = str(self.em.state.bot_user.id)
        if data.get("author", {}).get("id") == bot_id or any(
            u.get("id") == bot_id for u in data.get("mentions", [])
        ):
            return data
        return {**data, "content": "", "embeds": [], "attachments": [], "components": []}

    def _send_dispatch(self, session: Session, event: str, data: dict[str, Any]) -> None:
        session.seq += 1
        frame = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.backlog.append(frame)
        if len(session.backlog) > 5000:
            del session.backlog[:1000]
        if session.conn is not None:
            self._enqueue(session.conn, frame)

    def _enqueue(self, conn: Connection, payload: dict[str, Any]) -> None:
        conn.queue.put_nowait(payload)

    # -- connection handling ------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        await self._open.wait()
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        conn = Connection(ws, compress=request.query.get("compress") == "zlib-stream")
        self.connections.append(conn)
        writer = asyncio.create_task(self._writer(conn))
        self._enqueue(conn, {"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval}})
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                self.frames_received.append(frame)
                await self._on_frame(conn, frame)
        finally:
            if conn.session is not None and ws.close_code in (1000, 1001) and conn in self.connections:
                conn.session.invalid = True  # a clean client close ends the session (no RESUME)
            if conn in self.connections:
                self.connections.remove(conn)
            if conn.session is not None and conn.session.conn is conn:
                conn.session.conn = None
            conn.queue.put_nowait(None)
            await writer
        return ws

    async def _writer(self, conn: Connection) -> None:
        while True:
            payload = await conn.queue.get()
            if payload is None or conn.ws.closed:
                return
            data = conn.encode(payload)
            try:
                if isinstance(data, bytes):
                    await conn.ws.send_bytes(data)
                else:
                    await conn.ws.send_str(data)
            except (ConnectionError, RuntimeError):
                return

    async def _close(self, conn: Connection, code: int) -> None:
        if conn in self.connections:
            self.connections.remove(conn)
        if conn.session is not None and conn.session.conn is conn:
            conn.session.conn = None
        await conn.ws.close(code=code)

    async def _on_frame(self, conn: Connection, frame: dict[str, Any]) -> None:
        op, d = frame.get("op"), frame.get("d")
        if op == 1:
            if self.ack_heartbeats:
                self._enqueue(conn, {"op": 11, "d": None})
        elif op == 2:
            await self._identify(conn, d or {})
        elif op == 6:
            await self._resume(conn, d or {})
        elif op == 8:
            self._chunk(conn, d or {})
        self.em._notify()

    async def _identify(self, conn: Connection, d: dict[str, Any]) -> None:
        app = self.em.state.app
        assert app is not None
        if d.get("token") != app.token:
            await self._close(conn, 4004)
            return
        intents = d.get("intents")
        if intents is None:
            await self._close(conn, 4013)
            return
        for bit, attr in PRIVILEGED.items():
            if intents & bit and not getattr(app, attr):
                await self._close(conn, 4014)
                return
        self.identify_count += 1
        session = Session(id=secrets.token_hex(16), intents=intents, conn=conn)
        conn.session = session
        self.sessions[session.id] = session
        state = self.em.state
        ready = {
            "v": 10,
            "user": {**state.bot_user.payload(), "verified": True, "mfa_enabled": False},
            "guilds": [{"id": str(g), "unavailable": True} for g in state.guilds if self._on_shard(g, d)],
            "session_id": session.id,
            "resume_gateway_url": self.em.gateway_url,
            "application": {"id": str(app.id), "flags": app.flags},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "user_settings": {},
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "auth": {},
        }
        if "shard" in d:
            ready["shard"] = d["shard"]
        self._send_dispatch(session, "READY", ready)
        self.em._record_event("READY", ready)
        for guild in state.guilds.values():
            if intents & Intents.GUILDS and self._on_shard(guild.id, d):
                threshold = int(d.get("large_threshold") or 50)
                payload = state.guild_payload(guild, gateway=True, large_threshold=threshold)
                if not intents & Intents.GUILD_MEMBERS:
                    bot_id = state.bot_user.id
                    payload["members"] = [m for m in payload["members"] if m["user"]["id"] == str(bot_id)]
                self._send_dispatch(session, "GUILD_CREATE", payload)
                self.em._record_event("GUILD_CREATE", payload)

    @staticmethod
    def _on_shard(guild_id: int, identify: dict[str, Any]) -> bool:
        shard = identify.get("shard")
        return not shard or (guild_id >> 22) % int(shard[1]) == int(shard[0])

    async def _resume(self, conn: Connection, d: dict[str, Any]) -> None:
        app = self.em.state.app
        assert app is not None
        if d.get("token") != app.token:
            await self._close(conn, 4004)
            return
        session = self.sessions.get(d.get("session_id", ""))
        if session is None or session.invalid:
            self._enqueue(conn, {"op": 9, "d": False})
            return
        self.resume_count += 1
        if session.conn is not None and session.conn is not conn:
            old = session.conn
            session.conn = None
            await old.ws.close(code=4000)
        session.conn = conn
        conn.session = session
        seq = d.get("seq") or 0
        for frame in session.backlog:
            if frame["s"] > seq:
                self._enqueue(conn, frame)
        self._send_dispatch(session, "RESUMED", {})
        self.em._record_event("RESUMED", {})

    def _chunk(self, conn: Connection, d: dict[str, Any]) -> None:
        session = conn.session
        if session is None:
            return
        state = self.em.state
        guild = state.guilds.get(int(d.get("guild_id", 0)))
        if guild is None:
            return
        members = list(guild.members.values())
        not_found: list[str] = []
        user_ids = d.get("user_ids")
        if user_ids is not None:
            ids = [int(u) for u in (user_ids if isinstance(user_ids, list) else [user_ids])]
            not_found = [str(u) for u in ids if u not in guild.members]
            members = [guild.members[u] for u in ids if u in guild.members]
        else:
            query = (d.get("query") or "").lower()
            if query == "" and not session.intents & Intents.GUILD_MEMBERS:
                members = []
            members = [
                m
                for m in members
                if m.user.username.lower().startswith(query) or (m.nick or "").lower().startswith(query)
            ]
            limit = d.get("limit") or 0
            if query and limit == 0:
                limit = 100
            if limit:
                members = members[:limit]
        chunks = [members[i : i + 1000] for i in range(0, len(members), 1000)] or [[]]
        for i, chunk in enumerate(chunks):
            payload: dict[str, Any] = {
                "guild_id": str(guild.id),
                "members": [m.payload() for m in chunk],
                "chunk_index": i,
                "chunk_count": len(chunks),
            }
            if d.get("nonce") is not None:
                payload["nonce"] = d["nonce"]
            if not_found and i == 0:
                payload["not_found"] = not_found
            if d.get("presences"):
                payload["presences"] = []
            self._send_dispatch(session, "GUILD_MEMBERS_CHUNK", payload)
            self.em._record_event("GUILD_MEMBERS_CHUNK", payload)
