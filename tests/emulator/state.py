"""The emulator's world model: users, guilds, roles, channels, members, messages, commands.

Everything here is plain data plus the rules Discord applies to it (permission resolution with
role hierarchy and channel overwrites, snowflakes, payload shapes). No I/O: the REST and gateway
layers mutate a `State` and serialise its objects with the `*_payload` helpers.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

DISCORD_EPOCH_MS = 1420070400000


class P:
    """Permission bits (the subset a bot meets, plus the rest of the common ones)."""

    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_AUDIT_LOG = 1 << 7
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    CHANGE_NICKNAME = 1 << 26
    MANAGE_NICKNAMES = 1 << 27
    MANAGE_ROLES = 1 << 28
    MANAGE_WEBHOOKS = 1 << 29
    USE_APPLICATION_COMMANDS = 1 << 31
    MANAGE_THREADS = 1 << 34
    CREATE_PUBLIC_THREADS = 1 << 35
    CREATE_PRIVATE_THREADS = 1 << 36
    SEND_MESSAGES_IN_THREADS = 1 << 38
    MODERATE_MEMBERS = 1 << 40
    PIN_MESSAGES = 1 << 51
    ALL = (1 << 53) - 1

    # What a fresh @everyone gets on Discord (roughly), used by default worlds.
    EVERYONE_DEFAULT = (
        VIEW_CHANNEL
        | SEND_MESSAGES
        | ADD_REACTIONS
        | EMBED_LINKS
        | ATTACH_FILES
        | READ_MESSAGE_HISTORY
        | USE_EXTERNAL_EMOJIS
        | CHANGE_NICKNAME
        | USE_APPLICATION_COMMANDS
        | CREATE_PUBLIC_THREADS
        | SEND_MESSAGES_IN_THREADS
    )


class ChannelType:
    TEXT = 0
    DM = 1
    CATEGORY = 4
    NEWS = 5
    NEWS_THREAD = 10
    PUBLIC_THREAD = 11
    PRIVATE_THREAD = 12
    FORUM = 15


THREAD_TYPES = {ChannelType.NEWS_THREAD, ChannelType.PUBLIC_THREAD, ChannelType.PRIVATE_THREAD}


class Snowflakes:
    """Real-format snowflakes: (ms since 2015-01-01) << 22 | worker | process | increment."""

    def __init__(self) -> None:
        self._inc = itertools.count()
        self._last = 0

    def next(self) -> int:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        sf = (ms << 22) | (1 << 17) | (next(self._inc) & 0xFFF)
        if sf <= self._last:  # keep strictly increasing even within one millisecond
            sf = self._last + 1
        self._last = sf
        return sf


def iso(ts: float | None = None) -> str:
    return dt.datetime.fromtimestamp(time.time() if ts is None else ts, dt.UTC).isoformat()


class ApiError(Exception):
    """A Discord error response: HTTP status, JSON error code, message, optional `errors` tree."""

    def __init__(self, status: int, code: int, message: str, errors: dict[str, Any] | None = None):
        super().__init__(f"{status} {code} {message}")
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors is not None:
            out["errors"] = self.errors
        return out


def invalid_form(errors: dict[str, Any]) -> ApiError:
    return ApiError(400, 50035, "Invalid Form Body", errors)


def field_error(code: str, message: str) -> dict[str, Any]:
    return {"_errors": [{"code": code, "message": message}]}


def unknown(kind: str) -> ApiError:
    codes = {
        "channel": 10003,
        "guild": 10004,
        "member": 10007,
        "message": 10008,
        "role": 10011,
        "user": 10013,
        "webhook": 10015,
        "ban": 10026,
        "interaction": 10062,
        "command": 10063,
    }
    return ApiError(404, codes[kind], f"Unknown {kind.capitalize()}")


MISSING_ACCESS = (403, 50001, "Missing Access")
MISSING_PERMISSIONS = (403, 50013, "Missing Permissions")


@dataclass
class User:
    id: int
    username: str
    bot: bool = False
    global_name: str | None = None
    dms_open: bool = True
    avatar: str | None = None

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": self.avatar,
            "bot": self.bot,
            "public_flags": 0,
            "flags": 0,
        }


@dataclass
class Role:
    id: int
    guild_id: int
    name: str
    permissions: int = 0
    position: int = 0
    color: int = 0
    hoist: bool = False
    managed: bool = False
    mentionable: bool = False
    bot_id: int | None = None

    def payload(self) -> dict[str, Any]:
        tags: dict[str, Any] = {"bot_id": str(self.bot_id)} if self.bot_id else {}
        return {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": self.color,
            "colors": {"primary_color": self.color, "secondary_color": None, "tertiary_color": None},
            "hoist": self.hoist,
            "managed": self.managed,
            "mentionable": self.mentionable,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
            "tags": tags,
        }


@dataclass
class Overwrite:
    id: int
    type: int  # 0 role, 1 member
    allow: int = 0
    deny: int = 0

    def payload(self) -> dict[str, Any]:
        return {"id": str(self.id), "type": self.type, "allow": str(self.allow), "deny": str(self.deny)}


@dataclass
class Channel:
    id: int
    type: int
    name: str = ""
    guild_id: int | None = None
    position: int = 0
    parent_id: int | None = None
    topic: str | None = None
    nsfw: bool = False
    rate_limit_per_user: int = 0
    overwrites: dict[int, Overwrite] = field(default_factory=dict)
    last_message_id: int | None = None
    # forum
    available_tags: list[dict[str, Any]] = field(default_factory=list)
    # threads
    owner_id: int | None = None
    message_count: int = 0
    total_message_sent: int = 0
    archived: bool = False
    locked: bool = False
    auto_archive_duration: int = 1440
    archive_timestamp: str = ""
    create_timestamp: str = ""
    invitable: bool = True
    applied_tags: list[int] = field(default_factory=list)
    thread_members: dict[int, str] = field(default_factory=dict)  # user id -> join timestamp
    # DM
    recipient_id: int | None = None
    deleted: bool = False

    @property
    def is_thread(self) -> bool:
        return self.type in THREAD_TYPES

    def payload(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": str(self.id), "type": self.type, "flags": 0}
        if self.type == ChannelType.DM:
            d["last_message_id"] = _opt(self.last_message_id)
            return d
        d.update(
            guild_id=str(self.guild_id),
            name=self.name,
            parent_id=_opt(self.parent_id),
            rate_limit_per_user=self.rate_limit_per_user,
            last_message_id=_opt(self.last_message_id),
            nsfw=self.nsfw,
        )
        if self.is_thread:
            d.update(
                owner_id=str(self.owner_id),
                message_count=self.message_count,
                total_message_sent=self.total_message_sent,
                member_count=len(self.thread_members),
                applied_tags=[str(t) for t in self.applied_tags],
                thread_metadata={
                    "archived": self.archived,
                    "auto_archive_duration": self.auto_archive_duration,
                    "archive_timestamp": self.archive_timestamp,
                    "locked": self.locked,
                    "create_timestamp": self.create_timestamp,
                    **({"invitable": self.invitable} if self.type == ChannelType.PRIVATE_THREAD else {}),
                },
            )
            return d
        d.update(
            position=self.position,
            topic=self.topic,
            permission_overwrites=[o.payload() for o in self.overwrites.values()],
        )
        if self.type == ChannelType.FORUM:
            d.update(
                available_tags=[dict(t) for t in self.available_tags],
                default_reaction_emoji=None,
                default_thread_rate_limit_per_user=0,
                default_sort_order=None,
                default_forum_layout=0,
            )
        return d


@dataclass
class Member:
    guild_id: int
    user: User
    roles: list[int] = field(default_factory=list)  # excluding @everyone
    nick: str | None = None
    pending: bool = False
    joined_at: str = field(default_factory=iso)
    communication_disabled_until: str | None = None
    flags: int = 0

    @property
    def id(self) -> int:
        return self.user.id

    def payload(self, with_user: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {
            "roles": [str(r) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": self.pending,
            "flags": self.flags,
            "communication_disabled_until": self.communication_disabled_until,
        }
        if with_user:
            d["user"] = self.user.payload()
        return d


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    roles: dict[int, Role] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)  # incl. threads
    members: dict[int, Member] = field(default_factory=dict)
    bans: dict[int, str | None] = field(default_factory=dict)  # user id -> reason
    large: bool = False  # GUILD_CREATE carries only the bot's member (forces chunking)
    system_channel_id: int | None = None
    extra_member_count: int = 0  # phantom members counted in member_count (load tests)


@dataclass
class Message:
    id: int
    channel_id: int
    guild_id: int | None
    author_id: int
    content: str = ""
    type: int = 0
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    mentions: list[int] = field(default_factory=list)
    mention_roles: list[int] = field(default_factory=list)
    mention_everyone: bool = False
    nonce: str | int | None = None
    flags: int = 0
    pinned: bool = False
    tts: bool = False
    timestamp: str = field(default_factory=iso)
    edited_timestamp: str | None = None
    message_reference: dict[str, Any] | None = None
    webhook_id: int | None = None
    interaction_metadata: dict[str, Any] | None = None
    application_id: int | None = None
    thread_id: int | None = None
    reactions: dict[str, list[int]] = field(default_factory=dict)  # emoji key -> user ids
    created_mono: float = 0.0
    deleted: bool = False

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & 64)


@dataclass
class Command:
    id: int
    application_id: int
    name: str
    description: str
    type: int = 1
    options: list[dict[str, Any]] = field(default_factory=list)
    default_member_permissions: str | None = None
    guild_id: int | None = None
    nsfw: bool = False
    contexts: list[int] | None = None
    integration_types: list[int] | None = None
    version: int = 0
    raw: dict[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        d = {
            "id": str(self.id),
            "application_id": str(self.application_id),
            "version": str(self.version),
            "name": self.name,
            "description": self.description,
            "type": self.type,
            "options": self.options,
            "default_member_permissions": self.default_member_permissions,
            "dm_permission": True,
            "nsfw": self.nsfw,
            "contexts": self.contexts,
            "integration_types": self.integration_types if self.integration_types is not None else [0],
            "name_localizations": self.raw.get("name_localizations"),
            "description_localizations": self.raw.get("description_localizations"),
        }
        if self.guild_id is not None:
            d["guild_id"] = str(self.guild_id)
        return d


@dataclass
class Application:
    id: int
    name: str
    bot_user_id: int
    owner_id: int
    token: str
    members_intent: bool = True
    presences_intent: bool = True
    message_content_intent: bool = True

    @property
    def flags(self) -> int:
        return (
            (1 << 14 if self.members_intent else 0)
            | (1 << 12 if self.presences_intent else 0)
            | (1 << 18 if self.message_content_intent else 0)
        )


def _opt(v: int | None) -> str | None:
    return None if v is None else str(v)


class State:
    """All emulated Discord data. Mutated by REST handlers and scenario drivers."""

    def __init__(self) -> None:
        self.snowflakes = Snowflakes()
        self.users: dict[int, User] = {}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}  # every channel incl. threads and DMs
        self.messages_by_id: dict[int, Message] = {}
        self.channel_messages: dict[int, list[int]] = {}
        self.ephemeral: dict[int, Message] = {}
        self.app: Application | None = None
        self.commands: dict[int, Command] = {}
        self.dm_channels: dict[int, int] = {}  # user id -> DM channel id (with the bot)

    # -- building -----------------------------------------------------------------------------
    def new_id(self) -> int:
        return self.snowflakes.next()

    def make_user(
        self, username: str, *, bot: bool = False, dms_open: bool = True, id: int | None = None
    ) -> User:
        user = User(
            id=id or self.new_id(), username=username, bot=bot, dms_open=dms_open, global_name=username
        )
        self.users[user.id] = user
        return user

    def make_app(self, name: str, token: str, owner: User) -> Application:
        bot_user = self.make_user(name, bot=True)
        self.app = Application(
            id=bot_user.id, name=name, bot_user_id=bot_user.id, owner_id=owner.id, token=token
        )
        return self.app

    @property
    def bot_user(self) -> User:
        assert self.app is not None, "no application: build a world first"
        return self.users[self.app.bot_user_id]

    def add_guild(self, name: str, owner: User, *, everyone_perms: int = P.EVERYONE_DEFAULT) -> Guild:
        gid = self.new_id()
        guild = Guild(id=gid, name=name, owner_id=owner.id)
        guild.roles[gid] = Role(id=gid, guild_id=gid, name="@everyone", permissions=everyone_perms)
        self.guilds[gid] = guild
        self.add_member(guild, owner)
        return guild

    def add_role(
        self, guild: Guild, name: str, perms: int = 0, position: int | None = None, **kw: Any
    ) -> Role:
        if position is None:
            position = max((r.position for r in guild.roles.values()), default=0) + 1
        role = Role(
            id=self.new_id(), guild_id=guild.id, name=name, permissions=perms, position=position, **kw
        )
        guild.roles[role.id] = role
        return role

    def add_channel(
        self,
        guild: Guild,
        name: str,
        type: int = ChannelType.TEXT,
        overwrites: list[Overwrite] | None = None,
        **kw: Any,
    ) -> Channel:
        pos = sum(1 for c in guild.channels.values() if not c.is_thread)
        ch = Channel(id=self.new_id(), type=type, name=name, guild_id=guild.id, position=pos, **kw)
        for o in overwrites or []:
            ch.overwrites[o.id] = o
        guild.channels[ch.id] = ch
        self.channels[ch.id] = ch
        self.channel_messages[ch.id] = []
        return ch

    def add_thread(
        self, parent: Channel, name: str, owner_id: int, *, id: int | None = None, type: int | None = None
    ) -> Channel:
        guild = self.guilds[parent.guild_id]  # type: ignore[index]
        if type is None:
            type = ChannelType.NEWS_THREAD if parent.type == ChannelType.NEWS else ChannelType.PUBLIC_THREAD
        now = iso()
        th = Channel(
            id=id or self.new_id(),
            type=type,
            name=name,
            guild_id=guild.id,
            parent_id=parent.id,
            owner_id=owner_id,
            create_timestamp=now,
            archive_timestamp=now,
        )
        th.thread_members[owner_id] = now
        guild.channels[th.id] = th
        self.channels[th.id] = th
        self.channel_messages[th.id] = []
        return th

    def add_member(
        self, guild: Guild, user: User, roles: list[Role] | None = None, pending: bool = False
    ) -> Member:
        m = Member(guild_id=guild.id, user=user, roles=[r.id for r in roles or []], pending=pending)
        guild.members[user.id] = m
        return m

    def dm_channel(self, user: User) -> Channel:
        cid = self.dm_channels.get(user.id)
        if cid is not None:
            return self.channels[cid]
        ch = Channel(id=self.new_id(), type=ChannelType.DM, recipient_id=user.id)
        self.channels[ch.id] = ch
        self.channel_messages[ch.id] = []
        self.dm_channels[user.id] = ch.id
        return ch

    # -- lookups ------------------------------------------------------------------------------
    def guild(self, gid: int | str) -> Guild:
        g = self.guilds.get(int(gid))
        if g is None:
            raise unknown("guild")
        return g

    def channel(self, cid: int | str) -> Channel:
        c = self.channels.get(int(cid)) if str(cid).isdigit() else None
        if c is None or c.deleted:
            raise unknown("channel")
        return c

    def member(self, guild: Guild, uid: int | str) -> Member:
        m = guild.members.get(int(uid)) if str(uid).isdigit() else None
        if m is None:
            raise unknown("member")
        return m

    def role(self, guild: Guild, rid: int | str) -> Role:
        r = guild.roles.get(int(rid)) if str(rid).isdigit() else None
        if r is None:
            raise unknown("role")
        return r

    def message(self, channel_id: int, mid: int | str) -> Message:
        m = self.messages_by_id.get(int(mid)) if str(mid).isdigit() else None
        if m is None or m.deleted or m.channel_id != channel_id:
            raise unknown("message")
        return m

    def messages(self, channel_id: int | Any) -> list[Message]:
        """Live (not deleted) messages of a channel, oldest first."""
        cid = getattr(channel_id, "id", channel_id)
        return [
            self.messages_by_id[i]
            for i in self.channel_messages.get(int(cid), [])
            if not self.messages_by_id[i].deleted
        ]

    def dms(self, user: int | Any) -> list[Message]:
        """Messages in the bot's DM channel with `user`, oldest first."""
        uid = int(getattr(user, "id", user))
        cid = self.dm_channels.get(uid)
        return [] if cid is None else self.messages(cid)

    def threads(self, parent: int | Any | None = None) -> list[Channel]:
        pid = getattr(parent, "id", parent)
        return [
            c
            for c in self.channels.values()
            if c.is_thread and not c.deleted and (pid is None or c.parent_id == int(pid))
        ]

    def member_roles(self, guild: int | Any, user: int | Any) -> set[int]:
        g = self.guilds[int(getattr(guild, "id", guild))]
        return set(g.members[int(getattr(user, "id", user))].roles)

    # -- permissions --------------------------------------------------------------------------
    def top_position(self, guild: Guild, member: Member) -> int:
        return max((guild.roles[r].position for r in member.roles if r in guild.roles), default=0)

    def base_permissions(self, guild: Guild, member: Member) -> int:
        if member.id == guild.owner_id:
            return P.ALL
        perms = guild.roles[guild.id].permissions
        for rid in member.roles:
            role = guild.roles.get(rid)
            if role is not None:
                perms |= role.permissions
        if perms & P.ADMINISTRATOR:
            return P.ALL
        return perms

    def permissions_in(self, channel: Channel, member: Member) -> int:
        """Discord's algorithm: base role permissions, then @everyone/role/member overwrites."""
        if channel.type == ChannelType.DM:
            return P.VIEW_CHANNEL | P.SEND_MESSAGES | P.READ_MESSAGE_HISTORY | P.EMBED_LINKS | P.ATTACH_FILES
        guild = self.guilds[channel.guild_id]  # type: ignore[index]
        base = self.base_permissions(guild, member)
        if base & P.ADMINISTRATOR:
            return P.ALL
        target = self.channels[channel.parent_id] if channel.is_thread and channel.parent_id else channel
        perms = base
        ow = target.overwrites
        if guild.id in ow:
            perms = (perms & ~ow[guild.id].deny) | ow[guild.id].allow
        allow = deny = 0
        for rid in member.roles:
            o = ow.get(rid)
            if o is not None and o.type == 0:
                allow |= o.allow
                deny |= o.deny
        perms = (perms & ~deny) | allow
        mo = ow.get(member.id)
        if mo is not None and mo.type == 1:
            perms = (perms & ~mo.deny) | mo.allow
        if member.communication_disabled_until:
            perms &= P.VIEW_CHANNEL | P.READ_MESSAGE_HISTORY
        if not perms & P.VIEW_CHANNEL:
            return 0
        if (
            channel.type == ChannelType.PRIVATE_THREAD
            and member.id not in channel.thread_members
            and not perms & P.MANAGE_THREADS
        ):
            return 0  # private threads are visible to their members and thread managers only
        if not perms & P.SEND_MESSAGES and target.type != ChannelType.FORUM:
            perms &= ~(P.MENTION_EVERYONE | P.EMBED_LINKS | P.ATTACH_FILES)
        return perms

    def require(self, channel: Channel, member: Member | None, *needed: int) -> int:
        """Raise 50001 without ViewChannel, 50013 when any of `needed` is missing."""
        if member is None:
            raise ApiError(*MISSING_ACCESS)
        perms = self.permissions_in(channel, member)
        if not perms & P.VIEW_CHANNEL:
            raise ApiError(*MISSING_ACCESS)
        for bit in needed:
            if not perms & bit:
                raise ApiError(*MISSING_PERMISSIONS)
        return perms

    def require_guild(self, guild: Guild, member: Member, *needed: int) -> int:
        perms = self.base_permissions(guild, member)
        for bit in needed:
            if not perms & bit:
                raise ApiError(*MISSING_PERMISSIONS)
        return perms

    # -- payloads -----------------------------------------------------------------------------
    def role_list(self, guild: Guild) -> list[dict[str, Any]]:
        return [r.payload() for r in sorted(guild.roles.values(), key=lambda r: (r.position, r.id))]

    def member_count(self, guild: Guild) -> int:
        return len(guild.members) + guild.extra_member_count

    def guild_payload(
        self, guild: Guild, *, gateway: bool = False, large_threshold: int = 250
    ) -> dict[str, Any]:
        """REST guild object, or with `gateway` the GUILD_CREATE form. A guild above the
        IDENTIFY `large_threshold` (or flagged `large`) carries only the bot's member, as
        Discord sends without the presences intent, so clients must chunk."""
        d: dict[str, Any] = {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(guild.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 1,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "system_channel_id": _opt(guild.system_channel_id),
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "preferred_locale": "en-US",
            "features": ["COMMUNITY", "NEWS"],
            "roles": self.role_list(guild),
            "emojis": [],
            "stickers": [],
            "max_members": 500000,
            "vanity_url_code": None,
        }
        if gateway:
            bot_id = self.bot_user.id
            large = guild.large or self.member_count(guild) > large_threshold
            members = [m for m in guild.members.values() if not large or m.id == bot_id]
            d.update(
                unavailable=False,
                large=large,
                member_count=self.member_count(guild),
                joined_at=guild.members[bot_id].joined_at if bot_id in guild.members else iso(),
                members=[m.payload() for m in members],
                channels=[c.payload() for c in guild.channels.values() if not c.is_thread and not c.deleted],
                threads=[
                    c.payload()
                    for c in guild.channels.values()
                    if c.is_thread and not c.deleted and not c.archived
                ],
                presences=[],
                voice_states=[],
                stage_instances=[],
                guild_scheduled_events=[],
                soundboard_sounds=[],
            )
        return d

    def message_payload(
        self, msg: Message, *, gateway: bool = False, with_nonce: bool = False
    ) -> dict[str, Any]:
        """A message object. `nonce` is only echoed where Discord echoes it (the create response
        and MESSAGE_CREATE), never in fetched messages or history."""
        author = self.users[msg.author_id]
        guild = self.guilds.get(msg.guild_id) if msg.guild_id else None

        def mention(uid: int) -> dict[str, Any]:
            u = self.users[uid].payload()
            if gateway and guild is not None and uid in guild.members:
                u["member"] = guild.members[uid].payload(with_user=False)
            return u

        d: dict[str, Any] = {
            "id": str(msg.id),
            "channel_id": str(msg.channel_id),
            "type": msg.type,
            "content": msg.content,
            "author": author.payload(),
            "mentions": [mention(u) for u in msg.mentions if u in self.users],
            "mention_roles": [str(r) for r in msg.mention_roles],
            "mention_everyone": msg.mention_everyone,
            "timestamp": msg.timestamp,
            "edited_timestamp": msg.edited_timestamp,
            "tts": msg.tts,
            "attachments": msg.attachments,
            "embeds": msg.embeds,
            "components": msg.components,
            "pinned": msg.pinned,
            "flags": msg.flags,
            "reactions": [
                {
                    "emoji": _emoji_payload(k),
                    "count": len(v),
                    "me": self.bot_user.id in v,
                    "count_details": {"burst": 0, "normal": len(v)},
                    "burst_colors": [],
                    "me_burst": False,
                    "burst_me": False,
                    "burst_count": 0,
                }
                for k, v in msg.reactions.items()
                if v
            ],
        }
        if msg.guild_id is not None:
            d["guild_id"] = str(msg.guild_id)
            if gateway and guild is not None and msg.author_id in guild.members and msg.webhook_id is None:
                d["member"] = guild.members[msg.author_id].payload(with_user=False)
        if with_nonce and msg.nonce is not None:
            d["nonce"] = msg.nonce
        if msg.message_reference is not None:
            d["message_reference"] = msg.message_reference
        if msg.webhook_id is not None:
            d["webhook_id"] = str(msg.webhook_id)
        if msg.application_id is not None:
            d["application_id"] = str(msg.application_id)
        if msg.interaction_metadata is not None:
            d["interaction_metadata"] = msg.interaction_metadata
        ch = self.channels.get(msg.channel_id)
        if ch is not None and ch.is_thread:
            d["position"] = (
                self.channel_messages[ch.id].index(msg.id) if msg.id in self.channel_messages[ch.id] else 0
            )
        if msg.thread_id is not None and msg.thread_id in self.channels:
            d["thread"] = self.channels[msg.thread_id].payload()
        return d


def _emoji_payload(key: str) -> dict[str, Any]:
    if ":" in key:
        name, _, eid = key.partition(":")
        return {"id": eid, "name": name, "animated": False}
    return {"id": None, "name": key}
