"""A minimal discord.py bot exercising what the emulator supports (used by the self-tests only)."""

from __future__ import annotations

import asyncio
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands


class ApplyModal(discord.ui.Modal, title="Apply to Roundtable"):
    why = discord.ui.TextInput(label="Why do you want to join?", custom_id="why", max_length=200)
    site = discord.ui.TextInput(label="Your site", custom_id="site", required=False)

    def __init__(self, bot: SelfTestBot) -> None:
        super().__init__(custom_id="apply-modal")
        self.bot = bot

    async def on_submit(self, interaction: discord.Interaction) -> None:
        self.bot.log.append(("modal", self.why.value, self.site.value))
        await interaction.response.send_message(f"Thanks! You said: {self.why.value}", ephemeral=True)


class ApplyView(discord.ui.View):
    def __init__(self, bot: SelfTestBot) -> None:
        super().__init__(timeout=None)
        self.bot = bot

    @discord.ui.button(label="Apply", custom_id="apply", style=discord.ButtonStyle.primary)
    async def apply(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        await interaction.response.send_modal(ApplyModal(self.bot))

    @discord.ui.button(label="Count", custom_id="count")
    async def count(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        self.bot.clicks += 1
        await interaction.response.edit_message(content=f"clicked {self.bot.clicks}")

    @discord.ui.select(cls=discord.ui.UserSelect, custom_id="pick-user", max_values=2)
    async def pick_user(self, interaction: discord.Interaction, select: discord.ui.UserSelect[Any]) -> None:
        names = sorted(u.name for u in select.values)
        await interaction.response.send_message("picked " + ",".join(names), ephemeral=True)

    @discord.ui.select(
        custom_id="colour", options=[discord.SelectOption(label=c, value=c) for c in ("red", "blue")]
    )
    async def colour(self, interaction: discord.Interaction, select: discord.ui.Select[Any]) -> None:
        await interaction.response.send_message(f"you chose {select.values[0]}", ephemeral=True)


class ApproveButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"rt:app:approve:(?P<id>\d+)"):
    def __init__(self, app_id: int) -> None:
        super().__init__(discord.ui.Button(label="Approve", custom_id=f"rt:app:approve:{app_id}"))
        self.app_id = app_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: Any
    ) -> ApproveButton:
        return cls(int(match["id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        member = interaction.user
        assert isinstance(member, discord.Member)
        if not member.guild_permissions.kick_members and not any(r.name == "Moderator" for r in member.roles):
            await interaction.response.send_message("not allowed", ephemeral=True)
            return
        await interaction.response.send_message(f"approved {self.app_id}")


class SelfTestBot(commands.Bot):
    def __init__(self, *, members: bool = True, message_content: bool = True, **kw: Any) -> None:
        intents = discord.Intents.default()
        intents.members = members
        intents.message_content = message_content
        super().__init__(command_prefix="!", intents=intents, guild_ready_timeout=0.1, **kw)
        self.log: list[Any] = []
        self.clicks = 0
        self.gate = asyncio.Event()
        self.errors: list[BaseException] = []
        self.events: list[tuple[str, Any]] = []
        self._add_commands()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        # discord.py sleeps 5 s before every non-initial IDENTIFY; tests need not wait.
        return None

    async def setup_hook(self) -> None:
        self.add_dynamic_items(ApproveButton)
        await self.tree.sync()

    async def on_member_join(self, member: discord.Member) -> None:
        self.events.append(("join", member.id))

    async def on_message(self, message: discord.Message) -> None:
        self.events.append(("message", message.content))
        await self.process_commands(message)

    def _add_commands(self) -> None:
        tree = self.tree

        @tree.command(name="ping", description="Reply pong")
        async def ping(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("pong")

        @tree.command(name="slow", description="Defer then follow up")
        async def slow(interaction: discord.Interaction) -> None:
            await interaction.response.defer(thinking=True)
            await interaction.followup.send("done slowly")

        @tree.command(name="secret", description="Ephemeral")
        async def secret(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("only you", ephemeral=True)

        @tree.command(name="panel", description="Post the apply panel")
        async def panel(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("Welcome!", view=ApplyView(self))

        @tree.command(name="late", description="Answers after the gate opens")
        async def late(interaction: discord.Interaction) -> None:
            await self.gate.wait()
            try:
                await interaction.response.send_message("too late?")
            except discord.HTTPException as e:
                self.errors.append(e)

        @tree.command(name="twice", description="Answers twice")
        async def twice(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("one")
            interaction.response._response_type = None  # force discord.py to try a second initial response
            try:
                await interaction.response.send_message("two")
            except discord.HTTPException as e:
                self.errors.append(e)

        @tree.command(name="whois", description="Describe a member")
        @app_commands.describe(who="member")
        async def whois(interaction: discord.Interaction, who: discord.Member, loud: bool = False) -> None:
            text = f"{who.name} has {len(who.roles) - 1} roles"
            await interaction.response.send_message(text.upper() if loud else text)

        @tree.command(name="admin", description="Admins only")
        @app_commands.default_permissions(manage_guild=True)
        async def admin(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("admin ok")

        @tree.context_menu(name="Inspect")
        async def inspect(interaction: discord.Interaction, member: discord.Member) -> None:
            await interaction.response.send_message(f"inspected {member.name}", ephemeral=True)

        @tree.command(name="edit", description="Edit the original, then followups")
        async def edit(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("v1")
            await interaction.edit_original_response(content="v2")
            hidden = await interaction.followup.send("psst", ephemeral=True, wait=True)
            public = await interaction.followup.send("public", wait=True)
            await public.edit(content="public edited")
            await hidden.delete()

        feed = app_commands.Group(name="feed", description="Feeds")

        @feed.command(name="add", description="Add a feed")
        async def feed_add(interaction: discord.Interaction, url: str, interval: int = 30) -> None:
            await interaction.response.send_message(f"added {url} every {interval}")

        @feed_add.autocomplete("url")
        async def feed_url_ac(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            urls = ["https://blog.example/feed", "https://blog.example/atom", "https://other.example/rss"]
            return [app_commands.Choice(name=u, value=u) for u in urls if current in u]

        tree.add_command(feed)

        gate = app_commands.Group(name="gate", description="Membership gate")
        questions = app_commands.Group(name="questions", description="Application questions", parent=gate)

        @questions.command(name="add", description="Add a question")
        @app_commands.choices(
            kind=[
                app_commands.Choice(name="Short", value="short"),
                app_commands.Choice(name="Long", value="long"),
            ]
        )
        async def questions_add(
            interaction: discord.Interaction,
            text: str,
            kind: str,
            role: discord.Role,
            where: discord.TextChannel,
        ) -> None:
            await interaction.response.send_message(f"{kind}:{text}:{role.name}:{where.name}", ephemeral=True)

        tree.add_command(gate)
