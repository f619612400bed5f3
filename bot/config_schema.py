"""The shape of ``config/config.yaml``: frozen dataclasses with defaults and documentation.

Every field carries ``metadata={"doc": ...}`` (and ``min``/``max`` for numbers); the loader in
:mod:`bot.settings` validates YAML against these types, so the dataclasses are the single source of
truth for keys, types, defaults and the documentation in ``config/config.example.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Snowflake = int  # a Discord id; YAML may give it as an int or a digit string


def doc(text: str, **extra: Any) -> dict[str, Any]:
    return {"doc": text, **extra}


@dataclass(frozen=True)
class ChannelsConfig:
    announcements: Snowflake | None = field(
        default=None, metadata=doc("Text or announcement channel where new articles are announced.")
    )
    forum: Snowflake | None = field(
        default=None, metadata=doc("Forum channel used by feeds whose discussion mode is 'forum'.")
    )
    welcome: Snowflake | None = field(
        default=None, metadata=doc("The only channel newcomers see; holds the 'Apply to join' message.")
    )
    mod_queue: Snowflake | None = field(
        default=None, metadata=doc("Moderators' review queue for applications.")
    )
    admin_log: Snowflake | None = field(
        default=None,
        metadata=doc(
            "Where the bot reports what needs a human: paused feeds, missing permissions, decisions."
        ),
    )


@dataclass(frozen=True)
class RolesConfig:
    member: Snowflake | None = field(
        default=None, metadata=doc("Role granted when an application is approved.")
    )
    pending: Snowflake | None = field(
        default=None, metadata=doc("Optional role given on join and removed on approval.")
    )
    moderators: tuple[Snowflake, ...] = field(
        default=(), metadata=doc("Roles allowed to review applications (Manage Roles also allows it).")
    )
    notify: Snowflake | None = field(
        default=None, metadata=doc("Self-assignable 'new articles' role that announcements mention.")
    )


@dataclass(frozen=True)
class FeedConfig:
    url: str = field(default="", metadata=doc("The feed's URL (RSS, Atom or JSON Feed)."))
    channel: Snowflake | None = field(
        default=None, metadata=doc("Announcement channel for this feed (default: channels.announcements).")
    )
    mention_role: Snowflake | None = field(
        default=None, metadata=doc("Role to mention in announcements (default: roles.notify).")
    )
    discussion: Literal["thread", "forum", "none"] = field(
        default="thread", metadata=doc("Open a thread from the announcement, a forum post, or nothing.")
    )
    policy: Literal["immediate", "windows", "hold"] = field(
        default="immediate", metadata=doc("When new articles are announced.")
    )
    backfill: int = field(
        default=0,
        metadata=doc("How many existing articles to announce when the feed is first added.", min=0, max=20),
    )


@dataclass(frozen=True)
class FetchConfig:
    interval_minutes: int = field(default=5, metadata=doc("Default poll interval per feed.", min=1, max=1440))
    timeout_seconds: int = field(default=20, metadata=doc("Total deadline for one fetch.", min=1, max=300))
    connect_timeout_seconds: int = field(default=10, metadata=doc("Deadline for connecting.", min=1, max=120))
    max_bytes: int = field(
        default=10 * 1024 * 1024,
        metadata=doc("Cap on a feed's decompressed size.", min=1024, max=100 * 1024 * 1024),
    )
    concurrency: int = field(default=8, metadata=doc("Feeds fetched at the same time.", min=1, max=64))
    max_per_poll: int = field(
        default=5, metadata=doc("New articles announced per poll; the rest wait their turn.", min=1, max=50)
    )
    max_age_days: int = field(
        default=7,
        metadata=doc(
            "Articles older than this are stored but not announced (0: no age limit).", min=0, max=3650
        ),
    )
    pause_after_failures: int = field(
        default=10, metadata=doc("Consecutive failures before a feed is paused.", min=1, max=1000)
    )
    allow_private: tuple[str, ...] = field(
        default=(),
        metadata=doc(
            "Operator allowlist of hosts or CIDRs exempt from the private-address (SSRF) block; "
            "read from this file only, never changed from Discord."
        ),
    )


@dataclass(frozen=True)
class AnnouncementsConfig:
    edit_window_hours: int = field(
        default=48,
        metadata=doc("An edited article edits its announcement within this window.", min=0, max=8760),
    )
    crosspost: bool = field(
        default=True, metadata=doc("Publish announcements in announcement (news) channels.")
    )


@dataclass(frozen=True)
class FollowupConfig:
    days: tuple[int, ...] = field(
        default=(2, 5), metadata=doc("Days after the announcement when a follow-up prompt may be posted.")
    )
    quiet_threshold: int = field(
        default=3,
        metadata=doc(
            "Post a follow-up only if the thread had fewer messages than this in the last 24 hours.",
            min=0,
            max=1000,
        ),
    )


@dataclass(frozen=True)
class DigestConfig:
    enabled: bool = field(
        default=False, metadata=doc("Post a weekly digest of new articles and the liveliest threads.")
    )
    rule: str = field(
        default="mon 09:00",
        metadata=doc("When the digest is posted, e.g. 'mon 09:00' or 'mon,thu 18:30' (community time zone)."),
    )
    channel: Snowflake | None = field(
        default=None, metadata=doc("Digest channel (default: channels.announcements).")
    )


@dataclass(frozen=True)
class DiscussionsConfig:
    auto_archive_minutes: Literal[60, 1440, 4320, 10080] = field(
        default=10080, metadata=doc("Thread auto-archive duration: 60, 1440, 4320 or 10080.")
    )
    max_prompts: int = field(default=3, metadata=doc("Prompts in a thread's opening message.", min=1, max=5))
    default_prompts: tuple[str, ...] = field(
        default=("What stood out to you in this article?", "How does this show up in your own work?"),
        metadata=doc("Used when an article has no questions of its own and no category template matches."),
    )
    category_prompts: dict[str, tuple[str, ...]] = field(
        default_factory=dict,
        metadata=doc("Prompt templates per article category (matched case-insensitively)."),
    )
    followups: FollowupConfig = field(default_factory=FollowupConfig, metadata=doc("Follow-up prompts."))
    digest: DigestConfig = field(default_factory=DigestConfig, metadata=doc("Weekly digest."))


@dataclass(frozen=True)
class ArchiveShareConfig:
    enabled: bool = field(default=False, metadata=doc("Re-share an older article on a weekly rule."))
    rule: str = field(default="thu 12:00", metadata=doc("When, e.g. 'thu 12:00'."))
    min_days_since_shared: int = field(
        default=90, metadata=doc("Only articles not shared for this many days.", min=1, max=3650)
    )


@dataclass(frozen=True)
class ScheduleConfig:
    windows: tuple[str, ...] = field(
        default=(),
        metadata=doc("Posting windows for feeds with policy 'windows', e.g. 'mon-fri 09:00-17:00'."),
    )
    min_gap_minutes: int = field(
        default=120,
        metadata=doc("Minimum time between two announcements under posting windows.", min=0, max=10080),
    )
    grace_hours: int = field(
        default=6,
        metadata=doc(
            "After downtime, overdue jobs younger than this still run; older ones are reported as missed "
            "(one value for the process: the top-level community setting; not changed from Discord).",
            min=0,
            max=168,
        ),
    )
    archive: ArchiveShareConfig = field(
        default_factory=ArchiveShareConfig, metadata=doc("'From the archive' posts.")
    )


@dataclass(frozen=True)
class QuestionConfig:
    id: str = field(default="", metadata=doc("Stable identifier of the question (letters, digits, '_')."))
    label: str = field(default="", metadata=doc("The question as shown in the form (at most 45 characters)."))
    style: Literal["short", "paragraph"] = field(default="paragraph", metadata=doc("One line or several."))
    required: bool = field(default=True, metadata=doc("Whether an answer is required."))
    min_length: int = field(default=0, metadata=doc("Minimum answer length.", min=0, max=4000))
    max_length: int = field(default=1000, metadata=doc("Maximum answer length.", min=1, max=4000))
    placeholder: str | None = field(
        default=None, metadata=doc("Hint shown in the empty field (at most 100 characters).")
    )


DEFAULT_QUESTIONS: tuple[QuestionConfig, ...] = (
    QuestionConfig(
        id="about", label="Tell us a little about yourself", style="paragraph", min_length=10, max_length=1000
    ),
    QuestionConfig(
        id="why",
        label="What brings you to this community?",
        style="paragraph",
        min_length=10,
        max_length=1000,
    ),
    QuestionConfig(id="found", label="How did you find us?", style="short", required=False, max_length=200),
)


@dataclass(frozen=True)
class GateConfig:
    enabled: bool = field(
        default=True, metadata=doc("Gate membership: newcomers apply and a moderator approves.")
    )
    questions: tuple[QuestionConfig, ...] = field(
        default=DEFAULT_QUESTIONS,
        metadata=doc("The application form's questions (more than five become several pages)."),
    )
    rules_text: str | None = field(
        default=None, metadata=doc("Rules applicants must accept before applying (optional).")
    )
    dm_applicants: bool = field(
        default=True,
        metadata=doc("Tell applicants the outcome by DM (falls back to a mention in the welcome channel)."),
    )
    deny_action: Literal["none", "kick"] = field(
        default="none", metadata=doc("What a denial does besides telling the applicant.")
    )
    deny_reasons: tuple[str, ...] = field(
        default=("Answers too short", "Not a fit for this community"),
        metadata=doc("Preset reasons offered to moderators when denying."),
    )
    reapply_cooldown_hours: int = field(
        default=24, metadata=doc("How long a denied applicant waits before applying again.", min=0, max=8760)
    )
    remind_after_hours: int = field(
        default=24,
        metadata=doc("Remind newcomers who have not applied after this long (0: never).", min=0, max=8760),
    )
    expire_after_hours: int = field(
        default=168,
        metadata=doc("Close applications never submitted after this long (0: never).", min=0, max=8760),
    )
    kick_on_expiry: bool = field(default=False, metadata=doc("Kick newcomers whose application expired."))
    nudge_moderators_after_hours: int = field(
        default=12,
        metadata=doc(
            "Nudge moderators when an application waits longer than this (0: never).", min=0, max=8760
        ),
    )
    restore_role_on_rejoin: bool = field(
        default=True,
        metadata=doc("Give the member role back at once to someone approved before and not denied since."),
    )
    log_decisions: bool = field(default=True, metadata=doc("Post every decision to the admin log channel."))


@dataclass(frozen=True)
class CommunityConfig:
    """Settings for a community (guild). Top-level keys apply to every guild; ``guilds`` overrides per guild."""

    timezone: str = field(default="UTC", metadata=doc("The community's IANA time zone, e.g. Europe/London."))
    channels: ChannelsConfig = field(default_factory=ChannelsConfig, metadata=doc("Channel ids."))
    roles: RolesConfig = field(default_factory=RolesConfig, metadata=doc("Role ids."))
    feeds: tuple[FeedConfig, ...] = field(
        default=(), metadata=doc("Feeds declared in the file (more can be added with /feed add).")
    )
    fetch: FetchConfig = field(default_factory=FetchConfig, metadata=doc("How feeds are fetched."))
    announcements: AnnouncementsConfig = field(
        default_factory=AnnouncementsConfig, metadata=doc("How articles are announced.")
    )
    discussions: DiscussionsConfig = field(
        default_factory=DiscussionsConfig, metadata=doc("Discussion threads and prompts.")
    )
    schedule: ScheduleConfig = field(
        default_factory=ScheduleConfig, metadata=doc("Posting windows and the scheduler.")
    )
    gate: GateConfig = field(default_factory=GateConfig, metadata=doc("The membership gate."))


@dataclass(frozen=True)
class AppConfig:
    """The whole file."""

    dev_guild_id: Snowflake | None = field(
        default=None,
        metadata=doc("Sync slash commands to this guild only (fast iteration while developing)."),
    )
    community: CommunityConfig = field(
        default_factory=CommunityConfig, metadata=doc("Settings for every guild.")
    )
    guilds: dict[Snowflake, CommunityConfig] = field(
        default_factory=dict,
        metadata=doc("Per-guild overrides of 'community' keys, by guild id (only the keys that differ)."),
    )

    def for_guild(self, guild_id: int | None) -> CommunityConfig:
        """The effective file settings of one guild: its overrides, else the community's."""
        if guild_id is not None and guild_id in self.guilds:
            return self.guilds[guild_id]
        return self.community
