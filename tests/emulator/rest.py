"""REST handlers under /api/v10. Each handler mutates `State`, dispatches the gateway events
Discord would, and returns (status, json body or None)."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from .interactions import CallbackType, InteractionRecord, InteractionResponse, ModalRecord
from .state import (
    MISSING_PERMISSIONS,
    THREAD_TYPES,
    ApiError,
    Channel,
    ChannelType,
    Command,
    Guild,
    Member,
    Message,
    Overwrite,
    P,
    Role,
    field_error,
    invalid_form,
    iso,
)
from .validation import check_message, check_modal, check_thread

if TYPE_CHECKING:
    from .server import Emulator

Result = tuple[int, Any]
Handler = Callable[["Req"], Awaitable[Result]]
MENTION_USER = re.compile(r"<@!?(\d+)>")
MENTION_ROLE = re.compile(r"<@&(\d+)>")
COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")


@dataclass
class Req:
    method: str
    path: str
    template: str
    params: dict[str, str]
    query: dict[str, str]
    json: Any
    files: list[dict[str, Any]] = field(default_factory=list)
    reason: str | None = None


class Router:
    def __init__(self) -> None:
        self.routes: list[tuple[str, str, re.Pattern[str], Handler]] = []

    def add(self, method: str, template: str, handler: Handler) -> None:
        rx = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
        self.routes.append((method, template, re.compile(rx), handler))

    def match(self, method: str, path: str) -> tuple[str, dict[str, str], Handler] | None:
        # Literal segments (e.g. "@me", "bulk-delete") win over parameters: try the most specific first.
        best = None
        for m, template, rx, handler in self.routes:
            if m != method:
                continue
            hit = rx.match(path)
            if hit:
                score = template.count("{")
                if best is None or score < best[0]:
                    best = (score, template, {k: unquote(v) for k, v in hit.groupdict().items()}, handler)
        return None if best is None else best[1:]

    def template_for(self, path: str) -> str:
        """The template of any method matching `path` (for rate-limit buckets of unknown methods)."""
        for _m, template, rx, _h in self.routes:
            if rx.match(path):
                return template
        return path


class Rest:
    def __init__(self, em: Emulator) -> None:
        self.em = em
        self.state = em.state
        self.router = Router()
        self.nonces: dict[tuple[int, str], tuple[float, int]] = {}
        self._register()

    # -- helpers ------------------------------------------------------------------------------
    @property
    def app_id(self) -> int:
        assert self.state.app is not None, "no application: build a world first"
        return self.state.app.id

    @property
    def bot_id(self) -> int:
        return self.state.bot_user.id

    def bot_member(self, guild: Guild) -> Member:
        m = guild.members.get(self.bot_id)
        if m is None:
            raise ApiError(403, 50001, "Missing Access")
        return m

    def guild_of(self, channel: Channel) -> Guild | None:
        return self.state.guilds.get(channel.guild_id) if channel.guild_id else None

    def dispatch(
        self, event: str, data: dict[str, Any], channel: Channel | None = None, guild_id: int | None = None
    ):
        dm = channel is not None and channel.type == ChannelType.DM
        self.em.gateway.dispatch(event, data, guild_id=guild_id, dm=dm)

    def channel_event(self, prefix: str, ch: Channel) -> None:
        kind = "THREAD" if ch.is_thread else "CHANNEL"
        self.dispatch(f"{kind}_{prefix}", ch.payload(), guild_id=ch.guild_id)

    def member_update(self, guild: Guild, member: Member) -> None:
        self.dispatch(
            "GUILD_MEMBER_UPDATE", {"guild_id": str(guild.id), **member.payload()}, guild_id=guild.id
        )

    def check_hierarchy(self, guild: Guild, role: Role) -> None:
        bot = self.bot_member(guild)
        if bot.id == guild.owner_id:
            return
        if role.position >= self.state.top_position(guild, bot):
            raise ApiError(*MISSING_PERMISSIONS)

    def check_member_hierarchy(self, guild: Guild, target: Member) -> None:
        bot = self.bot_member(guild)
        if target.id == guild.owner_id:
            raise ApiError(*MISSING_PERMISSIONS)
        if bot.id != guild.owner_id and self.state.top_position(guild, target) >= self.state.top_position(
            guild, bot
        ):
            raise ApiError(*MISSING_PERMISSIONS)

    # -- message creation shared by channel sends, interactions, followups, forum posts --------
    def compute_mentions(
        self, msg: Message, payload: dict[str, Any], perms: int, user_message: bool = False
    ) -> None:
        content = msg.content or ""
        am = payload.get("allowed_mentions")
        parse = {"users", "roles", "everyone"} if am is None else set(am.get("parse") or [])
        allowed_users = {int(u) for u in (am or {}).get("users") or []}
        allowed_roles = {int(r) for r in (am or {}).get("roles") or []}
        guild = self.state.guilds.get(msg.guild_id) if msg.guild_id else None
        users = [int(u) for u in MENTION_USER.findall(content)]
        msg.mentions = list(
            dict.fromkeys(
                u for u in users if u in self.state.users and ("users" in parse or u in allowed_users)
            )
        )
        if guild is not None:
            roles = [int(r) for r in MENTION_ROLE.findall(content)]
            msg.mention_roles = list(
                dict.fromkeys(
                    r for r in roles if r in guild.roles and ("roles" in parse or r in allowed_roles)
                )
            )
            wants = "@everyone" in content or "@here" in content
            msg.mention_everyone = wants and "everyone" in parse and bool(perms & P.MENTION_EVERYONE)
        ref = msg.message_reference
        if ref and (am is None or am.get("replied_user", True)):
            target = self.state.messages_by_id.get(int(ref.get("message_id", 0)))
            if target is not None and target.author_id not in msg.mentions and not user_message:
                msg.mentions.append(target.author_id)

    def new_message(
        self,
        channel: Channel,
        author_id: int,
        payload: dict[str, Any],
        files: list[dict[str, Any]],
        *,
        perms: int = P.ALL,
        type: int = 0,
        webhook_id: int | None = None,
        interaction_metadata: dict[str, Any] | None = None,
        ephemeral: bool = False,
        msg_id: int | None = None,
    ) -> Message:
        state = self.state
        embeds = list(payload.get("embeds") or [])
        for e in embeds:
            e.setdefault("type", "rich")
        msg = Message(
            id=msg_id or state.new_id(),
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author_id=author_id,
            content=str(payload.get("content") or ""),
            type=type,
            embeds=embeds,
            components=list(payload.get("components") or []),
            attachments=[self._attachment(f) for f in files],
            nonce=payload.get("nonce"),
            flags=int(payload.get("flags") or 0),
            tts=bool(payload.get("tts")),
            webhook_id=webhook_id,
            interaction_metadata=interaction_metadata,
            application_id=state.app.id if webhook_id else None,  # type: ignore[union-attr]
            created_mono=self.em.clock.now(),
        )
        ref = payload.get("message_reference")
        if ref:
            target = state.messages_by_id.get(int(ref.get("message_id", 0)))
            if target is None or target.deleted:
                if ref.get("fail_if_not_exists", True):
                    raise invalid_form(
                        {"message_reference": field_error("REPLIES_UNKNOWN_MESSAGE", "Unknown message")}
                    )
            else:
                msg.message_reference = {
                    "type": 0,
                    "message_id": str(target.id),
                    "channel_id": str(target.channel_id),
                    **({"guild_id": str(target.guild_id)} if target.guild_id else {}),
                }
                msg.type = 19 if type == 0 else type
        self.compute_mentions(msg, payload, perms)
        if ephemeral:
            msg.flags |= 64
            state.ephemeral[msg.id] = msg
            return msg
        state.messages_by_id[msg.id] = msg
        state.channel_messages.setdefault(channel.id, []).append(msg.id)
        channel.last_message_id = msg.id
        if channel.is_thread and msg.id != channel.id:  # a forum post's starter message is not counted
            channel.message_count += 1
            channel.total_message_sent += 1
        created = state.message_payload(msg, gateway=True, with_nonce=True)
        self.dispatch("MESSAGE_CREATE", created, channel, channel.guild_id)
        return msg

    def _attachment(self, f: dict[str, Any]) -> dict[str, Any]:
        aid = self.state.new_id()
        url = f"https://cdn.discordapp.com/attachments/0/{aid}/{f['filename']}"
        return {
            "id": str(aid),
            "filename": f["filename"],
            "size": f["size"],
            "url": url,
            "proxy_url": url,
            "content_type": f.get("content_type"),
        }

    def prepare_send(self, channel: Channel, payload: dict[str, Any], files: list[dict[str, Any]]) -> int:
        """Permission checks for the bot sending to `channel`; returns its permissions."""
        if channel.type == ChannelType.DM:
            user = self.state.users[channel.recipient_id]  # type: ignore[index]
            shares_guild = any(
                user.id in g.members and self.bot_id in g.members for g in self.state.guilds.values()
            )
            if not user.dms_open or user.bot or not shares_guild:
                raise ApiError(403, 50007, "Cannot send messages to this user")
            return self.state.permissions_in(channel, self.bot_member_dummy())
        guild = self.guild_of(channel)
        assert guild is not None
        bot = self.bot_member(guild)
        if channel.type == ChannelType.FORUM:
            raise ApiError(400, 50008, "Cannot send messages in a non-text channel")
        send = P.SEND_MESSAGES_IN_THREADS if channel.is_thread else P.SEND_MESSAGES
        perms = self.state.require(channel, bot, send)
        if payload.get("embeds") and not perms & P.EMBED_LINKS:
            raise ApiError(*MISSING_PERMISSIONS)
        if files and not perms & P.ATTACH_FILES:
            raise ApiError(*MISSING_PERMISSIONS)
        if payload.get("message_reference") and not perms & P.READ_MESSAGE_HISTORY:
            raise ApiError(*MISSING_PERMISSIONS)
        if channel.is_thread and channel.locked and not perms & P.MANAGE_THREADS:
            raise ApiError(403, 160005, "Thread is locked")
        if channel.is_thread and channel.archived:
            channel.archived = False
            channel.archive_timestamp = iso()
            self.channel_event("UPDATE", channel)
        return perms

    def bot_member_dummy(self) -> Member:
        return Member(guild_id=0, user=self.state.bot_user)

    def check_nonce(self, author_id: int, payload: dict[str, Any]) -> Message | None:
        nonce = payload.get("nonce")
        if nonce is None or not payload.get("enforce_nonce"):
            return None
        key = (author_id, str(nonce))
        hit = self.nonces.get(key)
        now = self.em.clock.now()
        if hit and now - hit[0] <= self.em.nonce_window:
            msg = self.state.messages_by_id.get(hit[1])
            if msg is not None:
                return msg
        return None

    def remember_nonce(self, author_id: int, payload: dict[str, Any], msg: Message) -> None:
        if payload.get("nonce") is not None and payload.get("enforce_nonce"):
            self.nonces[(author_id, str(payload["nonce"]))] = (self.em.clock.now(), msg.id)

    # -- registration -------------------------------------------------------------------------
    def _register(self) -> None:
        r = self.router.add
        r("GET", "/users/@me", self.get_me)
        r("GET", "/users/{user_id}", self.get_user)
        r("GET", "/oauth2/applications/@me", self.get_app)
        r("GET", "/applications/@me", self.get_app)
        r("GET", "/gateway", self.get_gateway)
        r("GET", "/gateway/bot", self.get_gateway_bot)
        for base in ("/applications/{application_id}", "/applications/{application_id}/guilds/{guild_id}"):
            r("GET", base + "/commands", self.list_commands)
            r("PUT", base + "/commands", self.put_commands)
            r("POST", base + "/commands", self.post_command)
            r("GET", base + "/commands/{command_id}", self.get_command)
            r("PATCH", base + "/commands/{command_id}", self.patch_command)
            r("DELETE", base + "/commands/{command_id}", self.delete_command)
        c = "/channels/{channel_id}"
        m = c + "/messages/{message_id}"
        r("GET", c, self.get_channel)
        r("PATCH", c, self.patch_channel)
        r("DELETE", c, self.delete_channel)
        r("PUT", c + "/permissions/{overwrite_id}", self.put_overwrite)
        r("DELETE", c + "/permissions/{overwrite_id}", self.delete_overwrite)
        r("POST", c + "/messages", self.create_message)
        r("GET", c + "/messages", self.history)
        r("POST", c + "/messages/bulk-delete", self.bulk_delete)
        r("GET", m, self.get_message)
        r("PATCH", m, self.edit_message)
        r("DELETE", m, self.delete_message)
        r("POST", m + "/crosspost", self.crosspost)
        r("POST", c + "/typing", self.typing)
        r("GET", c + "/messages/pins", self.list_pins)
        r("PUT", c + "/messages/pins/{message_id}", self.pin)
        r("DELETE", c + "/messages/pins/{message_id}", self.unpin)
        r("GET", c + "/pins", self.list_pins_legacy)
        r("PUT", c + "/pins/{message_id}", self.pin)
        r("DELETE", c + "/pins/{message_id}", self.unpin)
        r("PUT", m + "/reactions/{emoji}/@me", self.add_reaction)
        r("DELETE", m + "/reactions/{emoji}/@me", self.remove_own_reaction)
        r("DELETE", m + "/reactions/{emoji}/{user_id}", self.remove_reaction)
        r("GET", m + "/reactions/{emoji}", self.get_reactions)
        r("DELETE", m + "/reactions", self.clear_reactions)
        r("POST", m + "/threads", self.thread_from_message)
        r("POST", c + "/threads", self.create_thread)
        r("PUT", c + "/thread-members/@me", self.join_thread)
        r("DELETE", c + "/thread-members/@me", self.leave_thread)
        r("PUT", c + "/thread-members/{user_id}", self.add_thread_member)
        r("DELETE", c + "/thread-members/{user_id}", self.remove_thread_member)
        r("GET", c + "/thread-members", self.list_thread_members)
        r("GET", c + "/thread-members/{user_id}", self.get_thread_member)
        r("GET", c + "/threads/archived/public", self.archived_threads)
        g = "/guilds/{guild_id}"
        r("GET", g, self.get_guild)
        r("GET", g + "/channels", self.guild_channels)
        r("POST", g + "/channels", self.create_channel)
        r("PATCH", g + "/channels", self.channel_positions)
        r("GET", g + "/threads/active", self.active_threads)
        r("GET", g + "/members", self.list_members)
        r("GET", g + "/members/search", self.search_members)
        r("GET", g + "/members/{user_id}", self.get_member)
        r("PATCH", g + "/members/@me", self.edit_me)
        r("PATCH", g + "/members/{user_id}", self.edit_member)
        r("DELETE", g + "/members/{user_id}", self.kick)
        r("PUT", g + "/members/{user_id}/roles/{role_id}", self.add_role)
        r("DELETE", g + "/members/{user_id}/roles/{role_id}", self.remove_role)
        r("GET", g + "/roles", self.list_roles)
        r("POST", g + "/roles", self.create_role)
        r("PATCH", g + "/roles", self.role_positions)
        r("GET", g + "/roles/{role_id}", self.get_role)
        r("PATCH", g + "/roles/{role_id}", self.edit_role)
        r("DELETE", g + "/roles/{role_id}", self.delete_role)
        r("GET", g + "/bans", self.list_bans)
        r("GET", g + "/bans/{user_id}", self.get_ban)
        r("PUT", g + "/bans/{user_id}", self.ban)
        r("DELETE", g + "/bans/{user_id}", self.unban)
        r("POST", "/users/@me/channels", self.open_dm)
        r("GET", "/users/@me/guilds", self.my_guilds)
        r("GET", g + "/audit-logs", self.audit_logs)
        r("POST", "/interactions/{interaction_id}/{interaction_token}/callback", self.callback)
        w = "/webhooks/{webhook_id}/{webhook_token}"
        r("POST", w, self.followup)
        r("GET", w + "/messages/{message_id}", self.get_webhook_message)
        r("PATCH", w + "/messages/{message_id}", self.edit_webhook_message)
        r("DELETE", w + "/messages/{message_id}", self.delete_webhook_message)

    # -- session ------------------------------------------------------------------------------
    async def get_me(self, req: Req) -> Result:
        return 200, {
            **self.state.bot_user.payload(),
            "verified": True,
            "mfa_enabled": False,
            "locale": "en-US",
        }

    async def get_user(self, req: Req) -> Result:
        u = self.state.users.get(int(req.params["user_id"])) if req.params["user_id"].isdigit() else None
        if u is None:
            raise ApiError(404, 10013, "Unknown User")
        return 200, u.payload()

    async def get_app(self, req: Req) -> Result:
        app = self.state.app
        assert app is not None
        owner = self.state.users[app.owner_id]
        return 200, {
            "id": str(app.id),
            "name": app.name,
            "description": "",
            "icon": None,
            "bot_public": False,
            "bot_require_code_grant": False,
            "owner": owner.payload(),
            "verify_key": "0" * 64,
            "flags": app.flags,
            "team": None,
            "summary": "",
            "interactions_endpoint_url": None,
            "bot": self.state.bot_user.payload(),
            "approximate_guild_count": len(self.state.guilds),
        }

    async def get_gateway(self, req: Req) -> Result:
        return 200, {"url": self.em.gateway_url}

    async def get_gateway_bot(self, req: Req) -> Result:
        return 200, {
            "url": self.em.gateway_url,
            "shards": 1,
            "session_start_limit": {
                "total": 1000,
                "remaining": 999,
                "reset_after": 86400000,
                "max_concurrency": 1,
            },
        }

    # -- application commands -----------------------------------------------------------------
    def _app_check(self, req: Req) -> int | None:
        if req.params["application_id"] != str(self.state.app.id):  # type: ignore[union-attr]
            raise ApiError(403, 50001, "Missing Access")
        gid = req.params.get("guild_id")
        if gid is not None:
            self.state.guild(gid)
            return int(gid)
        return None

    def _scoped(self, guild_id: int | None) -> list[Command]:
        return [c for c in self.state.commands.values() if c.guild_id == guild_id]

    def _build_command(self, body: dict[str, Any], guild_id: int | None, existing: Command | None) -> Command:
        errors: dict[str, Any] = {}
        ctype = int(body.get("type", 1))
        name = str(body.get("name", ""))
        if not COMMAND_NAME.match(name) or (ctype == 1 and name != name.lower()):
            errors["name"] = field_error("APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
        desc = str(body.get("description", ""))
        if ctype == 1 and not 1 <= len(desc) <= 100:
            errors["description"] = field_error(
                "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
            )
        if len(body.get("options") or []) > 25:
            errors["options"] = field_error("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        if errors:
            raise invalid_form(errors)
        dmp = body.get("default_member_permissions")
        cmd = Command(
            id=existing.id if existing else self.state.new_id(),
            application_id=self.state.app.id,  # type: ignore[union-attr]
            name=name,
            description=desc,
            type=ctype,
            options=list(body.get("options") or []),
            default_member_permissions=None if dmp is None else str(dmp),
            guild_id=guild_id,
            nsfw=bool(body.get("nsfw")),
            contexts=body.get("contexts"),
            integration_types=body.get("integration_types"),
            version=self.state.new_id(),
            raw=body,
        )
        return cmd

    async def list_commands(self, req: Req) -> Result:
        gid = self._app_check(req)
        return 200, [c.payload() for c in self._scoped(gid)]

    async def put_commands(self, req: Req) -> Result:
        gid = self._app_check(req)
        body = req.json or []
        if len(body) > 100:
            raise invalid_form(
                {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Too many commands"}]}
            )
        old = {(c.name, c.type): c for c in self._scoped(gid)}
        new = [self._build_command(b, gid, old.get((b.get("name"), int(b.get("type", 1))))) for b in body]
        names = [(c.name, c.type) for c in new]
        if len(names) != len(set(names)):
            raise invalid_form(
                {"_errors": [{"code": "APPLICATION_COMMANDS_DUPLICATE_NAME", "message": "Duplicate"}]}
            )
        for c in old.values():
            del self.state.commands[c.id]
        for c in new:
            self.state.commands[c.id] = c
        return 200, [c.payload() for c in new]

    async def post_command(self, req: Req) -> Result:
        gid = self._app_check(req)
        body = req.json or {}
        existing = next(
            (
                c
                for c in self._scoped(gid)
                if c.name == body.get("name") and c.type == int(body.get("type", 1))
            ),
            None,
        )
        cmd = self._build_command(body, gid, existing)
        self.state.commands[cmd.id] = cmd
        return (200 if existing else 201), cmd.payload()

    def _command(self, req: Req) -> Command:
        gid = self._app_check(req)
        cid = req.params["command_id"]
        cmd = self.state.commands.get(int(cid)) if cid.isdigit() else None
        if cmd is None or cmd.guild_id != gid:
            raise ApiError(404, 10063, "Unknown application command")
        return cmd

    async def get_command(self, req: Req) -> Result:
        return 200, self._command(req).payload()

    async def patch_command(self, req: Req) -> Result:
        cmd = self._command(req)
        body = {**cmd.raw, **(req.json or {})}
        new = self._build_command(body, cmd.guild_id, cmd)
        self.state.commands[cmd.id] = new
        return 200, new.payload()

    async def delete_command(self, req: Req) -> Result:
        cmd = self._command(req)
        del self.state.commands[cmd.id]
        return 204, None

    # -- channels -----------------------------------------------------------------------------
    def _channel(self, req: Req, *needed: int) -> tuple[Channel, int]:
        ch = self.state.channel(req.params["channel_id"])
        if ch.type == ChannelType.DM:
            return ch, self.state.permissions_in(ch, self.bot_member_dummy())
        guild = self.guild_of(ch)
        assert guild is not None
        return ch, self.state.require(ch, self.bot_member(guild), *needed)

    async def get_channel(self, req: Req) -> Result:
        ch, _ = self._channel(req)
        return 200, ch.payload()

    async def patch_channel(self, req: Req) -> Result:
        ch, perms = self._channel(req)
        body = req.json or {}
        if ch.is_thread:
            return 200, self._patch_thread(ch, perms, body)
        if not perms & P.MANAGE_CHANNELS:
            raise ApiError(*MISSING_PERMISSIONS)
        errors: dict[str, Any] = {}
        if "name" in body and not 1 <= len(body["name"] or "") <= 100:
            errors["name"] = field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        if "topic" in body and body["topic"] is not None and len(body["topic"]) > 1024:
            errors["topic"] = field_error("BASE_TYPE_BAD_LENGTH", "Must be 1024 or fewer in length.")
        if errors:
            raise invalid_form(errors)
        for key in ("name", "topic", "nsfw", "rate_limit_per_user", "position"):
            if key in body:
                setattr(ch, key, body[key])
        if "parent_id" in body:
            ch.parent_id = int(body["parent_id"]) if body["parent_id"] else None
        if "type" in body and body["type"] in (ChannelType.TEXT, ChannelType.NEWS):
            ch.type = body["type"]
        if "permission_overwrites" in body:
            if not perms & P.MANAGE_ROLES:
                raise ApiError(*MISSING_PERMISSIONS)
            ch.overwrites = {
                int(o["id"]): Overwrite(
                    int(o["id"]), int(o["type"]), int(o.get("allow", 0)), int(o.get("deny", 0))
                )
                for o in body["permission_overwrites"]
            }
        if "available_tags" in body and ch.type == ChannelType.FORUM:
            tags = []
            for t in body["available_tags"]:
                if not 1 <= len(t.get("name", "")) <= 20:
                    raise invalid_form(
                        {"available_tags": field_error("BASE_TYPE_BAD_LENGTH", "Tag name 1-20")}
                    )
                tags.append(
                    {
                        "id": str(t.get("id") or self.state.new_id()),
                        "name": t["name"],
                        "moderated": bool(t.get("moderated")),
                        "emoji_id": t.get("emoji_id"),
                        "emoji_name": t.get("emoji_name"),
                    }
                )
            if len(tags) > 20:
                raise invalid_form(
                    {"available_tags": field_error("BASE_TYPE_MAX_LENGTH", "Must be 20 or fewer")}
                )
            ch.available_tags = tags
        self.channel_event("UPDATE", ch)
        return 200, ch.payload()

    def _patch_thread(self, th: Channel, perms: int, body: dict[str, Any]) -> dict[str, Any]:
        manage = bool(perms & P.MANAGE_THREADS)
        owner = th.owner_id == self.bot_id
        if "locked" in body and bool(body["locked"]) != th.locked and not manage:
            raise ApiError(*MISSING_PERMISSIONS)
        if th.locked and not manage and body.get("archived") is False:
            raise ApiError(*MISSING_PERMISSIONS)
        if any(
            k in body for k in ("name", "auto_archive_duration", "rate_limit_per_user", "applied_tags")
        ) and not (manage or owner):
            raise ApiError(*MISSING_PERMISSIONS)
        if "archived" in body and not (manage or owner or perms & P.SEND_MESSAGES_IN_THREADS):
            raise ApiError(*MISSING_PERMISSIONS)
        if "name" in body or "auto_archive_duration" in body:
            check_thread(
                {
                    "name": body.get("name", th.name),
                    "auto_archive_duration": body.get("auto_archive_duration"),
                }
            )
        for key in ("name", "auto_archive_duration", "rate_limit_per_user", "locked", "invitable"):
            if key in body:
                setattr(th, key, body[key])
        if "archived" in body:
            if bool(body["archived"]) != th.archived:
                th.archive_timestamp = iso()
            th.archived = bool(body["archived"])
        if "applied_tags" in body:
            th.applied_tags = self._tags(self.state.channels[th.parent_id], body["applied_tags"])  # type: ignore[index]
        self.channel_event("UPDATE", th)
        return th.payload()

    async def delete_channel(self, req: Req) -> Result:
        ch, perms = self._channel(req)
        if ch.type == ChannelType.DM:
            return 200, ch.payload()
        needed = P.MANAGE_THREADS if ch.is_thread else P.MANAGE_CHANNELS
        if not perms & needed:
            raise ApiError(*MISSING_PERMISSIONS)
        ch.deleted = True
        if ch.is_thread:
            self.dispatch(
                "THREAD_DELETE",
                {
                    "id": str(ch.id),
                    "guild_id": str(ch.guild_id),
                    "parent_id": str(ch.parent_id),
                    "type": ch.type,
                },
                guild_id=ch.guild_id,
            )
        else:
            self.channel_event("DELETE", ch)
        return 200, ch.payload()

    async def put_overwrite(self, req: Req) -> Result:
        ch, perms = self._channel(req)
        if not perms & P.MANAGE_ROLES:
            raise ApiError(*MISSING_PERMISSIONS)
        body = req.json or {}
        oid = int(req.params["overwrite_id"])
        ch.overwrites[oid] = Overwrite(
            oid, int(body.get("type", 0)), int(body.get("allow", 0)), int(body.get("deny", 0))
        )
        self.channel_event("UPDATE", ch)
        return 204, None

    async def delete_overwrite(self, req: Req) -> Result:
        ch, perms = self._channel(req)
        if not perms & P.MANAGE_ROLES:
            raise ApiError(*MISSING_PERMISSIONS)
        ch.overwrites.pop(int(req.params["overwrite_id"]), None)
        self.channel_event("UPDATE", ch)
        return 204, None

    async def guild_channels(self, req: Req) -> Result:
        guild = self.state.guild(req.params["guild_id"])
        return 200, [c.payload() for c in guild.channels.values() if not c.is_thread and not c.deleted]

    async def create_channel(self, req: Req) -> Result:
        guild = self.state.guild(req.params["guild_id"])
        self.state.require_guild(guild, self.bot_member(guild), P.MANAGE_CHANNELS)
        body = req.json or {}
        name = body.get("name") or ""
        if not 1 <= len(name) <= 100:
            raise invalid_form(
                {"name": field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")}
            )
        ows = [
            Overwrite(int(o["id"]), int(o["type"]), int(o.get("allow", 0)), int(o.get("deny", 0)))
            for o in body.get("permission_overwrites") or []
        ]
        if ows:
            self.state.require_guild(guild, self.bot_member(guild), P.MANAGE_ROLES)
        ch = self.state.add_channel(
            guild,
            name,
            int(body.get("type", 0)),
            ows,
            topic=body.get("topic"),
            parent_id=int(body["parent_id"]) if body.get("parent_id") else None,
        )
        if body.get("available_tags"):
            ch.available_tags = [
                {
                    "id": str(self.state.new_id()),
                    "moderated": False,
                    "emoji_id": None,
                    "emoji_name": None,
                    **t,
                }
                for t in body["available_tags"]
            ]
        self.channel_event("CREATE", ch)
        return 201, ch.payload()

    async def channel_positions(self, req: Req) -> Result:
        guild = self.state.guild(req.params["guild_id"])
        self.state.require_guild(guild, self.bot_member(guild), P.MANAGE_CHANNELS)
        for item in req.json or []:
            ch = self.state.channel(item["id"])
            if item.get("position") is not None:
                ch.position = int(item["position"])
            self.channel_event("UPDATE", ch)
        return 204, None

    # -- messages -----------------------------------------------------------------------------
    async def create_message(self, req: Req) -> Result:
        ch = self.state.channel(req.params["channel_id"])
        payload = req.json or {}
        check_message(payload, has_files=bool(req.files))
        perms = self.prepare_send(ch, payload, req.files)
        dup = self.check_nonce(self.bot_id, payload)
        if dup is not None:
            return 200, self.state.message_payload(dup, with_nonce=True)
        msg = self.new_message(ch, self.bot_id, payload, req.files, perms=perms)
        self.remember_nonce(self.bot_id, payload, msg)
        return 200, self.state.message_payload(msg, with_nonce=True)

    async def history(self, req: Req) -> Result:
        ch, _ = self._channel(req)
        if ch.type != ChannelType.DM:
            guild = self.guild_of(ch)
            perms = self.state.permissions_in(ch, self.bot_member(guild))  # type: ignore[arg-type]
            if not perms & P.READ_MESSAGE_HISTORY:
                return 200, []
        limit = int(req.query.get("limit", 50))
        if not 1 <= limit <= 100:
            raise invalid_form({"limit": field_error("NUMBER_TYPE_MAX", "Must be between 1 and 100.")})
        msgs = self.state.messages(ch.id)
        q = req.query
        if "before" in q:
            msgs = [m for m in msgs if m.id < int(q["before"])][-limit:]
        elif "after" in q:
            msgs = [m for m in msgs if m.id > int(q["after"])][:limit]
        elif "around" in q:
            aid = int(q["around"])
            before = [m for m in msgs if m.id < aid][-(limit // 2) :] if limit > 1 else []
            rest = [m for m in msgs if m.id >= aid][: limit - len(before)]
            msgs = before + rest
        else:
            msgs = msgs[-limit:]
        return 200, [self.state.message_payload(m) for m in reversed(msgs)]

    async def get_message(self, req: Req) -> Result:
        ch, perms = self._channel(req)
        if not perms & P.READ_MESSAGE_HISTORY:
            raise ApiError(*MISSING_PERMISSIONS)
        return 200, self.state.message_payload(self.state.message(ch.id, req.params["message_id"]))

    async def edit_message(self, req: Req) -> Result:
        ch, perms = self._channel(req)
        msg = self.state.message(ch.id, req.params["message_id"])
        body = req.json or {}
        if msg.author_id != self.bot_id:
            if set(body) - {"flags"}:
                raise ApiError(403, 50005, "Cannot edit a message authored by another user")
            if not perms & P.MANAGE_MESSAGES:
                raise ApiError(*MISSING_PERMISSIONS)
        check_message(body, edit=True)
        self.apply_edit(msg, body, req.files, perms)
        return 200, self.state.message_payload(msg)

    def apply_edit(
        self, msg: Message, body: dict[str, Any], files: list[dict[str, Any]], perms: int = P.ALL
    ) -> None:
        if "content" in body:
            msg.content = str(body["content"] or "")
        if "embeds" in body:
            msg.embeds = [{"type": "rich", **e} for e in body["embeds"] or []]
        if "components" in body:
            msg.components = list(body["components"] or [])
        if "flags" in body and body["flags"] is not None:
            keep = msg.flags & (64 | 1)
            msg.flags = (int(body["flags"]) & ~(128 | 64)) | keep
        if "attachments" in body:
            kept = {str(a.get("id")) for a in body["attachments"] or []}
            msg.attachments = [a for a in msg.attachments if a["id"] in kept]
        msg.attachments += [self._attachment(f) for f in files]
        if "content" in body or "allowed_mentions" in body:
            self.compute_mentions(msg, body, perms)
        msg.edited_timestamp = iso()
        if not msg.ephemeral:
            ch = self.state.channels[msg.channel_id]
            self.dispatch("MESSAGE_UPDATE", self.state.message_payload(msg, gateway=True), ch, msg.guild_id)
        self.em._notify()

    async def delete_message(self, req: Req) -> Result:
        ch, perms = self._channel(req)
        msg = self.state.message(ch.id, req.params["message_id"])
        if msg.author_id != self.bot_id and not perms & P.MANAGE_MESSAGES:
            raise ApiError(*MISSING_PERMISSIONS)
        self.remove_message(msg)
        return 204, None

    def remove_message(self, msg: Message) -> None:
        msg.deleted = True
        ch = self.state.channels[msg.channel_id]
        if ch.is_thread and msg.id != ch.id:
            ch.message_count = max(0, ch.message_count - 1)
        data = {"id": str(msg.id), "channel_id": str(msg.channel_id)}
        if msg.guild_id:
            data["guild_id"] = str(msg.guild_id)
        self.dispatch("MESSAGE_DELETE", data, ch, msg.guild_id)

    async def bulk_delete(self, req: Req) -> Result:
        ch, perms = self._channel(req)
        if not perms & P.MANAGE_MESSAGES:
            raise ApiError(*MISSING_PERMISSIONS)
        ids = [int(i) for i in (req.json or {}).get("messages", [])]
        if not 2 <= len(ids) <= 100:
            raise invalid_form(
                {"messages": field_error("BASE_TYPE_BAD_LENGTH", "Must be between 2 and 100 in length.")}
            )
        for i in ids:
            m = self.state.messages_by_id.get(i)
            if m is not None and m.channel_id == ch.id:
                m.deleted = True
        data = {"ids": [str(i) for i in ids], "channel_id": str(ch.id), "guild_id": str(ch.guild_id)}
        self.dispatch("MESSAGE_DELETE_BULK", data, ch, ch.guild_id)
        return 204, None

    async def crosspost(self, req: Req) -> Result:
        ch, perms = self._channel(req, P.SEND_MESSAGES)
        msg = self.state.message(ch.id, req.params["message_id"])
        if ch.type != ChannelType.NEWS:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        if msg.author_id != self.bot_id and not perms & P.MANAGE_MESSAGES:
            raise ApiError(*MISSING_PERMISSIONS)
        if msg.flags & 1:
            raise ApiError(400, 40033, "This message has already been crossposted.")
        msg.flags |= 1
        self.dispatch("MESSAGE_UPDATE", self.state.message_payload(msg, gateway=True), ch, ch.guild_id)
        return 200, self.state.message_payload(msg)

    async def typing(self, req: Req) -> Result:
        ch, _ = self._channel(req, P.SEND_MESSAGES)
        data = {"channel_id": str(ch.id), "user_id": str(self.bot_id), "timestamp": int(time.time())}
        if ch.guild_id:
            data["guild_id"] = str(ch.guild_id)
        self.dispatch("TYPING_START", data, ch, ch.guild_id)
        return 204, None

    def _pins(self, ch: Channel) -> list[Message]:
        return [m for m in reversed(self.state.messages(ch.id)) if m.pinned]

    async def list_pins(self, req: Req) -> Result:
        ch, _ = self._channel(req)
        items = [{"pinned_at": m.timestamp, "message": self.state.message_payload(m)} for m in self._pins(ch)]
        return 200, {"items": items, "has_more": False}

    async def list_pins_legacy(self, req: Req) -> Result:
        ch, _ = self._channel(req)
        return 200, [self.state.message_payload(m) for m in self._pins(ch)]

    async def _set_pin(self, req: Req, pinned: bool) -> Result:
        ch, perms = self._channel(req)
        if ch.type != ChannelType.DM and not perms & (P.MANAGE_MESSAGES | P.PIN_MESSAGES):
            raise ApiError(*MISSING_PERMISSIONS)
        msg = self.state.message(ch.id, req.params["message_id"])
        if pinned and not msg.pinned and len(self._pins(ch)) >= 250:
            raise ApiError(400, 30003, "Maximum number of pins reached (250)")
        msg.pinned = pinned
        self.dispatch("MESSAGE_UPDATE", self.state.message_payload(msg, gateway=True), ch, ch.guild_id)
        pins = {"channel_id": str(ch.id), "last_pin_timestamp": iso()}
        if ch.guild_id:
            pins["guild_id"] = str(ch.guild_id)
        self.dispatch("CHANNEL_PINS_UPDATE", pins, ch, ch.guild_id)
        return 204, None

    async def pin(self, req: Req) -> Result:
        return await self._set_pin(req, True)

    async def unpin(self, req: Req) -> Result:
        return await self._set_pin(req, False)

    # -- reactions ----------------------------------------------------------------------------
    def react(self, msg: Message, user_id: int, emoji: str, add: bool) -> None:
        users = msg.reactions.setdefault(emoji, [])
        if add == (user_id in users):
            return
        if add:
            users.append(user_id)
        else:
            users.remove(user_id)
        ch = self.state.channels[msg.channel_id]
        data: dict[str, Any] = {
            "user_id": str(user_id),
            "channel_id": str(msg.channel_id),
            "message_id": str(msg.id),
            "emoji": {"id": None, "name": emoji}
            if ":" not in emoji
            else {"id": emoji.split(":")[1], "name": emoji.split(":")[0]},
            "burst": False,
            "type": 0,
        }
        if msg.guild_id:
            data["guild_id"] = str(msg.guild_id)
            if add:
                guild = self.state.guilds[msg.guild_id]
                if user_id in guild.members:
                    data["member"] = guild.members[user_id].payload()
                data["message_author_id"] = str(msg.author_id)
        self.dispatch("MESSAGE_REACTION_ADD" if add else "MESSAGE_REACTION_REMOVE", data, ch, msg.guild_id)

    async def add_reaction(self, req: Req) -> Result:
        ch, perms = self._channel(req, P.READ_MESSAGE_HISTORY)
        msg = self.state.message(ch.id, req.params["message_id"])
        emoji = req.params["emoji"]
        if not msg.reactions.get(emoji) and not perms & P.ADD_REACTIONS:
            raise ApiError(*MISSING_PERMISSIONS)
        self.react(msg, self.bot_id, emoji, True)
        return 204, None

    async def remove_own_reaction(self, req: Req) -> Result:
        ch, _ = self._channel(req)
        self.react(
            self.state.message(ch.id, req.params["message_id"]), self.bot_id, req.params["emoji"], False
        )
        return 204, None

    async def remove_reaction(self, req: Req) -> Result:
        ch, _ = self._channel(req, P.MANAGE_MESSAGES)
        msg = self.state.message(ch.id, req.params["message_id"])
        self.react(msg, int(req.params["user_id"]), req.params["emoji"], False)
        return 204, None

    async def get_reactions(self, req: Req) -> Result:
        ch, _ = self._channel(req)
        msg = self.state.message(ch.id, req.params["message_id"])
        after = int(req.query.get("after", 0))
        limit = int(req.query.get("limit", 25))
        ids = sorted(u for u in msg.reactions.get(req.params["emoji"], []) if u > after)[:limit]
        return 200, [self.state.users[u].payload() for u in ids]  # Discord pages by ascending user id

    async def clear_reactions(self, req: Req) -> Result:
        ch, _ = self._channel(req, P.MANAGE_MESSAGES)
        msg = self.state.message(ch.id, req.params["message_id"])
        msg.reactions.clear()
        return 204, None

    # -- threads ------------------------------------------------------------------------------
    def _tags(self, forum: Channel, tags: list[Any]) -> list[int]:
        known = {int(t["id"]) for t in forum.available_tags}
        ids = [int(t) for t in tags or []]
        if len(ids) > 5 or any(t not in known for t in ids):
            raise invalid_form({"applied_tags": field_error("BASE_TYPE_CHOICES", "Invalid or too many tags")})
        return ids

    def announce_thread(self, th: Channel, creator_id: int) -> None:
        data = {**th.payload(), "newly_created": True}
        data["member"] = {
            "id": str(th.id),
            "user_id": str(creator_id),
            "join_timestamp": th.thread_members.get(creator_id, iso()),
            "flags": 1,
        }
        self.dispatch("THREAD_CREATE", data, guild_id=th.guild_id)
        self.dispatch(
            "THREAD_MEMBERS_UPDATE",
            {
                "id": str(th.id),
                "guild_id": str(th.guild_id),
                "member_count": len(th.thread_members),
                "added_members": [
                    {"id": str(th.id), "user_id": str(uid), "join_timestamp": ts, "flags": 1}
                    for uid, ts in th.thread_members.items()
                ],
            },
            guild_id=th.guild_id,
        )

    async def thread_from_message(self, req: Req) -> Result:
        ch, _ = self._channel(req, P.CREATE_PUBLIC_THREADS)
        if ch.type not in (ChannelType.TEXT, ChannelType.NEWS):
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        msg = self.state.message(ch.id, req.params["message_id"])
        body = req.json or {}
        check_thread(body)
        if msg.thread_id is not None or msg.id in self.state.channels:
            raise ApiError(400, 160004, "A thread has already been created for this message")
        th = self.state.add_thread(ch, body["name"], self.bot_id, id=msg.id)
        th.auto_archive_duration = int(body.get("auto_archive_duration") or 1440)
        th.rate_limit_per_user = int(body.get("rate_limit_per_user") or 0)
        msg.thread_id = th.id
        self.announce_thread(th, self.bot_id)
        self.dispatch("MESSAGE_UPDATE", self.state.message_payload(msg, gateway=True), ch, ch.guild_id)
        return 201, th.payload()

    async def create_thread(self, req: Req) -> Result:
        ch = self.state.channel(req.params["channel_id"])
        guild = self.guild_of(ch)
        if guild is None or ch.is_thread:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        body = req.json or {}
        check_thread(body)
        bot = self.bot_member(guild)
        if ch.type == ChannelType.FORUM:
            perms = self.state.require(ch, bot, P.SEND_MESSAGES)
            message = body.get("message")
            if not message:
                raise invalid_form({"message": field_error("BASE_TYPE_REQUIRED", "This field is required")})
            check_message(message, has_files=bool(req.files))
            if message.get("embeds") and not perms & P.EMBED_LINKS:
                raise ApiError(*MISSING_PERMISSIONS)
            tags = self._tags(ch, body.get("applied_tags") or [])
            th = self.state.add_thread(ch, body["name"], self.bot_id, type=ChannelType.PUBLIC_THREAD)
            th.applied_tags = tags
        else:
            ttype = int(body.get("type") or ChannelType.PRIVATE_THREAD)
            needed = (
                P.CREATE_PRIVATE_THREADS if ttype == ChannelType.PRIVATE_THREAD else P.CREATE_PUBLIC_THREADS
            )
            perms = self.state.require(ch, bot, needed)
            th = self.state.add_thread(ch, body["name"], self.bot_id, type=ttype)
            th.invitable = bool(body.get("invitable", True))
            message = None
        th.auto_archive_duration = int(body.get("auto_archive_duration") or 1440)
        th.rate_limit_per_user = int(body.get("rate_limit_per_user") or 0)
        self.announce_thread(th, self.bot_id)
        out = th.payload()
        if message is not None:
            msg = self.new_message(th, self.bot_id, message, req.files, perms=perms, msg_id=th.id)
            out["message"] = self.state.message_payload(msg, with_nonce=True)
        return 201, out

    def _thread(self, req: Req) -> tuple[Channel, int]:
        ch, perms = self._channel(req)
        if not ch.is_thread:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        return ch, perms

    def thread_members_event(self, th: Channel, added: list[int] = (), removed: list[int] = ()) -> None:  # type: ignore[assignment]
        self.dispatch(
            "THREAD_MEMBERS_UPDATE",
            {
                "id": str(th.id),
                "guild_id": str(th.guild_id),
                "member_count": len(th.thread_members),
                "added_members": [
                    {"id": str(th.id), "user_id": str(u), "join_timestamp": th.thread_members[u], "flags": 0}
                    for u in added
                ],
                "removed_member_ids": [str(u) for u in removed],
            },
            guild_id=th.guild_id,
        )

    async def join_thread(self, req: Req) -> Result:
        th, _ = self._thread(req)
        if th.archived:
            raise ApiError(400, 50083, "Thread is archived")
        if self.bot_id not in th.thread_members:
            th.thread_members[self.bot_id] = iso()
            self.thread_members_event(th, added=[self.bot_id])
        return 204, None

    async def leave_thread(self, req: Req) -> Result:
        th, _ = self._thread(req)
        if th.thread_members.pop(self.bot_id, None) is not None:
            self.thread_members_event(th, removed=[self.bot_id])
        return 204, None

    async def add_thread_member(self, req: Req) -> Result:
        th, perms = self._thread(req)
        guild = self.guild_of(th)
        self.state.member(guild, req.params["user_id"])  # type: ignore[arg-type]
        if th.archived:
            raise ApiError(400, 50083, "Thread is archived")
        if not perms & P.SEND_MESSAGES_IN_THREADS:
            raise ApiError(*MISSING_PERMISSIONS)
        uid = int(req.params["user_id"])
        if uid not in th.thread_members:
            th.thread_members[uid] = iso()
            self.thread_members_event(th, added=[uid])
        return 204, None

    async def remove_thread_member(self, req: Req) -> Result:
        th, perms = self._thread(req)
        if not (perms & P.MANAGE_THREADS or th.owner_id == self.bot_id):
            raise ApiError(*MISSING_PERMISSIONS)
        uid = int(req.params["user_id"])
        if th.thread_members.pop(uid, None) is not None:
            self.thread_members_event(th, removed=[uid])
        return 204, None

    def _thread_member(self, th: Channel, uid: int) -> dict[str, Any]:
        return {"id": str(th.id), "user_id": str(uid), "join_timestamp": th.thread_members[uid], "flags": 0}

    async def list_thread_members(self, req: Req) -> Result:
        th, _ = self._thread(req)
        return 200, [self._thread_member(th, u) for u in th.thread_members]

    async def get_thread_member(self, req: Req) -> Result:
        th, _ = self._thread(req)
        uid = int(req.params["user_id"])
        if uid not in th.thread_members:
            raise ApiError(404, 10007, "Unknown Member")
        return 200, self._thread_member(th, uid)

    async def active_threads(self, req: Req) -> Result:
        guild = self.state.guild(req.params["guild_id"])
        bot = self.bot_member(guild)
        threads = [
            t
            for t in guild.channels.values()
            if t.is_thread
            and not t.deleted
            and not t.archived
            and self.state.permissions_in(t, bot) & P.VIEW_CHANNEL
        ]
        members = [self._thread_member(t, self.bot_id) for t in threads if self.bot_id in t.thread_members]
        return 200, {"threads": [t.payload() for t in threads], "members": members}

    async def archived_threads(self, req: Req) -> Result:
        ch, _ = self._channel(req, P.READ_MESSAGE_HISTORY)
        limit = int(req.query.get("limit", 50))
        threads = [
            t for t in self.state.threads(ch.id) if t.archived and t.type != ChannelType.PRIVATE_THREAD
        ]
        threads.sort(key=lambda t: t.archive_timestamp, reverse=True)
        if "before" in req.query:
            threads = [t for t in threads if t.archive_timestamp < req.query["before"]]
        page = threads[:limit]
        members = [self._thread_member(t, self.bot_id) for t in page if self.bot_id in t.thread_members]
        return 200, {
            "threads": [t.payload() for t in page],
            "members": members,
            "has_more": len(threads) > limit,
        }

    # -- guild, members, roles, bans ----------------------------------------------------------
    async def get_guild(self, req: Req) -> Result:
        guild = self.state.guild(req.params["guild_id"])
        self.bot_member(guild)
        d = self.state.guild_payload(guild)
        if req.query.get("with_counts") in ("true", "1", "True"):
            d["approximate_member_count"] = self.state.member_count(guild)
            d["approximate_presence_count"] = 0
        return 200, d

    async def list_members(self, req: Req) -> Result:
        guild = self.state.guild(req.params["guild_id"])
        limit = int(req.query.get("limit", 1))
        if not 1 <= limit <= 1000:
            raise invalid_form({"limit": field_error("NUMBER_TYPE_MAX", "Must be between 1 and 1000.")})
        after = int(req.query.get("after", 0))
        members = sorted((m for m in guild.members.values() if m.id > after), key=lambda m: m.id)[:limit]
        return 200, [m.payload() for m in members]

    async def search_members(self, req: Req) -> Result:
        guild = self.state.guild(req.params["guild_id"])
        q = req.query.get("query", "").lower()
        limit = int(req.query.get("limit", 1))
        hits = [m for m in guild.members.values() if m.user.username.lower().startswith(q)][:limit]
        return 200, [m.payload() for m in hits]

    async def get_member(self, req: Req) -> Result:
        guild = self.state.guild(req.params["guild_id"])
        return 200, self.state.member(guild, req.params["user_id"]).payload()

    async def edit_me(self, req: Req) -> Result:
        guild = self.state.guild(req.params["guild_id"])
        me = self.bot_member(guild)
        body = req.json or {}
        if "nick" in body:
            self.state.require_guild(guild, me, P.CHANGE_NICKNAME)
            me.nick = body["nick"] or None
        self.member_update(guild, me)
        return 200, me.payload()

    async def edit_member(self, req: Req) -> Result:
        guild = self.state.guild(req.params["guild_id"])
        target = self.state.member(guild, req.params["user_id"])
        bot = self.bot_member(guild)
        body = req.json or {}
        if "nick" in body:
            if target.id == bot.id:
                self.state.require_guild(guild, bot, P.CHANGE_NICKNAME)
            else:
                self.state.require_guild(guild, bot, P.MANAGE_NICKNAMES)
                self.check_member_hierarchy(guild, target)
            nick = body["nick"]
            if nick is not None and len(nick) > 32:
                raise invalid_form(
                    {"nick": field_error("BASE_TYPE_BAD_LENGTH", "Must be 32 or fewer in length.")}
                )
            target.nick = nick or None
        if "roles" in body:
            self.state.require_guild(guild, bot, P.MANAGE_ROLES)
            new = [int(r) for r in body["roles"] or [] if int(r) != guild.id]
            for rid in set(new) ^ set(target.roles):
                role = self.state.role(guild, rid)
                self.check_hierarchy(guild, role)
                if role.managed:
                    raise ApiError(
                        400, 50035, "Invalid Form Body", {"roles": field_error("MANAGED", "managed role")}
                    )
            target.roles = list(dict.fromkeys(new))
        if "communication_disabled_until" in body:
            self.state.require_guild(guild, bot, P.MODERATE_MEMBERS)
            self.check_member_hierarchy(guild, target)
            target.communication_disabled_until = body["communication_disabled_until"]
        self.member_update(guild, target)
        return 200, target.payload()

    async def kick(self, req: Req) -> Result:
        guild = self.state.guild(req.params["guild_id"])
        target = self.state.member(guild, req.params["user_id"])
        self.state.require_guild(guild, self.bot_member(guild), P.KICK_MEMBERS)
        self.check_member_hierarchy(guild, target)
        self.em.remove_member(guild, target)
        return 204, None

    async def _role_change(self, req: Req, add: bool) -> Result:
        guild = self.state.guild(req.params["guild_id"])
        target = self.state.member(guild, req.params["user_id"])
        role = self.state.role(guild, req.params["role_id"])
        self.state.require_guild(guild, self.bot_member(guild), P.MANAGE_ROLES)
        self.check_hierarchy(guild, role)
        if role.managed or role.id == guild.id:
            raise ApiError(400, 50028, "Invalid Role")
        has = role.id in target.roles
        if add and not has:
            target.roles.append(role.id)
        elif not add and has:
            target.roles.remove(role.id)
        if add != has:  # a no-op grant or removal changes nothing and dispatches nothing
            self.member_update(guild, target)
        return 204, None

    async def add_role(self, req: Req) -> Result:
        return await self._role_change(req, True)

    async def remove_role(self, req: Req) -> Result:
        return await self._role_change(req, False)

    async def list_roles(self, req: Req) -> Result:
        return 200, self.state.role_list(self.state.guild(req.params["guild_id"]))

    async def get_role(self, req: Req) -> Result:
        guild = self.state.guild(req.params["guild_id"])
        return 200, self.state.role(guild, req.params["role_id"]).payload()

    def _role_fields(self, role: Role, body: dict[str, Any], bot_perms: int) -> None:
        if "name" in body and body["name"] is not None:
            if len(body["name"]) > 100:
                raise invalid_form(
                    {"name": field_error("BASE_TYPE_BAD_LENGTH", "Must be 100 or fewer in length.")}
                )
            role.name = body["name"]
        if "permissions" in body and body["permissions"] is not None:
            perms = int(body["permissions"])
            if perms & ~bot_perms and not bot_perms & P.ADMINISTRATOR:
                raise ApiError(*MISSING_PERMISSIONS)
            role.permissions = perms
        if body.get("colors"):
            role.color = int(body["colors"].get("primary_color") or 0)
        elif "color" in body and body["color"] is not None:
            role.color = int(body["color"])
        for key in ("hoist", "mentionable"):
            if key in body and body[key] is not None:
                setattr(role, key, bool(body[key]))

    async def create_role(self, req: Req) -> Result:
        guild = self.state.guild(req.params["guild_id"])
        bot_perms = self.state.require_guild(guild, self.bot_member(guild), P.MANAGE_ROLES)
        if len(guild.roles) >= 250:
            raise ApiError(400, 30005, "Maximum number of guild roles reached (250)")
        for r in guild.roles.values():
            if r.id != guild.id:
                r.position += 1
        role = self.state.add_role(guild, "new role", 0, position=1)
        self._role_fields(role, req.json or {}, bot_perms)
        self.dispatch(
            "GUILD_ROLE_CREATE", {"guild_id": str(guild.id), "role": role.payload()}, guild_id=guild.id
        )
        return 200, role.payload()

    async def edit_role(self, req: Req) -> Result:
        guild = self.state.guild(req.params["guild_id"])
        bot_perms = self.state.require_guild(guild, self.bot_member(guild), P.MANAGE_ROLES)
        role = self.state.role(guild, req.params["role_id"])
        if role.id != guild.id:
            self.check_hierarchy(guild, role)
        self._role_fields(role, req.json or {}, bot_perms)
        self.dispatch(
            "GUILD_ROLE_UPDATE", {"guild_id": str(guild.id), "role": role.payload()}, guild_id=guild.id
        )
        return 200, role.payload()

    async def delete_role(self, req: Req) -> Result:
        guild = self.state.guild(req.params["guild_id"])
        self.state.require_guild(guild, self.bot_member(guild), P.MANAGE_ROLES)
        role = self.state.role(guild, req.params["role_id"])
        self.check_hierarchy(guild, role)
        if role.managed or role.id == guild.id:
            raise ApiError(400, 50028, "Invalid Role")
        del guild.roles[role.id]
        for m in guild.members.values():
            if role.id in m.roles:
                m.roles.remove(role.id)
        self.dispatch(
            "GUILD_ROLE_DELETE", {"guild_id": str(guild.id), "role_id": str(role.id)}, guild_id=guild.id
        )
        return 204, None

    async def role_positions(self, req: Req) -> Result:
        guild = self.state.guild(req.params["guild_id"])
        self.state.require_guild(guild, self.bot_member(guild), P.MANAGE_ROLES)
        for item in req.json or []:
            role = self.state.role(guild, item["id"])
            self.check_hierarchy(guild, role)
            if item.get("position") is not None:
                if int(item["position"]) >= self.state.top_position(guild, self.bot_member(guild)):
                    raise ApiError(*MISSING_PERMISSIONS)
                role.position = int(item["position"])
                payload = {"guild_id": str(guild.id), "role": role.payload()}
                self.dispatch("GUILD_ROLE_UPDATE", payload, guild_id=guild.id)
        return 200, self.state.role_list(guild)

    async def list_bans(self, req: Req) -> Result:
        guild = self.state.guild(req.params["guild_id"])
        self.state.require_guild(guild, self.bot_member(guild), P.BAN_MEMBERS)
        return 200, [{"reason": r, "user": self.state.users[u].payload()} for u, r in guild.bans.items()]

    async def get_ban(self, req: Req) -> Result:
        guild = self.state.guild(req.params["guild_id"])
        self.state.require_guild(guild, self.bot_member(guild), P.BAN_MEMBERS)
        uid = int(req.params["user_id"])
        if uid not in guild.bans:
            raise ApiError(404, 10026, "Unknown Ban")
        return 200, {"reason": guild.bans[uid], "user": self.state.users[uid].payload()}

    async def ban(self, req: Req) -> Result:
        guild = self.state.guild(req.params["guild_id"])
        self.state.require_guild(guild, self.bot_member(guild), P.BAN_MEMBERS)
        uid = int(req.params["user_id"])
        user = self.state.users.get(uid)
        if user is None:
            raise ApiError(404, 10013, "Unknown User")
        target = guild.members.get(uid)
        if target is not None:
            self.check_member_hierarchy(guild, target)
        guild.bans[uid] = req.reason
        secs = int(
            (req.json or {}).get("delete_message_seconds") or req.query.get("delete_message_seconds") or 0
        )
        if secs:
            cutoff = self.em.clock.now() - secs
            for m in list(self.state.messages_by_id.values()):
                if (
                    m.guild_id == guild.id
                    and m.author_id == uid
                    and not m.deleted
                    and m.created_mono >= cutoff
                ):
                    self.remove_message(m)
        self.dispatch("GUILD_BAN_ADD", {"guild_id": str(guild.id), "user": user.payload()}, guild_id=guild.id)
        if target is not None:
            self.em.remove_member(guild, target)
        return 204, None

    async def unban(self, req: Req) -> Result:
        guild = self.state.guild(req.params["guild_id"])
        self.state.require_guild(guild, self.bot_member(guild), P.BAN_MEMBERS)
        uid = int(req.params["user_id"])
        if guild.bans.pop(uid, "missing") == "missing":
            raise ApiError(404, 10026, "Unknown Ban")
        payload = {"guild_id": str(guild.id), "user": self.state.users[uid].payload()}
        self.dispatch("GUILD_BAN_REMOVE", payload, guild_id=guild.id)
        return 204, None

    async def open_dm(self, req: Req) -> Result:
        rid = str((req.json or {}).get("recipient_id", ""))
        user = self.state.users.get(int(rid)) if rid.isdigit() else None
        if user is None:
            raise ApiError(
                400, 50035, "Invalid Form Body", {"recipient_id": field_error("NUMBER_TYPE_COERCE", "x")}
            )
        ch = self.state.dm_channel(user)
        return 200, {**ch.payload(), "recipients": [user.payload()]}

    async def my_guilds(self, req: Req) -> Result:
        out = []
        for g in self.state.guilds.values():
            if self.bot_id in g.members:
                perms = self.state.base_permissions(g, g.members[self.bot_id])
                out.append(
                    {
                        "id": str(g.id),
                        "name": g.name,
                        "icon": None,
                        "owner": g.owner_id == self.bot_id,
                        "permissions": str(perms),
                        "features": ["COMMUNITY", "NEWS"],
                        "approximate_member_count": self.state.member_count(g),
                        "approximate_presence_count": 0,
                    }
                )
        return 200, out

    async def audit_logs(self, req: Req) -> Result:
        """Permission-checked but always empty: assert on `RequestRecord.reason` instead."""
        guild = self.state.guild(req.params["guild_id"])
        self.state.require_guild(guild, self.bot_member(guild), P.VIEW_AUDIT_LOG)
        keys = ("audit_log_entries", "users", "integrations", "webhooks", "guild_scheduled_events", "threads")
        return 200, {**{k: [] for k in keys}, "application_commands": [], "auto_moderation_rules": []}

    # -- interactions -------------------------------------------------------------------------
    def _interaction(self, req: Req) -> InteractionRecord:
        rec = self.em.interactions.get(req.params["interaction_token"])
        if rec is None or str(rec.id) != req.params["interaction_id"]:
            raise ApiError(404, 10062, "Unknown interaction")
        return rec

    async def callback(self, req: Req) -> Result:
        rec = self._interaction(req)
        try:
            return self._callback(rec, req)
        except ApiError as e:
            rec.rejected.append((e.status, e.code))
            raise

    def interaction_metadata(self, rec: InteractionRecord) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "id": str(rec.id),
            "type": rec.type,
            "user": self.state.users[rec.user_id].payload(),
            "authorizing_integration_owners": {"0": str(rec.guild_id) if rec.guild_id else "0"},
        }
        if rec.type == 2:
            meta["name"] = rec.data.get("name")
            if rec.data.get("target_id"):
                meta["target_id"] = rec.data["target_id"]
        if rec.message_id is not None and rec.type in (3, 5):
            meta["interacted_message_id"] = str(rec.message_id)
        return meta

    @staticmethod
    def response_message_type(rec: InteractionRecord) -> int:
        """20 for slash commands, 23 for context menus, 0 (default) for component/modal replies."""
        if rec.type == 2:
            return 23 if rec.data.get("type") in (2, 3) else 20
        return 0

    def _callback(self, rec: InteractionRecord, req: Req) -> Result:
        if self.em.clock.now() - rec.dispatched_at > self.em.interaction_timeout:
            raise ApiError(404, 10062, "Unknown interaction")
        if rec.responded:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        body = req.json or {}
        ctype = int(body.get("type", 0))
        data = body.get("data") or {}
        allowed = {
            2: {4, 5, 9},
            3: {4, 5, 6, 7, 9},
            4: {8},
            5: {4, 5, 6, 7},
        }[rec.type]
        if ctype not in allowed:  # e.g. a modal in answer to a modal submit
            raise invalid_form(
                {"type": field_error("BASE_TYPE_CHOICES", f"Value must be one of {sorted(allowed)}.")}
            )
        ch = self.state.channels[rec.channel_id]
        ephemeral = bool(int(data.get("flags") or 0) & 64)
        meta = self.interaction_metadata(rec)
        mtype = self.response_message_type(rec)
        resp_msg: Message | None = None
        interaction: dict[str, Any] = {"id": str(rec.id), "type": rec.type}
        if ctype == CallbackType.CHANNEL_MESSAGE:
            check_message(data, has_files=bool(req.files))
            resp_msg = self.new_message(
                ch,
                self.bot_id,
                data,
                req.files,
                type=mtype,
                webhook_id=self.app_id,
                interaction_metadata=meta,
                ephemeral=ephemeral,
            )
        elif ctype == CallbackType.DEFERRED_CHANNEL_MESSAGE:
            resp_msg = self.new_message(
                ch,
                self.bot_id,
                {"flags": 128 | (64 if ephemeral else 0)},
                [],
                type=mtype,
                webhook_id=self.app_id,
                interaction_metadata=meta,
                ephemeral=ephemeral,
            )
            resp_msg.flags |= 128
            interaction["response_message_loading"] = True
        elif ctype in (CallbackType.UPDATE_MESSAGE, CallbackType.DEFERRED_UPDATE_MESSAGE):
            if rec.message_id is None:
                raise invalid_form({"type": field_error("BASE_TYPE_CHOICES", "No message to update.")})
            target = self.state.messages_by_id.get(rec.message_id) or self.state.ephemeral.get(rec.message_id)
            if target is None:
                raise ApiError(404, 10008, "Unknown Message")
            if ctype == CallbackType.UPDATE_MESSAGE:
                check_message(data, edit=True)
                self.apply_edit(target, data, req.files)
            resp_msg = target
            ephemeral = target.ephemeral
        elif ctype == CallbackType.AUTOCOMPLETE_RESULT:
            choices = data.get("choices") or []
            if len(choices) > 25:
                raise invalid_form(
                    {"data": {"choices": field_error("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer")}}
                )
        elif ctype == CallbackType.MODAL:
            check_modal(data)
            rec.modal = ModalRecord(data["custom_id"], data["title"], data["components"], rec)
        rec.response_obj = InteractionResponse(ctype, data)
        resource: dict[str, Any] = {"type": ctype}
        if resp_msg is not None:
            rec.original_message_id = resp_msg.id
            interaction["response_message_id"] = str(resp_msg.id)
            interaction["response_message_ephemeral"] = ephemeral
            resource["message"] = self.state.message_payload(resp_msg)
        self.em._notify()
        return 200, {"interaction": interaction, "resource": resource}

    def _webhook_rec(self, req: Req) -> InteractionRecord:
        rec = self.em.interactions.get(req.params["webhook_token"])
        if rec is None or req.params["webhook_id"] != str(self.state.app.id):  # type: ignore[union-attr]
            raise ApiError(404, 10015, "Unknown Webhook")
        if self.em.clock.now() - rec.dispatched_at > self.em.token_lifetime:
            raise ApiError(401, 50027, "Invalid Webhook Token")
        if not rec.responded:
            raise ApiError(404, 10015, "Unknown Webhook")
        return rec

    async def followup(self, req: Req) -> Result:
        rec = self._webhook_rec(req)
        payload = req.json or {}
        check_message(payload, has_files=bool(req.files))
        orig = rec.original
        if (
            rec.response_type == CallbackType.DEFERRED_CHANNEL_MESSAGE
            and not rec.followup_ids
            and not rec.edits
            and orig is not None
        ):
            # The first followup after a "thinking" deferral replaces the loading message.
            body = {"content": payload.get("content"), **{k: v for k, v in payload.items() if k != "flags"}}
            body.setdefault("embeds", [])
            body.setdefault("components", [])
            orig.flags &= ~128
            self.apply_edit(orig, body, req.files)
            orig.edited_timestamp = None
            rec.followup_ids.append(orig.id)
            return 200, self.state.message_payload(orig)
        ch = self.state.channels[rec.channel_id]
        ephemeral = bool(int(payload.get("flags") or 0) & 64)
        meta = self.interaction_metadata(rec)
        msg = self.new_message(
            ch,
            self.bot_id,
            payload,
            req.files,
            type=self.response_message_type(rec),
            webhook_id=self.app_id,
            interaction_metadata=meta,
            ephemeral=ephemeral,
        )
        rec.followup_ids.append(msg.id)
        self.em._notify()
        return 200, self.state.message_payload(msg)

    def _webhook_msg(self, rec: InteractionRecord, mid: str) -> Message:
        if mid == "@original":
            msg = rec.original
        else:
            msg = None
            if mid.isdigit() and (int(mid) in rec.followup_ids or int(mid) == rec.original_message_id):
                msg = self.state.messages_by_id.get(int(mid)) or self.state.ephemeral.get(int(mid))
        if msg is None or msg.deleted:
            raise ApiError(404, 10008, "Unknown Message")
        return msg

    async def get_webhook_message(self, req: Req) -> Result:
        rec = self._webhook_rec(req)
        return 200, self.state.message_payload(self._webhook_msg(rec, req.params["message_id"]))

    async def edit_webhook_message(self, req: Req) -> Result:
        rec = self._webhook_rec(req)
        msg = self._webhook_msg(rec, req.params["message_id"])
        body = req.json or {}
        check_message(body, edit=True)
        msg.flags &= ~128
        self.apply_edit(msg, body, req.files)
        if req.params["message_id"] == "@original" or msg.id == rec.original_message_id:
            rec.edits += 1
        self.em._notify()
        return 200, self.state.message_payload(msg)

    async def delete_webhook_message(self, req: Req) -> Result:
        rec = self._webhook_rec(req)
        msg = self._webhook_msg(rec, req.params["message_id"])
        if msg.ephemeral:
            msg.deleted = True
        else:
            self.remove_message(msg)
        if msg.id == rec.original_message_id:
            rec.deleted_original = True
        self.em._notify()
        return 204, None


THREAD_CHANNEL_TYPES = THREAD_TYPES
