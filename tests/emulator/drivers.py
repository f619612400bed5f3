"""Scenario drivers: things users do (join, leave, write, react, use commands, click, submit).

Each driver mutates the state and dispatches the gateway events Discord would. Interaction
drivers return an `InteractionRecord`; they refuse (AssertionError) what a real Discord client
could not do: unregistered commands, commands hidden by default_member_permissions, unknown
options, clicking a component that is not on the message, etc.
"""

# The public API takes explicit timeouts, like discord.py's wait_for.
# ruff: noqa: ASYNC109

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .interactions import InteractionRecord, ModalRecord
from .state import Channel, ChannelType, Command, Guild, Member, Message, P, Role, User, iso
from .validation import walk_components

if TYPE_CHECKING:
    from .gateway import Gateway
    from .rest import Rest
    from .server import Clock
    from .state import State

ATTACHMENT_LIMIT = 10 * 1024 * 1024


def _id(obj: Any) -> int:
    return int(getattr(obj, "id", obj))


class Drivers:
    """Mixed into `Emulator`."""

    if TYPE_CHECKING:
        state: State
        gateway: Gateway
        rest: Rest
        clock: Clock
        interactions: dict[str, InteractionRecord]

        def remove_member(self, guild: Guild, member: Member) -> None: ...

    # -- members ------------------------------------------------------------------------------
    def _guild(self, guild: Any) -> Guild:
        return self.state.guild(_id(guild))

    def _user(self, user: Any) -> User:
        if isinstance(user, User):
            return user
        if isinstance(user, Member):
            return user.user
        return self.state.users[_id(user)]

    async def member_join(
        self,
        guild: Any,
        user: Any = None,
        *,
        username: str | None = None,
        roles: Iterable[Any] = (),
        pending: bool = False,
        dms_open: bool = True,
        bot: bool = False,
    ) -> Member:
        """A user joins `guild` (a new user unless `user` is given): GUILD_MEMBER_ADD."""
        g = self._guild(guild)
        u = (
            self._user(user)
            if user is not None
            else self.state.make_user(username or f"user{len(self.state.users)}", bot=bot, dms_open=dms_open)
        )
        assert u.id not in g.bans, f"{u.username} is banned from {g.name}"
        assert u.id not in g.members, f"{u.username} is already a member of {g.name}"
        m = self.state.add_member(g, u, [self.state.role(g, _id(r)) for r in roles], pending=pending)
        self.gateway.dispatch("GUILD_MEMBER_ADD", {"guild_id": str(g.id), **m.payload()}, guild_id=g.id)
        return m

    async def member_leave(self, guild: Any, user: Any) -> None:
        """The user leaves: GUILD_MEMBER_REMOVE."""
        g = self._guild(guild)
        m = self.state.member(g, _id(user))
        self.remove_member(g, m)

    async def member_update(
        self,
        guild: Any,
        user: Any,
        *,
        pending: bool | None = None,
        nick: str | None = None,
        roles: Iterable[Any] | None = None,
        timeout_until: str | None = None,
    ) -> Member:
        """Change a member outside the bot (e.g. pending True→False after screening): GUILD_MEMBER_UPDATE."""
        g = self._guild(guild)
        m = self.state.member(g, _id(user))
        if pending is not None:
            m.pending = pending
        if nick is not None:
            m.nick = nick or None
        if roles is not None:
            m.roles = [_id(r) for r in roles]
        if timeout_until is not None:
            m.communication_disabled_until = timeout_until or None
        self.rest.member_update(g, m)
        return m

    # -- messages -----------------------------------------------------------------------------
    def _channel(self, channel: Any) -> Channel:
        return self.state.channel(_id(channel))

    async def user_message(
        self,
        channel: Any,
        author: Any,
        content: str = "",
        *,
        embeds: list[dict[str, Any]] | None = None,
        reply_to: Any = None,
        attachments: list[dict[str, Any]] | None = None,
    ) -> Message:
        """`author` posts in `channel` (guild channel, thread, or a DM channel). Mentions are
        parsed from <@id>, <@&id>, @everyone. Refused (AssertionError) without permission."""
        ch = self._channel(channel)
        u = self._user(author)
        perms = P.ALL
        if ch.type == ChannelType.DM:
            assert ch.recipient_id == u.id, "only the recipient can write in this DM"
        else:
            g = self.state.guilds[ch.guild_id]  # type: ignore[index]
            m = g.members.get(u.id)
            assert m is not None, f"{u.username} is not a member of {g.name}"
            perms = self.state.permissions_in(ch, m)
            need = P.SEND_MESSAGES_IN_THREADS if ch.is_thread else P.SEND_MESSAGES
            assert perms & P.VIEW_CHANNEL and perms & need, f"{u.username} cannot send in #{ch.name}"
            assert ch.type != ChannelType.FORUM, "post in a forum thread, not the forum"
            if ch.is_thread:
                assert not ch.locked or perms & P.MANAGE_THREADS, f"thread {ch.name!r} is locked"
            if ch.is_thread and ch.archived:
                ch.archived = False
                self.rest.channel_event("UPDATE", ch)
        payload: dict[str, Any] = {"content": content, "embeds": embeds or []}
        if reply_to is not None:
            payload["message_reference"] = {"message_id": str(_id(reply_to))}
        files = [
            {
                "filename": a.get("filename", "file.txt"),
                "size": a.get("size", 1),
                "content_type": a.get("content_type"),
            }
            for a in attachments or []
        ]
        assert content or embeds or files, "empty message"
        return self.rest.new_message(ch, u.id, payload, files, perms=perms)

    def dm_channel(self, user: Any) -> Channel:
        """The DM channel between the bot and `user` (created if needed)."""
        return self.state.dm_channel(self._user(user))

    async def user_dm(self, user: Any, content: str) -> Message:
        """`user` writes to the bot in DMs."""
        return await self.user_message(self.dm_channel(user), user, content)

    async def react(self, message: Any, user: Any, emoji: str, *, add: bool = True) -> None:
        """`user` adds (or removes) a unicode emoji reaction ("name:id" for custom emoji)."""
        msg = self._message(message)
        self.rest.react(msg, self._user(user).id, emoji, add)

    def _message(self, message: Any) -> Message:
        if isinstance(message, Message):
            return message
        if isinstance(message, Mapping):
            message = message["id"]
        mid = _id(message)
        msg = self.state.messages_by_id.get(mid) or self.state.ephemeral.get(mid)
        assert msg is not None and not msg.deleted, f"no such message {mid}"
        return msg

    # -- interactions -------------------------------------------------------------------------
    def _interaction(
        self,
        itype: int,
        channel: Channel,
        user: User,
        data: dict[str, Any],
        *,
        message: Message | None = None,
        locale: str = "en-US",
    ) -> InteractionRecord:
        state = self.state
        app = state.app
        assert app is not None
        iid = state.new_id()
        token = f"aW50ZXJhY3Rpb246{iid}:{secrets.token_urlsafe(48)}"
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(app.id),
            "type": itype,
            "data": data,
            "token": token,
            "version": 1,
            "locale": locale,
            "entitlements": [],
            "attachment_size_limit": ATTACHMENT_LIMIT,
            "channel_id": str(channel.id),
        }
        if channel.guild_id is not None:
            guild = state.guilds[channel.guild_id]
            member = guild.members.get(user.id)
            assert member is not None, f"{user.username} is not a member of {guild.name}"
            perms = state.permissions_in(channel, member)
            assert perms & P.VIEW_CHANNEL, f"{user.username} cannot see #{channel.name}"
            bot_perms = state.permissions_in(channel, guild.members[state.bot_user.id])
            payload.update(
                guild_id=str(guild.id),
                guild_locale="en-US",
                guild={"id": str(guild.id), "locale": "en-US", "features": ["COMMUNITY", "NEWS"]},
                member={**member.payload(), "permissions": str(perms)},
                app_permissions=str(bot_perms),
                channel={**channel.payload(), "permissions": str(perms)},
                authorizing_integration_owners={"0": str(guild.id)},
                context=0,
            )
        else:
            payload.update(
                user=user.payload(),
                app_permissions=str(P.VIEW_CHANNEL | P.SEND_MESSAGES | P.EMBED_LINKS | P.ATTACH_FILES),
                channel={**channel.payload(), "recipients": [user.payload()]},
                authorizing_integration_owners={"0": "0"},
                context=1,
            )
        if message is not None:
            payload["message"] = state.message_payload(message)
        rec = InteractionRecord(
            em=self,  # type: ignore[arg-type]
            id=iid,
            token=token,
            type=itype,
            user_id=user.id,
            guild_id=channel.guild_id,
            channel_id=channel.id,
            payload=payload,
            dispatched_at=self.clock.now(),
            message_id=None if message is None else message.id,
        )
        self.interactions[token] = rec
        self.gateway.dispatch("INTERACTION_CREATE", payload, guild_id=channel.guild_id)
        return rec

    def registered_command(
        self,
        name: str,
        guild: Any = None,
        type: int = 1,
    ) -> Command:
        """The command the bot registered under `name` (guild-scoped first, then global)."""
        gid = None if guild is None else _id(guild)
        cmds = list(self.state.commands.values())
        for scope in ([gid] if gid is not None else []) + [None]:
            for c in cmds:
                if c.name == name and c.type == type and c.guild_id == scope:
                    return c
        known = sorted(f"{c.name}{'' if c.guild_id is None else ' (guild)'}" for c in cmds)
        raise AssertionError(
            f"command {name!r} (type {type}) was never registered by the bot; registered: {known}"
        )

    def _default_channel(self, guild: Guild) -> Channel:
        for c in guild.channels.values():
            if c.type == ChannelType.TEXT and not c.deleted:
                return c
        raise AssertionError("guild has no text channel")

    def _check_can_use(self, cmd: Command, channel: Channel, user: User) -> None:
        if channel.guild_id is None:
            assert cmd.guild_id is None, "guild commands cannot be used in DMs"
            assert cmd.contexts is None or 1 in cmd.contexts, f"/{cmd.name} is not available in DMs"
            return
        assert cmd.contexts is None or 0 in cmd.contexts, f"/{cmd.name} is not available in guilds"
        member = self.state.guilds[channel.guild_id].members[user.id]
        channel_perms = self.state.permissions_in(channel, member)
        assert channel_perms & P.USE_APPLICATION_COMMANDS, (
            f"{user.username} cannot use commands in #{channel.name}"
        )
        if cmd.default_member_permissions is not None:
            guild = self.state.guilds[channel.guild_id]
            perms = self.state.base_permissions(guild, guild.members[user.id])
            needed = int(cmd.default_member_permissions)
            ok = bool(perms & P.ADMINISTRATOR) or (needed != 0 and perms & needed == needed)
            assert ok, f"/{cmd.name} is hidden from {user.username} (default_member_permissions={needed})"

    def _resolve_value(
        self,
        spec: dict[str, Any],
        value: Any,
        channel: Channel,
        resolved: dict[str, dict[str, Any]],
    ) -> Any:
        t = spec["type"]
        name = spec["name"]
        guild = self.state.guilds.get(channel.guild_id) if channel.guild_id else None

        def add_user(uid: int) -> None:
            user = self.state.users[uid]
            resolved.setdefault("users", {})[str(uid)] = user.payload()
            if guild is not None and uid in guild.members:
                m = guild.members[uid]
                resolved.setdefault("members", {})[str(uid)] = {
                    **m.payload(with_user=False),
                    "permissions": str(self.state.permissions_in(channel, m)),
                }

        if t == 3:
            value = str(value)
            assert spec.get("min_length", 0) <= len(value) <= spec.get("max_length", 6000), (
                f"{name}: bad length"
            )
        elif t == 4:
            assert isinstance(value, int) and not isinstance(value, bool), f"{name} must be an integer"
        elif t == 10:
            value = float(value)
        elif t == 5:
            assert isinstance(value, bool), f"{name} must be a boolean"
        if t in (4, 10):
            assert spec.get("min_value", value) <= value <= spec.get("max_value", value), (
                f"{name} out of range"
            )
        if spec.get("choices") and t in (3, 4, 10):
            assert value in [c["value"] for c in spec["choices"]], (
                f"{name}: {value!r} is not one of the choices"
            )
        if t == 6:
            uid = _id(value)
            assert uid in self.state.users, f"{name}: unknown user {uid}"
            add_user(uid)
            return str(uid)
        if t == 7:
            ch = self.state.channel(_id(value))
            types = spec.get("channel_types")
            assert not types or ch.type in types, f"{name}: channel type {ch.type} not allowed"
            entry: dict[str, Any] = {
                "id": str(ch.id),
                "name": ch.name,
                "type": ch.type,
                "parent_id": None if ch.parent_id is None else str(ch.parent_id),
                "permissions": str(
                    self.state.permissions_in(ch, guild.members[self.state.bot_user.id]) if guild else 0
                ),
            }
            if ch.is_thread:
                entry["thread_metadata"] = ch.payload()["thread_metadata"]
            resolved.setdefault("channels", {})[str(ch.id)] = entry
            return str(ch.id)
        if t == 8:
            assert guild is not None
            role = self.state.role(guild, _id(value))
            resolved.setdefault("roles", {})[str(role.id)] = role.payload()
            return str(role.id)
        if t == 9:
            vid = _id(value)
            if guild is not None and vid in guild.roles:
                resolved.setdefault("roles", {})[str(vid)] = guild.roles[vid].payload()
            else:
                add_user(vid)
            return str(vid)
        if t == 11:
            att = dict(value)
            aid = str(self.state.new_id())
            size = int(att.get("size", 1))
            assert size <= ATTACHMENT_LIMIT, f"{name}: attachment larger than attachment_size_limit"
            url = f"https://cdn.discordapp.com/attachments/0/{aid}/{att.get('filename', 'file.txt')}"
            resolved.setdefault("attachments", {})[aid] = {
                "id": aid,
                "filename": att.get("filename", "file.txt"),
                "size": size,
                "url": url,
                "proxy_url": url,
                "content_type": att.get("content_type"),
            }
            return aid
        return value

    def _build_options(
        self,
        cmd: Command,
        path: Sequence[str],
        options: Mapping[str, Any],
        channel: Channel,
        resolved: dict[str, dict[str, Any]],
        focused: str | None = None,
    ) -> list[dict[str, Any]]:
        specs = cmd.options
        wrappers: list[dict[str, Any]] = []
        for part in path:
            spec = next((o for o in specs if o["name"] == part and o["type"] in (1, 2)), None)
            subs = [o["name"] for o in specs if o["type"] in (1, 2)]
            assert spec is not None, f"/{cmd.name}: no subcommand {part!r} (has {subs})"
            wrappers.append({"name": part, "type": spec["type"], "options": []})
            specs = spec.get("options") or []
        assert not any(o["type"] in (1, 2) for o in specs), f"/{cmd.name}: a subcommand is required"
        known = {o["name"]: o for o in specs}
        unknown = set(options) - set(known)
        assert not unknown, (
            f"/{cmd.name} {' '.join(path)}: unknown options {sorted(unknown)} (has {sorted(known)})"
        )
        leaf: list[dict[str, Any]] = []
        for spec in specs:
            name = spec["name"]
            if name not in options:
                if focused is None:
                    assert not spec.get("required"), f"/{cmd.name}: missing required option {name!r}"
                continue
            if focused is not None:
                if name == focused:
                    assert spec.get("autocomplete"), f"option {name!r} has no autocomplete"
                    leaf.append(
                        {"name": name, "type": spec["type"], "value": str(options[name]), "focused": True}
                    )
                else:
                    leaf.append({"name": name, "type": spec["type"], "value": options[name]})
                continue
            value = self._resolve_value(spec, options[name], channel, resolved)
            leaf.append({"name": name, "type": spec["type"], "value": value})
        if not wrappers:
            return leaf
        wrappers[-1]["options"] = leaf
        for i in range(len(wrappers) - 1, 0, -1):
            wrappers[i - 1]["options"] = [wrappers[i]]
        return [wrappers[0]]

    def _command_interaction(
        self,
        itype: int,
        guild: Any,
        user: Any,
        name: str | Sequence[str],
        options: Mapping[str, Any] | None,
        channel: Any,
        focused: str | None = None,
    ) -> InteractionRecord:
        parts = name.split() if isinstance(name, str) else list(name)
        parts = [p.lstrip("/") for p in parts]
        u = self._user(user)
        if channel is not None:
            ch = self._channel(channel)
        else:
            assert guild is not None, "give a guild or a channel"
            ch = self._default_channel(self._guild(guild))
        gid = ch.guild_id
        cmd = self.registered_command(parts[0], gid)
        self._check_can_use(cmd, ch, u)
        resolved: dict[str, dict[str, Any]] = {}
        opts = self._build_options(cmd, parts[1:], options or {}, ch, resolved, focused)
        data: dict[str, Any] = {"id": str(cmd.id), "name": cmd.name, "type": 1, "options": opts}
        if cmd.guild_id is not None:
            data["guild_id"] = str(cmd.guild_id)
        if resolved:
            data["resolved"] = resolved
        return self._interaction(itype, ch, u, data)

    async def invoke_slash(
        self,
        guild: Any,
        user: Any,
        name: str | Sequence[str],
        options: Mapping[str, Any] | None = None,
        *,
        channel: Any = None,
    ) -> InteractionRecord:
        """Use a slash command: `name` is "feed add" or ("feed", "add"); `options` maps option
        names to values (ints/strs/bools; User/Member/Role/Channel objects or ids for entity
        options; a dict {filename, size, content_type} for attachments). `channel` defaults to
        the guild's first text channel; pass a DM channel with guild=None for DMs."""
        return self._command_interaction(2, guild, user, name, options, channel)

    async def autocomplete(
        self,
        guild: Any,
        user: Any,
        name: str | Sequence[str],
        options: Mapping[str, Any] | None = None,
        *,
        focused: str,
        channel: Any = None,
        timeout: float = 5.0,
    ) -> list[dict[str, Any]]:
        """Type into option `focused`; returns the choices the bot answered (callback type 8)."""
        rec = self._command_interaction(4, guild, user, name, options, channel, focused=focused)
        resp = await rec.response(timeout)
        assert resp.type == 8, f"autocomplete answered with callback type {resp.type}"
        return list(resp.data.get("choices", []))

    async def invoke_context_menu(
        self,
        guild: Any,
        user: Any,
        name: str,
        target: Any,
        *,
        channel: Any = None,
    ) -> InteractionRecord:
        """Use a user (target is a user/member) or message (target is a message) context menu."""
        u = self._user(user)
        is_msg = isinstance(target, Message)
        if channel is not None:
            ch = self._channel(channel)
        elif is_msg:
            ch = self._channel(target.channel_id)
        else:
            ch = self._default_channel(self._guild(guild))
        cmd = self.registered_command(name, ch.guild_id, type=3 if is_msg else 2)
        self._check_can_use(cmd, ch, u)
        resolved: dict[str, dict[str, Any]] = {}
        if is_msg:
            resolved["messages"] = {str(target.id): self.state.message_payload(target)}
            tid = target.id
        else:
            tid = _id(target)
            self._resolve_value({"type": 6, "name": "target"}, tid, ch, resolved)
        data: dict[str, Any] = {
            "id": str(cmd.id),
            "name": cmd.name,
            "type": cmd.type,
            "target_id": str(tid),
            "resolved": resolved,
        }
        if cmd.guild_id is not None:
            data["guild_id"] = str(cmd.guild_id)
        return self._interaction(2, ch, u, data)

    def _component(self, msg: Message, custom_id: str) -> dict[str, Any]:
        for c in walk_components(msg.components):
            if c.get("custom_id") == custom_id:
                return c
        ids = [c.get("custom_id") for c in walk_components(msg.components) if c.get("custom_id")]
        raise AssertionError(f"message {msg.id} has no component {custom_id!r} (has {ids})")

    async def click_button(
        self,
        message: Any,
        custom_id: str,
        user: Any,
    ) -> InteractionRecord:
        """Click the button `custom_id` on `message` (a Message, its id, or a payload dict)."""
        msg = self._message(message)
        comp = self._component(msg, custom_id)
        assert comp.get("type") == 2, f"{custom_id!r} is not a button"
        assert not comp.get("disabled"), f"button {custom_id!r} is disabled"
        data = {"custom_id": custom_id, "component_type": 2}
        if "id" in comp:
            data["id"] = comp["id"]
        return self._interaction(3, self.state.channels[msg.channel_id], self._user(user), data, message=msg)

    async def select(
        self,
        message: Any,
        custom_id: str,
        values: Sequence[Any],
        user: Any,
    ) -> InteractionRecord:
        """Choose `values` in the select menu `custom_id` (option values for string selects;
        users/roles/channels or their ids for entity selects)."""
        msg = self._message(message)
        comp = self._component(msg, custom_id)
        ctype = comp.get("type")
        assert ctype in (3, 5, 6, 7, 8), f"{custom_id!r} is not a select menu"
        assert not comp.get("disabled"), f"select {custom_id!r} is disabled"
        n = len(values)
        assert comp.get("min_values", 1) <= n <= comp.get("max_values", 1), (
            f"{custom_id!r}: {n} values not allowed"
        )
        ch = self.state.channels[msg.channel_id]
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": ctype}
        resolved: dict[str, dict[str, Any]] = {}
        if ctype == 3:
            allowed = [o["value"] for o in comp.get("options", [])]
            for v in values:
                assert v in allowed, f"{custom_id!r}: {v!r} is not an option ({allowed})"
            data["values"] = [str(v) for v in values]
        else:
            kind = {5: 6, 6: 8, 7: 9, 8: 7}[ctype]
            data["values"] = [
                self._resolve_value({"type": kind, "name": custom_id}, v, ch, resolved) for v in values
            ]
            data["resolved"] = resolved
        return self._interaction(3, ch, self._user(user), data, message=msg)

    async def submit_modal(
        self,
        modal: ModalRecord | InteractionRecord,
        user: Any = None,
        values: Mapping[str, Any] | None = None,
    ) -> InteractionRecord:
        """Submit a modal the bot opened: `values` maps input custom_ids to text (or a list of
        values for selects in labels). Required inputs and length limits are enforced."""
        if isinstance(modal, InteractionRecord):
            assert modal.modal is not None, "that interaction did not open a modal"
            modal = modal.modal
        origin = modal.interaction
        u = self._user(user) if user is not None else self.state.users[origin.user_id]
        assert u.id == origin.user_id, "only the user who opened the modal can submit it"
        values = dict(values or {})
        inputs = modal.inputs()
        unknown = set(values) - set(inputs)
        assert not unknown, (
            f"modal {modal.custom_id!r} has no inputs {sorted(unknown)} (has {sorted(inputs)})"
        )

        def answer(c: dict[str, Any]) -> dict[str, Any]:
            cid = c["custom_id"]
            if c["type"] == 4:
                v = str(values.get(cid, c.get("value") or ""))
                if c.get("required", True):
                    assert v, f"modal input {cid!r} is required"
                if v:
                    assert c.get("min_length", 0) <= len(v) <= c.get("max_length", 4000), (
                        f"{cid!r}: bad length"
                    )
                return {"type": 4, "custom_id": cid, "value": v, **({"id": c["id"]} if "id" in c else {})}
            vals = values.get(cid, [])
            vals = [vals] if isinstance(vals, str) else list(vals)
            return {
                "type": c["type"],
                "custom_id": cid,
                "values": [str(_id(v)) if c["type"] != 3 else v for v in vals],
            }

        comps: list[dict[str, Any]] = []
        for row in modal.components:
            if row.get("type") == 1:
                comps.append({"type": 1, "components": [answer(c) for c in row.get("components", [])]})
            elif row.get("type") == 18:
                comps.append({"type": 18, "id": row.get("id", 0), "component": answer(row["component"])})
            elif row.get("type") == 4:
                comps.append(answer(row))
        data = {"custom_id": modal.custom_id, "components": comps}
        msg = None
        if origin.message_id is not None:
            msg = self.state.messages_by_id.get(origin.message_id) or self.state.ephemeral.get(
                origin.message_id
            )
        return self._interaction(5, self.state.channels[origin.channel_id], u, data, message=msg)

    # -- things moderators/admins do outside the bot ------------------------------------------
    async def user_thread(
        self,
        channel: Any,
        author: Any,
        name: str,
        content: str = "",
        *,
        applied_tags: Iterable[int] = (),
    ) -> Channel:
        """`author` opens a thread: a forum post (with a starter message and tags) in a forum, or
        a public thread in a text channel. THREAD_CREATE (+ MESSAGE_CREATE for forum posts)."""
        parent = self._channel(channel)
        u = self._user(author)
        g = self.state.guilds[parent.guild_id]  # type: ignore[index]
        m = g.members.get(u.id)
        assert m is not None, f"{u.username} is not a member"
        perms = self.state.permissions_in(parent, m)
        need = P.SEND_MESSAGES if parent.type == ChannelType.FORUM else P.CREATE_PUBLIC_THREADS
        assert perms & P.VIEW_CHANNEL and perms & need, (
            f"{u.username} cannot create threads in #{parent.name}"
        )
        assert 1 <= len(name) <= 100, "thread names are 1-100 characters"
        th = self.state.add_thread(parent, name, u.id)
        if parent.type == ChannelType.FORUM:
            assert content, "a forum post needs a starter message"
            th.applied_tags = self.rest._tags(parent, list(applied_tags))
        self.rest.announce_thread(th, u.id)
        if parent.type == ChannelType.FORUM:
            self.rest.new_message(th, u.id, {"content": content}, [], perms=perms, msg_id=th.id)
        return th

    async def user_delete_message(self, message: Any) -> None:
        """The author (or a moderator) deletes a message: MESSAGE_DELETE."""
        self.rest.remove_message(self._message(message))

    async def user_edit_message(self, message: Any, content: str) -> Message:
        """The author edits their message: MESSAGE_UPDATE."""
        msg = self._message(message)
        self.rest.apply_edit(msg, {"content": content}, [])
        return msg

    async def set_overwrite(
        self,
        channel: Any,
        target: Any,
        *,
        allow: int = 0,
        deny: int = 0,
    ) -> None:
        """An admin sets a channel overwrite for a role or member (allow=deny=0 removes it): CHANNEL_UPDATE."""
        ch = self._channel(channel)
        tid = _id(target)
        g = self.state.guilds[ch.guild_id]  # type: ignore[index]
        if allow == 0 and deny == 0:
            ch.overwrites.pop(tid, None)
        else:
            from .state import Overwrite

            ch.overwrites[tid] = Overwrite(tid, 0 if tid in g.roles else 1, allow, deny)
        self.rest.channel_event("UPDATE", ch)

    async def update_role(
        self,
        role: Any,
        *,
        permissions: int | None = None,
        position: int | None = None,
        name: str | None = None,
    ) -> Role:
        """An admin edits a role: GUILD_ROLE_UPDATE."""
        r = next((g.roles[_id(role)] for g in self.state.guilds.values() if _id(role) in g.roles), None)
        assert r is not None, f"unknown role {_id(role)}"
        if permissions is not None:
            r.permissions = permissions
        if position is not None:
            r.position = position
        if name is not None:
            r.name = name
        payload = {"guild_id": str(r.guild_id), "role": r.payload()}
        self.gateway.dispatch("GUILD_ROLE_UPDATE", payload, guild_id=r.guild_id)
        return r

    async def auto_archive(self, thread: Any) -> Channel:
        """Discord archives an idle thread (as after auto_archive_duration): THREAD_UPDATE."""
        th = self._channel(thread)
        assert th.is_thread, "not a thread"
        th.archived = True
        th.archive_timestamp = iso()
        self.rest.channel_event("UPDATE", th)
        return th

    async def rename_channel(self, channel: Any, name: str) -> Channel:
        """A moderator renames a channel or thread: CHANNEL_UPDATE / THREAD_UPDATE."""
        ch = self._channel(channel)
        ch.name = name
        self.rest.channel_event("UPDATE", ch)
        return ch

    async def delete_channel(self, channel: Any) -> None:
        """An admin deletes a channel or thread: CHANNEL_DELETE / THREAD_DELETE."""
        ch = self._channel(channel)
        ch.deleted = True
        if ch.is_thread:
            data = {
                "id": str(ch.id),
                "guild_id": str(ch.guild_id),
                "parent_id": str(ch.parent_id),
                "type": ch.type,
            }
            self.gateway.dispatch("THREAD_DELETE", data, guild_id=ch.guild_id)
        else:
            self.rest.channel_event("DELETE", ch)

    # -- world building conveniences ----------------------------------------------------------
    def make_user(self, username: str, **kw: Any) -> User:
        return self.state.make_user(username, **kw)

    def add_role(self, guild: Any, name: str, perms: int = 0, position: int | None = None) -> Role:
        return self.state.add_role(self._guild(guild), name, perms, position)

    def now_iso(self) -> str:
        return iso()
