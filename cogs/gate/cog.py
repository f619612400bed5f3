"""The membership gate: newcomers apply through a form, moderators decide from a queue, and each
decision's effects are stored before they are carried out (see :mod:`bot.services.gate`)."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import RoundtableBot
from bot.config_schema import CommunityConfig
from bot.db.applications import ApplicationRepository, ApplicationRow, EffectRow
from bot.db.jobs import Job
from bot.domain.applications import Event, InvalidTransition, expiry_due, paginate_questions, reminder_due
from bot.errors import UserFacingError
from bot.render import applications as render
from bot.services.gate import GateService, policy_of, questions_of
from bot.services.pacing import Pacer
from cogs.gate.modals import FORM_ID, REASON_ID, ApplicationModal, ReasonModal, submitted_values
from cogs.gate.views import REVIEW_ID, AnswerButton, ContinueButton, card_view, panel_view, single

log = logging.getLogger(__name__)

#: More joins than this waiting at once is a burst: one summary in the queue, not one line per join.
BURST_THRESHOLD = 10
#: Effects that check the member's roles first and can be repeated safely (see run_effects).
IDEMPOTENT_STEPS = frozenset({"grant_member_role", "remove_pending_role"})
#: How long an Approve reply waits to say whether the member role was given.
ROLE_REPLY_WAIT = 5.0
#: Longest an approval waits for its decision to be stored before the interaction is acknowledged
#: anyway (Discord drops an interaction not acknowledged within 3 s of its creation) ...
ACK_WITHIN = 0.5
#: ... and the interaction's age by which it is acknowledged whatever happens (a margin for the
#: acknowledgement's own trip and for clocks that disagree).
ACK_DEADLINE = 2.0
#: Requests per second the gate allows itself (Discord's global limit is 50 per bot).
GLOBAL_RATE = 40.0  # with bursts of 5: never more than 45 in any fixed second
STATUS_CHOICES = [
    app_commands.Choice(name=label, value=value) for value, label in render.STATUS_LABEL.items()
]


@dataclass
class _Burst:
    guild_id: int
    started: datetime
    count: int = 0
    message: discord.Message | None = None


def is_moderator(member: discord.abc.User, config: CommunityConfig) -> bool:
    """Configured moderator roles, or Manage Roles / Administrator."""
    if not isinstance(member, discord.Member):
        return False
    perms = member.guild_permissions
    if perms.manage_roles or perms.administrator:
        return True
    return any(role.id in config.roles.moderators for role in member.roles)


class NotConfigured(Exception):
    """An effect cannot run until an admin configures something (already reported to the admin log)."""


def _discord_error(exc: Exception) -> str:
    if isinstance(exc, discord.HTTPException):
        return f"{exc.status} {exc.code}: {exc.text}"
    return str(exc)


@dataclass(frozen=True)
class _Join:
    guild_id: int
    user_id: int
    joined_at: datetime
    created_at: datetime | None


def _slot(when: datetime) -> datetime:
    """``when`` rounded up to the minute: jobs for a burst share one slot (and one dedupe key)."""
    floor = when.replace(second=0, microsecond=0)
    return floor if floor == when else floor + timedelta(minutes=1)


class GateCog(commands.Cog, name="GateCog"):
    """Membership gate: the Apply panel, the form, the moderators' queue and the decisions' effects."""

    gate = app_commands.Group(
        name="gate",
        description="Set up and watch the membership gate",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )
    application = app_commands.Group(
        name="application", description="Review membership applications", guild_only=True
    )

    def __init__(self, bot: RoundtableBot) -> None:
        self.bot = bot
        self.repo = ApplicationRepository(bot.db)
        self.service = GateService(self.repo, bot.clock)
        self.pacer = Pacer(GLOBAL_RATE, 5)
        # Joins as they arrive (recorded in batches), then their Discord work (pending role, DM) in order.
        self._joins: asyncio.Queue[_Join] = asyncio.Queue()
        self._work: asyncio.Queue[tuple[int, int, str]] = asyncio.Queue()
        # Per-application locks, alive only while someone holds or awaits one.
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()
        # One request at a time per rate-limit bucket we lean on (member edits per guild, messages in
        # the queue channel): discord.py then fills every window, where concurrent senders leave gaps.
        self._lanes: dict[tuple[str, int], asyncio.Lock] = {}
        self._bursts: dict[int, _Burst] = {}
        self._resumed = False
        # Per guild, everyone who ever had an application (loaded once, then kept up to date): a join
        # of anyone else is a first join, whose pending role goes out before the join is recorded.
        self._applicants: dict[int, set[int]] = {}
        self._applicants_loaded = False  # until then (the first ready), every join takes the long way
        # First joins whose pending role is queued or sent this session (the join's work then skips it).
        self._pending_sent: set[tuple[int, int]] = set()
        self._queued_pending = 0  # how many of _work's items are such pending roles
        # Decisions whose effects a task is carrying out right now (the other runners leave them be).
        self._running: set[int] = set()
        self._planned_slots: dict[str, datetime] = {}  # sweeps planned this session: dedupe key -> slot

    # -- lifecycle ---------------------------------------------------------------------------
    async def cog_load(self) -> None:
        self.bot.scheduler.register("gate.effects", self._job_effects)
        self.bot.scheduler.register("gate.remind", self._job_remind)
        self.bot.scheduler.register("gate.expire", self._job_expire)
        self.bot.scheduler.register("gate.nudge", self._job_nudge)
        self.bot.status_providers.append(self.status_rows)
        self.bot.setup_steps.append(self.setup_step)
        self.bot.spawn(self._join_recorder(), name="gate-joins")
        self.bot.spawn(self._join_worker(), name="gate-join-work")

    async def cog_unload(self) -> None:
        if self.status_rows in self.bot.status_providers:
            self.bot.status_providers.remove(self.status_rows)
        if self.setup_step in self.bot.setup_steps:
            self.bot.setup_steps.remove(self.setup_step)

    async def setup_step(
        self, guild: discord.Guild, options: dict[str, Any]
    ) -> list[tuple[bool | None, str]]:
        """/setup's gate step: post (or update) the Apply message (/setup checks roles and channels itself)."""
        line = await self._post_panel(guild, self.bot.community(guild.id))
        return [(line.startswith("✅"), line.lstrip("✅❌ "))]

    def _lock(self, app_id: int) -> asyncio.Lock:
        lock = self._locks.get(app_id)
        if lock is None:
            lock = self._locks[app_id] = asyncio.Lock()
        return lock

    def _lane(self, kind: str, resource_id: int) -> asyncio.Lock:
        return self._lanes.setdefault((kind, resource_id), asyncio.Lock())

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        if self._resumed:
            return
        self._resumed = True
        self.bot.spawn(self.resume(), name="gate-resume")

    async def resume(self) -> None:
        """After a start: finish queued joins, post missing queue cards, carry out pending effects."""
        for guild_id, users in (await self.repo.applicants()).items():
            self._applicants.setdefault(guild_id, set()).update(users)
        self._applicants_loaded = True
        for app in await self.repo.joins_not_done():  # the welcome DM may have gone out: look first
            self._work.put_nowait((app.guild_id, app.user_id, "join-again"))
        for guild in self.bot.guilds:
            await self._catch_up(guild)
        for app in await self.repo.submitted_without_card():
            await self.post_card(app.id, reconcile=True)
        events = sorted({e.event_id for e in await self.repo.pending_effects()})
        if events:
            log.info("resuming effects of %s decision(s)", len(events))
        await asyncio.gather(*(self.run_effects(event_id) for event_id in events))

    # -- Discord helpers ---------------------------------------------------------------------
    async def _member(self, guild: discord.Guild, user_id: int) -> discord.Member | None:
        member = guild.get_member(user_id)
        if member is not None:
            return member
        try:
            await self.pacer.wait()
            return await guild.fetch_member(user_id)
        except discord.NotFound:
            return None

    async def _report_http(self, guild_id: int, exc: discord.HTTPException, doing: str) -> None:
        """Tell admins about a Discord refusal they can fix."""
        if exc.status == 403:
            await self.bot.alerts.report(
                guild_id,
                f"gate:forbidden:{doing}",
                f"Discord refused to let me {doing} ({exc.code}: {exc.text}).",
                fix=(
                    "Give Roundtable's role the Manage Roles permission (and Kick Members if denials or "
                    "expiries kick), and drag Roundtable's role above the member and pending roles in "
                    "Server Settings → Roles. Then run /gate setup to check."
                ),
            )

    async def _dm(
        self, user_id: int, *, nonce: str, marker: str | None, reconcile: bool, **kwargs: Any
    ) -> str:
        """DM a user; 'dm', 'already_sent' or 'dm_closed'. With ``reconcile``, look for our earlier
        message in the DM history first (its footer ``marker``, or without one the same text), so a
        crash never sends twice."""
        user = self.bot.get_user(user_id)
        try:
            if user is None:
                await self.pacer.wait()
                user = await self.bot.fetch_user(user_id)
            await self.pacer.wait()
            channel = user.dm_channel or await user.create_dm()
            if reconcile:
                await self.pacer.wait()
                async for message in channel.history(limit=20):
                    if message.author.id != self.bot.user.id:  # type: ignore[union-attr]
                        continue
                    if marker is not None and any(e.footer.text == marker for e in message.embeds):
                        return "already_sent"
                    if marker is None and message.content == kwargs.get("content"):
                        return "already_sent"
            await self.pacer.wait()
            await channel.send(nonce=nonce, **kwargs)
        except discord.Forbidden as exc:
            if exc.code in (50007, 50278):
                return "dm_closed"
            raise
        except discord.NotFound:
            return "dm_closed"
        return "dm"

    async def _send_once(
        self,
        channel: discord.abc.Messageable,
        *,
        nonce: str,
        retry: bool,
        same: Callable[[discord.Message], bool],
        **kwargs: Any,
    ) -> bool:
        """Send a channel message for an effect; on a retry, first look for the bot's own earlier copy
        (Discord's nonce dedupes only for a few minutes, a restart can take longer). True if sent."""
        if retry:
            await self.pacer.wait()
            async for earlier in channel.history(limit=50):
                if earlier.author.id == self.bot.user.id and same(earlier):  # type: ignore[union-attr]
                    return False
        await self.pacer.wait()
        await channel.send(nonce=nonce, **kwargs)
        return True

    # -- joining -----------------------------------------------------------------------------
    @commands.Cog.listener()
    async def on_member_join(self, member: discord.Member) -> None:
        config = self.bot.community(member.guild.id)
        if member.bot or not config.gate.enabled:
            return
        if (
            config.roles.pending
            and self._applicants_loaded
            and member.id not in self._applicants.get(member.guild.id, ())
        ):
            # A first join: nothing in their history can change the outcome (only an approved member
            # coming back is restored instead), so the pending role goes out first, ahead of the join's
            # bookkeeping. Giving a role is idempotent; a crash before the join is recorded is caught
            # up at the next start (see _catch_up), which finds the role already held.
            self._pending_sent.add((member.guild.id, member.id))
            self._work.put_nowait((member.guild.id, member.id, "pending"))
            self._queued_pending += 1
        self._joins.put_nowait(_Join(member.guild.id, member.id, self.bot.clock.now(), member.created_at))

    async def _join_recorder(self) -> None:
        """Record joins in batches (one transaction for a burst), then queue their Discord work."""
        while True:
            batch = [await self._joins.get()]
            while not self._joins.empty() and len(batch) < 200:
                batch.append(self._joins.get_nowait())
            try:
                await self._record_joins(batch)
            except Exception:
                log.exception("could not record %s join(s); the next start catches up", len(batch))

    async def _record_joins(self, batch: list[_Join]) -> None:
        for guild_id in dict.fromkeys(j.guild_id for j in batch):
            joins = [j for j in batch if j.guild_id == guild_id]
            config = self.bot.community(guild_id)
            applicants = self._applicants.setdefault(guild_id, set())
            new, restored = await self.service.members_joined(
                guild_id, [(j.user_id, j.joined_at, j.created_at) for j in joins], config,
                first_joins={j.user_id for j in joins if j.user_id not in applicants}
                if self._applicants_loaded else set(),
                mark=(f"gate:joins_seen:{guild_id}", max(j.joined_at for j in joins).isoformat()),
            )  # fmt: skip
            applicants.update(app.user_id for app in new)
            for user_id in restored:
                self._work.put_nowait((guild_id, user_id, "restore"))
            for app in new:
                self._work.put_nowait((guild_id, app.user_id, "join"))
            if new:
                policy = policy_of(config.gate)
                for slot in sorted(
                    {_slot(due) for app in new if (due := reminder_due(app.joined_at, policy))}
                ):
                    await self._plan_slot("gate.remind", guild_id, slot)
                for slot in sorted(
                    {_slot(due) for app in new if (due := expiry_due(app.entered_at, policy))}
                ):
                    await self._plan_expiry_slot(guild_id, slot)

    async def _catch_up(self, guild: discord.Guild) -> None:
        """Members who joined while the bot was away (or whose join was not yet recorded at a crash):
        record them now. The first start only sets the mark, so existing members are never gated."""
        key = f"gate:joins_seen:{guild.id}"
        seen = await self.bot.state_repo.get(key)
        if seen is None:
            await self.bot.state_repo.set(key, self.bot.clock.now().isoformat())
            return
        config = self.bot.community(guild.id)
        if not config.gate.enabled:
            return
        since = datetime.fromisoformat(seen)
        member_role = config.roles.member
        missed = [
            m for m in guild.members
            if not m.bot and m.joined_at is not None and m.joined_at > since
            and member_role not in {r.id for r in m.roles}
        ]  # fmt: skip
        if not missed:
            return
        histories = await self.repo.histories(guild.id, [m.id for m in missed])
        for m in missed:
            if any(r.joined_at >= since for r in histories.get(m.id, [])):
                continue
            assert m.joined_at is not None
            self._joins.put_nowait(_Join(guild.id, m.id, m.joined_at, m.created_at))
        log.info("catching up on %s join(s) in guild %s", len(missed), guild.id)

    async def _plan_expiry(self, app: ApplicationRow) -> None:
        due = expiry_due(app.entered_at, policy_of(self.bot.community(app.guild_id).gate))
        if due is not None:
            await self._plan_expiry_slot(app.guild_id, _slot(due))

    async def _plan_expiry_slot(self, guild_id: int, slot: datetime) -> None:
        await self._plan_slot("gate.expire", guild_id, slot)

    async def _plan_slot(self, kind: str, guild_id: int, slot: datetime) -> None:
        """Plan a reminder or expiry sweep for the minute ``slot``; joins in the same minute share it
        (its dedupe key), and a slot already planned this session costs no database trip."""
        key = f"{kind.replace('.', ':')}:{guild_id}:{slot.isoformat()}"
        if key in self._planned_slots:
            return
        await self.bot.scheduler.schedule(kind, slot, {}, guild_id=guild_id, dedupe_key=key)
        if len(self._planned_slots) >= 512:  # forget the slots that have run
            now = self.bot.clock.now()
            self._planned_slots = {k: v for k, v in self._planned_slots.items() if v > now}
        self._planned_slots[key] = slot

    async def _join_worker(self) -> None:
        """The Discord side of joins, one at a time and in order, so a raid never floods Discord."""
        while True:
            guild_id, user_id, kind = await self._work.get()
            try:
                if kind == "pending":
                    self._queued_pending -= 1
                    await self._give_pending(guild_id, user_id)
                    continue
                await self._note_burst(guild_id)
                if kind == "restore":
                    await self._restore(guild_id, user_id)
                else:
                    await self._process_join(guild_id, user_id, again=kind == "join-again")
            except Exception:
                log.exception(
                    "join of user %s in guild %s failed; retried at the next start", user_id, guild_id
                )
            finally:
                if self._work.empty() and self._joins.empty():
                    await self._end_bursts()

    async def _process_join(self, guild_id: int, user_id: int, *, again: bool = False) -> None:
        """A recorded join's Discord work: the pending role (unless given on arrival) and the welcome
        DM. ``again``: resumed after a restart, so the DM may already be there (looked for first)."""
        given_on_arrival = (guild_id, user_id) in self._pending_sent
        self._pending_sent.discard((guild_id, user_id))
        app = await self.repo.latest(guild_id, user_id)
        guild = self.bot.get_guild(guild_id)
        if app is None or guild is None:
            return
        config = self.bot.community(guild_id)
        # Decided (or gone) before its turn in a long queue: nothing left to do for this join.
        if app.status == "awaiting_form":
            member = guild.get_member(user_id)
            if not given_on_arrival:
                await self._give_pending(guild_id, user_id)
            if member is not None and config.gate.dm_applicants:
                outcome = await self._dm(
                    user_id, nonce=f"rtgj{app.id}", marker=None, reconcile=again,
                    content=render.join_dm(guild.name, config.channels.welcome),
                )  # fmt: skip
                log.debug("join DM to %s: %s", user_id, outcome)
        await self.repo.mark_join_done(app.id)

    async def _give_pending(self, guild_id: int, user_id: int) -> None:
        """Give a newcomer the pending role (unless they hold it already)."""
        guild = self.bot.get_guild(guild_id)
        role_id = self.bot.community(guild_id).roles.pending
        member = guild.get_member(user_id) if guild else None
        pending = guild.get_role(role_id) if guild and role_id else None
        if member is None or pending is None or pending in member.roles:
            return
        try:
            async with self._lane("member_edit", guild_id):
                await self.pacer.wait()
                await member.add_roles(pending, reason="Roundtable: application pending")
        except discord.NotFound:
            log.info("user %s left before getting the pending role", user_id)
        except discord.HTTPException as exc:
            log.warning("could not give the pending role to %s: %s", user_id, exc)
            await self._report_http(guild_id, exc, "give the pending role")

    async def _restore(self, guild_id: int, user_id: int) -> None:
        guild = self.bot.get_guild(guild_id)
        config = self.bot.community(guild_id)
        role = guild.get_role(config.roles.member) if guild and config.roles.member else None
        member = guild.get_member(user_id) if guild else None
        if role is None or member is None or role in member.roles:
            return
        try:
            async with self._lane("member_edit", member.guild.id):
                await self.pacer.wait()
                await member.add_roles(role, reason="Roundtable: approved before, rejoined")
        except discord.HTTPException as exc:
            await self._report_http(guild_id, exc, "give the member role back")

    async def _note_burst(self, guild_id: int) -> None:
        burst = self._bursts.get(guild_id)
        if burst is None:
            # Joins waiting (pending roles queued on arrival are not joins of their own).
            waiting = self._work.qsize() - self._queued_pending
            if waiting + 1 <= BURST_THRESHOLD:
                return
            burst = self._bursts[guild_id] = _Burst(guild_id, self.bot.clock.now())
            channel = self._channel(self.bot.community(guild_id).channels.mod_queue)
            burst.count = waiting + 1
            if channel is not None:
                try:
                    async with self._lane("messages", channel.id):
                        await self.pacer.wait()
                        burst.message = await channel.send(
                            render.burst_text(burst.count, False, burst.started)
                        )
                except discord.HTTPException as exc:
                    log.warning("could not post the join burst summary: %s", exc)
        else:
            burst.count += 1

    async def _end_bursts(self) -> None:
        for guild_id, burst in list(self._bursts.items()):
            self._bursts.pop(guild_id)
            if burst.message is not None:
                try:
                    await self.pacer.wait()
                    await burst.message.edit(content=render.burst_text(burst.count, True, burst.started))
                except discord.HTTPException as exc:
                    log.warning("could not update the join burst summary: %s", exc)

    @commands.Cog.listener()
    async def on_raw_member_remove(self, payload: discord.RawMemberRemoveEvent) -> None:
        app = await self.repo.get_open(payload.guild_id, payload.user.id)
        if app is None:
            return
        config = self.bot.community(payload.guild_id)
        try:
            decision = await self.service.act(app.id, Event.LEAVE, payload.user.id, config)
        except InvalidTransition as exc:
            log.info("leave of %s not recorded on application %s: %s", payload.user.id, app.id, exc)
            return
        await self.run_effects(decision.event_id)

    def _channel(self, channel_id: int | None) -> discord.TextChannel | None:
        channel = self.bot.get_channel(channel_id) if channel_id else None
        return channel if isinstance(channel, discord.TextChannel) else None

    # -- applying ----------------------------------------------------------------------------
    async def on_apply(self, interaction: discord.Interaction[Any], guild_id: int) -> None:
        config = self.bot.community(guild_id)
        member = interaction.user
        if not config.gate.enabled:
            await interaction.response.send_message("Applications are closed right now.", ephemeral=True)
            return
        if isinstance(member, discord.Member) and config.roles.member in {r.id for r in member.roles}:
            await interaction.response.send_message("You are already a member. Welcome!", ephemeral=True)
            return
        try:
            app = await self.service.open_for_applicant(guild_id, member.id, config)
        except InvalidTransition as exc:
            await interaction.response.send_message(str(exc), ephemeral=True)
            return
        self._applicants.setdefault(guild_id, set()).add(member.id)
        if config.gate.rules_text and app.rules_accepted_at is None:
            from cogs.gate.views import AcceptRulesButton

            await interaction.response.send_message(
                render.rules_message(config.gate.rules_text),
                view=single(AcceptRulesButton(app.id)),
                ephemeral=True,
            )
            return
        pages = paginate_questions(questions_of(config.gate))
        await self._open_page(interaction, app, app.pages_done if app.pages_done < len(pages) else 0)

    async def on_accept_rules(self, interaction: discord.Interaction[Any], app_id: int) -> None:
        app = await self.repo.get(app_id)
        if app is None or app.user_id != interaction.user.id:
            await interaction.response.send_message("This button is not for you.", ephemeral=True)
            return
        await self.repo.accept_rules(app_id, self.bot.clock.now())
        await self._open_page(interaction, app, 0)

    async def on_continue(self, interaction: discord.Interaction[Any], app_id: int, page: int) -> None:
        app = await self.repo.get(app_id)
        if app is None or app.user_id != interaction.user.id:
            await interaction.response.send_message("This button is not for you.", ephemeral=True)
            return
        await self._open_page(interaction, app, page)

    async def _open_page(self, interaction: discord.Interaction[Any], app: ApplicationRow, page: int) -> None:
        if app.status not in ("awaiting_form", "submitted", "needs_info"):
            await interaction.response.send_message(
                f"This application is {render.STATUS_LABEL[app.status].lower()}; press Apply to start again.",
                ephemeral=True,
            )
            return
        config = self.bot.community(app.guild_id)
        pages = paginate_questions(questions_of(config.gate))
        page = min(page, len(pages) - 1)
        guild = self.bot.get_guild(app.guild_id)
        title = f"Apply to {guild.name}" if guild else "Application"
        modal = ApplicationModal(app.id, page, len(pages), pages[page], app.answers, title)
        await interaction.response.send_modal(modal)

    async def on_form_submit(
        self, interaction: discord.Interaction[Any], app_id: int, page: int, values: dict[str, str]
    ) -> None:
        app = await self.repo.get(app_id)
        if app is None or app.user_id != interaction.user.id:
            await interaction.response.send_message("This form is not yours.", ephemeral=True)
            return
        config = self.bot.community(app.guild_id)
        try:
            outcome = await self.service.save_page(app, page, values, config)
        except InvalidTransition as exc:
            await interaction.response.send_message(str(exc), ephemeral=True)
            return
        if outcome.errors:
            text = "Please fix these answers:\n" + "\n".join(f"• {e}" for e in outcome.errors)
            await interaction.response.send_message(
                text[:2000],
                view=single(ContinueButton(app.id, outcome.next_page or 0, "Edit answers")),
                ephemeral=True,
            )
            return
        if outcome.next_page is not None:
            await interaction.response.send_message(
                f"Page {page + 1} of {outcome.pages} saved. Press **Continue** for the next questions.",
                view=single(ContinueButton(app.id, outcome.next_page)),
                ephemeral=True,
            )
            return
        if outcome.updated:
            await interaction.response.send_message("Your answers were updated.", ephemeral=True)
        else:
            await interaction.response.send_message(
                "Thanks! Your application was sent to the moderators. You will hear back by direct message.",
                ephemeral=True,
            )
            await self._plan_nudge(outcome.app)
        self.bot.spawn(self.post_card(app.id), name=f"gate-card-{app.id}")

    async def _plan_nudge(self, app: ApplicationRow) -> None:
        hours = self.bot.community(app.guild_id).gate.nudge_moderators_after_hours
        if not hours:
            return
        due = app.entered_at + timedelta(hours=hours)
        slot = due.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        await self.bot.scheduler.schedule(
            "gate.nudge", slot, {"hours": hours}, guild_id=app.guild_id,
            dedupe_key=f"gate:nudge:{app.guild_id}:{slot.isoformat()}",
        )  # fmt: skip

    # -- the queue card ----------------------------------------------------------------------
    async def post_card(self, app_id: int, *, reconcile: bool = False) -> None:
        """Post or refresh an application's card in the moderators' queue."""
        async with self._lock(app_id):
            await self._post_card(app_id, reconcile=reconcile)

    async def _post_card(self, app_id: int, *, reconcile: bool) -> None:
        app = await self.repo.get(app_id)
        if app is None:
            return
        config = self.bot.community(app.guild_id)
        history = [a for a in await self.repo.history(app.guild_id, app.user_id) if a.id < app.id]
        embed = render.card_embed(
            app, questions_of(config.gate), history, await self.repo.events(app.id), self.bot.clock.now()
        )
        view = card_view(app.id, app.status)
        if app.queue_message_id and app.queue_channel_id:
            channel = self._channel(app.queue_channel_id)
            if channel is None:
                return
            try:
                await self.pacer.wait()
                await channel.get_partial_message(app.queue_message_id).edit(embed=embed, view=view)
            except discord.NotFound:
                log.warning("queue card of application %s was deleted", app.id)
            return
        if app.status not in ("submitted", "needs_info"):
            return
        channel = self._channel(config.channels.mod_queue)
        if channel is None:
            await self.bot.alerts.report(
                app.guild_id, "gate:no_queue", "Applications arrive but there is no moderators' queue channel.",
                fix="Run /gate setup with mod_queue (or set community.channels.mod_queue).",
            )  # fmt: skip
            return
        if reconcile:
            await self.pacer.wait()
            async for message in channel.history(limit=100):
                if any(e.footer.text == render.marker(app.id, "card") for e in message.embeds):
                    await self.repo.set_queue_message(app.id, channel.id, message.id)
                    return
        try:
            async with self._lane("messages", channel.id):
                await self.pacer.wait()
                message = await channel.send(
                    embed=embed, view=view or discord.utils.MISSING, nonce=f"rtgc{app.id}"
                )
        except discord.HTTPException as exc:
            log.warning("could not post the card of application %s: %s", app.id, exc)
            await self._report_http(app.guild_id, exc, "post in the moderators' queue")
            return
        await self.repo.set_queue_message(app.id, channel.id, message.id)

    # -- reviewing ---------------------------------------------------------------------------
    async def _approve(self, interaction: discord.Interaction[Any], app_id: int, guild_id: int) -> None:
        """Approve (the card's button or ``/application approve``) and answer the moderator.

        The decision is stored first and its effects (the member role first) are started before the
        interaction is acknowledged: the role does not wait for Discord's answer to the
        acknowledgement, and the acknowledgement does not compete with the decision for the CPU. If
        storing takes longer than ACK_WITHIN (a busy database), or the interaction is already old
        (the bot received it late), it is acknowledged sooner, inside Discord's 3 s. The reply says
        whether the role was given."""
        stored: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        decision = asyncio.ensure_future(
            self.decide(app_id, Event.APPROVE, interaction.user.id, None, guild_id=guild_id, stored=stored)
        )
        age = (discord.utils.utcnow() - interaction.created_at).total_seconds()
        acknowledged = False
        try:
            wait = max(0.0, min(ACK_WITHIN, ACK_DEADLINE - age))
            await asyncio.wait((stored, decision), timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            try:
                await interaction.response.defer(ephemeral=True, thinking=True)
                acknowledged = True
            except discord.HTTPException as exc:  # expired (404 10062), or Discord failed
                log.warning("could not acknowledge the approval of application %s: %s", app_id, exc)
        finally:  # the approval is recorded even if Discord lost the acknowledgement
            try:
                text = await decision
            except Exception as exc:  # the database refused (locked by another program, disk full)
                log.exception("recording the approval of application %s failed", app_id)
                text = (
                    f"The approval could not be recorded ({exc}), so nothing was done. "
                    "Please try again in a moment."
                )
        if acknowledged:
            await interaction.followup.send(text, ephemeral=True)
        else:
            log.warning("application %s: the moderator could not be told: %s", app_id, text)

    async def on_review(self, interaction: discord.Interaction[Any], action: str, app_id: int) -> None:
        guild_id = interaction.guild_id or 0  # cards live in servers; 0 matches no application
        if not is_moderator(interaction.user, self.bot.community(guild_id)):
            log.info("refused %s on application %s by non-moderator %s", action, app_id, interaction.user.id)
            await interaction.response.send_message(
                "Only moderators can review applications.", ephemeral=True
            )
            return
        if action == "approve":
            await self._approve(interaction, app_id, guild_id)
            return
        app = await self.repo.get(app_id)
        if app is None or app.guild_id != interaction.guild_id:
            await interaction.response.send_message("This application does not exist here.", ephemeral=True)
            return
        if action == "deny":
            presets = self.bot.community(app.guild_id).gate.deny_reasons
            hint = "; ".join(f"{i}: {r}" for i, r in enumerate(presets, 1)) if presets else None
            await interaction.response.send_modal(
                ReasonModal("deny", app_id, title="Deny the application",
                            label="Reason (optional; a number picks a preset)", required=False, placeholder=hint)
            )  # fmt: skip
        else:
            await interaction.response.send_modal(
                ReasonModal("ask", app_id, title="Ask the applicant", label="Your question", required=True)
            )

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        """Every click on a queue card's review buttons (see ``HandledView``) and every submission of
        the gate's forms, whether or not this process opened the form (see cogs/gate/modals.py):
        everything needed is in the custom_id (and the submitted values)."""
        data: Any = interaction.data or {}
        custom_id = str(data.get("custom_id", ""))
        if interaction.type is discord.InteractionType.component:
            if match := REVIEW_ID.fullmatch(custom_id):
                await self.on_review(interaction, match["action"], int(match["id"]))
            return
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        values = submitted_values(data)
        if match := FORM_ID.fullmatch(custom_id):
            await self.on_form_submit(interaction, int(match["app"]), int(match["page"]), values)
        elif match := REASON_ID.fullmatch(custom_id):
            await self.on_reason_submit(
                interaction, match["kind"], int(match["app"]), values.get("text", "").strip()
            )

    async def on_answer_button(self, interaction: discord.Interaction[Any], app_id: int) -> None:
        app = await self.repo.get(app_id)
        if app is None or app.user_id != interaction.user.id:
            await interaction.response.send_message("This button is not for you.", ephemeral=True)
            return
        if app.status != "needs_info":
            await interaction.response.send_message(
                "There is no open question on your application.", ephemeral=True
            )
            return
        await interaction.response.send_modal(
            ReasonModal("answer", app_id, title="Answer the moderators", label="Your answer",
                        required=True, placeholder=app.question)
        )  # fmt: skip

    async def on_reason_submit(
        self, interaction: discord.Interaction[Any], kind: str, app_id: int, text: str
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        app = await self.repo.get(app_id)
        if app is None:
            await interaction.followup.send("This application no longer exists.", ephemeral=True)
            return
        config = self.bot.community(app.guild_id)
        if kind == "answer":
            reply = await self.decide(app_id, Event.ANSWER, interaction.user.id, text, guild_id=app.guild_id)
            if reply.startswith("Done"):
                reply = "Thanks, your answer was added to your application."
            await interaction.followup.send(reply, ephemeral=True)
            return
        if not is_moderator(interaction.user, config):
            await interaction.followup.send("Only moderators can review applications.", ephemeral=True)
            return
        if kind == "deny":
            presets = config.gate.deny_reasons
            if text.isdigit() and 1 <= int(text) <= len(presets):
                text = presets[int(text) - 1]
            reply = await self.decide(
                app_id, Event.DENY, interaction.user.id, text or None, guild_id=app.guild_id
            )
        else:
            reply = await self.decide(app_id, Event.ASK, interaction.user.id, text, guild_id=app.guild_id)
        await interaction.followup.send(reply, ephemeral=True)

    async def decide(
        self,
        app_id: int,
        event: Event,
        actor_id: int,
        reason: str | None,
        *,
        guild_id: int,
        stored: asyncio.Future[None] | None = None,
    ) -> str:
        """Record a decision (or question, or answer) and start its effects; the reply for the actor.
        ``guild_id``: the server it comes from (an application of another server is refused).
        ``stored`` is set once the decision is stored and its effects have started."""
        try:
            decision = await self.service.act(
                app_id, event, actor_id, self.bot.community(guild_id), reason, guild_id=guild_id
            )
        except InvalidTransition as exc:
            return str(exc)
        app = decision.app
        # Claimed before anything else can run (no await in between): the effects just stored are
        # carried out from memory, without reading them back.
        self._running.add(decision.event_id)
        granted: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.bot.spawn(
            self.run_effects(decision.event_id, decision.app, decision.effects, claimed=True, first=granted),
            name=f"gate-effects-{decision.event_id}",
        )
        await asyncio.sleep(0)  # the effects start first: the member role goes out before anything here
        if stored is not None and not stored.done():
            stored.set_result(None)
        if event is Event.ASK:
            await self._plan_expiry(decision.app)
        verbs = {Event.APPROVE: "Approved", Event.DENY: "Denied", Event.ASK: "Question sent to"}
        if event not in verbs:
            return "Done."
        done = f"Done: {verbs[event]} <@{app.user_id}> (application #{app.id})."
        if event is not Event.APPROVE:
            return done
        # The moderator hears whether the member role was given (its first effect), not just that
        # the decision is stored; the rest (pending role, welcome, card, log) follows.
        try:
            outcome = await asyncio.wait_for(asyncio.shield(granted), ROLE_REPLY_WAIT)
        except TimeoutError:
            return f"{done} The member role is on its way (Discord is slow right now)."
        if outcome.startswith("error: "):
            return (
                f"{done} The member role could not be given yet ({outcome.removeprefix('error: ')}); "
                "it is retried, and the admin log says what to fix."
            )
        if outcome == "already_held":
            return f"{done} They already had the member role."
        if outcome == "left":
            return f"{done} They have left the server, so no role was given."
        if outcome == "done":
            return f"{done} Member role given."
        return f"{done} The member role is on its way."  # not known yet (the bot is stopping, say)

    # -- effects -----------------------------------------------------------------------------
    async def run_effects(
        self,
        event_id: int,
        app: ApplicationRow | None = None,
        effects: list[EffectRow] | None = None,
        *,
        claimed: bool = False,
        first: asyncio.Future[str] | None = None,
    ) -> None:
        """Carry out a transition's pending effects one by one, marking each done; a failure leaves
        the rest pending and plans a retry (``gate.effects``). ``app`` and ``effects``, with
        ``claimed``: the decision as just stored, by the task that stored it. Otherwise the pending
        effects are read, and an event some other task is carrying out is left to it. ``first``
        gets the first effect's outcome (or ``error: ...``) as soon as it is known."""
        if not claimed:
            if event_id in self._running:
                return
            self._running.add(event_id)
            app = effects = None
        try:
            await self._run_effects(event_id, app, effects, first)
        finally:
            self._running.discard(event_id)
            if first is not None and not first.done():
                first.set_result("none")

    async def _run_effects(
        self,
        event_id: int,
        app: ApplicationRow | None,
        effects: list[EffectRow] | None,
        first: asyncio.Future[str] | None,
    ) -> None:
        if effects is None:
            effects = await self.repo.pending_effects(event_id)
        if not effects:
            return
        app_id = effects[0].application_id
        async with self._lock(app_id):  # one application's events in order (an ask, then its answer)
            for effect in effects:
                if app is None:
                    app = await self.repo.get(app_id)
                    assert app is not None
                # Role steps check the member's roles and can repeat safely: their attempt is counted
                # if it fails. Anything that posts counts it first, so a repeat after a crash looks
                # for its earlier message before sending again.
                counted = effect.step not in IDEMPOTENT_STEPS
                if counted:
                    await self.repo.start_effect(effect.id)
                try:
                    outcome = await self._execute(app, effect)
                except Exception as exc:
                    if first is not None and not first.done():
                        first.set_result(f"error: {_discord_error(exc)}")
                    await self.repo.note_effect_error(
                        effect.id, _discord_error(exc), count_attempt=not counted
                    )
                    log.warning("effect %s of application %s failed: %s", effect.step, app_id, exc)
                    # A missing permission, a role above the bot or a missing setting is fixed by an
                    # admin, whenever they get to it: keep retrying (ever less often) rather than
                    # leave an approved member without their role. Anything else gives up after 5.
                    fixable = isinstance(exc, (discord.Forbidden, NotConfigured))
                    if not fixable and effect.attempts + 1 >= 5:
                        # Given up: this step and the ones after it (a welcome without the role
                        # would be a lie). The admin log already says what to fix.
                        for rest in await self.repo.pending_effects(event_id):
                            await self.repo.finish_effect(
                                rest.id, "failed", self.bot.clock.now(), None, _discord_error(exc)
                            )
                        log.error("gave up on application %s after %s attempts", app_id, effect.attempts + 1)
                        return
                    await self.bot.scheduler.schedule(
                        "gate.effects", self.bot.clock.now() + _effect_retry_delay(effect.attempts),
                        {"event_id": event_id}, guild_id=app.guild_id,
                        dedupe_key=f"gate:effects:{event_id}:{effect.attempts + 1}",
                    )  # fmt: skip
                    if isinstance(exc, discord.HTTPException):
                        await self._report_http(app.guild_id, exc, effect.step.replace("_", " "))
                    return
                if first is not None and not first.done():
                    first.set_result(outcome)
                await self.repo.finish_effect(effect.id, "done", self.bot.clock.now(), outcome)
                if effect.step == "update_queue_message":
                    app = None  # the card may have been re-posted: read its id again

    async def _execute(self, app: ApplicationRow, effect: EffectRow) -> str:
        guild = self.bot.get_guild(app.guild_id)
        if guild is None:
            return "no_guild"
        config = self.bot.community(app.guild_id)
        step = effect.step
        if step in ("grant_member_role", "remove_pending_role"):
            role_id = config.roles.member if step == "grant_member_role" else config.roles.pending
            role = guild.get_role(role_id) if role_id else None
            if role is None:
                await self.bot.alerts.report(
                    guild.id, "gate:no_member_role", "Approvals cannot grant a role: none is configured.",
                    fix="Run /gate setup with member_role.",
                )  # fmt: skip
                raise NotConfigured(f"no {step.split('_')[1]} role is configured")
            member = await self._member(guild, app.user_id)
            if member is None:
                return "left"
            if step == "grant_member_role":
                if role in member.roles:
                    return "already_held"
                async with self._lane("member_edit", member.guild.id):
                    await self.pacer.wait()
                    await member.add_roles(role, reason=f"Roundtable: application #{app.id} approved")
                await self.bot.alerts.resolve(
                    guild.id, "gate:forbidden:grant member role", "Approvals grant roles again."
                )
            else:
                if role not in member.roles:
                    return "not_held"
                async with self._lane("member_edit", member.guild.id):
                    await self.pacer.wait()
                    await member.remove_roles(role, reason=f"Roundtable: application #{app.id} approved")
            return "done"
        if step == "notify_applicant":
            return await self._notify(guild, app, effect, config)
        if step == "send_question":
            return await self._send_question(guild, app, effect, config)
        if step == "kick_member":
            member = await self._member(guild, app.user_id)
            if member is None:
                return "left"
            await self.pacer.wait()
            await guild.kick(member, reason=f"Roundtable: application #{app.id} {app.status}")
            return "kicked"
        if step == "update_queue_message":
            if not app.queue_message_id:
                return "no_card"
            await self._post_card(app.id, reconcile=False)
            return "done"
        if step == "log_decision":
            channel = self._channel(config.channels.admin_log)
            if not config.gate.log_decisions or channel is None:
                return "skipped"
            await self.pacer.wait()
            event = await self.repo.event(effect.event_id)
            if event is None:
                return "skipped"
            embed = render.transition_log_embed(app, event)
            sent = await self._send_once(
                channel, nonce=f"rtgl{effect.id}", retry=effect.attempts > 0,
                same=lambda m: bool(m.embeds) and m.embeds[0].to_dict() == embed.to_dict(), embed=embed,
            )  # fmt: skip
            return "posted" if sent else "already_sent"
        log.error("unknown effect step %s on application %s", step, app.id)
        return "unknown"

    def _discussions(self, config: CommunityConfig) -> list[tuple[str, str]]:
        threads: list[discord.Thread] = []
        for channel_id in (config.channels.forum, config.channels.announcements):
            channel = self.bot.get_channel(channel_id) if channel_id else None
            if isinstance(channel, discord.ForumChannel | discord.TextChannel):
                threads.extend(channel.threads)
        threads.sort(key=lambda t: t.id, reverse=True)
        return [(t.name, t.jump_url) for t in threads[:3]]

    async def _notify(
        self, guild: discord.Guild, app: ApplicationRow, effect: EffectRow, config: CommunityConfig
    ) -> str:
        approved = app.status == "approved"
        if approved:
            embed = render.approved_embed(guild.name, app.id, self._discussions(config))
        else:
            embed = render.denied_embed(guild.name, app.id, app.reason)
        outcome = "dm_disabled"
        if config.gate.dm_applicants:
            outcome = await self._dm(
                app.user_id, nonce=f"rtgn{effect.id}", marker=embed.footer.text,
                reconcile=effect.attempts > 0, embed=embed,
            )  # fmt: skip
        if outcome in ("dm", "already_sent") or not approved:
            return outcome
        channel = self._channel(config.channels.welcome)
        if channel is None:
            return outcome
        content = render.approved_channel_text(app.user_id)
        await self._send_once(
            channel, nonce=f"rtgw{effect.id}", retry=effect.attempts > 0, same=lambda m: m.content == content,
            content=content, allowed_mentions=discord.AllowedMentions(users=[discord.Object(app.user_id)]),
        )  # fmt: skip
        return "welcome_channel"

    async def _send_question(
        self, guild: discord.Guild, app: ApplicationRow, effect: EffectRow, config: CommunityConfig
    ) -> str:
        embed = render.question_embed(guild.name, app.id, effect.text or "", effect.event_id)
        view = single(AnswerButton(app.id))
        outcome = await self._dm(
            app.user_id, nonce=f"rtgq{effect.id}", marker=embed.footer.text,
            reconcile=effect.attempts > 0, embed=embed, view=view,
        )  # fmt: skip
        if outcome != "dm_closed":
            return outcome
        channel = self._channel(config.channels.welcome)
        if channel is None:
            return outcome
        content = render.question_channel_text(app.user_id)
        await self._send_once(
            channel, nonce=f"rtgq{effect.id}w", retry=effect.attempts > 0, same=lambda m: m.content == content,
            content=content, view=view,
            allowed_mentions=discord.AllowedMentions(users=[discord.Object(app.user_id)]),
        )  # fmt: skip
        return "welcome_channel"

    # -- jobs --------------------------------------------------------------------------------
    async def _job_effects(self, job: Job) -> dict[str, Any]:
        await self.run_effects(int(job.payload["event_id"]))
        return {"pending": len(await self.repo.pending_effects(int(job.payload["event_id"])))}

    async def _job_remind(self, job: Job) -> dict[str, Any]:
        """Remind everyone who joined long enough ago and has not applied (once each)."""
        if job.guild_id is None:
            return {"skipped": "no guild"}
        guild = self.bot.get_guild(job.guild_id)
        config = self.bot.community(job.guild_id)
        policy = policy_of(config.gate)
        if guild is None or policy.remind_after is None:
            return {"skipped": "no guild or reminders off"}
        outcomes: dict[str, int] = {}
        for app in await self.repo.due_reminders(job.guild_id, self.bot.clock.now() - policy.remind_after):
            outcome = "dm_disabled"
            if config.gate.dm_applicants:
                # A second attempt of this job (a crash mid-way) looks for a reminder already sent.
                outcome = await self._dm(
                    app.user_id, nonce=f"rtgr{app.id}", marker=None, reconcile=job.attempts > 1,
                    content=render.reminder_text(guild.name, config.channels.welcome),
                )  # fmt: skip
            await self.repo.mark_reminded(app.id, self.bot.clock.now())
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        return outcomes

    async def _job_expire(self, job: Job) -> dict[str, Any]:
        """Close every application left waiting on the applicant for too long."""
        if job.guild_id is None:
            return {"skipped": "no guild"}
        config = self.bot.community(job.guild_id)
        policy = policy_of(config.gate)
        if policy.expire_after is None:
            return {"skipped": "expiry off"}
        expired: list[int] = []
        for app in await self.repo.due_expiries(job.guild_id, self.bot.clock.now() - policy.expire_after):
            try:
                decision = await self.service.act(app.id, Event.EXPIRE, 0, config)
            except InvalidTransition as exc:
                log.info("application %s not expired: %s", app.id, exc)
                continue
            await self.run_effects(decision.event_id)
            expired.append(app.id)
        return {"expired": expired}

    async def _job_nudge(self, job: Job) -> dict[str, Any]:
        if job.guild_id is None:
            return {"skipped": "no guild"}
        hours = int(job.payload.get("hours", 12))
        waiting = await self.repo.waiting_before(job.guild_id, self.bot.clock.now() - timedelta(hours=hours))
        channel = self._channel(self.bot.community(job.guild_id).channels.mod_queue)
        if not waiting or channel is None:
            return {"waiting": len(waiting)}
        await channel.send(render.nudge_text(len(waiting), waiting[0], hours), nonce=f"rtgu{job.id}")
        return {"waiting": len(waiting)}

    # -- status ------------------------------------------------------------------------------
    async def status_rows(self, guild_id: int | None) -> list[tuple[str, str]]:
        if guild_id is None:
            return []
        counts = await self.repo.count_by_status(guild_id)
        waiting = await self.repo.list_by_status(guild_id, ["submitted"], limit=1)
        oldest = render.timestamp(waiting[0].entered_at, "R").split(" ", 1)[0] if waiting else "–"
        return [
            ("Applications waiting", str(counts.get("submitted", 0))),
            ("Oldest waiting", oldest),
            ("Questions open", str(counts.get("needs_info", 0))),
        ]

    # -- slash commands ----------------------------------------------------------------------
    def _require_moderator(self, interaction: discord.Interaction[Any]) -> CommunityConfig:
        config = self.bot.community(interaction.guild_id)
        if not is_moderator(interaction.user, config):
            raise UserFacingError(
                "Only moderators (the configured roles, or Manage Roles) can review applications."
            )
        return config

    @gate.command(
        name="setup", description="Configure the gate, post the Apply message and check permissions"
    )
    @app_commands.describe(
        welcome="The only channel newcomers see", queue="Moderators' review queue",
        member_role="Granted on approval", pending_role="Given on join (optional)",
        moderator_role="A role allowed to review", admin_log="Where problems and decisions are reported",
    )  # fmt: skip
    async def gate_setup(
        self,
        interaction: discord.Interaction[Any],
        welcome: discord.TextChannel | None = None,
        queue: discord.TextChannel | None = None,
        member_role: discord.Role | None = None,
        pending_role: discord.Role | None = None,
        moderator_role: discord.Role | None = None,
        admin_log: discord.TextChannel | None = None,
    ) -> None:
        from cogs.admin import require_manage_guild

        require_manage_guild(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        guild = interaction.guild
        assert guild is not None
        now = self.bot.clock.now()
        changes = {
            "channels.welcome": welcome, "channels.mod_queue": queue, "channels.admin_log": admin_log,
            "roles.member": member_role, "roles.pending": pending_role,
        }  # fmt: skip
        for key, value in changes.items():
            if value is not None:
                await self.bot.config.set(guild.id, key, str(value.id), interaction.user.id, now)
        if moderator_role is not None:
            current = list(self.bot.community(guild.id).roles.moderators)
            if moderator_role.id not in current:
                await self.bot.config.set(
                    guild.id, "roles.moderators", str([*current, moderator_role.id]), interaction.user.id, now
                )
        config = self.bot.community(guild.id)
        # Decisions waiting on a fix (a role above the bot, a missing setting) are tried again now.
        waiting = sorted({e.event_id for e in await self.repo.pending_effects()})
        if waiting:
            self.bot.spawn(
                asyncio.gather(*(self.run_effects(event_id) for event_id in waiting)),
                name="gate-effects-retry",
            )
        lines = [await self._post_panel(guild, config)]
        lines += self.check_setup(guild, config)
        await interaction.followup.send("\n".join(lines)[:2000], ephemeral=True)

    async def _post_panel(self, guild: discord.Guild, config: CommunityConfig) -> str:
        channel = self._channel(config.channels.welcome)
        if channel is None:
            return "❌ No welcome channel: pass `welcome:` to /gate setup."
        embed = render.panel_embed(guild.name, config.gate.rules_text)
        view = panel_view(guild.id, with_notify=config.roles.notify is not None)
        stored = await self.repo.panel(guild.id)
        if stored is not None and stored[0] == channel.id:
            try:
                await channel.get_partial_message(stored[1]).edit(embed=embed, view=view)
                return f"✅ Updated the Apply message in {channel.mention}."
            except discord.NotFound:
                pass
        if stored is None:  # posted before a crash, never recorded? find it instead of posting twice
            async for earlier in channel.history(limit=50):
                if earlier.author == guild.me and any(
                    getattr(c, "custom_id", None) == f"rt:gate:apply:{guild.id}"
                    for row in earlier.components
                    for c in getattr(row, "children", [])
                ):
                    await self.repo.set_panel(guild.id, channel.id, earlier.id, self.bot.clock.now())
                    await earlier.edit(embed=embed, view=view)
                    return f"✅ Updated the Apply message in {channel.mention}."
        try:
            message = await channel.send(embed=embed, view=view, nonce=f"rtgp{guild.id}")
        except discord.HTTPException as exc:
            return f"❌ Could not post in {channel.mention}: {exc.text}. Let me view and send messages there."
        await self.repo.set_panel(guild.id, channel.id, message.id, self.bot.clock.now())
        return f"✅ Posted the Apply message in {channel.mention}."

    def check_setup(self, guild: discord.Guild, config: CommunityConfig) -> list[str]:
        """Plain-words checks of what makes the gate work."""
        lines: list[str] = []
        me = guild.me
        member_role = guild.get_role(config.roles.member) if config.roles.member else None
        pending_role = guild.get_role(config.roles.pending) if config.roles.pending else None
        if member_role is None:
            lines.append("❌ No member role: pass `member_role:` so approvals can grant it.")
        if self._channel(config.channels.mod_queue) is None:
            lines.append("❌ No moderators' queue channel: pass `queue:`.")
        perms = me.guild_permissions
        if perms.manage_roles or perms.administrator:
            lines.append("✅ I have Manage Roles.")
        else:
            lines.append(
                "❌ I lack Manage Roles: give my role that permission, or I cannot grant the member role."
            )
        kicks = config.gate.deny_action == "kick" or config.gate.kick_on_expiry
        if kicks and not (perms.kick_members or perms.administrator):
            lines.append("❌ Denials or expiries kick, but I lack Kick Members.")
        for role, what in ((member_role, "member"), (pending_role, "pending")):
            if role is None:
                continue
            if role >= me.top_role:
                lines.append(
                    f"❌ The {what} role {role.mention} is above (or equal to) my top role {me.top_role.mention}: "
                    "drag my role above it in Server Settings → Roles."
                )
            else:
                lines.append(f"✅ My role is above the {what} role {role.mention}.")
        private = {config.channels.welcome, config.channels.mod_queue, config.channels.admin_log}
        exposed = [
            c for c in guild.text_channels
            if c.id not in private and c.permissions_for(guild.default_role).view_channel
        ]  # fmt: skip
        if exposed:
            names = ", ".join(c.mention for c in exposed[:10])
            lines.append(f"⚠️ @everyone can see {names}: newcomers see these before approval. Deny View Channel "
                         "to @everyone there and allow it to the member role.")  # fmt: skip
        else:
            lines.append("✅ @everyone sees no members' channel.")
        if member_role is not None:
            visible = [
                c
                for c in guild.text_channels
                if c.id not in private and c.permissions_for(member_role).view_channel
            ]
            if visible:
                lines.append(f"✅ The member role can see {len(visible)} channel(s).")
            else:
                lines.append("⚠️ The member role cannot see any members' channel yet.")
        return lines

    @gate.command(name="status", description="The application queue at a glance")
    async def gate_status(self, interaction: discord.Interaction[Any]) -> None:
        from cogs.admin import require_manage_guild

        require_manage_guild(interaction)
        assert interaction.guild_id is not None
        counts = await self.repo.count_by_status(interaction.guild_id)
        waiting = await self.repo.list_by_status(interaction.guild_id, ["submitted", "needs_info"], limit=10)
        summary = (
            ", ".join(f"{render.STATUS_LABEL[s]}: {n}" for s, n in sorted(counts.items()))
            or "No applications yet."
        )
        embed = discord.Embed(title="Membership gate", description=summary, colour=discord.Colour.blurple())
        embed.add_field(name="Waiting", value=render.list_lines(waiting)[:1024], inline=False)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @application.command(name="list", description="Applications by status (default: waiting for review)")
    @app_commands.choices(status=STATUS_CHOICES)
    async def app_list(self, interaction: discord.Interaction[Any], status: str | None = None) -> None:
        self._require_moderator(interaction)
        assert interaction.guild_id is not None
        statuses = [status] if status else ["submitted", "needs_info"]
        apps = await self.repo.list_by_status(interaction.guild_id, statuses, limit=25)
        embed = discord.Embed(title="Applications", description=render.list_lines(apps)[:4096])
        await interaction.response.send_message(embed=embed, ephemeral=True)

    async def _app_of(
        self, interaction: discord.Interaction[Any], member: discord.abc.User
    ) -> ApplicationRow:
        assert interaction.guild_id is not None
        app = await self.repo.latest(interaction.guild_id, member.id)
        if app is None:
            raise UserFacingError(f"{member.mention} has no application.")
        return app

    @application.command(name="view", description="A member's latest application")
    async def app_view(self, interaction: discord.Interaction[Any], member: discord.User) -> None:
        config = self._require_moderator(interaction)
        app = await self._app_of(interaction, member)
        history = [a for a in await self.repo.history(app.guild_id, app.user_id) if a.id < app.id]
        embed = render.card_embed(
            app, questions_of(config.gate), history, await self.repo.events(app.id), self.bot.clock.now()
        )
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @application.command(name="approve", description="Approve a member's application")
    async def app_approve(self, interaction: discord.Interaction[Any], member: discord.User) -> None:
        self._require_moderator(interaction)
        app = await self._app_of(interaction, member)
        await self._approve(interaction, app.id, app.guild_id)

    @application.command(name="deny", description="Deny a member's application")
    @app_commands.describe(reason="Told to the applicant (a preset's number picks it)")
    async def app_deny(
        self, interaction: discord.Interaction[Any], member: discord.User, reason: str | None = None
    ) -> None:
        config = self._require_moderator(interaction)
        app = await self._app_of(interaction, member)
        presets = config.gate.deny_reasons
        if reason and reason.isdigit() and 1 <= int(reason) <= len(presets):
            reason = presets[int(reason) - 1]
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.followup.send(
            await self.decide(app.id, Event.DENY, interaction.user.id, reason, guild_id=app.guild_id),
            ephemeral=True,
        )

    @app_deny.autocomplete("reason")
    async def _deny_reasons(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        presets = self.bot.community(interaction.guild_id).gate.deny_reasons
        return [
            app_commands.Choice(name=r[:100], value=r[:100]) for r in presets if current.lower() in r.lower()
        ][:25]

    @application.command(name="history", description="Every application of a member and each transition")
    async def app_history(self, interaction: discord.Interaction[Any], member: discord.User) -> None:
        self._require_moderator(interaction)
        assert interaction.guild_id is not None
        apps = await self.repo.history(interaction.guild_id, member.id)
        events = {a.id: await self.repo.events(a.id) for a in apps}
        embed = discord.Embed(title=f"History of {member}", description=render.history_lines(apps, events))
        await interaction.response.send_message(embed=embed, ephemeral=True)


def _effect_retry_delay(attempts: int) -> timedelta:
    """5 minutes, then 15, 45, … up to 6 hours between tries of a failed effect."""
    return min(timedelta(minutes=5) * 3 ** min(attempts, 6), timedelta(hours=6))
