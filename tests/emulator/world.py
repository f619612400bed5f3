"""The default Roundtable test world: one guild with the roles, channels and people the bot's
features need. Built in-process before the bot connects."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from .state import Application, ChannelType, Guild, Overwrite, P

if TYPE_CHECKING:
    from .server import Emulator

DEFAULT_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.emulator.roundtable-test-token"
BOT_PERMS = (
    P.VIEW_CHANNEL
    | P.SEND_MESSAGES
    | P.SEND_MESSAGES_IN_THREADS
    | P.EMBED_LINKS
    | P.ATTACH_FILES
    | P.READ_MESSAGE_HISTORY
    | P.ADD_REACTIONS
    | P.MANAGE_ROLES
    | P.KICK_MEMBERS
    | P.BAN_MEMBERS
    | P.MANAGE_CHANNELS
    | P.MANAGE_THREADS
    | P.CREATE_PUBLIC_THREADS
    | P.MANAGE_MESSAGES
    | P.MENTION_EVERYONE
    | P.USE_EXTERNAL_EMOJIS
    | P.CHANGE_NICKNAME
)
MODERATOR_PERMS = P.VIEW_CHANNEL | P.SEND_MESSAGES | P.READ_MESSAGE_HISTORY | P.EMBED_LINKS | P.ADD_REACTIONS


@dataclass
class World:
    """Handles on everything `build_default_world` made. Objects are live state (`.id` on each).

    guild; roles.{everyone, admin, moderator, member, pending, bot}; channels.{welcome,
    announcements, discussions, mod_queue, admin_log, members_only}; users.{owner, admin,
    moderator, member, newcomer, no_dms, bot}; members.<same names>; tags.{article, question,
    meta} (forum tag ids); app; bot_token.
    """

    emulator: Emulator
    guild: Guild
    roles: Any
    channels: Any
    users: Any
    members: Any
    tags: Any
    app: Application
    bot_token: str

    @property
    def bot(self) -> Any:
        return self.users.bot


def build_default_world(
    emulator: Emulator,
    *,
    token: str = DEFAULT_TOKEN,
    members_intent: bool = True,
    message_content_intent: bool = True,
    presences_intent: bool = True,
    large: bool = False,
    extra_members: int = 0,
) -> World:
    """Populate `emulator` with the Roundtable test guild.

    `large=True` sends only the bot's member in GUILD_CREATE (discord.py then chunks);
    `extra_members=N` adds N real members named "filler<i>" (for chunking/load tests).
    """
    s = emulator.state
    owner = s.make_user("owner")
    app = s.make_app("Roundtable", token, owner)
    app.members_intent = members_intent
    app.message_content_intent = message_content_intent
    app.presences_intent = presences_intent
    bot = s.bot_user
    guild = s.add_guild("Roundtable Test", owner)
    guild.large = large
    everyone = guild.roles[guild.id]
    pending = s.add_role(guild, "Pending", 0, position=1)
    member = s.add_role(guild, "Member", 0, position=2)
    moderator = s.add_role(guild, "Moderator", MODERATOR_PERMS, position=3)
    bot_role = s.add_role(guild, "Roundtable", BOT_PERMS, position=4, managed=True, bot_id=bot.id)
    admin = s.add_role(guild, "Admin", P.ADMINISTRATOR, position=5, hoist=True)
    roles = SimpleNamespace(
        everyone=everyone, pending=pending, member=member, moderator=moderator, bot=bot_role, admin=admin
    )

    view = P.VIEW_CHANNEL
    hidden = [Overwrite(guild.id, 0, deny=view), Overwrite(bot_role.id, 0, allow=view | P.SEND_MESSAGES)]
    welcome = s.add_channel(guild, "welcome", ChannelType.TEXT, [Overwrite(guild.id, 0, allow=view)])
    announcements = s.add_channel(
        guild,
        "announcements",
        ChannelType.NEWS,
        [Overwrite(guild.id, 0, deny=P.SEND_MESSAGES), Overwrite(bot_role.id, 0, allow=P.SEND_MESSAGES)],
    )
    discussions = s.add_channel(guild, "discussions", ChannelType.FORUM)
    tag_ids = {}
    for name in ("article", "question", "meta"):
        tid = s.new_id()
        discussions.available_tags.append(
            {"id": str(tid), "name": name, "moderated": False, "emoji_id": None, "emoji_name": None}
        )
        tag_ids[name] = tid
    mod_queue = s.add_channel(
        guild, "mod-queue", ChannelType.TEXT, [*hidden, Overwrite(moderator.id, 0, allow=view)]
    )
    admin_log = s.add_channel(guild, "admin-log", ChannelType.TEXT, list(hidden))
    members_only = s.add_channel(
        guild, "members-only", ChannelType.TEXT, [*hidden, Overwrite(member.id, 0, allow=view)]
    )
    guild.system_channel_id = welcome.id
    channels = SimpleNamespace(
        welcome=welcome,
        announcements=announcements,
        discussions=discussions,
        mod_queue=mod_queue,
        admin_log=admin_log,
        members_only=members_only,
    )

    admin_u = s.make_user("alice_admin")
    mod_u = s.make_user("mo_moderator")
    member_u = s.make_user("mel_member")
    newcomer_u = s.make_user("nico_newcomer")
    no_dms_u = s.make_user("quiet_member", dms_open=False)
    guild.members[owner.id].roles = [admin.id]
    members = SimpleNamespace(
        owner=guild.members[owner.id],
        bot=s.add_member(guild, bot, [bot_role]),
        admin=s.add_member(guild, admin_u, [admin, member]),
        moderator=s.add_member(guild, mod_u, [moderator, member]),
        member=s.add_member(guild, member_u, [member]),
        newcomer=s.add_member(guild, newcomer_u, [pending]),
        no_dms=s.add_member(guild, no_dms_u, [member]),
    )
    for i in range(extra_members):
        s.add_member(guild, s.make_user(f"filler{i}"), [member])
    users = SimpleNamespace(
        owner=owner,
        bot=bot,
        admin=admin_u,
        moderator=mod_u,
        member=member_u,
        newcomer=newcomer_u,
        no_dms=no_dms_u,
    )
    world = World(
        emulator=emulator,
        guild=guild,
        roles=roles,
        channels=channels,
        users=users,
        members=members,
        tags=SimpleNamespace(**tag_ids),
        app=app,
        bot_token=token,
    )
    emulator.world = world
    return world
